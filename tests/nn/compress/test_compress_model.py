"""One-call compression: layer swap, strict state-dict loading, Act variant, DeepFM fusion, bad plans."""

import pytest
import torch
from torch import nn

from diversa.nn.compress import (
    LowRankEmbedding,
    LowRankLinear,
    collect_output_stats,
    compress,
    compress_state_dict,
    count_parameters,
    low_rank_linear_parameters,
)
from diversa.nn.models.ctr import DeepFM


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 1))


def _deepfm():
    torch.manual_seed(0)
    model = DeepFM((7, 5, 3), embed_dim=6, dense_dim=2, hidden=(8, 8))
    for table in model.embeddings:
        nn.init.normal_(table.weight)
    return model


def _ctr_inputs(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.stack([torch.randint(0, v, (n,), generator=g) for v in (7, 5, 3)], 1)
    return x_cat, torch.randn(n, 2, generator=g)


def test_full_rank_compression_reproduces_the_model(one_thread):
    model, x = _mlp(), torch.randn(300, 6)
    small = compress(model, x, {"0": 10, "2": 8})
    assert isinstance(small[0], LowRankLinear) and isinstance(model[0], nn.Linear)
    torch.testing.assert_close(small(x), model(x), atol=1e-5, rtol=1e-5)


def test_parameter_count_follows_the_formula(one_thread):
    model, x = _mlp(), torch.randn(100, 6)
    small = compress(model, x, {"0": 3}, method="svd")
    assert count_parameters(small[0]) == low_rank_linear_parameters(6, 10, 3) == 3 * (6 + 10) + 3 + 10
    assert count_parameters(model) - count_parameters(small) == (6 * 10 + 10) - low_rank_linear_parameters(6, 10, 3)


def test_state_dict_loads_strictly_into_the_compressed_modules(one_thread):
    model = _deepfm()
    inputs = _ctr_inputs()
    plan = {"dnn.1": 3, "embeddings.0": 2}
    stats = collect_output_stats(model, inputs, list(plan))
    state = compress_state_dict(model.state_dict(), stats, plan, embeddings={"embeddings.0"})
    twin = _deepfm()
    twin.dnn[1] = LowRankLinear(8, 8, 3)
    twin.embeddings[0] = LowRankEmbedding(7, 6, 2)
    twin.load_state_dict(state, strict=True)
    assert set(state) == set(twin.state_dict())


def test_act_variant_puts_relu_between_the_factors(one_thread):
    model, x = _mlp(), torch.randn(100, 6)
    exact, act = compress(model, x, {"2": 4}), compress(model, x, {"2": 4}, activation="relu")
    layer = act[2]
    h = model[1](model[0](x))
    torch.testing.assert_close(layer(h), layer.B(torch.relu(layer.A(h))))
    torch.testing.assert_close(layer.A.weight, exact[2].A.weight)
    assert not torch.allclose(act(x), exact(x))


def test_deepfm_fusion_equals_explicit_reconstruction(one_thread):
    model, inputs = _deepfm(), _ctr_inputs()
    plan = {"embeddings.0": 2, "embeddings.1": 3, "dnn.0": 5}
    fused = compress(model, inputs, plan)
    explicit = compress(model, inputs, plan, fuse=False)
    assert fused.fused_fields == (0, 1) and explicit.fused_fields == ()
    assert fused.dnn[0].A.in_features == 2 + 3 + 6 + 2
    torch.testing.assert_close(fused(*inputs), explicit(*inputs), atol=1e-5, rtol=1e-5)
    assert count_parameters(fused) < count_parameters(explicit)


def test_full_rank_deepfm_compression_reproduces_the_model(one_thread):
    model, inputs = _deepfm(), _ctr_inputs()
    plan = {"embeddings.0": 6, "embeddings.1": 6, "embeddings.2": 6, "dnn.1": 8}
    torch.testing.assert_close(compress(model, inputs, plan)(*inputs), model(*inputs), atol=1e-4, rtol=1e-4)


def test_unseen_ids_still_have_embeddings(one_thread):
    model = _deepfm()
    seen = _ctr_inputs()
    seen[0][:, 0] = seen[0][:, 0] % 3  # ids 3..6 of field 0 never appear in calibration
    small = compress(model, seen, {"embeddings.0": 2})
    codes = small.embeddings[0].codes(torch.arange(7))
    assert codes.shape == (7, 2) and torch.isfinite(codes).all()
    x_cat = torch.tensor([[6, 0, 0], [4, 1, 2]])
    assert torch.isfinite(small(x_cat, torch.zeros(2, 2))).all()


def test_svd_needs_no_calibration_and_the_original_is_untouched(one_thread):
    model = _mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    small = compress(model, None, {"2": 2}, method="svd")
    assert isinstance(small[2], LowRankLinear)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("plan, error, match", [
    ({"0": 0}, ValueError, r"plan\['0'\]: rank must be >= 1"),
    ({"0": 11}, ValueError, r"plan\['0'\]: rank = 11 exceeds the layer's output width d_out \(10\)"),
    ({"1": 2}, TypeError, "only nn.Linear and nn.Embedding"),
    ({"7": 2}, ValueError, "no module named"),
    ({}, ValueError, "non-empty mapping"),
])
def test_bad_plans_are_refused(plan, error, match, one_thread):
    with pytest.raises(error, match=match):
        compress(_mlp(), torch.randn(20, 6), plan)


def test_bad_method_activation_and_calibration_are_refused(one_thread):
    with pytest.raises(ValueError, match="method"):
        compress(_mlp(), torch.randn(20, 6), {"0": 2}, method="pca")
    with pytest.raises(ValueError, match="activation"):
        compress(_mlp(), torch.randn(20, 6), {"0": 2}, activation="tanh")
    with pytest.raises(ValueError, match="calibration must provide at least 2 rows"):
        compress(_mlp(), torch.randn(1, 6), {"0": 2})
    with pytest.raises(ValueError, match="stats"):
        compress_state_dict(_mlp().state_dict(), {}, {"0": 2})
