"""X-Cross: reductions to the source models, the integrator's arithmetic, and what trains."""

import copy

import pytest
import torch
from torch import nn

from diversa.nn.lora import apply_lora, lora_state_dict
from diversa.nn.xcross import LayerIntegrator, XCrossModel

pytestmark = pytest.mark.usefixtures("one_thread")
D, VOCAB = 8, 11


class Block(nn.Module):
    """A causal block with named projections: the token mixes with the running mean of its prefix."""

    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(D)
        self.q_proj, self.o_proj = nn.Linear(D, D), nn.Linear(D, D)

    def forward(self, h, scale=1.0):
        prefix = h.cumsum(1) / torch.arange(1, h.shape[1] + 1).view(1, -1, 1)
        return h + scale * self.o_proj(torch.tanh(self.q_proj(self.ln(h + prefix))))


class Embed(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)

    def forward(self, ids):
        return self.emb(ids)


def _backbone(seed=0, layers=3):
    torch.manual_seed(seed)
    return nn.ModuleList(Block() for _ in range(layers)), Embed(), nn.Linear(D, VOCAB)


def _lora_copy(layers, seed):
    model = apply_lora(copy.deepcopy(layers), ["q_proj", "o_proj"], r=2, alpha=4)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
    return model


def _run(stack, embed, ids, scale=1.0):
    h = embed(ids)
    for layer in stack:
        h = layer(h, scale)
    return h


def _randomize_integrators(model, seed=5):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.copy_(torch.randn(p.shape, generator=gen))


def _ids(seed=1):
    return torch.randint(0, VOCAB, (3, 6), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("dynamic, low_rank", [(True, False), (True, True), (False, False)])
def test_one_source_reproduces_that_model_for_any_integration_weights(dynamic, low_rank):
    layers, embed, head = _backbone()
    source = _lora_copy(layers, seed=1)
    model = XCrossModel([source], D, embed=embed, head=head, dynamic=dynamic, low_rank=low_rank)
    _randomize_integrators(model)
    ids = _ids()
    torch.testing.assert_close(model(ids, 0.7), head(_run(source, embed, ids, 0.7)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("combine", ["hidden", "logits"])
def test_closed_gates_give_the_mean_of_the_independent_sources(combine):
    layers, embed, head = _backbone()
    sources = [_lora_copy(layers, seed=s) for s in (1, 2, 3)]
    model = XCrossModel(sources, D, embed=embed, head=head, combine=combine)
    _randomize_integrators(model)
    with torch.no_grad():
        for integrator in model.integrators:
            integrator.gamma.zero_()
    ids = _ids()
    finals = [_run(s, embed, ids) for s in sources]
    expected = head(torch.stack(finals).mean(0)) if combine == "hidden" else \
        torch.stack([head(h).log_softmax(-1) for h in finals]).mean(0)
    torch.testing.assert_close(model(ids), expected, atol=1e-6, rtol=0)


def test_integrator_matches_the_formula_token_by_token():
    n, d = 3, 4
    integrator = LayerIntegrator(n, d)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in integrator.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    acts = torch.randn(n, 2, 5, d, generator=gen)
    h, w = integrator(acts)
    for b in range(2):
        for t in range(5):
            a = acts[:, b, t]                                              # [n, d]
            z = torch.cat([(a[j] - a[j].mean()) / torch.sqrt(a[j].var(unbiased=False) + 1e-5) for j in range(n)])
            for i in range(n):
                wi = torch.softmax(integrator.U[i] @ z + integrator.c[i], dim=0)
                torch.testing.assert_close(w[i, b, t], wi, atol=1e-5, rtol=1e-5)
                mixed = (wi[:, None] * a).sum(0)
                torch.testing.assert_close(h[i, b, t], a[i] + integrator.gamma[i] * (mixed - a[i]), atol=1e-5,
                                           rtol=1e-5)


def test_fresh_integrators_mix_uniformly_and_change_nothing():
    layers, embed, head = _backbone()
    sources = [_lora_copy(layers, seed=s) for s in (1, 2)]
    model = XCrossModel(sources, D, embed=embed, head=head)
    ids = _ids()
    mixing = model.mixing_weights(ids)
    assert mixing.shape == (3, 2, 3, 6, 2)
    torch.testing.assert_close(mixing, torch.full_like(mixing, 0.5))
    expected = head(torch.stack([_run(s, embed, ids) for s in sources]).mean(0))
    torch.testing.assert_close(model(ids), expected, atol=1e-6, rtol=0)


def test_only_the_integrators_train():
    layers, embed, head = _backbone()
    sources = [_lora_copy(layers, seed=s) for s in (1, 2)]
    model = XCrossModel(sources, D, embed=embed, head=head)
    assert {id(p) for p in model.parameters() if p.requires_grad} == {id(p) for p in model.trainable_parameters()}
    n, d, L = 2, D, 3
    assert sum(p.numel() for p in model.trainable_parameters()) == L * (n * (n * n * d + n) + n * d)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("integrators.")}
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-1)
    ids, target = _ids(), _ids(seed=2)
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(ids).reshape(-1, VOCAB), target.reshape(-1)).backward()
        optimizer.step()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in frozen.items())
    assert any(float(i.gamma.detach().abs().sum()) > 0 for i in model.integrators)
    assert float(model.integrators[-1].U.detach().abs().sum()) > 0  # once gamma moves, the dynamic weights learn too


