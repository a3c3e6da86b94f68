"""merge-baselines: one shortened trial returns a sane pair for every check."""

import math

import pytest

from diversa.reproduce import merge_baselines


@pytest.fixture
def short(short_merge_testbed):
    """Shortened MergeDigits-8 training (see conftest)."""


def test_trial_pairs(short):
    result = merge_baselines.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in merge_baselines.REPRODUCTION.checks}
    for name, (baseline, method) in result.pairs.items():
        assert math.isfinite(baseline) and math.isfinite(method), name
        assert 0.0 < method < 1.5, name
    assert result.pairs["dare-keeps-ta"][0] == pytest.approx(result.diagnostics["task_arithmetic_test"] - 0.02)
    assert result.diagnostics["task_arithmetic_params"]["scaling"] in merge_baselines.QUICK_LAMBDAS
