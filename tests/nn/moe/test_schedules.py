import pytest
import torch

from diversa.datasets.algotasks import AlgoTasks
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig
from diversa.nn.moe.schedules import ProgressiveSparsification, active_expert_params, sigma_default_schedule


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(ks=(8, 2, 1, 1)):
    torch.manual_seed(0)
    cfg = MoEConfig(num_experts=32, top_k=1, d_expert=4, normalize_topk=False, topk_per_layer=ks)
    return TinyLM(TinyLMConfig(d_model=16, n_heads=2, n_layers=4, moe=cfg))


def test_default_schedule_resolution():
    assert sigma_default_schedule(4, 32) == [8, 2, 1, 1]
    assert sigma_default_schedule(56, 96) == [8] * 7 + [2] + [1] * 48
    assert sigma_default_schedule(2, 8) == [2, 1]
    with pytest.raises(ValueError, match="k_low"):
        sigma_default_schedule(4, 8, k_low=9)


def test_switch_sets_router_k_and_routers_select_k_experts():
    model = _model()
    schedule = ProgressiveSparsification([8, 2, 1, 1], 1, switch_at=0.5, total_steps=10)
    assert schedule.switch_step() == 5 and schedule.topk_at(4) == [8, 2, 1, 1] and schedule.topk_at(5) == [1] * 4
    ids = AlgoTasks(seed=0).sample(2).input_ids
    schedule(0, model)
    before = active_expert_params(model)
    assert [r.topk_idx.shape[1] for r in model(ids).routers] == [8, 2, 1, 1]
    schedule(7, model)
    assert [r.topk_idx.shape[1] for r in model(ids).routers] == [1, 1, 1, 1]
    after = active_expert_params(model)
    top1 = _model((1, 1, 1, 1))
    assert after == active_expert_params(top1) and before > after  # B == A after the switch, B > A before
    assert ProgressiveSparsification([2, 1], switch_at=3).topk_at(2, None) == [2, 1]


def test_bad_schedules():
    with pytest.raises(ValueError, match="layers"):
        ProgressiveSparsification([8, 1], switch_at=1)(0, _model())
    with pytest.raises(ValueError, match="top_k"):
        ProgressiveSparsification([64, 1, 1, 1], switch_at=1)(0, _model())
    with pytest.raises(ValueError, match="switch_at"):
        ProgressiveSparsification([1], switch_at=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        ProgressiveSparsification([1], switch_at=0.5).topk_at(0)
    with pytest.raises(ValueError, match="topk_final"):
        ProgressiveSparsification([2, 2], topk_final=[1])


def test_loss_free_bias_changes_selection_only_and_updates_by_sign():
    from diversa.nn.moe import MoEFeedForward
    from diversa.nn.moe.schedules import LossFreeBias

    torch.manual_seed(0)
    model = _model((1, 1, 1, 1))
    balancer = LossFreeBias(update_rate=0.5)
    balancer.attach(model)
    ids = AlgoTasks(seed=0).sample(4).input_ids
    out = model(ids)
    layer = model.moe_layers()[0]
    mask = ids.reshape(-1) != 10
    counts = torch.bincount(out.routers[0].topk_idx[mask].reshape(-1), minlength=32).float()
    balancer(1, model, None, out)
    expected = 0.5 * torch.sign(counts.mean() - counts)
    torch.testing.assert_close(layer.router.selection_bias, expected)
    assert not layer.router.selection_bias.requires_grad
    # gate values are the unbiased sigmoid scores of the chosen experts
    routed = model(ids).routers[0]
    torch.testing.assert_close(routed.topk_w, routed.logits.sigmoid().gather(1, routed.topk_idx))
    single = MoEFeedForward(8, 4, num_experts=4, top_k=1)
    LossFreeBias().attach(single)
    with torch.no_grad():
        single.router.selection_bias[2] = 100.0
    _, routed = single(torch.randn(5, 8), return_routing=True)
    assert (routed.topk_idx == 2).all()  # the bias alone decides selection
    with pytest.raises(ValueError, match="update_rate"):
        LossFreeBias(update_rate=0)
