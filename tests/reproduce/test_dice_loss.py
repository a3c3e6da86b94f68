"""The Dice-loss reproduction: a reduced trial runs fast and gives sane pairs."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.preprocessing import OneHotEncoder

from diversa.datasets.tagging import make_tagging_data

from diversa.reproduce import dice_loss as repro
from diversa.reproduce import get
from diversa.reproduce.verdict import judge, oriented_differences


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tiny(monkeypatch):
    """Shrink every task so that one quick trial takes a few seconds."""
    monkeypatch.setattr(repro, "QUICK_N_TRAIN", 96)
    monkeypatch.setitem(repro.TAGGING, "n_val", 64)
    monkeypatch.setitem(repro.TAGGING, "n_test", 64)
    monkeypatch.setitem(repro.CLASSIFICATION, "n_samples", 600)
    monkeypatch.setitem(repro.CONTROL, "n_samples", 600)
    monkeypatch.setattr(repro, "EPOCHS", 2)
    monkeypatch.setattr(repro, "CONTROL_EPOCHS", 2)


def test_reduced_quick_trial_pairs_come_from_the_right_arms(tiny):
    result = repro.run_trial(0, quick=True)
    assert set(result.pairs) == {check.name for check in repro.REPRODUCTION.checks}
    tagging = result.diagnostics["tagging"]
    assert set(tagging) == set(repro.QUICK_LOSSES)
    assert result.pairs["dsc-vs-wbce"] == (tagging["WBCE"]["f1"], tagging["DSC"]["f1"])
    assert result.pairs["bce-underpredicts-tagging"] == (tagging["BCE"]["recall"], tagging["BCE"]["precision"])
    control = result.diagnostics["control_accuracy"]
    assert result.pairs["accuracy-control"] == (control["CE"], control["DSC"])  # the margin lives in the check


def test_reproduction_is_registered_with_its_design():
    reproduction = get("dice-loss")
    assert reproduction is repro.REPRODUCTION and reproduction.arxiv == "1911.02855"
    assert reproduction.headline == "tagging-f1" and reproduction.unit.kind == "independent"
    checks = {c.name: c for c in reproduction.checks}
    assert checks["accuracy-control"].direction == "equivalent" and checks["accuracy-control"].margin == 0.01
    assert set(checks["bce-underpredicts-tagging"].applies_to) == set(repro.TAGGING_CLAIMS)


def _bce_recall_precision(ambiguity: float, seed: int) -> tuple[float, float]:
    """A cross-entropy model of the tagging task (logistic regression on the token and its left neighbour)."""
    tokens, labels, mask = make_tagging_data(1500, seed=seed, ambiguity=ambiguity)
    previous = np.zeros_like(tokens)
    previous[:, 1:] = tokens[:, :-1]
    features = OneHotEncoder(categories=[np.arange(300)] * 2).fit_transform(
        np.column_stack([tokens[mask], previous[mask]]))
    y = labels[mask]
    half = len(y) // 2
    model = LogisticRegression(C=10.0, max_iter=2000).fit(features[:half], y[:half])
    return repro.recall_precision(y[half:], model.predict_proba(features[half:])[:, 1] > 0.5)


def test_cross_entropy_underpredicts_on_the_ambiguous_task_only():
    # the regime the paper's gain needs: on the declared task a cross-entropy model's recall at 0.5
    # is below its precision; on the spec's nearly deterministic task it is not
    recall, precision = _bce_recall_precision(repro.TAGGING["ambiguity"], 0)
    assert recall < precision - 0.05
    recall, precision = _bce_recall_precision(0.0, 0)
    assert abs(recall - precision) < 0.04


@pytest.mark.slow
def test_regime_check_through_the_verdict_rule_with_the_tagger():
    """The BiGRU at the quick size: the regime passes on the declared task, fails on the deterministic one."""
    def outcome(ambiguity):
        repro.TAGGING["ambiguity"] = ambiguity
        units = [repro.run_tagging(seed, ("BCE",), n_train=repro.QUICK_N_TRAIN)["BCE"] for seed in range(6)]
        check = next(c for c in repro.REPRODUCTION.checks if c.name == "bce-underpredicts-tagging")
        differences = oriented_differences([u["recall"] for u in units], [u["precision"] for u in units],
                                           check.direction)
        return judge([repro.REPRODUCTION.headline_check, check],
                     {check.name: differences, "tagging-f1": np.zeros(len(units))},
                     headline="tagging-f1", unit=repro.REPRODUCTION.unit)[check.name].outcome

    declared = repro.TAGGING["ambiguity"]
    try:
        assert outcome(declared) == "pass"
        assert outcome(0.0) == "fail"
    finally:
        repro.TAGGING["ambiguity"] = declared


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
    recall, precision = repro.recall_precision(y, prob > 0.5)
    assert recall == pytest.approx(recall_score(y, prob > 0.5))
    assert precision == pytest.approx(precision_score(y, prob > 0.5))
    t = repro.best_threshold(y, prob)
    assert repro.f1(y, prob > t) >= max(f1_score(y, prob > s) for s in np.linspace(0, 0.99, 100)) - 1e-12


def test_tagger_emits_one_logit_per_token():
    tokens = torch.randint(0, 300, (3, 11))
    assert repro.BiGRUTagger()(tokens).shape == (3, 11)
    assert repro.mlp(20, 1)(torch.randn(7, 20)).shape == (7,)
    assert repro.mlp(64, 10)(torch.randn(7, 64)).shape == (7, 10)


def test_stacked_tagger_copies_match_torch_bigru_outputs_and_gradients():
    """Fails if the written-out GRU departs from torch.nn.GRU (gate order, reverse direction, padding row)."""
    torch.manual_seed(0)
    tagger = repro.BiGRUTagger(50, embedding_dim=8, hidden=6)
    stacked = repro.StackedBiGRUTagger(tagger, copies=3)
    tokens = torch.randint(1, 50, (4, 9))
    tokens[:, 6:] = 0
    target, mask = torch.randint(0, 2, (4, 9)), tokens > 0
    torch.testing.assert_close(stacked(tokens)[2], tagger(tokens), atol=1e-6, rtol=1e-5)
    loss = repro.make_binary_loss("BCE", 1.0)
    loss(tagger(tokens), target, mask).backward()
    repro.summed([loss] * 3)(stacked(tokens), target, mask).backward()
    torch.testing.assert_close(stacked.embed.grad[1], tagger.embed.weight.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(stacked.w_hh.grad[3 + 1], tagger.gru.weight_hh_l0_reverse.grad.T, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(stacked.w_ih.grad[0], tagger.gru.weight_ih_l0.grad.T, atol=1e-6, rtol=1e-5)
    assert stacked.embed.grad[:, 0].abs().max() == 0          # the padding row never moves


def test_stacked_copies_train_like_separate_models():
    """Fails if one copy's loss leaks into another copy's update (copy k must equal model k trained alone)."""
    X = torch.randn(64, 5, generator=torch.Generator().manual_seed(1))
    y = (X[:, 0] > 0).long()
    everywhere = torch.ones(64, dtype=torch.bool)
    losses = [repro.make_binary_loss(name, 1.0) for name in ("BCE", "DSC")]
    torch.manual_seed(3)
    stacked = repro.train_stacked(repro.mlp(5, 1, hidden=8), X, y, everywhere, losses, seed=0, epochs=2)
    for k, loss in enumerate(losses):
        torch.manual_seed(3)
        alone = repro.train(repro.mlp(5, 1, hidden=8), X, y, everywhere, loss, seed=0, epochs=2)
        torch.testing.assert_close(stacked(X)[k], alone(X), atol=1e-5, rtol=1e-4)
