"""Judging models.

Resampling estimates (holdout, bootstrap .632/.632+, cross-validation, nested
CV; gathered in :mod:`diversa.evaluate.resampling`), significance tests and
multiple-comparison corrections (:mod:`diversa.evaluate.significance`),
paired comparisons over seeds or items (:mod:`diversa.evaluate.paired`,
:mod:`diversa.evaluate.compare`), ROC utilities (:mod:`diversa.evaluate.roc`), many/medium/few-shot accuracy of
long-tailed classifiers (:mod:`diversa.evaluate.shot_accuracy`), head/tail accuracy within answer
groups (:mod:`diversa.evaluate.headtail`, MUSIC-AVQA-R's split),
novel class discovery scores and tuning on hidden classes (:mod:`diversa.evaluate.ncd`),
tournaments across benchmarks, audits and benchmark harnesses, and fairness audits
across intersectional groups (:mod:`diversa.evaluate.fairness`). Every test
returns a result that unpacks as ``statistic, pvalue``.
"""

from diversa.evaluate.compare import compare_outcomes, read_outcomes
from diversa.evaluate.fairness import (
    calibrate_lambda,
    demographic_parity_difference,
    equalized_odds_difference,
    generalized_jsd,
    intersectional_groups,
    uf_ratio,
)
from diversa.evaluate.headtail import HeadTailAccuracy, head_tail_accuracy, head_tail_split
from diversa.evaluate.ncd import (
    clustering_accuracy,
    estimate_k_silhouette,
    hidden_class_cv,
    novel_class_scores,
    novel_class_split,
)
from diversa.evaluate.paired import (
    bootstrap_mean_ci,
    corrected_t_test,
    minimum_detectable_effect,
    sign_flip_test,
    t_mean_ci,
    wilcoxon_signed_rank,
)
from diversa.evaluate.resampling import *  # noqa: F403
from diversa.evaluate.resampling import __all__ as _resampling_names
from diversa.evaluate.roc import auc_from_points, hull_membership, roc_convex_hull, roc_point
from diversa.evaluate.shot_accuracy import ShotAccuracy, shot_accuracy
from diversa.evaluate.significance import *  # noqa: F403
from diversa.evaluate.significance import __all__ as _significance_names

__all__ = [
    "auc_from_points", "bootstrap_mean_ci", "clustering_accuracy", "estimate_k_silhouette", "hidden_class_cv",
    "novel_class_scores", "novel_class_split", "compare_outcomes", "corrected_t_test", "hull_membership",
    "auc_from_points", "bootstrap_mean_ci", "calibrate_lambda", "compare_outcomes", "corrected_t_test",
    "demographic_parity_difference", "equalized_odds_difference", "generalized_jsd", "hull_membership",
    "intersectional_groups", "uf_ratio",
    "minimum_detectable_effect", "read_outcomes", "roc_convex_hull", "roc_point", "sign_flip_test", "t_mean_ci",
    "ShotAccuracy", "shot_accuracy", "HeadTailAccuracy", "head_tail_accuracy", "head_tail_split",
    "wilcoxon_signed_rank", *_resampling_names, *_significance_names,
]
