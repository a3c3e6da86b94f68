"""Fixtures shared across the test suite."""

import os
import tempfile

import pytest

# dcor (an anchor of the distance-covariance tests) compiles numba functions with cache=True when
# imported. pytest-xdist workers importing it at the same moment write the same cache files next to
# dcor's sources and can corrupt them, after which every import aborts ("LLVM ERROR: Symbol not
# found"). Each worker therefore keeps its own numba cache; set before anything imports numba.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(
    tempfile.gettempdir(), "diversa-tests-numba", os.environ.get("PYTEST_XDIST_WORKER", "main")))


@pytest.fixture
def one_thread():
    """torch on one intra-op thread with a fixed seed, restored afterwards (tiny models run faster)."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(previous)
