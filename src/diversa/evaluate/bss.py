"""BSS Eval source-separation metrics: SDR, SIR, SAR (v3 "sources"), NSDR, GNSDR and SI-SDR.

The metrics of Vincent, Gribonval, Fevotte, "Performance Measurement in Blind
Audio Source Separation", IEEE TASLP 14(4), 2006 (BSS Eval v3, as
``bss_eval_sources`` in MATLAB and in ``mir_eval.separation``), used by Lin,
Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278 (NSDR and its length-weighted mean GNSDR, as in MIREX);
SI-SDR from Le Roux, Wisdom, Erdogan, Hershey, "SDR - half-baked or well
done?", ICASSP 2019.

An estimate ``e`` of source ``j`` is split by least-squares projections onto
time-invariant filters of ``filter_len`` taps: ``s_target``, its projection
on the delayed copies of the true source ``j``; ``P_all``, its projection on
the delayed copies of every reference; ``e_interf = P_all - s_target`` and
``e_artif = e - P_all``. Then ``SDR = 10 log10(|s_target|^2 / |e - s_target|^2)``,
``SIR = 10 log10(|s_target|^2 / |e_interf|^2)``,
``SAR = 10 log10(|P_all|^2 / |e_artif|^2)`` (signals zero-padded by
``filter_len - 1``; a zero error gives ``inf``). The Gram matrix of the
delayed references comes from FFT cross-correlations and is factored once
per set of references, so many estimates of the same sources (arms of an
experiment) cost little more than one.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import scipy.linalg

__all__ = ["BSSEvalResult", "GlobalBSSResult", "bss_eval_sources", "global_bss_metrics", "nsdr", "si_sdr"]


class BSSEvalResult(NamedTuple):
    """Per-source decibels, each shaped like the estimate without its sample axis ``(..., nsrc)``."""

    sdr: np.ndarray
    sir: np.ndarray
    sar: np.ndarray


class GlobalBSSResult(NamedTuple):
    """Weighted means over clips, per source ``(nsrc,)``; ``nsdr``, ``sdr``, ``sir``, ``sar`` per clip
    ``(n_clips, nsrc)``; ``weights (n_clips,)`` as used."""

    gnsdr: np.ndarray
    gsir: np.ndarray
    gsar: np.ndarray
    gsdr: np.ndarray
    nsdr: np.ndarray
    sdr: np.ndarray
    sir: np.ndarray
    sar: np.ndarray
    weights: np.ndarray


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # A perfect component (zero error energy) is +inf dB, as mir_eval reports it.
    with np.errstate(divide="ignore"):
        return np.where(den > 0, 10 * np.log10(np.maximum(num, 1e-300) / np.where(den > 0, den, 1.0)), np.inf)


def _check_signals(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.ndim == 1:
        ref = ref[None]
    if ref.ndim != 2 or ref.shape[0] < 1 or ref.shape[1] < 1:
        raise ValueError(f"reference must have shape (nsrc, n), got {np.shape(reference)}.")
    if est.ndim == 1 and ref.shape[0] == 1:
        est = est[None]
    if est.ndim < 2 or est.shape[-2:] != ref.shape:
        raise ValueError(f"estimate must have shape (..., {ref.shape[0]}, {ref.shape[1]}) like reference, "
                         f"got {np.shape(estimate)}.")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
        raise ValueError("reference and estimate must be finite.")
    if np.any(~ref.any(axis=-1)):
        raise ValueError("reference holds a silent (all-zero) source; BSS Eval is undefined for it.")
    if np.any(~est.any(axis=-1)):
        raise ValueError("estimate holds a silent (all-zero) source; BSS Eval is undefined for it.")
    return ref, est


def _check_filter_len(filter_len) -> int:
    if isinstance(filter_len, bool) or not isinstance(filter_len, numbers.Integral) or filter_len < 1:
        raise ValueError(f"filter_len must be an int >= 1, got {filter_len!r}.")
    return int(filter_len)


class _Projector:
    """Least-squares projection onto the span of ``filter_len`` delays of chosen references."""

    def __init__(self, ref: np.ndarray, filter_len: int):
        self.nsrc, self.n = ref.shape
        self.L = filter_len
        self.n_fft = int(2 ** np.ceil(np.log2(self.n + filter_len - 1)))
        self.ref = ref
        self.ref_fft = np.fft.rfft(ref, self.n_fft)
        # xcorr(x, y)[k] = sum_u x[u] y[u + k]; <delay_a x, delay_b y> = xcorr(x, y)[a - b].
        lags = np.arange(filter_len)
        diff = lags[:, None] - lags[None, :]
        xc = np.fft.irfft(np.conj(self.ref_fft)[:, None] * self.ref_fft[None, :], self.n_fft)   # (i, j, lag)
        self.gram = xc[:, :, diff % self.n_fft].transpose(0, 2, 1, 3).reshape(self.nsrc * filter_len, -1)
        self._factors = {}

    def _solver(self, sources: tuple[int, ...]):
        if sources not in self._factors:
            idx = np.concatenate([np.arange(s * self.L, (s + 1) * self.L) for s in sources])
            block = self.gram[np.ix_(idx, idx)]
            try:
                factor = scipy.linalg.cho_factor(block, check_finite=False)
                self._factors[sources] = lambda rhs, f=factor: scipy.linalg.cho_solve(f, rhs, check_finite=False)
            except np.linalg.LinAlgError:   # singular Gram (e.g. band-limited references): least squares
                self._factors[sources] = lambda rhs, b=block: np.linalg.lstsq(b, rhs, rcond=None)[0]
        return self._factors[sources]

    def project(self, est: np.ndarray, sources: tuple[int, ...]) -> np.ndarray:
        """Projections of ``est (m, n)`` onto the delays of ``sources``: shape ``(m, n + L - 1)``."""
        est_fft = np.fft.rfft(est, self.n_fft)
        xc = np.fft.irfft(np.conj(self.ref_fft[list(sources)])[None] * est_fft[:, None], self.n_fft)
        rhs = xc[:, :, : self.L].reshape(len(est), -1).T                       # (len(sources) * L, m)
        coef = self._solver(sources)(rhs).T.reshape(len(est), len(sources), self.L)
        filt_fft = np.fft.rfft(coef, self.n_fft)
        out = np.fft.irfft((filt_fft * self.ref_fft[list(sources)][None]).sum(axis=1), self.n_fft)
        return out[:, : self.n + self.L - 1]


def bss_eval_sources(reference, estimate, filter_len: int = 512) -> BSSEvalResult:
    """SDR, SIR and SAR (dB) of ``estimate (..., nsrc, n)`` against ``reference (nsrc, n)``.

    Source ``j`` of the estimate is scored against reference ``j`` (no permutation search).
    Every result field has shape ``estimate.shape[:-1]``. A silent reference or estimated
    source raises ValueError (the metrics are undefined), as mir_eval does.
    """
    filter_len = _check_filter_len(filter_len)
    ref, est = _check_signals(reference, estimate)
    nsrc, n = ref.shape
    lead = est.shape[:-2]
    flat = est.reshape(-1, nsrc, n)
    proj = _Projector(ref, filter_len)
    padded = np.zeros((flat.shape[0], nsrc, n + filter_len - 1))
    padded[..., :n] = flat
    sdr, sir, sar = (np.empty((flat.shape[0], nsrc)) for _ in range(3))
    all_sources = tuple(range(nsrc))
    for j in range(nsrc):
        e = padded[:, j]
        s_target = proj.project(flat[:, j], (j,))
        p_all = proj.project(flat[:, j], all_sources) if nsrc > 1 else s_target
        target_energy = np.sum(s_target**2, axis=-1)
        sdr[:, j] = _db(target_energy, np.sum((e - s_target) ** 2, axis=-1))
        sir[:, j] = _db(target_energy, np.sum((p_all - s_target) ** 2, axis=-1))
        sar[:, j] = _db(np.sum(p_all**2, axis=-1), np.sum((e - p_all) ** 2, axis=-1))
    shape = (*lead, nsrc)
    return BSSEvalResult(sdr.reshape(shape), sir.reshape(shape), sar.reshape(shape))


def nsdr(reference, estimate, mixture, filter_len: int = 512) -> np.ndarray:
    """Normalised SDR ``SDR(estimate) - SDR(mixture)`` per source, shape ``estimate.shape[:-1]``.

    ``mixture (n,)`` is used as the estimate of every source: the gain in dB of separating at all.
    """
    ref, est = _check_signals(reference, estimate)
    mix = np.asarray(mixture, dtype=np.float64)
    if mix.shape != ref.shape[1:]:
        raise ValueError(f"mixture must have shape ({ref.shape[1]},), got {mix.shape}.")
    both = np.concatenate([est.reshape(-1, *ref.shape), np.broadcast_to(mix, ref.shape)[None]])
    sdr = bss_eval_sources(ref, both, filter_len).sdr
    return (sdr[:-1] - sdr[-1]).reshape(est.shape[:-1])


def global_bss_metrics(references, estimates, mixtures, weights: str = "length",
                       filter_len: int = 512) -> GlobalBSSResult:
    """GNSDR, GSIR, GSAR (and GSDR) over clips: weighted means of the per-clip metrics.

    ``references[k] (nsrc, n_k)``, ``estimates[k] (nsrc, n_k)``, ``mixtures[k] (n_k,)``;
    ``weights="length"`` weighs clip ``k`` by ``n_k`` (MIREX's GNSDR), ``"equal"`` gives a plain mean.
    """
    if weights not in ("length", "equal"):
        raise ValueError(f"weights must be 'length' or 'equal', got {weights!r}.")
    references, estimates, mixtures = list(references), list(estimates), list(mixtures)
    if not references or not (len(references) == len(estimates) == len(mixtures)):
        raise ValueError(f"references, estimates and mixtures must be non-empty lists of equal length, "
                         f"got {len(references)}, {len(estimates)} and {len(mixtures)}.")
    rows = {"nsdr": [], "sdr": [], "sir": [], "sar": []}
    lengths = []
    for ref, est, mix in zip(references, estimates, mixtures):
        ref, est = _check_signals(ref, est)
        mix = np.asarray(mix, dtype=np.float64)
        if mix.shape != ref.shape[1:]:
            raise ValueError(f"every mixture must have its references' length {ref.shape[1]}, got {mix.shape}.")
        res = bss_eval_sources(ref, np.stack([est, np.broadcast_to(mix, ref.shape)]), filter_len)
        rows["nsdr"].append(res.sdr[0] - res.sdr[1])
        for key in ("sdr", "sir", "sar"):
            rows[key].append(getattr(res, key)[0])
        lengths.append(ref.shape[1])
    w = np.asarray(lengths, dtype=np.float64) if weights == "length" else np.ones(len(lengths))
    w = w / w.sum()
    per_clip = {k: np.array(v) for k, v in rows.items()}
    mean = {k: w @ v for k, v in per_clip.items()}
    return GlobalBSSResult(mean["nsdr"], mean["sir"], mean["sar"], mean["sdr"], per_clip["nsdr"], per_clip["sdr"],
                           per_clip["sir"], per_clip["sar"], w)


def si_sdr(reference, estimate, zero_mean: bool = False) -> np.ndarray:
    """Scale-invariant SDR (dB) of ``estimate (..., n)`` against ``reference (..., n)`` (broadcast).

    ``10 log10(|a s|^2 / |a s - e|^2)`` with ``a = <e, s> / |s|^2``; ``zero_mean`` removes each
    signal's mean first. A silent reference raises ValueError.
    """
    s = np.asarray(reference, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    try:
        s, e = np.broadcast_arrays(s, e)
    except ValueError:
        raise ValueError(f"reference and estimate must broadcast, got {np.shape(reference)} and "
                         f"{np.shape(estimate)}.") from None
    if s.ndim < 1 or s.shape[-1] < 1:
        raise ValueError("reference and estimate need a sample axis.")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(e))):
        raise ValueError("reference and estimate must be finite.")
    if zero_mean:
        s = s - s.mean(axis=-1, keepdims=True)
        e = e - e.mean(axis=-1, keepdims=True)
    energy = np.sum(s**2, axis=-1)
    if np.any(energy == 0):
        raise ValueError("reference holds a silent signal; SI-SDR is undefined for it.")
    scale = np.sum(e * s, axis=-1) / energy
    target = scale[..., None] * s
    return _db(np.sum(target**2, axis=-1), np.sum((target - e) ** 2, axis=-1))
