"""MCCD loss terms: official definitions, KL direction, torch anchors, edge cases and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from diversa.nn.losses import MCCDLoss, cycle_kl, fusion_distances, mccd_loss_terms


def logits(seed, batch=6, classes=5, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(batch, classes, generator=g)


@pytest.fixture
def batch():
    fused = logits(0).requires_grad_()
    bias = {m: logits(i + 1).requires_grad_() for i, m in enumerate("qav")}
    target = torch.tensor([0, 1, 2, 3, 4, 0])
    return fused, bias, target


def test_without_the_debiasing_terms_it_is_cross_entropy(batch):
    fused, bias, target = batch
    loss = MCCDLoss(dist_weight=0.0, cycle_weight=0.0)(fused, bias, target)
    assert torch.allclose(loss, F.cross_entropy(fused, target))


def test_official_defaults_match_a_hand_computation(batch):
    fused, bias, target = batch
    dist = {m: torch.norm(fused - bias[m] + 1e-6, dim=1).mean() for m in "qav"}
    p = {m: torch.softmax(bias[m], 1) for m in "qav"}

    def kl(target_m, input_m):   # KL(p_target || p_input), batch mean
        return (p[target_m] * (p[target_m].log() - p[input_m].log())).sum(1).mean()

    expected = (F.cross_entropy(fused, target)
                + 0.01 * sum(0.333 / (dist[m] + 1e-5) for m in "qav")
                + 0.333 * (0.333 * kl("q", "a") + 0.333 * kl("v", "q") + 0.333 * kl("a", "v")))
    assert torch.allclose(MCCDLoss()(fused, bias, target), expected, atol=1e-6)


def test_distances_follow_pairwise_distance_semantics(batch):
    fused, bias, _ = batch
    ours = fusion_distances(fused, bias)
    pairwise = torch.nn.PairwiseDistance(p=2)
    for m in "qav":
        assert torch.allclose(ours[m], pairwise(fused, bias[m]).mean(), atol=1e-7)
        assert abs(float(ours[m].detach()) - float(torch.norm(fused - bias[m], dim=1).mean().detach())) < 1e-5


def test_cycle_kl_has_the_official_direction(batch):
    _, bias, _ = batch
    kls = cycle_kl(bias)
    manual = F.kl_div(F.log_softmax(bias["a"], 1), F.softmax(bias["q"], 1), reduction="batchmean")
    assert torch.allclose(kls["q||a"], manual)
    swapped = F.kl_div(F.log_softmax(bias["q"], 1), F.softmax(bias["a"], 1), reduction="batchmean")
    assert not torch.allclose(kls["q||a"], swapped, atol=1e-4)   # the KL is not symmetrised
    assert set(kls) == {"q||a", "v||q", "a||v"}


def test_identical_bias_learners_have_no_cycle_term():
    z = logits(3)
    terms = mccd_loss_terms(logits(4), {"q": z, "a": z.clone(), "v": z.clone()}, torch.zeros(6, dtype=torch.long))
    assert float(terms.cycle) == pytest.approx(0.0, abs=1e-7)


def test_bias_equal_to_fused_gives_a_huge_but_finite_loss_and_gradients():
    fused = logits(5).requires_grad_()
    bias = {m: fused.detach().clone().requires_grad_() for m in "qav"}
    loss_fn = MCCDLoss()
    loss = loss_fn(fused, bias, torch.zeros(6, dtype=torch.long))
    # distance = ||1e-6 * ones(5)|| per row, so each inverse is 1 / (sqrt(5) 1e-6 + 1e-5) ~ 8e4
    expected_dist_term = 3 * 0.333 / (math.sqrt(5) * 1e-6 + 1e-5)
    assert loss_fn.last_components["dist_term"] == pytest.approx(expected_dist_term, rel=1e-3)
    loss.backward()
    for t in (fused, *bias.values()):
        assert torch.isfinite(t.grad).all()
    assert torch.isfinite(loss)


def test_gradients_reach_fused_and_every_bias_learner(batch):
    fused, bias, target = batch
    MCCDLoss()(fused, bias, target).backward()
    assert fused.grad.abs().sum() > 0
    for m in "qav":
        assert bias[m].grad.abs().sum() > 0


def test_the_distance_term_pushes_fused_and_bias_logits_apart(batch):
    fused, bias, target = batch
    loss_fn = MCCDLoss(answer_weight=0.0, cycle_weight=0.0, dist_weight=1.0)
    with torch.no_grad():
        before = float(sum(fusion_distances(fused, bias).values()))
    loss_fn(fused, bias, target).backward()
    with torch.no_grad():
        moved = {m: bias[m] - 0.1 * bias[m].grad for m in "qav"}
        after = float(sum(fusion_distances(fused - 0.1 * fused.grad, moved).values()))
    assert after > before


def test_last_components_are_logged(batch):
    fused, bias, target = batch
    loss_fn = MCCDLoss()
    loss = loss_fn(fused, bias, target)
    parts = loss_fn.last_components
    assert {"loss", "ce", "dist_term", "cycle_term", "bias_ce", "dist_q", "dist_a", "dist_v", "kl_q||a"} <= set(parts)
    assert parts["loss"] == pytest.approx(float(loss.detach()))
    total = parts["ce"] + 0.01 * parts["dist_term"] + 0.333 * parts["cycle_term"]
    assert total == pytest.approx(float(loss.detach()), rel=1e-5)


def test_bias_cross_entropy_variant_adds_the_bias_learners_ce(batch):
    fused, bias, target = batch
    plain = MCCDLoss()(fused, bias, target)
    with_ce = MCCDLoss(bias_ce_weight=1.0)(fused, bias, target)
    ce = sum(F.cross_entropy(bias[m], target) for m in "qav") / 3
    assert torch.allclose(with_ce - plain, ce, atol=1e-5)


def test_missing_modality_is_a_key_error(batch):
    fused, bias, target = batch
    del bias["v"]
    with pytest.raises(KeyError, match="'v'"):
        MCCDLoss()(fused, bias, target)
    with pytest.raises(KeyError, match="'v'"):
        cycle_kl(bias)


def test_bad_shapes_and_weights_are_refused(batch):
    fused, bias, target = batch
    with pytest.raises(ValueError, match="bias_logits\\['a'\\]"):
        MCCDLoss()(fused, {**bias, "a": logits(9, classes=4)}, target)
    with pytest.raises(ValueError, match="target"):
        MCCDLoss()(fused, bias, target[:3])
    with pytest.raises(ValueError, match="fusion_logits"):
        MCCDLoss()(fused[0], bias, target)
    with pytest.raises(TypeError, match="bias_logits"):
        MCCDLoss()(fused, [bias["q"]], target)
    with pytest.raises(ValueError, match="dist_weight"):
        MCCDLoss(dist_weight=-1.0)
    with pytest.raises(ValueError, match="modality_weights"):
        MCCDLoss(modality_weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="eps"):
        MCCDLoss(eps=0.0)
