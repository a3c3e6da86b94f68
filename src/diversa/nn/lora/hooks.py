"""Reach routed adapter layers inside a model whose forward you do not control.

A LoRA mixture sits inside, say, an attention block that calls
``self.q_proj(x)`` and expects a tensor back. Two context managers give the
caller what the layers' own ``forward`` offers, without storing anything on
the layers and without globals (the same approach as PEFT's forward hooks
for per-row ``adapter_names``):

- :func:`forward_kwargs` passes extra keyword arguments to every call of the
  chosen layers (a routing override, a token mask);
- :func:`record_routing` asks every routed layer for its routing
  (``return_routing=True``), hands the caller's code the plain output, and
  collects ``(module name, routing)`` for each call in a list the caller
  owns; auxiliary losses are then computed from these records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

from torch import nn

from diversa.nn.lora.linear import LinearAdapter

__all__ = ["RecordedRouting", "forward_kwargs", "record_routing"]


class RecordedRouting(NamedTuple):
    """One call of a routed layer: its module ``name`` and the ``routing`` its forward returned."""

    name: str
    routing: Any


def _layers(model: nn.Module, layer_type) -> list[tuple[str, nn.Module]]:
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, layer_type)]
    if not layers:
        kind = layer_type.__name__ if isinstance(layer_type, type) else "/".join(t.__name__ for t in layer_type)
        raise ValueError(f"{type(model).__name__} has no {kind} layers.")
    return layers


@contextmanager
def forward_kwargs(model: nn.Module, layer_type: type | tuple[type, ...], **kwargs) -> Iterator[None]:
    """Within the block, every call of a ``layer_type`` layer in ``model`` gets ``**kwargs`` added.

    Example: hard routing of every LoRA mixture by the example's task,
    ``with forward_kwargs(model, LoRAMixerLinear, expert_weights=one_hot[:, None, :]): model(ids)``.
    The hooks are removed on exit, also on error.
    """
    def add(module, args, call_kwargs):
        return args, {**call_kwargs, **kwargs}

    with ExitStack() as stack:
        for _, layer in _layers(model, layer_type):
            stack.callback(layer.register_forward_pre_hook(add, with_kwargs=True).remove)
        yield


@contextmanager
def record_routing(model: nn.Module, layer_type: type | tuple[type, ...] | None = None
                   ) -> Iterator[list[RecordedRouting]]:
    """Collect the routing of every call of a routed layer in ``model`` during the block.

    Yields a list that fills with :class:`RecordedRouting` ``(name, routing)``
    in call order (a layer called twice appears twice). ``layer_type``
    defaults to every adapter layer whose class sets ``returns_routing``.
    The routing tensors stay in the autograd graph, so a balance loss computed
    from them trains the routers.
    """
    if layer_type is None:
        layer_type = tuple({type(m) for m in model.modules() if isinstance(m, LinearAdapter) and m.returns_routing})
        if not layer_type:
            raise ValueError(f"{type(model).__name__} has no routed adapter layers (such as LoRAMixerLinear "
                             "or SMoRALinear).")
    records: list[RecordedRouting] = []

    def ask(module, args, kwargs):
        return args, {**kwargs, "return_routing": True}

    def keep(name):
        def hook(module, args, kwargs, result):
            output, routing = result
            records.append(RecordedRouting(name, routing))
            return output
        return hook

    with ExitStack() as stack:
        for name, layer in _layers(model, layer_type):
            stack.callback(layer.register_forward_pre_hook(ask, with_kwargs=True).remove)
            stack.callback(layer.register_forward_hook(keep(name), with_kwargs=True).remove)
        yield records
