"""Put adapters into a model by module name, and read, load, merge and remove them.

Target matching follows PEFT's ``LoraConfig.target_modules``: a sequence of
names matches a module whose full name equals a name or ends with
``"." + name``; a single string is a regular expression that must match the
full module name. Unlike PEFT, every name in a sequence must match at least
one module, so a misspelt target is an error rather than a silently missing
adapter. Adapting is all-or-nothing: every new layer is built (and checked)
before the first one is put into the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from diversa.nn.lora.linear import LinearAdapter, LoRALinear

__all__ = ["DEFAULT_TARGETS", "adapter_layers", "apply_adapter", "apply_lora", "install_layers", "load_lora_state_dict",
           "lora_state_dict", "match_pattern", "merge_and_unload", "merge_lora", "unmerge_lora"]

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
_LORA_SUFFIXES = ("lora_A.weight", "lora_B.weight")


def _check_targets(target_modules) -> str | tuple[str, ...]:
    if isinstance(target_modules, str):
        try:
            re.compile(target_modules)
        except re.error as err:
            raise ValueError(f"target_modules is not a valid regular expression: {target_modules!r} ({err}).") from err
        return target_modules
    if not isinstance(target_modules, Sequence | set | frozenset) or not target_modules or \
            not all(isinstance(t, str) and t for t in target_modules):
        raise ValueError("target_modules must be a regular expression or a non-empty sequence of module names, "
                         f"got {target_modules!r}.")
    return tuple(target_modules)


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def _target_matches(name: str, targets: str | tuple[str, ...]) -> bool:
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(_matches(name, t) for t in targets)


def match_pattern(name: str, pattern: Mapping[str, object] | None, default):
    """PEFT's ``rank_pattern``/``alpha_pattern`` lookup: the value of the first key ``k`` with
    ``re.match(rf"(.*\\.)?({k})$", name)``, else ``default``."""
    for key, value in (pattern or {}).items():
        if re.match(rf"(.*\.)?({key})$", name):
            return value
    return default


def _adapted_prefixes(model: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, LinearAdapter)]


def _inside(name: str, prefixes: Sequence[str]) -> bool:
    return any(name.startswith(prefix + ".") for prefix in prefixes)


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def _linear_names(model: nn.Module, prefixes: Sequence[str]) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n and not _inside(n, prefixes)]


def _find_targets(model: nn.Module, targets) -> list[str]:
    """Names of the modules to adapt; ValueError for unmatched targets or non-Linear matches."""
    prefixes = _adapted_prefixes(model)
    matched = [n for n, _ in model.named_modules() if n and not _inside(n, prefixes) and _target_matches(n, targets)]
    linears = _linear_names(model, prefixes)
    shown = ", ".join(linears[:12]) + (", ..." if len(linears) > 12 else "") or "none"
    missing = ([targets] if not matched else []) if isinstance(targets, str) else \
        [t for t in targets if not any(_matches(n, t) for n in matched)]
    if missing:
        raise ValueError(f"target_modules {missing} match no module of {type(model).__name__}; "
                         f"its linear layers are: {shown}.")
    for name in matched:
        module = model.get_submodule(name)
        if isinstance(module, LinearAdapter):
            raise ValueError(f"module {name!r} already has an adapter ({type(module).__name__}); "
                             "remove it (merge_and_unload) before adapting it again.")
        if not isinstance(module, nn.Linear):
            raise ValueError(f"target module {name!r} is a {type(module).__name__}; only torch.nn.Linear layers "
                             f"can be adapted (linear layers: {shown}).")
    return matched


def apply_adapter(model: nn.Module, target_modules, make_layer: Callable[[str, nn.Linear], LinearAdapter]
                  ) -> nn.Module:
    """Replace every targeted ``nn.Linear`` of ``model`` by ``make_layer(name, linear)``, in place.

    All other parameters of the model are frozen (as ``peft.get_peft_model``
    does); the new layers' own parameters keep the trainability the layer gave
    them. Returns ``model``. On any error (a target that matches nothing, a
    matched module that is not ``nn.Linear``, a layer that rejects its
    arguments) the model is left exactly as it was, and the error names the
    module and its shape.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    targets = _check_targets(target_modules)
    names = _find_targets(model, targets)
    with restore_grad_flags_on_error(model):
        layers = {}
        for name in names:
            base = model.get_submodule(name)
            try:
                layers[name] = make_layer(name, base)
            except (ValueError, TypeError) as err:
                shape = f"Linear(in_features={base.in_features}, out_features={base.out_features})"
                raise type(err)(f"cannot adapt {name!r} [{shape}]: {err}") from err
            if not isinstance(layers[name], LinearAdapter):
                raise TypeError(f"make_layer must return a LinearAdapter, got {type(layers[name]).__name__}.")
    return install_layers(model, layers)


