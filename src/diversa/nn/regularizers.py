"""Train-only regularizers that act on a stack of token-mixing layers: layer-wise shuffle and drop path.

Stochastic layer-wise shuffle (SLWS): Huang, Chen, Li, Lan, Zhu, Wang, Wang, "Stochastic
Layer-Wise Shuffle: A Good Practice to Improve Vision Mamba Training" (v2: "Stochastic Layer-Wise
Shuffle for Improving Vision Mamba Training", ICML 2025), arXiv:2408.17081; spec
``training.md#slws``. Before layer ``l`` the token order is permuted with probability ``p_l``,
the layer runs on the permuted sequence, and its outputs are put back in the original order.
The probabilities grow linearly with depth (``p_l = P_L * l / (n_layers - 1)``, the authors'
``torch.linspace(0, P_L, depth)``), so the first layer is never shuffled and the last one with
probability ``P_L``. Nothing happens in evaluation mode and no parameter is added.

**Equivariance.** If a layer is permutation-equivariant, ``f(x[:, pi]) = f(x)[:, pi]``, the
shuffle is an exact identity up to float rounding: restoring the order undoes the permutation.
A plain ViT block (pre-LN, full bidirectional softmax attention, MLP, position embedding added
once at the input) is equivariant, so SLWS does nothing to a plain ViT. It acts only on
order-dependent mixers: SSM/Mamba scans (one- or two-directional), RNNs, 1-D convolutions over
tokens, causal attention, and attention with RoPE or relative-position bias inside the block
(positions are the slot indices after shuffling).

Stochastic depth (drop path): Huang, Sun, Liu, Sedra, Weinberger, "Deep Networks with
Stochastic Depth", arXiv:1603.09382, in the per-sample residual-branch form of timm and Vision
Mamba, with the same linear depth schedule (:func:`drop_path_rates`). It is here because
ShuffleMamba trains with both, and the reproduction compares them.

Randomness: every draw comes from the ``generator`` given (a CPU ``torch.Generator``) or, when
it is None, from torch's global generator; in evaluation mode no random number is drawn.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["DropPath", "LayerwiseShuffle", "drop_path", "drop_path_rates", "layer_shuffle_probs",
           "shuffle_forward"]

SCHEDULES = ("linear", "constant", "paper", "none")


def _check_prob(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}.")
    return float(value)


def _check_generator(generator) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}.")
    return generator


def layer_shuffle_probs(n_layers: int, max_prob: float, schedule: str = "linear") -> list[float]:
    """Per-layer shuffle probabilities ``[p_0, ..., p_{n-1}]`` for a stack of ``n_layers`` layers.

    ``"linear"`` (the official code): ``p_l = max_prob * l / (n_layers - 1)``: layer 0 is never
    shuffled, the last layer with ``max_prob``; one layer gives ``[0.0]`` (``torch.linspace`` of one
    point is its start). ``"constant"`` (the authors' ablation): ``p_0 = 0``, ``p_l = max_prob``
    after. ``"paper"`` (the paper's 1-indexed formula): ``p_l = max_prob * (l + 1) / n_layers``.
    ``"none"``: all zero.

    >>> layer_shuffle_probs(5, 0.4)
    [0.0, 0.1, 0.2, 0.30000000000000004, 0.4]
    >>> layer_shuffle_probs(4, 0.4, "paper")
    [0.1, 0.2, 0.30000000000000004, 0.4]
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, numbers.Integral) or n_layers < 1:
        raise ValueError(f"n_layers must be an int >= 1, got {n_layers!r}.")
    max_prob = _check_prob(max_prob, "max_prob")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}.")
    n = int(n_layers)
    if schedule == "linear":
        return [0.0] * n if n == 1 else [max_prob * l / (n - 1) for l in range(n)]
    if schedule == "constant":
        return [0.0] + [max_prob] * (n - 1)
    if schedule == "paper":
        return [max_prob * (l + 1) / n for l in range(n)]
    return [0.0] * n


