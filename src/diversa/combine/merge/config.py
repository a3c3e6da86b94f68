"""The YAML description of a merge, in mergekit's shape, and the method table.

A config names a method, the models and their parameters::

    merge_method: ties
    base_model: ./llama-base
    models:
      - model: ./llama-math
        parameters: {weight: 1.0, density: 0.2}
      - model: ./llama-code
        parameters: {weight: 0.5, density: 0.2}
    parameters: {normalize: true}
    dtype: bfloat16

Every mergekit method is here under its mergekit name, with mergekit's
parameter names and defaults: ``linear``, ``task_arithmetic``, ``ties``, ``dare_ties``, ``dare_linear``,
``breadcrumbs``, ``breadcrumbs_ties``, ``della``, ``della_linear``, ``sce``,
``model_stock``, ``slerp``, ``nuslerp``, ``multislerp``, ``karcher``,
``nearswap``, ``arcee_fusion``, ``ram``, ``ramplus_tl`` and ``passthrough``
(one model per slice). ``slices:`` instead of
``models:`` builds the layer stack from layer ranges of the models
(:mod:`diversa.combine.merge.slices`).
The task-arithmetic family keeps per-model ``weight``, ``density``,
``gamma`` and ``epsilon`` and global ``normalize``, ``rescale`` and ``lambda``:
TIES and DARE use mergekit's weighted sign election, DARE's ``rescale: true``
is mergekit's L1-norm rescaling. diversa adds ``magnitude_prune`` and ``pcb``
(PCB-Merging with per-tensor scope) and accepts, as global parameters, the
other keyword arguments of the underlying pure function (e.g. ``zero_sign``,
``sign_method``, ``random_state``), since a method's signature is its
configuration schema. A parameter value is a number, a string, a boolean, or a
mergekit-style list of ``{filter: SUBSTRING, value: V}`` entries (the first
entry whose filter occurs in the tensor name wins; an entry without a filter,
or with filter ``*``, matches every tensor). As in mergekit, a list none of
whose entries matches a tensor falls back to the next level for that tensor:
a model's own setting, then the global ``parameters``, then the method's
default. A list of numbers is a gradient, as in mergekit: a layer-stack
tensor of layer i among N (``model.layers.i.``, ``h.i.``, ``layer.i.``,
``blocks.i.``) takes the list interpolated linearly at ``t = i / (N - 1)``
(``t = 1`` when N = 1), every other tensor (embeddings, final norm, head) the
first value, so ``t: [0, 0.5, 1]`` runs from 0 at the first layer to 1 at the
last; a filter entry's value may itself be a gradient. The engine counts N
from the checkpoint's tensor names.

Types are checked against the method's signature when the config is parsed:
``normalize: "yes"``, ``weight: true`` or ``weight: "1.0"`` are errors naming
the parameter (numbers must be finite; an integer is accepted for a float).
YAML is read with the YAML 1.2 float syntax, so ``density: 1e-3`` is a number.
Values of renamed parameters are checked in the user's terms (``density`` of
DARE must lie in (0, 1], not "drop_rate ... got 1.5").

``dtype`` is the compute dtype, as in mergekit: every floating input tensor is
rounded to it when read (so ``dtype: bfloat16`` merges what a bfloat16 copy of
the models holds); the merge functions then run their arithmetic in float32,
which is at least as precise as any 16-bit dtype, and return the compute
dtype, as mergekit's methods do. ``out_dtype`` sets the
output dtype of floating tensors and defaults to ``dtype`` (then to the base
model's stored dtype).

``tokenizer_source`` (``base``, ``union``, or ``model:PATH`` -- a bare PATH, as
mergekit spells it, works too) gives the output a
tokenizer and re-indexes the vocabulary rows of the embeddings and the head
(:mod:`diversa.combine.merge.vocabulary`); models whose vocabularies differ
need it.

``permute: true`` (or ``mlp`` / ``llama`` to declare the architecture) first
aligns the hidden units of every model to an anchor -- the base model when the
method takes one, else the first model -- by weight matching (Ainsworth et
al., "Git Re-Basin", arXiv:2209.04836), so that independently trained models
of one architecture are merged unit by unit. The permutation spec comes from
the checkpoints' tensor names (:mod:`diversa.combine.permute.naming`): a plain
stack of linear layers, or a Llama-style decoder (heads permuted when the
anchor's ``config.json`` gives ``num_attention_heads``); any other
checkpoint is refused. ``true`` picks ``llama`` when the tensor names are
Llama's, else ``mlp``.

Randomness: DARE's masks are drawn with the ``random_state`` parameter, which
the engine sets to its ``seed`` (``--seed``, default 0) when the config has
none, so a merge is reproducible; per-(tensor, model) generators make a
streamed merge draw what a whole-model call draws. mergekit draws from torch's
global generator instead, so the two tools agree on DARE only through the pure
functions under the same ``torch.manual_seed`` (``random_state=None``).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from diversa.combine.merge.arcee_fusion import arcee_fusion
from diversa.combine.merge.averaging import weight_average
from diversa.combine.merge.breadcrumbs import breadcrumbs_merging
from diversa.combine.merge.dare import dare_merging
from diversa.combine.merge.della import della_merging
from diversa.combine.merge.karcher import karcher_mean
from diversa.combine.merge.magnitude_prune import magnitude_prune_merging
from diversa.combine.merge.model_stock import model_stock
from diversa.combine.merge.nearswap import nearswap
from diversa.combine.merge.passthrough import passthrough
from diversa.combine.merge.pcb import pcb_merging
from diversa.combine.merge.ram import ram_merging, ramplus_tl_merging
from diversa.combine.merge.sce import sce_merging
from diversa.combine.merge.slerp import multislerp, nuslerp, slerp
from diversa.combine.merge.slices import OutputSlice, parse_slices
from diversa.combine.merge.task_arithmetic import task_arithmetic
from diversa.combine.merge.ties import ties_merging

__all__ = ["DTYPES", "METHODS", "MergeConfig", "MethodSpec", "ModelEntry", "count_layers", "gradient_value",
           "layer_index", "load_config", "parse_config"]

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float64": torch.float64, "fp64": torch.float64,
}

_TOP_LEVEL = ("merge_method", "base_model", "models", "parameters", "dtype", "out_dtype", "tokenizer_source",
              "permute", "slices")
#: Architectures ``permute`` may declare (``true`` means ``auto``; see :mod:`diversa.combine.permute.naming`).
PERMUTE_ARCHITECTURES = ("auto", "mlp", "llama")


@dataclass(frozen=True)
class ModelEntry:
    """One input model: a local path and its per-model parameters."""

    model: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    """How a YAML method maps onto a pure merge function.

    ``per_model``: YAML per-model parameter -> (function argument, transform of
    the value); ``renames``: YAML global parameter -> function argument (or a
    transform of the value); ``fixed``: arguments the YAML cannot change;
    ``defaults``: mergekit defaults that differ from the function's;
    ``kinds``: YAML types of a renamed parameter whose transform accepts more
    than the argument's annotation (DARE's ``rescale: true``); ``checks``:
    value checks of renamed parameters, in the user's terms; ``required``:
    global parameters a config must set (SLERP's ``t``); ``base_optional``: a
    method that takes a base merges without one too (its function then gets
    ``base=None``; nuslerp, multislerp).
    """

    function: Callable[..., dict]
    takes_base: bool
    per_model: Mapping[str, tuple[str, Callable[[Any], Any]]]
    renames: Mapping[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    per_tensor_only: Mapping[str, Any] = field(default_factory=dict)
    kinds: Mapping[str, frozenset[str]] = field(default_factory=dict)
    checks: Mapping[str, Callable[[Any], None]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    base_optional: bool = False

    def function_arguments(self) -> list[str]:
        hidden = {"base", "models", "keys"}
        return [n for n in inspect.signature(self.function).parameters if n not in hidden]

    @property
    def takes_seed(self) -> bool:
        """Whether the method draws random numbers (it has a ``random_state`` argument)."""
        return "random_state" in self.function_arguments()

    def yaml_kinds(self, name: str) -> frozenset[str]:
        """The YAML types (``number``, ``integer``, ``boolean``, ``string``, ``null``) ``name`` accepts."""
        if name in self.kinds:
            return self.kinds[name]
        if name in self.per_model:
            arg = self.per_model[name][0]
            return _annotation_kinds(self._hints()[arg]) - {"null"}  # one value per model
        arg = self.renames[name][0] if name in self.renames else name
        return _annotation_kinds(self._hints().get(arg))

    def _hints(self) -> dict[str, Any]:
        return typing.get_type_hints(self.function)

    def global_parameters(self) -> list[str]:
        """Parameter names a config may set globally (sorted)."""
        names = set(self.renames) | set(self.per_model)
        per_model_args = {arg for arg, _ in self.per_model.values()}
        names |= {n for n in self.function_arguments()
                  if n not in self.fixed and n not in per_model_args and n not in self.per_tensor_only}
        return sorted(names)


_KIND_OF_TYPE = {float: "number", int: "integer", bool: "boolean", str: "string", type(None): "null"}


def _annotation_kinds(annotation) -> frozenset[str]:
    """YAML types a function argument accepts, from its annotation (a sequence takes its element type:
    one value per model, or one value broadcast to every model)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return frozenset().union(*(_annotation_kinds(a) for a in typing.get_args(annotation)))
    if origin in (Sequence, list, tuple):
        args = typing.get_args(annotation)
        return _annotation_kinds(args[0]) if args else frozenset()
    if annotation in _KIND_OF_TYPE:
        return frozenset({_KIND_OF_TYPE[annotation]})
    return frozenset()


def _kind_matches(value, kinds: frozenset[str]) -> bool:
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, int):
        return bool({"integer", "number"} & kinds)
    if isinstance(value, float):
        return "number" in kinds
    if isinstance(value, str):
        return "string" in kinds
    if value is None:
        return "null" in kinds
    return False


