"""Many samples into one answer.

Sampling strategies, best-of-n and minimum-Bayes-risk selection, and
contrastive decoding.
"""
