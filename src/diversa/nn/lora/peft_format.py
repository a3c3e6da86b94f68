"""LoRA adapters in PEFT's file format, both ways.

A PEFT LoRA adapter is a directory with ``adapter_config.json`` (a
``peft.LoraConfig``: ``peft_type: "LORA"``, ``r``, ``lora_alpha``,
``target_modules``, ``rank_pattern``, ``alpha_pattern``, ``use_rslora``, ...)
and ``adapter_model.safetensors`` whose keys are
``base_model.model.<module path>.lora_A.weight`` (r x in) and
``...lora_B.weight`` (out x r), the adapter name left out. :func:`save_adapter`
writes that layout from a model adapted with :func:`~diversa.nn.lora.apply_lora`,
so ``peft.PeftModel.from_pretrained(base, directory)`` loads it;
:func:`load_adapter` reads one written by ``PeftModel.save_pretrained``.

Only plain LoRA on ``nn.Linear`` layers is exchanged; a file that needs more
(DoRA, LoRA biases, ``fan_in_fan_out``, ``modules_to_save``, trainable
tokens, embedding or parameter targets) is refused with the field named,
rather than loaded into something that computes a different function.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from diversa.nn.lora.inject import (
    _inside,
    _target_matches,
    adapter_layers,
    install_layers,
    match_pattern,
    restore_grad_flags_on_error,
    split_lora_key,
)
from diversa.nn.lora.linear import LinearAdapter, LoRALinear

__all__ = ["CONFIG_NAME", "PEFT_PREFIX", "WEIGHTS_NAME", "PeftAdapter", "load_adapter", "read_adapter",
           "save_adapter"]

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
_LEGACY_WEIGHTS_NAME = "adapter_model.bin"
# LoraConfig fields whose non-default values change what the adapter computes and that we do not implement.
_UNSUPPORTED = ("use_dora", "lora_bias", "fan_in_fan_out", "modules_to_save", "trainable_token_indices",
                "target_parameters", "layer_replication", "alora_invocation_tokens", "use_qalora", "use_bdlora")


class PeftAdapter(NamedTuple):
    """A PEFT LoRA adapter read from disk: ``config`` (the JSON as a dict) and ``weights``
    ``{"<module path>.lora_A.weight": A (r x in), "<module path>.lora_B.weight": B (out x r)}``,
    module paths relative to the base model (PEFT's ``base_model.model.`` prefix removed)."""

    config: dict
    weights: dict[str, torch.Tensor]


def _most_common(values: list):
    return Counter(values).most_common(1)[0][0]


def _peft_targets(model: nn.Module, names: list[str]) -> list[str]:
    """Short names (``q_proj``) when they select exactly the adapted modules, else the full module paths."""
    leaves = sorted({name.rsplit(".", 1)[-1] for name in names})
    prefixes = [n for n, m in model.named_modules() if isinstance(m, LinearAdapter)]
    selected = {n for n, m in model.named_modules()
                if n and isinstance(m, nn.Linear | LinearAdapter) and not _inside(n, prefixes)
                and _target_matches(n, tuple(leaves))}
    return leaves if selected == set(names) else sorted(names)


def _config(model: nn.Module, layers: dict[str, LoRALinear], base_model_name_or_path) -> dict:
    for field in ("use_rslora", "dropout_p"):
        values = {getattr(layer, field) for layer in layers.values()}
        if len(values) > 1:
            raise ValueError(f"save_adapter: PEFT's LoraConfig has one {field.replace('_p', '')} for all layers, "
                             f"but the model's LoRA layers use {sorted(values)}.")
    names = list(layers)
    r = _most_common([layer.r for layer in layers.values()])
    alpha = _most_common([layer.alpha for layer in layers.values()])
    first = next(iter(layers.values()))
    return {
        "peft_type": "LORA",
        "task_type": None,
        "auto_mapping": {"base_model_class": type(model).__name__, "parent_library": type(model).__module__},
        "base_model_name_or_path": base_model_name_or_path,
        "revision": None,
        "inference_mode": True,
        "r": r,
        "lora_alpha": int(alpha) if float(alpha).is_integer() else alpha,
        "lora_dropout": first.dropout_p,
        "use_rslora": first.use_rslora,
        "target_modules": _peft_targets(model, names),
        "exclude_modules": None,
        "rank_pattern": {n: layer.r for n, layer in layers.items() if layer.r != r},
        "alpha_pattern": {n: layer.alpha for n, layer in layers.items() if layer.alpha != alpha},
        "bias": "none",
        "fan_in_fan_out": False,
        "init_lora_weights": True,
        "layers_to_transform": None,
        "layers_pattern": None,
        "modules_to_save": None,
        "use_dora": False,
        "lora_bias": False,
    }


def save_adapter(model: nn.Module, directory: str | os.PathLike, base_model_name_or_path: str | None = None) -> Path:
    """Write the model's LoRA layers as a PEFT adapter directory; returns its path.

    ``directory`` gets ``adapter_config.json`` and ``adapter_model.safetensors``
    (created if missing; existing adapter files are replaced). Per-layer ranks
    and alphas that differ from the most common one go into ``rank_pattern`` /
    ``alpha_pattern`` under their full module path. Both files are written to
    temporary names first, so a failure leaves no partial adapter behind.
    """
    layers = adapter_layers(model, LoRALinear)
    if not layers:
        raise ValueError(f"save_adapter: {type(model).__name__} has no LoRALinear layers (use apply_lora first).")
    config = _config(model, layers, base_model_name_or_path)
    weights = {f"{PEFT_PREFIX}{name}.{which}.weight": getattr(layer, which).weight.detach().cpu().contiguous()
               for name, layer in layers.items() for which in ("lora_A", "lora_B")}
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ValueError(f"save_adapter: directory {str(path)!r} exists and is not a directory.")
    path.mkdir(parents=True, exist_ok=True)
    staged = []
    try:
        for name, write in ((WEIGHTS_NAME, lambda f: save_file(weights, f, metadata={"format": "pt"})),
                            (CONFIG_NAME, lambda f: Path(f).write_text(json.dumps(config, indent=2, sort_keys=True)
                                                                       + "\n"))):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=path)
            os.close(fd)
            staged.append((tmp, path / name))
            write(tmp)
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.remove(tmp)
    return path


