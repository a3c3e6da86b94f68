"""Resampling estimates of performance, in one namespace.

Raschka, "Model Evaluation, Model Selection, and Algorithm Selection in
Machine Learning" (arXiv:1811.12808, 2018), Sections 2-5: holdout with
binomial confidence intervals (``diversa.evaluate.holdout``), out-of-bag,
.632 and .632+ bootstrap (``diversa.evaluate.bootstrap``) with percentile
and t intervals (``diversa.evaluate.bootstrap_intervals``), k-fold, repeated
k-fold, leave-one-out and nested cross-validation and the one-standard-error
rule (``diversa.evaluate.crossval``). The papers of each method are cited in
those modules; this module only gathers their public names.
"""

from diversa.evaluate._shared import Interval
from diversa.evaluate.bootstrap import (
    BootstrapOutOfBag,
    BootstrapResult,
    bootstrap_estimate,
    bootstrap_point632_score,
    no_information_error,
)
from diversa.evaluate.bootstrap_intervals import BootstrapStatistic, bootstrap_ci, bootstrap_statistic
from diversa.evaluate.crossval import (
    CVResult,
    NestedCVResult,
    cross_val_estimate,
    nested_cv_score,
    one_standard_error_rule,
    repeated_holdout_estimate,
)
from diversa.evaluate.holdout import HoldoutResult, HoldoutSplit, holdout_estimate, holdout_split, normal_approx_ci

__all__ = [
    "BootstrapOutOfBag",
    "BootstrapResult",
    "BootstrapStatistic",
    "CVResult",
    "HoldoutResult",
    "HoldoutSplit",
    "Interval",
    "NestedCVResult",
    "bootstrap_ci",
    "bootstrap_estimate",
    "bootstrap_point632_score",
    "bootstrap_statistic",
    "cross_val_estimate",
    "holdout_estimate",
    "holdout_split",
    "nested_cv_score",
    "no_information_error",
    "normal_approx_ci",
    "one_standard_error_rule",
    "repeated_holdout_estimate",
]
