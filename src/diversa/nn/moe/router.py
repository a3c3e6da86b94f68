"""Top-k token routing for mixture-of-experts layers, with inference-time overrides.

Router of the MoE feed-forward layers of diversa (spec ``experts.md`` 0.3),
Mixtral-style "pre-softmax" routing: softmax over all experts, then the top-k
probabilities (Jiang et al., "Mixtral of Experts", arXiv:2401.04088; Shazeer
et al., "Outrageously Large Neural Networks", arXiv:1701.06538).
:class:`RoutingOverride` replaces the top-k choice at inference, as needed by
self-contrast decoding (SCMoE, "Unchosen Experts Can Contribute Too",
arXiv:2405.14507: rank-k "weak" activation) and by dynamic (top-p) routing.

Ties are broken towards the lower expert index (stable sort on -prob), which
makes routing deterministic and lets AdaMoE's tiled null experts lose ties to
their true twins (spec ``adamoe`` pitfall 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

__all__ = ["RouterOutput", "RoutingOverride", "TopKRouter", "router_parameters", "sorted_experts"]


class RouterOutput(NamedTuple):
    """Routing of T tokens over E experts.

    ``logits``/``probs`` [T, E] (float32), ``topk_idx`` [T, k] (long, descending
    probability), ``topk_w`` [T, k] (the gate weights applied to the experts'
    outputs; for AdaMoE layers weights of null experts are 0).
    """

    logits: torch.Tensor
    probs: torch.Tensor
    topk_idx: torch.Tensor
    topk_w: torch.Tensor


def sorted_experts(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, indices) of ``probs`` sorted descending along the last axis, ties to the lower index."""
    values, indices = torch.sort(probs, dim=-1, descending=True, stable=True)
    return values, indices


def _normalized(weights: torch.Tensor) -> torch.Tensor:
    return weights / weights.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(weights.dtype).tiny)


