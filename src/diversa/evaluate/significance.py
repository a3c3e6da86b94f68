"""Significance tests for comparing models and algorithms, in one namespace.

Raschka, "Model Evaluation, Model Selection, and Algorithm Selection in
Machine Learning" (arXiv:1811.12808, 2018), Section 6: tests on fitted
models' correctness on a test set (McNemar, Cochran's Q, Looney's F,
difference of proportions: ``diversa.evaluate.proportions``), tests that
compare learning algorithms by resampling (resampled, k-fold and 5x2cv paired
t-tests, the combined 5x2cv F-test, Nadeau-Bengio corrected t-tests:
``diversa.evaluate.cv_tests``), Bonferroni and Holm corrections
(``diversa.evaluate.multiple_testing``) and the Friedman test with Nemenyi
post-hoc comparisons over datasets (``diversa.evaluate.ranks``). The papers
of each test are cited in those modules; this module only gathers their
public names. Every test returns a ``SignificanceResult`` that unpacks as
``statistic, pvalue``.
"""

from diversa.evaluate._shared import SignificanceResult
from diversa.evaluate.cv_tests import (
    combined_ftest_5x2cv,
    corrected_repeated_kfold_ttest,
    corrected_resampled_ttest,
    five_by_two_splits,
    ftest_5x2cv_from_differences,
    paired_scores,
    paired_ttest,
    paired_ttest_5x2cv,
    paired_ttest_kfold_cv,
    paired_ttest_resampled,
    resampled_splits,
    ttest_5x2cv_from_differences,
)
from diversa.evaluate.multiple_testing import Correction, bonferroni, holm, multipletests
from diversa.evaluate.proportions import (
    cochrans_q,
    ftest,
    mcnemar,
    mcnemar_table,
    mcnemar_tables,
    proportion_difference,
)
from diversa.evaluate.ranks import average_ranks, friedman_test, nemenyi_cd, nemenyi_pvalues

__all__ = [
    "Correction",
    "SignificanceResult",
    "average_ranks",
    "bonferroni",
    "cochrans_q",
    "combined_ftest_5x2cv",
    "corrected_repeated_kfold_ttest",
    "corrected_resampled_ttest",
    "five_by_two_splits",
    "friedman_test",
    "ftest",
    "ftest_5x2cv_from_differences",
    "holm",
    "mcnemar",
    "mcnemar_table",
    "mcnemar_tables",
    "multipletests",
    "nemenyi_cd",
    "nemenyi_pvalues",
    "paired_scores",
    "paired_ttest",
    "paired_ttest_5x2cv",
    "paired_ttest_kfold_cv",
    "paired_ttest_resampled",
    "proportion_difference",
    "resampled_splits",
    "ttest_5x2cv_from_differences",
]
