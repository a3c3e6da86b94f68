"""slws: the overfitting regime holds on the quick testbed; with SLWS made the baseline the headline measures nothing."""

import functools

import numpy as np
import pytest

from diversa.reproduce import slws
from diversa.reproduce.runner import summarize

#: Units: eight, those of a quick run.
UNITS = 8
#: A cheaper model and data for the test that needs no learning.
TINY_MODEL, TINY_ROWS = dict(depth=2, embed_dim=8), 100


@pytest.fixture
def cached_arms(monkeypatch, one_thread):
    """Arms train once per distinct configuration and unit, with ``epochs`` epochs; ``ARMS`` may be patched."""

    def setup(epochs, arms=None, tiny=False):
        if arms is not None:
            monkeypatch.setattr(slws, "ARMS", arms)
        monkeypatch.setattr(slws, "QUICK", {**slws.QUICK, "epochs": epochs, **(TINY_MODEL if tiny else {})})
        if tiny:
            full_split = slws.split
            monkeypatch.setattr(slws, "split", lambda seed: tuple(a[:TINY_ROWS] for a in full_split(seed)))
        make = slws.make_arm
        fit = functools.lru_cache(maxsize=None)(
            lambda rates, seed: make("none", seed, True).set_params(shuffle_rate=rates[0], drop_path_rate=rates[1])
            .fit(*slws.split(seed)[:2]))
        monkeypatch.setattr(slws, "make_arm", lambda arm, seed, quick: _Fitted(fit(slws.ARMS[arm], seed)))

    return setup


class _Fitted:
    """A fitted classifier whose ``fit`` is a no-op (training happened in the cache)."""

    def __init__(self, clf):
        self.clf = clf

    def fit(self, X, y):
        return self.clf


@pytest.mark.slow
def test_regime_holds_on_the_quick_testbed(cached_arms):
    # Fails if the plain tiny Vision Mamba generalises within 2 points of its training accuracy, or
    # stays near chance. Only the baseline is trained (every arm made the baseline): about 12 s of CPU.
    cached_arms(epochs=slws.QUICK["epochs"], arms={arm: (0.0, 0.0) for arm in slws.ARMS})
    trials = {seed: slws.run_trial(seed, quick=True) for seed in range(UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(slws.REPRODUCTION, True, trials).checks}
    assert outcomes["baseline-overfits"] == "pass" and outcomes["baseline-off-floor"] == "pass"


def test_with_slws_made_the_baseline_the_headline_measures_nothing(cached_arms):
    # The SLWS arm trains with P_L = 0: it is the baseline model, same weights, batches and steps, so the
    # headline differences are all zero and cannot support the claim.
    arms = {**slws.ARMS, "slws": (0.0, 0.0), "slws_drop_path": (0.0, slws.DROP_PATH_RATE)}
    cached_arms(epochs=1, arms=arms, tiny=True)
    trials = {seed: slws.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(slws.REPRODUCTION, True, trials)
    assert np.array_equal(result.headline.baseline_values, result.headline.method_values)
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"


def test_arms_differ_only_in_their_regularisers():
    params = {arm: slws.make_arm(arm, 0, True).get_params() for arm in slws.ARMS}
    rates = {arm: (p.pop("shuffle_rate"), p.pop("drop_path_rate")) for arm, p in params.items()}
    assert rates == slws.ARMS
    first = params["none"]
    assert all(p == first for p in params.values())
    assert first["random_state"] == 0 and first["shuffle_schedule"] == "linear"


def test_units_are_paired_splits_of_400_and_400():
    X_train, y_train, X_test, y_test = slws.split(3)
    assert X_train.shape == (400, 64) and X_test.shape == (400, 64) and X_train.max() <= 1.0
    assert np.bincount(y_train).min() >= 38 and np.bincount(y_test).min() >= 38
    assert np.array_equal(slws.split(3)[0], X_train) and not np.array_equal(slws.split(4)[0], X_train)
    assert slws.REPRODUCTION.unit.kind == "resampled" and slws.REPRODUCTION.unit.test_over_train == 1.0
