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

The mergekit methods ``linear``, ``task_arithmetic``, ``ties``, ``dare_ties``
and ``dare_linear`` keep mergekit's semantics and defaults (per-model
``weight`` and ``density``, global ``normalize``, ``rescale`` and ``lambda``):
TIES and DARE use mergekit's weighted sign election, DARE's ``rescale: true``
is mergekit's L1-norm rescaling. diversa adds ``magnitude_prune`` and ``pcb``
(PCB-Merging with per-tensor scope) and accepts, as global parameters, the
other keyword arguments of the underlying pure function (e.g. ``zero_sign``,
``sign_method``, ``random_state``), since a method's signature is its
configuration schema. A parameter value is a number, a string, a boolean, or a
mergekit-style list of ``{filter: SUBSTRING, value: V}`` entries (the first
entry whose filter occurs in the tensor name wins; an entry without a filter is
the default). Gradients (lists of numbers) are not supported.

``dtype`` (or mergekit's ``out_dtype``, which wins) sets the output dtype of
floating tensors; arithmetic always runs in float32.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from diversa.combine.merge.averaging import weight_average
from diversa.combine.merge.dare import dare_merging
from diversa.combine.merge.magnitude_prune import magnitude_prune_merging
from diversa.combine.merge.pcb import pcb_merging
from diversa.combine.merge.task_arithmetic import task_arithmetic
from diversa.combine.merge.ties import ties_merging

__all__ = ["DTYPES", "METHODS", "MergeConfig", "MethodSpec", "ModelEntry", "load_config", "parse_config"]

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float64": torch.float64, "fp64": torch.float64,
}

