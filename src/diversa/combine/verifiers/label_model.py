"""Weak-supervision label models: matrix completion of the source-overlap matrix.

Ratner et al., "Training Complex Models with Multi-Task Weak Supervision" (MeTaL),
arXiv:1810.02840, the conditionally independent model of snorkel 0.10 ``LabelModel``; used by
Weaver (Saad-Falcon et al., "Shrinking the Generation-Verification Gap with Weak Verifiers",
arXiv:2506.18203, spec ``ensemble.md#weaver``, Algorithm step 5) to weigh verifiers without labels.

Votes ``L (n, m)`` take values in {0, ..., k-1}, or -1 for an abstain. They are expanded to
indicators ``Lind (n, m k)`` with column ``i k + a = 1[L_i == a]`` (abstains set no column); the
overlap matrix is ``O = Lind^T Lind / n``. With the class prior ``p`` (``P = diag(p)``) and
``mu[i k + a, y] = P(L_i = a | Y = y)``, sources that are conditionally independent given Y satisfy
``O = mu P mu^T`` off the per-source diagonal blocks and ``mu p = diag(O)``. We minimise

    ||(O - mu P mu^T)[mask]||^2 + ||mu p - diag(O)||^2 + l2 ||mu - mu_init||^2
      + w_c sum_{i,y} (1 - sum_a mu[i k + a, y])^2

by full-batch SGD with momentum and closed-form numpy gradients. The last term is metal-ama's
per-source normalisation penalty (``normalization_weight``; 0 gives snorkel's objective); it holds
only when sources never abstain. ``l2`` is centred on ``mu_init`` only (snorkel also passes it
to torch's SGD as plain weight decay; both agree at the default ``l2 = 0``). The initialisation
is snorkel's: ``mu_init[i k + y, y] = clip(diag(O)[i k + y] prec_init / p_y, 0, 1)`` (every
source starts better than random, with precision ``prec_init``), scaled by one ``Uniform(0, 1)``
draw of ``np.random.RandomState(random_state)``. After fitting ``mu`` is clipped to
``[mu_eps, 1 - mu_eps]``.

Symmetry. The objective is unchanged by ``mu -> 2 (mu p) 1^T - mu`` (it keeps ``mu p`` and
``mu P mu^T``; with ``k = 2`` it is the label flip, which swaps every source's TPR and FPR
around its vote rate, for any class balance), and by permuting classes of equal prior. For
``k = 2`` the fitted ``mu`` and its mirror are compared and the one whose sources are better than
random on average (mean balanced accuracy ``mean_y P(L_i = y | Y = y, L_i != -1)`` above 1/2) is
kept: plain accuracy cannot tell them apart under unbalanced classes (a mostly-"no" source is
more often right than wrong in both). snorkel breaks only the equal-prior permutations (kept here
for ``k > 2``); without the mirror step, a fit whose SGD overshoots through ``mu = 0`` (large
``normalization_weight``) settles on the flipped solution, whose posterior is anti-correlated
with the truth.

Posterior (snorkel's, abstains carry no evidence):
``log P(Y = y | L) = log p_y + sum_{i: L_i != -1} log mu[i k + L_i, y] - logsumexp_y(.)``.

Class balance without labels (:func:`estimate_class_balance`): the maximum-likelihood prior of
the same conditionally independent model, by EM over the full conditional tables including
abstains (Dawid and Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using the EM
Algorithm", 1979), started from majority-vote posteriors (sources better than random) and, for
``k = 2``, mirrored when the solution's sources are worse than random on average.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["BinaryLabelModel", "LabelModel", "estimate_class_balance"]


def _check_cardinality(k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"cardinality must be an int, got {type(k).__name__}.")
    if k < 2:
        raise ValueError(f"cardinality must be >= 2, got {k}.")
    return int(k)


def _check_votes(L, cardinality: int, abstain: bool = True, name: str = "L") -> np.ndarray:
    """Integer votes in {0..k-1} (and -1 when ``abstain``), as an int64 array (n, m)."""
    L = check_array(L, dtype=None, ensure_min_samples=1, input_name=name)
    if L.dtype == bool:
        L = L.astype(np.int64)
    if not np.issubdtype(L.dtype, np.number) or np.issubdtype(L.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold numeric votes, got dtype {L.dtype}.")
    low = -1 if abstain else 0
    if not np.all((L == np.round(L)) & (L >= low) & (L <= cardinality - 1)):
        allowed = f"-1 (abstain) or 0..{cardinality - 1}" if abstain else f"only 0..{cardinality - 1}"
        raise ValueError(f"{name} must contain {allowed} votes.")
    return L.astype(np.int64)


def _indicators(L: np.ndarray, k: int) -> np.ndarray:
    """One-hot votes ``(n, m k)``; an abstain sets no column."""
    n, m = L.shape
    Lind = np.zeros((n, m * k))
    rows, cols = np.nonzero(L >= 0)
    Lind[rows, cols * k + L[rows, cols]] = 1.0
    return Lind


def _block_mask(m: int, k: int) -> np.ndarray:
    """1 off the per-source ``k x k`` diagonal blocks, 0 on them."""
    return 1.0 - np.kron(np.eye(m), np.ones((k, k)))


def _balanced_accuracy(mu: np.ndarray, k: int) -> np.ndarray:
    """Per-source mean over classes of ``P(L_i = y | Y = y, L_i != -1)``, shape (m,)."""
    blocks = mu.reshape(-1, k, k)                               # (m, vote, class)
    coverage = np.maximum(blocks.sum(axis=1), 1e-12)           # (m, class)
    return np.mean(np.diagonal(blocks, axis1=1, axis2=2) / coverage, axis=1)


def _mirror(mu: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The other solution ``2 (mu p) 1^T - mu`` with the same overlaps and marginals (label flip for k = 2)."""
    return 2.0 * (mu @ p)[:, None] - mu


