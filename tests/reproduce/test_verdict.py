"""The verdict rule: error rates under the null, power, multiplicity, regime gating."""

import numpy as np
import pytest

from diversa.reproduce.registry import Check, Units, resampled_units
from diversa.reproduce.verdict import judge, oriented_differences, weigh

INDEPENDENT = Units()


def claim(name, direction="greater", margin=0.0, **kw):
    return Check(name, "score", "base", "ours", direction, f"{name} holds", margin=margin, **kw)


def verdict_of(d, check=None, unit=INDEPENDENT):
    check = check or claim("c")
    return judge([check], {check.name: np.asarray(d, float)}, headline=check.name, unit=unit)[check.name]


def null_samples(rng, n, shape, reps):
    """Zero-mean (or zero-median symmetric) differences, with and without ties."""
    if shape == "normal":
        return rng.normal(size=(reps, n))
    if shape == "heavy":
        return rng.standard_t(df=2, size=(reps, n))
    if shape == "ties":  # rates k/16 and many exact zeros, as per-unit rates often are
        return rng.integers(-2, 3, size=(reps, n)) / 16
    raise ValueError(shape)


@pytest.mark.parametrize("n", [5, 8, 20])
@pytest.mark.parametrize("shape", ["normal", "heavy", "ties"])
def test_supported_rate_under_the_null_is_at_most_alpha(n, shape):
    rng = np.random.default_rng(100 + n)
    samples = null_samples(rng, n, shape, 2000)
    verdicts = [verdict_of(d).outcome for d in samples]
    supported = np.mean([v == "supported" for v in verdicts])
    contradicted = np.mean([v == "contradicted" for v in verdicts])
    mc_error = 3 * np.sqrt(0.05 * 0.95 / 2000)
    assert supported <= 0.05 + mc_error
    assert contradicted <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / 2000)


def test_resampled_units_keep_the_null_rate_on_correlated_splits():
    """Re-splits of one data set share training data: the plain test would over-reject, the corrected one not."""
    rng = np.random.default_rng(7)
    n, reps = 10, 2000
    test_over_train = 0.25
    # A shared per-data-set component plus split noise: the correlation the correction assumes.
    rho = test_over_train / (1 + test_over_train)
    shared = rng.normal(size=(reps, 1)) * np.sqrt(rho)
    d = shared + rng.normal(size=(reps, n)) * np.sqrt(1 - rho)
    corrected = np.mean([verdict_of(x, unit=resampled_units(test_over_train, "split")).outcome == "supported"
                         for x in d])
    plain = np.mean([verdict_of(x).outcome == "supported" for x in d])
    assert corrected <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    assert plain > corrected + 0.05


def test_power_at_one_sd_and_twenty_units():
    rng = np.random.default_rng(3)
    samples = rng.normal(loc=1.0, size=(500, 20))
    assert np.mean([verdict_of(d).outcome == "supported" for d in samples]) >= 0.8


def test_contradicted_needs_evidence_against_the_claim():
    assert verdict_of(-np.linspace(0.05, 0.2, 10)).outcome == "contradicted"
    assert verdict_of(np.zeros(8)).outcome == "inconclusive"
    assert verdict_of(np.linspace(0.05, 0.2, 10)).outcome == "supported"


def test_exact_under_ties_and_small_samples():
    # Four identical positive differences: the smallest sign-flip p is 1/16 > 0.05.
    v = verdict_of([0.1, 0.1, 0.1, 0.1])
    assert v.evidence.pvalue == pytest.approx(1 / 16) and v.outcome == "inconclusive"
    assert v.evidence.mde == float("inf")
    eight = verdict_of(np.full(8, 0.1))
    assert eight.evidence.pvalue == pytest.approx(1 / 256) and eight.outcome == "supported"


def test_holm_keeps_the_family_wise_rate_of_six_null_claims():
    rng = np.random.default_rng(11)
    checks = [claim(f"c{i}") for i in range(6)]
    any_supported = 0
    reps = 2000
    for _ in range(reps):
        d = {c.name: rng.normal(size=8) for c in checks}
        outcomes = judge(checks, d, headline="c0", unit=INDEPENDENT)
        any_supported += any(j.outcome == "supported" for j in outcomes.values())
    assert any_supported / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_secondary_claims_are_gated_by_the_headline_and_holm_adjusted():
    checks = [claim("head"), claim("a"), claim("b")]
    strong = np.linspace(0.5, 1.0, 10)
    d = {"head": np.r_[strong[:5], -strong[5:]], "a": strong, "b": strong}
    out = judge(checks, d, headline="head", unit=INDEPENDENT)
    assert out["head"].outcome == "inconclusive"
    # Strong secondaries stay inconclusive when the headline fails; adjusted p >= headline p.
    assert out["a"].outcome == "inconclusive" and out["a"].pvalue_adjusted >= out["head"].evidence.pvalue
    d["head"] = strong
    out = judge(checks, d, headline="head", unit=INDEPENDENT)
    assert [out[n].outcome for n in ("head", "a", "b")] == ["supported"] * 3
    # Holm with two secondaries doubles the smallest raw p.
    assert out["a"].pvalue_adjusted == pytest.approx(2 * out["a"].evidence.pvalue)