def drop_path_rates(n_layers: int, max_rate: float) -> list[float]:
    """Stochastic-depth rates with the linear depth rule of timm and Vision Mamba: ``max_rate * l / (n_layers - 1)``.

    >>> drop_path_rates(3, 0.2)
    [0.0, 0.1, 0.2]
    """
    return layer_shuffle_probs(n_layers, max_rate, "linear")


def drop_path(x: Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> Tensor:
    """Zero whole samples of a residual branch ``x (B, ...)`` with probability ``p``, scaling survivors by ``1/(1-p)``.

    Identity when not ``training`` or ``p == 0`` (no random number is drawn then); ``p == 1`` drops
    every sample (returns zeros) rather than dividing by zero.
    """
    p = _check_prob(p, "p")
    _check_generator(generator)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = torch.empty(shape, dtype=x.dtype).bernoulli_(keep, generator=generator).to(x.device)
    return x * (mask / keep)


class DropPath(nn.Module):
    """Stochastic depth on a residual branch: ``forward(x (B, ...))`` drops each sample's branch with probability ``p``.

    Use as ``x + DropPath(p)(branch(x))``; an identity in evaluation mode.
    """

    def __init__(self, p: float = 0.0, generator: torch.Generator | None = None):
        super().__init__()
        self.p = _check_prob(p, "p")
        self.generator = _check_generator(generator)

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _check_sequence(x, companions) -> tuple[int, int]:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (B, L, D), got {tuple(x.shape)}.")
    B, L = x.shape[:2]
    for i, c in enumerate(companions):
        if c is None:
            continue
        if not isinstance(c, Tensor):
            raise TypeError(f"companion {i} must be a torch.Tensor or None, got {type(c).__name__}.")
        if c.ndim < 2 or tuple(c.shape[:2]) != (B, L):
            raise ValueError(f"companion {i} must have shape ({B}, {L}, ...) like x, got {tuple(c.shape)}.")
    return B, L


def _check_output(out, B: int, L: int):
    items = out if isinstance(out, (tuple, list)) else (out,)
    for i, y in enumerate(items):
        if y is None:
            continue
        if not isinstance(y, Tensor):
            raise TypeError(f"layer output {i} must be a torch.Tensor (or None), got {type(y).__name__}.")
        if y.ndim < 2 or tuple(y.shape[:2]) != (B, L):
            raise ValueError(f"layer output {i} must keep the sequence shape ({B}, {L}, ...), got {tuple(y.shape)}.")


def _permute(t: Tensor | None, index: Tensor) -> Tensor | None:
    """Reorder axis 1 of ``t (B, L, ...)`` by ``index``: ``(L,)`` for the whole batch or ``(B, L)`` per sample."""
    if t is None:
        return None
    if index.ndim == 1:
        return t.index_select(1, index)
    rows = torch.arange(t.shape[0], device=t.device).unsqueeze(1)
    return t[rows, index]


def _shuffle_forward(layer, x, companions, prob, training, generator, per_sample, layer_kwargs):
    """:func:`shuffle_forward` that also says whether it shuffled."""
    B, L = _check_sequence(x, companions)
    shuffled = False
    # the draw is skipped where its outcome is certain, so p = 0 layers and eval mode use no randomness
    if training and prob > 0.0:
        shuffled = prob >= 1.0 or torch.rand(1, generator=generator).item() < prob
    if not shuffled:
        out = layer(x, *companions, **layer_kwargs)
        _check_output(out, B, L)
        return out, False
    if per_sample:
        perm = torch.argsort(torch.rand(B, L, generator=generator), dim=1)
    else:
        perm = torch.randperm(L, generator=generator)
    perm = perm.to(x.device)
    inverse = torch.argsort(perm, dim=-1)
    out = layer(_permute(x, perm), *(_permute(c, perm) for c in companions), **layer_kwargs)
    _check_output(out, B, L)
    if isinstance(out, (tuple, list)):
        restored = [_permute(y, inverse) for y in out]
        return (type(out)(*restored) if hasattr(out, "_fields") else type(out)(restored)), True   # namedtuples too
    return _permute(out, inverse), True


def shuffle_forward(layer: nn.Module, x: Tensor, *companions: Tensor, prob: float, training: bool,
                    generator: torch.Generator | None = None, per_sample: bool = False, **layer_kwargs):
    """Run ``layer(x, *companions, **layer_kwargs)`` on a randomly permuted token order with probability ``prob``.

    ``x (B, L, D)``; each companion (e.g. Mamba's residual stream) is ``(B, L, ...)`` or None and
    travels with ``x`` under the same permutation. Only when ``training``: one ``u ~ U(0, 1)``
    is drawn and, if ``u < prob``, one permutation ``pi`` of the ``L`` positions shared by the
    whole batch (or, with ``per_sample=True``, one per sample; not in the official code) reorders
    every input; every tensor the layer returns must be ``(B, L, ...)`` and is put back with
    ``argsort(pi)``. Returns what the layer returns (a tensor or a tuple), in the original order.
    Not training, or ``prob == 0``: the plain ``layer(x, ...)`` with no random draw.
    """
    prob = _check_prob(prob, "prob")
    _check_generator(generator)
    return _shuffle_forward(layer, x, companions, prob, bool(training), generator, bool(per_sample),
                            layer_kwargs)[0]


class LayerwiseShuffle(nn.Module):
    """A stack of token-mixing layers run in order, with stochastic layer-wise shuffle during training.

    ``forward(x (B, L, D), *companions, **layer_kwargs)`` calls layer ``l`` through
    :func:`shuffle_forward` with probability ``probs[l]`` (from :func:`layer_shuffle_probs` with
    ``max_prob`` and ``schedule``). A layer that returns a tuple hands it to the next layer as
    ``(x, *companions)``; one that returns a tensor replaces ``x`` and the companions pass on
    unchanged. Returns the last layer's output. ``last_shuffled`` records which layers were
    shuffled in the latest forward (all False in evaluation mode, where no random number is
    drawn and the stack is exactly the plain sequence of layers).

    The shuffle is an identity for permutation-equivariant layers (a plain ViT block); see the
    module docstring.

    Examples
    --------
    >>> import torch
    >>> stack = LayerwiseShuffle([torch.nn.Identity() for _ in range(4)], max_prob=0.6)
    >>> [round(p, 2) for p in stack.probs]
    [0.0, 0.2, 0.4, 0.6]
    >>> x = torch.randn(2, 5, 3)
    >>> torch.equal(stack.eval()(x), x), stack.last_shuffled
    (True, [False, False, False, False])
    """

    def __init__(self, layers: Sequence[nn.Module], max_prob: float = 0.5, schedule: str = "linear",
                 per_sample: bool = False, generator: torch.Generator | None = None):
        super().__init__()
        if isinstance(layers, nn.Module) and not isinstance(layers, (nn.ModuleList, nn.Sequential)):
            raise TypeError("layers must be a sequence of nn.Module (e.g. a list or nn.ModuleList), "
                            f"got a single {type(layers).__name__}.")
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one nn.Module.")
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Module):
                raise TypeError(f"layers[{i}] must be an nn.Module, got {type(layer).__name__}.")
        self.layers = nn.ModuleList(layers)
        self._probs = layer_shuffle_probs(len(layers), max_prob, schedule)
        self.max_prob = float(max_prob)
        self.schedule = schedule
        self.per_sample = bool(per_sample)
        self.generator = _check_generator(generator)
        self.last_shuffled: list[bool] = [False] * len(layers)

    @property
    def probs(self) -> list[float]:
        """Shuffle probability of each layer (a copy)."""
        return list(self._probs)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def forward(self, x: Tensor, *companions: Tensor, **layer_kwargs):
        shuffled = []
        out = x
        for layer, prob in zip(self.layers, self._probs):
            out, did = _shuffle_forward(layer, x, companions, prob, self.training, self.generator,
                                        self.per_sample, layer_kwargs)
            shuffled.append(did)
            if isinstance(out, (tuple, list)):
                x, *rest = out
                companions = tuple(rest)
            else:
                x = out
        self.last_shuffled = shuffled
        return out

    def extra_repr(self) -> str:
        return f"max_prob={self.max_prob}, schedule={self.schedule!r}, per_sample={self.per_sample}"
