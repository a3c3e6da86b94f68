"""The rule that turns paired measurements into verdicts: the only place verdicts are made.

Every check compares a method with a baseline on the same units. The per-unit
differences are oriented so that a positive value favours the check's
statement (method minus baseline for "greater" and "equivalent", baseline
minus method for "less").

**The test.** Independent units (fresh seeds of data and model) use the exact
sign-flip permutation test of the mean difference (all 2^n sign patterns up to
n = 20): exact under ties, the same on every scipy version. Units that re-split
one data set use the Nadeau-Bengio corrected resampled t-test, whose standard
error carries ``n_test / n_train`` for the shared training data. A margin m
shifts the differences: "greater"/"less" test mean > -m (m = 0 is
superiority, m > 0 non-inferiority); "equivalent" tests |mean| < m with two
one-sided tests (TOST), the larger of the two p-values.

**Claims** get one of four verdicts:

* ``supported``: the statement is significant at ``alpha`` after adjustment;
* ``contradicted``: the opposite is significant (the two-sided test rejects,
  i.e. the one-sided p against the statement is below ``alpha / 2`` after
  adjustment) and the confidence interval lies wholly on the wrong side of
  the margin;
* ``inconclusive``: neither. The minimum detectable effect (80% power) says
  whether that means "no effect of practical size" or "too few units";
* ``out of regime``: a regime check the claim depends on failed, so the
  experiment could not test it.

**Multiplicity.** The headline claim is tested alone at ``alpha``. Secondary
claims are Holm-adjusted among themselves and pass through the headline as a
gate (fixed-sequence testing, then Holm): a secondary's adjusted p-value is
at least the headline's, so a secondary is ``supported`` only when the
headline is. Together this keeps the chance of any false ``supported`` in a
paper at ``alpha`` (a closed testing procedure) while the headline keeps its
full power. Contradictions are Holm-adjusted among the secondaries without
the gate.

**Mechanism and regime checks** are diagnostics: ``pass`` when their
statement is significant at ``alpha`` (unadjusted), ``fail`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

from diversa.evaluate.multiple_testing import holm
from diversa.evaluate.paired import (
    corrected_t_test,
    minimum_detectable_effect,
    sign_flip_test,
    t_mean_ci,
)
from diversa.reproduce.registry import Check, Units

VERDICTS = ("supported", "contradicted", "inconclusive", "out of regime")
OUTCOMES = ("pass", "fail")
ALPHA = 0.05
POWER = 0.8
CONFIDENCE = 0.95

RULE = ("claims: headline at alpha = 0.05, secondaries Holm-adjusted and gated by the headline; "
        "independent units: exact sign-flip test, resampled units: Nadeau-Bengio corrected t-test; "
        "95% t interval; supported = significant for the claim, contradicted = two-sided test rejects "
        "against it and the CI lies beyond the margin, otherwise inconclusive; a failed regime check "
        "makes its claims out of regime; mechanism/regime checks pass when significant at 0.05")


class Evidence(NamedTuple):
    """What the units say about one check (differences oriented to its statement)."""

    mean_diff: float
    ci_low: float
    ci_high: float
    pvalue: float
    pvalue_against: float
    mde: float
    n: int
    test: str


class Judgement(NamedTuple):
    """A check's outcome (a verdict for claims, pass/fail otherwise) with its evidence."""

    outcome: str
    pvalue_adjusted: float
    evidence: Evidence


def oriented_differences(baseline, method, direction: str) -> np.ndarray:
    """Per-unit differences, positive where the unit favours the statement."""
    baseline = np.asarray(baseline, dtype=float)
    method = np.asarray(method, dtype=float)
    if baseline.shape != method.shape:
        raise ValueError(f"baseline and method must pair up, got shapes {baseline.shape} and {method.shape}.")
    if direction in ("greater", "equivalent"):
        return method - baseline
    if direction == "less":
        return baseline - method
    raise ValueError(f"direction must be 'greater', 'less' or 'equivalent', got {direction!r}.")


def one_sided_pvalue(differences, alternative: str, unit: Units) -> float:
    """P-value of "the mean is above (``greater``) or below (``less``) zero" for these units."""
    d = np.asarray(differences, dtype=float)
    if unit.kind == "resampled" and d.size >= 2:
        return corrected_t_test(d, alternative, test_over_train=unit.test_over_train).pvalue
    return sign_flip_test(d, alternative).pvalue


