"""Complete scikit-learn estimators.

``rules`` (FOLD-SE and FOLD-R++ rule learners) and ``multitask`` (robust
multi-task gradient boosting); novel class discovery, long-tailed experts and
fair models join them later. Each follows scikit-learn's estimator contract.
"""
