import math

import numpy as np
import pytest
import torch

from diversa.data.online import PruningBaseline, QTuning
from diversa.data.online.qtuning import (
    bisect_quantile_level,
    eu_quadrants,
    prune_tokens,
    sample_error_uncertainty,
    smoothed_token_scores,
    token_error_uncertainty,
)


def _batch(b, n=9, v=13, seed=0, prompt=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, n, v, generator=g) * (1 + 3 * torch.rand(b, 1, 1, generator=g))
    targets = torch.randint(0, v, (b, n), generator=g)
    mask = torch.zeros(b, n, dtype=torch.bool)
    mask[:, prompt:] = True
    return logits, targets, mask


# ---------------------------------------------------------------- scores

def test_token_scores_match_torch_references():
    logits, targets, mask = _batch(5)
    nll, ent = token_error_uncertainty(logits, targets, mask)
    ref_nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    ref_ent = torch.distributions.Categorical(logits=logits).entropy()
    assert torch.allclose(nll[mask], ref_nll[mask], atol=1e-5)
    assert torch.allclose(ent[mask], ref_ent[mask], atol=1e-5)
    assert (nll[~mask] == 0).all() and (ent[~mask] == 0).all()
    ppl, sent = sample_error_uncertainty(nll, ent, mask)
    assert torch.allclose(ppl, torch.exp(ref_nll[:, 3:].double().mean(1)))
    assert torch.allclose(sent, ref_ent[:, 3:].double().mean(1))


def test_quadrants_on_the_corners_and_swapping_axes_swaps_q2_and_q4():
    ppl, ent = [9, 9, 1, 1, 5], [9, 1, 1, 9, 5]
    assert eu_quadrants(ppl, ent, 0.2, 0.2).tolist() == [1, 2, 3, 4, 0]
    assert eu_quadrants(ent, ppl, 0.2, 0.2).tolist() == [1, 4, 3, 2, 0]
    # thresholds are inverted-cdf quantiles
    x = np.random.default_rng(0).random(37)
    q = eu_quadrants(x, x, 0.3, 0.3)
    assert set(np.flatnonzero(q == 1)) == set(np.flatnonzero(x >= np.quantile(x, 0.7, method="inverted_cdf")))


@pytest.mark.parametrize("b", range(4, 65))
def test_bisection_keeps_exactly_floor_r_b_samples_and_q2_tokens_follow_the_budget(b):
    logits, targets, mask = _batch(b, seed=b)
    for r_sample in (0.125, 0.25, 0.5, 1.0):
        if math.floor(r_sample * b) < 1:
            continue
        out = QTuning(r_sample, 0.7)(logits, targets, mask)
        assert len(out.keep_idx) == math.floor(r_sample * b)
        kept_tokens = out.loss_mask.sum(1).numpy()
        n_t = mask.sum(1).numpy()
        expected = np.where(out.token_pruned, np.maximum(1, np.floor(0.7 * n_t)), n_t)
        assert (kept_tokens[out.keep_idx] == expected[out.keep_idx]).all()
        dropped = np.setdiff1d(np.arange(b), out.keep_idx)
        assert kept_tokens[dropped].sum() == 0


def test_full_ratios_keep_everything_and_larger_r_never_keeps_fewer():
    logits, targets, mask = _batch(16)
    out = QTuning(1.0, 1.0)(logits, targets, mask)
    assert torch.equal(out.loss_mask, mask) and len(out.keep_idx) == 16
    sizes = [len(QTuning(r, 0.5)(logits, targets, mask).keep_idx) for r in (0.1, 0.25, 0.5, 0.75, 1.0)]
    assert sizes == sorted(sizes)


