"""Pruning and score-weighted sampling of a training set by difficulty scores.

Anand, Tan and Minakova, "Influence Scores at Scale for Efficient Language Data Sampling",
EMNLP 2023 (arXiv:2311.16298): remove a fraction of the training set from its easy or its hard
end by a hard cut-off, or keep examples by sampling without replacement with probabilities that
grow with hardness, either ``exp(score)`` (App. B.2, for discrete scores such as forgetting
counts) or linear in the normalised score on ``[eps, 1]`` (App. C.3, their production setting).

Scores are oriented by ``easy_is_low`` (:data:`diversa.data.score.EASY_IS_LOW` per score).

>>> import numpy as np
>>> from diversa.data.score import prune
>>> scores = np.array([0.1, 0.9, 0.5, 0.3])
>>> prune(scores, 0.5, end="easy")       # drop the two easiest (lowest) examples
array([1, 2])
>>> prune(scores, 0.5, end="hard")
array([0, 3])
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils.validation import check_random_state

from diversa.data.score._checks import check_choice, check_fraction, check_scores

__all__ = ["prune", "rank_by_score", "sample_by_score", "sampling_weights"]

ENDS = ("easy", "hard")
METHODS = ("cutoff", "softmax", "linear")


def _hardness(scores, easy_is_low: bool) -> np.ndarray:
    s = check_scores(scores)
    if not isinstance(easy_is_low, (bool, np.bool_)):
        raise TypeError(f"easy_is_low must be True or False, got {easy_is_low!r}")
    return s if easy_is_low else -s


def _log_weights(key: np.ndarray, method: str, eps: float, temperature: float) -> np.ndarray:
    """Log sampling weights from a key where larger = more likely to be drawn."""
    if method == "softmax":
        if not (isinstance(temperature, numbers.Real) and temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        return key / float(temperature)
    if not (isinstance(eps, numbers.Real) and 0.0 < eps <= 1.0):
        raise ValueError(f"eps must lie in (0, 1], got {eps!r}")
    span = key.max() - key.min()
    mapped = np.ones_like(key) if span == 0 else float(eps) + (1.0 - float(eps)) * (key - key.min()) / span
    return np.log(mapped)


def rank_by_score(scores, *, easy_is_low: bool = True, random_state=None) -> np.ndarray:
    """All indices ordered from the easiest example to the hardest (ties in a seeded random order).

    >>> rank_by_score([0.3, 0.1, 0.2])
    array([1, 2, 0])
    """
    h = _hardness(scores, easy_is_low)
    tiebreak = check_random_state(random_state).permutation(h.size)
    return np.lexsort((tiebreak, h)).astype(np.int64)


def sampling_weights(scores, *, prefer: str = "hard", method: str = "linear", easy_is_low: bool = True,
                     eps: float = 0.01, temperature: float = 1.0) -> np.ndarray:
    """Probabilities ``(n,)`` (summing to 1) of drawing each example, growing towards the ``prefer`` end.

    ``method="linear"``: proportional to the score mapped linearly onto ``[eps, 1]`` (the paper's
    App. C.3; ``eps`` keeps the other end drawable). ``"softmax"``: proportional to
    ``exp(score / temperature)`` (App. B.2). Use them for score-weighted sampling, e.g. with
    ``torch.utils.data.WeightedRandomSampler``.

    >>> sampling_weights([0.0, 1.0], prefer="hard", eps=0.5).round(3)
    array([0.333, 0.667])
    """
    check_choice(prefer, ENDS, "prefer")
    check_choice(method, ("softmax", "linear"), "method")
    h = _hardness(scores, easy_is_low)
    logw = _log_weights(h if prefer == "hard" else -h, method, eps, temperature)
    w = np.exp(logw - logw.max())
    return w / w.sum()


def sample_by_score(scores, size: int, *, prefer: str = "hard", method: str = "linear", easy_is_low: bool = True,
                    eps: float = 0.01, temperature: float = 1.0, random_state=None) -> np.ndarray:
    """Draw ``size`` distinct indices with :func:`sampling_weights` probabilities, in draw order.

    Sequential weighted sampling without replacement (the Gumbel-top-k trick). Returns int64
    ``(size,)``.
    """
    from diversa.data.select import gumbel_top_k

    check_choice(prefer, ENDS, "prefer")
    check_choice(method, ("softmax", "linear"), "method")
    h = _hardness(scores, easy_is_low)
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 0 <= size <= h.size:
        raise ValueError(f"size must be an int in [0, {h.size}] (the number of scores), got {size!r}")
    logw = _log_weights(h if prefer == "hard" else -h, method, eps, temperature)
    return gumbel_top_k(logw, int(size), random_state).astype(np.int64)


def prune(scores, fraction: float, *, end: str = "easy", method: str = "cutoff", easy_is_low: bool = True,
          groups=None, eps: float = 0.01, temperature: float = 1.0, random_state=None) -> np.ndarray:
    """Indices of the examples kept after removing ``floor(fraction * n)`` of them from one end.

    ``end="easy"`` removes the easiest examples (keeps the hard ones), ``"hard"`` the hardest.
    ``method``: ``"cutoff"`` removes exactly the examples at that end (ties broken by a seeded
    permutation); ``"softmax"`` and ``"linear"`` keep the same number of examples by weighted
    sampling without replacement that favours the other end (:func:`sampling_weights`).
    ``groups`` ``(n,)`` (e.g. class labels) prunes ``fraction`` within every group instead.
    ``fraction`` must lie strictly in (0, 1). Returns sorted int64 indices.
    """
    check_choice(end, ENDS, "end")
    check_choice(method, METHODS, "method")
    fraction = check_fraction(fraction)
    h = _hardness(scores, easy_is_low)
    rng = check_random_state(random_state)
    if groups is None:
        return np.sort(_prune_rows(h, fraction, end, method, eps, temperature, rng))
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != h.size:
        raise ValueError(f"groups must be 1-D with {h.size} entries (one per score), got shape {g.shape}")
    kept = []
    for name in np.unique(g):
        rows = np.flatnonzero(g == name)
        kept.append(rows[_prune_rows(h[rows], fraction, end, method, eps, temperature, rng)])
    return np.sort(np.concatenate(kept))


def _prune_rows(h, fraction, end, method, eps, temperature, rng) -> np.ndarray:
    keep = h.size - math.floor(fraction * h.size)
    prefer = "hard" if end == "easy" else "easy"
    if method == "cutoff":
        order = rank_by_score(h, random_state=rng)
        return order[h.size - keep:] if end == "easy" else order[:keep]
    return sample_by_score(h, keep, prefer=prefer, method=method, easy_is_low=True, eps=eps,
                           temperature=temperature, random_state=rng)
