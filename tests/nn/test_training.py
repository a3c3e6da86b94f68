import pytest
import torch

from diversa.datasets.algotasks import AlgoTasks, make_test_set
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig
from diversa.nn.training import evaluate_lm, exact_match_gen, greedy_generate, lr_at, train_lm


pytestmark = pytest.mark.usefixtures("one_thread")


def test_lr_schedule():
    assert lr_at(0, 100, 1.0, 10, 0.1) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 10, 0.1) == pytest.approx(1.0)
    assert lr_at(99, 100, 1.0, 10, 0.1) == pytest.approx(0.1, abs=1e-3)


def test_loss_decreases_on_fixed_batch_and_callbacks_run():
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(moe=MoEConfig(num_experts=4, top_k=2, d_expert=32)))
    batch = AlgoTasks(seed=0).sample(32)
    seen = []
    history = train_lm(model, batch, 50, warmup=5, callbacks=[lambda step, *_: seen.append(step)])
    assert history["ce"][-1] < 0.7 * history["ce"][0] and seen == list(range(50))
    assert all(v > 0 for v in history["lb"]) and not model.training
    with pytest.raises(ValueError, match="steps"):
        train_lm(model, batch, -1)
    with pytest.raises(ValueError, match="micro_batches"):
        train_lm(model, batch, 1, micro_batches=0)


def test_micro_batches_with_global_batch_lbl():
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(moe=MoEConfig(num_experts=4, top_k=1, d_expert=16, lb_type="global_batch")))
    history = train_lm(model, AlgoTasks(seed=0), 3, batch_size=8, micro_batches=4, warmup=1)
    layer = model.moe_layers()[0]
    assert layer.global_lbl.previous is not None and layer.global_lbl.previous.sum() > 0
    assert all(v > 0 for v in history["lb"])


def test_evaluation_and_generation_agree_with_a_perfect_oracle():
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(d_model=32, n_heads=2))
    test = make_test_set(n_per_task=4, seed=0)
    gen = greedy_generate(model, test)
    assert all(1 <= len(g) <= 24 - int(p) for g, p in zip(gen, test.prompt_len))
    assert all(g[-1] == AlgoTasks.EOS or len(g) == 24 - int(p) for g, p in zip(gen, test.prompt_len))
    ev = evaluate_lm(model, test)
    assert 0.0 <= ev["token_acc"] <= 1.0 and set(ev["per_task"]) == {0, 1, 2, 3}
    # a step_fn that reads the reference answer generates it exactly
    ids_ref = test.input_ids

    def oracle(model, ids, positions):
        rows = [next(i for i in range(ids_ref.shape[0]) if torch.equal(ids_ref[i, :p + 1], ids[j, :p + 1]))
                for j, p in enumerate(positions.tolist())]
        return torch.nn.functional.one_hot(ids_ref[rows, positions + 1], 20).float()

    perfect = greedy_generate(model, test, step_fn=oracle)
    result = exact_match_gen(perfect, test)
    assert result["exact_match_gen"] == 1.0 and result["correct"].all()
    assert all(g[-1] == AlgoTasks.EOS for g in perfect)


def test_generation_never_reads_the_reference_answer():
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(d_model=32, n_heads=2))
    test = make_test_set(n_per_task=3, seed=4)
    gen = greedy_generate(model, test)
    cols = torch.arange(test.input_ids.shape[1])
    hidden = test.input_ids.masked_fill(cols >= test.prompt_len[:, None], 7)  # other answers, other lengths
    blind = test._replace(input_ids=hidden, answer_len=torch.ones_like(test.answer_len))
    assert greedy_generate(model, blind) == gen
    assert any(len(g) > int(a) for g, a in zip(gen, test.answer_len))  # an untrained model overshoots
    with pytest.raises(ValueError, match="max_new"):
        greedy_generate(model, test, max_new=0)


def test_batched_generation_equals_one_by_one():
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(moe=MoEConfig(num_experts=4)))
    test = make_test_set(n_per_task=2, seed=3)
    together = greedy_generate(model, test, max_new=5)
    alone = [greedy_generate(model, test.subset(slice(i, i + 1)), max_new=5)[0] for i in range(test.n_examples)]
    assert together == alone and all(len(g) <= 5 for g in together)
    sampled = greedy_generate(model, test, generator=torch.Generator().manual_seed(1))
    again = greedy_generate(model, test, generator=torch.Generator().manual_seed(1))
    assert sampled == again


def _moe_model(seed=0, **moe):
    torch.manual_seed(seed)
    return TinyLM(TinyLMConfig(d_model=32, n_heads=2, moe=MoEConfig(num_experts=4, top_k=2, d_expert=16, **moe)))


