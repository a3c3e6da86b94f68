"""Equivalence with mergekit 0.1.5's in-memory API for the methods both implement."""

import pytest
import torch

from diversa.combine.merge import dare_merging, task_arithmetic, ties_merging, weight_average

api = pytest.importorskip("mergekit.merge_methods.api")


@pytest.fixture
def tensors():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(12, 7, generator=g)
    return [base] + [base + 0.2 * torch.randn(12, 7, generator=g) for _ in range(3)]


def _sd(t):
    return {"w": t}


W = {1: 0.5, 2: 1.0, 3: 1.5}


def test_ties(tensors):
    out = api.merge_tensors(tensors, "ties", parameters={"weight": W, "density": {i: 0.4 for i in W}}, base_index=0)
    ours = ties_merging(_sd(tensors[0]), [_sd(t) for t in tensors[1:]], density=0.4, weights=list(W.values()),
                        convention="mergekit")["w"]
    torch.testing.assert_close(ours, out, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("method,combine", [("dare_linear", "task_arithmetic"), ("dare_ties", "ties")])
def test_dare_with_same_global_seed(tensors, method, combine):
    torch.manual_seed(4)
    out = api.merge_tensors(tensors, method, parameters={"weight": W, "density": {i: 0.3 for i in W}},
                            base_index=0)
    torch.manual_seed(4)
    ours = dare_merging(_sd(tensors[0]), [_sd(t) for t in tensors[1:]], drop_rate=0.7, combine=combine,
                        weights=list(W.values()), rescale="l1", convention="mergekit")["w"]
    torch.testing.assert_close(ours, out, atol=1e-6, rtol=1e-6)


def test_linear_and_task_arithmetic(tensors):
    out = api.merge_tensors(tensors, "linear", parameters={"weight": [1.0, 2.0, 3.0, 4.0]})
    torch.testing.assert_close(weight_average([_sd(t) for t in tensors], [1.0, 2.0, 3.0, 4.0])["w"], out)
    out = api.merge_tensors(tensors, "task_arithmetic", parameters={"weight": W}, base_index=0)
    ours = task_arithmetic(_sd(tensors[0]), [_sd(t) for t in tensors[1:]], scaling=list(W.values()))["w"]
    torch.testing.assert_close(ours, out, atol=1e-6, rtol=1e-6)