def _describe(kinds: frozenset[str]) -> str:
    names = {"number": "a number", "integer": "an integer", "boolean": "true or false", "string": "a string",
             "null": "null"}
    return " or ".join(names[k] for k in sorted(kinds)) or "not settable"


def _same(value):
    return value


def _drop_rate(density):
    return 1.0 - float(density)


def _rescale(value):
    if isinstance(value, bool):
        return "l1" if value else "none"
    return value


def _density_check(low_open: bool) -> Callable[[Any], None]:
    def check(value) -> None:
        low_ok = value > 0 if low_open else value >= 0
        if not (low_ok and value <= 1):
            raise ValueError(f"must lie in {'(' if low_open else '['}0, 1], got {value}")
    return check


def _build_methods() -> dict[str, MethodSpec]:
    weight = {"weight": ("weights", _same)}
    density_unit = {"density": _density_check(low_open=False)}
    dare = {"kinds": {"rescale": frozenset({"boolean", "string"})}, "checks": {"density": _density_check(True)}}
    methods = {
        "linear": MethodSpec(weight_average, False, weight),
        "task_arithmetic": MethodSpec(task_arithmetic, True, weight, renames={"lambda": ("scaling", _same)},
                                      defaults={"scaling": 1.0}),
        "ties": MethodSpec(ties_merging, True, {**weight, "density": ("density", _same)},
                           renames={"lambda": ("scaling", _same)}, fixed={"convention": "mergekit"},
                           defaults={"density": 1.0}, per_tensor_only={"scope": "tensor"}, checks=density_unit),
        "dare_ties": MethodSpec(dare_merging, True, {**weight, "density": ("drop_rate", _drop_rate)},
                                renames={"lambda": ("scaling", _same), "rescale": ("rescale", _rescale)},
                                fixed={"convention": "mergekit", "combine": "ties"},
                                defaults={"drop_rate": 0.0, "rescale": "l1", "normalize": False}, **dare),
        "dare_linear": MethodSpec(dare_merging, True, {**weight, "density": ("drop_rate", _drop_rate)},
                                  renames={"lambda": ("scaling", _same), "rescale": ("rescale", _rescale)},
                                  fixed={"convention": "mergekit", "combine": "task_arithmetic"},
                                  defaults={"drop_rate": 0.0, "rescale": "l1", "normalize": False}, **dare),
        "magnitude_prune": MethodSpec(magnitude_prune_merging, True, {**weight, "density": ("density", _same)},
                                      defaults={"density": 1.0}, checks=density_unit),
    }
    # PCB-Merging with per-tensor scope: quantiles over the whole model cannot be taken one tensor at a time
    methods["pcb"] = MethodSpec(pcb_merging, True, {}, renames={"lambda": ("scaling", _same)},
                                per_tensor_only={"scope": "tensor"})
    sparse = {"renames": {"lambda": ("scaling", _same), "rescale": ("rescale", _rescale)},
              "kinds": {"rescale": frozenset({"boolean", "string"})}, "checks": density_unit}
    for name, combine in (("breadcrumbs", "task_arithmetic"), ("breadcrumbs_ties", "ties")):
        methods[name] = MethodSpec(breadcrumbs_merging, True,
                                   {**weight, "density": ("density", _same), "gamma": ("gamma", _same)},
                                   fixed={"combine": combine},
                                   defaults={"density": 1.0, "gamma": 0.01, "rescale": "none", "normalize": False},
                                   **sparse)
    for name, combine, normalize in (("della", "ties", True), ("della_linear", "task_arithmetic", False)):
        methods[name] = MethodSpec(della_merging, True,
                                   {**weight, "density": ("density", _same), "epsilon": ("epsilon", _same)},
                                   fixed={"combine": combine},
                                   defaults={"density": 1.0, "epsilon": 0.15, "rescale": "l1", "normalize": normalize},
                                   **sparse)
    methods["slerp"] = MethodSpec(slerp, True, {}, required=("t",))
    methods["model_stock"] = MethodSpec(model_stock, True, {})
    methods["karcher"] = MethodSpec(karcher_mean, False, {})
    methods["nearswap"] = MethodSpec(nearswap, True, {}, required=("t",))
    methods["arcee_fusion"] = MethodSpec(arcee_fusion, True, {})
    methods["ram"] = MethodSpec(ram_merging, True, {})
    methods["ramplus_tl"] = MethodSpec(ramplus_tl_merging, True, {})
    methods["passthrough"] = MethodSpec(passthrough, False, {"scale": ("scale", _same)})
    methods["nuslerp"] = MethodSpec(nuslerp, True, weight, base_optional=True)
    methods["multislerp"] = MethodSpec(multislerp, True, weight, base_optional=True)
    methods["sce"] = MethodSpec(sce_merging, True, {}, checks={"select_topk": _density_check(low_open=False)})
    return methods


