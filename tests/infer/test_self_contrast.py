import math

import pytest
import torch

from diversa.datasets.algotasks import make_test_set
from diversa.infer.self_contrast import SCMoEDecoder, plausibility_violations, routing_divergence, scmoe_scores
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig
from diversa.nn.moe import RoutingOverride
from diversa.nn.training import greedy_generate


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def moe_model():
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(moe=MoEConfig(num_experts=4, top_k=2, d_expert=16))).eval()
    with torch.no_grad():  # make experts matter and outputs sharp, so routing changes the distributions
        model.tok_emb.weight.mul_(10)
        for layer in model.moe_layers():
            layer.w1.mul_(10)
            layer.w2.mul_(100)
            layer.router.weight.mul_(20)
    return model


def test_scores_plausible_set_and_beta_zero():
    torch.manual_seed(0)
    z_s, z_w = torch.randn(6, 20) * 3, torch.randn(6, 20) * 3
    s = scmoe_scores(z_s, z_w, alpha=0.1, beta=0.5)
    p = z_s.softmax(-1)
    inside = p >= 0.1 * p.max(-1, keepdim=True).values
    assert torch.equal(torch.isinf(s), ~inside)
    assert inside[torch.arange(6), z_s.argmax(-1)].all()
    torch.testing.assert_close(scmoe_scores(z_s, z_w, beta=0.0)[inside], z_s[inside])
    only_max = scmoe_scores(z_s, z_w, alpha=1.0)
    assert (torch.isfinite(only_max).sum(-1) == 1).all()
    assert torch.isinf(scmoe_scores(z_s, z_w, forbid=[3])[:, 3]).all()


def test_logit_and_log_prob_forms_agree():
    torch.manual_seed(1)
    z_s, z_w = torch.randn(5, 12) * 2, torch.randn(5, 12) * 2
    a = scmoe_scores(z_s, z_w, alpha=0.2, beta=0.7)
    b = scmoe_scores(z_s.log_softmax(-1), z_w.log_softmax(-1), alpha=0.2, beta=0.7)
    assert torch.equal(a.argmax(-1), b.argmax(-1))
    torch.testing.assert_close(a.softmax(-1), b.softmax(-1))


@pytest.mark.parametrize("kwargs", [{"alpha": 0.0}, {"alpha": 1.5}, {"beta": -0.1}])
def test_bad_alpha_beta(kwargs):
    with pytest.raises(ValueError, match="alpha" if "alpha" in kwargs else "beta"):
        scmoe_scores(torch.zeros(1, 3), torch.zeros(1, 3), **kwargs)


def test_beta_zero_equals_greedy_and_dense_model_is_unchanged(moe_model):
    prompts = make_test_set(n_per_task=4, seed=0)
    greedy = greedy_generate(moe_model, prompts)
    assert SCMoEDecoder(moe_model, beta=0.0).generate(prompts) == greedy
    torch.manual_seed(0)
    dense = TinyLM(TinyLMConfig()).eval()
    with pytest.warns(UserWarning, match="weak routing equals"):
        SCMoEDecoder(dense, weak=RoutingOverride.topk(2), beta=0.9).generate(prompts.subset(slice(0, 2)))
    assert SCMoEDecoder(dense, beta=0.9).generate(prompts) == greedy_generate(dense, prompts)


def test_contrast_changes_some_tokens_but_stays_plausible(moe_model):
    prompts = make_test_set(n_per_task=8, seed=1)
    generated = SCMoEDecoder(moe_model, beta=0.9).generate(prompts)
    assert plausibility_violations(moe_model, prompts, generated, alpha=0.1) == 0
    free = SCMoEDecoder(moe_model, alpha=1e-6, beta=5.0).generate(prompts)
    assert free != greedy_generate(moe_model, prompts)


def test_fit_picks_smallest_best_beta_and_sampling_is_reproducible(moe_model):
    val = make_test_set(n_per_task=2, seed=2)
    decoder = SCMoEDecoder(moe_model, beta_grid=(0.5, 0.1)).fit(val)
    best = max(decoder.val_scores_.values())
    assert decoder.beta_ == min(b for b, s in decoder.val_scores_.items() if s == best)
    assert 0.0 <= decoder.score(val) <= 1.0
    a = SCMoEDecoder(moe_model, do_sample=True, seed=3).generate(val)
    b = SCMoEDecoder(moe_model, do_sample=True, seed=3).generate(val)
    assert a == b


def test_routing_divergence(moe_model):
    batch = make_test_set(n_per_task=4, seed=0)
    same = routing_divergence(moe_model, batch, RoutingOverride.topk(2), RoutingOverride.rank((1, 2)))
    assert same["mean"] == pytest.approx(0.0, abs=1e-5)
    diff = routing_divergence(moe_model, batch)
    assert diff["mean"] > 0 and set(diff["per_task"]) == {0, 1, 2, 3} and math.isfinite(diff["mean"])
