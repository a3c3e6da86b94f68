"""Auxiliary losses and balance statistics of mixture-of-experts routers (one layer at a time).

- :func:`switch_load_balancing_loss`: Switch Transformers (Fedus, Zoph, Shazeer,
  arXiv:2101.03961) ``L = E * sum_i f_i P_i`` with ``f`` the hard share of
  (token, slot) assignments and ``P`` the mean router probability; the GShard
  variant (Lepikhin et al., arXiv:2006.16668) counts first choices only.
- :func:`router_z_loss`: ST-MoE (Zoph et al., arXiv:2202.08906),
  ``mean_t logsumexp(logits_t)^2``.
- :class:`GlobalBatchLBL`: global-batch balance loss (Qiu et al., "Demons in
  the Detail", arXiv:2501.11873; used by Sigma-MoE-Tiny, arXiv:2512.16248).
- :func:`adamoe_load_balancing_loss`: AdaMoE's loss over true and null experts
  (Zeng et al., arXiv:2406.13233), null counts averaged by default.
- :func:`top1_load_balancing_loss`: the "Top-1 LBL" explored by Sigma-MoE-Tiny.
- :func:`load_balance_stats`: MaxVio-style diagnostics (relative deviation of
  the max/min-loaded expert from uniform load, coefficients of variation of
  ``f`` and ``P``) that expose the lower-layer LBL shortcut of Sigma-MoE-Tiny.

All functions take the routing of ONE layer over T tokens and an optional
boolean ``mask[T]`` of tokens to include (callers pass ``input_ids != pad``, so
pad tokens are excluded by default). ``f`` is computed from hard counts and
carries no gradient; only ``P`` (or the logits) does. The losses weight tokens
by the mask instead of indexing with it and never read values to the host, so
a training step on an accelerator does not wait on them; with no counted
token they are 0.
"""

from __future__ import annotations

import math

import torch

__all__ = ["GlobalBatchLBL", "adamoe_load_balancing_loss", "expert_counts", "load_balance_stats",
           "router_z_loss", "switch_load_balancing_loss", "top1_load_balancing_loss"]


def _masked(tensor: torch.Tensor, mask: torch.Tensor | None, name: str = "mask") -> torch.Tensor:
    if mask is None:
        return tensor
    mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool or mask.shape != tensor.shape[:1]:
        raise ValueError(f"{name} must be a bool tensor of shape [{tensor.shape[0]}], got "
                         f"{mask.dtype} {tuple(mask.shape)}.")
    return tensor[mask]


