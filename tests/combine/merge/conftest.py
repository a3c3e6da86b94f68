"""Random state dicts shared by the merge tests."""

import pytest
import torch
from merge_helpers import make_sd


@pytest.fixture
def sds():
    """A base and three fine-tuned models near it."""
    base = make_sd(0)
    models = []
    for s in (1, 2, 3):
        delta = make_sd(s, scale=0.1)
        models.append({k: (v + delta[k]) if v.is_floating_point() else v.clone() for k, v in base.items()})
    return base, models


@pytest.fixture
def tensors():
    """One (12, 7) base tensor and three fine-tuned ones near it (the mergekit equivalence inputs)."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(12, 7, generator=g)
    return [base] + [base + 0.2 * torch.randn(12, 7, generator=g) for _ in range(3)]


@pytest.fixture(autouse=True)
def _one_torch_thread(one_thread):
    """Every merge test runs torch on one thread (the suite-wide ``one_thread`` fixture)."""
