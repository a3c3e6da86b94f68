"""What to train on.

``resample`` rebalances skewed classes (SMOTE and its nominal variants, random
under-sampling); later modules select diverse, high-quality subsets, score
examples by influence and choose data-mixing proportions.
"""
