"""Random state dicts shared by the merge tests."""

import pytest
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


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
