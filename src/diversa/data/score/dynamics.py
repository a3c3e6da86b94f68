"""Difficulty scores from training dynamics, computed from arrays recorded during training.

The scores benchmarked by Anand, Tan and Minakova, "Influence Scores at Scale for Efficient
Language Data Sampling", EMNLP 2023 (arXiv:2311.16298), plus AUM:

* :func:`vog_scores`: Variance of Gradients (Agarwal, D'souza and Hooker, CVPR 2022) of the
  true-label logit with respect to the input representation, across checkpoints of one run;
* :func:`el2n_scores`: EL2N, the norm of the error vector ``softmax - onehot`` early in training
  (Paul, Ganguli and Dziugaite, NeurIPS 2021), averaged over runs;
* :func:`forgetting_scores`: forgetting events, correct -> incorrect transitions between
  evaluations (Toneva et al., ICLR 2019);
* :func:`aum_scores`: Area Under the Margin, the mean of the assigned-label logit minus the
  largest other logit (Pleiss et al., NeurIPS 2020);
* :func:`pvi_scores`: pointwise V-information, ``log2 p_x(y) - log2 p_null(y)`` in bits
  (Ethayarajh, Choi and Swayamdipta, ICML 2022);

and :func:`normalize_scores`, per-class or whole-dataset z-scores: the paper finds the choice
matters under class imbalance. :data:`EASY_IS_LOW` gives each score's orientation.

Example (EL2N of three examples, one confidently right, one wrong, one uncertain):

>>> import numpy as np
>>> from diversa.data.score import el2n_scores
>>> probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
>>> el2n_scores(probs, [0, 0, 1]).round(3)
array([0.   , 1.414, 0.707])
"""

from __future__ import annotations

import numpy as np

from diversa.data.score._checks import as_stack, check_choice, check_labels, check_scores

__all__ = ["EASY_IS_LOW", "aum_scores", "el2n_scores", "forgetting_scores", "normalize_scores",
           "pvi_scores", "reduce_variance", "vog_scores"]

#: Score name -> True when a low score marks an easy example (pass it as ``easy_is_low`` to
#: :func:`diversa.data.score.prune`).
EASY_IS_LOW = {"vog": True, "el2n": True, "grand": True, "forgetting": True, "tracin": True,
               "aum": False, "pvi": False}


