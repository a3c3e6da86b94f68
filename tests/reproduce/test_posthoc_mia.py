"""posthoc-mia reproduction: one reduced trial returns every check with sane values."""

import math

import pytest

from diversa.reproduce import get, posthoc_mia
from diversa.reproduce.runner import single_threaded


@pytest.fixture(scope="module")
def trial():
    patch = pytest.MonkeyPatch()
    patch.setattr(posthoc_mia, "DOCS_PER_SIDE", {True: 60, False: 60})
    patch.setattr(posthoc_mia, "FOREST_TREES", 10)
    patch.setattr(posthoc_mia, "LM_DOCS", {"early": 200, "window": 100, "after": 60, "late": 100})
    try:
        with single_threaded():
            yield posthoc_mia.run_trial(0, quick=True)
    finally:
        patch.undo()


def test_registered_with_its_paper():
    reproduction = get("posthoc-mia")
    assert reproduction.arxiv == "2406.17975" and reproduction.quick_trials >= 5


def test_trial_gives_a_pair_for_every_check(trial):
    names = {check.name for check in posthoc_mia.REPRODUCTION.checks}
    assert set(trial.pairs) == names
    assert all(len(pair) == 2 and all(math.isfinite(v) for v in pair) for pair in trial.pairs.values())


def test_trial_values_are_in_range(trial):
    for name, (baseline, method) in trial.pairs.items():
        if name == "bow-rdd-bandwidth-trend":
            assert baseline == 0.0 and -1 <= method <= 1
        elif name == "bow-randomized-near-0.5":
            assert baseline == 0.07 and 0 <= method <= 0.5
        else:
            assert -0.2 <= baseline <= 1 and 0 <= method <= 1.5, name
    # Even this small post-hoc split is far more separable than the randomized one.
    randomized, posthoc = trial.pairs["bow-posthoc-vs-randomized"]
    assert posthoc > randomized
    assert set(trial.diagnostics["mia_auc"]) >= {"randomized/loss", "posthoc_placebo/zlib", "rdd/min_k"}


def test_audits_are_deterministic():
    patch = pytest.MonkeyPatch()
    patch.setattr(posthoc_mia, "FOREST_TREES", 5)
    try:
        world = posthoc_mia.TemporalTextWorld(seed=0)
        first = posthoc_mia.audit_designs(world, 40, 3)
        second = posthoc_mia.audit_designs(world, 40, 3)
    finally:
        patch.undo()
    assert first == second
