"""Mixture-of-experts compression: merge experts, then compress them.

Works on diversa's :class:`~diversa.nn.moe.MoEFeedForward` and on Hugging Face
``MixtralSparseMoeBlock`` (read through one :class:`ExpertWeights` view; other
layouts build one with :meth:`ExpertWeights.from_matrices`).

* M-SMoE / MC-SMoE (Li et al., "Merge, Then Compress", ICLR 2024,
  arXiv:2310.01334): :class:`MSMoE` (frequency-guided grouping, SwiGLU-aware
  permutation alignment, frequency-weighted merging), then
  :func:`compress_experts` and :class:`LoSparsePruner` (low-rank plus sparse).
* Sub-MoE (Li et al., AAAI 2026, arXiv:2506.23266): :class:`SubMoE` (k-means
  on expert outputs, union-SVD shared-subspace merging).
* The expert-pruning baseline: :class:`FrequencyPruning`.
* MoE assembly from dense fine-tunes (mergekit-moe's recipe): :func:`assemble_moe`
  and :func:`write_moe` build a Mixtral checkpoint from a :class:`MoEAssemblyConfig`
  (:func:`load_moe_config` reads mergekit-moe YAML), with routers initialised by
  :mod:`diversa.combine.moe.router_init`.

Estimators follow scikit-learn's conventions: ``fit(model, X_calib,
token_mask=None)`` on calibration inputs, ``transform(model)`` returns a
compressed copy whose merged layers keep their routers and map router slots
to physical experts (:class:`CompressedExperts`).
"""

from diversa.combine.moe.alignment import align_experts, match_hidden_units, permute_hidden_units
from diversa.combine.moe.assemble import AssembledMoE, MoEAssemblyResult, assemble_moe, mixtral_config, write_moe
from diversa.combine.moe.assembly_config import ExpertSource, MoEAssemblyConfig, load_moe_config, parse_moe_config
from diversa.combine.moe.base import LayerwiseCompressor
from diversa.combine.moe.calibration import layer_inputs
from diversa.combine.moe.compressed import (
    CompressedExperts,
    CompressedMoEFeedForward,
    ExpertMatrices,
    compressed_layer,
    expert_parameter_count,
    replace_layers,
)
from diversa.combine.moe.experts import ExpertWeights, find_moe_layers, is_moe_layer, read_experts
from diversa.combine.moe.grouping import (
    allocate_groups_globally,
    cluster_experts,
    expert_usage_frequency,
    group_by_dominant,
    router_logit_similarity,
    weight_similarity,
)
from diversa.combine.moe.losparse import LoSparsePruner, compress_experts, low_rank_sparse, stable_rank
from diversa.combine.moe.msmoe import MSMoE, dense_experts, merge_groups
from diversa.combine.moe.pruning import FrequencyPruning, keep_experts
from diversa.combine.moe.submoe import SubMoE, union_svd, union_svd_merge

__all__ = [
    "AssembledMoE", "ExpertSource", "MoEAssemblyConfig", "MoEAssemblyResult", "assemble_moe", "load_moe_config",
    "mixtral_config", "parse_moe_config", "write_moe",
    "CompressedExperts", "CompressedMoEFeedForward", "ExpertMatrices", "ExpertWeights", "FrequencyPruning",
    "LayerwiseCompressor", "LoSparsePruner", "MSMoE", "SubMoE", "align_experts", "allocate_groups_globally",
    "cluster_experts", "compress_experts", "compressed_layer", "dense_experts", "expert_parameter_count",
    "expert_usage_frequency", "find_moe_layers", "group_by_dominant", "is_moe_layer", "keep_experts",
    "layer_inputs", "low_rank_sparse", "match_hidden_units", "merge_groups", "permute_hidden_units",
    "read_experts", "replace_layers", "router_logit_similarity", "stable_rank", "union_svd", "union_svd_merge",
    "weight_similarity",
]
