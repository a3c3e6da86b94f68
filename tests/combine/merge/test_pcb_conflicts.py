"""PCB-Merging drops every entry that fights the consensus (a property of the code, not an experiment).

Inter-balancing is ``tanh(T * consensus)``, negative exactly where a task's
sign disagrees with the consensus (the summed update for ``inter="raw"``). The
drop step raises every entry below the row's (1 - r)-quantile to that quantile
and min-max normalises, so as long as a row has no more than ``floor(d (1 -
r))`` conflicting entries, all of them get coefficient 0, and the merged update
never points against the consensus. A bug in the sign handling (``abs`` of the
product, a flipped ``tanh`` argument, a clamp on the wrong side) breaks these.
"""

import pytest
import torch

from diversa.combine.merge import pcb_merging, pcb_scores
from diversa.combine.merge.pcb import rowclamp, rownorm


def _consensus(T: torch.Tensor, inter: str, clamp_ratio: float) -> torch.Tensor:
    if inter == "raw":
        return T.sum(dim=0)
    A = rowclamp(T.abs(), clamp_ratio, clamp_ratio) if clamp_ratio > 0 else T.abs()
    return (T.sign() * rownorm(A)).sum(dim=0)


def _tasks(seed: int, n: int = 4, d: int = 3000) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shared = torch.randn(d, generator=g)
    return shared + 1.5 * torch.randn(n, d, generator=g)  # plenty of sign conflicts, none exactly zero


@pytest.mark.parametrize("inter", ["raw", "normalized"])
@pytest.mark.parametrize("pcb_ratio", [0.05, 0.2, 0.5])
def test_every_conflicting_entry_is_dropped(inter, pcb_ratio):
    T = _tasks(0)
    conflict = T.sign() != _consensus(T, inter, 0.01).sign()
    assert ((conflict.sum(dim=1) <= int(T.shape[1] * (1 - pcb_ratio))).all()
            and 0.1 < conflict.float().mean() < 0.5)  # the premise of the property, with real conflicts
    _, s = pcb_scores(T, pcb_ratio=pcb_ratio, clamp_ratio=0.01, inter=inter)
    assert (s[conflict] == 0).all()
    assert (s[~conflict] > 0).any(dim=0).float().mean() > 0.5 * pcb_ratio  # agreeing entries do survive


@pytest.mark.parametrize("inter", ["raw", "normalized"])
def test_merged_update_never_points_against_the_consensus(inter):
    T = _tasks(1, n=5, d=2000)
    base = {"w": torch.zeros(T.shape[1])}
    merged = pcb_merging(base, [{"w": row} for row in T], pcb_ratio=0.3, clamp_ratio=0.01, scaling=1.0,
                         inter=inter)["w"]
    consensus = _consensus(T, inter, 0.01)
    moved = merged != 0
    assert moved.float().mean() > 0.3
    assert torch.equal(merged[moved].sign(), consensus[moved].sign())


def test_a_row_of_mostly_conflicts_keeps_its_least_conflicting_entries():
    # The boundary of the property: when a task disagrees with the consensus almost everywhere,
    # the (1 - r)-quantile is itself negative and some conflicting entries survive.
    g = torch.Generator().manual_seed(2)
    majority = torch.rand(2, 1000, generator=g) + 0.5
    loner = -(torch.rand(1, 1000, generator=g) * 0.2)
    T = torch.cat([majority, loner])
    _, s = pcb_scores(T, pcb_ratio=0.2, clamp_ratio=0.0)
    assert (T[2].sign() != T.sum(0).sign()).all()
    assert (s[2] > 0).sum() > 0
