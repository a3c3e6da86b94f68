"""Tests of the Tversky-index loss (Li et al., ACL 2020, arXiv:1911.02855)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import jaccard_score

from diversa.nn.losses import TverskyLoss, dice_loss, tversky_loss


pytestmark = pytest.mark.usefixtures("one_thread")


def np_tversky(p, y, *, a, b, smooth, reduction):
    """p, y: (M, K); the paper's TL per example (summed over K) or per set."""
    tp, fp, fn = p * y, p * (1 - y), (1 - p) * y
    if reduction == "batch":
        return float(np.sum(1 - (tp.sum(0) + smooth) / (tp.sum(0) + a * fp.sum(0) + b * fn.sum(0) + smooth)))
    return float((1 - (tp + smooth) / (tp + a * fp + b * fn + smooth)).sum(-1).mean())


def case(c=None, n=19, seed=0):
    rng = np.random.default_rng(seed)
    if c is None:
        return rng.normal(scale=2, size=n), (rng.random(n) < 0.3).astype(np.int64)
    return rng.normal(scale=2, size=(n, c)), rng.integers(0, c, size=n)


@pytest.mark.parametrize("reduction", ["example", "batch"])
@pytest.mark.parametrize("a, b", [(0.5, 0.5), (0.3, 0.7), (1.0, 0.0)])
def test_binary_matches_numpy_formula(reduction, a, b):
    z, y = case()
    got = tversky_loss(torch.tensor(z), torch.tensor(y), fp_weight=a, fn_weight=b, smooth=0.5, reduction=reduction)
    p = 1 / (1 + np.exp(-z))
    assert got.item() == pytest.approx(np_tversky(p[:, None], y[:, None], a=a, b=b, smooth=0.5,
                                                  reduction=reduction), rel=1e-10)


@pytest.mark.parametrize("reduction", ["example", "batch"])
def test_multiclass_matches_numpy_formula(reduction):
    z, y = case(c=4)
    got = tversky_loss(torch.tensor(z), torch.tensor(y), fp_weight=0.6, fn_weight=0.4, reduction=reduction)
    e = np.exp(z - z.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    assert got.item() == pytest.approx(np_tversky(p, np.eye(4)[y], a=0.6, b=0.4, smooth=1.0,
                                                  reduction=reduction), rel=1e-10)


@pytest.mark.parametrize("c", [None, 3])
@pytest.mark.parametrize("reduction", ["example", "batch", "none"])
@pytest.mark.parametrize("smooth", [0.0, 0.25, 1.0])
def test_equal_weights_give_dice_without_self_adjustment_with_doubled_smoothing(c, reduction, smooth):
    # TI(a=b=1/2, gamma) = (2 sum p y + 2 gamma) / (sum p + sum y + 2 gamma): the s = 1 Dice loss with 2 gamma.
    z, y = map(torch.tensor, case(c))
    tversky = tversky_loss(z, y, smooth=smooth, reduction=reduction)
    dice = dice_loss(z, y, alpha=0.0, smooth=2 * smooth, square_denominator=False, reduction=reduction)
    torch.testing.assert_close(tversky, dice, rtol=1e-12, atol=1e-14)


def test_hard_predictions_give_the_tversky_index_of_the_counts():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1, 0, 0])
    p = np.array([1, 1, 0, 1, 1, 0, 0, 0, 1, 0])  # TP 2, FN 2, FP 3
    loss = tversky_loss(torch.tensor(p, dtype=torch.float64), torch.tensor(y), fp_weight=0.3, fn_weight=0.7,
                        smooth=0.0, with_logits=False, reduction="batch")
    assert loss.item() == pytest.approx(1 - 2 / (2 + 0.3 * 3 + 0.7 * 2))
    # a = b = 1 is the Jaccard index (IoU)
    iou = tversky_loss(torch.tensor(p, dtype=torch.float64), torch.tensor(y), fp_weight=1.0, fn_weight=1.0,
                       smooth=0.0, with_logits=False, reduction="batch")
    assert iou.item() == pytest.approx(1 - jaccard_score(y, p))


