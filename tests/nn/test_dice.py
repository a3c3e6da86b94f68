"""Tests of the self-adjusting Dice loss (Li et al., ACL 2020, arXiv:1911.02855)."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from diversa.nn.losses import DiceLoss, dice_loss, soft_f1


pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------- numpy reference (the paper's formulas)

def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_dice(p, y, *, alpha, smooth, s, reduction):
    """p, y: (M, K) probabilities and 0/1 targets; per-example sums over K."""
    q = (1 - p) ** alpha * p
    if reduction == "batch":
        return float(np.sum(1 - (2 * (q * y).sum(0) + smooth) / ((q ** s).sum(0) + (y ** s).sum(0) + smooth)))
    per_example = (1 - (2 * q * y + smooth) / (q ** s + y ** s + smooth)).sum(-1)
    return float(per_example.mean())


def binary_case(n=23, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=n)
    y = (rng.random(n) < 0.3).astype(np.int64)
    return z, y


def multiclass_case(n=17, c=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=2.0, size=(n, c)), rng.integers(0, c, size=n)


# ----------------------------------------------------------------- agreement with the formulas

@pytest.mark.parametrize("reduction", ["batch", "example"])
@pytest.mark.parametrize("square", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.7])
def test_binary_matches_numpy_formula(reduction, square, alpha):
    z, y = binary_case()
    got = dice_loss(torch.tensor(z), torch.tensor(y), alpha=alpha, smooth=0.5, square_denominator=square,
                    reduction=reduction)
    want = np_dice(np_sigmoid(z)[:, None], y[:, None].astype(float), alpha=alpha, smooth=0.5,
                   s=2 if square else 1, reduction=reduction)
    assert got.item() == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("reduction", ["batch", "example"])
@pytest.mark.parametrize("square", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.7])
def test_multiclass_matches_numpy_formula(reduction, square, alpha):
    z, y = multiclass_case()
    got = dice_loss(torch.tensor(z), torch.tensor(y), alpha=alpha, smooth=1.0, square_denominator=square,
                    reduction=reduction)
    want = np_dice(np_softmax(z), np.eye(z.shape[1])[y], alpha=alpha, smooth=1.0, s=2 if square else 1,
                   reduction=reduction)
    assert got.item() == pytest.approx(want, rel=1e-10)


def test_probability_inputs_match_logit_inputs():
    z, y = binary_case()
    from_logits = dice_loss(torch.tensor(z), torch.tensor(y), reduction="example")
    from_probs = dice_loss(torch.sigmoid(torch.tensor(z)), torch.tensor(y), with_logits=False, reduction="example")
    assert from_logits.item() == pytest.approx(from_probs.item(), rel=1e-12)


def test_alpha_zero_square_is_milletari_dice_loss():
    z, y = binary_case(seed=3)
    p = np_sigmoid(z)
    milletari = np.mean(1 - (2 * p * y + 1.0) / (p ** 2 + y ** 2 + 1.0))
    got = dice_loss(torch.tensor(z), torch.tensor(y), alpha=0.0, reduction="example")
    assert got.item() == pytest.approx(milletari, rel=1e-12)


@pytest.mark.parametrize("square", [True, False])
def test_batch_loss_of_hard_predictions_is_one_minus_f1(square):
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    p = np.array([1, 1, 0, 1, 0, 0, 1, 1])
    loss = dice_loss(torch.tensor(p, dtype=torch.float64), torch.tensor(y), alpha=0.0, smooth=0.0,
                     square_denominator=square, with_logits=False, reduction="batch")
    assert loss.item() == pytest.approx(1 / 3)
    assert loss.item() == pytest.approx(1 - f1_score(y, p))


def test_soft_f1_agrees_with_sklearn_and_with_batch_dice():
    y = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    hard = torch.tensor([1., 1., 0., 1., 0., 0., 1., 1.], dtype=torch.float64)
    assert soft_f1(hard, y).item() == pytest.approx(f1_score(y.numpy(), hard.numpy()))
    soft = torch.rand(8, dtype=torch.float64)
    loss = dice_loss(soft, y, alpha=0.0, smooth=0.0, square_denominator=False, with_logits=False,
                     reduction="batch")
    assert loss.item() == pytest.approx(1 - soft_f1(soft, y).item(), rel=1e-12)


@pytest.mark.parametrize("reduction", ["batch", "example"])
def test_perfect_predictions_give_zero_loss(reduction):
    y = torch.tensor([1, 0, 0, 1, 0])
    assert dice_loss(y.double(), y, alpha=0.0, smooth=1.0, with_logits=False, reduction=reduction).item() == 0
    # multi-class: one-hot probability rows
    labels = torch.tensor([2, 0, 1, 2])
    rows = torch.nn.functional.one_hot(labels, 3).double()
    assert dice_loss(rows, labels, alpha=0.0, with_logits=False, reduction=reduction).item() == 0


def test_multiclass_with_two_classes_is_the_sum_of_one_vs_rest_binary_losses():
    z, y = multiclass_case(c=2)
    p = torch.softmax(torch.tensor(z), -1)
    multi = dice_loss(torch.tensor(z), torch.tensor(y), reduction="example")
    binary = sum(dice_loss(p[:, c], torch.tensor(y == c).long(), with_logits=False, reduction="example")
                 for c in range(2))
    assert multi.item() == pytest.approx(binary.item(), rel=1e-12)


# ----------------------------------------------------------------- the self-adjusting factor

@pytest.mark.parametrize("alpha", [0.01, 0.25, 1.0, 3.0])
def test_positive_loss_is_minimised_at_one_over_one_plus_alpha(alpha):
    p = torch.linspace(1e-5, 1 - 1e-5, 200_001, dtype=torch.float64)
    losses = dice_loss(p, torch.ones(p.shape, dtype=torch.long), alpha=alpha, with_logits=False, reduction="none")
    assert p[losses.argmin()].item() == pytest.approx(1 / (1 + alpha), abs=1e-3)


def test_self_adjusting_factor_stops_pushing_easy_positives():
    # At p = 0.995 plain Dice still raises the logit of a positive; with alpha = 0.01
    # (optimum 1/1.01 = 0.990) the gradient turns around: the easy example no longer drives training.
    z = torch.tensor([math.log(0.995 / 0.005)], dtype=torch.float64, requires_grad=True)
    grads = {}
    for alpha in (0.0, 0.01):
        z.grad = None
        dice_loss(z, torch.tensor([1]), alpha=alpha, reduction="example").backward()
        grads[alpha] = z.grad.item()
    assert grads[0.0] < 0 < grads[0.01]


def test_self_adjusting_factor_down_weights_confident_negatives():
    # A negative's loss q^2 / (q^2 + gamma) vanishes at p = 0 and, for alpha > 0, at p = 1; at fixed p
    # it shrinks as alpha grows, most for the confidently (wrongly) scored ones.
    p = torch.tensor([0.0, 0.3, 0.9, 0.999, 1.0], dtype=torch.float64)
    zeros = torch.zeros(5, dtype=torch.long)
    plain = dice_loss(p, zeros, alpha=0.0, with_logits=False, reduction="none")
    adjusted = dice_loss(p, zeros, alpha=1.0, with_logits=False, reduction="none")
    assert adjusted[0] == 0 and adjusted[-1] == 0 and plain[-1] == 0.5
    assert torch.all(adjusted[1:-1] < plain[1:-1])
    assert (adjusted / plain)[3] < (adjusted / plain)[2] < (adjusted / plain)[1]


def test_saturated_logits_give_finite_exact_values_and_gradients():
    z = torch.tensor([100.0, -100.0, 100.0, -100.0], requires_grad=True)
    y = torch.tensor([1, 0, 0, 1])
    loss = dice_loss(z, y, reduction="example")
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    # exact limit: q = sigmoid(100) * exp(-0.01 * 100) for the positive at +100
    q = math.exp(-1.0)
    expected_first = 1 - (2 * q + 1) / (q * q + 1 + 1)
    per_example = dice_loss(z.detach().double(), y, reduction="none")
    assert per_example[0].item() == pytest.approx(expected_first, rel=1e-9)
    zc = torch.tensor([[100.0, -100.0, 0.0], [-100.0, 100.0, 100.0]], requires_grad=True)
    loss_c = dice_loss(zc, torch.tensor([0, 2]))
    loss_c.backward()
    assert torch.isfinite(loss_c) and torch.isfinite(zc.grad).all()


# ----------------------------------------------------------------- masks, ignore_index, shapes

def padded_tagging(c=None, seed=0):
    """A (B, L) tagging batch with padding; logits at padding are garbage (huge and NaN)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([7, 4, 6])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    shape = (3, 7) if c is None else (3, 7, c)
    logits = torch.randn(shape, generator=g, dtype=torch.float64)
    target = torch.randint(0, 2 if c is None else c, (3, 7), generator=g)
    garbage = logits.clone()
    fill = (1e6, float("nan"), -3.0)
    for k, (b, t) in enumerate((~mask).nonzero().tolist()):
        garbage[b, t] = fill[k % 3]
    return logits, garbage, target, mask