class RoutingOverride:
    """An inference-time replacement of a router's top-k choice (spec 0.3).

    Build with the constructors :meth:`topk`, :meth:`rank`, :meth:`top_p` and
    :meth:`random`; :meth:`select` maps router probabilities [T, E] to
    ``(idx [T, k'], weights [T, k'])``. ``top_p`` pads rows with fewer experts
    by repeating the last chosen expert with weight 0, so every row has the same
    width.
    """

    def __init__(self, kind: str, k: int | None = None, ranks: tuple[int, ...] | None = None,
                 p: float | None = None, max_k: int | None = None, seed: int = 0):
        if kind not in ("topk", "rank", "top_p", "random"):
            raise ValueError(f"kind must be one of 'topk', 'rank', 'top_p', 'random', got {kind!r}.")
        self.kind, self.k, self.ranks, self.p, self.max_k, self.seed = kind, k, ranks, p, max_k, seed
        self._generator: torch.Generator | None = None  # random routing: one stream for every call

    def __repr__(self) -> str:
        detail = {"topk": f"k={self.k}", "rank": f"ranks={self.ranks}", "top_p": f"p={self.p}, max_k={self.max_k}",
                  "random": f"k={self.k}, seed={self.seed}"}[self.kind]
        return f"RoutingOverride.{self.kind}({detail})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RoutingOverride) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def reset(self) -> RoutingOverride:
        """Rewind the random stream to its seed (no effect for the deterministic kinds); returns self."""
        self._generator = None
        return self

    @classmethod
    def topk(cls, k: int) -> RoutingOverride:
        """The k most probable experts, weights renormalised to sum 1."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}.")
        return cls("topk", k=k)

    @classmethod
    def rank(cls, ranks: Sequence[int] = (2,)) -> RoutingOverride:
        """The experts at the given 1-indexed rank positions of the sorted probabilities, renormalised."""
        ranks = tuple(int(r) for r in ranks)
        if not ranks or min(ranks) < 1 or len(set(ranks)) != len(ranks):
            raise ValueError(f"ranks must be distinct 1-indexed positions (>= 1), got {ranks}.")
        return cls("rank", ranks=ranks)

    @classmethod
    def top_p(cls, p: float = 0.6, max_k: int | None = None) -> RoutingOverride:
        """Smallest prefix of the sorted experts with cumulative probability >= p (dynamic routing)."""
        if not 0.0 < float(p) <= 1.0:
            raise ValueError(f"p must be in (0, 1], got {p}.")
        if max_k is not None and max_k < 1:
            raise ValueError(f"max_k must be >= 1 or None, got {max_k}.")
        return cls("top_p", p=float(p), max_k=max_k)

    @classmethod
    def random(cls, k: int = 1, seed: int = 0) -> RoutingOverride:
        """k experts drawn uniformly without replacement per token, weight 1/k.

        Every call (every layer, every decoding step) draws the next numbers of
        one generator seeded with ``seed``, so layers and steps get independent
        experts; a new override with the same seed replays the same draws
        (:meth:`reset` rewinds this one).
        """
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}.")
        return cls("random", k=k, seed=seed)

    def select(self, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Expert indices and gate weights [T, k'] chosen from router probabilities [T, E]."""
        num_experts = probs.shape[-1]
        values, order = sorted_experts(probs)
        if self.kind == "topk":
            if self.k > num_experts:
                raise ValueError(f"k={self.k} exceeds the number of experts {num_experts}.")
            return order[:, : self.k], _normalized(values[:, : self.k])
        if self.kind == "rank":
            if max(self.ranks) > num_experts:
                raise ValueError(f"ranks {self.ranks} exceed the number of experts {num_experts}.")
            cols = torch.tensor([r - 1 for r in self.ranks], device=probs.device)
            return order[:, cols], _normalized(values[:, cols])
        if self.kind == "top_p":
            max_k = num_experts if self.max_k is None else min(self.max_k, num_experts)
            cumulative = values.cumsum(dim=-1)
            # number of experts needed: first position where the cumulative mass reaches p
            needed = (cumulative < self.p - 1e-7).sum(dim=-1) + 1
            needed = needed.clamp(1, max_k)
            width = int(needed.max())
            keep = torch.arange(width, device=probs.device)[None, :] < needed[:, None]
            weights = torch.where(keep, values[:, :width], torch.zeros_like(values[:, :width]))
            last = order.gather(1, (needed - 1)[:, None])
            idx = torch.where(keep, order[:, :width], last)
            return idx, _normalized(weights)
        if self.k > num_experts:
            raise ValueError(f"k={self.k} exceeds the number of experts {num_experts}.")
        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed)
        scores = torch.rand(probs.shape, generator=self._generator).to(probs.device)
        idx = scores.argsort(dim=-1)[:, : self.k]
        return idx, torch.full(idx.shape, 1.0 / self.k, dtype=probs.dtype, device=probs.device)


