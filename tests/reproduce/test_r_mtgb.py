"""The R-MTGB reproduction (arXiv:2507.11411): equal stump budgets, its regime, and the verdict path."""

import json

import pytest

from diversa.reproduce import get, r_mtgb
from diversa.reproduce.runner import summarize

#: A small multi-task problem (one outlier task in five, as the paper's 2 in 10) whose units take under a second.
REDUCED_DATA = {"n_tasks": 5, "n_outlier_tasks": 1, "n_features": 3, "n_train_per_task": 100, "n_test_per_task": 60}


@pytest.fixture
def reduced(monkeypatch):
    monkeypatch.setattr(r_mtgb, "DATA", REDUCED_DATA)
    monkeypatch.setattr(r_mtgb, "RMTGB_BLOCKS", (20, 20, 10))


def test_registered():
    reproduction = get("r-mtgb")
    assert reproduction.arxiv == "2507.11411" and reproduction.headline == "rmse-vs-pooled"


def test_every_method_fits_the_same_number_of_stumps():
    budget = r_mtgb.stump_budgets(10)
    assert budget["total"] == 100 + 2 * 100 + 10 * 100 == 1300
    models = r_mtgb.make_models("regression", 0)
    pooled, single, mtgb = models["PooledGB"], models["SingleTaskGB"], models["MTGB"]
    assert pooled.n_estimators == 1300
    assert single.n_estimators * 10 == 1300
    assert mtgb.n_iter_1st + 10 * mtgb.n_iter_3rd == 1300
    rmtgb = models["R-MTGB"]
    assert rmtgb.n_iter_1st + 2 * rmtgb.n_iter_2nd + 10 * rmtgb.n_iter_3rd == 1300


def _units(n: int = 8) -> dict:
    return {seed: r_mtgb.run_trial(seed, quick=True) for seed in range(n)}


def test_reduced_units_are_in_regime_and_detect_the_outliers(reduced):
    result = summarize(r_mtgb.REPRODUCTION, True, _units())
    outcomes = {c.check.name: c.outcome for c in result.checks}
    # could fail: outlier tasks that pooling serves as well as the rest, or theta that does not separate them
    assert outcomes["outliers-hurt-pooling"] == "pass"
    assert outcomes["detection-regression"] == "pass"
    regression = result.diagnostics[0]["regression"]
    assert set(regression["mean"]) == set(r_mtgb.METHODS)
    json.dumps(result.diagnostics)  # JSON-serialisable


def test_frozen_outlier_weights_fail_the_detection_mechanism(reduced, monkeypatch):
    """A broken R-MTGB whose theta never leaves 0 cannot single out the outlier tasks."""
    build = r_mtgb.make_models

    def frozen(task_type, seed):
        models = build(task_type, seed)
        models["R-MTGB"].set_params(theta_init_scale=0.0)  # s_r = 0.5 for all: f_out == f_non, no gradient
        return models

    monkeypatch.setattr(r_mtgb, "make_models", frozen)
    result = summarize(r_mtgb.REPRODUCTION, True, _units())
    assert next(c for c in result.checks if c.check.name == "detection-regression").outcome == "fail"


def test_full_mode_adds_the_scenario_1_control(reduced):
    control = r_mtgb.scenario1_control(0)
    assert set(control) == {"PooledGB", "R-MTGB"}