@pytest.mark.parametrize("c", [None, 4])
@pytest.mark.parametrize("reduction", ["batch", "example", "sum"])
def test_masked_positions_change_nothing_and_get_zero_gradient(c, reduction):
    logits, garbage, target, mask = padded_tagging(c)
    kept = dice_loss(logits[mask], target[mask], reduction=reduction)
    garbage.requires_grad_(True)
    loss = dice_loss(garbage, target, mask, reduction=reduction)
    assert loss.item() == pytest.approx(kept.item(), rel=1e-12)
    loss.backward()
    assert torch.all(garbage.grad[~mask] == 0)
    assert torch.isfinite(garbage.grad).all() and garbage.grad[mask].abs().sum() > 0


@pytest.mark.parametrize("c", [None, 4])
def test_ignore_index_equals_mask(c):
    logits, _, target, mask = padded_tagging(c)
    ignored = target.masked_fill(~mask, -100)
    via_mask = dice_loss(logits, target, mask)
    via_ignore = dice_loss(logits, ignored)
    custom = dice_loss(logits, target.masked_fill(~mask, 7), ignore_index=7)
    assert via_mask.item() == pytest.approx(via_ignore.item(), rel=1e-12)
    assert via_mask.item() == pytest.approx(custom.item(), rel=1e-12)


