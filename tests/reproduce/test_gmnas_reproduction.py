"""gmnas: the regime holds on a short testbed, units are reproducible, identical arms measure nothing."""

import numpy as np
import pytest
from sklearn.base import clone

from diversa.reproduce import gmnas
from diversa.reproduce.runner import summarize

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture(scope="session")
def _short_gmnas_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gmnas")


@pytest.fixture
def short(monkeypatch, _short_gmnas_cache, one_thread):
    """Ground truth trained 5 epochs (built once per session in a private cache), searches of a few epochs."""
    monkeypatch.setenv("DIVERSA_CACHE", str(_short_gmnas_cache))
    monkeypatch.setattr(gmnas, "GT_EPOCHS", 5)
    monkeypatch.setattr(gmnas, "GM_SPLITS", (2, 4))
    monkeypatch.setattr(gmnas, "FEWSHOT_SPLITS", (4,))
    monkeypatch.setattr(gmnas, "FINAL_EPOCHS", 4)
    monkeypatch.setattr(gmnas, "N_GRAD_BATCHES", 4)


def test_the_arms_share_budget_and_differ_only_in_splitting():
    arms = gmnas.search_arms(0, quick=False)
    params = {name: arm.get_params() for name, arm in arms.items()}
    horizon = {name: max(p["split_epochs"], default=0) + p["final_epochs"] for name, p in params.items()}
    assert horizon == {"oneshot": 50, "fewshot": 50, "gm": 50}
    assert params["fewshot"]["final_epochs"] == params["gm"]["final_epochs"] == 30
    assert params["gm"]["split_epochs"] == (10, 20) and params["fewshot"]["split_epochs"] == (20,)
    differ = {"split", "split_epochs", "final_epochs", "edge_criterion"}
    for p in params.values():
        assert {k: v for k, v in p.items() if k not in differ} == \
            {k: v for k, v in params["gm"].items() if k not in differ}
    quick = gmnas.search_arms(0, quick=True)
    assert quick["gm"].split_epochs == (5, 10) and quick["oneshot"].final_epochs == 25


def test_regime_holds_on_a_short_testbed_and_units_are_reproducible(short):
    # Fails if two stand-alone trainings of the benchmark barely agree (tau <= 0.2), or if a briefly trained
    # one-shot supernet already ranked as well as a second stand-alone training; or if a unit's numbers
    # depended on anything but its seed.
    trials = {seed: gmnas.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(gmnas.REPRODUCTION, True, trials).checks}
    assert outcomes["ground-truth-reproducible"] == "pass"
    assert outcomes["oneshot-leaves-headroom"] == "pass"
    assert gmnas.run_trial(0, quick=True).pairs == trials[0].pairs
    compute = trials[0].diagnostics["compute"]
    assert compute["gm"]["gradient_matching_passes"] > 0 == compute["fewshot"]["gradient_matching_passes"]


def test_identical_arms_measure_nothing(short, monkeypatch):
    # GM-NAS replaced by Few-Shot NAS with the same seed: the headline pairs must be equal, p = 1.
    search_arms = gmnas.search_arms

    def broken(seed, quick):
        arms = search_arms(seed, quick)
        return {**arms, "gm": clone(arms["fewshot"])}

    monkeypatch.setattr(gmnas, "search_arms", broken)
    monkeypatch.setattr(gmnas, "twin_search", lambda seed, quick: search_arms(seed, quick)["gm"].set_params(
        ops=gmnas.TWIN_OPS, split_epochs=(1,), final_epochs=0))
    trials = {seed: gmnas.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(gmnas.REPRODUCTION, True, trials)
    assert np.array_equal(result.headline.baseline_values, result.headline.method_values)
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"


def test_ground_truth_is_built_once_and_cached(short, monkeypatch):
    first = gmnas.ground_truth()
    monkeypatch.setattr(gmnas, "_build_ground_truth", lambda: pytest.fail("rebuilt a cached ground truth"))
    again = gmnas.ground_truth()
    assert np.array_equal(first["accuracy"].numpy(), again["accuracy"].numpy())
    assert first["accuracy"].shape == (2, 64)
