import numpy as np
import pytest
import torch
import torch.nn.functional as F

from diversa.nn.losses.longtail import (
    DiversityLoss,
    MDCSLoss,
    SkillDiverseExpertLoss,
    consistency_self_distillation,
    diversity_offsets,
    inverse_prior,
    posthoc_logit_adjustment,
    prior_adjusted_cross_entropy,
    sade_offsets,
)

pytestmark = pytest.mark.usefixtures("one_thread")

COUNTS = [124, 74, 44, 26, 16, 9, 5, 3, 2, 1]


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 16, 10, generator=g) * 3, torch.randint(0, 10, (16,), generator=g)


def test_inverse_prior_flips_the_values_by_rank():
    pi = torch.tensor([0.5, 0.1, 0.3, 0.1])
    flipped = inverse_prior(pi)
    assert flipped.tolist() == pytest.approx([0.1, 0.5, 0.1, 0.3])     # stable: the tied 0.1s keep their order
    assert float(flipped.sum()) == pytest.approx(1.0)
    distinct = torch.tensor([0.4, 0.1, 0.2, 0.3])
    assert torch.equal(inverse_prior(inverse_prior(distinct)), distinct.double())
    assert torch.argsort(inverse_prior(distinct)).tolist() == torch.argsort(distinct, descending=True).tolist()


def test_sade_loss_is_softmax_balanced_and_inverse_softmax(batch):
    v, y = batch
    pi = torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS)
    pibar = inverse_prior(pi)
    loss = SkillDiverseExpertLoss(COUNTS, lam=2.0)
    expected = (F.cross_entropy(v[0], y) + F.cross_entropy(v[1] + torch.log(pi + 1e-9).float(), y)
                + F.cross_entropy(v[2] + (torch.log(pi + 1e-9) - 2 * torch.log(pibar + 1e-9)).float(), y))
    torch.testing.assert_close(loss(v, y), expected)
    assert loss.last_terms.shape == (3,)
    # lam = 0 makes the backward expert a second balanced-softmax expert
    off = sade_offsets(COUNTS, lam=0.0)
    assert torch.equal(off[1], off[2])


def test_uniform_prior_reduces_sade_to_three_cross_entropies(batch):
    v, y = batch
    loss = SkillDiverseExpertLoss([7] * 10)(v, y)
    torch.testing.assert_close(loss, sum(F.cross_entropy(v[k], y) for k in range(3)))


def test_balanced_softmax_equals_cross_entropy_on_adjusted_logits(batch):
    v, y = batch
    log_pi = torch.log(torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS) + 1e-9).float()
    ours = DiversityLoss(COUNTS, (1.0, 1.0, 1.0))(v, y)
    torch.testing.assert_close(ours, sum(F.cross_entropy(v[k] + log_pi, y) for k in range(3)))


def test_lambda_zero_is_exactly_the_plain_cross_entropy_ensemble(batch):
    v, y = batch
    plain = prior_adjusted_cross_entropy(v, y, torch.zeros(3, 10))
    assert torch.equal(DiversityLoss(COUNTS, (0.0, 0.0, 0.0))(v, y), plain)
    two_views = torch.cat([v, v + 0.5], dim=1)
    mdcs = MDCSLoss(COUNTS, (0.0, 0.0, 0.0), kd_weight=0.0)(two_views, y, epoch=50)
    assert torch.equal(mdcs, prior_adjusted_cross_entropy(two_views, torch.cat([y, y]), torch.zeros(3, 10)))
    torch.testing.assert_close(mdcs, sum(F.cross_entropy(two_views[k], torch.cat([y, y])) for k in range(3)))


def test_counts_and_normalised_prior_give_the_same_loss(batch):
    v, y = batch
    counts = torch.tensor(COUNTS, dtype=torch.float64)
    a = DiversityLoss(counts)(v, y)
    b = DiversityLoss(counts / counts.sum())(v, y)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_implied_prior_of_an_expert_is_pi_to_the_one_minus_lambda():
    # One constant input: minimising CE(v + lam log pi) over free logits v on data with prior pi
    # gives softmax(v) = pi^(1 - lam) / Z.
    pi = torch.tensor([0.7, 0.2, 0.1])
    y = torch.repeat_interleave(torch.arange(3), (pi * 100).long())
    for lam in (-0.5, 1.0, 2.5):
        v = torch.zeros(1, 1, 3, requires_grad=True)
        opt = torch.optim.LBFGS([v], max_iter=200)
        offsets = diversity_offsets(pi, (lam,))

        def closure():
            opt.zero_grad()
            loss = prior_adjusted_cross_entropy(v.expand(1, len(y), 3), y, offsets)
            loss.backward()
            return loss
        opt.step(closure)
        implied = pi.double() ** (1 - lam)
        torch.testing.assert_close(torch.softmax(v.detach()[0, 0].double(), 0), implied / implied.sum(),
                                   atol=1e-4, rtol=1e-3)