def test_q2_and_q4_are_kept_and_only_q2_is_token_pruned():
    torch.manual_seed(0)
    b, n, v = 16, 8, 7
    targets = torch.zeros(b, n, dtype=torch.long)
    mask = torch.ones(b, n, dtype=torch.bool)
    logits = torch.zeros(b, n, v)
    # 4 groups of 4: Q1 wrong+unsure, Q2 wrong+sure, Q3 right+sure, Q4 right+unsure
    logits[0:4] = 0.0                     # uniform: high entropy, moderately high NLL
    logits[0:4, :, 1] = 0.5               # unsure and slightly wrong
    logits[4:8, :, 3] = 8.0               # confidently wrong
    logits[8:12, :, 0] = 8.0              # confidently right
    logits[12:16, :, 0] = 1.2             # right but unsure
    logits += 0.01 * torch.randn(b, n, v)
    out = QTuning(0.5, 0.5)(logits, targets, mask)
    assert set(out.keep_idx.tolist()) == set(range(4, 8)) | set(range(12, 16))
    assert out.quadrant[4:8].tolist() == [2] * 4 and out.quadrant[12:16].tolist() == [4] * 4
    assert out.token_pruned[4:8].all() and not out.token_pruned[12:16].any()
    assert out.loss_mask[4:8].sum(1).tolist() == [4] * 4
    assert torch.equal(out.loss_mask[12:16], mask[12:16])  # Q4 keeps its trainable mask
    assert out.stats["Q2"] == 4 and out.stats["Q4"] == 4


def test_masks_never_enable_prompt_tokens():
    logits, targets, mask = _batch(32, prompt=4)
    for pruner in (QTuning(0.25, 0.5), QTuning(1.0, 0.3, prune_q4_tokens=True),
                   PruningBaseline(0.5, 0.5, samples="ppl", tokens="ppl"),
                   PruningBaseline(0.5, 0.5, samples="entropy", tokens="random", random_state=0),
                   PruningBaseline(0.5, 0.5, samples="all", tokens="ppl")):
        out = pruner(logits, targets, mask)
        assert not out.loss_mask[~mask].any()


# ---------------------------------------------------------------- token pruning

def test_token_scores_lambda_zero_is_raw_ppl_and_the_count_is_exact_for_constant_ppl():
    ppl = torch.tensor([[3.0, 1.0, 7.0, 2.0, 5.0]])
    mask = torch.ones(1, 5, dtype=torch.bool)
    assert torch.equal(smoothed_token_scores(ppl, mask, 0.0), ppl.double())
    kept = prune_tokens(smoothed_token_scores(ppl, mask, 0.0), mask, 0.6)
    assert kept[0].tolist() == [True, True, False, True, False]
    const = prune_tokens(smoothed_token_scores(torch.ones(1, 5), mask, 0.5), mask, 0.6)
    assert int(const.sum()) == 3


def test_smoothing_keeps_an_isolated_spike_that_raw_ppl_drops():
    # one spike among low neighbours vs a plateau of moderately high tokens
    ppl = torch.tensor([[1.0, 6.0, 1.0, 4.0, 4.0, 4.0]])
    mask = torch.ones(1, 6, dtype=torch.bool)
    raw = prune_tokens(smoothed_token_scores(ppl, mask, 0.0), mask, 0.5)
    smooth = prune_tokens(smoothed_token_scores(ppl, mask, 0.5), mask, 0.5)
    assert not raw[0, 1] and smooth[0, 1]


def test_neighbours_outside_the_trainable_mask_are_replaced_by_the_token_itself():
    ppl = torch.tensor([[100.0, 2.0, 3.0]])
    mask = torch.tensor([[False, True, True]])
    s = smoothed_token_scores(ppl, mask, 0.5)
    assert s[0, 1].item() == pytest.approx(0.5 * 2 + 0.5 * (2 + 3))
    assert s[0, 2].item() == pytest.approx(0.5 * 3 + 0.5 * (2 + 3))
    assert math.isinf(s[0, 0].item())


# ---------------------------------------------------------------- baselines

def test_baselines_keep_the_right_samples_and_count_scoring_work():
    logits, targets, mask = _batch(16)
    nll, ent = token_error_uncertainty(logits, targets, mask)
    ppl, sent = sample_error_uncertainty(nll, ent, mask)
    by_ppl = PruningBaseline(0.25, 1.0, samples="ppl")(logits, targets, mask)
    assert set(by_ppl.keep_idx) == set(torch.argsort(-ppl)[:4].tolist())
    by_ent = PruningBaseline(0.25, 1.0, samples="entropy")(logits, targets, mask)
    assert set(by_ent.keep_idx) == set(torch.argsort(-sent)[:4].tolist())
    random = PruningBaseline(0.25, 0.5, random_state=0)
    assert not random.needs_logits
    out = random(None, None, mask)
    assert len(out.keep_idx) == 4 and out.loss_mask.sum().item() == 4 * 3
    assert random.n_scored_samples_ == 0 and random.n_kept_tokens_ == 12
    q = QTuning(0.25, 0.5)
    q(logits, targets, mask)
    q(logits, targets, mask)
    assert q.n_batches_ == 2 and q.n_scored_samples_ == 32 and q.n_kept_samples_ == 8
    token_only = PruningBaseline(1.0, 0.5, samples="all", tokens="ppl")(logits, targets, mask)
    assert len(token_only.keep_idx) == 16 and token_only.loss_mask.sum().item() == 16 * 3


