import numpy as np
import pytest
import torch

from diversa.datasets.algotasks import AlgoTasks, answer_digits, make_test_set, make_validation_set, overlap_fraction


def _parse(row, prompt_len, answer_len):
    ids = row.tolist()
    return ids[:prompt_len], ids[prompt_len: prompt_len + answer_len]


def test_vocabulary_ids_are_fixed():
    assert AlgoTasks.VOCAB_SIZE == 20 and AlgoTasks.MAX_LEN == 24
    assert (AlgoTasks.PAD, AlgoTasks.BOS, AlgoTasks.SEP, AlgoTasks.EOS, AlgoTasks.KEY) == (10, 11, 12, 13, 14)
    assert AlgoTasks.TASK_TOKENS == {"copy": 15, "reverse": 16, "sort": 17, "modadd": 18, "shift": 19}
    assert AlgoTasks.decode([11, 15, 3, 12, 3, 13, 10]) == ["<bos>", "<copy>", "3", "<sep>", "3", "<eos>", "<pad>"]


def test_answers_recomputed_from_prompts_and_masks():
    tasks = ("copy", "reverse", "sort", "modadd", "shift")
    batch = AlgoTasks(tasks, seed=3).sample(400)
    assert batch.input_ids.shape == (400, 24) and batch.input_ids.max() < 20
    for i in range(400):
        p, a = int(batch.prompt_len[i]), int(batch.answer_len[i])
        prompt, answer = _parse(batch.input_ids[i], p, a)
        name = tasks[int(batch.task_id[i])]
        assert prompt[0] == AlgoTasks.BOS and prompt[1] == AlgoTasks.TASK_TOKENS[name] and prompt[-1] == AlgoTasks.SEP
        key = prompt[2] if name == "modadd" else 0
        digits = np.array(prompt[4:-1] if name == "modadd" else prompt[2:-1])
        if name == "modadd":
            assert prompt[3] == AlgoTasks.KEY and 1 <= key <= 3
        assert 4 <= digits.size <= 8 and a == digits.size + 1
        assert answer == answer_digits(name, digits, key).tolist() + [AlgoTasks.EOS]
        assert (batch.input_ids[i, p + a:] == AlgoTasks.PAD).all()
        positions = torch.nonzero(batch.loss_mask[i]).squeeze(1).tolist()
        assert positions == list(range(p - 1, p + a - 1))  # next token of each is an answer token


def test_determinism_and_default_mix():
    a, b = AlgoTasks(seed=5).sample(64), AlgoTasks(seed=5).sample(64)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    c = AlgoTasks(seed=6).sample(64)
    assert not torch.equal(a.input_ids, c.input_ids)
    s1, s2 = AlgoTasks(seed=5).batches(32), AlgoTasks(seed=5).batches(32)
    next(s1), next(s2)
    assert torch.equal(next(s1).input_ids, next(s2).input_ids)
    big = AlgoTasks(seed=0).sample(2000)
    assert not (big.input_ids == AlgoTasks.TASK_TOKENS["shift"]).any()
    assert set(big.task_id.tolist()) == {0, 1, 2, 3}


def test_test_and_validation_sets_are_balanced():
    test = make_test_set(n_per_task=16, seed=1)
    assert test.n_examples == 64 and torch.equal(torch.bincount(test.task_id), torch.full((4,), 16))
    val = make_validation_set(n_per_task=8, seed=1)
    assert not torch.equal(val.input_ids, test.input_ids[:32])
    assert 0.0 <= overlap_fraction(AlgoTasks(seed=1).sample(500), test) <= 1.0
    assert overlap_fraction(test, test) == 1.0
    assert test.subset(slice(0, 3)).n_examples == 3


@pytest.mark.parametrize("kwargs, word", [({"tasks": ("copy", "add")}, "tasks"), ({"n_range": (0, 4)}, "n_range"),
                                          ({"n_range": (4, 11)}, "n_range"), ({"key_max": 10}, "key_max"),
                                          ({"task_weights": [1, 2]}, "task_weights")])
def test_bad_configuration(kwargs, word):
    with pytest.raises(ValueError, match=word):
        AlgoTasks(**kwargs)


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError, match="modadd"):
        AlgoTasks(tasks=("nope",))