#: YAML ``merge_method`` -> how it maps onto diversa's pure functions.
METHODS: dict[str, MethodSpec] = _build_methods()


@dataclass(frozen=True)
class MergeConfig:
    """A parsed merge config (see the module docstring)."""

    merge_method: str
    models: tuple[ModelEntry, ...]
    base_model: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    dtype: str | None = None
    source: Path | None = None
    permute: str | None = None
    num_layers: int | None = None
    compute_dtype: str | None = None
    slices: tuple[OutputSlice, ...] | None = None
    tokenizer_source: str | None = None

    @property
    def spec(self) -> MethodSpec:
        return METHODS[self.merge_method]

    @property
    def out_dtype(self) -> torch.dtype | None:
        return DTYPES[self.dtype] if self.dtype else None

    @property
    def input_dtype(self) -> torch.dtype | None:
        """The compute dtype floating inputs are rounded to when read (None: as stored)."""
        return DTYPES[self.compute_dtype] if self.compute_dtype else None

    def for_slice(self, index: int) -> MergeConfig:
        """The merge of one output slice: its sources as the models, slice-level settings over global ones."""
        part = self.slices[index]
        models = tuple(ModelEntry(s.model, dict(s.parameters)) for s in part.sources)
        return dataclasses.replace(self, models=models, base_model=part.base_model or self.base_model,
                                   parameters={**self.parameters, **part.parameters}, slices=None,
                                   num_layers=None)

    def fine_tuned(self) -> tuple[ModelEntry, ...]:
        """The models merged onto the base (an entry that is the base itself is left out, as mergekit)."""
        if not self.spec.takes_base or self.base_model is None:
            return self.models
        return tuple(m for m in self.models if not _same_path(m.model, self.base_model))

    def layer_t(self, tensor: str) -> float:
        """The position of ``tensor`` in the layer stack, in [0, 1], at which gradients are read.

        Layer i of ``num_layers`` N gives ``i / (N - 1)`` (1 when N = 1); a
        tensor outside the stack gives 0, as in mergekit. ``ValueError`` when a
        layer tensor is met and ``num_layers`` is unknown (the engine sets it).
        """
        index = layer_index(tensor)
        if index is None:
            return 0.0
        if self.num_layers is None:
            raise ValueError(f"tensor {tensor!r}: reading a gradient needs num_layers (the number of layers)")
        if not 0 <= index < self.num_layers:
            raise ValueError(f"tensor {tensor!r}: layer {index} is outside the {self.num_layers} layers")
        return index / (self.num_layers - 1) if self.num_layers > 1 else 1.0

    def _t(self, tensor: str) -> float:
        """``layer_t`` when some parameter is a gradient, else 0 (no layer count needed)."""
        return self.layer_t(tensor) if self._has_gradient() else 0.0

    def _has_gradient(self) -> bool:
        def gradient(value) -> bool:
            if isinstance(value, list):
                return any(gradient(e["value"]) if isinstance(e, Mapping) else True for e in value)
            return False
        scopes = [self.parameters] + [m.parameters for m in self.models]
        return any(gradient(v) for scope in scopes for v in scope.values())

    def arguments_for(self, tensor: str, position: str | None = None) -> dict[str, Any]:
        """The keyword arguments of the merge function for one tensor (filters and gradients resolved).

        Filters match ``tensor``; gradients are read at the layer position of
        ``position`` (default ``tensor``): a slice's layers are filtered by
        their output names but sit at their place within the slice, as in mergekit.
        """
        spec = self.spec
        t = self._t(tensor if position is None else position)
        kwargs: dict[str, Any] = dict(spec.defaults)
        for name, value in self.parameters.items():
            if name in spec.per_model:
                continue  # a global default of a per-model parameter: applied below
            value = resolve_value(value, tensor, name, t)
            if value is UNMATCHED:
                continue  # no filter entry matches this tensor: the method's default, as mergekit
            if name in spec.renames:
                arg, transform = spec.renames[name]
                kwargs[arg] = transform(value)
            else:
                kwargs[name] = value
        models = self.fine_tuned()
        for yaml_name, (arg, transform) in spec.per_model.items():
            values = []
            for entry in models:
                value = UNMATCHED
                for scope in (entry.parameters, self.parameters):  # mergekit's precedence
                    if yaml_name in scope:
                        value = resolve_value(scope[yaml_name], tensor, yaml_name, t)
                        if value is not UNMATCHED:
                            break
                if value is not UNMATCHED:
                    values.append(transform(value))
                elif arg in spec.defaults:
                    values.append(spec.defaults[arg])
                else:
                    values.append(1.0)
            kwargs[arg] = values
        kwargs.update(spec.fixed)
        kwargs.update(spec.per_tensor_only)
        return kwargs