def read_adapter(directory: str | os.PathLike) -> PeftAdapter:
    """Read a PEFT LoRA adapter directory into a :class:`PeftAdapter` (config and weights by module path).

    Accepts ``adapter_model.safetensors`` or the older ``adapter_model.bin``.
    Raises FileNotFoundError for a missing file and ValueError for a config or
    key this package cannot honour exactly.
    """
    path = Path(directory)
    config_file = path / CONFIG_NAME
    if not config_file.is_file():
        raise FileNotFoundError(f"{str(config_file)!r} not found: not a PEFT adapter directory.")
    config = json.loads(config_file.read_text())
    if config.get("peft_type") != "LORA":
        raise ValueError(f"{str(config_file)!r}: peft_type is {config.get('peft_type')!r}; only 'LORA' is supported.")
    for field in _UNSUPPORTED:
        if config.get(field):
            raise ValueError(f"{str(config_file)!r}: {field}={config[field]!r} is not supported "
                             "(only plain LoRA on linear layers).")
    if config.get("bias", "none") != "none":
        raise ValueError(f"{str(config_file)!r}: bias={config['bias']!r} is not supported (only 'none').")
    if (path / WEIGHTS_NAME).is_file():
        raw = load_file(path / WEIGHTS_NAME)
    elif (path / _LEGACY_WEIGHTS_NAME).is_file():
        raw = torch.load(path / _LEGACY_WEIGHTS_NAME, map_location="cpu", weights_only=True)
    else:
        raise FileNotFoundError(f"{str(path)!r} has neither {WEIGHTS_NAME} nor {_LEGACY_WEIGHTS_NAME}.")
    weights = {}
    for key, tensor in raw.items():
        if not key.startswith(PEFT_PREFIX):
            raise ValueError(f"{WEIGHTS_NAME}: key {key!r} does not start with PEFT's {PEFT_PREFIX!r}.")
        split_lora_key(key)  # raises for anything that is not a LoRA A/B matrix
        weights[key[len(PEFT_PREFIX):]] = tensor
    return PeftAdapter(config, weights)


