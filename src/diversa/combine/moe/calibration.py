"""The tokens each MoE layer of a model sees on a calibration batch.

Expert merging statistics (usage frequencies, router-logit similarity, expert
outputs) are computed on the inputs of each MoE layer, which depend on the
layers below. :func:`layer_inputs` runs the model once with forward pre-hooks
on every MoE layer and returns those inputs as ``[N, d]`` token matrices, so
the merging code works on any model that contains supported MoE layers.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from diversa.combine.moe.experts import find_moe_layers

__all__ = ["layer_inputs"]


def _run(model: nn.Module, X_calib) -> None:
    if isinstance(X_calib, Mapping):
        model(**X_calib)
    elif isinstance(X_calib, tuple):
        model(*X_calib)
    else:
        model(X_calib)


@torch.no_grad()
def layer_inputs(model: nn.Module, X_calib, token_mask: torch.Tensor | None = None,
                 layers: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Inputs ``[N, d]`` (float32) of the MoE layers of ``model`` on ``X_calib``, by layer name.

    ``X_calib``: what ``model`` takes (a tensor, a tuple of positional
    arguments or a mapping of keyword arguments). ``token_mask`` (bool, one
    entry per token the layers see, e.g. ``input_ids != pad`` of shape
    [B, L]) keeps only the marked tokens. ``layers`` defaults to
    :func:`~diversa.combine.moe.experts.find_moe_layers`. The model runs in
    eval mode and is left in the mode it was in.
    """
    names = find_moe_layers(model) if layers is None else list(layers)
    if not names:
        raise ValueError("model contains no supported MoE layer (diversa MoEFeedForward or MixtralSparseMoeBlock).")
    modules = dict(model.named_modules())
    captured: dict[str, torch.Tensor] = {}
    hooks = []
    for name in names:
        if name not in modules:
            raise ValueError(f"model has no submodule named {name!r}.")

        def hook(module, args, kwargs, name=name):
            x = args[0] if args else next(iter(kwargs.values()))
            captured[name] = x.detach().reshape(-1, x.shape[-1]).float()

        hooks.append(modules[name].register_forward_pre_hook(hook, with_kwargs=True))
    was_training = model.training
    model.eval()
    try:
        _run(model, X_calib)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    missing = [name for name in names if name not in captured]
    if missing:
        raise ValueError(f"the calibration batch never reached MoE layers {missing}.")
    if token_mask is not None:
        keep = torch.as_tensor(token_mask).reshape(-1).to(torch.bool)
        for name, x in captured.items():
            if keep.numel() != x.shape[0]:
                raise ValueError(f"token_mask has {keep.numel()} entries but layer {name!r} saw {x.shape[0]} tokens.")
            captured[name] = x[keep]
    for name, x in captured.items():
        if x.shape[0] == 0:
            raise ValueError(f"the calibration batch is empty (no tokens reach layer {name!r}).")
    return captured