def test_causality_is_preserved():
    layers, embed, head = _backbone()
    model = XCrossModel([_lora_copy(layers, seed=s) for s in (1, 2)], D, embed=embed, head=head)
    _randomize_integrators(model)
    ids = _ids()
    changed = ids.clone()
    changed[:, 4] = (changed[:, 4] + 1) % VOCAB
    a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, :4], b[:, :4], atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_from_lora_sources_builds_the_source_models():
    layers, embed, head = _backbone()
    sources = [_lora_copy(layers, seed=s) for s in (1, 2)]
    before = {k: v.clone() for k, v in layers.state_dict().items()}
    model = XCrossModel.from_lora_sources(layers, [lora_state_dict(s) for s in sources], D, alpha=4, embed=embed,
                                          head=head)
    assert all(torch.equal(v, layers.state_dict()[k]) for k, v in before.items())
    assert not any("lora" in k for k in layers.state_dict())
    with torch.no_grad():
        for integrator in model.integrators:
            integrator.gamma.zero_()
    ids = _ids()
    expected = head(torch.stack([_run(s, embed, ids) for s in sources]).mean(0))
    torch.testing.assert_close(model(ids), expected, atol=1e-6, rtol=0)
    prefixed = {f"blocks.{k}": v for k, v in lora_state_dict(sources[0]).items()}
    single = XCrossModel.from_lora_sources(layers, [prefixed], D, alpha=4, embed=embed, head=head, prefix="blocks.")
    torch.testing.assert_close(single(ids), head(_run(sources[0], embed, ids)), atol=1e-6, rtol=0)


def test_from_lora_sources_rejects_mismatched_sources():
    layers, _, _ = _backbone()
    full = lora_state_dict(_lora_copy(layers, seed=1))
    partial = {k: v for k, v in full.items() if ".q_proj." in k}
    with pytest.raises(ValueError, match="target different modules"):
        XCrossModel.from_lora_sources(layers, [full, partial], D)
    bigger = lora_state_dict(apply_lora(copy.deepcopy(layers), ["q_proj", "o_proj"], r=3))
    with pytest.raises(ValueError, match="differ in shape.*allow_rank_mismatch"):
        XCrossModel.from_lora_sources(layers, [full, bigger], D)
    XCrossModel.from_lora_sources(layers, [full, bigger], D, allow_rank_mismatch=True)


@pytest.mark.parametrize("kwargs, match", [
    ({"sources": []}, "non-empty"),
    ({"combine": "votes"}, "combine"),
    ({"combine": "logits", "head": None}, "needs a head"),
    ({"d_model": 0}, "d_model"),
])
def test_bad_arguments(kwargs, match):
    layers, _, head = _backbone()
    args = {"sources": [layers], "d_model": D, "head": head, **kwargs}
    with pytest.raises(ValueError, match=match):
        XCrossModel(**args)


def test_layers_must_keep_the_width():
    model = XCrossModel([[nn.Linear(D, 3)]], D)
    with pytest.raises(ValueError, match=r"sources\[0\]\[0\] must return a tensor \[..., 8\], got \(2, 3\)"):
        model(torch.randn(2, D))
