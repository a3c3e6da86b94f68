"""Judging models.

Resampling estimates, paired significance tests and multiple-comparison
corrections, ROC utilities, tournaments across benchmarks, audits and
benchmark harnesses. Every test returns a named result with ``statistic`` and
``pvalue`` fields.
"""
