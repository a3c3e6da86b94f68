"""Fixtures shared across the test suite."""

import atexit
import os
import shutil
import tempfile

import pytest

# dcor (an anchor of the distance-covariance tests) compiles numba functions with cache=True when
# imported. pytest-xdist workers importing it at the same moment write the same cache files next to
# dcor's sources and can corrupt them, after which every import aborts ("LLVM ERROR: Symbol not
# found"). Each process of a run therefore gets a new numba cache of its own, set before anything
# imports numba. It is set unconditionally: the workers inherit the controller's environment, so a
# default set there would be shared by all of them.
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(
    prefix=f"diversa-tests-numba-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)


@pytest.fixture
def one_thread():
    """torch on one intra-op thread with a fixed seed, restored afterwards (tiny models run faster)."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(previous)
