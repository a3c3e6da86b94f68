"""Align safetensors checkpoints by weight matching before the merge engine reads them.

Used by ``diversa merge`` with ``permute:`` (see
:mod:`diversa.combine.merge.config`): every model is permuted onto an anchor
(the base model when the method takes one, else the first model) by weight
matching (Ainsworth et al., "Git Re-Basin", arXiv:2209.04836) under the spec
the checkpoint's tensor names give (:mod:`diversa.combine.permute.naming`),
and the engine then reads each aligned model through a view that applies the
permutation tensor by tensor.

Memory: the search needs every tensor the spec names of the anchor and of one
model at a time in float64, and an aligned tensor is read whole before its rows
are taken, so permuting is meant for models that fit in memory twice over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from diversa.combine.permute.naming import ARCHITECTURES, checkpoint_spec
from diversa.combine.permute.spec import PermutationSpec, permute_tensor
from diversa.combine.permute.weight_matching import weight_matching

__all__ = ["PermutedCheckpoint", "align_checkpoints", "read_config"]


class PermutedCheckpoint:
    """A read-only view of a checkpoint with a permutation applied to the tensors a spec names.

    Offers what the merge engine reads: ``path``, ``entries`` (shapes and
    dtypes are unchanged by a permutation), ``keys``, ``read(key, rows)`` and
    ``non_tensor_files()``.
    """

    def __init__(self, checkpoint, spec: PermutationSpec, perm: Mapping[str, torch.Tensor]):
        self.inner, self.spec, self.perm = checkpoint, spec, dict(perm)
        self.path = checkpoint.path
        self.entries = checkpoint.entries

    @property
    def keys(self) -> list[str]:
        return list(self.entries)

    def read(self, key: str, rows: tuple[int, int] | None = None) -> torch.Tensor:
        if key not in self.spec.axes_to_perm:
            return self.inner.read(key, rows)
        tensor = permute_tensor(self.spec, self.perm, key, self.inner.read(key))
        return tensor if rows is None or tensor.dim() == 0 else tensor[rows[0]:rows[1]]

    def non_tensor_files(self) -> list[Path]:
        return self.inner.non_tensor_files()


def read_config(path: Path) -> dict:
    """The ``config.json`` next to a checkpoint (empty when there is none or it is not a JSON object)."""
    folder = path if path.is_dir() else path.parent
    file = folder / "config.json"
    if not file.is_file():
        return {}
    try:
        config = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"permute: {str(file)!r} is not valid JSON") from None
    return config if isinstance(config, dict) else {}


def align_checkpoints(anchor, models: Sequence, architecture: str = "auto", max_iter: int = 100,
                      random_state: int = 0) -> list:
    """``models`` with every one but ``anchor`` replaced by a :class:`PermutedCheckpoint` aligned to ``anchor``.

    ``anchor``, ``models``: checkpoints as the merge engine opens them;
    ``architecture``: the naming convention (:data:`ARCHITECTURES`).
    Raises ``ValueError`` when the convention does not fit the anchor's
    tensors or a model's tensors differ from the anchor's.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"permute must be true or one of {ARCHITECTURES[1:]}, got {architecture!r}")
    floating = {k: e.shape for k, e in anchor.entries.items() if e.dtype.is_floating_point}
    spec = checkpoint_spec(floating, architecture, read_config(anchor.path))
    keys = list(spec.axes_to_perm)
    anchor_tensors = None
    aligned = []
    for model in models:
        if model is anchor:
            aligned.append(model)
            continue
        for key in keys:
            if key not in model.entries or model.entries[key].shape != anchor.entries[key].shape:
                raise ValueError(f"permute: model {str(model.path)!r} differs in architecture from "
                                 f"{str(anchor.path)!r} at tensor {key!r}")
        if anchor_tensors is None:
            anchor_tensors = {k: anchor.read(k) for k in keys}
        perm = weight_matching(spec, anchor_tensors, {k: model.read(k) for k in keys}, max_iter=max_iter,
                               random_state=random_state)
        aligned.append(PermutedCheckpoint(model, spec, perm))
    return aligned
