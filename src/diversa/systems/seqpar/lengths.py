"""Long-tailed sequence lengths of pre-training corpora, generated (never downloaded).

FlexSP (Wang et al., arXiv:2412.01523, section 2, figure 2) rests on the
observation that real corpora (Wikipedia, GitHub, CommonCrawl) have
long-tailed length distributions: most sequences are short, a few are very
long. A log-normal fits the authors' Wikipedia sample of tokenized lengths
well (log-mean 5.95, log-sd 1.26: median about 380 tokens, mean about 1,000,
99th percentile about 11K); ``scale`` stretches it into a long-context regime
(x 8: median about 3K tokens, a tail past 100K), clipped at the context
limit and padded to a multiple of ``pad_to`` as Ulysses needs.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

#: Log-normal fitted to the authors' Wikipedia length sample (log-mean, log-sd of tokens).
WIKIPEDIA_LOGNORMAL = (5.95, 1.26)


def sample_lengths(n: int, random_state=None, *, mu: float = WIKIPEDIA_LOGNORMAL[0],
                   sigma: float = WIKIPEDIA_LOGNORMAL[1], scale: float = 8.0, max_len: int = 131072,
                   pad_to: int = 1) -> np.ndarray:
    """``n`` sequence lengths ``floor(scale * exp(Normal(mu, sigma**2))) + 1``, padded up to a
    multiple of ``pad_to`` and clipped at the largest such multiple not above ``max_len``.

    Returns an (n,) int64 array. FlexSP (arXiv:2412.01523) long-tailed batches.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}.")
    if not (np.isfinite(scale) and scale > 0) or not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"scale must be > 0 and sigma >= 0, got {scale!r} and {sigma!r}.")
    if isinstance(pad_to, bool) or not isinstance(pad_to, (int, np.integer)) or pad_to < 1:
        raise ValueError(f"pad_to must be a positive integer, got {pad_to!r}.")
    if not isinstance(max_len, (int, np.integer)) or max_len < pad_to:
        raise ValueError(f"max_len must be an integer >= pad_to = {pad_to}, got {max_len!r}.")
    rng = check_random_state(random_state)
    raw = np.floor(scale * np.exp(rng.normal(mu, sigma, size=n))) + 1
    raw = np.minimum(raw, max_len)                      # before the cast: no overflow on huge draws
    padded = -(-raw.astype(np.int64) // pad_to) * pad_to
    return np.minimum(padded, max_len // pad_to * pad_to)