def _onehot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((labels.size, n_classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


def el2n_scores(probs, labels) -> np.ndarray:
    """EL2N: ``|| p(x_i) - onehot(y_i) ||_2``, averaged over independent runs. Low = easy.

    ``probs``: predicted class probabilities ``(n, C)`` of one run, or ``(R, n, C)`` of ``R``
    runs (the paper takes them at epoch 2 of 10, averaged over R = 10 runs). ``labels`` ``(n,)``:
    the observed labels. Returns ``(n,)`` in ``[0, sqrt(2)]``.
    """
    p = as_stack(probs, "probs", 3)
    y = check_labels(labels, p.shape[1], p.shape[2])
    return np.linalg.norm(p - _onehot(y, p.shape[2])[None], axis=2).mean(axis=0)


def forgetting_scores(correct) -> np.ndarray:
    """Forgetting events: how often an example goes from classified correctly to incorrectly. Low = easy.

    ``correct``: booleans ``(T, n)`` (row t: which examples the model got right at evaluation t,
    in training order), or ``(R, T, n)`` for ``R`` runs (scores averaged over runs). Examples
    never classified correctly in a run get that run's largest count plus one (Toneva et al.'s
    convention: only a learned example can be unforgettable). Returns float ``(n,)``.

    >>> forgetting_scores([[1, 0, 0], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    array([2., 3., 0.])
    """
    c = np.asarray(correct)
    if c.ndim == 2:
        c = c[None]
    if c.ndim != 3 or 0 in c.shape:
        raise ValueError(f"correct must be a non-empty (T, n) or (R, T, n) array, got shape {np.shape(correct)}")
    if not (c.dtype == bool or np.isin(c, (0, 1)).all()):
        raise ValueError("correct must hold booleans (or 0/1): was each example classified correctly")
    c = c.astype(bool)
    events = (c[:, :-1] & ~c[:, 1:]).sum(axis=1).astype(np.float64)
    never = ~c.any(axis=1)
    events[never] = np.broadcast_to(events.max(axis=1, keepdims=True) + 1, events.shape)[never]
    return events.mean(axis=0)


def aum_scores(logits, labels) -> np.ndarray:
    """Area Under the Margin: mean over recordings of ``z_y - max_{c != y} z_c``. High = easy.

    ``logits`` ``(T, n, C)`` recorded at T points of training (or ``(n, C)``), ``labels`` ``(n,)``.
    Negative AUM flags examples the model keeps pushing towards another class (likely mislabelled).
    """
    z = as_stack(logits, "logits", 3)
    if z.shape[2] < 2:
        raise ValueError(f"logits need at least 2 classes, got {z.shape[2]}")
    y = check_labels(labels, z.shape[1], z.shape[2])
    rows = np.arange(y.size)
    assigned = z[:, rows, y]
    others = z.copy()
    others[:, rows, y] = -np.inf
    return (assigned - others.max(axis=2)).mean(axis=0)


def pvi_scores(p_model, p_null, labels, *, eps: float = 1e-12) -> np.ndarray:
    """Pointwise V-information in bits: ``log2 p_x(y) - log2 p_null(y)``. High = easy.

    ``p_model``: class probabilities of the model trained on the inputs; ``p_null``: of a "null"
    model trained on empty inputs (it learns the label prior). Each ``(n, C)`` or ``(R, n, C)``
    (averaged over runs). Negative PVI flags likely mislabels. ``eps`` guards ``log(0)``.

    >>> pvi_scores([[0.8, 0.2]], [[0.5, 0.5]], [0]).round(3)
    array([0.678])
    """
    pm, pn = as_stack(p_model, "p_model", 3), as_stack(p_null, "p_null", 3)
    if pm.shape[1:] != pn.shape[1:]:
        raise ValueError(f"p_model and p_null must cover the same (n, C), got {pm.shape[1:]} and {pn.shape[1:]}")
    y = check_labels(labels, pm.shape[1], pm.shape[2])
    rows = np.arange(y.size)
    return np.log2(pm[:, rows, y] + eps).mean(axis=0) - np.log2(pn[:, rows, y] + eps).mean(axis=0)


def normalize_scores(scores, groups=None, *, group_names=None) -> np.ndarray:
    """z-scores ``(s - mean) / sd``, over the whole dataset or within each group (e.g. class).

    ``groups`` ``(n,)``: None for dataset normalisation, else labels (per-class normalisation:
    every class ends with mean 0 and sd 1, so a cut-off prunes every class equally; the paper
    finds per-class best on balanced SNLI and dataset-wide best on an imbalanced production set).
    ``group_names``: the groups that must be present (e.g. ``range(n_classes)``); one with no
    rows raises ValueError. A group whose scores are all equal is centred to 0.

    >>> normalize_scores([1.0, 3.0, 10.0, 30.0], groups=[0, 0, 1, 1])
    array([-1.,  1., -1.,  1.])
    """
    s = check_scores(scores)
    if groups is None:
        if group_names is not None:
            raise ValueError("group_names needs groups")
        return _zscore(s)
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != s.size:
        raise ValueError(f"groups must be 1-D with {s.size} entries (one per score), got shape {g.shape}")
    present = np.unique(g)
    if group_names is not None:
        missing = [name for name in group_names if name not in set(present.tolist())]
        if missing:
            raise ValueError(f"groups has no rows for group(s) {missing}; normalisation per group needs data "
                             "in every group")
    out = np.empty_like(s)
    for name in present:
        rows = g == name
        out[rows] = _zscore(s[rows])
    return out


def _zscore(s: np.ndarray) -> np.ndarray:
    sd = s.std()
    return (s - s.mean()) / sd if sd > 0 else np.zeros_like(s)


def reduce_variance(variance, mask=None, *, sqrt: bool = False) -> np.ndarray:
    """Per-example VoG from element-wise gradient variances ``(n, ...)``: their mean (of ``sqrt`` if asked).

    ``mask`` ``(n, L)`` marks the positions that count (e.g. non-padding tokens), with ``L`` the
    variance's second axis; the mean then runs over those positions and all further axes.
    """
    v = np.asarray(variance, dtype=np.float64)
    if v.ndim < 2:
        raise ValueError(f"variance must be (n, ...) with at least one feature axis, got shape {v.shape}")
    if sqrt:
        v = np.sqrt(np.maximum(v, 0.0))
    v = v.reshape(v.shape[0], v.shape[1], -1) if v.ndim > 2 else v[:, :, None]
    if mask is None:
        return v.mean(axis=(1, 2))
    m = np.asarray(mask)
    if m.shape != v.shape[:2]:
        raise ValueError(f"mask must have shape {v.shape[:2]} (examples, positions), got {m.shape}")
    m = m.astype(bool)
    counts = m.sum(axis=1)
    if np.any(counts == 0):
        raise ValueError(f"mask leaves no position for row(s) {np.flatnonzero(counts == 0)[:5].tolist()}")
    return (v.mean(axis=2) * m).sum(axis=1) / counts


def vog_scores(grads, labels=None, *, normalize: str | None = "class", sqrt: bool = False, mask=None) -> np.ndarray:
    """Variance of Gradients: how much ``d logit_y / d input`` changes across checkpoints. Low = easy.

    ``grads`` ``(Nc, n, ...)``: at each of ``Nc >= 2`` checkpoints of one run, the gradient of
    each example's true-label (pre-softmax) logit with respect to its input representation (the
    embedding output ``(L, d)`` for text, the pixels for images). Per element, the population
    variance over checkpoints (the paper's ``1/sqrt(Nc)`` prefactor is a typo), then the mean over
    elements (over ``mask``-ed positions only, see :func:`reduce_variance`; ``sqrt=True`` averages
    standard deviations as the original VoG code does). ``normalize``: ``"class"`` (z-score within
    each class of ``labels``), ``"dataset"`` or None (raw). Gradients at the observed labels.

    >>> g = np.zeros((3, 2, 4)); g[:, 1, 0] = [0.0, 1.0, 2.0]
    >>> vog_scores(g, normalize=None).round(4)
    array([0.    , 0.1667])
    """
    check_choice(normalize, ("class", "dataset", None), "normalize")
    g = np.asarray(grads, dtype=np.float64)
    if g.ndim < 3 or g.shape[0] < 2 or 0 in g.shape:
        raise ValueError(f"grads must be (Nc, n, ...) with Nc >= 2 checkpoints and a feature axis, got shape {g.shape}")
    if not np.isfinite(g).all():
        raise ValueError("grads contains NaN or infinite values")
    raw = reduce_variance(g.var(axis=0), mask, sqrt=sqrt)
    return normalize_vog(raw, labels, normalize)


def normalize_vog(raw: np.ndarray, labels, normalize: str | None) -> np.ndarray:
    """Apply :func:`vog_scores`'s ``normalize`` option to raw per-example VoG values."""
    if normalize == "class":
        if labels is None:
            raise ValueError("normalize='class' needs labels (or pass normalize='dataset' or None)")
        return normalize_scores(raw, check_labels(labels, raw.size))
    if normalize == "dataset":
        return normalize_scores(raw)
    return raw
