"""Frequency-based expert pruning: the baseline expert merging is measured against.

Keep each MoE layer's ``n_experts`` most-used experts (usage frequency of the
top-k choices on calibration tokens) and remove the others together with
their router rows, so tokens are routed among the kept experts only. This is
the "expert pruning" baseline of MC-SMoE (arXiv:2310.01334, after Chen et al.,
"Task-Specific Expert Pruning for Sparse Mixture-of-Experts",
arXiv:2206.00277) and of Sub-MoE (arXiv:2506.23266); spec ``merge.md`` 8
("prune to the most-used experts: mask the other router logits"), here with
the masked experts' weights actually removed so the parameter count falls.
"""

from __future__ import annotations

import copy

import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diversa.combine.moe.base import LayerwiseCompressor
from diversa.combine.moe.experts import _is_mixtral_block
from diversa.combine.moe.grouping import expert_usage_frequency
from diversa.nn.moe import MoEFeedForward

__all__ = ["FrequencyPruning", "keep_experts"]


def keep_experts(layer: nn.Module, keep) -> nn.Module:
    """A copy of MoE ``layer`` with only the experts ``keep`` (ids, in that order) and their router rows.

    The router's top-k becomes ``min(k, len(keep))``. Works for diversa's
    ``MoEFeedForward`` (AdaMoE null experts are kept) and Hugging Face
    ``MixtralSparseMoeBlock``.
    """
    keep = torch.as_tensor(keep, dtype=torch.long).reshape(-1)
    if isinstance(layer, MoEFeedForward):
        n_experts = layer.num_experts
    elif _is_mixtral_block(layer):
        n_experts = layer.gate.weight.shape[0]
    else:
        raise TypeError(f"{type(layer).__name__} is not a supported MoE layer.")
    if keep.numel() == 0 or len(set(keep.tolist())) != keep.numel() or int(keep.min()) < 0 \
            or int(keep.max()) >= n_experts:
        raise ValueError(f"keep must list distinct expert ids in 0..{n_experts - 1}, got {keep.tolist()}.")
    if isinstance(layer, MoEFeedForward):
        return _keep_in_moe_ffn(layer, keep)
    block = copy.deepcopy(layer)
    block.gate.weight = nn.Parameter(layer.gate.weight.detach()[keep].clone())
    block.gate.num_experts = keep.numel()
    block.gate.top_k = min(layer.gate.top_k, keep.numel())
    block.top_k = min(getattr(layer, "top_k", block.gate.top_k), keep.numel())
    block.experts.gate_up_proj = nn.Parameter(layer.experts.gate_up_proj.detach()[keep].clone())
    block.experts.down_proj = nn.Parameter(layer.experts.down_proj.detach()[keep].clone())
    block.experts.num_experts = keep.numel()
    return block


def _keep_in_moe_ffn(layer: MoEFeedForward, keep: torch.Tensor) -> MoEFeedForward:
    n = keep.numel()
    out = MoEFeedForward(layer.d_model, layer.d_expert, n, min(layer.top_k, n + layer.num_null_experts),
                         expert_type=layer.expert_type, num_null_experts=layer.num_null_experts,
                         normalize_topk=layer.router.normalize_topk, null_load=layer.null_load,
                         lb_type=layer.lb_type, top1_tau=layer.top1_tau, dispatch=layer.dispatch,
                         dense_reference=layer.dense_reference)
    with torch.no_grad():
        out.router.weight.copy_(layer.router.weight[keep])
        if layer.router.null_weight is not None:
            out.router.null_weight.copy_(layer.router.null_weight)
        if layer.router.selection_bias is not None:
            bias = layer.router.selection_bias
            out.router.selection_bias = torch.cat([bias[keep], bias[layer.num_experts:]]).clone()
        for src, dst in zip(layer._weights(), out._weights()):
            dst.copy_(src[keep])
    return out


class FrequencyPruning(LayerwiseCompressor):
    """Keep each MoE layer's ``n_experts`` most-used experts (ties to the lower id) and drop the rest.

    Attributes (after ``fit``): ``layers_``, ``frequencies_``, ``kept_`` (ids
    kept per layer, most used first).
    """

    def __init__(self, n_experts: int = 4):
        self.n_experts = n_experts

    def _validate_params(self) -> None:
        if isinstance(self.n_experts, bool) or not isinstance(self.n_experts, int) or self.n_experts < 1:
            raise ValueError(f"n_experts must be a positive int, got {self.n_experts!r}.")

    def _fit_layers(self, experts, inputs) -> None:
        self.frequencies_, self.kept_ = {}, {}
        for name, ex in experts.items():
            if self.n_experts > ex.num_experts:
                raise ValueError(f"n_experts={self.n_experts} exceeds the {ex.num_experts} experts of layer {name!r}.")
            freq = expert_usage_frequency(ex, inputs[name])
            self.frequencies_[name] = freq
            self.kept_[name] = torch.sort(freq, descending=True, stable=True).indices[: self.n_experts].tolist()

    def _transform_layer(self, name: str, layer: nn.Module) -> nn.Module:
        check_is_fitted(self, "kept_")
        return keep_experts(layer, self.kept_[name])
