"""Permutation specs: which axis of which tensor a hidden-unit permutation acts on.

Hidden units of a network can be reordered without changing its function when
every tensor that reads or writes them is reordered the same way (Hecht-Nielsen
1990; Ainsworth, Hayase, Srinivasa, "Git Re-Basin: Merging Models modulo
Permutation Symmetries", ICLR 2023, arXiv:2209.04836). A
:class:`PermutationSpec` names these symmetries: for every tensor of a state
dict, which permutation (if any) acts on each of its axes.

An axis may hold one permuted unit per entry, or units that are blocks of
entries: the heads of a multi-head attention layer (``block = head_dim``), the
channels of a convolution flattened into a linear layer (``block = H * W``),
or the query, key and value projections stacked in one tensor
(``repeat = 3``). An axis of length ``repeat * n * block`` is read as
``(repeat, n, block)`` and the permutation of size ``n`` reorders the middle
index: a head or a flattened channel moves as a whole.

Conventions (git re-basin's): a permutation is a ``LongTensor`` ``p`` of size
``n``; applying it to an axis takes unit ``p[i]`` to position ``i``
(``W[p]`` for a weight's rows). :func:`apply_permutation` applies every
permutation of a spec to a state dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

__all__ = ["AxisPerm", "PermutationSpec", "apply_permutation", "expand_permutation", "identity_permutation",
           "invert_permutation", "permute_tensor", "random_permutation"]


@dataclass(frozen=True)
class AxisPerm:
    """Permutation ``perm`` acting on one axis, read as ``(repeat, n, block)``."""

    perm: str
    block: int = 1
    repeat: int = 1

    def __post_init__(self):
        if not isinstance(self.perm, str) or not self.perm:
            raise TypeError(f"AxisPerm.perm must be a non-empty string, got {self.perm!r}")
        for name in ("block", "repeat"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AxisPerm.{name} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class PermutationSpec:
    """The permutation symmetries of a state dict.

    ``axes_to_perm`` maps each tensor name to one entry per axis: an
    :class:`AxisPerm` (a plain string means ``AxisPerm(name)``) or None for an
    axis no permutation acts on. ``sizes`` maps each permutation to its number
    of units ``n``. ``sites`` (optional) names, per permutation, the points of
    a traced model whose activations carry it (used by activation matching).
    ``perm_to_axes`` is derived: permutation -> ``[(tensor, axis, AxisPerm)]``.
    """

    axes_to_perm: Mapping[str, tuple[AxisPerm | str | None, ...]]
    sizes: Mapping[str, int]
    sites: Mapping[str, tuple] = field(default_factory=dict)

    def __post_init__(self):
        normal = {}
        for key, axes in self.axes_to_perm.items():
            if not isinstance(axes, (tuple, list)):
                raise TypeError(f"axes_to_perm[{key!r}] must be a tuple with one entry per axis, got {axes!r}")
            normal[key] = tuple(AxisPerm(a) if isinstance(a, str) else a for a in axes)
            for a in normal[key]:
                if a is not None and not isinstance(a, AxisPerm):
                    raise TypeError(f"axes_to_perm[{key!r}]: each axis is an AxisPerm, a name or None, got {a!r}")
                if a is not None and a.perm not in self.sizes:
                    raise ValueError(f"axes_to_perm[{key!r}] names permutation {a.perm!r}, which has no size")
        object.__setattr__(self, "axes_to_perm", normal)
        object.__setattr__(self, "sizes", {k: int(v) for k, v in self.sizes.items()})

    @property
    def perm_to_axes(self) -> dict[str, list[tuple[str, int, AxisPerm]]]:
        """Permutation -> the ``(tensor, axis, AxisPerm)`` entries it acts on (spec order)."""
        out: dict[str, list[tuple[str, int, AxisPerm]]] = {name: [] for name in self.sizes}
        for key, axes in self.axes_to_perm.items():
            for axis, a in enumerate(axes):
                if a is not None:
                    out[a.perm].append((key, axis, a))
        return out

    @property
    def names(self) -> list[str]:
        """Permutation names, in the order of :attr:`sizes`."""
        return list(self.sizes)

    def check(self, params: Mapping[str, torch.Tensor], name: str = "params") -> None:
        """Raise ``ValueError`` naming the tensor when ``params`` does not fit the spec.

        Every spec tensor must be present with one axis per spec entry, each
        permuted axis of length ``repeat * n * block``.
        """
        for key, axes in self.axes_to_perm.items():
            if key not in params:
                raise ValueError(f"{name}: tensor {key!r} of the permutation spec is missing")
            tensor = params[key]
            if tensor.dim() != len(axes):
                raise ValueError(f"{name}: tensor {key!r} has {tensor.dim()} axes, the spec gives {len(axes)}")
            for axis, a in enumerate(axes):
                if a is None:
                    continue
                expected = a.repeat * self.sizes[a.perm] * a.block
                if tensor.shape[axis] != expected:
                    raise ValueError(f"{name}: tensor {key!r} axis {axis} has length {tensor.shape[axis]}, "
                                     f"permutation {a.perm!r} needs {expected} ({a.repeat} x "
                                     f"{self.sizes[a.perm]} units x block {a.block})")


def expand_permutation(perm: torch.Tensor, block: int = 1, repeat: int = 1) -> torch.Tensor:
    """Entry indices of an axis ``(repeat, n, block)`` whose ``n`` units are reordered by ``perm``."""
    n = perm.numel()
    within = (perm.long()[:, None] * block + torch.arange(block)).reshape(-1)
    return (torch.arange(repeat)[:, None] * (n * block) + within).reshape(-1)


def permute_tensor(spec: PermutationSpec, perm: Mapping[str, torch.Tensor], key: str, tensor: torch.Tensor,
                   except_axis: int | None = None) -> torch.Tensor:
    """``tensor`` (spec entry ``key``) with every permutation applied, except on ``except_axis``."""
    for axis, a in enumerate(spec.axes_to_perm[key]):
        if a is None or axis == except_axis or a.perm not in perm:
            continue
        tensor = torch.index_select(tensor, axis, expand_permutation(perm[a.perm], a.block, a.repeat))
    return tensor


def apply_permutation(spec: PermutationSpec, perm: Mapping[str, torch.Tensor],
                      params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A new state dict with ``perm`` applied to every axis the spec names (other tensors copied).

    ``perm``: permutation name -> LongTensor of its size (a missing name is
    the identity). Raises ``ValueError`` for a tensor that does not fit the
    spec or a permutation that is not one of size ``n``.
    """
    spec.check(params)
    _check_perm(spec, perm)
    out = {}
    for key, value in params.items():
        out[key] = permute_tensor(spec, perm, key, value) if key in spec.axes_to_perm else value.clone()
    return out


def _check_perm(spec: PermutationSpec, perm: Mapping[str, torch.Tensor]) -> None:
    for name, p in perm.items():
        if name not in spec.sizes:
            raise ValueError(f"perm: {name!r} is not a permutation of the spec ({spec.names})")
        n = spec.sizes[name]
        if not isinstance(p, torch.Tensor) or p.shape != (n,) or not torch.equal(
                torch.sort(p.long()).values, torch.arange(n)):
            raise ValueError(f"perm[{name!r}] must be a permutation of range({n})")


def identity_permutation(spec: PermutationSpec) -> dict[str, torch.Tensor]:
    """The identity for every permutation of ``spec``."""
    return {name: torch.arange(n) for name, n in spec.sizes.items()}


def random_permutation(spec: PermutationSpec, random_state: int = 0) -> dict[str, torch.Tensor]:
    """A uniformly random permutation for every permutation of ``spec`` (seeded)."""
    g = torch.Generator().manual_seed(int(random_state))
    return {name: torch.randperm(n, generator=g) for name, n in spec.sizes.items()}


def invert_permutation(perm: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of every permutation: ``apply(inverse, apply(perm, x)) == x``."""
    return {name: torch.argsort(p) for name, p in perm.items()}
