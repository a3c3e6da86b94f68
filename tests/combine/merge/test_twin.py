"""Twin-Merging: the defining identity, compression rank rule, batched mixing, router."""

import pytest
import torch
from torch import nn

from diversa.combine.merge import TwinMerging, compress_svd, task_arithmetic


def _body():
    return nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 5))


@pytest.fixture
def experts():
    torch.manual_seed(0)
    base = _body().state_dict()
    out = []
    for t in range(3):
        g = torch.Generator().manual_seed(t + 1)
        out.append({k: v + 0.3 * torch.randn(v.shape, generator=g) for k, v in base.items()})
    return base, out


def test_oracle_weights_without_compression_recover_experts(experts):
    base, ex = experts
    twin = TwinMerging(compression="none").fit(base, ex)
    for t in range(3):
        state = twin.merged_state(torch.eye(3)[t])
        for k in ex[t]:
            torch.testing.assert_close(state[k], ex[t][k], atol=1e-6, rtol=1e-6)
    shared = task_arithmetic(base, ex, scaling=0.3)
    zero = twin.merged_state(torch.zeros(3))
    for k in shared:
        torch.testing.assert_close(zero[k], shared[k])


def test_compress_svd_rank_rule():
    d = torch.randn(8, 20, generator=torch.Generator().manual_seed(0))
    P, Q = compress_svd(d, density=0.25)
    assert P.shape == (8, 2) and Q.shape == (20, 2)
    P, Q = compress_svd(d, density=1.0)
    torch.testing.assert_close(P @ Q.T, d, atol=1e-5, rtol=1e-5)
    P, Q = compress_svd(d, density=0.0)
    assert P.shape[1] == 0 and torch.equal(P @ Q.T, torch.zeros(8, 20))
    b = torch.randn(5)
    assert torch.equal(compress_svd(b, 0.1), b)
    import numpy as np
    U, S, Vt = np.linalg.svd(d.numpy(), full_matrices=False)
    P, Q = compress_svd(d, rank=3)
    np.testing.assert_allclose((P @ Q.T).numpy(), (U[:, :3] * S[:3]) @ Vt[:3], atol=1e-5)


def test_batched_module_equals_per_row_states(experts):
    base, ex = experts
    twin = TwinMerging(density=0.5).fit(base, ex, body_factory=_body)
    X = torch.randn(5, 6, generator=torch.Generator().manual_seed(9))
    w = torch.softmax(torch.randn(5, 3, generator=torch.Generator().manual_seed(8)), dim=1)
    head = nn.Identity()
    batched = twin.predict_logits(X, head, weights=w)
    for i in range(5):
        body = _body()
        body.load_state_dict(twin.merged_state(w[i]))
        torch.testing.assert_close(batched[i], body(X[i:i + 1])[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("compression", ["svd", "none"])
def test_exclusive_parts_are_buffers_moved_by_to_and_saved(experts, compression):
    base, ex = experts
    twin = TwinMerging(density=0.5, compression=compression).fit(base, ex, body_factory=_body)
    module = twin.as_module(_body)
    state = module.state_dict()
    names = ("p_0", "q_0") if compression == "svd" else ("dense_0",)
    assert all(f"body.0.{n}" in state for n in names) and "body.0.bias_2" in state
    X = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    w = torch.softmax(torch.randn(4, 3, generator=torch.Generator().manual_seed(2)), dim=1)
    expected = module(X, w)
    wide = module.to(torch.float64)  # a list of factors would stay float32 and fail the matmul
    assert all(b.dtype == torch.float64 for b in wide.buffers())
    torch.testing.assert_close(wide(X.double(), w.double()).float(), expected, atol=1e-5, rtol=1e-5)
    copy = twin.as_module(_body)
    for name, buffer in copy.named_buffers():
        buffer.zero_()
    copy.load_state_dict(state)
    torch.testing.assert_close(copy(X, w), expected)


def test_router_learns_separable_tasks(experts):
    base, ex = experts
    g = torch.Generator().manual_seed(3)
    inputs = [torch.randn(120, 6, generator=g) + 3 * t for t in range(3)]

    def features(state, X):
        body = _body()
        body.load_state_dict(state)
        return body[:2](X)

    twin = TwinMerging(router_epochs=30, router_lr=1e-2, router_batch_size=64, random_state=0)
    twin.fit(base, ex, router_inputs=inputs, feature_fn=features)
    w = twin.route(inputs[2][:10])
    torch.testing.assert_close(w.sum(1), torch.ones(10))
    assert (w >= 0).all()
    assert twin.router_val_acc_ > 0.9
    hits = [(twin.route(inputs[t]).argmax(1) == t).float().mean() for t in range(3)]
    assert sum(hits) / 3 > 0.8
    again = TwinMerging(router_epochs=30, router_lr=1e-2, router_batch_size=64, random_state=0)
    again.fit(base, ex, router_inputs=inputs, feature_fn=features)
    torch.testing.assert_close(again.route(inputs[2][:10]), w)


def test_errors(experts):
    base, ex = experts
    with pytest.raises(ValueError, match="router_inputs"):
        TwinMerging().fit(base, ex, router_inputs=[torch.zeros(2, 6)], feature_fn=lambda s, x: x)
    with pytest.raises(ValueError, match="density"):
        TwinMerging(density=1.5).fit(base, ex)
    bad = dict(ex[1])
    bad["extra"] = torch.zeros(1)
    with pytest.raises(ValueError, match="experts\\[1\\]"):
        TwinMerging().fit(base, [ex[0], bad])
    with pytest.raises(ValueError, match="weights"):
        TwinMerging().fit(base, ex).merged_state([1.0, 0.0])
