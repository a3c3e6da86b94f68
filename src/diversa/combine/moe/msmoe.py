"""M-SMoE: routing-guided expert merging (the "merge" half of MC-SMoE).

Li, Zhang, Yadav, Sung, Cheng, Bansal, Chen, "Merge, Then Compress: Demystify
Efficient SMoE with Hints from Its Routing Policy", ICLR 2024,
arXiv:2310.01334 (official code ``UNITES-Lab/MC-SMoE``; spec ``merge.md`` 8).

Per MoE layer, on calibration tokens:

1. usage frequencies of the experts (top-k assignments) and router-logit
   similarity (:mod:`~diversa.combine.moe.grouping`);
2. the ``n_groups`` most-used experts become dominants, every other expert
   joins its most similar dominant (or a layer-adaptive number of groups with
   ``global_groups=True``);
3. every member's hidden units are permuted to match a reference expert
   (:mod:`~diversa.combine.moe.alignment`, SwiGLU-aware);
4. each group is merged with frequency weights ``sum_e f_e W_e / sum_e f_e``
   into one physical expert; the router is unchanged and every member's slot
   points at the merged expert (``expert_map``).

Resolutions: ``reference="dominant"`` (the default) aligns each member to its
group's dominant expert, as the paper's text describes; ``"first"`` aligns all
experts to expert 0 as the released ``permute-model.py`` does. A group whose
members all have zero frequency is averaged uniformly (the release's
``+1e-7`` denominator would zero it).
"""

from __future__ import annotations

import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diversa.combine.moe.alignment import align_experts
from diversa.combine.moe.base import LayerwiseCompressor
from diversa.combine.moe.compressed import CompressedExperts, ExpertMatrices, compressed_layer
from diversa.combine.moe.experts import ExpertWeights, read_experts
from diversa.combine.moe.grouping import (
    allocate_groups_globally,
    expert_usage_frequency,
    group_by_dominant,
    router_logit_similarity,
    weight_similarity,
)

__all__ = ["MSMoE", "dense_experts", "merge_groups"]


def dense_experts(matrices: dict[str, torch.Tensor], expert_map: torch.Tensor, act_fn: nn.Module) -> CompressedExperts:
    """A :class:`CompressedExperts` from dense weight types ``{gate?, up, down}`` of G physical experts."""
    return CompressedExperts(ExpertMatrices(dense=matrices["up"]), ExpertMatrices(dense=matrices["down"]),
                             expert_map, act_fn,
                             w_gate=ExpertMatrices(dense=matrices["gate"]) if "gate" in matrices else None)


def _check_labels(labels, n_experts: int) -> torch.Tensor:
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.shape != (n_experts,):
        raise ValueError(f"labels must give one group per expert ({n_experts}), got shape {tuple(labels.shape)}.")
    groups = torch.unique(labels)
    if int(labels.min()) < 0 or groups.tolist() != list(range(len(groups))):
        raise ValueError(f"labels must use every group id 0..G-1, got {labels.tolist()}.")
    return labels


def merge_groups(experts: ExpertWeights, labels, weights=None) -> CompressedExperts:
    """Merge each group of experts into one: ``W_g = sum_{e in g} w_e W_e / sum_{e in g} w_e``.

    ``labels [E]``: group ids 0..G-1 (each used); ``weights [E]`` >= 0
    (usage frequencies for M-SMoE; default uniform, i.e. plain averaging).
    Physical expert g is group g; slot e maps to ``labels[e]``. Every weight
    type (gate, up, down) uses the same groups and weights.
    """
    n = experts.num_experts
    labels = _check_labels(labels, n)
    w = torch.ones(n) if weights is None else torch.as_tensor(weights, dtype=torch.float32).reshape(-1)
    if w.numel() != n or bool((w < 0).any()) or not bool(torch.isfinite(w).all()):
        raise ValueError(f"weights must be {n} finite non-negative numbers, got {w.tolist()}.")
    n_groups = int(labels.max()) + 1
    merged: dict[str, torch.Tensor] = {}
    for name, mats in experts.matrices().items():
        out = []
        for g in range(n_groups):
            members = labels == g
            wg = w[members]
            wg = torch.ones_like(wg) if float(wg.sum()) <= 0 else wg
            out.append(torch.einsum("e,eij->ij", wg / wg.sum(), mats[members]))
        merged[name] = torch.stack(out)
    return dense_experts(merged, labels, experts.activation)


