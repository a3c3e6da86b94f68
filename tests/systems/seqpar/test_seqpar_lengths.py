"""sample_lengths: long-tailed sequence lengths (FlexSP, arXiv:2412.01523)."""

import numpy as np
import pytest

from diversa.systems.seqpar import sample_lengths


def test_lengths_are_reproducible_padded_clipped_and_long_tailed():
    lens = sample_lengths(20_000, 0, max_len=128_000, pad_to=32)
    assert np.array_equal(lens, sample_lengths(20_000, 0, max_len=128_000, pad_to=32))
    assert lens.dtype == np.int64 and np.all(lens % 32 == 0) and lens.max() == 128_000 and lens.min() >= 32
    median, p99 = np.percentile(lens, [50, 99])
    assert 2_500 < median < 3_700 and p99 > 15 * median    # Wikipedia's fit, stretched 8x
    raw = sample_lengths(20_000, 0, scale=1.0)
    assert 300 < np.median(raw) < 450


def test_bad_input():
    assert sample_lengths(0, 0).shape == (0,)
    for kwargs, name in ((dict(n=-1), "n"), (dict(n=3, pad_to=0), "pad_to"), (dict(n=3, scale=0.0), "scale"),
                         (dict(n=3, max_len=10, pad_to=32), "max_len")):
        with pytest.raises(ValueError, match=name):
            sample_lengths(**kwargs)
