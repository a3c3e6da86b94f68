"""rmm: the baseline stores exactly what RMM stores, and the verdict follows the measured arms."""

import pytest
import torch

from diversa.combine.merge import factors_from_svd, rmm_fit
from diversa.reproduce import rmm
from diversa.reproduce.runner import summarize

#: Five units: the fewest for which the exact sign-flip test can reject at alpha (1/32 < 0.05).
UNITS = 5


def _factors(seed, n=8, m=24, d=20, r=rmm.RANK):
    g = torch.Generator().manual_seed(seed)
    return [{"w": (torch.randn(m, r, generator=g), torch.randn(r, d, generator=g))} for _ in range(n)]


@pytest.mark.parametrize("p", rmm.COMPONENTS)
def test_truncation_stores_exactly_what_rmm_stores(p):
    factors = _factors(p)
    basis = rmm_fit(factors, n_components=p)
    rank = rmm.matched_rank(p, rmm.RANK, len(factors))
    truncated = [rmm.truncate(f, rank) for f in factors]
    m, d = 24, 20
    rmm_numbers = (m + d) * (p * (rmm.RANK + len(factors)) + rmm.RANK)  # mean, basis, coefficients per position
    assert rmm.stored_numbers(truncated) == rmm_numbers
    assert rmm.stored_numbers(truncated) / rmm.stored_numbers(factors) == pytest.approx(basis.storage_ratio())


def test_truncation_keeps_the_top_singular_directions_of_each_task(one_thread):
    base = {"w": torch.zeros(12, 10)}
    model = {"w": torch.randn(12, 10, generator=torch.Generator().manual_seed(0))}
    factors = factors_from_svd(base, model, rmm.RANK)
    (a, b), = rmm.truncate(factors, 3).values()
    U, S, Vh = torch.linalg.svd(model["w"])
    torch.testing.assert_close(a @ b, U[:, :3] @ torch.diag(S[:3]) @ Vh[:3], atol=1e-5, rtol=1e-5)


def test_verdict_follows_the_arms_and_the_regime_holds(trained_merge_testbed, monkeypatch):
    # Truncation replaced by "keep nothing" (each task falls back to the pre-trained body): RMM must now be
    # supported against it, which fails if the pair is misoriented or RMM's arm is not what is measured; the
    # premise that one merged model loses the low-rank models' accuracy must hold on the (shortened) testbed.
    monkeypatch.setattr(rmm, "truncate", lambda factors, rank: {k: (a[:, :0], b[:0]) for k, (a, b) in factors.items()})
    monkeypatch.setattr(rmm, "TA_LAMBDAS", (0.2, 0.3, 0.5))
    monkeypatch.setattr(rmm, "TIES_GRID", [{"density": 0.2, "scaling": 1.0}])
    trials = {seed: rmm.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(rmm.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["single-merge-collapses"] == "pass"
    assert outcomes["truncation-headroom"] == "pass"
    assert result.verdict == "supported"