def test_a_resumed_run_equals_one_run_and_forks_do_not_share_state():
    import copy

    whole = _moe_model()
    train_lm(whole, AlgoTasks(seed=1), 6, batch_size=8, warmup=2)
    first = _moe_model()
    stream = AlgoTasks(seed=1)
    history = train_lm(first, stream, 6, batch_size=8, warmup=2, stop=3)
    forks = [(copy.deepcopy(first), copy.deepcopy(stream)) for _ in range(2)]
    for model, fork_stream in forks:  # the second fork would see the first one's moments if they were shared
        train_lm(model, fork_stream, 6, batch_size=8, warmup=2, start=3, optimizer_state=history["optimizer_state"])
    for model, _ in forks:
        for (name, p), q in zip(whole.named_parameters(), model.parameters()):
            torch.testing.assert_close(q, p, atol=1e-6, rtol=1e-5, msg=name)
    with pytest.raises(ValueError, match="optimizer_state"):
        train_lm(first, stream, 6, start=3)
    with pytest.raises(ValueError, match="start and stop"):
        train_lm(first, stream, 6, stop=7)


def test_lr_scales_give_parameters_their_own_rate():
    from diversa.nn.moe import router_parameters

    batch = AlgoTasks(seed=2).sample(8)
    moved = {}
    for scale in (1.0, 0.1):
        model = _moe_model()
        before = [p.detach().clone() for p in router_parameters(model)]
        others = model.tok_emb.weight.detach().clone()
        train_lm(model, batch, 1, warmup=1, lr_scales=[(router_parameters(model), scale)])
        moved[scale] = (torch.cat([(p.detach() - b).reshape(-1) for p, b in zip(router_parameters(model), before)]),
                        model.tok_emb.weight.detach() - others)
    # Adam's first step moves every coordinate by lr * (sign(g) + wd * w): proportional to the group's rate
    torch.testing.assert_close(moved[0.1][0], 0.1 * moved[1.0][0], atol=1e-7, rtol=1e-4)
    torch.testing.assert_close(moved[0.1][1], moved[1.0][1])
    model = _moe_model()
    with pytest.raises(ValueError, match="scale"):
        train_lm(model, batch, 1, lr_scales=[(router_parameters(model), 0.0)])
    with pytest.raises(ValueError, match="earlier pair"):
        train_lm(model, batch, 1, lr_scales=[(router_parameters(model), 0.5), (router_parameters(model), 0.1)])
    with pytest.raises(TypeError, match="pair"):
        train_lm(model, batch, 1, lr_scales=[router_parameters(model)])


def test_trimming_padding_keeps_the_losses():
    from diversa.nn.training import lm_loss, trim_padding

    model = _moe_model().train()
    batch = AlgoTasks(n_range=(2, 3), seed=3).sample(6)
    trimmed = trim_padding(batch)
    longest = int((batch.prompt_len + batch.answer_len).max())
    assert trimmed.input_ids.shape[1] == longest < batch.input_ids.shape[1]
    assert torch.equal(trimmed.input_ids, batch.input_ids[:, :longest])
    full, short = model(batch.input_ids), model(trimmed.input_ids)
    torch.testing.assert_close(lm_loss(short.logits, trimmed), lm_loss(full.logits, batch))
    torch.testing.assert_close(short.aux_lb, full.aux_lb)
    torch.testing.assert_close(short.aux_z, full.aux_z)
    assert trim_padding(trimmed) is trimmed


def test_sgd_parameters_step_with_their_gradient():
    from diversa.nn.moe import router_parameters

    batch = AlgoTasks(seed=4).sample(8)
    model = _moe_model()
    router = router_parameters(model)
    before = [p.detach().clone() for p in router]
    model.train()
    out = model(batch.input_ids)
    from diversa.nn.training import lm_loss

    (lm_loss(out.logits, batch) + 1e-2 * out.aux_lb + 1e-3 * out.aux_z).backward()
    grads = [p.grad.clone() for p in router]
    norm = torch.nn.utils.clip_grad_norm_([p for p in model.parameters()], float("inf"))
    scale = min(1.0, 1.0 / float(norm))  # train_lm clips the total norm at 1
    model.zero_grad()
    history = train_lm(model, batch, 1, lr=0.5, warmup=1, sgd_parameters=router)
    for p, b, g in zip(router, before, grads):  # plain SGD: w - lr * g, not Adam's lr * sign(g)
        torch.testing.assert_close(p.detach(), b - 0.5 * scale * g, atol=1e-6, rtol=1e-4)
    assert len(history["optimizer_state"]["optimizers"]) == 2
    with pytest.raises(ValueError, match="sgd_parameters"):
        train_lm(model, batch, 2, start=1, optimizer_state=history["optimizer_state"])


def test_count_trainable_counts_only_parameters_that_train():
    from diversa.nn.training import count_trainable

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    assert count_trainable(model) == 4 * 2 + 2
    assert count_trainable(model.parameters()) == count_trainable(model)
