"""Complete scikit-learn estimators.

Rule learners, robust multi-task boosting, novel class discovery, long-tailed
experts and fair models, each following scikit-learn's estimator contract.
"""
