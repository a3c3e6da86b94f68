"""What to train on.

``resample`` rebalances skewed classes (SMOTE, SMOTE-NC, SMOTE-N, random
under-sampling); ``select`` chooses diverse, high-quality subsets within a
budget (kMQ, ODiS, QuaDMix and baselines). Influence scores and data-mixing
proportions join them later.
"""