def _same_path(a: str, b: str) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


class _Unmatched:
    def __repr__(self) -> str:
        return "UNMATCHED"


#: What :func:`resolve_value` returns when no entry of a filter list matches the tensor.
UNMATCHED = _Unmatched()


def resolve_value(value, tensor: str, name: str, t: float = 0.0):
    """A parameter's value for one tensor (mergekit's ``filter`` lists and gradients resolved).

    ``t`` in [0, 1] is the tensor's position in the layer stack
    (:meth:`MergeConfig.layer_t`). A gradient (a list of numbers
    ``[v_0, ..., v_{m-1}]``) is interpolated linearly at ``t (m - 1)``, as in
    mergekit; a list of booleans or strings picks entry ``int(t (m - 1))``.
    Returns :data:`UNMATCHED` when no entry of a filter list matches ``tensor``
    (the caller then falls back to the next level, as mergekit does).
    """
    if isinstance(value, list):
        if value and all(isinstance(v, Mapping) for v in value):
            for entry in value:
                pattern = entry.get("filter")
                if pattern is None or pattern == "*" or str(pattern) in tensor:
                    return resolve_value(entry["value"], tensor, name, t)
            return UNMATCHED
        return gradient_value(value, t, name)
    return value


def gradient_value(values: Sequence, t: float, name: str = "value"):
    """A gradient's value at ``t`` in [0, 1]: linear interpolation of numbers, a pick among others."""
    if not isinstance(values, (list, tuple)) or not values or any(isinstance(v, (list, tuple, Mapping))
                                                                   for v in values):
        raise ValueError(f"parameter {name!r}: a gradient must be a non-empty list of scalars, got {values!r}")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
        raise ValueError(f"parameter {name!r}: the layer position t must lie in [0, 1], got {t!r}")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric:
        return values[int(t * (len(values) - 1))]
    scaled = t * (len(values) - 1)
    low = int(scaled)
    high = min(len(values) - 1, low + 1)
    frac = scaled - low
    return (1 - frac) * values[low] + frac * values[high]


