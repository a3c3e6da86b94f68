import pickle

import numpy as np

import diversa.evaluate.cv_tests as cv_tests
import diversa.evaluate.multiple_testing as multiple_testing
import diversa.evaluate.proportions as proportions
import diversa.evaluate.ranks as ranks
from diversa.evaluate import paired, significance
from diversa.evaluate.significance import SignificanceResult


def test_gathers_every_public_name_of_the_test_modules():
    for module in (proportions, cv_tests, multiple_testing, ranks):
        for name in module.__all__:
            assert getattr(significance, name) is getattr(module, name)
            assert name in significance.__all__
    assert sorted(significance.__all__) == significance.__all__


def test_result_unpacks_as_statistic_and_pvalue_and_keeps_extras():
    result = SignificanceResult(2.5, 0.03, df=(10, 5), details={"differences": np.arange(3)})
    statistic, pvalue = result
    assert (statistic, pvalue) == (2.5, 0.03) and len(result) == 2
    assert isinstance(result, paired.TestResult) and result == (2.5, 0.03)
    assert result.df == (10, 5) and "df=(10, 5)" in repr(result)
    restored = pickle.loads(pickle.dumps(result))
    assert restored == result and restored.df == (10, 5)
    np.testing.assert_array_equal(restored.details["differences"], np.arange(3))


def test_result_defaults():
    result = SignificanceResult(None, 1.0)
    assert result.df is None and result.details == {}
    assert result._replace(pvalue=0.5).pvalue == 0.5
