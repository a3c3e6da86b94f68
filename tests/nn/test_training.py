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
