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


def test_fit_keeps_the_smallest_of_the_best_betas_and_scores_exact_match(moe_model, monkeypatch):
    val = make_test_set(n_per_task=1, seed=2)
    answers = [val.input_ids[i, int(p): int(p) + int(a)].tolist()
               for i, (p, a) in enumerate(zip(val.prompt_len, val.answer_len))]
    # canned generations: beta 0.5 and 0.9 get three of four prompts right, 0.1 one of them
    right = {0.1: [0], 0.5: [0, 1, 2], 0.9: [1, 2, 3]}
    decoded = []

    def decode(self, prompts, beta):
        decoded.append(beta)
        return [answers[i] if i in right[beta] else [0] for i in range(prompts.n_examples)]

    monkeypatch.setattr(SCMoEDecoder, "_decode", decode)
    decoder = SCMoEDecoder(moe_model, beta_grid=(0.9, 0.1, 0.5)).fit(val)
    assert decoder.val_scores_ == {0.1: 0.25, 0.5: 0.75, 0.9: 0.75} and decoder.beta_ == 0.5
    assert decoder.score(val) == 0.75 and decoded[-1] == 0.5  # generate uses the chosen beta
    assert SCMoEDecoder(moe_model, beta=0.1).score(val) == 0.25  # without fit: the constructor's beta
    with pytest.raises(ValueError, match="beta_grid"):
        SCMoEDecoder(moe_model, beta_grid=()).fit(val)


def test_sampling_is_reproducible_and_follows_the_seed(moe_model):
    prompts = make_test_set(n_per_task=4, seed=2)
    a = SCMoEDecoder(moe_model, do_sample=True, seed=3).generate(prompts)
    assert a == SCMoEDecoder(moe_model, do_sample=True, seed=3).generate(prompts)
    assert a != SCMoEDecoder(moe_model, do_sample=True, seed=4).generate(prompts)
    assert a != SCMoEDecoder(moe_model).generate(prompts)  # sampling, not greedy


def test_routing_divergence(moe_model):
    batch = make_test_set(n_per_task=4, seed=0)
    same = routing_divergence(moe_model, batch, RoutingOverride.topk(2), RoutingOverride.rank((1, 2)))
    assert same["mean"] == pytest.approx(0.0, abs=1e-5)
    diff = routing_divergence(moe_model, batch)
    assert diff["mean"] > 0 and set(diff["per_task"]) == {0, 1, 2, 3} and math.isfinite(diff["mean"])


# -- transformers MoE models: routers overridden through forward hooks, one KV cache per routing --------------


def _hf_model(kind):
    transformers = pytest.importorskip("transformers")
    common = {"vocab_size": 20, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "num_experts_per_tok": 2,
              "max_position_embeddings": 64, "pad_token_id": 10, "eos_token_id": 13, "bos_token_id": 11,
              "tie_word_embeddings": False, "initializer_range": 0.3}
    torch.manual_seed(0)
    if kind == "mixtral":
        config = transformers.MixtralConfig(num_local_experts=4, **common)
        return transformers.MixtralForCausalLM(config).eval()
    config = transformers.Qwen2MoeConfig(num_experts=4, moe_intermediate_size=24, shared_expert_intermediate_size=24,
                                         norm_topk_prob=False, **common)
    return transformers.Qwen2MoeForCausalLM(config).eval()


def _hf_greedy(model, prompts, max_new):
    """transformers' own greedy ``generate`` on the left-padded prompts, cut after ``<eos>``."""
    lengths = prompts.prompt_len.tolist()
    width = max(lengths)
    ids = torch.full((len(lengths), width), 10)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, width - n:], mask[i, width - n:] = prompts.input_ids[i, :n], 1
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                         eos_token_id=13, pad_token_id=10)
    rows = out[:, width:].tolist()
    return [row[: row.index(13) + 1] if 13 in row else row for row in rows]


@pytest.mark.parametrize("kind", ["mixtral", "qwen2_moe"])
def test_hf_model_beta_zero_is_its_greedy_decoding(kind):
    model = _hf_model(kind)
    prompts = make_test_set(n_per_task=2, seed=0)  # prompts of different lengths: left padding matters
    ours = SCMoEDecoder(model, beta=0.0, max_new_tokens=8).generate(prompts)
    assert ours == _hf_greedy(model, prompts, 8)
    assert len({tuple(g) for g in ours}) > 4  # the check compares real, varied continuations


@pytest.mark.parametrize("kind", ["mixtral", "qwen2_moe"])
def test_hf_weak_pass_routes_each_token_to_its_rank_k_expert(kind):
    from diversa.infer.self_contrast import router_modules, routing_hooks

    model = _hf_model(kind)
    routers = router_modules(model)
    assert len(routers) == 2
    seen_logits, seen_index = [], []
    hooks = [r.register_forward_hook(lambda m, a, out: seen_logits.append(out[0].detach())) for r in routers]
    experts = [m for m in model.modules() if type(m).__name__.endswith("Experts")]
    hooks += [e.register_forward_pre_hook(lambda m, args: seen_index.append(args[1])) for e in experts]
    ids = make_test_set(n_per_task=1, seed=1).input_ids
    strong = model(input_ids=ids).logits
    with routing_hooks(routers, RoutingOverride.rank((2,))):
        weak = model(input_ids=ids).logits
    for h in hooks:
        h.remove()
    # strong pass: the model's own top-2; weak pass: the second most probable expert alone
    for logits, index in zip(seen_logits[:2], seen_index[:2]):
        assert torch.equal(index.sort(-1).values, logits.softmax(-1).topk(2).indices.sort(-1).values)
    for logits, index in zip(seen_logits[2:], seen_index[2:]):
        assert index.shape[1] == 1 and torch.equal(index[:, 0], logits.softmax(-1).argsort(-1, descending=True)[:, 1])
    assert (weak - strong).abs().max() > 0.1
    assert torch.equal(model(input_ids=ids).logits, strong)  # the hooks are gone


def test_hf_contrast_changes_tokens_and_the_kv_cache_changes_nothing():
    model = _hf_model("mixtral")
    prompts = make_test_set(n_per_task=2, seed=3)
    cached = SCMoEDecoder(model, alpha=1e-3, beta=0.9, max_new_tokens=6).generate(prompts)
    assert cached == SCMoEDecoder(model, alpha=1e-3, beta=0.9, max_new_tokens=6, use_cache=False).generate(prompts)
    assert cached != _hf_greedy(model, prompts, 6)
    # weak = strong (Mixtral's own normalised top-2): the contrast cancels, whatever beta
    with pytest.warns(UserWarning, match="weak routing equals"):
        same = SCMoEDecoder(model, strong=RoutingOverride.topk(2), weak=RoutingOverride.topk(2), beta=0.9,
                            max_new_tokens=6).generate(prompts)
    assert same == _hf_greedy(model, prompts, 6)


def test_a_model_without_routers_is_refused():
    with pytest.raises(TypeError, match="routing_override"):
        SCMoEDecoder(torch.nn.Linear(2, 2)).generate(make_test_set(n_per_task=1, seed=0))