#: Tensor names of a layer stack: ``model.layers.3.``, ``transformer.h.3.``, ``encoder.layer.3.``, ``blocks.3.``.
_LAYER = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|block)\.(\d+)\.")


def layer_index(tensor: str) -> int | None:
    """The layer index in a tensor name (``model.layers.3.mlp.up_proj.weight`` -> 3), None outside the stack."""
    match = _LAYER.search(tensor)
    return int(match.group(1)) if match else None


def count_layers(tensors) -> int | None:
    """The number of layers of a checkpoint from its tensor names (largest index + 1), None without a stack."""
    indices = [i for i in (layer_index(t) for t in tensors) if i is not None]
    return max(indices) + 1 if indices else None


def _check_value(value, name: str, spec: MethodSpec, where: str) -> None:
    """Check a parameter's value (or each value of its filter list) against the method's signature."""
    label = f"merge config: {where}{name}"
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{label}: an empty list is neither a gradient nor a filter list")
        if not any(isinstance(v, Mapping) for v in value):  # a gradient: one value per layer position
            for v in value:
                if isinstance(v, (list, Mapping)):
                    raise ValueError(f"{label}: a gradient must be a list of scalars, got {value!r}")
                _check_scalar(v, name, spec, label)
            return
        for entry in value:
            if not isinstance(entry, Mapping) or "value" not in entry or set(entry) - {"filter", "value"}:
                raise ValueError(f"{label}: each list entry must be a mapping with 'value' "
                                 f"and optionally 'filter', got {entry!r}")
            if entry.get("filter") is not None and not isinstance(entry["filter"], str):
                raise ValueError(f"{label}: a filter must be a string, got {entry['filter']!r}")
            _check_value(entry["value"], name, spec, where) if isinstance(entry["value"], list) else \
                _check_scalar(entry["value"], name, spec, label)
        return
    _check_scalar(value, name, spec, label)


