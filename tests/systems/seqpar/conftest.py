"""A small cluster whose numbers are easy to reason about, shared by the seqpar tests."""

import pytest

from diversa.systems.seqpar import SPCostModel


def tiny_cost(n_devices: int = 4, capacity: int = 1000, **overrides) -> SPCostModel:
    """A cost model with ``capacity`` tokens per device (1 MB per token, no model states)."""
    fields = dict(n_devices=n_devices, alpha1=1e-4, alpha2=0.05, beta=10.0, hidden=256, layers=4,
                  act_mb_per_token=1.0, params_b=0.0, mem_limit_gb=capacity / 1024,
                  bandwidth_gbs={1: 1e10, 2: 50.0, 4: 40.0, 8: 30.0, 16: 2.0, 32: 1.5, 64: 1.0})
    fields.update(overrides)
    return SPCostModel(**fields)


@pytest.fixture
def cost4():
    """Four devices of 1,000 tokens each."""
    return tiny_cost(4, 1000)


@pytest.fixture
def gpt16():
    """The authors' GPT-7B on 16 GPUs with 28 GB each (8,012 tokens per GPU)."""
    return SPCostModel.gpt("7b", 16)


@pytest.fixture
def make_cost():
    """:func:`tiny_cost`, for tests that need another cluster size or capacity."""
    return tiny_cost
