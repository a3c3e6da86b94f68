"""Fixtures shared across the test suite."""

import pytest


@pytest.fixture
def one_thread():
    """torch on one intra-op thread with a fixed seed, restored afterwards (tiny models run faster)."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(previous)
