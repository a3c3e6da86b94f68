"""Fairness audits across intersectional groups, and choosing a fairness penalty weight.

Lee, Antonio, Avanzi, Marchi, Zhou, "Machine Learning with Multitype Protected Attributes:
Intersectional Fairness through Regularisation", arXiv:2509.08163:
:func:`generalized_jsd` (how much prediction distributions differ across groups, in bits),
:func:`uf_ratio` (share of prediction variance explained by groups), :func:`intersectional_groups`
(intersections of several attributes, continuous ones binned), fairlearn's
:func:`demographic_parity_difference` and :func:`equalized_odds_difference` over those
intersections, and :func:`calibrate_lambda` / :func:`select_lambda` (lambda from the validation
trade-off).
"""

from diversa.evaluate.fairness.calibration import (
    SELECTORS,
    LambdaCalibration,
    calibrate_lambda,
    pareto_front,
    select_lambda,
)
from diversa.evaluate.fairness.divergence import generalized_jsd, uf_ratio
from diversa.evaluate.fairness.groups import (
    demographic_parity_difference,
    equalized_odds_difference,
    intersectional_groups,
)

__all__ = ["LambdaCalibration", "SELECTORS", "calibrate_lambda", "demographic_parity_difference",
           "equalized_odds_difference", "generalized_jsd", "intersectional_groups", "pareto_front", "select_lambda",
           "uf_ratio"]