_TOP_LEVEL = ("merge_method", "base_model", "models", "parameters", "dtype", "out_dtype", "tokenizer_source")


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
    ``defaults``: mergekit defaults that differ from the function's.
    """

    function: Callable[..., dict]
    takes_base: bool
    per_model: Mapping[str, tuple[str, Callable[[Any], Any]]]
    renames: Mapping[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    per_tensor_only: Mapping[str, Any] = field(default_factory=dict)
    scale_argument: str | None = None

    def function_arguments(self) -> list[str]:
        hidden = {"base", "models", "keys"}
        return [n for n in inspect.signature(self.function).parameters if n not in hidden]

    def global_parameters(self) -> list[str]:
        """Parameter names a config may set globally (sorted)."""
        names = set(self.renames) | set(self.per_model)
        per_model_args = {arg for arg, _ in self.per_model.values()}
        names |= {n for n in self.function_arguments()
                  if n not in self.fixed and n not in per_model_args and n not in self.per_tensor_only}
        return sorted(names)


def _same(value):
    return value


def _drop_rate(density):
    return 1.0 - float(density)


def _rescale(value):
    if isinstance(value, bool):
        return "l1" if value else "none"
    return value


def _build_methods() -> dict[str, MethodSpec]:
    weight = {"weight": ("weights", _same)}
    methods = {
        "linear": MethodSpec(weight_average, False, weight),
        "task_arithmetic": MethodSpec(task_arithmetic, True, {"weight": ("scaling", _same)},
                                      defaults={"scaling": 1.0}, scale_argument="scaling"),
        "ties": MethodSpec(ties_merging, True, {**weight, "density": ("density", _same)},
                           renames={"lambda": ("scaling", _same)}, fixed={"convention": "mergekit"},
                           defaults={"density": 1.0}, per_tensor_only={"scope": "tensor"}),
        "dare_ties": MethodSpec(dare_merging, True, {**weight, "density": ("drop_rate", _drop_rate)},
                                renames={"lambda": ("scaling", _same), "rescale": ("rescale", _rescale)},
                                fixed={"convention": "mergekit", "combine": "ties"},
                                defaults={"drop_rate": 0.0, "rescale": "l1", "normalize": False}),
        "dare_linear": MethodSpec(dare_merging, True, {**weight, "density": ("drop_rate", _drop_rate)},
                                  renames={"lambda": ("scaling", _same), "rescale": ("rescale", _rescale)},
                                  fixed={"convention": "mergekit", "combine": "task_arithmetic"},
                                  defaults={"drop_rate": 0.0, "rescale": "l1", "normalize": False}),
        "magnitude_prune": MethodSpec(magnitude_prune_merging, True, {**weight, "density": ("density", _same)},
                                      defaults={"density": 1.0}),
    }
    # PCB-Merging with per-tensor scope: quantiles over the whole model cannot be taken one tensor at a time
    methods["pcb"] = MethodSpec(pcb_merging, True, {}, renames={"lambda": ("scaling", _same)},
                                per_tensor_only={"scope": "tensor"})
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

    @property
    def spec(self) -> MethodSpec:
        return METHODS[self.merge_method]

    @property
    def out_dtype(self) -> torch.dtype | None:
        return DTYPES[self.dtype] if self.dtype else None

    def fine_tuned(self) -> tuple[ModelEntry, ...]:
        """The models merged onto the base (an entry that is the base itself is left out, as mergekit)."""
        if not self.spec.takes_base or self.base_model is None:
            return self.models
        return tuple(m for m in self.models if not _same_path(m.model, self.base_model))

    def arguments_for(self, tensor: str) -> dict[str, Any]:
        """The keyword arguments of the merge function for one tensor (parameters resolved by filter)."""
        spec = self.spec
        kwargs: dict[str, Any] = dict(spec.defaults)
        for name, value in self.parameters.items():
            value = resolve_value(value, tensor, name)
            if name in spec.renames:
                arg, transform = spec.renames[name]
                kwargs[arg] = transform(value)
            elif name in spec.per_model:
                continue  # a global default of a per-model parameter, applied below
            else:
                kwargs[name] = value
        models = self.fine_tuned()
        for yaml_name, (arg, transform) in spec.per_model.items():
            values = []
            for entry in models:
                if yaml_name in entry.parameters:
                    values.append(transform(resolve_value(entry.parameters[yaml_name], tensor, yaml_name)))
                elif yaml_name in self.parameters:
                    values.append(transform(resolve_value(self.parameters[yaml_name], tensor, yaml_name)))
                elif arg in spec.defaults:
                    values.append(spec.defaults[arg])
                else:
                    values.append(1.0)
            kwargs[arg] = values
        if spec.scale_argument and "lambda" in self.parameters:
            lam = float(resolve_value(self.parameters["lambda"], tensor, "lambda"))
            kwargs[spec.scale_argument] = [lam * v for v in kwargs[spec.scale_argument]]
            kwargs.pop("lambda", None)
        kwargs.update(spec.fixed)
        kwargs.update(spec.per_tensor_only)
        return kwargs


def _same_path(a: str, b: str) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def resolve_value(value, tensor: str, name: str):
    """A parameter's value for one tensor (mergekit's ``filter`` lists resolved)."""
    if isinstance(value, list):
        if all(isinstance(v, Mapping) for v in value):
            for entry in value:
                if "filter" not in entry or str(entry["filter"]) in tensor:
                    return entry["value"]
            raise ValueError(f"parameter {name!r}: no entry of its filter list matches tensor {tensor!r} "
                             "(add an entry without a filter as the default)")
        raise ValueError(f"parameter {name!r}: gradients (lists of values) are not supported; "
                         "use a number or a list of {filter, value} entries")
    return value


def _check_value(value, name: str) -> None:
    if isinstance(value, list):
        if value and all(isinstance(v, (int, float)) for v in value):
            raise ValueError(f"parameter {name!r}: gradients (lists of values) are not supported; "
                             "use a number or a list of {filter, value} entries")
        for entry in value:
            if not isinstance(entry, Mapping) or "value" not in entry or set(entry) - {"filter", "value"}:
                raise ValueError(f"parameter {name!r}: each list entry must be a mapping with 'value' "
                                 f"and optionally 'filter', got {entry!r}")
    elif not isinstance(value, (int, float, str, bool)) or value is None:
        raise ValueError(f"parameter {name!r} must be a number, string, boolean or filter list, got {value!r}")


def parse_config(data: Mapping[str, Any], source: Path | None = None) -> MergeConfig:
    """Validate a config mapping (as loaded from YAML); errors name the offending field.

    Every problem is a ``ValueError``, also a wrongly typed field: it is the
    content of the user's file, which the command line reports as bad input.
    """
    if not isinstance(data, Mapping):
        raise ValueError("merge config must be a mapping with merge_method and models")  # noqa: TRY004
    unknown = sorted(set(data) - set(_TOP_LEVEL))
    if unknown:
        raise ValueError(f"merge config: unknown field(s) {unknown}; allowed: {list(_TOP_LEVEL)}")
    method = data.get("merge_method")
    if method not in METHODS:
        raise ValueError(f"merge config: unknown merge_method {method!r}; available: {sorted(METHODS)}")
    spec = METHODS[method]
    if data.get("tokenizer_source") not in (None, "base"):
        raise ValueError("merge config: only tokenizer_source 'base' is supported (files are copied from "
                         "the base model)")
    raw_models = data.get("models")
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
            _check_value(value, name)
        models.append(ModelEntry(entry["model"], dict(params)))
    base = data.get("base_model")
    if base is not None and not isinstance(base, str):
        raise ValueError(f"merge config: base_model must be a path, got {base!r}")
    if spec.takes_base and base is None:
        raise ValueError(f"merge config: merge_method {method!r} needs a base_model")
    params = data.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise ValueError("merge config: parameters must be a mapping")  # noqa: TRY004
    allowed = spec.global_parameters()
    for name, value in params.items():
        if name not in allowed and not (name == "lambda" and spec.scale_argument):
            raise ValueError(f"merge config: unknown parameter {name!r} for method {method!r}; "
                             f"allowed: {allowed + (['lambda'] if spec.scale_argument else [])}")
        _check_value(value, name)
    dtype = data.get("out_dtype") or data.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"merge config: unknown dtype {dtype!r}; use one of {sorted(DTYPES)}")
    config = MergeConfig(method, tuple(models), base, dict(params), dtype, source)
    if not config.fine_tuned():
        raise ValueError("merge config: models lists no model besides the base model")
    return config


def load_config(path) -> MergeConfig:
    """Read and validate a YAML merge config."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"merge config {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"merge config {str(path)!r} is not valid YAML: {exc}") from None
    return parse_config(data, source=path)
