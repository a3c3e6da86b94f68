"""twin-merging: one shortened trial returns a sane pair for every check."""

import math

import pytest
import torch

from diversa.reproduce import twin_merging
from diversa.reproduce.testbeds import merge_digits


@pytest.fixture
def short(monkeypatch, tmp_path):
    monkeypatch.setattr(merge_digits, "PRETRAIN_EPOCHS", 2)
    monkeypatch.setattr(merge_digits, "FINETUNE_EPOCHS", 2)
    monkeypatch.setattr(twin_merging, "QUICK_ROUTER_EPOCHS", 3)
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_trial_pairs(short):
    result = twin_merging.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in twin_merging.REPRODUCTION.checks}
    for name, pair in result.pairs.items():
        assert all(math.isfinite(v) and 0 < v < 1.5 for v in pair), name
    d = result.diagnostics
    assert 0 <= d["router_test_accuracy"] <= 1
    # oracle routing with the no-compression variant would be exact; with SVD it is close to the experts
    assert d["twin_oracle"] > d["twin_uniform_routing"]
