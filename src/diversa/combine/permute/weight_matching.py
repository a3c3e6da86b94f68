"""Weight matching: permute one model's hidden units to line up with another's weights.

Ainsworth, Hayase, Srinivasa, "Git Re-Basin: Merging Models modulo Permutation
Symmetries", ICLR 2023 (arXiv:2209.04836), Algorithm 1; analysed by Ito,
Yamada, Kumagai, "Analysis of Linear Mode Connectivity via Permutation-Based
Weight Matching", ICLR 2025 (arXiv:2402.04051). Weight matching maximises the
inner product of the two models' weights over the permutations of a spec,

    sum over tensors W of <W_a, pi(W_b)>,

by coordinate descent: sweep over the permutations in a random order (seeded
per sweep); for each, with every other permutation held fixed, the objective is
linear in it, ``<C, P>`` with ``C = sum_(W, axis) A~ B~^T`` where ``A~`` is
``W_a`` with ``axis`` moved first and reshaped to ``(n, -1)`` (unit-wise for
blocks such as attention heads) and ``B~`` likewise from ``W_b`` with the other
permutations applied; ``scipy.optimize.linear_sum_assignment`` solves it
exactly. A sweep that improves no permutation by more than 1e-12 ends the
search (it terminates: the objective only increases and the set is finite).
Costs are accumulated in float64 to avoid assignment ties from round-off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from diversa.combine.permute.spec import AxisPerm, PermutationSpec, _check_perm, identity_permutation, permute_tensor

__all__ = ["check_same_architecture", "matching_objective", "weight_matching"]


def check_same_architecture(spec: PermutationSpec, params_a: Mapping[str, torch.Tensor],
                            params_b: Mapping[str, torch.Tensor]) -> None:
    """Raise one ``ValueError`` naming the tensor when the two models cannot be aligned under ``spec``."""
    for name, params in (("params_a", params_a), ("params_b", params_b)):
        if not isinstance(params, Mapping):
            raise TypeError(f"{name} must be a state dict (mapping of name to tensor), got {type(params).__name__}")
    spec.check(params_a, "params_a")
    try:
        spec.check(params_b, "params_b")
    except ValueError as exc:
        raise ValueError(f"the models differ in architecture: {exc}") from None
    for key in spec.axes_to_perm:
        if params_a[key].shape != params_b[key].shape:
            raise ValueError(f"the models differ in architecture: tensor {key!r} has shape "
                             f"{list(params_a[key].shape)} in params_a and {list(params_b[key].shape)} in params_b")


def _units(tensor: torch.Tensor, axis: int, a: AxisPerm, n: int) -> torch.Tensor:
    """``tensor`` as ``(n, -1)``: one row per permuted unit (all its entries, blocks and repeats)."""
    t = tensor.movedim(axis, 0).reshape(a.repeat, n, a.block, -1)
    return t.transpose(0, 1).reshape(n, -1)


def _cost(spec: PermutationSpec, name: str, a64, b64, perm) -> np.ndarray:
    n = spec.sizes[name]
    cost = torch.zeros(n, n, dtype=torch.float64)
    for key, axis, a in spec.perm_to_axes[name]:
        b = permute_tensor(spec, perm, key, b64[key], except_axis=axis)
        cost += _units(a64[key], axis, a, n) @ _units(b, axis, a, n).T
    return cost.numpy()


def weight_matching(spec: PermutationSpec, params_a: Mapping[str, torch.Tensor],
                    params_b: Mapping[str, torch.Tensor], max_iter: int = 100,
                    init_perm: Mapping[str, torch.Tensor] | None = None, random_state: int = 0,
                    perms: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Permutations of ``params_b``'s units that maximise its weights' inner product with ``params_a``.

    Ainsworth et al. (arXiv:2209.04836) Algorithm 1 (see the module docstring).
    ``spec``: the models' :class:`~diversa.combine.permute.spec.PermutationSpec`;
    ``max_iter``: most sweeps; ``init_perm``: the start (default identity);
    ``random_state``: seeds the order of the permutations in each sweep;
    ``perms``: optimise only these permutations (the others stay at
    ``init_perm``). Returns ``{name: LongTensor (n,)}`` such that
    ``apply_permutation(spec, perm, params_b)`` is aligned to ``params_a``.
    Raises ``ValueError`` when the models do not fit the spec or differ in shape.
    """
    check_same_architecture(spec, params_a, params_b)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    perm = identity_permutation(spec)
    if init_perm is not None:
        _check_perm(spec, init_perm)
        perm.update({k: v.long().clone() for k, v in init_perm.items()})
    names = spec.names if perms is None else list(perms)
    unknown = [p for p in names if p not in spec.sizes]
    if unknown:
        raise ValueError(f"perms: {unknown} are not permutations of the spec ({spec.names})")
    a64 = {k: params_a[k].detach().to(torch.float64) for k in spec.axes_to_perm}
    b64 = {k: params_b[k].detach().to(torch.float64) for k in spec.axes_to_perm}
    rng = np.random.default_rng(random_state)
    for _ in range(max_iter):
        progress = False
        for i in rng.permutation(len(names)):
            name = names[i]
            cost = _cost(spec, name, a64, b64, perm)
            _, columns = linear_sum_assignment(cost, maximize=True)
            rows = np.arange(len(columns))
            old = cost[rows, perm[name].numpy()].sum()
            new = cost[rows, columns].sum()
            if new > old + 1e-12:
                progress = True
                perm[name] = torch.from_numpy(columns).long()
        if not progress:
            break
    return perm


def matching_objective(spec: PermutationSpec, perm: Mapping[str, torch.Tensor],
                       params_a: Mapping[str, torch.Tensor], params_b: Mapping[str, torch.Tensor]) -> float:
    """The weight-matching objective ``sum_W <W_a, pi(W_b)>`` over the spec's tensors (float64)."""
    check_same_architecture(spec, params_a, params_b)
    _check_perm(spec, perm)
    total = 0.0
    for key in spec.axes_to_perm:
        b = permute_tensor(spec, perm, key, params_b[key].detach().to(torch.float64))
        total += float((params_a[key].detach().to(torch.float64) * b).sum())
    return total
