"""The rule that turns paired measurements into a verdict.

For each check the per-unit differences are oriented so that a positive value
favours the paper's claim (method minus baseline when the claim is "greater",
baseline minus method when it is "less"). Then:

* ``supported`` when the one-sided Wilcoxon signed-rank test rejects "no
  shift" at level ``alpha`` (default 0.05) **and** the 95% paired-bootstrap CI
  of the mean difference lies above zero;
* ``not supported`` when the CI lies entirely below zero (the opposite effect
  was measured), or the CI includes zero and the mean difference is zero or of
  the wrong sign;
* ``inconclusive`` otherwise: the effect points the claimed way but is not
  significant, or the test and the interval disagree.

With fewer than five units the one-sided Wilcoxon test cannot reach p < 0.05
(its smallest exact p-value is 1/2^n), so such runs are never ``supported``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from diversa.evaluate.paired import bootstrap_mean_ci, wilcoxon_signed_rank

VERDICTS = ("supported", "not supported", "inconclusive")


class Verdict(NamedTuple):
    """A computed verdict with the evidence behind it (differences oriented to the claim)."""

    verdict: str
    mean_diff: float
    ci_low: float
    ci_high: float
    pvalue: float
    n: int


def oriented_differences(baseline, method, direction: str) -> np.ndarray:
    """Per-unit differences, positive where the unit favours the claim."""
    baseline = np.asarray(baseline, dtype=float)
    method = np.asarray(method, dtype=float)
    if baseline.shape != method.shape:
        raise ValueError(f"baseline and method must pair up, got shapes {baseline.shape} and {method.shape}.")
    if direction == "greater":
        return method - baseline
    if direction == "less":
        return baseline - method
    raise ValueError(f"direction must be 'greater' or 'less', got {direction!r}.")


def decide(differences, *, alpha: float = 0.05, confidence: float = 0.95,
           n_resamples: int = 2000, random_state=0) -> Verdict:
    """Compute the verdict for claim-oriented paired differences (see module doc)."""
    d = np.asarray(differences, dtype=float)
    ci = bootstrap_mean_ci(d, confidence=confidence, n_resamples=n_resamples, random_state=random_state)
    test = wilcoxon_signed_rank(d, alternative="greater")
    if test.pvalue < alpha and ci.low > 0:
        verdict = "supported"
    elif ci.high < 0 or ci.mean <= 0:
        verdict = "not supported"
    else:
        verdict = "inconclusive"
    return Verdict(verdict, ci.mean, ci.low, ci.high, test.pvalue, int(d.size))