def _check_scalar(value, name: str, spec: MethodSpec, label: str) -> None:
    kinds = spec.yaml_kinds(name)
    if not _kind_matches(value, kinds):
        raise ValueError(f"{label} must be {_describe(kinds)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{label} must be finite, got {value!r}")
    if name in spec.checks:
        try:
            spec.checks[name](value)
        except ValueError as exc:
            raise ValueError(f"{label} {exc}") from None


def parse_config(data: Mapping[str, Any], source: Path | None = None) -> MergeConfig:
    """Validate a config mapping (as loaded from YAML); errors name the offending field.

    Every problem is a ``ValueError``, also a wrongly typed field: it is the
    content of the user's file, which the command line reports as bad input.
    """
    if not isinstance(data, Mapping):
        raise ValueError("merge config must be a mapping with merge_method and models")  # noqa: TRY004
    unknown = sorted(set(data) - set(_TOP_LEVEL), key=str)
    if unknown:
        raise ValueError(f"merge config: unknown field(s) {unknown}; allowed: {list(_TOP_LEVEL)}")
    method = data.get("merge_method")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"merge config: unknown merge_method {method!r}; available: {sorted(METHODS)}")
    spec = METHODS[method]
    tokenizer_source = data.get("tokenizer_source")
    if tokenizer_source is not None and (not isinstance(tokenizer_source, str) or not tokenizer_source.strip()
                                         or tokenizer_source == "model:"):
        raise ValueError(f"merge config: tokenizer_source must be 'base', 'union' or 'model:PATH' (or a model "
                         f"path, as in mergekit), got {tokenizer_source!r}")
    if ("models" in data) == ("slices" in data):
        raise ValueError("merge config: give exactly one of models and slices")
    slices = parse_slices(data["slices"]) if "slices" in data else None
    raw_models = data.get("models") if slices is None else [
        {"model": m} for m in dict.fromkeys(s.model for part in slices for s in part.sources)]
    if not isinstance(raw_models, list) or not raw_models:
        raise ValueError("merge config: models must be a non-empty list of {model: PATH, parameters: {...}}")
    models = []
    for i, entry in enumerate(raw_models):
        if isinstance(entry, str):
            entry = {"model": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("model"), str):
            raise ValueError(  # noqa: TRY004
                f"merge config: models[{i}] must be a mapping with a 'model' path, got {entry!r}")
        extra = set(entry) - {"model", "parameters"}
        if extra:
            raise ValueError(f"merge config: models[{i}] has unknown field(s) {sorted(extra)}")
        params = entry.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise ValueError(f"merge config: models[{i}].parameters must be a mapping")  # noqa: TRY004
        for name, value in params.items():
            if name not in spec.per_model:
                raise ValueError(f"merge config: unknown per-model parameter {name!r} for method {method!r} "
                                 f"(models[{i}]); allowed: {sorted(spec.per_model)}")
            _check_value(value, name, spec, f"models[{i}].parameters.")
        models.append(ModelEntry(entry["model"], dict(params)))
    base = data.get("base_model")
    if base is not None and not isinstance(base, str):
        raise ValueError(f"merge config: base_model must be a path, got {base!r}")
    slice_bases = bool(slices) and all(part.base_model for part in slices)
    if spec.takes_base and not spec.base_optional and base is None and not slice_bases:
        raise ValueError(f"merge config: merge_method {method!r} needs a base_model")
    params = data.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise ValueError("merge config: parameters must be a mapping")  # noqa: TRY004
    allowed = spec.global_parameters()
    for name, value in params.items():
        if name not in allowed:
            raise ValueError(f"merge config: unknown parameter {name!r} for method {method!r}; "
                             f"allowed: {allowed}")
        _check_value(value, name, spec, "parameters.")
    for i, part in enumerate(slices or ()):
        _check_slice(part, i, spec, method)
    for name in spec.required:
        if name not in params and not (slices and all(name in part.parameters for part in slices)):
            raise ValueError(f"merge config: merge_method {method!r} needs parameter {name!r} (under parameters)")
    for field_name in ("dtype", "out_dtype"):
        value = data.get(field_name)
        if value is not None and (not isinstance(value, str) or value not in DTYPES):
            raise ValueError(f"merge config: {field_name} must be one of {sorted(DTYPES)}, got {value!r}")
    dtype = data.get("out_dtype") or data.get("dtype")
    permute = data.get("permute")
    if permute is None or permute is False:
        architecture = None
    elif permute is True or (isinstance(permute, str) and permute in PERMUTE_ARCHITECTURES):
        architecture = "auto" if permute is True else permute
    else:
        raise ValueError(f"merge config: permute must be true, false, 'mlp' or 'llama', got {permute!r}")
    if architecture is not None and slices is not None:
        raise ValueError("merge config: permute cannot be combined with slices")
    config = MergeConfig(method, tuple(models), base, dict(params), dtype, source, architecture,
                         compute_dtype=data.get("dtype"), slices=slices, tokenizer_source=tokenizer_source)
    if slices is None and not config.fine_tuned():
        raise ValueError("merge config: models lists no model besides the base model")
    return config


