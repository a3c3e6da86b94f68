"""What to train on.

``resample`` rebalances skewed classes (SMOTE, SMOTE-NC, SMOTE-N, random
under-sampling); ``select`` chooses diverse, high-quality subsets within a
budget (kMQ, ODiS, QuaDMix and baselines); ``online`` chooses, at every
training step, which samples of a candidate batch to back-propagate (UDS,
MaxLoss, RHO-Loss, Q-Tuning's pruning); ``score`` ranks examples by training
dynamics (influence scores); ``mix`` sets data-mixing proportions (Aioli).
"""
