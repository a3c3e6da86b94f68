"""rmm: one shortened trial returns a sane pair for every check."""

import math

import pytest
import torch

from diversa.reproduce import rmm
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
    result = rmm.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in rmm.REPRODUCTION.checks}
    for name, pair in result.pairs.items():
        assert all(math.isfinite(v) and 0 < v < 1.5 for v in pair), name
    d = result.diagnostics
    assert d["ptsvd_rmm_p1_storage"] == pytest.approx(0.3125) and d["ptsvd_rmm_p3_storage"] == pytest.approx(0.6875)
    assert d["ptsvd_rmm_p3"] >= d["ptsvd_rmm_p1"] - 0.05  # more components recover the tasks better
