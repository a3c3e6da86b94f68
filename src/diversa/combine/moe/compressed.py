"""MoE layers whose router slots share fewer, possibly low-rank, physical experts.

After merging (MC-SMoE, arXiv:2310.01334; Sub-MoE, arXiv:2506.23266) a layer
keeps its router over E slots, and an ``expert_map [E]`` sends each slot to
one of G <= E physical experts (spec ``merge.md`` 8: "tokens routed to any
member use the merged expert; two members selected by one token = the merged
expert with the summed weight"). Each physical expert matrix is stored densely
or as low-rank factors plus a row-sparse residual (LoSparse, used by MC-SMoE's
compression and by Sub-MoE's intra-expert compression).

* :class:`ExpertMatrices`: G matrices (out x in), dense or ``L R + S``.
* :class:`CompressedExperts`: the physical experts (Mixtral's weight types
  gate, up, down) and the slot map. Its
  ``forward(hidden_states, top_k_index, top_k_weights)`` has the signature of
  Hugging Face's ``MixtralExperts``, so it replaces ``block.experts`` of a
  ``MixtralSparseMoeBlock`` as it is.
* :class:`CompressedMoEFeedForward`: a :class:`~diversa.nn.moe.MoEFeedForward`
  (same router, routing overrides, auxiliary losses and ``(output,
  router_logits)`` contract) computing with a :class:`CompressedExperts`.
* :func:`compressed_layer` builds the right one for a source layer;
  :func:`replace_layers` swaps layers in a copy of a model.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

from diversa.nn.moe import MoEFeedForward

__all__ = ["CompressedExperts", "CompressedMoEFeedForward", "ExpertMatrices", "compressed_layer",
           "expert_parameter_count", "replace_layers"]


class ExpertMatrices(nn.Module):
    """G matrices of shape (out, in): dense ``W``, or ``L @ R`` plus a row-sparse residual ``S``.

    ``dense [G, out, in]``; or ``left [G, out, r]`` and ``right [G, r, in]``
    with optional ``sparse [G, out, in]`` whose rows outside ``sparse_rows
    [G, out]`` (bool) are zero (LoSparse's structured residual). Stored numbers
    (:meth:`num_parameters`) count the kept residual rows plus one index per
    kept row, the compact form a checkpoint would store.
    """

    def __init__(self, dense: torch.Tensor | None = None, left: torch.Tensor | None = None,
                 right: torch.Tensor | None = None, sparse: torch.Tensor | None = None,
                 sparse_rows: torch.Tensor | None = None):
        super().__init__()
        if (dense is None) == (left is None or right is None):
            raise ValueError("give either dense, or left and right factors (not both).")
        if dense is not None:
            if dense.dim() != 3:
                raise ValueError(f"dense must be [G, out, in], got shape {tuple(dense.shape)}.")
            if sparse is not None:
                raise ValueError("a sparse residual needs low-rank factors, not a dense matrix.")
            self.dense = nn.Parameter(dense.detach().float().clone())
            self.left = self.right = self.sparse = None
            self.register_buffer("sparse_rows", None)
            return
        if left.dim() != 3 or right.dim() != 3 or left.shape[0] != right.shape[0] or left.shape[2] != right.shape[1]:
            raise ValueError(f"left [G, out, r] and right [G, r, in] do not match: {tuple(left.shape)}, "
                             f"{tuple(right.shape)}.")
        self.dense = None
        self.left = nn.Parameter(left.detach().float().clone())
        self.right = nn.Parameter(right.detach().float().clone())
        if sparse is None:
            self.sparse = None
            self.register_buffer("sparse_rows", None)
        else:
            shape = (left.shape[0], left.shape[1], right.shape[2])
            if tuple(sparse.shape) != shape:
                raise ValueError(f"sparse must have shape {shape}, got {tuple(sparse.shape)}.")
            rows = torch.ones(shape[:2], dtype=torch.bool) if sparse_rows is None else sparse_rows.to(torch.bool)
            self.sparse = nn.Parameter(sparse.detach().float().clone())
            self.register_buffer("sparse_rows", rows.clone())

    @property
    def count(self) -> int:
        """Number of matrices G."""
        return (self.dense if self.dense is not None else self.left).shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) of each matrix."""
        if self.dense is not None:
            return tuple(self.dense.shape[1:])
        return self.left.shape[1], self.right.shape[2]

    @property
    def rank(self) -> int | None:
        """Rank of the low-rank factors (None when dense)."""
        return None if self.left is None else self.left.shape[2]

    def masked_sparse(self, g: int) -> torch.Tensor | None:
        """Residual of matrix ``g`` with its pruned rows zeroed (None without a residual)."""
        if self.sparse is None:
            return None
        return self.sparse[g] * self.sparse_rows[g, :, None].to(self.sparse.dtype)

    def weight(self, g: int) -> torch.Tensor:
        """Matrix ``g`` as a dense (out, in) tensor."""
        if self.dense is not None:
            return self.dense[g]
        w = self.left[g] @ self.right[g]
        residual = self.masked_sparse(g)
        return w if residual is None else w + residual

    def apply(self, g: int, x: torch.Tensor) -> torch.Tensor:
        """``x @ W_g^T`` for tokens ``x`` [N, in], without forming ``W_g`` when it is factored."""
        if self.dense is not None:
            return x @ self.dense[g].t()
        y = (x @ self.right[g].t()) @ self.left[g].t()
        residual = self.masked_sparse(g)
        return y if residual is None else y + x @ residual.t()

    def num_parameters(self) -> int:
        """Numbers stored: dense entries, or factors plus kept residual rows and their indices."""
        if self.dense is not None:
            return self.dense.numel()
        n = self.left.numel() + self.right.numel()
        if self.sparse is not None:
            kept = int(self.sparse_rows.sum())
            n += kept * self.sparse.shape[2] + kept
        return n

    def extra_repr(self) -> str:
        out, inp = self.shape
        form = "dense" if self.dense is not None else f"rank={self.rank}" + (", sparse" if self.sparse is not None else "")
        return f"count={self.count}, out={out}, in={inp}, {form}"


class CompressedExperts(nn.Module):
    """G physical experts behind E router slots (``expert_map [E]``, values in 0..G-1).

    Weight types as in Mixtral: ``w_up`` (h x d; the only input matrix of a
    GELU expert), optional ``w_gate`` (h x d; SwiGLU ``act(gate x) * (up x)``)
    and ``w_down`` (d x h), each an :class:`ExpertMatrices` over the G physical
    experts. ``act_fn`` is the elementwise activation. ``forward(hidden_states
    [T, d], top_k_index [T, k], top_k_weights [T, k]) -> [T, d]`` sums the
    gate-weighted outputs of the physical experts of the chosen slots; slot ids
    >= E (HF's sentinel, AdaMoE's null experts) contribute nothing.
    """

    def __init__(self, w_up: ExpertMatrices, w_down: ExpertMatrices, expert_map: torch.Tensor, act_fn: nn.Module,
                 w_gate: ExpertMatrices | None = None):
        super().__init__()
        expert_map = torch.as_tensor(expert_map, dtype=torch.long)
        counts = {w.count for w in (w_up, w_down, w_gate) if w is not None}
        if len(counts) != 1:
            raise ValueError(f"the weight types hold different numbers of experts: {sorted(counts)}.")
        if expert_map.dim() != 1 or expert_map.numel() == 0:
            raise ValueError(f"expert_map must be a non-empty 1-D tensor, got shape {tuple(expert_map.shape)}.")
        if int(expert_map.min()) < 0 or int(expert_map.max()) >= w_up.count:
            raise ValueError(f"expert_map values must lie in 0..{w_up.count - 1}, got {expert_map.tolist()}.")
        hidden, d = w_up.shape
        if w_down.shape != (d, hidden) or (w_gate is not None and w_gate.shape != (hidden, d)):
            raise ValueError(f"expert matrices do not fit together: up {w_up.shape}, down {w_down.shape}"
                             + ("" if w_gate is None else f", gate {w_gate.shape}") + ".")
        self.w_gate, self.w_up, self.w_down, self.hidden = w_gate, w_up, w_down, hidden
        self.act_fn = act_fn
        self.register_buffer("expert_map", expert_map.clone())

    @property
    def gated(self) -> bool:
        return self.w_gate is not None

    @property
    def num_experts(self) -> int:
        """Router slots E."""
        return self.expert_map.numel()

    @property
    def num_physical(self) -> int:
        """Physical experts G."""
        return self.w_up.count

    def matrices(self) -> dict[str, ExpertMatrices]:
        """The weight types by name (``gate`` only for gated experts)."""
        out = {"gate": self.w_gate} if self.gated else {}
        return {**out, "up": self.w_up, "down": self.w_down}

    def expert_forward(self, g: int, x: torch.Tensor) -> torch.Tensor:
        """Output [N, d] of physical expert ``g`` on tokens ``x`` [N, d]."""
        up = self.w_up.apply(g, x)
        hidden = self.act_fn(self.w_gate.apply(g, x)) * up if self.gated else self.act_fn(up)
        return self.w_down.apply(g, hidden)

    def forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor,
                top_k_weights: torch.Tensor) -> torch.Tensor:
        num_tokens, k = top_k_index.shape
        out = torch.zeros_like(hidden_states)
        slots = top_k_index.reshape(-1)
        keep = slots < self.num_experts
        token = torch.arange(num_tokens, device=hidden_states.device).repeat_interleave(k)[keep]
        physical = self.expert_map[slots[keep]]
        gate = top_k_weights.reshape(-1)[keep]
        for g in torch.unique(physical).tolist():
            chosen = physical == g
            ys = self.expert_forward(g, hidden_states[token[chosen]].to(torch.float32))
            out.index_add_(0, token[chosen], (ys * gate[chosen, None].to(ys.dtype)).to(out.dtype))
        return out

    def expanded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense per-slot weights ``(w_in [E, rows, d], w_out [E, d, h])`` (gate rows first when gated)."""
        def stack(matrices: ExpertMatrices) -> torch.Tensor:
            return torch.stack([matrices.weight(g) for g in range(self.num_physical)])[self.expert_map]

        w_in = torch.cat([stack(self.w_gate), stack(self.w_up)], dim=1) if self.gated else stack(self.w_up)
        return w_in, stack(self.w_down)

    def num_parameters(self) -> int:
        """Numbers stored for the physical experts (router and slot map not counted)."""
        return sum(m.num_parameters() for m in self.matrices().values())

    def extra_repr(self) -> str:
        return f"slots={self.num_experts}, physical={self.num_physical}, gated={self.gated}"


class CompressedMoEFeedForward(MoEFeedForward):
    """A :class:`~diversa.nn.moe.MoEFeedForward` whose router slots use :class:`CompressedExperts`.

    Built from a source layer by :func:`compressed_layer`: the router (and any
    AdaMoE null rows or selection bias) is copied unchanged; ``forward``,
    :meth:`route`, :meth:`aux_losses` and routing overrides behave as in the
    source. ``_weights()`` returns the dense per-slot expansion, so the dense
    reference path and :meth:`expert_forward` compute the same function.
    """

    def __init__(self, source: MoEFeedForward, experts: CompressedExperts):
        super().__init__(source.d_model, source.d_expert, source.num_experts, source.top_k,
                         expert_type=source.expert_type, num_null_experts=source.num_null_experts,
                         normalize_topk=source.router.normalize_topk, null_load=source.null_load,
                         lb_type=source.lb_type, top1_tau=source.top1_tau, dispatch=source.dispatch,
                         dense_reference=source.dense_reference)
        if experts.num_experts != source.num_experts:
            raise ValueError(f"experts map {experts.num_experts} slots but the layer routes to {source.num_experts}.")
        for name in ("w_gate_up", "w_down", "w1", "w2"):
            if hasattr(self, name):
                delattr(self, name)
        self.router = copy.deepcopy(source.router)
        self.global_lbl = copy.deepcopy(source.global_lbl)
        self.experts = experts

    def _weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.experts.expanded()

    def params_per_expert(self) -> int:
        """Stored numbers per physical expert (mean over the G physical experts)."""
        return self.experts.num_parameters() // self.experts.num_physical

    def expert_forward(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Output of router slot ``e`` (its physical expert) on tokens ``x`` [N, d]."""
        return self.experts.expert_forward(int(self.experts.expert_map[e]), x)

    def _dispatch(self, x: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.experts(x, idx, weights)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", physical_experts={self.experts.num_physical}"


def compressed_layer(layer: nn.Module, experts: CompressedExperts) -> nn.Module:
    """A copy of MoE ``layer`` computing with ``experts`` (router unchanged).

    diversa's ``MoEFeedForward`` becomes a :class:`CompressedMoEFeedForward`;
    a Hugging Face ``MixtralSparseMoeBlock`` keeps its class with ``experts``
    in place of its ``MixtralExperts``.
    """
    from diversa.combine.moe.experts import _is_mixtral_block

    if isinstance(layer, CompressedMoEFeedForward):
        raise ValueError("the layer is already compressed; start from the original layer.")
    if isinstance(layer, MoEFeedForward):
        return CompressedMoEFeedForward(layer, experts)
    if _is_mixtral_block(layer):
        if experts.num_experts != layer.gate.weight.shape[0]:
            raise ValueError(f"experts map {experts.num_experts} slots but the block routes to "
                             f"{layer.gate.weight.shape[0]}.")
        original = layer._modules["experts"]
        layer._modules["experts"] = None  # copy everything but the experts being replaced
        try:
            block = copy.deepcopy(layer)
        finally:
            layer._modules["experts"] = original
        block.experts = experts
        return block
    raise TypeError(f"{type(layer).__name__} is not a supported MoE layer.")


def expert_parameter_count(model: nn.Module) -> int:
    """Numbers stored for the experts of every MoE layer of ``model`` (routers not counted)."""
    from diversa.combine.moe.experts import _is_mixtral_block

    total = 0
    for module in model.modules():
        if isinstance(module, CompressedExperts):
            total += module.num_parameters()
        elif isinstance(module, MoEFeedForward) and not isinstance(module, CompressedMoEFeedForward):
            w_in, w_out = module._weights()
            total += w_in.numel() + w_out.numel()
        elif _is_mixtral_block(module):
            total += module.experts.gate_up_proj.numel() + module.experts.down_proj.numel()
    return total


def replace_layers(model: nn.Module, layers: Mapping[str, nn.Module]) -> nn.Module:
    """A deep copy of ``model`` with the submodules named in ``layers`` replaced (``""`` = the model itself)."""
    if "" in layers:
        if len(layers) > 1:
            raise ValueError("replacing the model itself excludes replacing its submodules.")
        return layers[""]
    out = copy.deepcopy(model)
    for name, module in layers.items():
        parent_name, _, child = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, child, module)
    return out
