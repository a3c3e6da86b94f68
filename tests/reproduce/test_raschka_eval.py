import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from diversa.evaluate.bootstrap import bootstrap_point632_score
from diversa.reproduce import get
from diversa.reproduce.raschka_eval import (
    E1_FEATURES,
    REPRODUCTION,
    ColumnOrderTree,
    Sizes,
    _oracle,
    _sample,
    e1_rates,
    e5_coverage,
    exchangeable_sample,
    run_trial_with,
)
from diversa.reproduce.runner import _validate_trial, single_threaded
from diversa.reproduce.verdict import judge, oriented_differences

#: A trial small enough for a unit test (a few seconds), touching every experiment.
TINY = Sizes(e1_repetitions=2, e1_n=120, e1_resamples=5, e1_seed_pair_repetitions=1, e2_repetitions=60,
             e2_n_test=100, e3_repetitions=1, e3_n=40, e3_bootstrap_rounds=5, e4_repetitions=1, e4_n=50,
             e4_inner_3=False, e5_draws=200)


def tiny_run(seed):
    with single_threaded():  # as the runner does: one BLAS thread per trial
        return run_trial_with(seed, TINY)


@pytest.fixture(scope="module")
def tiny_trial():
    return tiny_run(3)


def test_registered_with_its_headline():
    assert get("raschka-eval") is REPRODUCTION
    assert REPRODUCTION.headline == "resampled-t-inflated"
    kinds = {c.name: c.kind for c in REPRODUCTION.checks}
    assert kinds["632plus-closer-than-632"] == kinds["nonnested-optimistic"] == "claim"
    assert all(kinds[name] == "mechanism" for name in ("mcnemar-controlled", "mcnemar-power", "wilson-covers-small-n"))


def test_bias_claims_are_measured_against_the_oracle_truth(tiny_trial):
    _validate_trial(REPRODUCTION, 3, tiny_trial)  # the runner's own check: names and finiteness
    e3 = tiny_trial.diagnostics["E3_estimate_minus_truth"]["1-NN"]
    assert tiny_trial.pairs["632plus-closer-than-632"] == (abs(e3[".632"]["bias"]), abs(e3[".632+"]["bias"]))
    assert tiny_trial.pairs["632-optimistic-1nn"] == (0.0, e3[".632"]["bias"])
    e4 = tiny_trial.diagnostics["E4_estimate_minus_truth"]
    assert tiny_trial.pairs["nonnested-optimistic"] == (0.0, e4["non-nested"])
    # the spec's seed-pair null is reported, one rate per test over the trial's repetitions
    seed_pairs = tiny_trial.diagnostics["E1_spec_seed_pair_null_rates"]
    assert seed_pairs["resampled t"]["R"] == TINY.e1_seed_pair_repetitions


def test_632_is_optimistic_for_1nn_on_the_pool():
    # E3's premise on this pool: 1-NN overfits, so .632 (which weights its near-perfect
    # accuracy on the training rows) overestimates the true accuracy; a biased oracle
    # or a wrong estimator would break it.
    X_oracle, y_oracle = _oracle()
    biases = []
    for repetition in range(4):
        X, y = _sample(np.random.default_rng(repetition), 100)
        truth = KNeighborsClassifier(1).fit(X, y).score(X_oracle, y_oracle)
        estimate = bootstrap_point632_score(KNeighborsClassifier(1), X, y, n_splits=25, method=".632",
                                            random_state=repetition).mean()
        biases.append(estimate - truth)
    assert np.mean(biases) > 0.01


def test_corrected_t_in_place_of_the_resampled_t_is_not_called_inflated():
    """A test that is not inflated must not pass the headline through the real verdict rule."""
    sizes = Sizes(e1_repetitions=2)
    with single_threaded():
        rates = [e1_rates(trial, sizes) for trial in range(8)]
    assert sum(r["resampled t"]["k"] for r in rates) > sum(r["5x2cv F"]["k"] for r in rates)
    assert _headline_verdict(rates, "corrected t") != "supported"


@pytest.mark.slow
def test_headline_tells_an_inflated_test_from_a_controlled_one():
    sizes = Sizes(e1_repetitions=4)
    with single_threaded():
        rates = [e1_rates(trial, sizes) for trial in range(8)]
    assert _headline_verdict(rates, "resampled t") == "supported"
    assert _headline_verdict(rates, "corrected t") != "supported"


def _headline_verdict(rates, test: str) -> str:
    headline = REPRODUCTION.headline_check
    baseline = [r["5x2cv F"]["rate"] for r in rates]
    method = [r[test]["rate"] for r in rates]
    differences = {headline.name: oriented_differences(baseline, method, headline.direction)}
    return judge([headline], differences, headline=headline.name, unit=REPRODUCTION.unit)[headline.name].outcome


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
