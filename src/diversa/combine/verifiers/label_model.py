"""Binary weak-supervision label model (matrix completion of the source-overlap matrix).

The label model Weaver uses to estimate each verifier's accuracy without labels: Saad-Falcon et
al., "Shrinking the Generation-Verification Gap with Weak Verifiers", arXiv:2506.18203, built on
Ratner et al., "Training Complex Models with Multi-Task Weak Supervision" (MeTaL),
arXiv:1810.02840, as implemented in snorkel 0.10 ``LabelModel`` and metal-ama (spec
``ensemble.md#weaver``, Algorithm step 5).

Votes ``L (n, m)`` in {0, 1} (no abstains) are expanded to indicators ``Lind (n, 2m)`` with
column ``2i + a = 1[L_i == a]``; the overlap matrix is ``O = Lind^T Lind / n``. With the class
prior ``p = (1 - cb, cb)`` and ``mu[2i + a, y] = P(L_i = a | Y = y)``, verifiers that are
conditionally independent given Y satisfy ``O = mu diag(p) mu^T`` off the per-verifier diagonal
blocks. We minimise

    ||(O - mu P mu^T)[mask]||^2 + ||mu p - diag(O)||^2 + l2 ||mu - mu_init||^2
      + w_c sum_{i,y} (1 - mu[2i, y] - mu[2i+1, y])^2

(the last term is metal-ama's per-source normalisation penalty, ``normalization_weight``; set it
to 0 for snorkel's objective) by full-batch SGD with momentum 0.9 and closed-form numpy
gradients. Init ``mu_init[2i + y, y] = clip(diag(O)[2i + y] prec_init / p_y, 0, 1)`` scaled by
one ``Uniform(0, 1)`` number from ``np.random.RandomState(random_state)`` (as snorkel does).
After fitting ``mu`` is clipped to [0.01, 0.99]; when the two priors are equal, the label-swap
symmetry is broken as snorkel does (columns swapped if verifiers disagree with the label more
often than they agree). RESOLUTION (spec): default lr 0.01 x 500 epochs (snorkel's), not the
official Weaver lr 1e-5 x 1000 (which barely moves mu); both are settable.

The posterior is ``log P(Y = y | L) = log p_y + sum_i log mu[2i + L_i, y] - logsumexp_y(.)``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["BinaryLabelModel"]


def _check_votes(L, name="L"):
    L = check_array(L, dtype=None, ensure_min_samples=1, input_name=name)
    if not np.all((L == 0) | (L == 1)):
        raise ValueError(f"{name} must contain only 0 and 1 votes.")
    return L.astype(np.int64)


class BinaryLabelModel(BaseEstimator):
    """Estimate verifier TPR/TNR from agreements alone and return P(Y = 1 | votes).

    Parameters
    ----------
    class_balance : float in (0, 1), "labels" or None
        P(Y = 1). ``"labels"`` / None take the mean of ``y`` passed to ``fit`` (None with no ``y``
        raises ValueError).
    n_epochs, lr, momentum : SGD settings (full batch, one step per epoch).
    l2 : float, penalty towards the initialisation.
    prec_init : float, initial precision used to build ``mu_init``.
    normalization_weight : float, weight ``w_c`` of the per-source normalisation penalty.
    random_state : int or None, seeds the random init scale.

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

    def _prior(self, y):
        cb = self.class_balance
        if cb is None or (isinstance(cb, str) and cb == "labels"):
            if y is None:
                raise ValueError("class_balance: pass a float or labels y to fit (class_balance='labels').")
            y = np.asarray(y)
            if y.ndim != 1 or not np.all((y == 0) | (y == 1)):
                raise ValueError("y must be a 1-D array of 0/1 labels.")
            cb = float(np.mean(y))
        elif isinstance(cb, str):
            raise ValueError(f"class_balance must be a float, 'labels' or None, got {cb!r}.")
        elif isinstance(cb, bool) or not isinstance(cb, numbers.Real):
            raise TypeError(f"class_balance must be a float, got {type(cb).__name__}.")
        elif not 0 < cb < 1:
            raise ValueError(f"class_balance must lie in (0, 1), got {cb}.")
        cb = float(np.clip(cb, 0.01, 0.99))
        return np.array([1.0 - cb, cb])

    def fit(self, L, y=None, mu_init=None):
        """Fit on votes ``L (n, m)``; ``mu_init`` (2m, 2) optionally overrides the initialisation."""
        L = _check_votes(L)
        for name in ("n_epochs",):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"{name} must be a non-negative int, got {v!r}.")
        for name in ("lr", "prec_init"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not v > 0:
                raise ValueError(f"{name} must be a positive float, got {v!r}.")
        if y is not None and len(y) != L.shape[0]:
            raise ValueError(f"y must have {L.shape[0]} entries, got {len(y)}.")
        n, m = L.shape
        if m < 3:
            warnings.warn(f"Only {m} verifiers: the label model is not identifiable with fewer than 3 "
                          "conditionally independent sources.", UserWarning, stacklevel=2)
        p = self._prior(y)
        P = np.diag(p)
        Lind = np.zeros((n, 2 * m))
        Lind[np.arange(n)[:, None], 2 * np.arange(m)[None, :] + L] = 1.0
        O = Lind.T @ Lind / n
        d = np.diag(O).copy()
        mask = np.ones((2 * m, 2 * m))
        for i in range(m):
            mask[2 * i:2 * i + 2, 2 * i:2 * i + 2] = 0.0
        base = np.zeros((2 * m, 2))
        for y_ in (0, 1):
            rows = 2 * np.arange(m) + y_
            base[rows, y_] = np.clip(d[rows] * self.prec_init / p[y_], 0.0, 1.0)
        if mu_init is not None:
            mu = np.array(mu_init, dtype=float)
            if mu.shape != (2 * m, 2):
                raise ValueError(f"mu_init must have shape {(2 * m, 2)}, got {mu.shape}.")
            base = mu.copy()
        else:
            rs = np.random.RandomState(self.random_state)
            mu = base * rs.random_sample()
        wc, l2 = float(self.normalization_weight), float(self.l2)
        vel = np.zeros_like(mu)
        curve = []
        for _ in range(self.n_epochs):
            R = (O - mu @ P @ mu.T) * mask
            r2 = mu @ p - d
            colsum = 1.0 - mu[0::2] - mu[1::2]          # (m, 2)
            curve.append(float(np.sum(R ** 2) + np.sum(r2 ** 2) + l2 * np.sum((mu - base) ** 2)
                               + wc * np.sum(colsum ** 2)))
            g = -4.0 * R @ mu @ P + 2.0 * np.outer(r2, p) + 2.0 * l2 * (mu - base)
            gc = -2.0 * wc * colsum
            g[0::2] += gc
            g[1::2] += gc
            vel = self.momentum * vel + g
            mu = mu - self.lr * vel
        mu = np.clip(mu, 0.01, 0.99)
        if np.round(p[0], 3) == np.round(p[1], 3):
            S = np.stack([mu[0::2].sum(axis=0), mu[1::2].sum(axis=0)]) @ P   # rows: vote, cols: class
            if S[0, 1] + S[1, 0] > S[0, 0] + S[1, 1]:
                mu = mu[:, ::-1].copy()
        self.mu_ = mu
        self.class_balance_ = p
        self.tpr_ = mu[1::2, 1].copy()
        self.tnr_ = mu[0::2, 0].copy()
        self.verifier_ranking_ = np.argsort(-(self.tpr_ + self.tnr_) / 2.0, kind="stable")
        self.loss_curve_ = curve
        self.n_features_in_ = m
        return self

    def predict_log_proba(self, L) -> np.ndarray:
        check_is_fitted(self, "mu_")
        L = _check_votes(L)
        if L.shape[1] != self.n_features_in_:
            raise ValueError(f"L must have {self.n_features_in_} columns, got {L.shape[1]}.")
        logmu = np.log(self.mu_)
        rows = 2 * np.arange(L.shape[1])[None, :] + L            # (n, m)
        joint = np.log(self.class_balance_)[None, :] + logmu[rows].sum(axis=1)
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, L) -> np.ndarray:
        """``(n, 2)`` posterior class probabilities."""
        return np.exp(self.predict_log_proba(L))

    def predict(self, L) -> np.ndarray:
        return np.argmax(self.predict_log_proba(L), axis=1)