def test_failed_regime_check_puts_its_claims_out_of_regime():
    checks = [claim("head"), claim("other"),
              Check("off-floor", "accuracy", "floor", "baseline", "greater", "baseline above floor", kind="regime",
                    applies_to=("head",))]
    d = {"head": np.linspace(0.1, 0.3, 8), "other": np.linspace(0.1, 0.3, 8), "off-floor": -np.ones(8)}
    out = judge(checks, d, headline="head", unit=INDEPENDENT)
    assert out["off-floor"].outcome == "fail"
    assert out["head"].outcome == "out of regime"
    assert out["other"].outcome == "supported"  # the regime check does not concern it
    d["off-floor"] = np.ones(8)
    assert judge(checks, d, headline="head", unit=INDEPENDENT)["head"].outcome == "supported"


def test_mechanism_checks_pass_or_fail_without_changing_verdicts():
    checks = [claim("head"), Check("routes", "divergence", "uniform", "learned", "greater", "routes differ",
                                   kind="mechanism")]
    out = judge(checks, {"head": np.ones(8), "routes": -np.ones(8)}, headline="head", unit=INDEPENDENT)
    assert out["routes"].outcome == "fail" and out["head"].outcome == "supported"


def test_equivalence_claim_uses_two_one_sided_tests():
    check = claim("same", direction="equivalent", margin=0.05)
    rng = np.random.default_rng(0)
    assert verdict_of(rng.normal(0, 0.01, 12), check).outcome == "supported"
    far = verdict_of(0.2 + rng.normal(0, 0.01, 12), check)
    assert far.outcome == "contradicted"
    # A one-sided test would pass a method far better than the baseline; equivalence must not.
    assert far.evidence.pvalue > 0.5


def test_non_inferiority_margin():
    check = claim("close", margin=0.05)
    d = -0.01 + np.random.default_rng(1).normal(0, 0.005, 10)  # slightly worse, well within the margin
    assert verdict_of(d, check).outcome == "supported"
    assert verdict_of(d, claim("strict")).outcome == "contradicted"


def test_mde_shrinks_with_units_and_matches_the_t_test_power():
    rng = np.random.default_rng(2)
    small = weigh(rng.normal(size=8), claim("c"), INDEPENDENT)
    large = weigh(rng.normal(size=40), claim("c"), INDEPENDENT)
    assert large.mde < small.mde
    # An effect equal to the MDE (in SD units at n = 20) is detected about 80% of the time.
    mde = weigh(np.r_[np.ones(10), -np.ones(10)] * np.sqrt(19 / 20), claim("c"), INDEPENDENT).mde
    samples = np.random.default_rng(4).normal(loc=mde, size=(2000, 20))
    power = np.mean([verdict_of(d).outcome == "supported" for d in samples])
    assert 0.74 <= power <= 0.86


def test_resampled_units_widen_the_interval():
    d = np.random.default_rng(5).normal(0.1, 0.1, 10)
    plain = weigh(d, claim("c"), INDEPENDENT)
    corrected = weigh(d, claim("c"), resampled_units(0.25, "5-fold CV"))
    assert corrected.ci_high - corrected.ci_low > plain.ci_high - plain.ci_low
    assert corrected.test == "corrected t" and corrected.mde > plain.mde


def test_orientation_follows_the_claim():
    np.testing.assert_array_equal(oriented_differences([1, 2], [3, 5], "greater"), [2, 3])
    np.testing.assert_array_equal(oriented_differences([1, 2], [3, 5], "less"), [-2, -3])
    np.testing.assert_array_equal(oriented_differences([1, 2], [3, 5], "equivalent"), [2, 3])
    with pytest.raises(ValueError, match="direction"):
        oriented_differences([1], [2], "up")
    with pytest.raises(ValueError, match="pair"):
        oriented_differences([1, 2], [2], "less")


def test_headline_must_be_a_claim():
    checks = [claim("c"), Check("m", "x", "a", "b", "greater", "mech", kind="mechanism")]
    with pytest.raises(ValueError, match="headline"):
        judge(checks, {"c": np.ones(8), "m": np.ones(8)}, headline="m", unit=INDEPENDENT)
