"""Permutation alignment of experts' hidden units before they are merged (weight matching).

Experts trained from different initialisations compute the same function
under any permutation of their hidden units, so averaging them unit by unit
mixes unrelated neurons. MC-SMoE (Li et al., ICLR 2024, arXiv:2310.01334;
spec ``merge.md`` 8 step 1, ``permute-model.py`` with ``include_wo=True``)
aligns each expert to a reference expert by weight matching (Ainsworth et al.,
"Git Re-Basin", arXiv:2209.04836) of its single hidden layer:

``C[i, j] = <W_in_ref[i], W_in[j]> + <W_out_ref[:, i], W_out[:, j]>``,
``pi = linear_sum_assignment(C, maximize=True)``, then hidden unit ``pi[i]``
of the expert moves to position i.

SwiGLU experts (Mixtral), which MC-SMoE's release does not align (its issue
#2), have three matrices per hidden unit: unit j is the gate row j, the up
row j and the down column j. The cost sums the three inner products and the
permutation moves them together, so the expert computes exactly the same
function. One hidden layer needs no coordinate descent: the assignment is
solved once, exactly. (A model-wide permutation package would handle deeper
networks; this is the one-layer case experts need.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from diversa.combine.moe.experts import ExpertWeights

__all__ = ["align_experts", "match_hidden_units", "permute_hidden_units"]


def _unit_rows(matrices: dict[str, torch.Tensor], include_wo: bool) -> list[torch.Tensor]:
    """Per weight type, a [h, *] matrix whose row j holds hidden unit j's weights."""
    rows = [matrices[name] for name in ("gate", "up") if name in matrices]
    if include_wo:
        rows.append(matrices["down"].t())
    return rows


def match_hidden_units(reference: dict[str, torch.Tensor], other: dict[str, torch.Tensor],
                       include_wo: bool = True) -> torch.Tensor:
    """The permutation ``pi`` [h] maximising ``sum_i <unit i of reference, unit pi[i] of other>``.

    ``reference`` and ``other`` are one expert's weight types as from
    :meth:`ExpertWeights.matrices` sliced to one expert: ``up`` (h x d),
    optional ``gate`` (h x d), ``down`` (d x h). ``include_wo`` adds the down
    projection's columns to the cost (MC-SMoE's default).
    """
    if set(reference) != set(other):
        raise ValueError(f"reference and other must have the same weight types, got {sorted(reference)} "
                         f"and {sorted(other)}.")
    for name in reference:
        if reference[name].shape != other[name].shape:
            raise ValueError(f"weight {name!r} differs in shape: {tuple(reference[name].shape)} vs "
                             f"{tuple(other[name].shape)}.")
    cost = sum(a.double() @ b.double().t() for a, b in zip(_unit_rows(reference, include_wo),
                                                          _unit_rows(other, include_wo)))
    _, cols = linear_sum_assignment(cost.numpy(), maximize=True)
    return torch.as_tensor(np.asarray(cols), dtype=torch.long)


def permute_hidden_units(matrices: dict[str, torch.Tensor], perm: torch.Tensor) -> dict[str, torch.Tensor]:
    """One expert's weight types with hidden unit ``perm[i]`` moved to position i (same function)."""
    out = {name: matrices[name][perm] for name in ("gate", "up") if name in matrices}
    out["down"] = matrices["down"][:, perm]
    return out


def align_experts(experts: ExpertWeights, references: int | Sequence[int], include_wo: bool = True) -> ExpertWeights:
    """Experts with their hidden units permuted to match a reference expert's (each computes the same function).

    ``references``: one expert id for all (the release's ``reference="first"``
    is 0), or one id per expert (e.g. each member's group dominant; an expert
    that is its own reference is unchanged). Returns a new
    :class:`ExpertWeights`; the input is not modified.
    """
    n = experts.num_experts
    refs = [int(references)] * n if isinstance(references, (int, np.integer)) else [int(r) for r in references]
    if len(refs) != n or any(not 0 <= r < n for r in refs):
        raise ValueError(f"references must be an expert id in 0..{n - 1} or one such id per expert ({n}), "
                         f"got {references!r}.")
    matrices = experts.matrices()
    aligned = {name: m.clone() for name, m in matrices.items()}
    for e, r in enumerate(refs):
        if e == r:
            continue
        one = {name: m[e] for name, m in matrices.items()}
        perm = match_hidden_units({name: m[r] for name, m in matrices.items()}, one, include_wo)
        for name, m in permute_hidden_units(one, perm).items():
            aligned[name][e] = m
    return experts.with_matrices(aligned)
