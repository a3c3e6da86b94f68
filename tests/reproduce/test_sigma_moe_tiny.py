import math

import pytest

from diversa.reproduce import sigma_moe_tiny


@pytest.fixture(autouse=True)
def small_and_single_threaded(monkeypatch, one_thread):
    monkeypatch.setattr(sigma_moe_tiny, "QUICK", {"steps": 12, "batch_size": 8, "n_eval": 4, "n_test": 4,
                                                  "log_every": 4})


def test_trial_pairs_and_bounds():
    result = sigma_moe_tiny.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in sigma_moe_tiny.REPRODUCTION.checks}
    assert all(math.isfinite(v) for pair in result.pairs.values() for v in pair)
    d = result.diagnostics
    assert d["schedule"] == [8, 2, 1, 1] and d["switch_step"] == 6 and d["phase1_step"] == 4
    assert d["active_expert_params_final"]["top1"] == d["active_expert_params_final"]["progressive"]
    assert result.pairs["phase1-balance"][0] >= -1.0 and result.pairs["shortcut"][1] >= 0.0
    assert set(d["balance_log_top1"]) == {"4", "8", "12"}
