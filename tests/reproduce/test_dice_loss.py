"""The Dice-loss reproduction: a reduced trial runs fast and gives sane pairs."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from diversa.reproduce import dice_loss as repro
from diversa.reproduce import get


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tiny(monkeypatch):
    """Shrink every task so that one quick trial takes a few seconds."""
    monkeypatch.setattr(repro, "QUICK_N_TRAIN", 96)
    monkeypatch.setitem(repro.TAGGING, "n_val", 64)
    monkeypatch.setitem(repro.TAGGING, "n_test", 64)
    monkeypatch.setitem(repro.CLASSIFICATION, "n_samples", 600)
    monkeypatch.setattr(repro, "EPOCHS", 2)
    monkeypatch.setattr(repro, "CONTROL_EPOCHS", 2)


def test_reduced_quick_trial_gives_sane_pairs_for_every_check(tiny):
    result = repro.run_trial(0, quick=True)
    assert set(result.pairs) == {check.name for check in repro.REPRODUCTION.checks}
    for name, (baseline, method) in result.pairs.items():
        assert math.isfinite(baseline) and math.isfinite(method), name
        upper = 1.005 if name == "accuracy-control" else 1.0
        assert 0.0 <= baseline <= upper and 0.0 <= method <= 1.0, name
    assert set(result.diagnostics["tagging"]) == set(repro.QUICK_LOSSES)
    # the control's baseline is CE accuracy plus the 0.5-point margin
    assert result.pairs["accuracy-control"][0] == pytest.approx(result.diagnostics["control_accuracy"]["CE"] + 0.005)
    assert result.diagnostics["control_accuracy"]["CE"] > 0.5   # digits are learnable even in 2 epochs
    rate = result.diagnostics["tagging"]["BCE"]["true_rate"]
    assert 0.01 < rate < 0.1


def test_reproduction_is_registered_with_enough_trials():
    reproduction = get("dice-loss")
    assert reproduction is repro.REPRODUCTION and reproduction.arxiv == "1911.02855"
    assert reproduction.quick_trials >= 5 and reproduction.full_trials >= reproduction.quick_trials
    assert reproduction.headline == "tagging-f1"


def test_focal_loss_matches_numpy_reference_and_softmax_form():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (3, 5), generator=g)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[2, 3:] = False
    p = 1 / (1 + np.exp(-z.numpy()))
    pt = np.where(y.numpy() == 1, p, 1 - p)
    reference = (-(1 - pt) ** 2 * np.log(pt))[mask.numpy()].mean()
    assert repro.binary_focal_loss(z, y, mask).item() == pytest.approx(reference, rel=1e-12)
    # equal to the softmax focal loss on the logits [0, z]
    two_class = torch.stack([torch.zeros_like(z), z], -1)[mask]
    log_pt = torch.log_softmax(two_class, -1).gather(1, y[mask][:, None]).squeeze(1)
    softmax_form = (-(1 - log_pt.exp()) ** 2 * log_pt).mean()
    assert repro.binary_focal_loss(z, y, mask).item() == pytest.approx(softmax_form.item(), rel=1e-12)


def test_weighted_bce_is_torch_bce_with_pos_weight_and_losses_are_named():
    z = torch.randn(4, 6, dtype=torch.float64)
    y = torch.randint(0, 2, (4, 6))
    mask = torch.rand(4, 6) < 0.8
    got = repro.make_binary_loss("WBCE", 7.0)(z, y, mask)
    anchor = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(7.0, dtype=torch.float64))(z[mask], y[mask].double())
    assert got.item() == pytest.approx(anchor.item(), rel=1e-12)
    for name in repro.FULL_LOSSES:
        assert torch.isfinite(repro.make_binary_loss(name, 7.0)(z, y, mask))
    with pytest.raises(ValueError, match="unknown loss"):
        repro.make_binary_loss("MSE", 1.0)


def test_f1_and_threshold_tuning_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    prob = np.clip(0.3 * y + rng.random(300) * 0.6, 0, 1)
    assert repro.f1(y, prob > 0.5) == pytest.approx(f1_score(y, prob > 0.5))
    assert repro.f1(np.zeros(5, dtype=int), np.zeros(5, dtype=bool)) == 0.0
    t = repro.best_threshold(y, prob)
    assert repro.f1(y, prob > t) >= max(f1_score(y, prob > s) for s in np.linspace(0, 0.99, 100)) - 1e-12


def test_tagger_emits_one_logit_per_token():
    tokens = torch.randint(0, 300, (3, 11))
    assert repro.BiGRUTagger()(tokens).shape == (3, 11)
    assert repro.mlp(20, 1)(torch.randn(7, 20)).shape == (7,)
    assert repro.mlp(64, 10)(torch.randn(7, 64)).shape == (7, 10)
