"""MergeDigits-8: task construction, splits, caching, evaluation helpers."""

import numpy as np
import pytest
import torch

from diversa.combine.merge import task_arithmetic
from diversa.reproduce.testbeds import merge_digits
from diversa.reproduce.testbeds.merge_digits import TASKS, build_merge_testbed, evaluate_merge, make_digit_tasks


@pytest.fixture
def short_training(monkeypatch, tmp_path, one_thread):
    monkeypatch.setattr(merge_digits, "PRETRAIN_EPOCHS", 2)
    monkeypatch.setattr(merge_digits, "FINETUNE_EPOCHS", 1)
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    return tmp_path


def test_tasks_shapes_splits_and_determinism():
    tasks = make_digit_tasks(0)
    assert tuple(tasks) == TASKS
    for data in tasks.values():
        n = len(data.X_train) + len(data.X_val) + len(data.X_test)
        assert n == 1097 and data.X_train.shape[1] == 64
        assert abs(len(data.X_test) / n - 0.3) < 0.01 and abs(len(data.X_val) / n - 0.1) < 0.01
        assert int(data.y_train.max()) + 1 == data.n_classes
    assert {tasks[t].n_classes for t in ("rot180_parity", "transpose_ge5", "shift_mod3")} == {2, 3}
    assert float(tasks["invert"].X_train.min()) >= 0 and float(tasks["noisy"].X_test.max()) <= 1
    again = make_digit_tasks(0)
    assert torch.equal(again["permuted"].X_train, tasks["permuted"].X_train)
    assert not torch.equal(make_digit_tasks(1)["rot90"].X_train[:5], tasks["rot90"].X_train[:5])
    # every task transforms the same pool: mirroring the mirror task's test images gives upright digits
    mirrored = tasks["mirror"].X_test.reshape(-1, 8, 8).flip(2).reshape(-1, 64)
    assert not np.allclose(mirrored.numpy(), tasks["mirror"].X_test.numpy())


def test_build_cache_and_evaluation(short_training):
    tb = build_merge_testbed(0, "full")
    assert (short_training / "merge_digits_seed0_full.pt").is_file()
    assert set(tb.base_body) == {"l1.weight", "l1.bias", "l2.weight", "l2.bias"}
    assert sum(v.numel() for v in tb.base_body.values()) == 24832
    cached = build_merge_testbed(0, "full")
    assert all(torch.equal(cached.task_bodies["noisy"][k], tb.task_bodies["noisy"][k]) for k in tb.base_body)
    _, per_task = tb.normalized_accuracy(tb.task_bodies["mirror"])
    assert per_task["mirror"] == pytest.approx(1.0)
    assert tb.features(tb.base_body, tb.tasks["rot90"].X_test[:3]).shape == (3, 128)
    models = [tb.task_bodies[t] for t in tb.tasks]
    score = evaluate_merge(tb, lambda scaling: task_arithmetic(tb.base_body, models, scaling=scaling),
                           [{"scaling": 0.1}, {"scaling": 0.3}])
    assert score.params["scaling"] in (0.1, 0.3) and 0 < score.test < 2


def test_modes_and_errors(short_training):
    frozen = build_merge_testbed(1, "frozen_bias")
    assert torch.equal(frozen.task_bodies["rot90"]["l1.bias"], frozen.base_body["l1.bias"])
    lora = build_merge_testbed(1, "lora")
    A, B = lora.lora_factors["mirror"]["l1.weight"]
    assert A.shape == (128, 16) and B.shape == (16, 64)
    torch.testing.assert_close(lora.task_bodies["mirror"]["l1.weight"], lora.base_body["l1.weight"] + A @ B)
    with pytest.raises(ValueError, match="mode"):
        build_merge_testbed(0, "half")
    with pytest.raises(ValueError, match="seed"):
        build_merge_testbed(-1)
    with pytest.raises(ValueError, match="task"):
        frozen.accuracy(frozen.base_body, "nope")