def test_fp_weight_penalises_false_positives_and_fn_weight_false_negatives():
    # Raising a makes the gradient that pushes a negative's logit down larger, relative to the pull
    # on a missed positive; raising b does the opposite.
    z = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1])
    ratios = []
    for a in (0.2, 0.5, 0.8):
        z.grad = None
        tversky_loss(z, y, fp_weight=a, fn_weight=1 - a, reduction="batch").backward()
        negative_push, positive_pull = z.grad[0].item(), -z.grad[1].item()
        assert negative_push > 0 and positive_pull > 0
        ratios.append(negative_push / positive_pull)
    assert ratios[0] < ratios[1] < ratios[2]


def padded(c=None):
    g = torch.Generator().manual_seed(2)
    mask = torch.arange(6)[None, :] < torch.tensor([6, 3, 5])[:, None]
    logits = torch.randn((3, 6) if c is None else (3, 6, c), generator=g, dtype=torch.float64)
    target = torch.randint(0, 2 if c is None else c, (3, 6), generator=g)
    garbage = logits.clone()
    garbage[~mask] = float("nan")
    return logits, garbage, target, mask


@pytest.mark.parametrize("c", [None, 4])
@pytest.mark.parametrize("reduction", ["example", "batch", "sum"])
def test_masked_positions_change_nothing_and_get_zero_gradient(c, reduction):
    logits, garbage, target, mask = padded(c)
    kept = tversky_loss(logits[mask], target[mask], fp_weight=0.3, fn_weight=0.7, reduction=reduction)
    garbage.requires_grad_(True)
    loss = tversky_loss(garbage, target.masked_fill(~mask, -100), fp_weight=0.3, fn_weight=0.7, reduction=reduction)
    assert loss.item() == pytest.approx(kept.item(), rel=1e-12)
    loss.backward()
    assert torch.all(garbage.grad[~mask] == 0) and torch.isfinite(garbage.grad).all()
    assert tversky_loss(logits, target, mask, reduction=reduction).item() == pytest.approx(
        tversky_loss(logits[mask], target[mask], reduction=reduction).item(), rel=1e-12)


def test_reductions_and_shapes():
    logits, _, target, mask = padded(3)
    per_token = tversky_loss(logits, target, mask, reduction="none")
    assert per_token.shape == (3, 6) and torch.all(per_token[~mask] == 0)
    assert per_token.sum().item() == pytest.approx(tversky_loss(logits, target, mask, reduction="sum").item())
    assert (per_token.sum() / mask.sum()).item() == pytest.approx(tversky_loss(logits, target, mask).item())
    binary_logits, _, binary_target, binary_mask = padded()
    column = tversky_loss(binary_logits.unsqueeze(-1), binary_target, binary_mask, reduction="batch")
    matrix = tversky_loss(binary_logits, binary_target, binary_mask, reduction="batch")
    assert column.item() == pytest.approx(matrix.item(), rel=1e-12)


@pytest.mark.parametrize("c, reduction", [(None, "example"), (None, "batch"), (3, "example"), (3, "batch")])
def test_gradcheck(c, reduction):
    logits, _, target, mask = padded(c)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda z: tversky_loss(z, target, mask, fp_weight=0.3, fn_weight=0.7, reduction=reduction), (logits,))


def test_module_equals_functional():
    logits, _, target, mask = padded(3)
    criterion = TverskyLoss(fp_weight=0.4, fn_weight=0.6, smooth=0.5, reduction="batch")
    assert criterion(logits, target, mask).item() == tversky_loss(
        logits, target, mask, fp_weight=0.4, fn_weight=0.6, smooth=0.5, reduction="batch").item()
    assert "fp_weight=0.4" in repr(criterion)
    assert TverskyLoss().reduction == "example" and TverskyLoss().fp_weight == TverskyLoss().fn_weight == 0.5


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="target"):
        tversky_loss(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="target"):
        tversky_loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="target"):
        tversky_loss(torch.randn(4, 3), torch.zeros(4))
    with pytest.raises(TypeError, match="logits"):
        tversky_loss(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="logits"):
        tversky_loss(torch.tensor([-0.1, 0.5]), torch.tensor([0, 1]), with_logits=False)
    for name in ("fp_weight", "fn_weight", "smooth"):
        with pytest.raises(ValueError, match=name):
            TverskyLoss(**{name: -1.0})
    with pytest.raises(ValueError, match="reduction"):
        tversky_loss(torch.randn(3), torch.tensor([0, 1, 0]), reduction="auto")
