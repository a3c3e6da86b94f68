"""Fair models: estimators trained with a distance-covariance penalty on several protected attributes.

Lee, Antonio, Avanzi, Marchi, Zhou, "Machine Learning with Multitype Protected Attributes:
Intersectional Fairness through Regularisation", arXiv:2509.08163.
:class:`FairClassifier` and :class:`FairRegressor` take ``fit(X, y, sensitive_features=...)`` with
continuous, binary and categorical attributes together, encoded by
:class:`ProtectedAttributeEncoder`. The penalty weight is chosen on validation data with
:func:`diversa.evaluate.fairness.calibrate_lambda`.
"""

from diversa.learners.fair.dcov_regularized import FairClassifier, FairRegressor
from diversa.learners.fair.encoding import ProtectedAttributeEncoder, as_attribute_frame, infer_attribute_type

__all__ = ["FairClassifier", "FairRegressor", "ProtectedAttributeEncoder", "as_attribute_frame",
           "infer_attribute_type"]
