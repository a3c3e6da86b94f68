"""Tests of diversa.reproduce.fold_se (FOLD-SE, arXiv:2208.07912): a reduced trial and its pairs."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from diversa.reproduce import fold_se
from diversa.reproduce.fold_se import REPRODUCTION, make_mixed_classification, run_trial


def test_mixed_synthetic_data_has_eight_numeric_and_four_noisy_string_columns():
    X, y = make_mixed_classification(500, random_state=1)
    assert X.shape == (500, 12) and set(np.unique(y)) == {0, 1}
    assert all(X[f"cat{j}"].isin(list("abcde")).all() for j in range(4))
    # the string columns follow their numeric source, up to the 10% relabelling
    rank = X["num0"].rank(pct=True)
    agree = ((rank <= 0.2) == (X["cat0"] == "a")).mean()
    assert 0.85 < agree < 1.0


def test_reduced_quick_trial_returns_every_check_with_sane_values(monkeypatch):
    pytest.importorskip("wittgenstein")
    pytest.importorskip("palmerpenguins")
    pytest.importorskip("vega_datasets")
    monkeypatch.setattr(fold_se, "SYNTHETIC_SIZES_QUICK", (300, 600, 1200))
    monkeypatch.setattr(fold_se, "RIPPER_MAX_ROWS_QUICK", 300)
    monkeypatch.setattr(fold_se, "MLP_MAX_ROWS_QUICK", 0)
    with threadpool_limits(limits=1):
        result = run_trial(0, quick=True)
    assert set(result.pairs) == {check.name for check in REPRODUCTION.checks}
    assert all(np.isfinite(pair).all() for pair in result.pairs.values())
    for name in ("rules-vs-foldrpp", "literals-vs-foldrpp", "rules-vs-ripper", "multiclass-rules"):
        baseline, method = result.pairs[name]
        assert baseline >= 1 and method >= 1
    for name in ("accuracy-vs-foldrpp", "accuracy-vs-histgb"):
        assert all(0.4 < value <= 1.0 for value in result.pairs[name])
    assert result.pairs["rules-single-digit"][0] == 10.0
    per_dataset = result.diagnostics["per_dataset"]
    assert "RIPPER" in per_dataset["penguins"] and "RIPPER" not in per_dataset["synthetic_1200"]
    assert "MLP" not in per_dataset["breast_cancer"]
    assert per_dataset["breast_cancer"]["tree"]["n_rules"] > 1


def test_reproduction_is_registered_with_enough_quick_trials():
    assert REPRODUCTION.id == "fold-se" and REPRODUCTION.quick_trials >= 5
    assert REPRODUCTION.headline == "rules-vs-foldrpp"
