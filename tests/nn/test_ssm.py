"""The selective scan and the tiny Vision Mamba: both scan forms agree, mambapy is matched, SLWS leaves eval alone."""

import pytest
import torch
from mambapy import mamba as mambapy_mamba   # the anchor (test extra): a pure-PyTorch Mamba

from diversa.nn.regularizers import LayerwiseShuffle
from diversa.nn.ssm import BiSelectiveSSM, TinyVisionMamba, selective_scan


def scan_inputs(shape=(3,), L=9, E=5, N=3, dtype=torch.float64, dt_scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(*shape, L, E, generator=g, dtype=dtype)
    delta = torch.rand(*shape, L, E, generator=g, dtype=dtype) * dt_scale + 1e-3
    A = -torch.rand(E, N, generator=g, dtype=dtype) * 3 - 0.1
    B = torch.randn(*shape, L, N, generator=g, dtype=dtype)
    C = torch.randn(*shape, L, N, generator=g, dtype=dtype)
    D = torch.randn(E, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (u, delta, A, B, C, D)]


def values_and_grads(method, inputs):
    y = selective_scan(*inputs, method=method)
    grads = torch.autograd.grad((y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype)).sum(), inputs)
    return y, grads


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("shape", [(3,), (2, 4)])
def test_sequential_and_segment_sum_scans_agree_with_gradients(dtype, tol, shape):
    inputs = scan_inputs(shape, dtype=dtype)
    y_seq, g_seq = values_and_grads("sequential", inputs)
    y_par, g_par = values_and_grads("parallel", inputs)
    torch.testing.assert_close(y_par, y_seq, atol=tol, rtol=tol)
    for a, b in zip(g_par, g_seq):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, atol=tol * 10, rtol=tol * 10)


def test_segment_sum_gradients_stay_finite_where_the_future_terms_overflow():
    # dt * |A| summed over the sequence reaches ~10^3: exp of the unmasked future entries would be inf,
    # so masking must come before the exp (and after multiplying by A) for the gradients to stay finite
    inputs = scan_inputs(L=12, dtype=torch.float32, dt_scale=30.0)
    y, grads = values_and_grads("parallel", inputs)
    assert torch.isfinite(y).all() and all(torch.isfinite(g).all() for g in grads)
    y_seq, g_seq = values_and_grads("sequential", inputs)
    torch.testing.assert_close(y, y_seq, atol=1e-4, rtol=1e-4)


def test_scan_is_the_recurrence():
    u, delta, A, B, C, D = (t.detach() for t in scan_inputs((1,), L=4, E=2, N=2))
    h = torch.zeros(2, 2, dtype=torch.float64)
    for t in range(4):
        h = torch.exp(delta[0, t, :, None] * A) * h + delta[0, t, :, None] * B[0, t] * u[0, t, :, None]
        expected = h @ C[0, t] + D * u[0, t]
        torch.testing.assert_close(selective_scan(u, delta, A, B, C, D, "sequential")[0, t], expected)


def test_scan_matches_mambapy_reference_scans():
    cfg = mambapy_mamba.MambaConfig(d_model=4, n_layers=1, d_state=3, expand_factor=2)
    block = mambapy_mamba.MambaBlock(cfg)
    u, delta, A, B, C, D = (t.detach().float() for t in scan_inputs((2,), L=11, E=cfg.d_inner, N=3))
    with torch.no_grad():
        for ours in ("sequential", "parallel"):
            y = selective_scan(u, delta, A, B, C, D, method=ours)
            torch.testing.assert_close(y, block.selective_scan_seq(u, delta, A, B, C, D), atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(y, block.selective_scan(u, delta, A, B, C, D), atol=1e-5, rtol=1e-5)


def test_bidirectional_mixer_is_the_mean_of_two_mambapy_blocks(one_thread):
    # With shared in/out projections, out_proj((y_f + y_b) / 2 * silu(z)) is the mean of a forward Mamba block
    # and a Mamba block run on the reversed sequence and reversed back.
    torch.manual_seed(0)
    d, N, k = 6, 2, 3
    ours = BiSelectiveSSM(d, d_state=N, d_conv=k, expand=2, dt_rank=2, scan="sequential")
    cfg = mambapy_mamba.MambaConfig(d_model=d, n_layers=1, d_state=N, d_conv=k, expand_factor=2, dt_rank=2,
                                    bias=True, conv_bias=True, pscan=False)
    directions = [mambapy_mamba.MambaBlock(cfg) for _ in range(2)]
    with torch.no_grad():
        for i, ref in enumerate(directions):
            ref.in_proj.load_state_dict(ours.in_proj.state_dict())
            ref.out_proj.load_state_dict(ours.out_proj.state_dict())
            ref.conv1d.weight.copy_(ours.conv_weight[i].unsqueeze(1))
            ref.conv1d.bias.copy_(ours.conv_bias[i])
            ref.x_proj.weight.copy_(ours.x_proj[i].T)
            ref.dt_proj.weight.copy_(ours.dt_proj[i].T)
            ref.dt_proj.bias.copy_(ours.dt_bias[i])
            ref.A_log.copy_(ours.A_log[i])
            ref.D.copy_(ours.D[i])
    x = torch.randn(3, 10, d)
    expected = (directions[0](x) + directions[1](x.flip(1)).flip(1)) / 2
    torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)
    ours.scan = "parallel"
    torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)


