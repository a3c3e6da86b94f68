"""Complete scikit-learn estimators.

``rules`` (FOLD-SE and FOLD-R++ rule learners), ``multitask`` (robust
multi-task gradient boosting), ``ncd`` (novel class discovery on tabular data:
PBN, NCD k-means and spectral clustering, hidden-class tuning; Troisemaine et
al., arXiv:2311.05440), ``fair`` (:class:`FairClassifier`, :class:`FairRegressor`:
MLPs with a distance-covariance penalty on several mixed-type protected
attributes, Lee et al., arXiv:2509.08163), :class:`DiverseEnsembleClassifier`
(a deep ensemble trained on the diversity-weighted objective of Abe et al.,
arXiv:2302.00704) and :class:`LongTailExpertsClassifier` (shared-trunk
multi-expert long-tailed learning: SADE's skill-diverse experts with test-time
aggregation, arXiv:2107.09249, and MDCS, arXiv:2308.09922) and
:class:`ShuffleMambaClassifier` (a tiny Vision Mamba trained with stochastic layer-wise
shuffle, Huang et al., arXiv:2408.17081). Each follows scikit-learn's estimator contract.
"""

from diversa.learners.diverse_ensemble import DiverseEnsembleClassifier
from diversa.learners.fair import FairClassifier, FairRegressor, ProtectedAttributeEncoder
from diversa.learners.longtail import LongTailExpertsClassifier
from diversa.learners.shuffle_mamba import ShuffleMambaClassifier

__all__ = ["DiverseEnsembleClassifier", "FairClassifier", "FairRegressor", "LongTailExpertsClassifier",
           "ProtectedAttributeEncoder", "ShuffleMambaClassifier"]
