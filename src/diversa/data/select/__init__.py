"""Budgeted, diversity-aware subset selection.

Every selector follows one contract: ``fit(X, quality=None, domains=None)``
with ``X`` (n, d) embeddings, ``quality`` higher-is-better scores and
``domains`` labels, then ``select(budget)`` (an int count or a fraction of the
pool) returns row indices, reproducible for a fixed ``random_state``.

* baselines: :class:`RandomSelector`, :class:`TopQualitySelector`,
  :class:`StratifiedDomainSelector`;
* k-means quality selection and its iterative refinement (arXiv:2409.11378):
  :class:`KMQSelector`, :class:`IterativeKMQSelector`, :class:`KCenterGreedySelector` (exact, or
  clustered for corpora; :func:`coverage_radius` measures it);
  at corpus scale, two-pass: :class:`SampledKMeans` (faiss or scikit-learn k-means on a seeded
  sample, batched assignment), :meth:`KMQSelector.assign` per shard and :func:`kmq_select` on the
  gathered (cluster, quality) pairs;
* orthogonal-dimension selection, ODiS (arXiv:2510.18909): :class:`ODiSSelector`;
* end to end on a table (streaming for kmq/random/top-quality, near-duplicate removal first,
  a Ray Data engine): :func:`select_file`, :class:`SelectionRequest`; MinHash LSH
  deduplication: :class:`MinHashDeduplicator`, :func:`near_duplicate_mask`;
* QuaDMix quality/domain sampling and its parameter search (arXiv:2504.16511):
  :class:`QuaDMixSelector`, :class:`QuaDMixSearch`.
"""

from diversa.data.select._base import BaseSelector, allocate_budget, gumbel_top_k, resolve_budget
from diversa.data.select.baselines import (
    RandomSelector,
    StratifiedDomainSelector,
    TopQualitySelector,
)
from diversa.data.select.clustering import SampledKMeans, nearest_centroid
from diversa.data.select.dedup import MinHashDeduplicator, near_duplicate_mask
from diversa.data.select.kcenter import KCenterGreedySelector, coverage_radius
from diversa.data.select.kmq import (
    IterativeKMQSelector,
    KMQSelector,
    cluster_embeddings,
    kmq_select,
    update_cluster_weights,
)
from diversa.data.select.odis import ODiSSelector, pc_average_select, selection_overlap
from diversa.data.select.pipeline import SelectionRequest, select_file
from diversa.data.select.quadmix import (
    QuaDMixParams,
    QuaDMixSearch,
    QuaDMixSelector,
    quadmix_sampling_values,
    realize_counts,
    sample_quadmix_params,
    sampling_function,
)

__all__ = [
    "BaseSelector",
    "IterativeKMQSelector",
    "KCenterGreedySelector",
    "KMQSelector",
    "MinHashDeduplicator",
    "ODiSSelector",
    "QuaDMixParams",
    "QuaDMixSearch",
    "QuaDMixSelector",
    "RandomSelector",
    "SampledKMeans",
    "SelectionRequest",
    "StratifiedDomainSelector",
    "TopQualitySelector",
    "allocate_budget",
    "cluster_embeddings",
    "coverage_radius",
    "gumbel_top_k",
    "kmq_select",
    "near_duplicate_mask",
    "nearest_centroid",
    "pc_average_select",
    "quadmix_sampling_values",
    "realize_counts",
    "resolve_budget",
    "sample_quadmix_params",
    "sampling_function",
    "select_file",
    "selection_overlap",
    "update_cluster_weights",
]
