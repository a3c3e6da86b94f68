"""X-Cross: layer-wise trainable integration of frozen per-domain models for a new domain.

Hadad et al., "X-Cross: Dynamic Integration of Language Models for
Cross-Domain Sequential Recommendation" (SIGIR 2025, arXiv:2504.20859).
Several source-domain models (one frozen backbone, each with its own frozen
domain LoRA) run side by side; at every layer a small trainable integrator
receives the activations of all frozen models and refines each model's
representation with the others' before it flows into that model's next layer.
Only the integrators train, so a new domain needs few parameters and little
data.

The paper's equations are not public and there is no official code; this is
the RECONSTRUCTION of the spec (``experts.md`` section ``xcross``), which
satisfies every statement the paper makes but is not claimed to be its exact
form. For sources i, j = 1..n, layer l, token t:

    a_i = Layer_l^(i)(h_i)                                  frozen step of source i
    z   = concat_j LN(a_j)                                  LN without affine parameters
    w_i = softmax_j(U_i z + c_i)                            per token ("dynamic"); U_i: n x (n d)
    h_i = a_i + gamma_i * (sum_j w_ij a_j - a_i)            gamma_i in R^d, zero at init

``U``, ``c`` and ``gamma`` start at zero, so an untrained X-Cross is exactly
the n independent source models; the output is the mean of the streams'
final hidden states (``combine="hidden"``) or of their log-probabilities
(``combine="logits"``). ``dynamic=False`` drops ``U`` (static per-layer
mixing), ``low_rank=True`` factorises ``U_i = u_i v^T`` with one shared v.
The integrator sits after each whole layer of the stack.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from diversa.nn.lora import LoRALinear, apply_adapter, load_lora_state_dict
from diversa.nn.lora.inject import split_lora_key

__all__ = ["LayerIntegrator", "XCrossModel", "XCrossOutput"]

COMBINES = ("hidden", "logits")


class XCrossOutput(NamedTuple):
    """``output``: logits (or hidden states without a head), ``[..., vocab]`` / ``[..., d]``;
    ``mixing``: per layer the weights ``w`` [n (stream), ..., n (source)], or None if not requested."""

    output: torch.Tensor
    mixing: list[torch.Tensor] | None


class LayerIntegrator(nn.Module):
    """X-Cross's integrator at one layer: mixes n streams' activations per token, residual-gated.

    ``forward(acts [n, ..., d]) -> (h [n, ..., d], w [n, ..., n])``, see the
    module docstring. Parameters: ``c`` [n, n] (mixing logits), ``gamma``
    [n, d] (gates), and with ``dynamic`` either ``U`` [n, n, n d] or, with
    ``low_rank``, ``u`` [n, n] and ``v`` [n d]. All start so that the layer
    passes each stream through unchanged and mixes uniformly.
    """

    def __init__(self, num_sources: int, d_model: int, dynamic: bool = True, low_rank: bool = False,
                 eps: float = 1e-5, v_init_std: float = 0.02):
        super().__init__()
        self.num_sources, self.d_model, self.dynamic, self.low_rank, self.eps = num_sources, d_model, dynamic, \
            low_rank, eps
        n, d = num_sources, d_model
        self.c = nn.Parameter(torch.zeros(n, n))
        self.gamma = nn.Parameter(torch.zeros(n, d))
        if dynamic and low_rank:
            self.u = nn.Parameter(torch.zeros(n, n))
            self.v = nn.Parameter(torch.randn(n * d) * v_init_std)  # u = 0 keeps w uniform; v != 0 lets u learn
        elif dynamic:
            self.U = nn.Parameter(torch.zeros(n, n, n * d))

    def mixing(self, acts: torch.Tensor) -> torch.Tensor:
        """Mixing weights ``w`` [n (stream), ..., n (source)] for activations ``acts`` [n, ..., d]."""
        n = self.num_sources
        logits = self.c.view(n, *([1] * (acts.ndim - 2)), n)
        if self.dynamic:
            z = torch.cat(list(F.layer_norm(acts, (self.d_model,), eps=self.eps)), dim=-1)   # [..., n d]
            if self.low_rank:
                logits = logits + self.u.view(n, *([1] * (acts.ndim - 2)), n) * (z @ self.v).unsqueeze(-1)
            else:
                logits = logits + torch.einsum("...f,isf->i...s", z, self.U)
        return logits.expand(n, *acts.shape[1:-1], n).softmax(dim=-1)

    def forward(self, acts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.mixing(acts)
        mixed = torch.einsum("i...j,j...d->i...d", w, acts)
        gamma = self.gamma.view(self.num_sources, *([1] * (acts.ndim - 2)), self.d_model)
        return acts + gamma * (mixed - acts), w


def _register(owner: nn.Module, name: str, fn) -> None:
    """Attach ``embed``/``head``: a module is registered (and frozen), a plain callable kept as an attribute."""
    if fn is not None and not callable(fn):
        raise TypeError(f"{name} must be a callable or None, got {type(fn).__name__}.")
    if isinstance(fn, nn.Module):
        fn.requires_grad_(False)
    setattr(owner, name, fn)


class XCrossModel(nn.Module):
    """X-Cross over n frozen source models given as stacks of L layers (Hadad et al. 2025; reconstruction).

    ``sources[i][l]`` is layer l of source model i, called as
    ``layer(h, *layer_args, **layer_kwargs)`` on ``h`` [..., d_model] and
    returning a tensor of the same shape (the sources may share modules, e.g.
    one backbone whose layers hold different LoRAs per copy). ``embed`` maps
    the forward's input to the first hidden state (shared by all streams;
    default: the input is the hidden state); ``head`` maps final hidden
    states to logits (default: return the hidden state). Source layers and
    ``embed``/``head`` modules are frozen here; only the integrators train.

    ``forward(x, *layer_args, return_mixing=False, **layer_kwargs)`` returns the
    combined output, or an :class:`XCrossOutput` with ``return_mixing``.
    ``combine="logits"`` (needs ``head``) averages the streams' log-softmax
    outputs instead of their hidden states.

    Example (a TinyLM-like stack whose blocks take a mask):
        ``XCrossModel([model_a.blocks, model_b.blocks], 64, embed=embed, head=head)(ids, mask, None)``
    """

    def __init__(self, sources: Sequence[Sequence[nn.Module]], d_model: int,
                 embed: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 head: Callable[[torch.Tensor], torch.Tensor] | None = None, combine: str = "hidden",
                 dynamic: bool = True, low_rank: bool = False):
        super().__init__()
        if isinstance(sources, nn.Module) or not isinstance(sources, Sequence) or not sources:
            raise ValueError("sources must be a non-empty sequence of layer stacks (one per source model).")
        depths = [len(stack) for stack in sources]
        if len(set(depths)) != 1 or depths[0] == 0:
            raise ValueError(f"every source must have the same positive number of layers, got depths {depths}.")
        for i, stack in enumerate(sources):
            for depth, layer in enumerate(stack):
                if not isinstance(layer, nn.Module):
                    raise TypeError(f"sources[{i}][{depth}] must be a torch.nn.Module, got {type(layer).__name__}.")
        if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
            raise ValueError(f"d_model must be a positive int, got {d_model!r}.")
        if combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}.")
        if combine == "logits" and head is None:
            raise ValueError("combine='logits' needs a head that maps hidden states to logits.")
        self.num_sources, self.num_layers, self.d_model, self.combine = len(sources), depths[0], d_model, combine
        self.sources = nn.ModuleList(nn.ModuleList(stack) for stack in sources)
        self.sources.requires_grad_(False)
        _register(self, "embed", embed)
        _register(self, "head", head)
        self.integrators = nn.ModuleList(LayerIntegrator(self.num_sources, d_model, dynamic, low_rank)
                                         for _ in range(self.num_layers))

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The integrators' parameters: the only ones X-Cross trains."""
        return list(self.integrators.parameters())

    def forward(self, x: torch.Tensor, *layer_args, return_mixing: bool = False, **layer_kwargs):
        h = self.embed(x) if self.embed is not None else x
        streams = [h] * self.num_sources
        mixing = [] if return_mixing else None
        for depth, integrator in enumerate(self.integrators):
            acts = []
            for i in range(self.num_sources):
                a = self.sources[i][depth](streams[i], *layer_args, **layer_kwargs)
                if not isinstance(a, torch.Tensor) or a.shape[-1] != self.d_model:
                    got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
                    raise ValueError(f"sources[{i}][{depth}] must return a tensor [..., {self.d_model}], got {got}.")
                acts.append(a)
            stacked, w = integrator(torch.stack(acts))
            streams = list(stacked)
            if mixing is not None:
                mixing.append(w)
        output = self._combine(streams)
        return XCrossOutput(output, mixing) if return_mixing else output

    def _combine(self, streams: list[torch.Tensor]) -> torch.Tensor:
        if self.combine == "logits":
            return torch.stack([self.head(h).log_softmax(dim=-1) for h in streams]).mean(dim=0)
        hidden = torch.stack(streams).mean(dim=0)
        return self.head(hidden) if self.head is not None else hidden

    def mixing_weights(self, x: torch.Tensor, *layer_args, **layer_kwargs) -> torch.Tensor:
        """Mixing weights of every layer, ``[L, n (stream), ..., n (source)]`` (no gradient)."""
        with torch.no_grad():
            return torch.stack(self(x, *layer_args, return_mixing=True, **layer_kwargs).mixing)

    @classmethod
    def from_lora_sources(cls, layers: Sequence[nn.Module], source_loras: Sequence[Mapping[str, torch.Tensor]],
                          d_model: int, alpha: float | Sequence[float] = 16, use_rslora: bool = False,
                          prefix: str = "", allow_rank_mismatch: bool = False, **kwargs) -> XCrossModel:
        """X-Cross over one frozen stack of ``layers`` with n LoRAs: source i is a copy carrying ``source_loras[i]``.

        Each LoRA is a state dict as :func:`~diversa.nn.lora.lora_state_dict`
        returns it, keys relative to the stack after removing ``prefix`` (e.g.
        ``prefix="blocks."`` for a whole :class:`~diversa.nn.models.TinyLM`'s
        state dict). ``alpha`` is one value or one per source. The sources
        must target the same modules (and, unless ``allow_rank_mismatch``,
        with the same ranks); otherwise a ValueError lists the differences.
        ``kwargs`` go to the constructor. ``layers`` itself is not modified.
        """
        if not source_loras:
            raise ValueError("source_loras must hold at least one LoRA state dict.")
        alphas = list(alpha) if isinstance(alpha, Sequence) else [alpha] * len(source_loras)
        if len(alphas) != len(source_loras):
            raise ValueError(f"alpha must be one value or one per source ({len(source_loras)}), got {len(alphas)}.")
        stripped = [_strip(sd, prefix, i) for i, sd in enumerate(source_loras)]
        _check_same_targets(stripped, allow_rank_mismatch)
        stacks = []
        for sd, a in zip(stripped, alphas, strict=True):
            stack = copy.deepcopy(nn.ModuleList(layers))
            ranks = {split_lora_key(k)[0]: t.shape[0] for k, t in sd.items() if k.endswith("lora_A.weight")}
            apply_adapter(stack, sorted(ranks), lambda name, base, ranks=ranks, a=a: LoRALinear(
                base, r=ranks[name], alpha=a, use_rslora=use_rslora))
            load_lora_state_dict(stack, sd, strict=True)
            stacks.append(stack)
        return cls(stacks, d_model, **kwargs)


