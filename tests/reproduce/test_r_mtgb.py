"""The R-MTGB reproduction (arXiv:2507.11411) on a reduced trial."""

import json
import math

import pytest

from diversa.reproduce import get, r_mtgb


@pytest.fixture
def reduced(monkeypatch):
    monkeypatch.setattr(r_mtgb, "DATA", {"n_tasks": 5, "n_outlier_tasks": 2, "n_features": 3,
                                         "n_train_per_task": 80, "n_test_per_task": 60})
    monkeypatch.setattr(r_mtgb, "POOLED_TREES", 60)
    monkeypatch.setattr(r_mtgb, "SINGLE_TASK_TREES", 30)
    monkeypatch.setattr(r_mtgb, "MTGB_BLOCKS", (20, 20))
    monkeypatch.setattr(r_mtgb, "RMTGB_BLOCKS", (20, 20, 10))


def test_registered():
    reproduction = get("r-mtgb")
    assert reproduction.arxiv == "2507.11411" and reproduction.quick_trials >= 5
    assert reproduction.headline == "rmse-vs-pooled"


def test_reduced_trial_returns_every_check(reduced):
    result = r_mtgb.run_trial(0, quick=True)
    names = {check.name for check in r_mtgb.REPRODUCTION.checks}
    assert set(result.pairs) == names
    for name, (baseline, method) in result.pairs.items():
        assert math.isfinite(baseline) and math.isfinite(method), name
    for name in ("rmse-vs-pooled", "rmse-vs-single-task", "rmse-vs-mtgb", "outlier-rmse-vs-mtgb"):
        assert all(0 < value < 5 for value in result.pairs[name])
    for name in ("accuracy-vs-pooled", "accuracy-vs-single-task", "accuracy-vs-mtgb"):
        assert all(0.3 <= value <= 1 for value in result.pairs[name])
    for name in ("detection-regression", "detection-classification"):
        baseline, auroc = result.pairs[name]
        assert baseline == 0.5 and 0 <= auroc <= 1
    assert result.pairs["block2-train-loss"][0] > 0
    regression = result.diagnostics["regression"]
    assert set(regression["mean"]) == set(r_mtgb.METHODS)
    assert len(regression["outlier_score"]) == 5
    json.dumps(result.diagnostics)  # JSON-serialisable
    assert "scenario1_rmse" not in result.diagnostics


def test_full_mode_adds_the_scenario_1_control(reduced):
    control = r_mtgb.scenario1_control(0)
    assert set(control) == {"PooledGB", "R-MTGB"} and all(0 < v < 5 for v in control.values())