def _check_slice(part: OutputSlice, index: int, spec: MethodSpec, method: str) -> None:
    """A slice's own parameters (checked as global ones) and its sources' (checked as per-model ones)."""
    where = f"slices[{index}]"
    allowed = spec.global_parameters()
    for name, value in part.parameters.items():
        if name not in allowed:
            raise ValueError(f"merge config: unknown parameter {name!r} for method {method!r} ({where}); "
                             f"allowed: {allowed}")
        _check_value(value, name, spec, f"{where}.parameters.")
    for j, source in enumerate(part.sources):
        for name, value in source.parameters.items():
            if name not in spec.per_model:
                raise ValueError(f"merge config: unknown per-model parameter {name!r} for method {method!r} "
                                 f"({where}.sources[{j}]); allowed: {sorted(spec.per_model)}")
            _check_value(value, name, spec, f"{where}.sources[{j}].parameters.")
    if method == "passthrough" and len(part.sources) != 1:
        raise ValueError(f"merge config: {where}: passthrough takes one source per slice, got {len(part.sources)}")


def load_config(path) -> MergeConfig:
    """Read and validate a YAML merge config."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"merge config {str(path)!r} does not exist")
    try:
        data = yaml.load(path.read_text(), Loader=_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ValueError(f"merge config {str(path)!r} is not valid YAML: {exc}") from None
    return parse_config(data, source=path)


_YAML12_FLOAT = re.compile(r"""^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$""")


def _loader():
    """PyYAML's SafeLoader reading floats with YAML 1.2 syntax (``1e-3`` is a float, not a string).

    Integers keep PyYAML's resolver (it is tried first); quoted values stay strings.
    """
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+.0123456789"))
    return Loader