def test_none_reduction_keeps_target_shape_with_zeros_at_masked_positions():
    logits, _, target, mask = padded_tagging(4)
    per_token = dice_loss(logits, target, mask, reduction="none")
    assert per_token.shape == (3, 7)
    assert torch.all(per_token[~mask] == 0) and torch.all(per_token[mask] > 0)
    assert per_token.sum().item() == pytest.approx(dice_loss(logits, target, mask, reduction="sum").item())
    assert (per_token.sum() / mask.sum()).item() == pytest.approx(dice_loss(logits, target, mask).item())


def test_binary_tagging_shapes_are_flattened_into_one_set():
    logits, _, target, mask = padded_tagging()
    as_matrix = dice_loss(logits, target, mask)
    as_column = dice_loss(logits.unsqueeze(-1), target, mask)
    as_column_target = dice_loss(logits.unsqueeze(-1), target.unsqueeze(-1), mask.unsqueeze(-1))
    flat = dice_loss(logits[mask], target[mask], reduction="batch")
    for value in (as_column, as_column_target, flat):
        assert value.item() == pytest.approx(as_matrix.item(), rel=1e-12)


def test_multiclass_tagging_equals_flattened_tokens():
    logits, _, target, mask = padded_tagging(5)
    for reduction in ("example", "batch"):
        tagged = dice_loss(logits, target, mask, reduction=reduction)
        flat = dice_loss(logits[mask], target[mask], reduction=reduction)
        assert tagged.item() == pytest.approx(flat.item(), rel=1e-12)


