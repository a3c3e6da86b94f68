import math

import pytest

from diversa.reproduce import adamoe


@pytest.fixture(autouse=True)
def small_and_single_threaded(monkeypatch, tmp_path, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    monkeypatch.setattr(adamoe, "QUICK", {"base_steps": 15, "finetune_steps": 5, "n_test": 3})


def test_trial_pairs_and_bounds():
    result = adamoe.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in adamoe.REPRODUCTION.checks}
    assert all(math.isfinite(v) for pair in result.pairs.values() for v in pair)
    baseline_k, avg_true = result.pairs["flops"]
    assert baseline_k == 2.0 and 0.0 <= avg_true <= adamoe.TOP_K
    assert result.diagnostics["avg_true_at_conversion"] == 2.0  # function-preserving conversion
    assert 0.0 <= result.diagnostics["adamoe_exact_match"] <= 1.0
    assert sum(result.diagnostics["adamoe_hist_true"]) > 0