def test_layerwise_shuffle_plugs_into_mambapy_layers(one_thread):
    torch.manual_seed(0)
    mamba = mambapy_mamba.Mamba(mambapy_mamba.MambaConfig(d_model=8, n_layers=3, d_state=4))
    stack = LayerwiseShuffle(mamba.layers, max_prob=1.0, schedule="constant",
                             generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 12, 8)
    with torch.no_grad():
        plain = mamba(x)
        assert torch.equal(stack.eval()(x), plain)
        shuffled = stack.train()(x)
    assert stack.last_shuffled == [False, True, True]
    assert shuffled.shape == plain.shape and not torch.allclose(shuffled, plain, atol=1e-4)


def test_the_mixer_is_order_dependent_and_finite_for_one_token(one_thread):
    torch.manual_seed(0)
    mixer = BiSelectiveSSM(8)
    x = torch.randn(2, 9, 8)
    perm = torch.randperm(9)
    assert not torch.allclose(mixer(x[:, perm]), mixer(x)[:, perm], atol=1e-5)
    y = mixer(torch.randn(3, 1, 8))
    assert y.shape == (3, 1, 8) and torch.isfinite(y).all()


def test_tiny_vim_shapes_class_token_and_eval_identity(one_thread):
    torch.manual_seed(0)
    images = torch.rand(5, 1, 8, 8)
    for cls_position, index in (("start", 0), ("middle", 8)):
        torch.manual_seed(0)
        model = TinyVisionMamba(depth=3, embed_dim=8, cls_position=cls_position)
        assert model.cls_index == index and model(images).shape == (5, 10)
    # an SLWS-trained model predicts exactly as the same weights without the wrapper's shuffles
    torch.manual_seed(0)
    shuffled = TinyVisionMamba(depth=3, embed_dim=8, shuffle_rate=1.0, drop_path_rate=0.5)
    torch.manual_seed(0)
    plain = TinyVisionMamba(depth=3, embed_dim=8)
    opt = torch.optim.SGD(shuffled.parameters(), lr=0.1)
    for _ in range(3):
        loss = shuffled(images).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert any(shuffled.blocks.last_shuffled)
    plain.load_state_dict(shuffled.state_dict())
    with torch.no_grad():
        assert torch.equal(shuffled.eval()(images), plain.eval()(images))
        assert not torch.equal(shuffled.train()(images), plain(images))


def test_both_scan_forms_give_the_same_model(one_thread):
    torch.manual_seed(0)
    seq = TinyVisionMamba(depth=2, embed_dim=8, scan="sequential")
    torch.manual_seed(0)
    par = TinyVisionMamba(depth=2, embed_dim=8, scan="parallel")
    images = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(seq(images), par(images), atol=1e-5, rtol=1e-5)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="method"):
        selective_scan(*scan_inputs(), method="fft")
    u, delta, A, B, C, D = scan_inputs()
    with pytest.raises(ValueError, match="A must"):
        selective_scan(u, delta, A[:-1], B, C, D)
    with pytest.raises(ValueError, match="B must"):
        selective_scan(u, delta, A, B[..., :-1], C, D)
    with pytest.raises(ValueError, match="scan"):
        BiSelectiveSSM(8, scan="fast")
    with pytest.raises(ValueError, match="d_model"):
        BiSelectiveSSM(0)
    with pytest.raises(ValueError, match="x must"):
        BiSelectiveSSM(4)(torch.randn(3, 4))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        TinyVisionMamba(img_size=8, patch_size=3)
    with pytest.raises(ValueError, match="cls_position"):
        TinyVisionMamba(cls_position="end")
    with pytest.raises(ValueError, match="images must"):
        TinyVisionMamba(depth=1, embed_dim=4)(torch.rand(2, 64))
