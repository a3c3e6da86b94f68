"""rmm: one shortened trial returns a sane pair for every check."""

import math

import pytest

from diversa.reproduce import rmm


@pytest.fixture
def short(short_merge_testbed):
    """Shortened MergeDigits-8 training (see conftest)."""


def test_trial_pairs(short):
    result = rmm.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in rmm.REPRODUCTION.checks}
    for name, pair in result.pairs.items():
        assert all(math.isfinite(v) and 0 < v < 1.5 for v in pair), name
    d = result.diagnostics
    assert d["ptsvd_rmm_p1_storage"] == pytest.approx(0.3125) and d["ptsvd_rmm_p3_storage"] == pytest.approx(0.6875)
    assert d["ptsvd_rmm_p3"] >= d["ptsvd_rmm_p1"] - 0.05  # more components recover the tasks better
