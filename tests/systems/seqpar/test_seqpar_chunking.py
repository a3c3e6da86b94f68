"""chunk_global_batch and min_micro_batches: FlexSP's sequence blaster (arXiv:2412.01523)."""

import itertools

import numpy as np
import pytest

from diversa.systems.seqpar import chunk_global_batch, min_micro_batches


def exhaustive_max_chunk(lens, n_chunks):
    """Least largest chunk sum over every cut of ``lens`` into ``n_chunks`` consecutive chunks."""
    n, best = len(lens), np.inf
    for cuts in itertools.combinations(range(1, n), n_chunks - 1):
        bounds = (0, *cuts, n)
        best = min(best, max(sum(lens[a:b]) for a, b in zip(bounds, bounds[1:])))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_dp_equals_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 10))
    lens = rng.integers(1, 100, size=n)
    ordered = sorted(lens, reverse=True)
    for n_micro in range(1, n + 1):
        chunks = chunk_global_batch(lens, n_micro)
        assert len(chunks) == n_micro and all(len(c) for c in chunks)
        assert max(lens[c].sum() for c in chunks) == exhaustive_max_chunk(ordered, n_micro)
        unsorted = chunk_global_batch(lens, n_micro, sort=False)
        assert max(lens[c].sum() for c in unsorted) == exhaustive_max_chunk(list(lens), n_micro)


def test_chunks_are_consecutive_runs_of_the_sorted_lengths():
    lens = np.random.default_rng(1).integers(1, 10_000, size=200)
    chunks = chunk_global_batch(lens, 7)
    flat = np.concatenate(chunks)
    assert sorted(flat) == list(range(200))
    assert np.all(np.diff(lens[flat]) <= 0)
    assert [c.tolist() for c in chunk_global_batch(lens, 7, sort=False)] == \
        [c.tolist() for c in np.split(np.arange(200), np.cumsum([len(c) for c in chunk_global_batch(lens, 7,
                                                                                                   sort=False)])[:-1])]


def test_min_micro_batches_is_the_fewest_that_fit():
    lens = np.random.default_rng(2).integers(1, 5_000, size=120)
    capacity = 20_000
    n = min_micro_batches(lens, capacity)
    assert all(lens[c].sum() <= capacity for c in chunk_global_batch(lens, n))
    assert n == int(np.ceil(lens.sum() / capacity)) or \
        max(lens[c].sum() for c in chunk_global_batch(lens, n - 1)) > capacity
    assert min_micro_batches([], capacity) == 0
    assert min_micro_batches([30, 30, 30], 60) == 2   # the cut must not split a sequence


def test_bad_input():
    with pytest.raises(ValueError, match="exceeds the 2 sequences"):
        chunk_global_batch([1, 2], 3)
    with pytest.raises(ValueError, match="n_micro"):
        chunk_global_batch([1, 2], 0)
    assert chunk_global_batch([], 1) == []
