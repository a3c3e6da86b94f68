"""The X-Cross reproduction on a shortened testbed: one small base that already knows ``shift``, few steps."""

import pytest
import torch

from diversa.datasets.algotasks import make_test_set
from diversa.reproduce import xcross
from diversa.reproduce.runner import summarize
from diversa.reproduce.testbeds import moe_lm

SHORT_BASE_STEPS = 300


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("xcross")


@pytest.fixture(autouse=True)
def short_testbed(monkeypatch, cache, one_thread):
    # The shared short base is trained on copy and shift, so every arm is off floor after a few steps and a
    # broken method has something to lose; the units still draw their own target data and test sets.
    monkeypatch.setenv("DIVERSA_CACHE", str(cache))
    monkeypatch.setattr(xcross, "base_dense", lambda seed: moe_lm.base_dense(0, steps=SHORT_BASE_STEPS,
                                                                             tasks=("copy", "shift")))
    monkeypatch.setattr(xcross, "SOURCE_STEPS", {"copy": 10, "modadd": 20})
    monkeypatch.setattr(xcross, "STEPS", 5)
    monkeypatch.setattr(xcross, "N_LARGE", 64)
    monkeypatch.setattr(xcross, "QUICK", {"n_test": 32, "n_source_test": 16, "curve": ()})


def _sources():
    base = xcross.base_dense(0)
    return base, xcross.source_loras(base, 0)


def test_xcross_starts_as_the_mean_of_the_two_source_models():
    base, sources = _sources()
    ids = make_test_set(("shift", "copy"), n_per_task=8, seed=3).input_ids
    models = [xcross._source_model(base, sd) for sd in sources]
    with torch.no_grad():
        finals = torch.stack([m(ids, return_hidden=True).hidden[-1] for m in models])
        expected = xcross._Head(base)(finals.mean(0))
        got = xcross.XCrossLM(base, sources)(ids).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)  # merged LoRAs: float rounding only


def test_static_mixing_fixes_the_weights_and_is_undone():
    base, sources = _sources()
    model = xcross.XCrossLM(base, sources)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    ids = make_test_set(("shift",), n_per_task=8, seed=4).input_ids
    before = model(ids).logits
    dynamic = model.xcross.mixing_weights(ids)
    assert dynamic.std(dim=(2, 3)).max() > 1e-3  # the weights do depend on the token
    with xcross.static_mixing(model, ids) as means:
        fixed = model.xcross.mixing_weights(ids)
        torch.testing.assert_close(fixed, means[:, :, None, None, :].expand_as(fixed))
        torch.testing.assert_close(means.sum(-1), torch.ones(means.shape[:2]))
        assert not torch.allclose(model(ids).logits, before)
    torch.testing.assert_close(model(ids).logits, before)
    torch.testing.assert_close(model.xcross.mixing_weights(ids), dynamic)


def test_trial_measures_every_check_and_the_budgets():
    result = xcross.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in xcross.REPRODUCTION.checks}
    d = result.diagnostics
    assert d["params"] == {"lora": 4096, "lora_matched": 1024, "xcross": 1288, "xcross_over_lora": 1288 / 4096}
    # the base knows shift here, so the no-training references are off floor and X-Cross moved off its start
    assert d["accuracy_untrained_xcross"] > 0.05
    assert max(d["gamma_mean_abs"]) > 0
    for layer in d["mean_mixing_weights"]:
        for row in layer:
            assert sum(row) == pytest.approx(1.0, abs=1e-3)
    # every pair is an accuracy in [0, 1] (thresholds included)
    assert all(0.0 <= v <= 1.1 for pair in result.pairs.values() for v in pair)


class Negated(xcross.XCrossLM):
    """A broken integration: the trained X-Cross's scores turned upside down (it predicts the least likely token)."""

    def forward(self, input_ids, routing_override=None):
        out = super().forward(input_ids, routing_override)
        return out._replace(logits=-out.logits)


def test_a_broken_integration_is_contradicted_by_the_verdict_rule(monkeypatch):
    monkeypatch.setattr(xcross, "XCrossLM", Negated)
    # the short base knows shift but not modadd: regime thresholds that this testbed meets
    monkeypatch.setattr(xcross, "CEILING", 1.05)
    monkeypatch.setattr(xcross, "SOURCE_GAIN", -0.5)
    trials = {seed: xcross.run_trial(seed, quick=True) for seed in range(8)}
    result = summarize(xcross.REPRODUCTION, True, trials)
    assert result.headline.outcome == "contradicted"
    assert all(t.pairs["beats-lora-small-data"][1] < t.pairs["beats-lora-small-data"][0] for t in trials.values())
