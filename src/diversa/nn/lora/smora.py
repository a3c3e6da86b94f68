"""SMoRA: every rank of one LoRA is an expert, routed per token.

"Each Rank Could be an Expert: Single-Ranked Mixture of Experts LoRA for
Multi-Task Learning" (arXiv:2501.15103, KDD 2026). Routing E LoRA
experts of rank r/E is one rank-r LoRA whose rank components are switched on
block-wise, ``sum_e g_e B_e A_e x = B diag(G(x)) A x``; SMoRA takes the finest
blocks, single ranks. Per token x (faithful to the official
``SRMoLELinear.forward``, spec ``experts.md`` section ``smora``):

    s  = sigmoid(W_g dropout(x))              one score per block of P ranks, repeated P times
    s' = s + b                                b: per-rank balancing bias, not trained
    idx = top-k(s'),  G[idx] = s'[idx]        (the bias is inside the gate values)
    Ghat = k * G / sum(G)                     the k active gates average exactly 1
    y  = W x + (alpha / k) * B (Ghat * A dropout(x))

Load balancing is auxiliary-loss-free (as DeepSeek-V3's bias balancing): in
training, after each forward, ``b_i += u * sign(mean(c) - c_i)`` with ``c_i``
the number of (token, slot) selections of rank i, so under-used ranks gain.
The update runs only in ``train()`` with gradients enabled, and counts only
the tokens of ``token_mask`` (padding excluded) unless ``count_pad_tokens``.
``rank_bias`` is a buffer (saved with the model, like BatchNorm statistics);
nothing else is stored between calls. As in the official code the bias is
unbounded: after many updates at a large rate ``s + b`` can approach zero and
``Ghat`` grows; ``bias_in_gate=False`` avoids that.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from diversa.nn.lora.inject import apply_adapter
from diversa.nn.lora.linear import LinearAdapter, check_alpha, check_dropout

__all__ = ["RankRouting", "SMoRALinear", "apply_smora", "rank_gates"]


class RankRouting(NamedTuple):
    """Per-token routing over the r ranks of a :class:`SMoRALinear`.

    ``scores`` [..., r]: ``s + b`` (sigmoid score per rank plus the balancing
    bias); ``topk_idx`` [..., k]: the active ranks; ``gates`` [..., r]:
    ``Ghat``, zero outside the active ranks, summing to k per token.
    """

    scores: torch.Tensor
    topk_idx: torch.Tensor
    gates: torch.Tensor


def rank_gates(scores: torch.Tensor, k: int, gate_values: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(topk_idx [..., k], Ghat [..., r])``: the top-k ranks of ``scores`` and their gates scaled to sum k.

    ``gate_values`` (default ``scores``) supply the values at the selected
    ranks; SMoRA selects on ``s + b`` and, by default, also gates with it.
    Ties go to the lower rank index.
    """
    values = scores if gate_values is None else gate_values
    idx = torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :k]
    gates = torch.zeros_like(values).scatter(-1, idx, values.gather(-1, idx))
    total = gates.sum(dim=-1, keepdim=True)
    return idx, k * gates / total.clamp_min(torch.finfo(gates.dtype).tiny)


