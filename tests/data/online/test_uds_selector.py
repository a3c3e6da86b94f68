"""UDS online batch selection (arXiv:2510.16882): nuclear-norm utility, FFT projector, FIFO buffer, selector."""

import numpy as np
import pytest
import torch

from diversa.data.online import FastJLProjector, FIFOBuffer, UDSSelector, nuclear_norm_scores


def test_nuclear_norm_matches_torch_and_numpy_and_ignores_padding(one_thread):
    L = torch.randn(4, 6, 9)
    ours = nuclear_norm_scores(L)
    assert torch.allclose(ours, torch.linalg.matrix_norm(L, ord="nuc"), atol=1e-4)
    assert np.allclose(ours.numpy(), [np.linalg.norm(m, "nuc") for m in L.numpy()], atol=1e-4)
    rank1 = torch.outer(torch.randn(6), torch.randn(9))[None]
    assert torch.allclose(nuclear_norm_scores(rank1), rank1.norm(), rtol=1e-4)
    assert torch.allclose(nuclear_norm_scores(3 * L), 3 * ours, rtol=1e-4)
    padded = torch.cat([L, torch.zeros(4, 3, 9)], 1)
    assert torch.allclose(nuclear_norm_scores(padded), ours, atol=1e-4)
    noisy_pad = torch.cat([L, torch.randn(4, 3, 9)], 1)
    mask = torch.arange(9)[None].expand(4, 9) < 6
    assert torch.allclose(nuclear_norm_scores(noisy_pad, mask), ours, atol=1e-4)


def test_projector_is_seeded_linear_and_pads_short_inputs(one_thread):
    p = FastJLProjector(max_len=10, vocab_size=20, d_time=4, d_vocab=16, random_state=3)
    q = FastJLProjector(max_len=10, vocab_size=20, d_time=4, d_vocab=16, random_state=3)
    a, b = torch.randn(2, 7, 20), torch.randn(2, 7, 20)
    assert p.project(a).shape == (2, 64)
    assert torch.equal(p.project(a), q.project(a))
    assert torch.allclose(p.project(2 * a - b), 2 * p.project(a) - p.project(b), atol=1e-3)
    assert torch.count_nonzero(p.project(torch.zeros(1, 7, 20))) == 0
    padded = torch.cat([a, torch.zeros(2, 3, 20)], 1)
    assert torch.allclose(p.project(padded), p.project(a))
    with pytest.raises(ValueError, match="max_len"):
        p.project(torch.randn(1, 11, 20))
    with pytest.raises(ValueError, match="vocabulary"):
        p.project(torch.randn(1, 5, 21))


def test_projector_preserves_distances_roughly(one_thread):
    # spec check C4: median |d_proj/d_true - 1| < 0.3 after rescaling by the mean ratio, 50 random logit matrices
    p = FastJLProjector(max_len=32, vocab_size=189, random_state=0)
    L = torch.randn(50, 32, 189) * torch.rand(50, 1, 1) * 3
    z = p.project(L)
    i, j = torch.triu_indices(50, 50, 1)
    true = (L[i] - L[j]).flatten(1).norm(dim=1)
    proj = (z[i] - z[j]).norm(dim=1)
    ratio = proj / true
    assert float((ratio / ratio.mean() - 1).abs().median()) < 0.3


def test_fifo_buffer_order_wraparound_and_distance(one_thread):
    buf = FIFOBuffer(capacity=3, dim=2)
    assert len(buf) == 0 and torch.equal(buf.mean_distance(torch.ones(2, 2)), torch.zeros(2))
    for v in range(5):
        buf.push(torch.full((1, 2), float(v)))
    assert buf.items()[:, 0].tolist() == [2.0, 3.0, 4.0]
    same = FIFOBuffer(4, 2)
    same.push(torch.tensor([[1.0, 2.0]] * 4))
    assert float(same.mean_distance(torch.tensor([[1.0, 2.0]]))) == 0.0
    with pytest.raises(ValueError, match="z must have shape"):
        buf.push(torch.ones(1, 3))
    with pytest.raises(ValueError, match="capacity"):
        FIFOBuffer(0, 2)


def test_alpha_zero_and_empty_buffer_are_nuclear_norm_top_k(one_thread):
    L = torch.randn(10, 5, 12) * torch.arange(1, 11).float()[:, None, None].flip(0).roll(3, 0)
    top = torch.sort(torch.argsort(-nuclear_norm_scores(L))[:3]).values
    assert torch.equal(UDSSelector(k=3, alpha=0.0).select(L), top)
    assert torch.equal(UDSSelector(k=3, alpha=10.0).select(L), top)  # first step: buffer empty, inter = 0
    sel = UDSSelector(k=3, alpha=0.0)
    for _ in range(3):
        sel.select(torch.randn(10, 5, 12))
    assert torch.equal(sel.select(L), top)