def test_distillation_matches_kl_div_on_the_confident_rows(batch):
    v, y = batch
    strong = v + torch.randn(v.shape, generator=torch.Generator().manual_seed(1))
    both = torch.cat([v, strong], dim=1)
    loss, n = consistency_self_distillation(both, y, temperature=2.0)
    expected = 0.0
    for k in range(3):
        keep = v[k].argmax(-1) == y
        assert n[k] == keep.sum()
        if keep.any():
            expected += F.kl_div(F.log_softmax(strong[k][keep] / 2, -1), F.softmax(v[k][keep] / 2, -1),
                                 reduction="batchmean") * 4
    torch.testing.assert_close(loss, torch.as_tensor(expected, dtype=loss.dtype))


def test_distillation_edge_cases(batch):
    v, y = batch
    wrong = torch.full_like(y, 0)
    v_wrong = v.clone()
    v_wrong[..., 0] = -100.0                                  # no teacher predicts class 0
    loss, n = consistency_self_distillation(torch.cat([v_wrong, v_wrong + 1.0], 1), wrong)
    assert loss == 0 and n.sum() == 0 and torch.isfinite(loss)
    right = v.argmax(-1)[0]
    _, n = consistency_self_distillation(torch.cat([v[:1], v[:1]], 1), right)
    assert n.tolist() == [16]
    # identical views: nothing to distil, with or without confident sampling
    loss, _ = consistency_self_distillation(torch.cat([v, v], 1), y, confident_sampling=False)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_teacher_side_gets_no_gradient(batch):
    v, y = batch
    weak = v.clone().requires_grad_(True)
    strong = (v + 1.0).requires_grad_(True)
    loss, _ = consistency_self_distillation(torch.cat([weak, strong], 1), y, confident_sampling=False)
    loss.backward()
    assert weak.grad is None or torch.count_nonzero(weak.grad) == 0
    assert torch.count_nonzero(strong.grad) > 0


def test_mdcs_warmup_and_terms(batch):
    v, y = batch
    both = torch.cat([v, v + 1.0], 1)
    loss = MDCSLoss(COUNTS, warmup_epochs=20)
    assert loss.ramp(0) == 0 and loss.ramp(10) == 0.5 and loss.ramp(40) == 1
    start = loss(both, y, epoch=0)
    torch.testing.assert_close(start, loss.last_terms["dl"])
    later = loss(both, y, epoch=20)
    torch.testing.assert_close(later, loss.last_terms["dl"] + 0.6 * loss.last_terms["cs"])
    weak_only = MDCSLoss(COUNTS, kd_weight=0.0, ce_on_strong=False)(both, y)
    torch.testing.assert_close(weak_only, DiversityLoss(COUNTS)(v, y))
    assert torch.isfinite(MDCSLoss([1] * 10)(both, y, epoch=5))


def test_posthoc_logit_adjustment_subtracts_tau_log_prior():
    logits = torch.zeros(2, 3)
    out = posthoc_logit_adjustment(logits, [8, 1, 1], tau=1.0)
    torch.testing.assert_close(out[0], -torch.log(torch.tensor([0.8, 0.1, 0.1]) + 1e-9))
    assert out.argmax(1).tolist() == [1, 1]


def test_bad_input(batch):
    v, y = batch
    with pytest.raises(ValueError, match=r"class_counts.*\[2\] are absent"):
        SkillDiverseExpertLoss([5, 3, 0, 1])
    with pytest.raises(ValueError, match="class_counts"):
        DiversityLoss([[1, 2]])
    with pytest.raises(ValueError, match="3 experts over 10 classes"):
        DiversityLoss(COUNTS)(v[:2], y)
    with pytest.raises(ValueError, match="weak; strong"):
        MDCSLoss(COUNTS)(v[:, :15], y[:8])
    with pytest.raises(ValueError, match="target"):
        SkillDiverseExpertLoss(COUNTS)(v, y.float())
    with pytest.raises(ValueError, match="target"):
        SkillDiverseExpertLoss(COUNTS)(v, y + 10)
    with pytest.raises(ValueError, match="lam"):
        SkillDiverseExpertLoss(COUNTS, lam=np.nan)
    with pytest.raises(ValueError, match="lambdas"):
        DiversityLoss(COUNTS, ())
    with pytest.raises(ValueError, match="kd_weight"):
        MDCSLoss(COUNTS, kd_weight=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        consistency_self_distillation(torch.cat([v, v], 1), y, temperature=0.0)
    with pytest.raises(ValueError, match="classes"):
        posthoc_logit_adjustment(torch.zeros(2, 4), COUNTS)