def test_random_baseline_is_reproducible_for_a_seed():
    mask = torch.ones(16, 7, dtype=torch.bool)
    a = PruningBaseline(0.25, 0.7, random_state=3)(None, None, mask)
    b = PruningBaseline(0.25, 0.7, random_state=3)(None, None, mask)
    assert torch.equal(a.loss_mask, b.loss_mask)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("value", [0.0, -0.1, 1.5, float("nan")])
@pytest.mark.parametrize("name", ["r_sample", "r_token"])
def test_fractions_outside_the_unit_interval_name_the_argument(name, value):
    with pytest.raises(ValueError, match=name):
        QTuning(**{name: value})
    with pytest.raises(ValueError, match=name):
        PruningBaseline(**{name: value})


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="lam"):
        QTuning(lam=1.5)
    with pytest.raises(TypeError, match="r_sample"):
        QTuning(r_sample="0.5")
    with pytest.raises(ValueError, match="samples"):
        PruningBaseline(samples="longest")
    with pytest.raises(ValueError, match="max_iter"):
        QTuning(max_iter=0)


def test_nan_logits_are_rejected_naming_logits():
    logits, targets, mask = _batch(8)
    logits[2, 5, 0] = float("nan")
    with pytest.raises(ValueError, match="logits"):
        QTuning(0.5)(logits, targets, mask)
    with pytest.raises(ValueError, match="logits"):
        PruningBaseline(0.5, samples="ppl")(logits, targets, mask)


def test_a_budget_that_keeps_no_sample_is_an_error_naming_r_sample():
    logits, targets, mask = _batch(8)
    with pytest.raises(ValueError, match="r_sample"):
        QTuning(0.1)(logits, targets, mask)
    with pytest.raises(ValueError, match="r_sample"):
        PruningBaseline(0.1)(None, None, mask)


def test_a_batch_without_trainable_tokens_is_an_error_naming_loss_mask():
    logits, targets, _ = _batch(8)
    empty = torch.zeros(8, 9, dtype=torch.bool)
    with pytest.raises(ValueError, match="loss_mask"):
        QTuning(0.5)(logits, targets, empty)
    with pytest.raises(ValueError, match="loss_mask"):
        PruningBaseline(0.5)(None, None, empty)


def test_samples_without_trainable_tokens_are_dropped_with_a_warning_never_kept():
    logits, targets, mask = _batch(10)
    mask[[1, 4]] = False
    with pytest.warns(RuntimeWarning, match="loss_mask"):
        out = QTuning(0.5, 0.5)(logits, targets, mask)
    assert len(out.keep_idx) == 4  # floor(0.5 * 8 trainable samples)
    assert not set(out.keep_idx) & {1, 4} and out.quadrant[1] == -1
    assert out.loss_mask[out.keep_idx].any(dim=1).all()  # every kept row trains on something


def test_bisect_level_moves_towards_the_medians_for_larger_budgets():
    rng = np.random.default_rng(0)
    ppl, ent = rng.random(40), rng.random(40)
    levels = [bisect_quantile_level(ppl, ent, r) for r in (0.1, 0.3, 0.5)]
    assert levels == sorted(levels) and 0 <= levels[0] and levels[-1] <= 0.49


def test_the_quantile_shortcut_matches_numpy_inverted_cdf():
    from diversa.data.online.qtuning import _icdf

    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 16, 17, 64):
        x = np.sort(rng.random(n))
        for q in np.concatenate([rng.random(20), [0.0, 0.2, 0.25, 0.49, 0.5, 0.51, 0.75, 0.8, 1.0]]):
            assert _icdf(x, q) == np.quantile(x, q, method="inverted_cdf")
