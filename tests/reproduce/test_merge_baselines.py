"""merge-baselines: one shortened trial returns a sane pair for every check."""

import math

import pytest
import torch

from diversa.reproduce import merge_baselines
from diversa.reproduce.testbeds import merge_digits


@pytest.fixture
def short(monkeypatch, tmp_path):
    monkeypatch.setattr(merge_digits, "PRETRAIN_EPOCHS", 2)
    monkeypatch.setattr(merge_digits, "FINETUNE_EPOCHS", 2)
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_trial_pairs(short):
    result = merge_baselines.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in merge_baselines.REPRODUCTION.checks}
    for name, (baseline, method) in result.pairs.items():
        assert math.isfinite(baseline) and math.isfinite(method), name
        assert 0.0 < method < 1.5, name
    assert result.pairs["dare-keeps-ta"][0] == pytest.approx(result.diagnostics["task_arithmetic_test"] - 0.02)
    assert result.diagnostics["task_arithmetic_params"]["scaling"] in merge_baselines.QUICK_LAMBDAS
