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
def _one_torch_thread(one_thread):
    """Every merge test runs torch on one thread (the suite-wide ``one_thread`` fixture)."""