def _strip(state_dict: Mapping[str, torch.Tensor], prefix: str, index: int) -> dict[str, torch.Tensor]:
    out = {}
    for key, tensor in state_dict.items():
        if not key.startswith(prefix):
            raise ValueError(f"source_loras[{index}] key {key!r} does not start with prefix {prefix!r}.")
        out[key[len(prefix):]] = tensor
    return out


def _check_same_targets(state_dicts: list[dict[str, torch.Tensor]], allow_rank_mismatch: bool) -> None:
    shapes = [{k: tuple(t.shape) for k, t in sd.items()} for sd in state_dicts]
    for i, s in enumerate(shapes[1:], start=1):
        only_first, only_this = sorted(set(shapes[0]) - set(s)), sorted(set(s) - set(shapes[0]))
        if only_first or only_this:
            raise ValueError(f"source_loras[0] and source_loras[{i}] target different modules: only in 0: "
                             f"{only_first[:4]}, only in {i}: {only_this[:4]}.")
        differ = [k for k in s if s[k] != shapes[0][k]]
        if differ and not allow_rank_mismatch:
            raise ValueError(f"source_loras[0] and source_loras[{i}] differ in shape at {differ[:4]} "
                             f"({[shapes[0][k] for k in differ[:4]]} vs {[s[k] for k in differ[:4]]}); "
                             "pass allow_rank_mismatch=True if the ranks differ on purpose.")
