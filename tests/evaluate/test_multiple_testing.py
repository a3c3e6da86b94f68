import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diversa.evaluate.multiple_testing import bonferroni, holm, multipletests

statsmodels_multitest = pytest.importorskip("statsmodels.stats.multitest")

P = [0.01, 0.04, 0.03, 0.005]


def test_fixed_numbers():
    np.testing.assert_allclose(holm(P).pvalues, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(bonferroni(P).pvalues, [0.04, 0.16, 0.12, 0.02])
    np.testing.assert_array_equal(holm(P).reject, [True, False, False, True])
    reject, adjusted = multipletests(P, method="bonferroni")
    np.testing.assert_array_equal(reject, [True, False, False, True])


@pytest.mark.parametrize("method", ["holm", "bonferroni"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_statsmodels(method, seed):
    p = np.random.default_rng(seed).uniform(0, 0.2, size=12)
    reject, adjusted, _, _ = statsmodels_multitest.multipletests(p, alpha=0.05, method=method)
    ours = multipletests(p, alpha=0.05, method=method)
    np.testing.assert_allclose(ours.pvalues, adjusted, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.reject, reject)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: holm([0.1, np.nan]), "pvalues"),
        (lambda: holm([0.1, 1.5]), "pvalues"),
        (lambda: bonferroni([]), "pvalues"),
        (lambda: bonferroni(np.ones((2, 2))), "pvalues"),
        (lambda: holm([0.1], alpha=1.0), "alpha"),
        (lambda: multipletests([0.1], method="fdr"), "method"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_properties(values):
    p = np.array(values)
    h, b = holm(p), bonferroni(p)
    assert np.all((h.pvalues >= p - 1e-15) & (h.pvalues <= 1))
    assert np.all(h.pvalues <= b.pvalues + 1e-15)  # Holm is never more conservative than Bonferroni
    assert np.all(h.reject >= b.reject)
    order = np.argsort(p, kind="mergesort")
    assert np.all(np.diff(h.pvalues[order]) >= -1e-15)  # adjusted p-values keep the raw order
    permutation = np.random.default_rng(p.size).permutation(p.size)
    np.testing.assert_allclose(holm(p[permutation]).pvalues, h.pvalues[permutation])
