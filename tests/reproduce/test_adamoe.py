import pytest
import torch

from diversa.datasets.algotasks import make_test_set, make_validation_set
from diversa.nn.models import TinyLM
from diversa.nn.moe import RoutingOverride, add_null_experts, router_parameters, sorted_experts
from diversa.reproduce import adamoe
from diversa.reproduce.testbeds.moe_lm import base_moe_config

TINY = adamoe.Size(base_steps=10, finetune_steps=4, n_test=4, n_val=4)


@pytest.fixture(autouse=True)
def small_and_single_threaded(monkeypatch, tmp_path, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    monkeypatch.setattr(adamoe, "QUICK", TINY)


def _model(std=0.3):
    torch.manual_seed(0)
    model = TinyLM(base_moe_config())
    with torch.no_grad():  # peaked routers, so top-p keeps one expert for some tokens and more for others
        for layer in model.moe_layers():
            layer.router.weight.normal_(0.0, std)
    return model.eval()


def test_expert_count_is_the_flops_measure():
    model = _model()
    ids = make_test_set(adamoe.TASKS, n_per_task=16, seed=1).input_ids
    assert adamoe.experts_per_token(model, ids, RoutingOverride.topk(2)) == 2.0
    assert adamoe.experts_per_token(model, ids, RoutingOverride.topk(1)) == 1.0
    # top-p pads rows that need fewer experts with weight-0 repeats: those are not computed work
    p = 0.6
    routers = model(ids, routing_override=RoutingOverride.top_p(p, max_k=4)).routers
    expected = []
    for r in routers:
        values = sorted_experts(r.probs)[0]
        expected.append(((values.cumsum(-1) < p - 1e-7).sum(-1) + 1).clamp(max=4).float())
    mask = (ids != 10).reshape(-1)
    count = adamoe.experts_per_token(model, ids, RoutingOverride.top_p(p, max_k=4))
    assert count == pytest.approx(float(torch.stack(expected).mean(0)[mask].mean()))
    assert 1.0 < count < 4.0
    # a converted model reproduces top-2 exactly, null experts cost nothing
    converted = add_null_experts(_model(), num_null=16, top_k=4)
    assert adamoe.experts_per_token(converted, ids) == 2.0


def test_matched_top_p_gives_the_baseline_the_same_compute():
    model = _model()
    batch = make_validation_set(adamoe.TASKS, n_per_task=64, seed=2)
    for target in (1.2, 1.5, 1.8):
        override, count = adamoe.matched_top_p(model, batch, target)
        assert count == pytest.approx(target, abs=0.02)
        assert adamoe.experts_per_token(model, batch.input_ids, override) == count
    override, count = adamoe.matched_top_p(model, batch, 0.7)  # AdaMoE below one expert: top-1 is the least
    assert count == 1.0


def test_baseline_is_matched_on_validation_and_router_rows_step_by_sgd(monkeypatch):
    seen, sgd = [], []
    original_match, original_train = adamoe.matched_top_p, adamoe.train_lm

    def match_spy(model, batch, target, **kwargs):
        seen.append(batch.input_ids.clone())
        return original_match(model, batch, target, **kwargs)

    def train_spy(model, stream, steps, **kwargs):
        sgd.append(({id(p) for p in kwargs["sgd_parameters"]}, {id(p) for p in router_parameters(model)}))
        return original_train(model, stream, steps, **kwargs)

    monkeypatch.setattr(adamoe, "matched_top_p", match_spy)
    monkeypatch.setattr(adamoe, "train_lm", train_spy)
    result = adamoe.run_trial(0, quick=True)
    val = make_validation_set(adamoe.TASKS, n_per_task=TINY.n_val, seed=0)
    assert len(seen) == 2 and all(torch.equal(ids, val.input_ids) for ids in seen)
    assert len(sgd) == 3 and all(given == routers and routers for given, routers in sgd)
    assert len(sgd[1][1]) == 2 * len(sgd[0][1])  # AdaMoE arms: null rows too
    d = result.diagnostics
    for arm in ("adamoe", "adamoe_z"):
        assert result.pairs["accuracy" if arm == "adamoe" else "accuracy-zloss"][0] == d["matched_top_p"][arm][
            "exact_match"]
