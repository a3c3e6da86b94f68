"""bucket_lengths: FlexSP's least-padding bucketing DP (arXiv:2412.01523), against exhaustive search."""

import numpy as np
import pytest

from diversa.systems.seqpar import bucket_lengths, even_buckets, padding_error
from diversa.systems.seqpar.bucketing import fewest_buckets


def set_partitions(items):
    """Every partition of ``items`` into non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in set_partitions(rest):
        yield [[first], *partition]
        for i in range(len(partition)):
            yield [*partition[:i], [first, *partition[i]], *partition[i + 1:]]


def exhaustive_padding(lens):
    """Least padding with at most k buckets, for k = 1..n, over every partition of the lengths."""
    best = np.full(len(lens) + 1, np.inf)
    for p in set_partitions(list(range(len(lens)))):
        best[len(p)] = min(best[len(p)], sum(len(g) * max(lens[i] for i in g) - sum(lens[i] for i in g) for g in p))
    return np.minimum.accumulate(best)


@pytest.mark.parametrize("seed", range(12))
def test_the_dp_equals_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    lens = rng.integers(1, 40, size=n).tolist()
    best = exhaustive_padding(lens)
    for n_buckets in range(1, n + 1):
        buckets = bucket_lengths(lens, n_buckets)
        assert padding_error(lens, [m for _, m in buckets]) == best[n_buckets]


def test_buckets_cover_every_sequence_once_and_boundaries_are_maxima():
    lens = np.random.default_rng(0).integers(1, 5000, size=300)
    buckets = bucket_lengths(lens, 16)
    members = np.concatenate([m for _, m in buckets])
    assert len(buckets) == 16 and sorted(members) == list(range(300))
    assert all(b == lens[m].max() for b, m in buckets)
    assert [b for b, _ in buckets] == sorted(b for b, _ in buckets)


def test_enough_buckets_means_no_padding_and_one_bucket_means_the_maximum():
    lens = [5, 9, 9, 2, 7]
    exact = bucket_lengths(lens, 10)
    assert [b for b, _ in exact] == [2, 5, 7, 9] and padding_error(lens, [m for _, m in exact]) == 0
    assert sorted(exact[-1][1]) == [1, 2]  # equal lengths share a bucket
    ((boundary, members),) = bucket_lengths(lens, 1)
    assert boundary == 9 and sorted(members) == [0, 1, 2, 3, 4]


def test_fewest_buckets_grows_until_the_padding_fits():
    lens = np.random.default_rng(3).integers(1, 10_000, size=200)
    for min_buckets, max_padding in ((4, 1e9), (4, 20_000), (30, 0.0)):
        buckets = fewest_buckets(lens, min_buckets, max_padding)
        k = len(buckets)
        padding = padding_error(lens, [m for _, m in buckets])
        assert padding <= max_padding or k == len(np.unique(lens))
        assert k == min_buckets or padding_error(lens, [m for _, m in bucket_lengths(lens, k - 1)]) > max_padding
        assert [b for b, _ in buckets] == [b for b, _ in bucket_lengths(lens, k)]


def test_even_buckets_split_the_range_in_equal_widths():
    buckets = even_buckets([1, 10, 11, 40], 4)
    assert [(b, sorted(m)) for b, m in buckets] == [(10, [0, 1]), (20, [2]), (40, [3])]


def test_empty_and_bad_input():
    assert bucket_lengths([], 3) == []
    with pytest.raises(ValueError, match="n_buckets"):
        bucket_lengths([1, 2], 0)
    with pytest.raises(ValueError, match="positive integer lengths"):
        bucket_lengths([1, -2], 2)
    with pytest.raises(TypeError, match="numbers"):
        bucket_lengths(["a"], 2)
