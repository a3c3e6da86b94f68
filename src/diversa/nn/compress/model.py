"""One-call post-training compression of a model's linear layers and embedding tables (AFM or SVD).

:func:`compress_state_dict` is the pure weight operation: a state dict, per-layer output statistics
and a plan ``{layer_name: rank}`` in, the state dict of the compressed model out (``<name>.A.*`` /
``<name>.B.*`` for a linear layer, ``<name>.table.*`` / ``<name>.up.*`` for an embedding).
:func:`compress` wraps it for a live model: it collects the statistics over a calibration set
(:func:`~diversa.nn.compress.stats.collect_output_stats`), builds a copy of the model with the planned
``nn.Linear`` / ``nn.Embedding`` modules swapped for :class:`LowRankLinear` /
:class:`LowRankEmbedding`, loads the factors strictly, and, when the model knows how
(a ``fuse_low_rank_embeddings()`` method, as :class:`~diversa.nn.models.ctr.DeepFM` has), folds the
embeddings' up-projections into the first dense layer. Yu, Fu, Ding, Zhou, Wu, arXiv:2405.18146
(KDD 2024), spec ``tabular.md#afm-ctr``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping

import torch
from torch import nn

from diversa.nn.compress.factorize import (
    afm_factorize_embedding,
    afm_factorize_linear,
    svd_factorize_embedding,
    svd_factorize_linear,
)
from diversa.nn.compress.layers import ACTIVATIONS, LowRankEmbedding, LowRankLinear
from diversa.nn.compress.stats import OutputStats, collect_output_stats

__all__ = ["METHODS", "compress", "compress_from_stats", "compress_state_dict", "count_parameters"]

METHODS = ("afm", "svd")


def count_parameters(model: nn.Module) -> int:
    """Number of scalars in the model's parameters (what the compression ratio is counted on)."""
    return int(sum(p.numel() for p in model.parameters()))


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")


def _check_plan(plan) -> dict[str, int]:
    if not isinstance(plan, Mapping) or not plan:
        raise ValueError(f"plan must be a non-empty mapping {{layer_name: rank}}, got {plan!r}.")
    return dict(plan)


def _factorize(name, state_dict, stats, rank, method, is_embedding):
    weight = state_dict[f"{name}.weight"]
    try:
        if is_embedding:
            if method == "svd":
                return svd_factorize_embedding(weight, rank)
            return afm_factorize_embedding(weight, stats[name].mean, stats[name].cov, rank)
        bias = state_dict.get(f"{name}.bias")
        if method == "svd":
            return svd_factorize_linear(weight, bias, rank)
        return afm_factorize_linear(weight, bias, stats[name].mean, stats[name].cov, rank)
    except (ValueError, TypeError) as error:
        raise type(error)(f"plan[{name!r}]: {error}") from None


def compress_state_dict(state_dict: Mapping[str, torch.Tensor], stats: Mapping[str, OutputStats] | None,
                        plan: Mapping[str, int], method: str = "afm", *,
                        embeddings: Collection[str] = ()) -> dict[str, torch.Tensor]:
    """A new state dict with each planned layer replaced by its rank-``plan[name]`` factors.

    ``embeddings`` names the planned layers that are embedding tables (``<name>.weight`` of shape
    (V, d)); the others are linear layers (``<name>.weight`` (d_out, d_in), optional ``<name>.bias``).
    ``stats`` maps layer names to their output statistics (needed for ``method="afm"``, ignored
    for ``"svd"``). The input is not modified; untouched tensors are shared, not copied.
    """
    _check_method(method)
    plan = _check_plan(plan)
    new = dict(state_dict)
    for name, rank in plan.items():
        if f"{name}.weight" not in state_dict:
            raise ValueError(f"plan: no tensor {name + '.weight'!r} in the state dict.")
        if method == "afm" and (stats is None or name not in stats):
            raise ValueError(f"stats: method 'afm' needs output statistics for layer {name!r}.")
        factors = _factorize(name, state_dict, stats, rank, method, name in embeddings)
        new.pop(f"{name}.weight")
        new.pop(f"{name}.bias", None)
        new.update({f"{name}.{key}": value for key, value in factors.items()})
    return new


def _planned_modules(model: nn.Module, plan: Mapping[str, int]) -> dict[str, nn.Module]:
    modules = dict(model.named_modules())
    unknown = [name for name in plan if name not in modules]
    if unknown:
        raise ValueError(f"plan: no module named {unknown} in the model.")
    for name in plan:
        if not isinstance(modules[name], (nn.Linear, nn.Embedding)):
            raise TypeError(f"plan[{name!r}]: only nn.Linear and nn.Embedding layers can be compressed, "
                            f"got {type(modules[name]).__name__}.")
    return {name: modules[name] for name in plan}


def _low_rank_twin(module: nn.Module, rank: int, activation: str | None) -> nn.Module:
    if isinstance(module, nn.Embedding):
        return LowRankEmbedding(module.num_embeddings, module.embedding_dim, rank)
    return LowRankLinear(module.in_features, module.out_features, rank, activation)


def compress_from_stats(model: nn.Module, stats: Mapping[str, OutputStats] | None, plan: Mapping[str, int],
                        method: str = "afm", *, activation: str | None = None, fuse: bool = True) -> nn.Module:
    """A compressed copy of ``model`` from already collected ``stats`` (see :func:`compress`)."""
    _check_method(method)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}.")
    plan = _check_plan(plan)
    modules = _planned_modules(model, plan)
    embeddings = {name for name, module in modules.items() if isinstance(module, nn.Embedding)}
    state = compress_state_dict(model.state_dict(), stats, plan, method, embeddings=embeddings)
    compressed = copy.deepcopy(model)
    for name, module in modules.items():
        twin = _low_rank_twin(module, plan[name], activation).to(module.weight.device, module.weight.dtype)
        compressed.set_submodule(name, twin)
    compressed.load_state_dict(state, strict=True)
    if fuse and embeddings and hasattr(compressed, "fuse_low_rank_embeddings"):
        compressed.fuse_low_rank_embeddings()
    return compressed


def compress(model: nn.Module, calibration, plan: Mapping[str, int], method: str = "afm", *,
             activation: str | None = None, fuse: bool = True, batch_size: int = 4096,
             forward: Callable | None = None) -> nn.Module:
    """Compress the planned layers of ``model`` post-training; the original is left untouched.

    ``calibration``: a tensor, a tuple of tensors (the model's positional inputs) or an iterable of
    batches (e.g. a DataLoader) whose outputs define each layer's principal subspace (AFM).
    ``plan``: ``{module_name: rank}`` for ``nn.Linear`` / ``nn.Embedding`` modules. ``method``:
    ``"afm"`` (output PCA, Yu et al. 2024) or ``"svd"`` (truncated weight SVD, same shapes; the
    calibration set is then unused and may be None). ``activation``: None for the exact form,
    ``"relu"`` for the Act variant of the linear layers. ``fuse``: fold compressed embeddings into
    the next dense layer where the model supports it. ``forward(model, batch)`` overrides how a batch
    is fed (default ``model(*batch)`` for tuples, ``model(batch)`` otherwise).
    """
    _check_method(method)
    plan = _check_plan(plan)
    _planned_modules(model, plan)
    stats = None
    if method == "afm":
        stats = collect_output_stats(model, calibration, list(plan), batch_size=batch_size, forward=forward)
    return compress_from_stats(model, stats, plan, method, activation=activation, fuse=fuse)
