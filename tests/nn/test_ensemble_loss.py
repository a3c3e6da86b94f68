import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from diversa.combine.diversity import ambiguity, jensen_gap_ce
from diversa.nn.losses import DiversityRegularizedEnsembleLoss, diversity_regularized_loss, ensemble_loss_terms


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    logits = (2 * torch.randn(3, 16, 5, generator=gen, dtype=torch.float64)).requires_grad_()
    target = torch.randint(0, 5, (16,), generator=gen)
    return logits, target


def _grad(value, logits):
    (g,) = torch.autograd.grad(value, logits)
    return g


def test_gamma_zero_is_the_mean_member_loss_and_gamma_one_the_ensemble_loss(batch):
    logits, target = batch
    members = torch.stack([F.cross_entropy(logits[m], target) for m in range(3)]).mean()
    ensemble = F.nll_loss(torch.log(torch.softmax(logits, -1).mean(0)), target)
    for gamma, reference in ((0.0, members), (1.0, ensemble)):
        value = diversity_regularized_loss(logits, target, gamma)
        torch.testing.assert_close(value, reference)
        torch.testing.assert_close(_grad(value, logits), _grad(reference, logits))


@pytest.mark.parametrize("gamma", [-1.0, 0.3, 0.9])
def test_objective_is_mean_loss_minus_gamma_times_the_jensen_gap(batch, gamma):
    # the stated formula, with DIV computed independently by diversa.combine.diversity
    logits, target = batch
    probs = torch.softmax(logits, -1).detach().numpy()
    y = target.numpy()
    mean_ce = -np.mean(np.log(probs[:, np.arange(16), y]))
    expected = mean_ce - gamma * jensen_gap_ce(probs, y).mean()
    assert diversity_regularized_loss(logits, target, gamma).item() == pytest.approx(expected, abs=1e-10)
    onehot = np.eye(5)[y]
    mean_brier = np.mean(((probs - onehot) ** 2).sum(-1))
    brier = diversity_regularized_loss(logits, target, gamma, loss="brier").item()
    assert brier == pytest.approx(mean_brier - gamma * ambiguity(probs).mean(), abs=1e-10)
    terms = ensemble_loss_terms(logits, target)
    torch.testing.assert_close(terms.ensemble_loss, terms.mean_member_loss - terms.diversity)


def test_no_gradient_flows_between_members_at_gamma_zero(batch):
    logits, target = batch
    other = logits.detach().clone()
    other[1:] += torch.randn_like(other[1:])
    other.requires_grad_()
    for gamma, same in ((0.0, True), (0.5, False)):
        g1 = _grad(diversity_regularized_loss(logits, target, gamma), logits)[0]
        g2 = _grad(diversity_regularized_loss(other, target, gamma), other)[0]
        assert torch.allclose(g1, g2) is same


def test_alternative_measures():
    from scipy.stats import entropy

    logits = torch.randn(4, 10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    target = torch.zeros(10, dtype=torch.long)
    probs = torch.softmax(logits, -1).numpy()
    js = np.mean(entropy(probs.mean(0).T) - np.mean([entropy(p.T) for p in probs], axis=0))
    terms = ensemble_loss_terms(logits, target, measure="js_uniform")
    assert terms.diversity.item() == pytest.approx(js, abs=1e-10)
    assert ensemble_loss_terms(logits, target, measure="variance").diversity.item() == pytest.approx(
        ambiguity(probs).mean(), abs=1e-10)
    value = DiversityRegularizedEnsembleLoss(0.4, measure="js_uniform")(logits, target)
    assert value.item() == pytest.approx(terms.mean_member_loss.item() - 0.4 * js, abs=1e-10)


def test_unbounded_gamma_warns_and_stays_finite():
    logits = torch.tensor([[[30.0, -30.0]], [[-30.0, 30.0]]])
    with pytest.warns(UserWarning, match="unbounded"):
        value = diversity_regularized_loss(logits, torch.tensor([0]), gamma=2.0)
    assert math.isfinite(value.item())


def test_bad_input(batch):
    logits, target = batch
    with pytest.raises(ValueError, match="member_logits"):
        diversity_regularized_loss(logits[0], target)
    with pytest.raises(ValueError, match="target"):
        diversity_regularized_loss(logits, target[:3])
    with pytest.raises(ValueError, match="target"):
        diversity_regularized_loss(logits, target + 5)
    with pytest.raises(ValueError, match="gamma"):
        diversity_regularized_loss(logits, target, float("nan"))
    with pytest.raises(ValueError, match="loss"):
        DiversityRegularizedEnsembleLoss(loss="hinge")
    with pytest.raises(ValueError, match="measure"):
        ensemble_loss_terms(logits, target, measure="kl")