def test_inter_term_prefers_a_new_pattern_over_the_buffered_one(one_thread):
    torch.manual_seed(0)
    A, B = torch.randn(5, 12), torch.randn(5, 12)
    sel = UDSSelector(k=1, use_intra=False, d_time=4, d_vocab=16)
    for _ in range(20):  # fill the buffer with noisy copies of A (each batch of 5 copies, keep 1)
        sel.select(A + 0.05 * torch.randn(5, 5, 12))
    batch = torch.stack([A + 0.05 * torch.randn(5, 12), B])
    assert sel.select(batch).tolist() == [1]
    inter = sel.last_scores_["inter"]
    assert inter[1] > inter[0]


def test_use_intra_false_is_inter_only_and_start_step_keeps_the_batch(one_thread):
    sel = UDSSelector(k=2, use_intra=False, start_step=2)
    assert sel.select(torch.randn(6, 4, 8)).tolist() == list(range(6))
    assert not hasattr(sel, "buffer_") or len(sel.buffer_) == 0
    sel.select(torch.randn(6, 4, 8))
    idx = sel.select(torch.randn(6, 4, 8))
    assert len(idx) == 2 and len(sel.buffer_) == 2
    assert torch.equal(sel.last_scores_["total"], sel.last_scores_["inter"].double())


def test_auto_alpha_balances_the_medians(one_thread):
    sel = UDSSelector(k=2, alpha_mode="auto", alpha_rel=0.5, d_time=2, d_vocab=8)
    sel.select(torch.randn(8, 4, 10))
    assert sel.alpha_ is None
    sel.select(torch.randn(8, 4, 10))
    s = sel.last_scores_
    assert sel.alpha_ == pytest.approx(0.5 * float(s["intra"].median()) / float(s["inter"].median()))
    first = sel.alpha_
    sel.select(torch.randn(8, 4, 10))
    assert sel.alpha_ == first


def test_k_at_least_the_batch_keeps_all_and_fraction_k(one_thread):
    assert UDSSelector(k=8).select(torch.randn(5, 3, 6)).tolist() == [0, 1, 2, 3, 4]
    assert len(UDSSelector(k=0.25).select(torch.randn(16, 3, 6))) == 4


@pytest.mark.parametrize("k, error, match", [(0, ValueError, "k must be at least 1"), (-2, ValueError, "k must"),
                                             (1.5, ValueError, "k as a fraction"), (0.0, ValueError, "k as a"),
                                             (True, TypeError, "k must"), ("4", TypeError, "k must")])
def test_bad_k_is_named(k, error, match, one_thread):
    with pytest.raises(error, match=match):
        UDSSelector(k=k).select(torch.randn(4, 3, 6))


def test_bad_batches_are_named(one_thread):
    sel = UDSSelector(k=2)
    with pytest.raises(ValueError, match="logits is an empty batch"):
        sel.select(torch.zeros(0, 3, 6))
    bad = torch.randn(4, 3, 6)
    bad[1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="logits contains NaN"):
        sel.select(bad)
    with pytest.raises(ValueError, match="logits must be 3-D"):
        sel.select(torch.randn(4, 6))
    with pytest.raises(ValueError, match="logits is required"):
        sel.select(losses=torch.ones(4))
    with pytest.raises(ValueError, match="mask must have shape"):
        sel.select(torch.randn(4, 3, 6), mask=torch.ones(4, 2))
    with pytest.raises(ValueError, match="alpha_mode"):
        UDSSelector(k=2, alpha_mode="median").select(torch.randn(4, 3, 6))
    with pytest.raises(ValueError, match="use_intra and use_inter"):
        UDSSelector(k=2, use_intra=False, use_inter=False).select(torch.randn(4, 3, 6))
    with pytest.raises(ValueError, match="start_step"):
        UDSSelector(k=2, start_step=-1).select(torch.randn(4, 3, 6))


def test_selection_is_reproducible_and_buffer_holds_kept_projections(one_thread):
    batches = [torch.randn(8, 4, 10) for _ in range(4)]
    runs = []
    for _ in range(2):
        sel = UDSSelector(k=3, alpha_mode="auto", d_time=2, d_vocab=8, random_state=1)
        runs.append([sel.select(b).tolist() for b in batches])
    assert runs[0] == runs[1]
    assert len(sel.buffer_) == 12
    assert torch.allclose(sel.buffer_.items()[-3:], sel.projections_[torch.tensor(runs[1][-1])])
    assert sel.get_params()["k"] == 3  # scikit-learn style parameters
