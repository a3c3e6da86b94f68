import math

import pytest

from diversa.reproduce import scmoe


@pytest.fixture(autouse=True)
def small_and_single_threaded(monkeypatch, tmp_path, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    monkeypatch.setattr(scmoe, "QUICK", {"base_steps": 15, "n_test": 3, "n_val": 2})


def test_trial_pairs_and_bounds():
    result = scmoe.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in scmoe.REPRODUCTION.checks}
    assert all(math.isfinite(v) for pair in result.pairs.values() for v in pair)
    d = result.diagnostics
    assert d["beta0_equals_greedy"] is True and d["plausibility_violation_rate"] == 0.0
    assert d["beta_rank2"] in (0.1, 0.3, 0.5, 0.7, 0.9) and result.pairs["divergence"][1] >= 0.0
