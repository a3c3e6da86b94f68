"""ShuffleMambaClassifier: the scikit-learn contract, paired initialisation across regularisers, bad input."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from diversa.learners import ShuffleMambaClassifier

SMALL = dict(depth=2, embed_dim=8, batch_size=64)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def test_fit_predict_and_history(digits, one_thread):
    X, y = digits
    labels = np.array([f"d{v}" for v in y])
    clf = ShuffleMambaClassifier(**SMALL, epochs=6, lr=1e-2, cls_position="middle", random_state=0).fit(X, labels)
    proba = clf.predict_proba(X[:20])
    assert proba.shape == (20, 10) and np.allclose(proba.sum(1), 1.0)
    assert set(clf.predict(X[:20])) <= set(clf.classes_) and clf.classes_[0] == "d0"
    assert len(clf.history_) == 6 and clf.history_[-1] < clf.history_[0]
    assert clf.score(X, labels) > 0.3                                  # well above chance after 6 epochs
    assert not clf.model_.training and clf.n_features_in_ == 64


def test_reproducible_and_leaves_the_global_generator_alone(digits, one_thread):
    X, y = digits
    state = torch.get_rng_state()
    a = ShuffleMambaClassifier(**SMALL, epochs=2, shuffle_rate=0.5, drop_path_rate=0.2, random_state=3).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
    b = ShuffleMambaClassifier(**SMALL, epochs=2, shuffle_rate=0.5, drop_path_rate=0.2, random_state=3).fit(X, y)
    assert a.history_ == b.history_
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))


def test_regularised_and_plain_models_start_from_the_same_weights(digits, one_thread):
    # the paired design of the reproduction: only the train-time regulariser differs between arms
    X, y = digits
    plain = ShuffleMambaClassifier(**SMALL, epochs=0, shuffle_rate=0.0, random_state=1).fit(X, y)
    both = ShuffleMambaClassifier(**SMALL, epochs=0, shuffle_rate=0.9, drop_path_rate=0.5, random_state=1).fit(X, y)
    for (name, p), q in zip(plain.model_.state_dict().items(), both.model_.state_dict().values()):
        assert torch.equal(p, q), name
    assert both.model_.blocks.probs[-1] == 0.9
    # and the shuffle changes training itself (the model is order-dependent)
    shuffled = ShuffleMambaClassifier(**SMALL, epochs=1, shuffle_rate=1.0, shuffle_schedule="constant",
                                      random_state=1).fit(X, y)
    trained = ShuffleMambaClassifier(**SMALL, epochs=1, shuffle_rate=0.0, random_state=1).fit(X, y)
    assert shuffled.history_ != trained.history_


def test_image_shape_and_clone(digits, one_thread):
    X, y = digits
    clf = ShuffleMambaClassifier(**SMALL, epochs=1, image_shape=(1, 8, 8), random_state=0)
    assert clone(clf).get_params() == clf.get_params()
    two_channels = np.hstack([X, X])[:, :128]
    ShuffleMambaClassifier(**SMALL, epochs=1, image_shape=(2, 8, 8), random_state=0).fit(two_channels, y)


@pytest.mark.parametrize("params, match", [
    (dict(shuffle_rate=1.5), "shuffle_rate"), (dict(drop_path_rate=-0.1), "drop_path_rate"),
    (dict(epochs=-1), "epochs"), (dict(batch_size=0), "batch_size"), (dict(lr=0.0), "lr"),
    (dict(shuffle_schedule="cosine"), "schedule"), (dict(image_shape=(1, 4, 16)), "image_shape"),
    (dict(scan="fft"), "scan"), (dict(cls_position="end"), "cls_position"),
])
def test_bad_hyper_parameters(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        ShuffleMambaClassifier(**{**SMALL, "epochs": 1, **params}).fit(X, y)


def test_bad_data(digits):
    X, y = digits
    with pytest.raises(ValueError, match="perfect square"):
        ShuffleMambaClassifier(**SMALL, epochs=1).fit(X[:, :60], y)
    with pytest.raises(ValueError, match="two classes"):
        ShuffleMambaClassifier(**SMALL, epochs=1).fit(X, np.zeros(len(X)))
    with pytest.raises(TypeError, match="image_shape"):
        ShuffleMambaClassifier(**SMALL, epochs=1, image_shape=8).fit(X, y)
    clf = ShuffleMambaClassifier(**SMALL, epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :49])
