"""Few-shot neural architecture search by gradient matching (GM-NAS, arXiv:2203.15207).

* :mod:`~diversa.systems.nas.space`: :class:`ChainSupernet` (the TinyChain space,
  single-path forward, shared-parameter lists) and sub-supernet encodings;
* :mod:`~diversa.systems.nas.gradient_matching`: the gradient-matching distance
  between an edge's operations;
* :mod:`~diversa.systems.nas.partition`: balanced min-cut partitions and edge scores;
* :mod:`~diversa.systems.nas.search`: :class:`FewShotSupernetNAS` (one-shot,
  Few-Shot and GM splitting of an RSPS-trained supernet);
* :mod:`~diversa.systems.nas.benchmark`: a tabular benchmark, every architecture
  trained stand-alone.
"""

from diversa.systems.nas.benchmark import StandalonePopulation, arch_index, train_standalone
from diversa.systems.nas.gradient_matching import METRICS, gradient_matching_distance, pairwise_gradient_distance
from diversa.systems.nas.partition import EDGE_SCORES, edge_split_score, partition_ops, set_partitions, within_distance
from diversa.systems.nas.search import FewShotSupernetNAS
from diversa.systems.nas.space import (
    OPS_TINY,
    ChainSupernet,
    all_architectures,
    in_subnet,
    split_encoding,
    unsplit_edges,
)

__all__ = [
    "EDGE_SCORES", "METRICS", "OPS_TINY", "ChainSupernet", "FewShotSupernetNAS", "StandalonePopulation",
    "all_architectures", "arch_index", "edge_split_score", "gradient_matching_distance", "in_subnet",
    "pairwise_gradient_distance", "partition_ops", "set_partitions", "split_encoding", "train_standalone",
    "unsplit_edges", "within_distance",
]
