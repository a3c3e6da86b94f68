"""What every layer-wise MoE compressor shares: fit statistics on calibration tokens, then rewrite layers.

A compressor follows scikit-learn's conventions (hyper-parameters in
``__init__``, learned state ending in ``_``): ``fit(model, X_calib,
token_mask=None)`` collects each MoE layer's calibration inputs and computes
its per-layer decisions; ``transform(model)`` returns a copy of the model with
every fitted layer replaced; ``fit_transform`` does both. A model that is a
single MoE layer works too (its name is ``""``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diversa.combine.moe.calibration import layer_inputs
from diversa.combine.moe.compressed import replace_layers
from diversa.combine.moe.experts import ExpertWeights, find_moe_layers, read_experts

__all__ = ["LayerwiseCompressor", "check_ratio"]


def check_ratio(value, name: str) -> float:
    """``value`` as a float in (0, 1], else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}.")
    return float(value)


class LayerwiseCompressor(BaseEstimator, ABC):
    """Base class: subclasses implement ``_fit_layer`` and ``_transform_layer``."""

    def fit(self, model: nn.Module, X_calib, token_mask: torch.Tensor | None = None):
        """Compute every MoE layer's statistics and decisions on calibration inputs ``X_calib``.

        ``X_calib`` is what ``model`` takes (tensor, tuple of arguments or
        mapping of keyword arguments); ``token_mask`` marks the tokens to
        count (e.g. ``input_ids != pad``). Returns ``self``.
        """
        self._validate_params()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        names = find_moe_layers(model)
        if not names:
            raise ValueError("model contains no supported MoE layer (diversa MoEFeedForward or MixtralSparseMoeBlock).")
        inputs = layer_inputs(model, X_calib, token_mask, names)
        modules = dict(model.named_modules())
        self.layers_ = names
        experts = {name: read_experts(modules[name]) for name in names}
        self._fit_layers(experts, inputs)
        return self

    def transform(self, model: nn.Module) -> nn.Module:
        """A copy of ``model`` with each fitted MoE layer replaced by its compressed version."""
        check_is_fitted(self, "layers_")
        modules = dict(model.named_modules())
        missing = [name for name in self.layers_ if name not in modules]
        if missing:
            raise ValueError(f"model has no MoE layers named {missing}; transform the model the compressor was fitted on.")
        with torch.no_grad():
            new = {name: self._transform_layer(name, modules[name]) for name in self.layers_}
        return replace_layers(model, new)

    def fit_transform(self, model: nn.Module, X_calib, token_mask: torch.Tensor | None = None) -> nn.Module:
        """``fit`` then ``transform`` the same model."""
        return self.fit(model, X_calib, token_mask).transform(model)

    # -- hooks for subclasses ------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Check the hyper-parameters (raise ValueError naming the bad one)."""

    @abstractmethod
    def _fit_layers(self, experts: dict[str, ExpertWeights], inputs: dict[str, torch.Tensor]) -> None:
        """Learn the per-layer state from each layer's experts and calibration tokens [N, d]."""

    @abstractmethod
    def _transform_layer(self, name: str, layer: nn.Module) -> nn.Module:
        """The compressed replacement of the fitted layer ``name``."""
