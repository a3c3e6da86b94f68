import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.datasets.fairness import make_gerrymandered
from diversa.learners.fair import FairClassifier, FairRegressor
from diversa.nn.losses import DistanceCovariancePenalty, dcor2

#: Settings for scikit-learn's small check data sets (under 256 rows): full-batch steps enough to fit them.
CHECK_SETTINGS = dict(hidden=(16,), epochs=30, batch_size=256, lr=5e-2, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_gerrymandered(900, random_state=1)


def test_the_first_objective_is_loss_plus_lambda_times_the_penalty(data, one_thread):
    # one full batch: the logged loss and penalty at the first step are those of the initial network
    X, y, S = data.X[:300], data.y[:300], data.sensitive[:300]
    init = FairClassifier(lam=3.0, epochs=0, batch_size=300, random_state=0).fit(X, y, sensitive_features=S)
    p = init.predict_proba(X)[:, 1]
    blocks = [torch.as_tensor(b) for b in init.sensitive_encoder_.transform_blocks(S)]
    expected = float(DistanceCovariancePenalty("ccdcov")(torch.as_tensor(p), blocks))
    one = FairClassifier(lam=3.0, epochs=1, batch_size=300, random_state=0).fit(X, y, sensitive_features=S)
    assert one.penalty_curve_[0] == pytest.approx(expected, rel=1e-4)
    from sklearn.metrics import log_loss
    assert one.loss_curve_[0] == pytest.approx(log_loss(y, init.predict_proba(X)), rel=1e-4)


def test_ccdcov_penalty_removes_dependence_on_the_intersection(data, one_thread):
    X, y, S, s_int = data
    kwargs = dict(epochs=30, batch_size=150, lr=1e-2, random_state=0)
    plain = FairClassifier(lam=0.0, **kwargs).fit(X, y, sensitive_features=S)
    fair = FairClassifier(lam=100.0, **kwargs).fit(X, y, sensitive_features=S)

    def dependence(model):
        return float(dcor2(torch.as_tensor(model.predict_proba(X)[:, 1]), torch.as_tensor(s_int)))

    assert dependence(fair) < 0.5 * dependence(plain)
    assert fair.score(X, y) > 0.6


def test_without_sensitive_features_the_model_is_the_unpenalised_one(data, one_thread):
    X, y, S = data.X[:200], data.y[:200], data.sensitive[:200]
    a = FairClassifier(lam=5.0, epochs=5, batch_size=64, random_state=2).fit(X, y)
    b = FairClassifier(lam=0.0, epochs=5, batch_size=64, random_state=2).fit(X, y, sensitive_features=S)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.sensitive_encoder_ is None and b.sensitive_encoder_.types_ == ["continuous", "binary", "categorical"]


@pytest.mark.parametrize("penalty", ["sum", "jdcov", "dcov"])
def test_regressor_and_other_penalties_train(data, penalty, one_thread):
    X, S = data.X[:300], data.sensitive[:300]
    y = X[:, 0] * 10 + 100
    sensitive = S[["age"]] if penalty == "dcov" else S
    reg = FairRegressor(penalty=penalty, lam=1.0, epochs=5, batch_size=100, random_state=0)
    reg.fit(X, y, sensitive_features=sensitive)
    assert reg.predict(X).shape == (300,) and abs(reg.predict(X).mean() - 100) < 10
    assert all(np.isfinite(reg.penalty_curve_)) and reg.penalty_curve_[-1] != 0


def test_reproducible_and_leaves_the_global_rng_alone(data, one_thread):
    X, y, S = data.X[:200], data.y[:200], data.sensitive[:200]
    state = torch.get_rng_state()
    a = FairClassifier(epochs=3, batch_size=64, random_state=4).fit(X, y, sensitive_features=S)
    assert torch.equal(torch.get_rng_state(), state)
    b = FairClassifier(epochs=3, batch_size=64, random_state=4).fit(X, y, sensitive_features=S)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    labels = np.array(["lo", "hi"])[y]
    assert set(FairClassifier(epochs=2, random_state=0).fit(X, labels, sensitive_features=S).predict(X)) <= {"lo", "hi"}
    multi = FairClassifier(epochs=2, batch_size=64, random_state=0).fit(X, S["ethnicity"], sensitive_features=S[["age"]])
    np.testing.assert_allclose(multi.predict_proba(X).sum(axis=1), 1.0)


def test_works_as_the_base_learner_of_fairlearn_reductions(data, one_thread):
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient

    X, y, S = data.X[:300], data.y[:300], data.sensitive[:300]
    eg = ExponentiatedGradient(FairClassifier(lam=0.0, epochs=3, random_state=0), DemographicParity(), max_iter=2)
    eg.fit(X, y, sensitive_features=S["gender"])
    assert set(np.unique(eg.predict(X))) <= {0, 1}


def test_bad_input_names_the_argument(data):
    X, y, S = data.X[:50], data.y[:50], data.sensitive[:50]
    broken = S.copy()
    broken.loc[0, "ethnicity"] = np.nan
    with pytest.raises(ValueError, match="sensitive_features contains NaN"):
        FairClassifier(epochs=1).fit(X, y, sensitive_features=broken)
    with pytest.raises(ValueError, match="sensitive_features: protected attribute 'gender' takes one value"):
        FairClassifier(epochs=1).fit(X, y, sensitive_features=S.assign(gender=1))
    with pytest.raises(ValueError, match="sensitive_features must have one row per sample"):
        FairClassifier(epochs=1).fit(X, y, sensitive_features=S[:40])
    with pytest.raises(ValueError, match="sensitive_features: the distance-covariance penalty needs at least 4"):
        FairClassifier(epochs=1).fit(X[:3], [0, 1, 0], sensitive_features=pd.DataFrame({"g": [0, 1, 1]}))
    with pytest.raises(ValueError, match="batch_size must be >= 4"):
        FairClassifier(epochs=1, batch_size=2).fit(X, y, sensitive_features=S)
    with pytest.raises(ValueError, match="penalty 'dcov' takes one protected attribute"):
        FairClassifier(penalty="dcov", epochs=1).fit(X, y, sensitive_features=S)
    with pytest.raises(ValueError, match="penalty must be"):
        FairClassifier(penalty="hsic").fit(X, y)
    with pytest.raises(ValueError, match="lam must be"):
        FairRegressor(lam=-1.0).fit(X, X[:, 0])
    # batches never fall under 4 rows while a penalty is active
    FairClassifier(epochs=1, batch_size=4, random_state=0).fit(X[:7], y[:7], sensitive_features=S[:7].assign(
        gender=[0, 1, 0, 1, 0, 1, 0]))


@parametrize_with_checks([FairClassifier(**CHECK_SETTINGS), FairRegressor(**CHECK_SETTINGS)],
                         expected_failed_checks=lambda est: {
                             "check_sample_weight_equivalence_on_dense_data":
                                 "features are standardised and batches drawn per row: weighting a row is not repeating it"})
def test_sklearn_compatible(estimator, check, one_thread):
    check(estimator)
