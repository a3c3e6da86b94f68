import numpy as np
import pytest

from diversa.reproduce.verdict import VERDICTS, decide, oriented_differences


def test_clear_positive_effect_is_supported():
    v = decide(np.linspace(0.05, 0.2, 10))
    assert v.verdict == "supported" and v.ci_low > 0 and v.pvalue < 0.05 and v.n == 10


def test_clear_negative_effect_is_not_supported():
    v = decide(-np.linspace(0.05, 0.2, 10))
    assert v.verdict == "not supported" and v.ci_high < 0


def test_no_effect_at_all_is_not_supported():
    assert decide(np.zeros(8)).verdict == "not supported"


def test_noisy_small_positive_effect_is_inconclusive():
    d = np.array([0.3, -0.25, 0.1, -0.2, 0.15, 0.05, -0.1, 0.02])
    v = decide(d)
    assert v.mean_diff > 0 and v.verdict == "inconclusive"


def test_four_units_can_never_be_supported():
    # The smallest exact one-sided Wilcoxon p-value with n=4 is 1/16 > 0.05.
    assert decide([1.0, 2.0, 3.0, 4.0]).verdict == "inconclusive"


def test_orientation_follows_the_claim():
    np.testing.assert_array_equal(oriented_differences([1, 2], [3, 5], "greater"), [2, 3])
    np.testing.assert_array_equal(oriented_differences([1, 2], [3, 5], "less"), [-2, -3])
    with pytest.raises(ValueError, match="direction"):
        oriented_differences([1], [2], "up")
    with pytest.raises(ValueError, match="pair"):
        oriented_differences([1, 2], [2], "less")


@pytest.mark.parametrize("seed", range(5))
def test_verdict_is_always_one_of_three(seed):
    d = np.random.default_rng(seed).normal(0, 1, size=7)
    assert decide(d).verdict in VERDICTS
