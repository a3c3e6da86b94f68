"""Dropless top-k mixture-of-experts feed-forward layer (optionally with AdaMoE null experts).

A sparsely-gated MoE FFN (Shazeer et al., arXiv:1701.06538) in the Mixtral
form (Jiang et al., "Mixtral of Experts", arXiv:2401.04088): softmax router,
top-k experts per token, renormalised gate weights, SwiGLU experts stored
stacked as ``w_gate_up [E, 2h, d]`` (gate rows first) and ``w_down [E, d, h]``
like HF transformers' ``MixtralExperts``; GELU experts (``w1 [E, h, d]``,
``w2 [E, d, h]``) are the spec's tiny-LM default. Dropless: no capacity
factor, every routed (token, slot) pair is computed (spec ``experts.md`` 0.3).

Dispatch is batched: the (token, slot) pairs are sorted by expert and either
packed into a padded ``[E, C_max, d]`` tensor for two ``torch.bmm`` calls
(``dispatch="bmm"``) or processed as contiguous per-expert segments
(``dispatch="segments"``: a loop over experts, never over tokens). The default
``"auto"`` uses segments up to 16 experts and bmm above (measured on CPU by
``benchmarks/bench_moe.py``: with few experts the padding of bmm costs more
than the loop saves; with many small experts the per-expert calls dominate). Outputs
are scaled by the gate weight and ``index_add_``-ed back.

With ``num_null_experts = m > 0`` the layer is AdaMoE's (Zeng et al.,
arXiv:2406.13233): the router spans n true + m null experts, null experts
output zero and cost nothing, the gate weights are renormalised over the
selected TRUE experts only (a softmax over their logits, so the task loss
gives exactly zero gradient to the null logits), and tokens whose k slots all
went to null experts get a zero FFN output. The balance loss then includes the
null experts (:func:`~diversa.nn.moe.losses.adamoe_load_balancing_loss`).

Like Hugging Face MoE blocks (``MixtralSparseMoeBlock`` up to transformers 4.x),
``forward`` returns ``(output, router_logits)`` and keeps nothing on the
module: the auxiliary losses are functions of the router logits
(:meth:`MoEFeedForward.aux_losses`, built on :mod:`diversa.nn.moe.losses`),
the routing actually applied is :meth:`MoEFeedForward.route` of them (or
``forward(..., return_routing=True)``), and usage statistics are computed only
when asked (:func:`routing_stats`). Activation checkpointing and
``torch.compile`` therefore see a pure function, and nothing synchronises with
the host during a forward.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from diversa.nn.moe.losses import (
    GlobalBatchLBL,
    adamoe_load_balancing_loss,
    router_z_loss,
    switch_load_balancing_loss,
    top1_load_balancing_loss,
)
from diversa.nn.moe.router import RouterOutput, RoutingOverride, TopKRouter

__all__ = ["LB_TYPES", "MoEAuxLosses", "MoEFeedForward", "routing_stats"]

#: Balance losses a layer can compute: Switch (all slots), GShard (first choice), Sigma-MoE-Tiny's
#: Top-1 LBL, the global-batch LBL, or none.
LB_TYPES = ("switch", "gshard", "top1", "global_batch", "none")


class MoEAuxLosses(NamedTuple):
    """A layer's auxiliary losses (scalar tensors with gradient): balance ``lb`` and router ``z``-loss."""

    lb: torch.Tensor
    z: torch.Tensor


def routing_stats(routing: RouterOutput | torch.Tensor, num_experts: int,
                  mask: torch.Tensor | None = None) -> dict[str, float]:
    """Expert usage of one layer's routing, as plain floats (computed on demand: it reads values to the host).

    ``routing``: a :class:`RouterOutput` or its ``topk_idx`` [T, k];
    ``num_experts``: true experts n (ids >= n are AdaMoE null experts);
    ``mask`` [T] marks the tokens counted. ``expert_evals``: token x expert
    MLP evaluations actually run (all tokens); ``avg_true_experts``: true
    experts per counted token; ``frac_tokens_zero_true``: counted tokens
    routed to null experts only; ``null_slot_share``: share of counted slots
    that went to null experts.
    """
    idx = routing.topk_idx if isinstance(routing, RouterOutput) else routing
    true_per_token = (idx < num_experts).sum(dim=1)
    counted = true_per_token if mask is None else true_per_token[mask.reshape(-1).to(torch.bool)]
    n_tokens = max(int(counted.numel()), 1)
    return {
        "expert_evals": int(true_per_token.sum()),
        "avg_true_experts": float(counted.sum()) / n_tokens,
        "frac_tokens_zero_true": float((counted == 0).sum()) / n_tokens,
        "null_slot_share": 1.0 - float(counted.sum()) / (n_tokens * idx.shape[1]) if counted.numel() else 0.0,
    }


