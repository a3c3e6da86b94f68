import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.datasets.longtail import make_longtail_digits, make_test_distribution
from diversa.learners import LongTailExpertsClassifier
from diversa.nn.aggregation import PredictionStabilityAggregator

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(trunk=(16,), branch=(8,), epochs=4, batch_size=32, random_state=0)


@parametrize_with_checks([LongTailExpertsClassifier(**SMALL),
                          LongTailExpertsClassifier(loss="mdcs", **{**SMALL, "epochs": 2})])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def lt():
    return make_longtail_digits(100, random_state=0)


@pytest.fixture(scope="module")
def sade(lt):
    torch.set_num_threads(1)
    return LongTailExpertsClassifier(loss="sade", epochs=40, augment="digits", random_state=0).fit(
        lt.X_train, lt.y_train)


def test_lambda_zero_mdcs_is_exactly_the_plain_ce_ensemble(lt):
    common = dict(epochs=3, augment="digits", random_state=1)
    ce = LongTailExpertsClassifier(loss="ce", **common).fit(lt.X_train, lt.y_train)
    mdcs = LongTailExpertsClassifier(loss="mdcs", lambdas=(0.0, 0.0, 0.0), kd_weight=0.0, ce_on_strong=False,
                                     **common).fit(lt.X_train, lt.y_train)
    assert np.array_equal(ce.expert_logits(lt.test_pool_X), mdcs.expert_logits(lt.test_pool_X))
    assert ce.loss_curve_ == mdcs.loss_curve_


def test_sade_experts_have_their_skills_and_predictions_are_the_mean_logit(sade, lt):
    X, y = lt.test_pool_X, lt.test_pool_y
    logits = sade.expert_logits(X)
    assert logits.shape == (3, len(y), 10)
    np.testing.assert_allclose(sade.aggregated_logits(X), logits.mean(0), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(sade.predict_proba(X).sum(1), 1.0)
    # the forward expert favours the training head, the backward expert the tail
    head, tail = lt.class_order[:3], lt.class_order[-3:]
    predicted = logits.argmax(2)
    assert np.isin(predicted[0], head).mean() > np.isin(predicted[2], head).mean()
    assert np.isin(predicted[2], tail).mean() > np.isin(predicted[0], tail).mean()


def test_adapt_learns_weights_on_the_test_set_without_touching_the_network(sade, lt):
    before = [p.clone() for p in sade.model_.parameters()]
    X_b, _ = make_test_distribution(lt, "backward")
    X_f, _ = make_test_distribution(lt, "forward")
    agg = PredictionStabilityAggregator(min_steps=150, n_views=4, random_state=0)
    w_back = sade.set_params(aggregator=agg).adapt(X_b).aggregation_weights_
    w_fwd = sade.adapt(X_f).aggregation_weights_
    assert all(torch.equal(p, q) for p, q in zip(before, sade.model_.parameters()))
    assert w_back[2] > w_fwd[2] and w_fwd[0] > w_back[0]
    assert sade.aggregator_.history_.shape[1] == 3
    expected = np.einsum("e,enc->nc", w_fwd, sade.expert_logits(X_f).astype(np.float64))
    np.testing.assert_allclose(sade.aggregated_logits(X_f), expected)
    sade.set_params(aggregator=None)


def test_refit_forgets_the_test_time_weights(lt):
    clf = LongTailExpertsClassifier(epochs=2, augment="digits", random_state=0).fit(lt.X_train, lt.y_train)
    clf.set_params(aggregator=PredictionStabilityAggregator(min_steps=5)).adapt(lt.test_pool_X)
    assert hasattr(clf, "aggregation_weights_")
    assert not hasattr(clf.fit(lt.X_train, lt.y_train), "aggregation_weights_")


def test_mdcs_records_confident_sampling_and_is_reproducible(lt):
    kwargs = dict(loss="mdcs", epochs=6, warmup_epochs=2, augment="digits", strong_strength="mild", random_state=2)
    a = LongTailExpertsClassifier(**kwargs).fit(lt.X_train, lt.y_train)
    b = LongTailExpertsClassifier(**kwargs).fit(lt.X_train, lt.y_train)
    assert np.array_equal(a.expert_logits(lt.test_pool_X), b.expert_logits(lt.test_pool_X))
    assert a.selection_curve_.shape == (6, 3)
    assert np.all((a.selection_curve_ >= 0) & (a.selection_curve_ <= 1))
    assert a.selection_curve_[-1].mean() > a.selection_curve_[0].mean()
    ce = LongTailExpertsClassifier(loss="ce", epochs=2, random_state=0).fit(lt.X_train, lt.y_train)
    assert not ce.selection_curve_.any()


def test_string_labels_and_noise_views(lt):
    labels = np.array(list("abcdefghij"))[lt.y_train]
    clf = LongTailExpertsClassifier(loss="balanced_softmax", epochs=3, random_state=0).fit(lt.X_train, labels)
    assert list(clf.classes_) == list("abcdefghij") and set(clf.predict(lt.test_pool_X)) <= set(labels)
    clf.set_params(aggregator=PredictionStabilityAggregator(min_steps=3, random_state=0)).adapt(lt.test_pool_X)
    assert clf.aggregation_weights_.shape == (3,)


def test_bad_input(lt):
    X, y = lt.X_train, lt.y_train
    with pytest.raises(ValueError, match="n_experts"):
        LongTailExpertsClassifier(loss="ce", n_experts=0).fit(X, y)
    with pytest.raises(ValueError, match="n_experts must be 3"):
        LongTailExpertsClassifier(loss="sade", n_experts=4).fit(X, y)
    with pytest.raises(ValueError, match="lambdas"):
        LongTailExpertsClassifier(loss="mdcs", n_experts=2).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        LongTailExpertsClassifier(loss="focal").fit(X, y)
    with pytest.raises(ValueError, match="augment"):
        LongTailExpertsClassifier(augment="rotate").fit(X, y)
    with pytest.raises(ValueError, match="64 features"):
        LongTailExpertsClassifier(augment="digits").fit(X[:, :10], y)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LongTailExpertsClassifier(epochs=1).fit(X_nan, y)
    clf = LongTailExpertsClassifier(epochs=1, random_state=0)
    with pytest.raises(NotFittedError):
        clf.adapt(X)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        clf.adapt(X_nan)
    with pytest.raises(ValueError, match="min_samples"):
        clf.adapt(X[:5])
    with pytest.raises(ValueError, match=r"labels \[10\] absent from training"):
        clf.score(X[:3], np.array([0, 1, 10]))
    with pytest.raises(ValueError, match="identical views"):
        LongTailExpertsClassifier(epochs=1, augment="none").fit(X, y).adapt(X)
    with pytest.raises(TypeError, match="aggregator"):
        LongTailExpertsClassifier(epochs=1, aggregator="stability").fit(X, y)
