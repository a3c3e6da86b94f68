"""Key selection and the shared conventions of every merge method.

A state dict is ``dict[str, torch.Tensor]``. A merge method sees the base
(pre-trained) state dict, the fine-tuned ones, and its typed parameters; it
merges the *selected* keys and copies every other key from the base (from the
first model when there is no base). The conventions follow spec ``merge.md``
section 0, shared by Task Arithmetic (Ilharco et al., "Editing Models with
Task Arithmetic", arXiv:2212.04089), TIES-Merging (Yadav et al., "TIES-Merging:
Resolving Interference When Merging Models", arXiv:2306.01708) and their
successors:

* a key is selected when every input has it, every input holds it in a
  floating dtype, and it matches one ``include`` regex (default: all) and no
  ``exclude`` regex; a selected key whose shapes differ raises ``ValueError``
  naming the key;
* a non-floating key is copied, never merged: scalar counters (e.g.
  ``num_batches_tracked``) come from the base; a non-scalar integer tensor that
  differs between the inputs raises ``ValueError`` (integer arithmetic would
  truncate the merge, and copying the base would drop the models' values
  silently: cast such tensors to a floating dtype to merge them), as does a key
  that is floating in some inputs and not in others;
* inputs must be ``torch.Tensor`` values (a NumPy array raises ``TypeError``
  with the conversion to use);
* arithmetic runs in float32 and results are cast back to the dtype of the
  reference (base) tensor;
* inputs are never mutated; outputs are new tensors.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence

import torch

StateDict = dict[str, torch.Tensor]

__all__ = ["StateDict", "check_unmerged", "merge_keys"]


def merge_keys(base: Mapping[str, torch.Tensor] | None, models: Sequence[Mapping[str, torch.Tensor]],
               include: Sequence[str] | str | None = None,
               exclude: Sequence[str] | str | None = None) -> list[str]:
    """The keys a merge acts on, in sorted order.

    A key qualifies when it is present in ``base`` (if given) and in every
    model, is floating point everywhere, matches one of the ``include`` regular
    expressions (``re.search``; default: every key) and none of ``exclude``.

    Raises ``ValueError`` naming the key when a qualifying key has different
    shapes across the inputs, or when a key left unmerged because it is not
    floating point would silently lose the models' values (see the module
    docstring).
    """
    inputs = _check_inputs(base, models)
    include_re = _compile(include, "include")
    exclude_re = _compile(exclude, "exclude")
    common = set(inputs[0])
    for sd in inputs[1:]:
        common &= set(sd)
    keys = []
    for key in sorted(common):
        if include_re and not any(p.search(key) for p in include_re):
            continue
        if any(p.search(key) for p in exclude_re):
            continue
        if not all(sd[key].is_floating_point() for sd in inputs):
            check_unmerged([sd[key] for sd in inputs], key)
            continue
        shapes = {tuple(sd[key].shape) for sd in inputs}
        if len(shapes) > 1:
            raise ValueError(f"tensor {key!r} has different shapes across the models: "
                             f"{sorted(shapes)}")
        keys.append(key)
    return keys


def check_unmerged(tensors: Sequence[torch.Tensor], key: str) -> None:
    """Refuse a non-floating key whose copy from the base would drop the models' values.

    Scalars (counters such as ``num_batches_tracked``) may differ; a
    non-scalar integer tensor must be equal in every input; a key may not be
    floating point in some inputs and not in others.
    """
    floating = {t.is_floating_point() for t in tensors}
    if len(floating) > 1:
        raise ValueError(f"tensor {key!r} is floating point in some inputs and not in others "
                         f"({sorted({str(t.dtype) for t in tensors})})")
    first = tensors[0]
    if first.dim() == 0:
        return
    for t in tensors[1:]:
        if t.dtype != first.dtype or t.shape != first.shape or not torch.equal(t, first):
            raise ValueError(f"tensor {key!r} is {str(first.dtype).removeprefix('torch.')} (not floating point) "
                             "and differs between the inputs: merging integers would truncate, copying the "
                             "base would drop the models' values; cast it to a floating dtype to merge it")


def _compile(patterns, name: str) -> list[re.Pattern]:
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    try:
        return [re.compile(p) for p in patterns]
    except (re.error, TypeError) as exc:
        raise ValueError(f"{name} must be regular expressions, got {patterns!r}: {exc}") from None


def _check_inputs(base, models) -> list[Mapping[str, torch.Tensor]]:
    if isinstance(models, Mapping) or not isinstance(models, Sequence):
        raise TypeError(f"models must be a sequence of state dicts, got {type(models).__name__}")
    if len(models) == 0:
        raise ValueError("models must hold at least one state dict")
    for i, sd in enumerate(models):
        if not isinstance(sd, Mapping):
            raise TypeError(f"models[{i}] must be a state dict (mapping of name to tensor), "
                            f"got {type(sd).__name__}")
    if base is not None and not isinstance(base, Mapping):
        raise TypeError(f"base must be a state dict, got {type(base).__name__}")
    named = ([("base", base)] if base is not None else []) + [(f"models[{i}]", sd) for i, sd in enumerate(models)]
    for name, sd in named:
        for key, value in sd.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{name}[{key!r}] is a {type(value).__module__}.{type(value).__name__}; merge "
                                "functions take torch tensors (convert with torch.from_numpy or torch.as_tensor)")
    return ([base] if base is not None else []) + list(models)


def _resolve_keys(base, models, keys) -> list[str]:
    """``keys`` validated against the inputs, or the default selection."""
    if keys is None:
        return merge_keys(base, models)
    if isinstance(keys, str):
        raise TypeError("keys must be a sequence of key names, not a string")
    inputs = _check_inputs(base, models)
    keys = list(keys)
    for key in keys:
        for i, sd in enumerate(inputs):
            if key not in sd:
                raise ValueError(f"keys: tensor {key!r} is missing from "
                                 f"{'base' if base is not None and i == 0 else 'a model'}")
            if not sd[key].is_floating_point():
                raise ValueError(f"keys: tensor {key!r} is not floating point ({sd[key].dtype})")
        shapes = {tuple(sd[key].shape) for sd in inputs}
        if len(shapes) > 1:
            raise ValueError(f"tensor {key!r} has different shapes across the models: {sorted(shapes)}")
    return keys


def _as_f32(t: torch.Tensor, scratch: torch.Tensor | None, copy: bool = False):
    """``(t as float32, scratch)``: converted into the reusable ``scratch`` buffer (allocated when None or of
    another shape) instead of a new tensor. A float32 ``t`` is returned as is unless ``copy`` (the caller then
    writes into the result). Converting first and adding float32 to float32 is ~4x faster than torch's
    mixed-dtype in-place add."""
    t = _f32(t) if not isinstance(t, torch.Tensor) else t.detach()
    if t.dtype == torch.float32 and not copy:
        return t, scratch
    if scratch is None or scratch.shape != t.shape:
        scratch = torch.empty(t.shape, dtype=torch.float32)
    return scratch.copy_(t), scratch


def _f32(t: torch.Tensor) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a torch tensor, got a {type(t).__module__}.{type(t).__name__} (convert with "
                        "torch.from_numpy or torch.as_tensor)")
    return t.detach().to(torch.float32)


def _assemble(reference: Mapping[str, torch.Tensor], merged: Mapping[str, torch.Tensor]) -> StateDict:
    """Merged keys cast to the reference dtype; every other key cloned from the reference."""
    out = {}
    for key, value in reference.items():
        if key in merged:
            out[key] = merged[key].to(value.dtype)
        else:
            out[key] = value.detach().clone()
    return out


def _weights(weights, n: int, name: str = "weights", default: float = 1.0) -> list[float]:
    """A per-model float list from a scalar, a sequence or a 1-D tensor."""
    if weights is None:
        return [float(default)] * n
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().reshape(-1).tolist() if weights.ndim else float(weights)
    if isinstance(weights, (int, float)) and not isinstance(weights, bool):
        return [float(weights)] * n
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a sequence of numbers, got {weights!r}") from None
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} models")
    if not all(torch.isfinite(torch.tensor(values))):
        raise ValueError(f"{name} must be finite, got {values}")
    return values


def _fraction(value, name: str, low: float = 0.0, high: float = 1.0, *, low_open: bool = False,
              high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {lo}{low:g}, {high:g}{hi}, got {value}")
    return value


def _choice(value, name: str, options: Sequence[str]) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def _key_seed(random_state: int, key: str, index: int = 0) -> int:
    """A per-(key, model) seed, so streaming one key at a time draws what a whole-dict call draws."""
    return (int(random_state) * 1_000_003 + zlib.crc32(key.encode()) * 7919 + index) % (2**63 - 1)


def _reference(base, models):
    return base if base is not None else models[0]
