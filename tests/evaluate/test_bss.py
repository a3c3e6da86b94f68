"""BSS Eval v3 (SDR, SIR, SAR), NSDR, GNSDR and SI-SDR: identities, bad input, and mir_eval / fast-bss-eval anchors."""

import warnings

import numpy as np
import pytest

from diversa.evaluate.bss import bss_eval_sources, global_bss_metrics, nsdr, si_sdr


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The Gram-matrix solves (ours and mir_eval's) ran 20x slower on two contending BLAS threads.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _signals(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((2, n))
    est = ref + 0.3 * rng.standard_normal((2, n)) + 0.2 * ref[::-1]
    return ref, est


def test_perfect_estimate_is_infinite_or_huge():
    ref, _ = _signals()
    res = bss_eval_sources(ref, ref, filter_len=32)
    assert np.all(res.sdr > 100) and np.all(res.sir > 100) and np.all(res.sar > 100)


def test_filtered_estimate_is_forgiven_but_interference_is_not():
    ref, _ = _signals(1)
    filtered = np.stack([np.convolve(r, [1.0, 0.5, -0.25])[: r.size] for r in ref])
    assert np.all(bss_eval_sources(ref, filtered, filter_len=8).sdr > 30)   # only the cut tail is an error
    assert np.all(bss_eval_sources(ref, filtered, filter_len=1).sdr < 10)   # without filter taps it is not forgiven
    leaky = ref + 0.5 * ref[::-1]
    res = bss_eval_sources(ref, leaky, filter_len=8)
    assert np.allclose(res.sir, 10 * np.log10(1 / 0.25 * np.sum(ref**2, 1) / np.sum(ref[::-1] ** 2, 1)), atol=0.05)


def test_batched_estimates_equal_separate_calls():
    ref, est = _signals(2)
    other = est[::-1] + 0.1
    both = bss_eval_sources(ref, np.stack([est, other]), filter_len=16)
    for i, e in enumerate((est, other)):
        single = bss_eval_sources(ref, e, filter_len=16)
        for field in ("sdr", "sir", "sar"):
            assert np.allclose(getattr(both, field)[i], getattr(single, field))


def test_nsdr_of_the_mixture_is_exactly_zero_and_gnsdr_weights_by_length():
    ref, est = _signals(3)
    mix = ref.sum(0)
    assert np.array_equal(nsdr(ref, np.stack([mix, mix]), mix, filter_len=16), np.zeros(2))
    short = ref[:, :1000], est[:, :1000], ref[:, :1000].sum(0)
    res = global_bss_metrics([ref, short[0]], [est, short[1]], [mix, short[2]], filter_len=16)
    assert np.allclose(res.weights, [0.75, 0.25])
    assert np.allclose(res.gnsdr, 0.75 * res.nsdr[0] + 0.25 * res.nsdr[1])
    equal = global_bss_metrics([ref, short[0]], [est, short[1]], [mix, short[2]], weights="equal", filter_len=16)
    assert np.allclose(equal.gnsdr, res.nsdr.mean(0))


@pytest.mark.parametrize("reference, estimate, match", [
    (np.zeros((2, 100)), np.ones((2, 100)), "silent"),
    (np.ones((2, 100)), np.stack([np.ones(100), np.zeros(100)]), "silent"),
    (np.ones((2, 100)), np.ones((2, 99)), "shape"),
    (np.ones((2, 100)), np.full((2, 100), np.nan), "finite"),
])
def test_bad_signals(reference, estimate, match):
    with pytest.raises(ValueError, match=match):
        bss_eval_sources(reference, estimate, filter_len=4)


def test_bad_filter_len_and_weights():
    ref, est = _signals()
    with pytest.raises(ValueError, match="filter_len"):
        bss_eval_sources(ref, est, filter_len=0)
    with pytest.raises(ValueError, match="weights"):
        global_bss_metrics([ref], [est], [ref.sum(0)], weights="mean")


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_mir_eval_within_0_01_db(seed):
    separation = pytest.importorskip("mir_eval.separation")
    ref, est = _signals(seed, n=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # mir_eval 0.8 deprecates bss_eval_sources
        sdr, sir, sar, _ = separation.bss_eval_sources(ref, est, compute_permutation=False)
    ours = bss_eval_sources(ref, est)
    assert np.allclose(ours.sdr, sdr, atol=0.01) and np.allclose(ours.sir, sir, atol=0.01)
    assert np.allclose(ours.sar, sar, atol=0.01)


def test_matches_mir_eval_on_a_masked_song():
    separation = pytest.importorskip("mir_eval.separation")
    from diversa.datasets.songs import make_synthetic_songs

    (v,), (a,) = make_synthetic_songs(1, duration=0.5, random_state=4)
    ref = np.stack([v, a])
    wobble = 0.01 * np.sin(0.3 * np.arange(v.size)) * np.linspace(0, 1, v.size)   # artefacts no filter explains
    est = np.stack([v + 0.3 * a + wobble, a + 0.2 * v + wobble[::-1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdr, sir, sar, _ = separation.bss_eval_sources(ref, est, compute_permutation=False)
    ours = bss_eval_sources(ref, est)
    assert np.allclose(np.stack(ours), np.stack([sdr, sir, sar]), atol=0.01)


def test_si_sdr_identities_and_anchor():
    ref, est = _signals(5)
    assert np.allclose(si_sdr(ref, 3.0 * est), si_sdr(ref, est))          # scale invariant
    assert np.all(si_sdr(ref, ref) > 100)
    alpha = np.sum(est * ref, 1) / np.sum(ref**2, 1)
    expected = 10 * np.log10(np.sum((alpha[:, None] * ref) ** 2, 1) / np.sum((alpha[:, None] * ref - est) ** 2, 1))
    assert np.allclose(si_sdr(ref, est), expected)
    with pytest.raises(ValueError, match="silent"):
        si_sdr(np.zeros(10), np.ones(10))
    fbe = pytest.importorskip("fast_bss_eval")
    assert np.allclose(si_sdr(ref, est), fbe.si_sdr(ref, est, zero_mean=False), atol=1e-6)
    assert np.allclose(si_sdr(ref, est, zero_mean=True), fbe.si_sdr(ref, est, zero_mean=True), atol=1e-6)
