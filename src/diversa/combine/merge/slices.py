"""Layer slices: build a model's layer stack from ranges of other models' layers (mergekit's ``slices:``).

A config with ``slices:`` instead of ``models:`` lists output slices; each
takes the same number of layers from one or more sources and merges them with
the config's method::

    merge_method: passthrough
    slices:
      - sources: [{model: ./a, layer_range: [0, 6]}]
      - sources: [{model: ./b, layer_range: [4, 8]}]

stacks layers 0-5 of ``a`` and 4-7 of ``b`` into a 10-layer model (a
"frankenmerge"), renumbered 0-9. A slice with several sources merges them
layer by layer (e.g. SLERP of ``a``'s layers 0-3 with ``b``'s), with
per-source ``parameters`` and slice-level ``parameters`` and ``base_model``
overriding the config's. As in mergekit, a gradient runs across one slice
(``t = i / (n - 1)`` for its i-th of n layers); the tensors before the stack
(embeddings) are merged from the first slice's sources and those after it
(final norm, head) from the last slice's, at ``t = 0``. Layer ranges are
half-open, ``[first, stop)``, and may repeat or overlap across slices (that is
how layers are duplicated), but must lie inside the source's layers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OutputSlice", "SliceSource", "before_stack", "parse_slices", "renumber"]


@dataclass(frozen=True)
class SliceSource:
    """Layers ``[first, stop)`` of one model, with that model's parameters for this slice."""

    model: str
    layer_range: tuple[int, int]
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return self.layer_range[1] - self.layer_range[0]


@dataclass(frozen=True)
class OutputSlice:
    """Consecutive output layers merged from equally long ranges of the sources."""

    sources: tuple[SliceSource, ...]
    base_model: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return self.sources[0].n_layers


def parse_slices(raw) -> tuple[OutputSlice, ...]:
    """The ``slices:`` field checked for shape (parameter values are checked by the config)."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("merge config: slices must be a non-empty list of {sources: [{model, layer_range}]}")
    slices = []
    for i, entry in enumerate(raw):
        where = f"merge config: slices[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("sources"), list) or not entry["sources"]:
            raise ValueError(f"{where} must be a mapping with a non-empty 'sources' list, got {entry!r}")
        extra = set(entry) - {"sources", "base_model", "parameters"}
        if extra:
            raise ValueError(f"{where} has unknown field(s) {sorted(extra)}")
        base = entry.get("base_model")
        if base is not None and not isinstance(base, str):
            raise ValueError(f"{where}.base_model must be a path, got {base!r}")
        params = entry.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise ValueError(f"{where}.parameters must be a mapping")  # noqa: TRY004
        sources = tuple(_parse_source(s, f"{where}.sources[{j}]") for j, s in enumerate(entry["sources"]))
        lengths = {s.n_layers for s in sources}
        if len(lengths) > 1:
            raise ValueError(f"{where}.sources: every layer_range of a slice must span as many layers, got "
                             f"{[list(s.layer_range) for s in sources]}")
        slices.append(OutputSlice(sources, base, dict(params)))
    return tuple(slices)


def _parse_source(raw, where: str) -> SliceSource:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("model"), str):
        raise ValueError(f"{where} must be a mapping with a 'model' path and a 'layer_range', got {raw!r}")
    extra = set(raw) - {"model", "layer_range", "parameters"}
    if extra:
        raise ValueError(f"{where} has unknown field(s) {sorted(extra)}")
    bounds = raw.get("layer_range")
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)):
        raise ValueError(f"{where}.layer_range must be two integers [first, stop), got {bounds!r}")
    if not 0 <= bounds[0] < bounds[1]:
        raise ValueError(f"{where}.layer_range {bounds} must satisfy 0 <= first < stop")
    params = raw.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise ValueError(f"{where}.parameters must be a mapping")  # noqa: TRY004
    return SliceSource(raw["model"], (bounds[0], bounds[1]), dict(params))


#: The layer index in a layer-stack tensor name (the same stacks as :func:`config.layer_index`).
_LAYER = re.compile(r"((?:^|\.)(?:layers|layer|h|blocks|block)\.)(\d+)(\.)")
#: Tensors outside the stack that come before it (the rest -- final norm, head -- come after it).
_BEFORE = ("embed", "wte", "wpe", "word_embeddings", "position_embeddings", "token_type_embeddings")


def renumber(tensor: str, offset: int) -> str:
    """``tensor`` with its layer index shifted by ``offset`` (``model.layers.3.x`` + 2 -> ``model.layers.5.x``)."""
    return _LAYER.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + offset}{m.group(3)}", tensor, count=1)


def before_stack(tensor: str) -> bool:
    """Whether a tensor outside the layer stack precedes it (embeddings) rather than follows it."""
    return any(part in tensor for part in _BEFORE)