def _pairs(weights: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        module, which = split_lora_key(key)
        pairs.setdefault(module, {})[which] = tensor
    for module, pair in pairs.items():
        if set(pair) != {"lora_A", "lora_B"}:
            raise ValueError(f"adapter has only {sorted(pair)} for {module!r}; LoRA needs both lora_A and lora_B.")
        A, B = pair["lora_A"], pair["lora_B"]
        if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[1]:
            raise ValueError(f"{module}: lora_A {tuple(A.shape)} and lora_B {tuple(B.shape)} do not form a "
                             "rank-r pair (A is r x in, B is out x r).")
    return pairs


def _base_of(model: nn.Module, module: str, hint: str) -> nn.Linear:
    try:
        layer = model.get_submodule(module)
    except AttributeError:
        raise ValueError(f"the adapter has weights for {module!r}, which {type(model).__name__} lacks{hint}.") from None
    if isinstance(layer, LoRALinear):
        if layer.merged:
            raise ValueError(f"{module} holds a merged LoRA; unmerge it before loading another adapter.")
        return layer.base_layer
    if not isinstance(layer, nn.Linear):
        raise ValueError(f"the adapter targets {module!r}, which is a {type(layer).__name__}, "
                         f"not a Linear layer{hint}.")
    return layer


def _check_coverage(model: nn.Module, config: dict, modules: set[str], hint: str) -> None:
    """Modules the config's target_modules select but the file has no weights for mean another base model."""
    targets = config.get("target_modules")
    if not targets or targets == "all-linear" or config.get("layers_to_transform") is not None:
        return
    targets = targets if isinstance(targets, str) else tuple(targets)
    excluded = config.get("exclude_modules") or ()
    prefixes = [n for n, m in model.named_modules() if isinstance(m, LinearAdapter)]
    uncovered = [n for n, m in model.named_modules()
                 if n and isinstance(m, nn.Linear | LoRALinear) and not _inside(n, prefixes)
                 and _target_matches(n, targets) and n not in modules
                 and not (excluded and _target_matches(n, excluded if isinstance(excluded, str) else tuple(excluded)))]
    if uncovered:
        raise ValueError(f"the adapter's target_modules {targets!r} select {len(uncovered)} module(s) of "
                         f"{type(model).__name__} it has no weights for ({', '.join(uncovered[:6])}"
                         f"{', ...' if len(uncovered) > 6 else ''}){hint}.")


def load_adapter(model: nn.Module, directory: str | os.PathLike, trainable: bool = False) -> nn.Module:
    """Load a PEFT LoRA adapter directory into ``model`` (in place) and return it.

    Every module with weights in the file becomes a :class:`LoRALinear` with
    the file's rank, ``lora_alpha`` (or its ``alpha_pattern``/``rank_pattern``
    entry), dropout and ``use_rslora``; a LoRA layer already there is
    replaced. The base model is frozen; the LoRA weights train only with
    ``trainable=True`` (PEFT's ``is_trainable``). The whole adapter is checked
    first: a module the model lacks, a layer whose shape differs from the
    matrices, or target modules the file has no weights for (an adapter for
    another base) raise a ValueError naming the module and shapes, and the
    model is left unchanged.
    """
    adapter = read_adapter(directory)
    config = adapter.config
    saved_for = (config.get("auto_mapping") or {}).get("base_model_class") or config.get("base_model_name_or_path")
    hint = f" (the adapter was saved for {saved_for})" if saved_for else ""
    pairs = _pairs(adapter.weights)
    if not pairs:
        raise ValueError(f"{str(directory)!r}: the adapter holds no LoRA weights.")
    _check_coverage(model, config, set(pairs), hint)
    with restore_grad_flags_on_error(model):
        layers = {module: _layer_from_file(model, module, pair, config, hint) for module, pair in pairs.items()}
    for layer in layers.values():
        layer.lora_A.weight.requires_grad_(trainable)
        layer.lora_B.weight.requires_grad_(trainable)
    return install_layers(model, layers)


def _layer_from_file(model: nn.Module, module: str, pair: dict[str, torch.Tensor], config: dict,
                     hint: str) -> LoRALinear:
    base = _base_of(model, module, hint)
    A, B = pair["lora_A"], pair["lora_B"]
    shape = f"Linear(in_features={base.in_features}, out_features={base.out_features})"
    if A.shape[1] != base.in_features or B.shape[0] != base.out_features:
        raise ValueError(f"{module}: the adapter's lora_A {tuple(A.shape)} and lora_B {tuple(B.shape)} make an "
                         f"update of shape ({B.shape[0]}, {A.shape[1]}), but the model's layer is {shape}{hint}.")
    r = match_pattern(module, config.get("rank_pattern"), config.get("r", 8))
    if r != A.shape[0]:
        raise ValueError(f"{module}: the config gives r={r} but the weights have rank {A.shape[0]}.")
    alpha = match_pattern(module, config.get("alpha_pattern"), config.get("lora_alpha", 8))
    try:
        layer = LoRALinear(base, r=r, alpha=alpha, dropout=config.get("lora_dropout", 0.0),
                           use_rslora=bool(config.get("use_rslora", False)))
    except ValueError as err:
        raise ValueError(f"{module} [{shape}]: {err}") from err
    with torch.no_grad():
        layer.lora_A.weight.copy_(A)
        layer.lora_B.weight.copy_(B)
    return layer