class TopKRouter(nn.Module):
    """Softmax router choosing the top-k of E experts per token (spec 0.3).

    ``logits = x W^T`` (no bias, ``W ~ N(0, 0.02)``) in float32;
    ``probs = softmax(logits)``; top-k by a stable descending sort. With
    ``normalize_topk`` (default: True when k > 1) the k weights are
    renormalised to sum 1; for k = 1 the raw top probability is kept so that
    the router receives gradient from the task loss. ``top_k`` may be changed
    at any time (dropless layers need no re-allocation). With
    ``num_null_experts = m > 0`` (AdaMoE) the distribution spans E + m experts;
    null rows come last, so ties favour true experts. With a
    ``selection_bias`` buffer (loss-free balancing), experts are selected by
    ``sigmoid(logits) + bias`` and weighted by the unbiased sigmoid scores.
    """

    def __init__(self, d_model: int, num_experts: int, top_k: int, normalize_topk: bool | None = None,
                 init_std: float = 0.02, num_null_experts: int = 0):
        super().__init__()
        if not isinstance(num_experts, int) or num_experts < 1:
            raise ValueError(f"num_experts must be a positive int, got {num_experts!r}.")
        if not isinstance(num_null_experts, int) or num_null_experts < 0:
            raise ValueError(f"num_null_experts must be a non-negative int, got {num_null_experts!r}.")
        self.num_experts = num_experts
        self.num_null_experts = num_null_experts
        self.normalize_topk = normalize_topk
        self.top_k = top_k  # validated by the property setter
        self.weight = nn.Parameter(torch.randn(num_experts, d_model) * init_std)
        # AdaMoE: the null experts' router rows are a separate matrix (they are the only null parameters).
        self.null_weight = (nn.Parameter(torch.randn(num_null_experts, d_model) * init_std)
                            if num_null_experts else None)
        # set by diversa.nn.moe.schedules.LossFreeBias: a per-expert bias on sigmoid scores for selection
        self.register_buffer("selection_bias", None)

    @property
    def total_experts(self) -> int:
        """True plus null experts (the width of the routing distribution)."""
        return self.num_experts + self.num_null_experts

    @property
    def top_k(self) -> int:
        return self._top_k

    @top_k.setter
    def top_k(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"top_k must be a positive int, got {value!r}.")
        if value > self.total_experts:
            raise ValueError(f"top_k={value} must not exceed the number of experts {self.total_experts} "
                             f"(num_experts={self.num_experts}, num_null_experts={self.num_null_experts}).")
        self._top_k = value

    def _normalize(self) -> bool:
        return self.top_k > 1 if self.normalize_topk is None else bool(self.normalize_topk)

    def forward(self, x: torch.Tensor, override: RoutingOverride | None = None) -> RouterOutput:
        """Route ``x`` [T, d]; ``override`` replaces the top-k choice (inference only)."""
        return self.select(self.logits(x), override)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Router logits [T, E + m] (float32) of tokens ``x`` [T, d]."""
        weight = self.weight if self.null_weight is None else torch.cat([self.weight, self.null_weight])
        return x.float() @ weight.float().t()

    def select(self, logits: torch.Tensor, override: RoutingOverride | None = None) -> RouterOutput:
        """The experts and gate weights chosen from router ``logits`` [T, E + m]."""
        probs = logits.softmax(dim=-1)
        if override is not None:
            idx, weights = override.select(probs)
            return RouterOutput(logits, probs, idx, weights)
        if self.selection_bias is not None:
            # loss-free balancing (DeepSeek-V3 style): sigmoid scores, bias used for SELECTION only
            scores = logits.sigmoid()
            order = sorted_experts(scores + self.selection_bias)[1]
            idx = order[:, : self.top_k]
            weights = scores.gather(1, idx)
        else:
            values, order = sorted_experts(probs)
            idx, weights = order[:, : self.top_k], values[:, : self.top_k]
        if self._normalize():
            weights = _normalized(weights)
        return RouterOutput(logits, probs, idx, weights)



def router_parameters(model: nn.Module, null_only: bool = False) -> list[nn.Parameter]:
    """The routers' parameters of every :class:`TopKRouter` in ``model``: true rows, then AdaMoE null rows.

    For optimiser parameter groups that give routers their own learning rate:
    AdaMoE's null rows (arXiv:2406.13233) receive gradient only from the
    balance loss, and Adam's step size does not shrink with that loss's
    coefficient, so at the learning rate of the experts they drift far faster
    than the coefficient suggests. ``null_only=True`` returns the null rows
    alone. Each parameter appears once.
    """
    params: list[nn.Parameter] = []
    for module in model.modules():
        if isinstance(module, TopKRouter):
            if not null_only:
                params.append(module.weight)
            if module.null_weight is not None:
                params.append(module.null_weight)
    return list({id(p): p for p in params}.values())