def test_auto_reduction_is_batch_for_binary_and_example_for_multiclass():
    z, y = binary_case()
    zt, yt = torch.tensor(z), torch.tensor(y)
    assert dice_loss(zt, yt).item() == dice_loss(zt, yt, reduction="batch").item()
    assert dice_loss(zt, yt).item() != dice_loss(zt, yt, reduction="example").item()
    zc, yc = map(torch.tensor, multiclass_case())
    assert dice_loss(zc, yc).item() == dice_loss(zc, yc, reduction="example").item()


def test_sum_is_example_mean_times_count_and_targets_of_any_label_dtype_agree():
    z, y = binary_case()
    zt = torch.tensor(z)
    mean = dice_loss(zt, torch.tensor(y), reduction="example")
    total = dice_loss(zt, torch.tensor(y), reduction="sum")
    assert total.item() == pytest.approx(mean.item() * len(y))
    for target in (torch.tensor(y).bool(), torch.tensor(y).double(), torch.tensor(y).int()):
        assert dice_loss(zt, target).item() == pytest.approx(dice_loss(zt, torch.tensor(y)).item(), rel=1e-15)


def test_everything_masked_gives_zero_example_loss_with_zero_gradient():
    z = torch.randn(5, requires_grad=True)
    loss = dice_loss(z, torch.ones(5, dtype=torch.long), torch.zeros(5), reduction="example")
    loss.backward()
    assert loss.item() == 0 and torch.all(z.grad == 0)


# ----------------------------------------------------------------- OHEM

def test_ohem_keeps_positives_and_the_hardest_negatives():
    z = torch.tensor([2.0, -1.0, 0.5, -3.0, 1.5, -0.2, -2.0, 0.1], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1, 0, 0, 0, 1, 0, 0, 0])
    # two positives, ratio 1.5 -> floor(3) = 3 hardest negatives: logits 0.5, 0.1, -0.2
    loss = dice_loss(z, y, ohem_ratio=1.5)
    subset = [0, 2, 4, 5, 7]
    assert loss.item() == pytest.approx(dice_loss(z.detach()[subset], y[subset]).item(), rel=1e-12)
    loss.backward()
    assert torch.all(z.grad[[1, 3, 6]] == 0) and torch.all(z.grad[subset] != 0)
    assert dice_loss(z.detach(), y, ohem_ratio=0.0).item() == dice_loss(z.detach(), y).item()


def test_ohem_in_multiclass_selects_per_class():
    z, y = multiclass_case(n=12, c=3, seed=5)
    zt, yt = torch.tensor(z), torch.tensor(y)
    huge = dice_loss(zt, yt, ohem_ratio=100.0, reduction="batch")
    assert huge.item() == pytest.approx(dice_loss(zt, yt, reduction="batch").item(), rel=1e-12)
    small = dice_loss(zt, yt, ohem_ratio=0.5, reduction="batch")
    assert small.item() != huge.item() and math.isfinite(small.item())


# ----------------------------------------------------------------- gradients

@pytest.mark.parametrize("kwargs", [
    {"reduction": "batch"},
    {"reduction": "example"},
    {"reduction": "example", "square_denominator": False, "alpha": 0.3},
    {"reduction": "batch", "alpha": 0.0, "smooth": 0.1},
])
def test_gradcheck_binary(kwargs):
    logits, _, target, mask = padded_tagging()
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: dice_loss(z, target, mask, **kwargs), (logits,))


@pytest.mark.parametrize("reduction", ["batch", "example", "none"])
def test_gradcheck_multiclass(reduction):
    logits, _, target, mask = padded_tagging(3)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: dice_loss(z, target, mask, alpha=0.2, reduction=reduction), (logits,))


