"""Many models into one.

Ensembles, weak-verifier aggregation, weight merging over state dicts,
mixture-of-experts merging and compression, and diagnostics of predictive
diversity.
"""
