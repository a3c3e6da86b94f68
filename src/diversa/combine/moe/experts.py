"""One view of a mixture-of-experts layer's experts, whatever module holds them.

Expert merging and compression (MC-SMoE, arXiv:2310.01334; Sub-MoE,
arXiv:2506.23266) need the same few things from an MoE layer: the experts'
weights, their activation, and the router's choice for a token. This module
reads them into an :class:`ExpertWeights` from

* diversa's :class:`~diversa.nn.moe.MoEFeedForward` (SwiGLU ``w_gate_up`` /
  ``w_down`` or GELU ``w1`` / ``w2``), and
* Hugging Face ``MixtralSparseMoeBlock`` (transformers >= 5: stacked
  ``experts.gate_up_proj [E, 2h, d]`` with the gate rows first,
  ``experts.down_proj [E, d, h]``, router ``gate.weight [E, d]``),

recognised by their attributes, so transformers is never imported. Other
architectures build an :class:`ExpertWeights` with :meth:`ExpertWeights.from_matrices`
and use the same merging functions.

Layout (the one both modules share): ``w_in [E, rows, d]`` where rows are
``h`` hidden units, or ``2h`` for gated (SwiGLU) experts with the gate rows
first and the up rows second; ``w_out [E, d, h]``. Expert e computes
``w_out[e] @ act(w_in[e] @ x)`` (GELU) or ``w_out[e] @ (act(gate @ x) * (up @ x))``.
Hidden unit j of a gated expert is the triple (gate row j, up row j, down
column j): permutations and merges must move the three together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ExpertWeights", "find_moe_layers", "is_moe_layer", "read_experts"]


@dataclass(frozen=True)
class ExpertWeights:
    """The experts of one MoE layer in a common layout, plus the routing that picks them.

    ``w_in [E, rows, d]`` (rows = 2h for gated experts, gate rows first),
    ``w_out [E, d, h]``, ``gated``, ``activation`` (a module applied
    elementwise: SiLU for SwiGLU, GELU, ...). ``route(x [T, d]) -> (logits
    [T, E], topk_idx [T, k])`` is the layer's own routing over its true
    experts (ids >= E in ``topk_idx`` are experts without weights, e.g.
    AdaMoE's null experts, and are ignored). The weights are detached float32
    copies (changing them never changes the layer); ``route`` calls the
    layer's own router.
    """

    w_in: torch.Tensor
    w_out: torch.Tensor
    gated: bool
    activation: nn.Module
    route: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None

    def __post_init__(self):
        if self.w_in.dim() != 3 or self.w_out.dim() != 3:
            raise ValueError(f"w_in and w_out must be stacked [E, out, in] tensors, got shapes "
                             f"{tuple(self.w_in.shape)} and {tuple(self.w_out.shape)}.")
        e, rows, d = self.w_in.shape
        hidden = rows // 2 if self.gated else rows
        if self.gated and rows % 2:
            raise ValueError(f"gated experts need an even number of w_in rows (gate and up), got {rows}.")
        if tuple(self.w_out.shape) != (e, d, hidden):
            raise ValueError(f"w_out must have shape {(e, d, hidden)} to match w_in {tuple(self.w_in.shape)}, "
                             f"got {tuple(self.w_out.shape)}.")

    @classmethod
    def from_matrices(cls, w_in: Sequence[torch.Tensor], w_out: Sequence[torch.Tensor], gated: bool,
                      activation: nn.Module, route=None) -> ExpertWeights:
        """Stack per-expert matrices (``w_in[e]`` rows x d, ``w_out[e]`` d x h); they must share shapes."""
        if len(w_in) != len(w_out) or not len(w_in):
            raise ValueError(f"w_in and w_out must list the same number (>= 1) of experts, got "
                             f"{len(w_in)} and {len(w_out)}.")
        for name, mats in (("w_in", w_in), ("w_out", w_out)):
            for e, mat in enumerate(mats):
                if tuple(mat.shape) != tuple(mats[0].shape):
                    raise ValueError(f"the experts differ in shape: {name} of expert {e} is {tuple(mat.shape)}, "
                                     f"expert 0 has {tuple(mats[0].shape)}; merging needs experts of one shape.")
        return cls(torch.stack([_f32(m) for m in w_in]), torch.stack([_f32(m) for m in w_out]), gated,
                   activation, route)

    @property
    def num_experts(self) -> int:
        return self.w_in.shape[0]

    @property
    def hidden(self) -> int:
        """Hidden units h per expert."""
        return self.w_out.shape[2]

    @property
    def d_model(self) -> int:
        return self.w_in.shape[2]

    def params_per_expert(self) -> int:
        """Weights of one expert."""
        return self.w_in[0].numel() + self.w_out[0].numel()

    def hidden_activations(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Hidden units [N, h] of expert ``e`` on tokens ``x`` [N, d]."""
        pre = x @ self.w_in[e].t()
        if self.gated:
            gate, up = pre.split(self.hidden, dim=-1)
            return self.activation(gate) * up
        return self.activation(pre)

    def expert_forward(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Output [N, d] of expert ``e`` on tokens ``x`` [N, d] (no gate weight)."""
        return self.hidden_activations(e, x) @ self.w_out[e].t()

    @torch.no_grad()
    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Every expert on every token: [E, N, d] (Sub-MoE's clustering features)."""
        return torch.stack([self.expert_forward(e, _f32(x)) for e in range(self.num_experts)])

    def with_weights(self, w_in: torch.Tensor, w_out: torch.Tensor) -> ExpertWeights:
        """The same layer with other expert weights (same routing and activation)."""
        return ExpertWeights(w_in, w_out, self.gated, self.activation, self.route)

    def matrices(self) -> dict[str, torch.Tensor]:
        """The weight types [E, out, in] by name: ``gate`` and ``up`` (h x d; gate only when gated), ``down`` (d x h)."""
        if self.gated:
            return {"gate": self.w_in[:, : self.hidden], "up": self.w_in[:, self.hidden:], "down": self.w_out}
        return {"up": self.w_in, "down": self.w_out}

    def with_matrices(self, matrices: dict[str, torch.Tensor]) -> ExpertWeights:
        """The same layer with the weight types of :meth:`matrices` replaced (same routing and activation)."""
        w_in = torch.cat([matrices["gate"], matrices["up"]], dim=1) if self.gated else matrices["up"]
        return self.with_weights(w_in, matrices["down"])


def _f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).clone()


def _is_diversa_moe(module: nn.Module) -> bool:
    from diversa.nn.moe import MoEFeedForward

    return isinstance(module, MoEFeedForward)


def _is_mixtral_block(module: nn.Module) -> bool:
    experts, gate = getattr(module, "experts", None), getattr(module, "gate", None)
    return (experts is not None and gate is not None and isinstance(getattr(experts, "gate_up_proj", None), torch.Tensor)
            and isinstance(getattr(experts, "down_proj", None), torch.Tensor)
            and isinstance(getattr(gate, "weight", None), torch.Tensor) and hasattr(gate, "top_k"))


def is_moe_layer(module: nn.Module) -> bool:
    """Whether ``module`` is an MoE layer whose experts :func:`read_experts` can read."""
    return _is_diversa_moe(module) or _is_mixtral_block(module)


def find_moe_layers(model: nn.Module) -> list[str]:
    """Names (``model.named_modules()`` order, ``""`` for the model itself) of its MoE layers."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    return [name for name, module in model.named_modules() if is_moe_layer(module)]


def read_experts(layer: nn.Module) -> ExpertWeights:
    """The experts and routing of an MoE ``layer`` (diversa ``MoEFeedForward`` or HF ``MixtralSparseMoeBlock``)."""
    if _is_diversa_moe(layer):
        from diversa.combine.moe.compressed import CompressedMoEFeedForward

        if isinstance(layer, CompressedMoEFeedForward):
            raise ValueError("this layer's experts are already merged or compressed; read the original layer.")
        gated = layer.expert_type == "swiglu"
        w_in, w_out = (layer.w_gate_up, layer.w_down) if gated else (layer.w1, layer.w2)
        n = layer.num_experts

        def route(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.no_grad():
                routed = layer.route(layer.router.logits(x))
            return routed.logits[:, :n], routed.topk_idx

        return ExpertWeights(_f32(w_in), _f32(w_out), gated, nn.SiLU() if gated else nn.GELU(), route)
    if _is_mixtral_block(layer):
        gate = layer.gate

        def route(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.no_grad():
                logits, _, idx = gate(x.to(gate.weight.dtype))
            return logits.float(), idx

        return ExpertWeights(_f32(layer.experts.gate_up_proj), _f32(layer.experts.down_proj), True,
                             layer.experts.act_fn, route)
    raise TypeError(f"{type(layer).__name__} is not a supported MoE layer (diversa MoEFeedForward or a "
                    "Hugging Face MixtralSparseMoeBlock); build an ExpertWeights with from_matrices().")