class SMoRALinear(LinearAdapter):
    """A frozen ``nn.Linear`` plus a rank-``r`` LoRA whose ranks are routed per token, ``k`` active (SMoRA).

    ``forward(x [..., in], token_mask=None, rank_weights=None,
    return_routing=False)`` returns ``[..., out]`` or ``(output, RankRouting)``.
    ``rank_weights`` [..., r] (broadcastable) replaces ``Ghat`` (for analysis:
    all ones is the plain rank-r LoRA ``W + (alpha/k) B A``); the balancing
    bias is then not updated. ``token_mask`` [...] (True = real token) limits
    the bias update's counts.

    ``rank_partition`` P ties the router's score across blocks of P ranks
    (``P = r/E`` is E-expert MoE-LoRA with SMoRA's routing); ``r % P == 0``.
    ``bias_in_gate=False`` uses the bias only to select ranks (DeepSeek-V3
    style) and gates with ``s``. ``dense_compute`` computes all r ranks and
    masks (fast on CPU for small r); ``False`` gathers the k active rows of A
    and columns of B per token (same result). Defaults follow the official
    code: ``alpha=16``, ``bias_update_rate=1e-5``, router with nn.Linear's
    default init, A kaiming-uniform, B zero.

    Example:
        >>> import torch
        >>> layer = SMoRALinear(torch.nn.Linear(8, 8), r=6, k=2)
        >>> gates = layer.routing(torch.randn(5, 8)).gates.detach()
        >>> [int((g > 0).sum()) for g in gates], round(float(gates.sum(-1)[0]), 5)
        ([2, 2, 2, 2, 2], 2.0)
    """

    returns_routing = True

    def __init__(self, base: nn.Linear, r: int = 64, k: int = 8, alpha: float = 16, dropout: float = 0.0,
                 rank_partition: int = 1, bias_update_rate: float = 1e-5, bias_in_gate: bool = True,
                 count_pad_tokens: bool = False, dense_compute: bool = True):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}.")
        # r may exceed min(in, out): the routed rank-one experts combine differently per token.
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"r must be a positive int, got {r!r}.")
        self.r = r
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.r:
            raise ValueError(f"k must be an int in [1, r={self.r}], got {k!r}.")
        if isinstance(rank_partition, bool) or not isinstance(rank_partition, int) or rank_partition < 1 \
                or self.r % rank_partition:
            raise ValueError(f"rank_partition must be a positive divisor of r={self.r}, got {rank_partition!r}.")
        rate = check_alpha(bias_update_rate, "bias_update_rate")
        if rate < 0:
            raise ValueError(f"bias_update_rate must be >= 0, got {bias_update_rate!r}.")
        self.k, self.alpha, self.rank_partition, self.bias_update_rate = k, check_alpha(alpha), rank_partition, rate
        self.dropout_p = check_dropout(dropout)
        self.bias_in_gate, self.count_pad_tokens, self.dense_compute = bool(bias_in_gate), bool(count_pad_tokens), \
            bool(dense_compute)
        factory = self._wrap(base)
        self.lora_A = nn.Linear(base.in_features, self.r, bias=False, **factory)
        self.lora_B = nn.Linear(self.r, base.out_features, bias=False, **factory)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=5 ** 0.5)
        nn.init.zeros_(self.lora_B.weight)
        self.router = nn.Linear(base.in_features, self.r // rank_partition, bias=False, **factory)
        self.register_buffer("rank_bias", torch.zeros(self.r, **factory))
        self.lora_dropout = nn.Dropout(self.dropout_p) if self.dropout_p > 0 else nn.Identity()

    @property
    def scaling(self) -> float:
        """``alpha / k``: the official scale uses the number of active ranks, not r."""
        return self.alpha / self.k

    def extra_repr(self) -> str:
        return (f"r={self.r}, k={self.k}, alpha={self.alpha:g}, rank_partition={self.rank_partition}, "
                f"bias_update_rate={self.bias_update_rate:g}, bias_in_gate={self.bias_in_gate}")

    def _routing(self, xd: torch.Tensor) -> RankRouting:
        s = torch.sigmoid(self.router(xd)).repeat_interleave(self.rank_partition, dim=-1)
        scores = s + self.rank_bias
        idx, gates = rank_gates(scores, self.k, scores if self.bias_in_gate else s)
        return RankRouting(scores, idx, gates)

    def routing(self, x: torch.Tensor) -> RankRouting:
        """The per-token rank routing of ``x`` [..., in] (dropout as in forward; none in eval)."""
        return self._routing(self.lora_dropout(x))

    def _fixed_gates(self, x: torch.Tensor, rank_weights: torch.Tensor) -> RankRouting:
        tokens = tuple(x.shape[:-1])
        try:
            shape = torch.broadcast_shapes(rank_weights.shape, tokens + (self.r,))
        except RuntimeError:
            shape = None
        if rank_weights.shape[-1:] != (self.r,) or shape != tokens + (self.r,):
            raise ValueError(f"rank_weights of shape {tuple(rank_weights.shape)} do not broadcast to the input's "
                             f"tokens {tokens} x r={self.r}.")
        gates = rank_weights.to(x.dtype).expand(shape)
        idx = torch.sort(gates, dim=-1, descending=True, stable=True).indices[..., :self.k]
        return RankRouting(gates, idx, gates)

    def forward(self, x: torch.Tensor, token_mask: torch.Tensor | None = None,
                rank_weights: torch.Tensor | None = None, return_routing: bool = False):
        xd = self.lora_dropout(x)
        if rank_weights is not None:
            routing = self._fixed_gates(x, rank_weights)
        else:
            routing = self._routing(xd)
            if self.training and torch.is_grad_enabled() and self.bias_update_rate > 0:
                self._update_bias(routing.topk_idx, token_mask)
        if self.dense_compute or rank_weights is not None:
            delta = self.lora_B(routing.gates * self.lora_A(xd))
        else:
            delta = self._gathered_delta(xd, routing)
        out = self.base_layer(x) + self.scaling * delta
        return (out, routing) if return_routing else out

    def _gathered_delta(self, xd: torch.Tensor, routing: RankRouting) -> torch.Tensor:
        """``B[:, idx] (gates[idx] * A[idx] x)`` with only the k active ranks per token."""
        idx = routing.topk_idx
        a_rows = self.lora_A.weight[idx]                                   # [..., k, in]
        b_cols = self.lora_B.weight.t()[idx]                               # [..., k, out]
        h = (a_rows * xd.unsqueeze(-2)).sum(-1) * routing.gates.gather(-1, idx)   # [..., k]
        return (h.unsqueeze(-1) * b_cols).sum(-2)

    @torch.no_grad()
    def _update_bias(self, idx: torch.Tensor, token_mask: torch.Tensor | None) -> None:
        if token_mask is not None and not self.count_pad_tokens:
            if tuple(token_mask.shape) != tuple(idx.shape[:-1]):
                raise ValueError(f"token_mask must have the input's token shape {tuple(idx.shape[:-1])}, "
                                 f"got {tuple(token_mask.shape)}.")
            idx = idx[token_mask.bool()]
        counts = torch.bincount(idx.reshape(-1), minlength=self.r).to(self.rank_bias.dtype)
        self.rank_bias += self.bias_update_rate * torch.sign(counts.mean() - counts)

    def delta_weight(self, rank_weights: torch.Tensor | None = None) -> torch.Tensor:
        """``(alpha/k) * B diag(w) A`` (out x in) for fixed per-rank gates ``w`` [r] (default all ones)."""
        w = torch.ones(self.r, dtype=self.lora_A.weight.dtype, device=self.lora_A.weight.device) \
            if rank_weights is None else rank_weights
        return self.scaling * (self.lora_B.weight * w) @ self.lora_A.weight


def apply_smora(model: nn.Module, target_modules=("q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2"),
                **kwargs) -> nn.Module:
    """Replace the targeted linear layers by :class:`SMoRALinear` (``kwargs`` go to it), in place.

    The default targets are the attention projections and the FFN of
    :class:`~diversa.nn.models.TinyLM` (the paper adapts all linear layers).
    Everything else is frozen; all-or-nothing. Returns ``model``.
    """
    return apply_adapter(model, target_modules, lambda name, base: SMoRALinear(base, **kwargs))
