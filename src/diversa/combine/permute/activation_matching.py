"""Activation matching: permute one model's hidden units to line up with another's activations.

Ainsworth, Hayase, Srinivasa, "Git Re-Basin", ICLR 2023 (arXiv:2209.04836),
section 3.1 (after Li et al. 2016 and Tatro et al. 2020): run both models on
the same inputs, and for each permutation match units by the correlation of
their activations, ``C[i, j] = corr(z_a[:, i], z_b[:, j])``, solved as a linear
assignment (each permutation on its own: activations of a layer do not depend
on how later layers are ordered). Ito, Yamada, Kumagai (ICLR 2025,
arXiv:2402.04051) show that it aligns the same dominant singular directions as
weight matching.

The activations of a permutation are the outputs of every traced node that
carries it (:attr:`PermutationSpec.sites`: a layer's pre- and post-activation,
every point of a residual stream); their correlation matrices are summed.
Permutations that no node exposes -- the heads inside ``nn.MultiheadAttention``,
whose per-head outputs stay inside the layer -- are then found by weight
matching with the activation-matched permutations held fixed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from diversa.combine.permute.spec import PermutationSpec, identity_permutation
from diversa.combine.permute.trace import capture_activations, permutation_spec
from diversa.combine.permute.weight_matching import check_same_architecture, weight_matching

__all__ = ["activation_matching", "correlation"]


def correlation(z_a: torch.Tensor, z_b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation between the columns of ``z_a`` (m, n) and ``z_b`` (m, n): an (n, n) float64 matrix."""
    a = z_a.to(torch.float64)
    b = z_b.to(torch.float64)
    a = (a - a.mean(0)) / (a.std(0, unbiased=False) + eps)
    b = (b - b.mean(0)) / (b.std(0, unbiased=False) + eps)
    return a.T @ b / a.shape[0]


@contextlib.contextmanager
def _eval_mode(*models: nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for model in models for m in model.modules()]
    for model in models:
        model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _columns(activation: torch.Tensor, dim: int) -> torch.Tensor:
    """Activations as (samples, units): every other axis (batch, positions, pixels) counts as a sample."""
    return activation.movedim(dim, -1).reshape(-1, activation.shape[dim])


def activation_matching(model_a: nn.Module, model_b: nn.Module, inputs, spec: PermutationSpec | None = None,
                        rules: Mapping[type, Callable] | None = None, random_state: int = 0
                        ) -> dict[str, torch.Tensor]:
    """Permutations of ``model_b``'s units that maximise the correlation of its activations with ``model_a``'s.

    Ainsworth et al. (arXiv:2209.04836) section 3.1 (see the module
    docstring). ``inputs``: one batch (a tensor or a tuple of tensors) both
    models run on, in eval mode; ``spec``: the models' spec (derived from
    ``model_a`` on ``inputs`` when None); ``rules``: extra tracer rules;
    ``random_state``: seeds the weight matching of permutations without
    activation sites. Returns ``{name: LongTensor (n,)}`` for
    ``apply_permutation(spec, perm, model_b.state_dict())``. Raises
    ``ValueError`` when the models differ in architecture.
    """
    for name, model in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(model, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    if spec is None:
        spec = permutation_spec(model_a, inputs, rules)
        spec_b = permutation_spec(model_b, inputs, rules)
        if (spec_b.axes_to_perm, spec_b.sizes, spec_b.sites) != (spec.axes_to_perm, spec.sizes, spec.sites):
            raise ValueError("the models differ in architecture: their traced permutation specs differ")
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    check_same_architecture(spec, state_a, state_b)
    nodes = sorted({node for sites in spec.sites.values() for node, _ in sites})
    with _eval_mode(model_a, model_b):
        acts_a = capture_activations(model_a, inputs, nodes, rules)
        acts_b = capture_activations(model_b, inputs, nodes, rules)
    perm = identity_permutation(spec)
    for name, sites in spec.sites.items():
        cost = sum(correlation(_columns(acts_a[node], dim), _columns(acts_b[node], dim)) for node, dim in sites)
        _, columns = linear_sum_assignment(np.nan_to_num(cost.numpy()), maximize=True)
        perm[name] = torch.from_numpy(columns).long()
    rest = [name for name in spec.names if name not in spec.sites]
    if rest:
        perm = weight_matching(spec, state_a, state_b, init_perm=perm, perms=rest, random_state=random_state)
    return perm
