"""PCB-Merging: golden example, invariants, limits, errors."""

import pytest
import torch
from merge_helpers import assert_unchanged, snapshot

from diversa.combine.merge import pcb_merging, pcb_scores, ties_merging
from diversa.combine.merge.pcb import rowclamp, rownorm

T = torch.tensor([[1.0, -2.0, 0.5, 3.0], [1.0, 2.0, -0.5, 0.1]])


def test_golden_example():
    T_c, s = pcb_scores(T, pcb_ratio=0.5, clamp_ratio=0.0)
    assert torch.equal(T_c, T)
    assert torch.equal(s, torch.tensor([[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]))
    base = {"w": torch.zeros(4)}
    out = pcb_merging(base, [{"w": T[0]}, {"w": T[1]}], pcb_ratio=0.5, clamp_ratio=0.0)
    torch.testing.assert_close(out["w"], torch.tensor([1.0, 0.0, 0.0, 3.0]))
    ties = ties_merging(base, [{"w": T[0]}, {"w": T[1]}], density=0.5)
    torch.testing.assert_close(ties["w"], torch.tensor([1.0, 2.0, 0.0, 3.0]))


def test_rowclamp_indices_and_rownorm_guard():
    X = torch.arange(10.0).reshape(1, 10)
    assert rowclamp(X, 0.01, 0.01).tolist() == [[0, 1, 2, 3, 4, 5, 6, 7, 8, 8]]
    assert rowclamp(X, 0.2, 0.0).tolist() == [[2, 2, 2, 3, 4, 5, 6, 7, 8, 9]]
    assert torch.equal(rownorm(torch.ones(2, 3)), torch.zeros(2, 3))


def test_score_properties_and_permutation_equivariance():
    g = torch.Generator().manual_seed(0)
    T3 = torch.randn(3, 500, generator=g)
    T_c, s = pcb_scores(T3, pcb_ratio=0.2, clamp_ratio=0.01)
    assert (s >= 0).all() and (s <= 1).all()
    assert torch.allclose(s.max(dim=1).values, torch.ones(3))
    assert ((s == 0).sum(dim=1) >= int(0.8 * 500)).all()
    assert torch.isfinite(T_c).all()
    base = {"w": torch.zeros(500)}
    models = [{"w": row} for row in T3]
    a = pcb_merging(base, models, pcb_ratio=0.2)
    b = pcb_merging(base, models[::-1], pcb_ratio=0.2)
    torch.testing.assert_close(a["w"], b["w"])


def test_identical_tasks_limit():
    tau = torch.randn(50, generator=torch.Generator().manual_seed(1))
    T_c, s = pcb_scores(torch.stack([tau] * 3), pcb_ratio=1.0, clamp_ratio=0.0)
    merged = (s * T_c).sum(0) / s.sum(0).clamp(min=1e-12)
    kept = s[0] > 0
    torch.testing.assert_close(merged[kept], tau[kept])
    assert (merged[~kept] == 0).all()


def test_state_dict_scopes_and_purity(sds):
    base, models = sds
    before = snapshot(base, models)
    glob = pcb_merging(base, models, pcb_ratio=0.3, scaling=1.5)
    tens = pcb_merging(base, models, pcb_ratio=0.3, scaling=1.5, scope="tensor")
    assert glob.keys() == base.keys() and torch.equal(glob["bn.num_batches_tracked"], base["bn.num_batches_tracked"])
    assert not torch.allclose(glob["l1.weight"], tens["l1.weight"])
    assert_unchanged(before, snapshot(base, models))


def test_conflicting_positions_are_dropped_more_often():
    g = torch.Generator().manual_seed(2)
    shared = torch.randn(1000, generator=g)
    T2 = torch.stack([shared + 0.1 * torch.randn(1000, generator=g) for _ in range(2)])
    T2[1, :200] = -T2[0, :200]  # the first 200 entries conflict in sign
    _, s = pcb_scores(T2, pcb_ratio=0.3, clamp_ratio=0.0)
    dropped = (s == 0).float()
    assert dropped[:, :200].mean() > dropped[:, 200:].mean() + 0.1


@pytest.mark.parametrize("kwargs,match", [({"pcb_ratio": 0.0}, "pcb_ratio"), ({"clamp_ratio": 0.5}, "clamp_ratio"),
                                          ({"inter": "x"}, "inter"), ({"scope": "x"}, "scope")])
def test_errors(sds, kwargs, match):
    base, models = sds
    with pytest.raises(ValueError, match=match):
        pcb_merging(base, models, **kwargs)
    with pytest.raises(ValueError, match="at least 2"):
        pcb_merging(base, models[:1])