def _equivalence_margin_detectable(sd: float, n: int, alpha: float, unit: Units) -> float:
    """Smallest margin TOST shows at 80% power when the true difference is zero."""
    if n < 2 or 2.0 ** -n >= alpha:
        return float("inf")
    se = sd * np.sqrt(1.0 / n + unit.test_over_train)
    df = n - 1
    return float((stats.t.ppf(1 - alpha, df) + stats.t.ppf(1 - (1 - POWER) / 2, df)) * se)


def weigh(differences, check: Check, unit: Units, *, alpha: float = ALPHA) -> Evidence:
    """Tests, interval and minimum detectable effect of one check's oriented differences.

    ``alpha`` is the level the check is tested at (it sets the MDE).
    """
    d = np.asarray(differences, dtype=float)
    m = check.margin
    if check.direction == "equivalent":
        p_for = max(one_sided_pvalue(d + m, "greater", unit), one_sided_pvalue(d - m, "less", unit))
        p_against = min(one_sided_pvalue(d - m, "greater", unit), one_sided_pvalue(d + m, "less", unit))
    else:
        p_for = one_sided_pvalue(d + m, "greater", unit)
        p_against = one_sided_pvalue(d + m, "less", unit)
    ci = t_mean_ci(d, confidence=CONFIDENCE, test_over_train=unit.test_over_train)
    sd = float(np.std(d, ddof=1)) if d.size > 1 else float("nan")
    if check.direction == "equivalent":
        mde = _equivalence_margin_detectable(sd, d.size, alpha, unit)
    elif d.size > 1:
        mde = minimum_detectable_effect(sd, d.size, alpha=alpha, power=POWER, test_over_train=unit.test_over_train)
    else:
        mde = float("inf")
    test = "corrected t" if unit.kind == "resampled" else "sign-flip"
    return Evidence(float(d.mean()), ci.low, ci.high, float(p_for), float(p_against), mde, int(d.size), test)


def _beyond_margin(evidence: Evidence, check: Check) -> bool:
    """The interval lies wholly on the wrong side of the statement's margin."""
    if check.direction == "equivalent":
        return evidence.ci_low > check.margin or evidence.ci_high < -check.margin
    return evidence.ci_high < -check.margin


def _claim_outcome(p_for: float, p_against: float, evidence: Evidence, check: Check, alpha: float) -> str:
    if p_for < alpha:
        return "supported"
    if p_against < alpha / 2 and _beyond_margin(evidence, check):
        return "contradicted"
    return "inconclusive"


def judge(checks: Sequence[Check], differences: Mapping[str, np.ndarray], *, headline: str,
          unit: Units, alpha: float = ALPHA) -> dict[str, Judgement]:
    """Outcomes of every check of one paper (see the module docstring for the rule).

    ``differences`` maps check names to claim-oriented per-unit differences.
    """
    by_name = {check.name: check for check in checks}
    if headline not in by_name or by_name[headline].kind != "claim":
        raise ValueError(f"headline must name a claim check, got {headline!r}.")
    secondary = [c.name for c in checks if c.kind == "claim" and c.name != headline]
    level = {c.name: alpha / len(secondary) if c.name in secondary else alpha for c in checks}
    evidence = {c.name: weigh(differences[c.name], c, unit, alpha=level[c.name]) for c in checks}

    judgements: dict[str, Judgement] = {}
    for c in checks:
        if c.kind != "claim":
            passed = evidence[c.name].pvalue < alpha
            judgements[c.name] = Judgement("pass" if passed else "fail", evidence[c.name].pvalue, evidence[c.name])

    head = evidence[headline]
    adjusted_for = {headline: head.pvalue}
    adjusted_against = {headline: head.pvalue_against}
    if secondary:
        holm_for = holm([evidence[n].pvalue for n in secondary], alpha).pvalues
        holm_against = holm([evidence[n].pvalue_against for n in secondary], alpha).pvalues
        for name, p_for, p_against in zip(secondary, holm_for, holm_against):
            adjusted_for[name] = max(float(p_for), head.pvalue)
            adjusted_against[name] = float(p_against)

    failed_regimes = [c for c in checks if c.kind == "regime" and judgements[c.name].outcome == "fail"]
    for name in [headline, *secondary]:
        check = by_name[name]
        outcome = _claim_outcome(adjusted_for[name], adjusted_against[name], evidence[name], check, alpha)
        if any(not r.applies_to or name in r.applies_to for r in failed_regimes):
            outcome = "out of regime"
        judgements[name] = Judgement(outcome, adjusted_for[name], evidence[name])
    return judgements

