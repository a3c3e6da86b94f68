"""Every permutation test runs torch on one thread (small models: threads only contend)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass
