import numpy as np
import pytest
from sklearn.datasets import load_digits

from diversa.learners.ncd import PBN, NCDBaselineEncoder


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    known = y < 5
    return X[known], y[known], X[~known], y[~known]


def _small(cls=PBN, **kwargs):
    settings = {"latent_dim": 8, "epochs": 5, "batch_size": 128, "n_clusters": 5, "n_init": 2, "random_state": 0}
    return cls(**{**settings, **kwargs})


def _state(model, part):
    return {k: v.clone() for k, v in getattr(model.network_, part).state_dict().items()}


def _same(a, b):
    return all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_w_one_leaves_the_decoder_and_w_zero_the_classifier_untouched(digits, one_thread):
    X_k, y_k, X_u, _ = digits
    start = _small(epochs=0).fit(X_k, y_k, X_u)
    only_ce = _small(w=1.0).fit(X_k, y_k, X_u)
    assert _same(_state(start, "decoder"), _state(only_ce, "decoder"))
    assert not _same(_state(start, "encoder"), _state(only_ce, "encoder"))
    only_mse = _small(w=0.0).fit(X_k, y_k, X_u)
    assert _same(_state(start, "classifier"), _state(only_mse, "classifier"))
    assert not _same(_state(start, "decoder"), _state(only_mse, "decoder"))
    assert only_mse.history_["ce"] == [0.0] * 5 and only_ce.history_["mse"] == [0.0] * 5


def test_training_lowers_both_losses_and_clusters_the_unlabelled_rows(digits, one_thread):
    X_k, y_k, X_u, _ = digits
    model = _small(epochs=30, lr=1e-2, w=0.5).fit(X_k, y_k, X_u)
    h = model.history_
    assert h["ce"][-1] < h["ce"][0] and h["mse"][-1] < h["mse"][0]
    np.testing.assert_allclose(h["loss"], 0.5 * np.array(h["ce"]) + 0.5 * np.array(h["mse"]), rtol=1e-5)
    assert model.labels_.shape == (len(X_u),) and set(model.labels_) == set(range(5))
    assert list(model.known_classes_) == [0, 1, 2, 3, 4] and model.n_novel_classes_ == 5
    assert model.transform(X_u).shape == (len(X_u), 8)
    np.testing.assert_array_equal(model.predict(X_u), model.labels_)
    assert model.cluster_novel(X_u[:40], n_clusters=3).max() == 2


def test_normalized_latent_and_k_estimate(digits, one_thread):
    X_k, y_k, X_u, _ = digits
    model = _small(cluster_on="normalized", n_clusters="auto", k_range=(2, 6), k_repeats=1).fit(X_k, y_k, X_u)
    np.testing.assert_allclose(np.linalg.norm(model.transform(X_u), axis=1), 1.0, rtol=1e-5)
    assert 2 <= model.n_novel_classes_ <= 6 and model.k_estimate_.scores.shape == (5, 1)
    assert model.estimate_n_clusters(X_u).n_clusters == model.k_estimate_.n_clusters


def test_reproducible_conventions_agree_and_global_rng_untouched(digits, one_thread):
    import torch

    X_k, y_k, X_u, _ = digits
    state = torch.get_rng_state()
    a = _small(p_dropout=0.3).fit(X_k, y_k, X_u)
    assert torch.equal(torch.get_rng_state(), state)
    X, y = np.vstack([X_k, X_u]), np.concatenate([y_k, np.full(len(X_u), -1)])
    b = _small(p_dropout=0.3).fit(X, y)
    np.testing.assert_array_equal(a.transform(X_u), b.transform(X_u))
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_baseline_learns_from_known_rows_only(digits, one_thread):
    X_k, y_k, X_u, _ = digits
    a = _small(NCDBaselineEncoder, standardize=False).fit(X_k, y_k, X_u)
    b = _small(NCDBaselineEncoder, standardize=False).fit(X_k, y_k, X_u[::-1] * 0.5)
    assert _same(_state(a, "encoder"), _state(b, "encoder"))
    assert a.network_.decoder is None and len(a.history_["ce"]) == 5
    with pytest.warns(UserWarning, match="no known rows"):
        _small(NCDBaselineEncoder).fit(X_u)


@pytest.mark.parametrize("kwargs, name", [({"w": 1.5}, "w"), ({"lr": 0.0}, "lr"), ({"latent_dim": 0}, "latent_dim"),
                                          ({"cluster_on": "z"}, "cluster_on"), ({"hidden_dims": "big"}, "hidden_dims"),
                                          ({"k_range": (1, 3)}, "k_range"), ({"batch_size": 1}, "batch_size"),
                                          ({"use_norm": "l1"}, "use_norm")])
def test_bad_hyper_parameters(digits, kwargs, name):
    X_k, y_k, X_u, _ = digits
    with pytest.raises(ValueError, match=name):
        _small(**kwargs).fit(X_k, y_k, X_u)


def test_bad_data(digits):
    X_k, y_k, X_u, _ = digits
    with pytest.raises(ValueError, match="unknown_label"):
        _small().fit(X_k, np.where(y_k == 1, -1, y_k), X_u)
    with pytest.raises(ValueError, match="X_unlabelled"):
        _small().fit(X_k, y_k, np.where(X_u > 8, np.nan, X_u))
    with pytest.raises(ValueError, match="sample"):
        _small().fit(X_k, y_k, X_u[:3])