@contextmanager
def restore_grad_flags_on_error(model: nn.Module) -> Iterator[None]:
    """Undo ``requires_grad`` changes if the block raises: adapter layers built before a failure froze their bases."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        yield
    except BaseException:
        for p, flag in flags:
            p.requires_grad_(flag)
        raise


def install_layers(model: nn.Module, layers: Mapping[str, LinearAdapter]) -> nn.Module:
    """Put ``layers`` (``{module name: adapter layer}``) into ``model`` and freeze everything else.

    Parameters of adapter layers (new or already in the model), other than
    their ``base_layer``, keep their ``requires_grad``; all other parameters
    are frozen. The names must exist in ``model``. Returns ``model``.
    """
    existing = [m for m in model.modules() if isinstance(m, LinearAdapter)]
    keep = {id(p): p.requires_grad for layer in [*layers.values(), *existing]
            for n, p in layer.named_parameters() if not n.startswith("base_layer.")}
    for name, layer in layers.items():
        _set_submodule(model, name, layer)
    for p in model.parameters():
        p.requires_grad_(keep.get(id(p), False))
    return model


def apply_lora(model: nn.Module, target_modules=DEFAULT_TARGETS, r: int = 8, alpha: float = 16,
               dropout: float = 0.0, use_rslora: bool = False, init: str = "kaiming",
               rank_pattern: Mapping[str, int] | None = None,
               alpha_pattern: Mapping[str, float] | None = None) -> nn.Module:
    """Add LoRA (Hu et al. 2022, arXiv:2106.09685) to the targeted linear layers, in place; returns ``model``.

    The arguments mirror ``peft.LoraConfig``: ``r`` and ``alpha`` (PEFT's
    ``lora_alpha``) apply to every layer unless ``rank_pattern`` /
    ``alpha_pattern`` (``{regex: value}``, PEFT's matching) override them per
    module. Everything but the LoRA parameters is frozen. Nothing changes on
    error (see :func:`apply_adapter`).

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential()
        >>> model.add_module("q_proj", torch.nn.Linear(8, 8))
        >>> model.add_module("out", torch.nn.Linear(8, 2))
        >>> model = apply_lora(model, ["q_proj"], r=2, alpha=4)
        >>> type(model.q_proj).__name__, type(model.out).__name__
        ('LoRALinear', 'Linear')
        >>> sorted(n for n, p in model.named_parameters() if p.requires_grad)
        ['q_proj.lora_A.weight', 'q_proj.lora_B.weight']
    """
    def make_layer(name: str, base: nn.Linear) -> LoRALinear:
        return LoRALinear(base, r=match_pattern(name, rank_pattern, r), alpha=match_pattern(name, alpha_pattern, alpha),
                          dropout=dropout, use_rslora=use_rslora, init=init)
    return apply_adapter(model, target_modules, make_layer)


def adapter_layers(model: nn.Module, layer_type: type | tuple[type, ...] = LinearAdapter) -> dict[str, nn.Module]:
    """``{module name: layer}`` for every adapter layer of ``layer_type`` in ``model``, in module order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, layer_type)}


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA weights of every :class:`LoRALinear` in ``model``: ``{"<module>.lora_A.weight": A (r x in),
    "<module>.lora_B.weight": B (out x r)}`` (detached, sharing storage like ``state_dict``)."""
    out = {}
    for name, layer in adapter_layers(model, LoRALinear).items():
        out[f"{name}.lora_A.weight"] = layer.lora_A.weight.detach()
        out[f"{name}.lora_B.weight"] = layer.lora_B.weight.detach()
    return out


def split_lora_key(key: str) -> tuple[str, str]:
    """``"a.b.lora_A.weight"`` -> ``("a.b", "lora_A")``; ValueError for a key that is not a LoRA weight."""
    for suffix in _LORA_SUFFIXES:
        if key.endswith("." + suffix):
            return key[:-len(suffix) - 1], suffix.split(".")[0]
    raise ValueError(f"{key!r} is not a LoRA weight (expected '<module>.lora_A.weight' or '<module>.lora_B.weight').")


def load_lora_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True) -> nn.Module:
    """Copy LoRA weights (as :func:`lora_state_dict` returns them) into the model's :class:`LoRALinear` layers.

    Checks everything before copying anything: every key must name a LoRA
    layer of the model with a tensor of the same shape; with ``strict`` every
    LoRA layer must receive both of its matrices; merged layers are refused
    (their base weight holds the old update). Returns ``model``.
    """
    layers = adapter_layers(model, LoRALinear)
    plan = []
    for key, tensor in state_dict.items():
        module, which = split_lora_key(key)
        if module not in layers:
            raise ValueError(f"state_dict key {key!r}: the model has no LoRA layer {module!r} "
                             f"(LoRA layers: {', '.join(layers) or 'none'}).")
        param = getattr(layers[module], which).weight
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(param.shape):
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(f"{module}.{which}: shape {got} does not match the model's {tuple(param.shape)} "
                             f"(layer {layers[module].out_features} x {layers[module].in_features}, "
                             f"r={layers[module].r}).")
        if layers[module].merged:
            raise ValueError(f"{module} is merged; unmerge it before loading new LoRA weights.")
        plan.append((param, tensor))
    if strict:
        missing = [f"{m}.{s}" for m in layers for s in _LORA_SUFFIXES if f"{m}.{s}" not in state_dict]
        if missing:
            raise ValueError(f"state_dict lacks {len(missing)} LoRA weight(s) of the model: {missing[:6]}"
                             f"{' ...' if len(missing) > 6 else ''}.")
    with torch.no_grad():
        for param, tensor in plan:
            param.copy_(tensor)
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """:meth:`LoRALinear.merge` on every unmerged LoRA layer of ``model``; returns ``model``."""
    for layer in adapter_layers(model, LoRALinear).values():
        if not layer.merged:
            layer.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """:meth:`LoRALinear.unmerge` on every merged LoRA layer of ``model``; returns ``model``."""
    for layer in adapter_layers(model, LoRALinear).values():
        if layer.merged:
            layer.unmerge()
    return model


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Fold every LoRA update into its base layer and put the plain ``nn.Linear`` back (PEFT's name).

    The base layers stay frozen (``requires_grad`` False) as adapting left them.
    """
    for name, layer in adapter_layers(model, LoRALinear).items():
        if not layer.merged:
            layer.merge()
        _set_submodule(model, name, layer.base_layer)
    return model