def expert_counts(topk_idx: torch.Tensor, num_experts: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Number of (token, slot) assignments of each expert, float [E] (ids are checked: reads to the host)."""
    idx = _masked(topk_idx, mask)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= num_experts):
        raise ValueError(f"topk_idx holds expert ids outside [0, {num_experts}).")
    return torch.bincount(idx.reshape(-1), minlength=num_experts).to(torch.float32)


def _token_weights(rows: torch.Tensor, mask: torch.Tensor | None, name: str = "mask") -> torch.Tensor:
    """1.0 for every counted token of ``rows`` [T, ...], 0.0 for the others (float32 [T])."""
    if mask is None:
        return torch.ones(rows.shape[0], device=rows.device)
    mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool or mask.shape != rows.shape[:1]:
        raise ValueError(f"{name} must be a bool tensor of shape [{rows.shape[0]}], got "
                         f"{mask.dtype} {tuple(mask.shape)}.")
    return mask.to(device=rows.device, dtype=torch.float32)


def _counts(topk_idx: torch.Tensor, num_experts: int, weights: torch.Tensor) -> torch.Tensor:
    """Counted (token, slot) assignments per expert, float [E], without reading to the host."""
    per_slot = weights[:, None].expand(topk_idx.shape).reshape(-1)
    counts = torch.zeros(num_experts, device=topk_idx.device)
    return counts.scatter_add_(0, topk_idx.reshape(-1), per_slot)


def _mean_rows(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the counted rows of ``values`` [T, ...] (0 when none is counted)."""
    shape = (-1,) + (1,) * (values.dim() - 1)
    return (values * weights.reshape(shape)).sum(dim=0) / weights.sum().clamp_min(1.0)


def _check_probs(probs: torch.Tensor, num_experts: int | None) -> int:
    if probs.ndim != 2:
        raise ValueError(f"probs must be [T, E], got shape {tuple(probs.shape)}.")
    if num_experts is not None and num_experts != probs.shape[1]:
        raise ValueError(f"num_experts={num_experts} does not match probs.shape[1]={probs.shape[1]}.")
    return probs.shape[1]


def switch_load_balancing_loss(probs: torch.Tensor, topk_idx: torch.Tensor, num_experts: int | None = None,
                               mask: torch.Tensor | None = None, first_choice_only: bool = False) -> torch.Tensor:
    """Switch/GShard load-balancing loss ``E * sum_i f_i P_i`` of one layer (scalar).

    ``probs`` [T, E] router softmax, ``topk_idx`` [T, k] chosen experts.
    ``f_i`` = share of the T*k slots routed to expert i (``first_choice_only``:
    share of tokens whose first choice is i, the GShard form); ``P_i`` = mean
    probability of expert i. Equals 1 at perfect balance, and also whenever P
    is uniform whatever f is (the shortcut studied by Sigma-MoE-Tiny).
    ``k * L`` equals HF transformers' Mixtral ``load_balancing_loss_func``.
    """
    num_experts = _check_probs(probs, num_experts)
    if topk_idx.ndim != 2 or topk_idx.shape[0] != probs.shape[0]:
        raise ValueError(f"topk_idx must be [T, k] with T={probs.shape[0]}, got {tuple(topk_idx.shape)}.")
    if first_choice_only:
        topk_idx = topk_idx[:, :1]
    w = _token_weights(probs, mask)
    counts = _counts(topk_idx, num_experts, w)
    f = counts / counts.sum().clamp_min(1.0)
    return num_experts * (f * _mean_rows(probs.float(), w)).sum()


def router_z_loss(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """ST-MoE router z-loss ``mean_t (logsumexp_i logits[t, i])^2`` (scalar)."""
    if logits.ndim != 2:
        raise ValueError(f"logits must be [T, E], got shape {tuple(logits.shape)}.")
    w = _token_weights(logits, mask)
    return _mean_rows(torch.logsumexp(logits.float(), dim=-1).square(), w)


def adamoe_load_balancing_loss(probs: torch.Tensor, topk_idx: torch.Tensor, num_true: int, num_null: int,
                               null_load: str = "average", mask: torch.Tensor | None = None) -> torch.Tensor:
    """AdaMoE balance loss over n true and m null experts (scalar).

    Experts ``0..n-1`` are true, ``n..n+m-1`` null. Counts ``c_i`` of (token,
    slot) selections; with ``null_load="average"`` (paper and official exp 1)
    every null count is replaced by the mean null count, since null experts are
    interchangeable; ``"individual"`` keeps per-null counts (what official exp 2
    effectively ran) and then equals the Switch loss over n + m experts.
    ``L = (n + m) * sum_i f_i P_i`` with ``f = c / sum(c)``.
    """
    if null_load not in ("average", "individual"):
        raise ValueError(f"null_load must be 'average' or 'individual', got {null_load!r}.")
    if num_true < 1 or num_null < 0:
        raise ValueError(f"num_true must be >= 1 and num_null >= 0, got {num_true}, {num_null}.")
    total = _check_probs(probs, num_true + num_null)
    w = _token_weights(probs, mask)
    counts = _counts(topk_idx, total, w)
    if null_load == "average" and num_null > 0:
        counts = torch.cat([counts[:num_true], counts[num_true:].mean().expand(num_null)])
    f = counts / counts.sum().clamp_min(1.0)
    return total * (f * _mean_rows(probs.float(), w)).sum()


def top1_load_balancing_loss(logits: torch.Tensor, k: int = 1, tau: float = 0.1,
                             mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sigma-MoE-Tiny's "Top-1 LBL" ``E * sum_i fhat_i^2 / pbar_top`` (scalar).

    ``q = softmax(logits / tau)``; ``fhat_i = mean_t q_{t,i}`` is a
    differentiable allocation proxy; ``pbar_top = mean_t`` (sum of the top-k
    entries of ``q_t``). Minimum 1 when ``fhat`` is uniform and every ``q_t`` is
    one-hot; uniform logits give E; all tokens peaked on one expert give E.
    Routing itself keeps the untempered softmax; ``q`` lives only in the loss.
    """
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}.")
    if logits.ndim != 2:
        raise ValueError(f"logits must be [T, E], got shape {tuple(logits.shape)}.")
    num_experts = logits.shape[1]
    if not 1 <= k <= num_experts:
        raise ValueError(f"k must be in [1, {num_experts}], got {k}.")
    w = _token_weights(logits, mask)
    q = (logits.float() / tau).softmax(dim=-1)
    fhat = _mean_rows(q, w)
    pbar_top = _mean_rows(q.topk(k, dim=-1).values.sum(dim=-1), w)
    return num_experts * fhat.square().sum() / pbar_top.clamp_min(torch.finfo(q.dtype).tiny)


class GlobalBatchLBL:
    """Global-batch load-balancing loss (arXiv:2501.11873, as in microsoft/ltp-megatron-lm).

    ``f`` comes from expert counts summed over a whole optimizer step (all
    micro-batches), ``P`` from the current micro-batch (only ``P`` has
    gradient), ``L = E * sum_i f_i P_i``. Single-process use: call
    :meth:`accumulate` with each micro-batch's ``topk_idx``, :meth:`loss` with
    its probabilities, and :meth:`reset` after ``optimizer.step()``.

    Documented deviation (spec 0.3): counts of later micro-batches are unknown
    when earlier ones backpropagate, so by default (``use_previous=True``) ``f``
    is taken from the PREVIOUS optimizer step's global counts (the current
    step's counts so far on the very first step); equal in the limit. With
    ``use_previous=False`` the counts accumulated so far in the current step are
    used, and one micro-batch per step then equals the Switch loss.
    """

    def __init__(self, num_experts: int, use_previous: bool = True):
        if not isinstance(num_experts, int) or num_experts < 1:
            raise ValueError(f"num_experts must be a positive int, got {num_experts!r}.")
        self.num_experts = num_experts
        self.use_previous = use_previous
        self.current: torch.Tensor | None = None  # on the device of the first counts
        self.previous: torch.Tensor | None = None

    def accumulate(self, topk_idx: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Add one micro-batch's expert counts to the current step."""
        if topk_idx.ndim != 2:
            raise ValueError(f"topk_idx must be [T, k], got shape {tuple(topk_idx.shape)}.")
        counts = _counts(topk_idx, self.num_experts, _token_weights(topk_idx, mask))
        self.current = counts if self.current is None else self.current + counts

    def loss(self, probs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The loss of one micro-batch's router probabilities [T, E]."""
        _check_probs(probs, self.num_experts)
        counts = self.previous if (self.use_previous and self.previous is not None) else self.current
        if counts is None:
            raise ValueError("GlobalBatchLBL.loss called before any accumulate().")
        w = _token_weights(probs, mask)
        f = counts / counts.sum().clamp_min(1.0)
        return self.num_experts * (f * _mean_rows(probs.float(), w)).sum()

    def reset(self) -> None:
        """Close the optimizer step: its counts become the previous step's."""
        if self.current is not None:
            self.previous = self.current
        self.current = None


def load_balance_stats(topk_idx: torch.Tensor, num_experts: int, probs: torch.Tensor | None = None,
                       mask: torch.Tensor | None = None) -> dict:
    """Balance diagnostics of one layer's routing (plain Python floats and lists).

    ``f`` load shares [E]; ``max_rel_dev = max_i E f_i - 1`` (MaxVio) and
    ``min_rel_dev = min_i E f_i - 1``; ``cv_f`` = std/mean of f; ``entropy_f``
    = entropy of f / log E; ``n_dead`` = experts with zero count. With
    ``probs`` also ``P`` (mean probabilities), ``cv_p`` and the Switch loss
    ``lbl`` (which can be ~1 with very uneven f if P is flat).
    """
    counts = expert_counts(topk_idx, num_experts, mask).double()
    total = counts.sum()
    f = counts / total if total > 0 else torch.full_like(counts, 1.0 / num_experts)
    rel = f * num_experts - 1.0
    nonzero = f[f > 0]
    stats = {
        "f": f.tolist(),
        "max_rel_dev": float(rel.max()),
        "min_rel_dev": float(rel.min()),
        "cv_f": float(f.std(unbiased=False) / f.mean()),
        "entropy_f": float(-(nonzero * nonzero.log()).sum() / math.log(num_experts)) if num_experts > 1 else 1.0,
        "n_dead": int((counts == 0).sum()),
    }
    if probs is not None:
        p = _masked(probs, mask).detach().double().mean(dim=0)
        stats["P"] = p.tolist()
        stats["cv_p"] = float(p.std(unbiased=False) / p.mean())
        stats["lbl"] = float(num_experts * (f * p).sum())
    return stats
