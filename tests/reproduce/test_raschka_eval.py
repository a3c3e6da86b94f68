import math

import numpy as np
import pytest

from diversa.reproduce import get
from diversa.reproduce.raschka_eval import (
    E1_FEATURES,
    REPRODUCTION,
    ColumnOrderTree,
    Sizes,
    e2_bound,
    e5_coverage,
    exchangeable_sample,
    run_trial_with,
)
from diversa.reproduce.runner import _validate_trial, single_threaded

#: A trial small enough for a unit test (a few seconds), touching every experiment.
TINY = Sizes(e1_repetitions=2, e1_n=120, e1_resamples=5, e2_repetitions=60, e2_n_test=100, e3_repetitions=1,
             e3_n=40, e3_bootstrap_rounds=5, e4_repetitions=1, e4_n=50, e4_inner_3=False, e5_draws=200)


def tiny_run(seed):
    with single_threaded():  # as the runner does: one BLAS thread per trial
        return run_trial_with(seed, TINY)

RATE_CHECKS = ("resampled-t-inflated", "kfold-t-inflated", "5x2cv-f-controlled", "corrected-t-controlled",
               "mcnemar-controlled", "mcnemar-exact-controlled", "cochran-q-controlled", "mcnemar-power",
               "wilson-covers-small-n")


@pytest.fixture(scope="module")
def tiny_trial():
    return tiny_run(3)


def test_registered_and_declares_every_experiment():
    assert get("raschka-eval") is REPRODUCTION
    assert REPRODUCTION.headline == "resampled-t-inflated"
    assert REPRODUCTION.quick_trials >= 5


def test_tiny_trial_gives_a_finite_pair_for_every_check(tiny_trial):
    _validate_trial(REPRODUCTION, 3, tiny_trial)  # the runner's own check: names and finiteness
    assert set(tiny_trial.pairs) == {check.name for check in REPRODUCTION.checks}
    for name, (baseline, method) in tiny_trial.pairs.items():
        assert math.isfinite(baseline) and math.isfinite(method), name
    for name in RATE_CHECKS:
        assert all(0.0 <= value <= 1.0 for value in tiny_trial.pairs[name]), name
    for name in ("holdout-pessimistic", "oob-pessimistic", "632plus-tempers-632", "nonnested-optimistic"):
        assert all(-1.0 <= value <= 1.0 for value in tiny_trial.pairs[name]), name
    for name in ("cv-beats-holdout", "normal-ci-converges"):
        assert all(0.0 <= value <= 1.0 for value in tiny_trial.pairs[name]), name
    assert tiny_trial.pairs["5x2cv-f-controlled"][0] == 0.10
    assert tiny_trial.pairs["mcnemar-controlled"][0] == pytest.approx(e2_bound(TINY.e2_repetitions))
    rates = tiny_trial.diagnostics["E1_type_I_rates"]
    assert {"resampled t", "corrected t", "10-fold t", "5x2cv t", "5x2cv F"} <= set(rates)
    for rate in rates.values():
        assert rate["R"] == TINY.e1_repetitions
        assert rate["wilson_95"][0] <= rate["rate"] <= rate["wilson_95"][1]


def test_trial_is_deterministic(tiny_trial):
    again = tiny_run(3)
    assert dict(again.pairs) == dict(tiny_trial.pairs)
    assert again.diagnostics == tiny_trial.diagnostics
    assert e5_coverage(4, TINY) != e5_coverage(3, TINY)  # other trials draw other samples


def test_corrected_t_never_rejects_more_than_resampled_t(tiny_trial):
    # Same differences, larger standard error: a rejection by the corrected test implies one by the plain test.
    rates = tiny_trial.diagnostics["E1_type_I_rates"]
    assert rates["corrected t"]["k"] <= rates["resampled t"]["k"]


def test_column_order_tree_is_the_same_tree_on_permuted_columns():
    rng = np.random.default_rng(0)
    X, y = exchangeable_sample(rng, 200)
    assert X.shape == (200, E1_FEATURES) and set(np.unique(y)) == {0, 1}
    order = rng.permutation(E1_FEATURES)
    permuted = ColumnOrderTree(order=order, random_state=7).fit(X, y)
    plain = ColumnOrderTree(random_state=7).fit(X[:, order], y)
    np.testing.assert_array_equal(permuted.predict(X), plain.predict(X[:, order]))


def test_coverage_matches_its_exact_value():
    coverage = e5_coverage(0, Sizes(e5_draws=4000))
    for n in ("n=30", "n=300"):
        for method in ("normal", "wilson"):
            assert coverage[n][method] == pytest.approx(coverage[n][f"{method} exact"], abs=0.025)
    # The textbook facts E5 rests on: normal under-covers badly at n=30 with acc 0.95, Wilson does not.
    assert coverage["n=30"]["normal exact"] < 0.85
    assert coverage["n=30"]["wilson exact"] > 0.9
