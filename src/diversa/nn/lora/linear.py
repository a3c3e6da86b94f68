"""LoRA: a trainable low-rank update beside a frozen linear layer.

Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models" (ICLR 2022,
arXiv:2106.09685): ``y = W x + s * B A x`` with ``A`` (r x in) and ``B``
(out x r), ``B`` zero at init so training starts from the base model, and
``s = alpha / r``. Kalajdzievski, "A Rank Stabilization Scaling Factor for
Fine-Tuning with LoRA" (arXiv:2312.03732): ``s = alpha / sqrt(r)`` keeps the
update's scale stable as r grows (``use_rslora=True``).

Parameter names, initialisation and scaling follow PEFT's ``lora.Linear``
(``lora_A.weight``, ``lora_B.weight``, ``base_layer.weight``), so that
:mod:`diversa.nn.lora.peft_format` can exchange adapters with PEFT.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import torch
from torch import nn

__all__ = ["INITS", "LinearAdapter", "LoRALinear", "lora_scaling"]

INITS = ("kaiming", "gaussian")


def lora_scaling(r: int, alpha: float, use_rslora: bool = False) -> float:
    """The factor ``s`` in ``W + s * B A``: ``alpha / r``, or ``alpha / sqrt(r)`` with rank-stabilised LoRA."""
    return alpha / math.sqrt(r) if use_rslora else alpha / r


def check_rank(r, in_features: int, out_features: int, name: str = "r") -> int:
    """``r`` as an int in [1, min(in, out)]; a larger rank adds parameters but no expressive power."""
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"{name} must be a positive int, got {r!r}.")
    if r > min(in_features, out_features):
        raise ValueError(f"{name}={r} is larger than the layer allows: a linear layer of shape "
                         f"(out={out_features}, in={in_features}) has rank at most {min(in_features, out_features)}.")
    return r


def check_alpha(alpha, name: str = "alpha") -> float:
    """``alpha`` as a float; any finite number (PEFT accepts negative and zero alphas too)."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not math.isfinite(alpha):
        raise ValueError(f"{name} must be a finite number, got {alpha!r}.")
    return float(alpha)


def check_dropout(dropout) -> float:
    """``dropout`` as a float in [0, 1)."""
    if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}.")
    return float(dropout)


def check_linear(base) -> nn.Linear:
    """``base`` if it is an ``nn.Linear``, else a TypeError."""
    if not isinstance(base, nn.Linear):
        raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}.")
    return base


def init_lora_pair(lora_A: nn.Linear, lora_B: nn.Linear, init: str, r: int) -> None:
    """PEFT's initialisation: A kaiming-uniform (a = sqrt 5, nn.Linear's default) or N(0, 1/r); B zero."""
    if init == "kaiming":
        nn.init.kaiming_uniform_(lora_A.weight, a=math.sqrt(5))
    else:
        nn.init.normal_(lora_A.weight, std=1.0 / r)
    nn.init.zeros_(lora_B.weight)


class LinearAdapter(nn.Module):
    """Base of the layers that wrap a frozen ``nn.Linear`` as ``base_layer`` (LoRA and its routed mixtures).

    :func:`~diversa.nn.lora.apply_adapter` recognises these layers, never
    adapts inside them, and leaves the trainability of their own parameters as
    the layer set it. ``returns_routing`` marks layers whose ``forward``
    accepts ``return_routing=True`` (see :func:`~diversa.nn.lora.record_routing`).
    """

    returns_routing = False
    base_layer: nn.Linear

    def _wrap(self, base: nn.Linear) -> dict:
        """Store and freeze ``base``; return the device/dtype the new parameters should use."""
        check_linear(base)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.base_layer = base
        base.requires_grad_(False)
        return {"device": base.weight.device, "dtype": base.weight.dtype}


class LoRALinear(LinearAdapter):
    """A frozen ``nn.Linear`` plus a rank-``r`` LoRA update (Hu et al. 2022).

    ``forward(x) = base_layer(x) + scaling * lora_B(lora_A(dropout(x)))`` with
    ``scaling = alpha / r`` (``alpha / sqrt(r)`` when ``use_rslora``). ``x`` is
    ``[..., in_features]``, the output ``[..., out_features]``. The base layer's
    parameters are frozen; ``lora_A`` (r x in) and ``lora_B`` (out x r) train.

    ``init="kaiming"`` (PEFT's default) or ``"gaussian"`` (A ~ N(0, 1/r));
    B starts at zero either way, so a fresh layer computes the base layer.
    :meth:`merge` folds the update into the base weight (forward is then the
    base layer alone); :meth:`unmerge` takes it out again.

    Example:
        >>> import torch
        >>> layer = LoRALinear(torch.nn.Linear(6, 4), r=2, alpha=4)
        >>> layer.scaling, tuple(layer.lora_A.weight.shape), tuple(layer.lora_B.weight.shape)
        (2.0, (2, 6), (4, 2))
        >>> x = torch.randn(3, 6)
        >>> bool(torch.equal(layer(x), layer.base_layer(x)))  # B = 0 at init
        True
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0,
                 use_rslora: bool = False, init: str = "kaiming"):
        super().__init__()
        check_linear(base)
        self.r = check_rank(r, base.in_features, base.out_features)
        self.alpha = check_alpha(alpha)
        self.dropout_p = check_dropout(dropout)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}.")
        self.use_rslora = bool(use_rslora)
        factory = self._wrap(base)
        self.lora_A = nn.Linear(base.in_features, self.r, bias=False, **factory)
        self.lora_B = nn.Linear(self.r, base.out_features, bias=False, **factory)
        init_lora_pair(self.lora_A, self.lora_B, init, self.r)
        self.lora_dropout = nn.Dropout(self.dropout_p) if self.dropout_p > 0 else nn.Identity()
        self.merged = False

    @property
    def scaling(self) -> float:
        return lora_scaling(self.r, self.alpha, self.use_rslora)

    def extra_repr(self) -> str:
        return (f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}, dropout={self.dropout_p:g}, "
                f"use_rslora={self.use_rslora}, merged={self.merged}")

    def delta_weight(self) -> torch.Tensor:
        """``scaling * B @ A``, shape (out_features, in_features): what :meth:`merge` adds to the base weight."""
        return self.scaling * (self.lora_B.weight @ self.lora_A.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        return out + self.scaling * self.lora_B(self.lora_A(self.lora_dropout(x)))

    @torch.no_grad()
    def merge(self) -> None:
        """Add the update into ``base_layer.weight`` (no-op with a warning if already merged)."""
        if self.merged:
            warnings.warn("LoRALinear.merge: already merged; nothing to do.", UserWarning, stacklevel=2)
            return
        self.base_layer.weight += self.delta_weight().to(self.base_layer.weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update from ``base_layer.weight`` again (no-op with a warning if not merged)."""
        if not self.merged:
            warnings.warn("LoRALinear.unmerge: not merged; nothing to do.", UserWarning, stacklevel=2)
            return
        self.base_layer.weight -= self.delta_weight().to(self.base_layer.weight.dtype)
        self.merged = False