class MoEFeedForward(nn.Module):
    """Dropless top-k MoE feed-forward layer with batched expert computation.

    Parameters
    ----------
    d_model, d_expert : int
        Model width and hidden width h of each expert.
    num_experts, top_k : int
        Number of true experts n and of slots per token k (k <= n + num_null_experts).
    expert_type : "swiglu" or "gelu"
        ``W_down (silu(W_gate x) * W_up x)`` or ``W2 gelu(W1 x)``; no biases.
    num_null_experts : int
        AdaMoE null experts m (zero output, no parameters besides their router rows).
    normalize_topk : bool or None
        Renormalise the k gate weights (default: True when k > 1). Null layers
        always renormalise over the selected true experts.
    null_load : "average" or "individual"
        AdaMoE balance loss variant (default "average", the paper's).
    lb_type : one of ``LB_TYPES``
        Balance loss of :meth:`aux_losses` (null layers always use AdaMoE's).
    top1_tau : float
        Temperature of the Top-1 LBL.
    dispatch : "auto", "bmm" or "segments"
        Batched padded matmuls, a loop over experts on sorted segments, or
        "auto" (segments for <= 16 experts, else bmm).
    dense_reference : bool
        Compute every expert for every token and mask (slow; for tests).
    init_std, out_init_std : float
        Normal init std of input-side and output-side expert matrices.
    """

    def __init__(self, d_model: int, d_expert: int, num_experts: int = 8, top_k: int = 2,
                 expert_type: str = "swiglu", num_null_experts: int = 0, normalize_topk: bool | None = None,
                 null_load: str = "average", lb_type: str = "switch", top1_tau: float = 0.1,
                 dispatch: str = "auto", dense_reference: bool = False, init_std: float = 0.02,
                 out_init_std: float | None = None):
        super().__init__()
        for name, value in (("d_model", d_model), ("d_expert", d_expert)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if expert_type not in ("swiglu", "gelu"):
            raise ValueError(f"expert_type must be 'swiglu' or 'gelu', got {expert_type!r}.")
        if null_load not in ("average", "individual"):
            raise ValueError(f"null_load must be 'average' or 'individual', got {null_load!r}.")
        if lb_type not in LB_TYPES:
            raise ValueError(f"lb_type must be one of {LB_TYPES}, got {lb_type!r}.")
        if dispatch not in ("auto", "bmm", "segments"):
            raise ValueError(f"dispatch must be 'auto', 'bmm' or 'segments', got {dispatch!r}.")
        if not top1_tau > 0:
            raise ValueError(f"top1_tau must be > 0, got {top1_tau}.")
        self.router = TopKRouter(d_model, num_experts, top_k, normalize_topk=normalize_topk, init_std=init_std,
                                 num_null_experts=num_null_experts)
        self.d_model, self.d_expert, self.expert_type = d_model, d_expert, expert_type
        self.null_load, self.lb_type, self.top1_tau = null_load, lb_type, top1_tau
        self.dispatch, self.dense_reference = dispatch, dense_reference
        out_std = init_std if out_init_std is None else out_init_std
        rows = 2 * d_expert if expert_type == "swiglu" else d_expert
        w_in = nn.Parameter(torch.randn(num_experts, rows, d_model) * init_std)
        w_out = nn.Parameter(torch.randn(num_experts, d_model, d_expert) * out_std)
        if expert_type == "swiglu":
            self.w_gate_up, self.w_down = w_in, w_out
        else:
            self.w1, self.w2 = w_in, w_out
        self.global_lbl = GlobalBatchLBL(num_experts) if lb_type == "global_batch" else None

    # -- configuration -------------------------------------------------------------------------
    @property
    def num_experts(self) -> int:
        return self.router.num_experts

    @property
    def num_null_experts(self) -> int:
        return self.router.num_null_experts

    @property
    def top_k(self) -> int:
        return self.router.top_k

    @top_k.setter
    def top_k(self, value: int) -> None:
        self.router.top_k = value

    def _weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.w_gate_up, self.w_down) if self.expert_type == "swiglu" else (self.w1, self.w2)

    def params_per_expert(self) -> int:
        """Parameters of one expert MLP."""
        w_in, w_out = self._weights()
        return w_in[0].numel() + w_out[0].numel()

    def on_optimizer_step(self) -> None:
        """Close a training step (the global-batch LBL moves its counts to "previous")."""
        if self.global_lbl is not None:
            self.global_lbl.reset()

    # -- experts -------------------------------------------------------------------------------
    def _activate(self, h: torch.Tensor) -> torch.Tensor:
        if self.expert_type == "swiglu":
            gate, up = h.split(self.d_expert, dim=-1)
            return F.silu(gate) * up
        return F.gelu(h)

    def expert_forward(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Expert ``e`` applied to tokens ``x`` [N, d]."""
        w_in, w_out = self._weights()
        return self._activate(x @ w_in[e].t()) @ w_out[e].t()

    def _dispatch(self, x: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Sum over slots of ``weights * expert(x)`` for the TRUE experts in ``idx`` [T, k]."""
        num_tokens, k = idx.shape
        out = torch.zeros_like(x)
        flat_e = idx.reshape(-1)
        keep = flat_e < self.num_experts  # null experts (ids >= n) cost nothing
        token = torch.arange(num_tokens, device=x.device).repeat_interleave(k)[keep]
        expert = flat_e[keep]
        gate = weights.reshape(-1)[keep]
        if expert.numel() == 0:
            return out
        order = torch.argsort(expert, stable=True)
        expert, token, gate = expert[order], token[order], gate[order]
        counts = torch.bincount(expert, minlength=self.num_experts)
        xs = x[token]
        use_bmm = self.dispatch == "bmm" or (self.dispatch == "auto" and self.num_experts > 16)
        if use_bmm:
            w_in, w_out = self._weights()
            offsets = counts.cumsum(0) - counts
            slot = torch.arange(expert.numel(), device=x.device) - offsets[expert]
            padded = x.new_zeros(self.num_experts, int(counts.max()), self.d_model)
            padded = padded.index_put((expert, slot), xs)
            hidden = self._activate(torch.bmm(padded, w_in.transpose(1, 2)))
            ys = torch.bmm(hidden, w_out.transpose(1, 2))[expert, slot]
        else:
            pieces = [self.expert_forward(e, seg) for e, seg in enumerate(xs.split(counts.tolist()))
                      if seg.shape[0]]
            ys = torch.cat(pieces)
        return out.index_add(0, token, ys * gate[:, None].to(ys.dtype))

    def _dense(self, x: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        w_in, w_out = self._weights()
        all_out = torch.einsum("eth,edh->etd", self._activate(torch.einsum("td,ehd->eth", x, w_in)), w_out)
        keep = idx < self.num_experts
        combine = x.new_zeros(x.shape[0], self.num_experts + 1)
        combine = combine.scatter_add(1, torch.where(keep, idx, self.num_experts),
                                      torch.where(keep, weights, torch.zeros_like(weights)).to(x.dtype))
        return torch.einsum("te,etd->td", combine[:, : self.num_experts], all_out)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, routing_override: RoutingOverride | None = None,
                return_routing: bool = False) -> tuple[torch.Tensor, torch.Tensor | RouterOutput]:
        """``(output, router_logits)`` for ``x`` [..., d], as Hugging Face MoE blocks return.

        ``output`` has the shape of ``x``; ``router_logits`` [T, E + m] (T =
        tokens of ``x``, float32) are the router's logits, from which
        :meth:`aux_losses` and :meth:`route` compute the balance losses and the
        routing. ``routing_override`` replaces the top-k choice (inference).
        ``return_routing=True`` returns the applied :class:`RouterOutput`
        (logits, probabilities, chosen experts and gate weights) instead of the
        logits: the same routing without computing it twice, and the exact one
        under :meth:`RoutingOverride.random`.
        """
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must end with d_model={self.d_model}, got shape {tuple(x.shape)}.")
        flat = x.reshape(-1, self.d_model)
        routed = self.route(self.router.logits(flat), routing_override)
        weights = routed.topk_w.to(flat.dtype)
        if self.dense_reference:
            y = self._dense(flat, routed.topk_idx, weights)
        else:
            y = self._dispatch(flat, routed.topk_idx, weights)
        return y.reshape(x.shape), (routed if return_routing else routed.logits)

    def route(self, router_logits: torch.Tensor, routing_override: RoutingOverride | None = None) -> RouterOutput:
        """The routing the layer applies for ``router_logits`` [T, E + m]: chosen experts and gate weights.

        A deterministic function of the logits (and of the router's
        ``top_k`` and selection bias), except under
        :meth:`RoutingOverride.random`, which draws anew at each call. For
        AdaMoE layers the gate weights are renormalised over the selected true
        experts (null experts get weight 0).
        """
        routed = self.router.select(router_logits, routing_override)
        if self.num_null_experts:
            routed = routed._replace(topk_w=self._true_expert_weights(routed.logits, routed.topk_idx))
        return routed

    def aux_losses(self, router_logits: torch.Tensor, mask: torch.Tensor | None = None,
                   routing: RouterOutput | None = None) -> MoEAuxLosses:
        """Balance loss (``lb_type``, or AdaMoE's with null experts) and router z-loss of ``router_logits``.

        ``mask`` [T] (bool) marks the tokens the losses count (e.g. non-pad).
        The balance loss is taken on the layer's own routing of the logits
        (overrides are an inference device). ``routing``, when given, is that
        routing as :meth:`route` (or ``forward(..., return_routing=True)``
        without an override) already returned it for these logits; passing it
        saves computing it again. For ``lb_type="global_batch"`` in
        training mode, this call adds the tokens' expert counts to the
        optimizer step's (call it once per forward, then
        :meth:`on_optimizer_step` after each step).
        """
        if mask is not None:
            mask = mask.reshape(-1).to(torch.bool)
            if mask.shape[0] != router_logits.shape[0]:
                raise ValueError(f"mask must have {router_logits.shape[0]} entries (one per token), "
                                 f"got {tuple(mask.shape)}.")
        if routing is not None and routing.logits is not router_logits:
            raise ValueError("routing must be the layer's routing of these router_logits (routing.logits is "
                             "router_logits).")
        routed = self.route(router_logits) if routing is None else routing
        return MoEAuxLosses(self._balance_loss(routed, mask), router_z_loss(router_logits, mask))

    def _true_expert_weights(self, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        # softmax over the selected TRUE experts' logits == p_j / sum_{true selected} p_j, without the
        # shared denominator, so null logits get exactly zero task-loss gradient; all-null rows -> 0.
        is_true = idx < self.num_experts
        chosen = logits.gather(1, idx).masked_fill(~is_true, float("-inf"))
        any_true = is_true.any(dim=1, keepdim=True)
        chosen = torch.where(any_true, chosen, torch.zeros_like(chosen))
        return torch.where(any_true & is_true, chosen.softmax(dim=-1), torch.zeros_like(chosen))

    def _balance_loss(self, routed: RouterOutput, mask: torch.Tensor | None) -> torch.Tensor:
        if self.num_null_experts:
            return adamoe_load_balancing_loss(routed.probs, routed.topk_idx, self.num_experts,
                                              self.num_null_experts, self.null_load, mask)
        if self.lb_type in ("switch", "gshard"):
            return switch_load_balancing_loss(routed.probs, routed.topk_idx, self.num_experts, mask,
                                              first_choice_only=self.lb_type == "gshard")
        if self.lb_type == "top1":
            return top1_load_balancing_loss(routed.logits, k=min(self.top_k, self.num_experts),
                                            tau=self.top1_tau, mask=mask)
        if self.lb_type == "global_batch":
            if self.training:
                self.global_lbl.accumulate(routed.topk_idx, mask)
                return self.global_lbl.loss(routed.probs, mask)
            return switch_load_balancing_loss(routed.probs, routed.topk_idx, self.num_experts, mask)
        return routed.probs.sum() * 0.0

    def extra_repr(self) -> str:
        null = f", num_null_experts={self.num_null_experts}" if self.num_null_experts else ""
        return (f"d_model={self.d_model}, d_expert={self.d_expert}, num_experts={self.num_experts}, "
                f"top_k={self.top_k}, expert_type={self.expert_type!r}{null}, lb_type={self.lb_type!r}")

