"""Complete scikit-learn estimators.

``rules`` (FOLD-SE and FOLD-R++ rule learners), ``multitask`` (robust
multi-task gradient boosting) and :class:`DiverseEnsembleClassifier` (a deep
ensemble trained on the diversity-weighted objective of Abe et al.,
arXiv:2302.00704) and ``fair`` (:class:`FairClassifier`, :class:`FairRegressor`: MLPs with a
distance-covariance penalty on several mixed-type protected attributes, Lee et al.,
arXiv:2509.08163); novel class discovery and long-tailed experts join them later. Each follows
scikit-learn's estimator contract.
"""

from diversa.learners.diverse_ensemble import DiverseEnsembleClassifier
from diversa.learners.fair import FairClassifier, FairRegressor, ProtectedAttributeEncoder

__all__ = ["DiverseEnsembleClassifier", "FairClassifier", "FairRegressor", "ProtectedAttributeEncoder"]