def _break_symmetry(mu: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    if k == 2:
        flipped = _mirror(mu, p)
        if _balanced_accuracy(flipped, k).mean() > _balanced_accuracy(mu, k).mean():
            return flipped
        return mu
    # snorkel: among classes of equal prior, the column permutation that maximises the summed
    # probability of the sources voting the true class.
    agreement = mu.reshape(-1, k, k).sum(axis=0) * p[None, :]   # (vote, class)
    perm = np.arange(k)
    groups: dict[float, list[int]] = {}
    for y, prior in enumerate(np.round(p, 3)):
        groups.setdefault(float(prior), []).append(y)
    for group in groups.values():
        if len(group) > 1:
            sub = agreement[np.ix_(group, group)]                 # rows: vote, cols: class
            rows, cols = linear_sum_assignment(-sub)
            perm[[group[r] for r in rows]] = [group[c] for c in cols]
    return mu[:, perm]


def _em_class_balance(L: np.ndarray, k: int, max_iter: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Dawid-Skene EM over unique vote rows: (prior (k,), conditional tables (m, k+1, k))."""
    rows, counts = np.unique(L, axis=0, return_counts=True)
    w = counts / counts.sum()
    states = np.where(rows < 0, k, rows)                        # abstain is state k
    onehot = [(states == a).astype(float) for a in range(k + 1)]   # (u, m) per state
    q = np.stack([(rows == y).sum(axis=1) for y in range(k)], axis=1).astype(float)
    q = np.where(q == q.max(axis=1, keepdims=True), 1.0, 0.0)
    q /= q.sum(axis=1, keepdims=True)                           # majority vote, ties split
    # A pseudo-count of 0.01 row per cell keeps logs finite without biasing the prior (a fixed
    # mass would favour the larger class through cells that are never observed).
    smooth = 0.01 / counts.sum()
    p = np.full(k, np.nan)
    for _ in range(max_iter):
        p_old = p
        p = np.clip(q.T @ w, 1e-6, None)
        p /= p.sum()
        if np.abs(p - p_old).max() < tol:
            break
        wq = w[:, None] * q
        tables = np.stack([ind.T @ wq for ind in onehot], axis=1) + smooth     # (m, state, class)
        tables /= tables.sum(axis=1, keepdims=True)
        log_tables = np.log(tables)
        log_joint = np.log(p)[None, :] + sum(ind @ log_tables[:, a, :] for a, ind in enumerate(onehot))
        q = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
    return p, tables


def estimate_class_balance(L, cardinality: int = 2, max_iter: int = 500, tol: float = 1e-7) -> np.ndarray:
    """Label-free class prior ``P(Y = y)``, shape (k,), from votes ``L (n, m)`` (-1 = abstain).

    Maximum likelihood under conditionally independent sources (Dawid and Skene 1979) by EM,
    started from majority-vote posteriors. For ``k = 2`` the result is mirrored (``p -> 1 - p``)
    when the fitted sources are worse than random on average, the same assumption that breaks the
    label model's symmetry. Needs at least 3 sources that do not always abstain.
    """
    k = _check_cardinality(cardinality)
    L = _check_votes(L, k)
    for name, v in (("max_iter", max_iter),):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}.")
    if not isinstance(tol, numbers.Real) or not tol > 0:
        raise ValueError(f"tol must be a positive float, got {tol!r}.")
    if np.sum((L >= 0).any(axis=0)) < 3:
        raise ValueError("L: estimating the class balance needs at least 3 sources that vote.")
    p, tables = _em_class_balance(L, k, int(max_iter), float(tol))
    if k == 2:
        accuracy = np.mean([np.mean([tables[i, y, y] / max(tables[i, :k, y].sum(), 1e-12) for y in range(2)])
                            for i in range(tables.shape[0])])
        if accuracy < 0.5:
            p = p[::-1].copy()
    return p


def _check_prior_vector(cb, k: int) -> np.ndarray:
    p = np.asarray(cb, dtype=float)
    if p.shape != (k,):
        raise ValueError(f"class_balance must have {k} entries (one per class), got shape {p.shape}.")
    if not np.all(np.isfinite(p)) or np.any(p <= 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"class_balance must be positive and sum to 1, got {p.tolist()}.")
    return p / p.sum()


def _check_params(est) -> None:
    v = est.n_epochs
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
        raise ValueError(f"n_epochs must be a non-negative int, got {v!r}.")
    if isinstance(est.lr, bool) or not isinstance(est.lr, numbers.Real) or not est.lr > 0:
        raise ValueError(f"lr must be a positive float, got {est.lr!r}.")
    for name in ("momentum", "l2", "normalization_weight"):
        v = getattr(est, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0:
            raise ValueError(f"{name} must be a non-negative float, got {v!r}.")


def _prec_vector(prec_init, m: int) -> np.ndarray:
    prec = np.asarray(prec_init, dtype=float)
    if prec.ndim == 0:
        prec = np.full(m, float(prec))
    if prec.shape != (m,) or not np.all(np.isfinite(prec)) or np.any(prec <= 0):
        raise ValueError(f"prec_init must be a positive float or {m} positive floats, got {prec_init!r}.")
    return prec


class LabelModel(BaseEstimator):
    """Estimate ``P(L_i | Y)`` of every source from agreements alone and return ``P(Y | votes)``.

    The conditionally independent label model of snorkel's ``LabelModel`` (see module
    docstring), with cardinality ``k >= 2`` and abstains (-1).

    Parameters
    ----------
    cardinality : int >= 2, number of classes ``k``.
    class_balance : None, array-like (k,), "labels" or "estimate"
        The prior ``P(Y)``. None is uniform (snorkel's default); "labels" takes the class
        frequencies of ``y`` passed to ``fit``; "estimate" uses :func:`estimate_class_balance`.
    n_epochs, lr, momentum : full-batch SGD settings (one step per epoch), snorkel's defaults.
    l2 : float, penalty towards the initialisation.
    prec_init : float or (m,) floats, initial precision of each source.
    mu_eps : float or None, clip ``mu`` to ``[mu_eps, 1 - mu_eps]``; None is snorkel's
        ``min(0.01, 10 ** -ceil(log10 n))``.
    normalization_weight : float, metal-ama's per-source normalisation penalty (votes without
        abstains only).
    random_state : int or None, seeds the random scale of the initialisation.

    Attributes
    ----------
    mu_ : (m k, k) ``P(L_i = a | Y = y)`` at row ``i k + a``.
    class_balance_ : (k,), loss_curve_ : list of float, n_features_in_ : int.

    Examples
    --------
    >>> import numpy as np
    >>> L = np.array([[0, 0, -1], [1, 1, 1], [2, 2, -1], [0, -1, 0], [1, 1, -1], [2, 2, 2]] * 20)
    >>> lm = LabelModel(cardinality=3, random_state=0).fit(L)
    >>> lm.predict(L[:6]).tolist()
    [0, 1, 2, 0, 1, 2]
    """

    def __init__(self, cardinality=2, class_balance=None, n_epochs=100, lr=0.01, momentum=0.9, l2=0.0,
                 prec_init=0.7, mu_eps=None, normalization_weight=0.0, random_state=None):
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.n_epochs = n_epochs
        self.lr = lr
        self.momentum = momentum
        self.l2 = l2
        self.prec_init = prec_init
        self.mu_eps = mu_eps
        self.normalization_weight = normalization_weight
        self.random_state = random_state

    # Subclasses fix these (BinaryLabelModel: two classes, no abstains, mu_eps 0.01).
    def _k(self) -> int:
        return _check_cardinality(self.cardinality)

    def _allows_abstain(self) -> bool:
        return True

    def _clip_eps(self, n: int) -> float:
        if self.mu_eps is None:
            return float(min(0.01, 10.0 ** -np.ceil(np.log10(n))))
        if not isinstance(self.mu_eps, numbers.Real) or not 0 <= self.mu_eps < 0.5:
            raise ValueError(f"mu_eps must be None or a float in [0, 0.5), got {self.mu_eps!r}.")
        return float(self.mu_eps)

    def _prior(self, L: np.ndarray, y) -> np.ndarray:
        k, cb = self._k(), self.class_balance
        if cb is None:
            return np.full(k, 1.0 / k)
        if isinstance(cb, str):
            if cb == "estimate":
                return estimate_class_balance(L, k)
            if cb != "labels":
                raise ValueError(f"class_balance must be None, an array, 'labels' or 'estimate', got {cb!r}.")
            if y is None:
                raise ValueError("class_balance='labels' needs labels y passed to fit.")
            y = np.asarray(y)
            if y.ndim != 1 or not np.all(np.isin(y, np.arange(k))):
                raise ValueError(f"y must be a 1-D array of labels in 0..{k - 1}.")
            p = np.bincount(y.astype(int), minlength=k) / y.size
            if np.any(p == 0):
                raise ValueError(f"y has no example of class(es) {np.flatnonzero(p == 0).tolist()}.")
            return p
        return _check_prior_vector(cb, k)

    def fit(self, L, y=None, mu_init=None):
        """Fit on votes ``L (n, m)``; ``y`` only serves ``class_balance="labels"``.

        ``mu_init`` (m k, k) optionally replaces the initialisation (no random scale then).
        """
        k = self._k()
        L = _check_votes(L, k, abstain=self._allows_abstain())
        _check_params(self)
        if y is not None and len(y) != L.shape[0]:
            raise ValueError(f"y must have {L.shape[0]} entries, got {len(y)}.")
        n, m = L.shape
        if m < 3:
            warnings.warn(f"Only {m} sources: the label model is not identifiable with fewer than 3 "
                          "conditionally independent sources.", UserWarning, stacklevel=2)
        if self.normalization_weight > 0 and np.any(L < 0):
            raise ValueError("normalization_weight > 0 assumes sources never abstain; L contains -1.")
        eps = self._clip_eps(n)
        p = self._prior(L, y)
        prec = _prec_vector(self.prec_init, m)
        Lind = _indicators(L, k)
        O = Lind.T @ Lind / n
        if mu_init is not None:
            base = np.array(mu_init, dtype=float)
            if base.shape != (m * k, k):
                raise ValueError(f"mu_init must have shape {(m * k, k)}, got {base.shape}.")
            mu = base.copy()
        else:
            base = np.zeros((m * k, k))
            for y_ in range(k):
                rows = k * np.arange(m) + y_
                base[rows, y_] = np.clip(np.diag(O)[rows] * prec / p[y_], 0.0, 1.0)
            mu = base * np.random.RandomState(self.random_state).random_sample()
        mu, curve = self._descend(mu, base, O, p, m, k)
        mu = np.clip(_break_symmetry(mu, p, k), eps, 1.0 - eps)
        self.mu_ = mu
        self.class_balance_ = p
        self.loss_curve_ = curve
        self.n_features_in_ = m
        return self

    def _descend(self, mu, base, O, p, m, k):
        """Full-batch SGD with momentum on the objective of the module docstring."""
        P = np.diag(p)
        d = np.diag(O).copy()
        mask = _block_mask(m, k)
        wc, l2, lr, beta = (float(self.normalization_weight), float(self.l2), float(self.lr),
                            float(self.momentum))
        vel = np.zeros_like(mu)
        curve = []
        for _ in range(self.n_epochs):
            R = (O - mu @ P @ mu.T) * mask
            r2 = mu @ p - d
            loss = np.sum(R ** 2) + np.sum(r2 ** 2)
            g = -4.0 * R @ mu @ P + 2.0 * np.outer(r2, p)
            if l2:
                loss += l2 * np.sum((mu - base) ** 2)
                g += 2.0 * l2 * (mu - base)
            if wc:
                slack = 1.0 - mu.reshape(m, k, k).sum(axis=1)        # (m, class)
                loss += wc * np.sum(slack ** 2)
                g -= 2.0 * wc * np.repeat(slack, k, axis=0)
            curve.append(float(loss))
            vel = beta * vel + g
            mu = mu - lr * vel
        return mu, curve

    def get_conditional_probs(self) -> np.ndarray:
        """``(m, k + 1, k)`` table ``[i, a + 1, y] = P(L_i = a | Y = y)``; row 0 is the abstain."""
        check_is_fitted(self, "mu_")
        k = self.mu_.shape[1]
        blocks = self.mu_.reshape(-1, k, k)
        return np.concatenate([1.0 - blocks.sum(axis=1, keepdims=True), blocks], axis=1)

    def predict_log_proba(self, L) -> np.ndarray:
        """``(n, k)`` log posterior ``log P(Y = y | L)``; abstains carry no evidence."""
        check_is_fitted(self, "mu_")
        k = self.mu_.shape[1]
        L = _check_votes(L, k, abstain=self._allows_abstain())
        if L.shape[1] != self.n_features_in_:
            raise ValueError(f"L must have {self.n_features_in_} columns, got {L.shape[1]}.")
        logmu = np.log(self.mu_)
        rows = k * np.arange(L.shape[1])[None, :] + np.maximum(L, 0)
        evidence = np.where((L >= 0)[:, :, None], logmu[rows], 0.0).sum(axis=1)
        joint = np.log(self.class_balance_)[None, :] + evidence
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, L) -> np.ndarray:
        """``(n, k)`` posterior class probabilities ``P(Y | L)``."""
        return np.exp(self.predict_log_proba(L))

    def predict(self, L, tie_break: str = "abstain") -> np.ndarray:
        """Most probable class per row; exact ties give -1 (``"abstain"``, snorkel's default) or
        the lowest class (``"first"``)."""
        if tie_break not in ("abstain", "first"):
            raise ValueError(f"tie_break must be 'abstain' or 'first', got {tie_break!r}.")
        logp = self.predict_log_proba(L)
        pred = np.argmax(logp, axis=1)
        if tie_break == "abstain":
            tied = np.sum(np.isclose(logp, logp.max(axis=1, keepdims=True), rtol=0, atol=1e-12), axis=1) > 1
            pred = np.where(tied, -1, pred)
        return pred


class BinaryLabelModel(LabelModel):
    """Binary label model over 0/1 votes without abstains, as Weaver uses it.

    :class:`LabelModel` with ``k = 2``, ``mu_eps = 0.01``, 500 epochs and metal-ama's
    normalisation penalty on by default (``normalization_weight=10``).

    Parameters
    ----------
    class_balance : float in (0, 1), "labels", "estimate" or None
        P(Y = 1). ``"labels"`` / None take the mean of ``y`` passed to ``fit`` (None with no ``y``
        raises ValueError); ``"estimate"`` uses :func:`estimate_class_balance`.
    n_epochs, lr, momentum, l2, prec_init, normalization_weight, random_state : as in
        :class:`LabelModel`.

    Attributes
    ----------
    mu_ (2m, 2), class_balance_ (2,), tpr_ (m,), tnr_ (m,), verifier_ranking_ (m,),
    loss_curve_ list of float, n_features_in_.
    """

    def __init__(self, class_balance=None, n_epochs=500, lr=0.01, momentum=0.9, l2=0.0, prec_init=0.7,
                 normalization_weight=10.0, random_state=None):
        self.class_balance = class_balance
        self.n_epochs = n_epochs
        self.lr = lr
        self.momentum = momentum
        self.l2 = l2
        self.prec_init = prec_init
        self.normalization_weight = normalization_weight
        self.random_state = random_state

    def _k(self) -> int:
        return 2

    def _allows_abstain(self) -> bool:
        return False

    def _clip_eps(self, n: int) -> float:
        return 0.01

    def _prior(self, L, y) -> np.ndarray:
        cb = self.class_balance
        if isinstance(cb, str) and cb == "estimate":
            return estimate_class_balance(L, 2)
        if cb is None or (isinstance(cb, str) and cb == "labels"):
            if y is None:
                raise ValueError("class_balance: pass a float, 'estimate', or labels y to fit (class_balance='labels').")
            y = np.asarray(y)
            if y.ndim != 1 or not np.all((y == 0) | (y == 1)):
                raise ValueError("y must be a 1-D array of 0/1 labels.")
            cb = float(np.mean(y))
        elif isinstance(cb, str):
            raise ValueError(f"class_balance must be a float, 'labels', 'estimate' or None, got {cb!r}.")
        elif isinstance(cb, bool) or not isinstance(cb, numbers.Real):
            raise TypeError(f"class_balance must be a float, got {type(cb).__name__}.")
        elif not 0 < cb < 1:
            raise ValueError(f"class_balance must lie in (0, 1), got {cb}.")
        cb = float(np.clip(cb, 0.01, 0.99))
        return np.array([1.0 - cb, cb])

    def fit(self, L, y=None, mu_init=None):
        """Fit on 0/1 votes ``L (n, m)``; ``mu_init`` (2m, 2) optionally overrides the initialisation."""
        super().fit(L, y=y, mu_init=mu_init)
        self.tpr_ = self.mu_[1::2, 1].copy()
        self.tnr_ = self.mu_[0::2, 0].copy()
        self.verifier_ranking_ = np.argsort(-(self.tpr_ + self.tnr_) / 2.0, kind="stable")
        return self

    def predict(self, L) -> np.ndarray:
        """Most probable class per row (ties -> 0)."""
        return np.argmax(self.predict_log_proba(L), axis=1)