class MSMoE(LayerwiseCompressor):
    """Merge each MoE layer's experts into ``n_groups`` frequency-weighted, aligned groups (M-SMoE).

    Parameters
    ----------
    n_groups : int
        Physical experts kept per layer (the average over layers when ``global_groups``).
    global_groups : bool
        Layer-adaptive group counts from the global frequency threshold.
    similarity : "router-logits" or "weight"
        How a non-dominant expert picks its group.
    weighting : "frequency" or "uniform"
        Merge weights (``"uniform"`` is plain averaging).
    permute : bool
        Align hidden units before merging.
    reference : "dominant" or "first"
        Alignment target: each member's dominant, or expert 0 for all.
    capacity : int or None
        Most experts per group.
    include_wo : bool
        Include the down projection in the alignment cost.

    Attributes (after ``fit``): ``layers_``, ``frequencies_``, ``similarities_``,
    ``labels_``, ``dominants_``, ``n_groups_`` (dicts by layer name).
    """

    def __init__(self, n_groups: int = 4, global_groups: bool = False, similarity: str = "router-logits",
                 weighting: str = "frequency", permute: bool = True, reference: str = "dominant",
                 capacity: int | None = None, include_wo: bool = True):
        self.n_groups = n_groups
        self.global_groups = global_groups
        self.similarity = similarity
        self.weighting = weighting
        self.permute = permute
        self.reference = reference
        self.capacity = capacity
        self.include_wo = include_wo

    def _validate_params(self) -> None:
        if isinstance(self.n_groups, bool) or not isinstance(self.n_groups, int) or self.n_groups < 1:
            raise ValueError(f"n_groups must be a positive int, got {self.n_groups!r}.")
        for name, value, allowed in (("similarity", self.similarity, ("router-logits", "weight")),
                                     ("weighting", self.weighting, ("frequency", "uniform")),
                                     ("reference", self.reference, ("dominant", "first"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")

    def _fit_layers(self, experts, inputs) -> None:
        for name, ex in experts.items():
            if self.n_groups > ex.num_experts:
                raise ValueError(f"n_groups={self.n_groups} exceeds the {ex.num_experts} experts of layer {name!r}.")
        self.frequencies_ = {name: expert_usage_frequency(ex, inputs[name]) for name, ex in experts.items()}
        self.similarities_ = {name: self._similarity(ex, inputs[name]) for name, ex in experts.items()}
        names = list(experts)
        counts = (allocate_groups_globally([self.frequencies_[n] for n in names], self.n_groups)
                  if self.global_groups else [self.n_groups] * len(names))
        self.n_groups_ = dict(zip(names, counts))
        self.labels_, self.dominants_ = {}, {}
        for name in names:
            self.labels_[name], self.dominants_[name] = group_by_dominant(
                self.frequencies_[name], self.similarities_[name], self.n_groups_[name], self.capacity)

    def _similarity(self, experts: ExpertWeights, x: torch.Tensor) -> torch.Tensor:
        if self.similarity == "router-logits":
            return router_logit_similarity(experts, x)
        # weights are compared in aligned coordinates (the release permutes the model before grouping)
        return weight_similarity(align_experts(experts, 0, self.include_wo) if self.permute else experts)

    def merged_experts(self, name: str, layer: nn.Module) -> CompressedExperts:
        """The merged physical experts of fitted layer ``name`` (``layer`` is that layer of the model)."""
        check_is_fitted(self, "labels_")
        experts = read_experts(layer)
        labels = self.labels_[name]
        if self.permute:
            refs = ([self.dominants_[name][int(g)] for g in labels] if self.reference == "dominant" else 0)
            experts = align_experts(experts, refs, include_wo=self.include_wo)
        weights = self.frequencies_[name] if self.weighting == "frequency" else None
        return merge_groups(experts, labels, weights)

    def _transform_layer(self, name: str, layer: nn.Module) -> nn.Module:
        return compressed_layer(layer, self.merged_experts(name, layer))
