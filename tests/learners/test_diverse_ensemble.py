import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.learners import DiverseEnsembleClassifier


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.mark.parametrize("gamma", [0.0, 1.0, 0.5])
def test_fit_minimises_the_stated_objective(digits, gamma, one_thread):
    # the first logged objective is evaluated at the initial members: (1 - gamma) mean member
    # log-loss + gamma log-loss of the mean prediction
    X, y = digits
    init = DiverseEnsembleClassifier(n_members=3, hidden=8, gamma=gamma, epochs=0, random_state=0).fit(X, y)
    P = init.member_proba(X)
    expected = (1 - gamma) * np.mean([log_loss(y, p) for p in P]) + gamma * log_loss(y, P.mean(0))
    one = DiverseEnsembleClassifier(n_members=3, hidden=8, gamma=gamma, epochs=1, random_state=0).fit(X, y)
    assert one.loss_curve_[0] == pytest.approx(expected, rel=1e-5)


def test_gamma_trades_member_fit_for_diversity_at_low_capacity(digits, one_thread):
    from diversa.combine.diversity import ensemble_decomposition

    X, y = digits
    parts = {}
    for gamma in (0.0, 0.9):
        clf = DiverseEnsembleClassifier(n_members=4, hidden=3, gamma=gamma, epochs=150, random_state=0).fit(X, y)
        parts[gamma] = ensemble_decomposition(clf.member_proba(X), y, "ce")
    assert parts[0.9].diversity > parts[0.0].diversity + 0.1
    assert parts[0.9].mean_member_loss > parts[0.0].mean_member_loss


def test_reproducible_and_leaves_the_global_rng_alone(digits, one_thread):
    import torch

    X, y = digits
    state = torch.get_rng_state()
    a = DiverseEnsembleClassifier(n_members=2, hidden=8, epochs=20, batch_size=64, random_state=3).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
    b = DiverseEnsembleClassifier(n_members=2, hidden=8, epochs=20, batch_size=64, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_allclose(a.predict_proba(X).sum(1), 1.0, atol=1e-6)
    labels = np.array(["a", "b", "c"])[y % 3]
    clf = DiverseEnsembleClassifier(n_members=2, hidden=8, epochs=30, random_state=0).fit(X, labels)
    assert set(clf.predict(X)) <= {"a", "b", "c"} and list(clf.classes_) == ["a", "b", "c"]


def test_bad_input(digits):
    X, y = digits
    with pytest.raises(ValueError, match="gamma"):
        DiverseEnsembleClassifier(gamma=float("nan")).fit(X, y)
    with pytest.raises(ValueError, match="hidden"):
        DiverseEnsembleClassifier(hidden=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="n_members"):
        DiverseEnsembleClassifier(n_members=0).fit(X, y)
    with pytest.raises(ValueError, match="class"):
        DiverseEnsembleClassifier(epochs=1).fit(X, np.zeros(len(y)))


@parametrize_with_checks([DiverseEnsembleClassifier(n_members=2, hidden=(8,), epochs=30, random_state=0)])
def test_sklearn_estimator_checks(estimator, check, one_thread):
    check(estimator)
