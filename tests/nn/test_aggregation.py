import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from diversa.nn.aggregation import PredictionStabilityAggregator, prediction_stability

pytestmark = pytest.mark.usefixtures("one_thread")


def noise_view(x, g):
    return x + 0.3 * torch.randn(x.shape, generator=g)


def stable_and_jumpy(x):
    """Expert 0 ignores the input (perfectly stable); expert 1 flips with the noise; expert 2 in between."""
    confident = torch.tensor([4.0, 0.0, 0.0]).expand(x.shape[0], 3)
    jumpy = 20 * x[:, :3]
    return torch.stack([confident, jumpy, 0.5 * confident + 0.5 * jumpy])


@pytest.fixture
def X():
    return torch.randn(100, 3, generator=torch.Generator().manual_seed(0))


def test_weights_move_to_the_stable_expert(X):
    for n_views in (None, 6):
        agg = PredictionStabilityAggregator(min_steps=100, stop_below=0.0, n_views=n_views, random_state=0)
        agg.fit(stable_and_jumpy, X, noise_view)
        assert agg.weights_[0] > 0.6 > agg.weights_[1]
        assert agg.weights_.sum() == pytest.approx(1.0)
        assert agg.history_.shape == (agg.n_steps_ + 1, 3) and np.allclose(agg.history_[0], 1 / 3)
        assert agg.stability_ > agg.initial_stability_
        assert agg.expert_stability_[0] == pytest.approx(1.0) and agg.expert_stability_[1] < 0.9
        assert agg.expert_class_prior_.shape == (3, 3) and agg.class_prior_.sum() == pytest.approx(1.0)


def test_identical_experts_or_identical_views_leave_the_weights_uniform(X):
    same = PredictionStabilityAggregator(min_steps=50, random_state=0).fit(
        lambda x: torch.stack([x, x, x]), X, noise_view)
    np.testing.assert_allclose(same.weights_, 1 / 3, atol=1e-6)
    frozen = PredictionStabilityAggregator(min_steps=50, random_state=0).fit(stable_and_jumpy, X, lambda x, g: x)
    np.testing.assert_allclose(frozen.weights_, 1 / 3, atol=1e-6)
    assert frozen.stability_ == pytest.approx(1.0)


def test_steps_follow_the_small_test_set_rule_and_early_stopping(X):
    agg = PredictionStabilityAggregator(epochs=5, min_steps=0, batch_size=32, stop_below=0.0, random_state=0)
    assert agg.fit(stable_and_jumpy, X, noise_view).n_steps_ == 5 * 4         # 100 samples = 4 batches
    agg.set_params(min_steps=37)
    assert agg.fit(stable_and_jumpy, X, noise_view).n_steps_ == 37
    early = PredictionStabilityAggregator(lr=1.0, min_steps=400, batch_size=32, stop_below=0.05, random_state=0)
    early.fit(stable_and_jumpy, X, noise_view)
    assert early.stopped_early_ and early.n_steps_ < 400 and early.n_steps_ % 4 == 0
    assert early.weights_.min() < 0.05


def test_reproducible_and_transform_is_the_weighted_logit_sum(X):
    a = PredictionStabilityAggregator(min_steps=30, random_state=4).fit(stable_and_jumpy, X, noise_view)
    b = PredictionStabilityAggregator(min_steps=30, random_state=4).fit(stable_and_jumpy, X, noise_view)
    assert np.array_equal(a.history_, b.history_)
    logits = stable_and_jumpy(X).double()
    torch.testing.assert_close(a.transform(logits), torch.einsum("e,enc->nc", torch.tensor(a.weights_), logits))
    a.weights_ = np.full(3, 1 / 3)                     # uniform weights: the mean-logit ensemble
    torch.testing.assert_close(a.transform(logits), logits.mean(0))


def test_prediction_stability_is_the_cosine_of_the_softmaxes():
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    pa, pb = torch.softmax(a, -1), torch.softmax(b, -1)
    expected = (pa * pb).sum(-1) / (pa.norm(dim=-1) * pb.norm(dim=-1))
    torch.testing.assert_close(prediction_stability(a, b), expected)


def test_bad_input(X):
    agg = PredictionStabilityAggregator(min_samples=20)
    with pytest.raises(ValueError, match="min_samples=20"):
        agg.fit(stable_and_jumpy, X[:5], noise_view)
    with pytest.raises(ValueError, match="NaN"):
        agg.fit(stable_and_jumpy, torch.full((30, 3), float("nan")), noise_view)
    with pytest.raises(ValueError, match="expert_fn"):
        agg.fit(lambda x: x, X, noise_view)
    with pytest.raises(TypeError, match="augment"):
        agg.fit(stable_and_jumpy, X, None)
    with pytest.raises(ValueError, match="stop_below"):
        PredictionStabilityAggregator(stop_below=1.0).fit(stable_and_jumpy, X, noise_view)
    with pytest.raises(ValueError, match="n_views"):
        PredictionStabilityAggregator(n_views=1).fit(stable_and_jumpy, X, noise_view)
    with pytest.raises(NotFittedError):
        agg.transform(torch.zeros(3, 2, 3))
    agg = PredictionStabilityAggregator(min_steps=2).fit(stable_and_jumpy, X, noise_view)
    with pytest.raises(ValueError, match="E=3"):
        agg.transform(torch.zeros(2, 4, 3))