def test_gradcheck_probability_inputs_and_ohem():
    p = torch.rand(9, dtype=torch.float64).mul(0.8).add(0.1).requires_grad_(True)
    y = torch.tensor([1, 0, 0, 1, 0, 0, 0, 1, 0])
    assert torch.autograd.gradcheck(lambda q: dice_loss(q, y, with_logits=False, alpha=0.5), (p,))
    assert torch.autograd.gradcheck(lambda q: dice_loss(q, y, with_logits=False, ohem_ratio=1.0), (p,))


# ----------------------------------------------------------------- module, bad input

def test_module_equals_functional_and_reports_settings():
    logits, _, target, mask = padded_tagging(3)
    criterion = DiceLoss(alpha=0.1, smooth=0.5, square_denominator=False, reduction="batch")
    want = dice_loss(logits, target, mask, alpha=0.1, smooth=0.5, square_denominator=False, reduction="batch")
    assert criterion(logits, target, mask).item() == want.item()
    assert "alpha=0.1" in repr(criterion) and "reduction='batch'" in repr(criterion)
    assert DiceLoss().alpha == 0.01 and DiceLoss().smooth == 1.0 and DiceLoss().square_denominator


@pytest.mark.parametrize("logits, target, error, name", [
    (torch.randn(5), torch.ones(4, dtype=torch.long), ValueError, "target"),
    (torch.randn(5, 3), torch.ones(4, dtype=torch.long), ValueError, "target"),
    (torch.randn(5), torch.tensor([0, 1, 2, 0, 1]), ValueError, "target"),
    (torch.randn(5, 3), torch.tensor([0, 1, 3, 0, 1]), ValueError, "target"),
    (torch.randn(5, 3), torch.tensor([0, 1, -1, 0, 1]), ValueError, "target"),
    (torch.randn(5, 3), torch.zeros(5), TypeError, "target"),
    (torch.randn(5, 3), torch.zeros(5, dtype=torch.bool), TypeError, "target"),
    (torch.arange(5), torch.zeros(5, dtype=torch.long), TypeError, "logits"),
    (np.zeros(5), torch.zeros(5, dtype=torch.long), TypeError, "logits"),
    (torch.randn(5), [0, 1, 0, 1, 0], TypeError, "target"),
])
def test_bad_inputs_name_the_argument(logits, target, error, name):
    with pytest.raises(error, match=name):
        dice_loss(logits, target)


def test_bad_probabilities_masks_and_settings_name_the_argument():
    y = torch.tensor([0, 1, 0])
    with pytest.raises(ValueError, match="logits"):
        dice_loss(torch.tensor([0.2, 1.3, 0.1]), y, with_logits=False)
    # out-of-range values at masked positions are never read
    assert math.isfinite(dice_loss(torch.tensor([0.2, 1.3, 0.1]), y, torch.tensor([1, 0, 1]),
                                   with_logits=False).item())
    with pytest.raises(ValueError, match="mask"):
        dice_loss(torch.randn(3), y, torch.ones(4))
    with pytest.raises(ValueError, match="mask"):
        dice_loss(torch.randn(3), y, torch.tensor([0, 2, 1]))
    with pytest.raises(TypeError, match="mask"):
        dice_loss(torch.randn(3), y, [1, 1, 1])
    for name in ("alpha", "smooth", "ohem_ratio"):
        with pytest.raises(ValueError, match=name):
            dice_loss(torch.randn(3), y, **{name: -0.5})
        with pytest.raises(ValueError, match=name):
            DiceLoss(**{name: float("nan")})
        with pytest.raises(TypeError, match=name):
            DiceLoss(**{name: "1"})
    with pytest.raises(ValueError, match="reduction"):
        DiceLoss(reduction="mean")
    with pytest.raises(TypeError, match="square_denominator"):
        DiceLoss(square_denominator=1)
    with pytest.raises(TypeError, match="with_logits"):
        dice_loss(torch.randn(3), y, with_logits="yes")
    with pytest.raises(TypeError, match="ignore_index"):
        DiceLoss(ignore_index=0.5)
