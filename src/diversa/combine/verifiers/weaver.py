"""Weaver: weighted aggregation of weak verifiers with a weak-supervision label model.

Saad-Falcon, Buchanan, Chen et al., "Shrinking the Generation-Verification Gap with Weak
Verifiers", arXiv:2506.18203 (spec ``ensemble.md#weaver``). Each verifier is a noisy labeling
function of the latent correctness of a (query, response) pair; after per-verifier
normalisation (:class:`~diversa.combine.verifiers.normalize.VerifierNormalizer`), binarisation
at a threshold and filtering of degenerate verifiers, :class:`BinaryLabelModel` estimates every
verifier's TPR/TNR from agreements alone and the posterior ``P(correct | votes)`` is the Weaver
score; the selected candidate is its argmax (ties -> first index, as in the official code).

Continuous scores are supported through normalisation + binarisation at the class-balance
threshold (``threshold="cb"``, the library default: RESOLUTION of the spec, the tuning-free
version of the paper's per-dataset threshold). The official protocol is transductive
(fit and select on the same rows); ``fit`` and ``score_candidates`` may also be applied to
different pools (normalisation statistics and thresholds are those of the fit data).

The official configuration takes the class balance from labels (``class_balance="labels"``);
``class_balance="estimate"`` runs label-free with the maximum-likelihood class balance of the
label model's own assumptions (EM, Dawid and Skene 1979) instead of the official
tensor-decomposition option. Options out of scope (continuous label model, dependency
modelling) are not offered. Without ``answers`` the majority-vote pseudo-verifier
(``mv_as_verifier``) is skipped.

The majority-vote pseudo-verifier, which the official best configurations append, is off by
default (``mv_as_verifier=False``), on this evidence from the candidate-pool testbed
(:mod:`diversa.datasets.candidate_pools`, 300 queries, 12 fresh seeds per setting, class balance
from labels; the same with it estimated). With ``DEFAULT_VERIFIERS`` it lowered selection
accuracy by 1.3 points (N = 10), 0.8 (N = 5) and 1.2 (N = 20) on the simple generator and by
1.5 / 1.7 points on the latent generator at tau 0.7 / 1.0, and helped on none of those 60 pools
(57 losses, 3 ties). With ``WEAK_VERIFIERS`` (no verifier close to pass@N) it cost 4.9 to 11.8
points in the same five settings, 60 losses out of 60. On the hardest pools (latent, "xx",
tau 1.0) it made no difference with either suite. The label model estimates the
pseudo-verifier's TPR/TNR correctly (about 0.85 / 0.49, within 0.02) and its votes are
conditionally independent of the others given correctness, so the loss is not a fitting error:
the pseudo-verifier is right or wrong for a whole answer group of a query at once, and its
accuracy averaged over queries overstates how far it should move the ranking inside one query,
which is all that selection uses. Where majority voting itself is strong (the official
benchmarks; here it is weak, because distractor answers cluster) it may help:
``mv_as_verifier=True`` (with ``answers``) gives the official configuration.

Baselines: :class:`NaiveEnsembleAggregator` (mean of normalised, not binarised scores),
:class:`SupervisedVerifierEnsemble` (logistic regression exactly as configured officially, or
naive Bayes with label-estimated accuracies), :class:`BestSingleVerifier` (the verifier with the
best labelled selection accuracy), :func:`majority_vote_select`, :func:`first_sample_select`,
:func:`oracle_select` and :func:`selection_accuracy`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from diversa.combine.verifiers.label_model import BinaryLabelModel, estimate_class_balance
from diversa.combine.verifiers.normalize import (
    VerifierNormalizer,
    apply_thresholds,
    cb_thresholds,
    filter_verifiers,
    is_binary_column,
    majority_vote_verifier,
    pad_pools,
)

__all__ = [
    "BestSingleVerifier",
    "NaiveEnsembleAggregator",
    "SupervisedVerifierEnsemble",
    "WeaverAggregator",
    "first_sample_select",
    "majority_vote_select",
    "oracle_select",
    "select_argmax",
    "selection_accuracy",
]


def select_argmax(scores, tie_break="first", secondary=None, random_state=None) -> np.ndarray:
    """Index of the best candidate per query for ``(Q, N)`` scores or a list of ``(N_i,)`` arrays.

    NaN entries (padding) are never selected. ``tie_break="first"`` keeps the first maximal
    index; ``"random"`` picks uniformly among maxima; ``secondary`` (same shape) breaks ties by a
    second score before that.
    """
    if tie_break not in ("first", "random"):
        raise ValueError(f"tie_break must be 'first' or 'random', got {tie_break!r}.")
    arr, valid, _ = pad_pools(scores, name="scores", ndim_item=1)
    arr = np.where(valid & np.isfinite(arr), arr, -np.inf)
    if arr.shape[1] == 0:
        raise ValueError("scores must have at least one candidate per query.")
    best = arr == arr.max(axis=1, keepdims=True)
    if secondary is not None:
        sec, _, _ = pad_pools(secondary, name="secondary", ndim_item=1)
        if sec.shape != arr.shape:
            raise ValueError(f"secondary must have the shape of scores {arr.shape}, got {sec.shape}.")
        sec = np.where(best & np.isfinite(sec), sec, -np.inf)
        best &= sec == sec.max(axis=1, keepdims=True)
    if tie_break == "first":
        return np.argmax(best, axis=1)
    rng = check_random_state(random_state)
    return np.argmax(np.where(best, rng.random_sample(best.shape), -1.0), axis=1)


def selection_accuracy(correct, idx) -> float:
    """Fraction of queries whose selected candidate is correct."""
    C, _, _ = pad_pools(correct, name="correct", ndim_item=1)
    idx = np.asarray(idx, dtype=int)
    if idx.shape != (C.shape[0],):
        raise ValueError(f"idx must have shape ({C.shape[0]},), got {idx.shape}.")
    return float(np.mean(np.nan_to_num(C[np.arange(C.shape[0]), idx]) > 0))


def first_sample_select(n_queries: int) -> np.ndarray:
    """Pass@1 baseline: candidate 0 of every query."""
    return np.zeros(int(n_queries), dtype=int)


def oracle_select(correct) -> np.ndarray:
    """Pass@N oracle: a correct candidate whenever one exists (first one), else candidate 0."""
    C, valid, _ = pad_pools(correct, name="correct", ndim_item=1)
    return np.argmax(np.where(valid, np.nan_to_num(C), 0) > 0, axis=1)


def majority_vote_select(answers, no_answer: int = -1) -> np.ndarray:
    """Most frequent extracted answer (ignoring ``no_answer``); first candidate carrying it.

    Count ties go to the answer that occurs first in candidate order; a query with no answer at
    all selects candidate 0.
    """
    A, valid, _ = pad_pools(answers, name="answers", ndim_item=1)
    out = np.zeros(A.shape[0], dtype=int)
    for i in range(A.shape[0]):
        a = A[i]
        ok = valid[i] & (a != no_answer) & np.isfinite(a)
        if not ok.any():
            continue
        _vals, first, counts = np.unique(a[ok], return_index=True, return_counts=True)
        pos = np.flatnonzero(ok)[first]
        order = np.lexsort((pos, -counts))
        out[i] = pos[order[0]]
    return out


def _prepare(S, answers, mv, name="S"):
    arr, valid, ragged = pad_pools(S, name=name)
    if answers is not None:
        A, _avalid, _ = pad_pools(answers, name="answers", ndim_item=1)
        if A.shape != arr.shape[:2]:
            raise ValueError(f"answers must match the pools' shape {arr.shape[:2]}, got {A.shape}.")
        if mv:
            arr = np.concatenate([arr, majority_vote_verifier(np.nan_to_num(A, nan=-1), valid=valid)[:, :, None]],
                                 axis=2)
    arr = np.where(valid[:, :, None], arr, np.nan)
    return arr, valid, ragged


def _labels(y, valid, name="y"):
    Y, _yvalid, _ = pad_pools(y, name=name, ndim_item=1)
    if Y.shape != valid.shape:
        raise ValueError(f"{name} must match the pools' shape {valid.shape}, got {Y.shape}.")
    f = Y[valid]
    if not np.all((f == 0) | (f == 1)):
        raise ValueError(f"{name} must contain only 0/1 labels.")
    return Y


def _unpad(scores, valid, ragged):
    scores = np.where(valid, scores, np.nan)
    return [scores[i, valid[i]] for i in range(scores.shape[0])] if ragged else scores


def _estimate_class_balance(Sn, valid) -> float:
    """Label-free P(correct) from votes at each verifier's median.

    Functions of conditionally independent scores stay conditionally independent, so any fixed
    threshold gives votes the label model's assumptions hold for; the median keeps every vote
    informative before the class balance (and hence the ``"cb"`` threshold) is known. Degenerate
    verifiers are dropped by the ``"all"`` rule first.
    """
    votes = apply_thresholds(Sn, cb_thresholds(Sn, 0.5))
    keep = filter_verifiers(votes, "all", valid=valid, fallback_all=True)
    return float(estimate_class_balance(votes[valid][:, keep], cardinality=2)[1])


class _PoolAggregator(BaseEstimator):
    def _fit_normalizer(self, S):
        self.n_verifiers_in_ = S.shape[2]
        finite = np.isfinite(S).any(axis=(0, 1))
        self.used_columns_ = np.flatnonzero(finite)
        if self.used_columns_.size == 0:
            raise ValueError("S: every verifier column is all-NaN.")
        self.normalizer_ = VerifierNormalizer(self.normalize, self.scope, random_state=self.random_state)
        return self.normalizer_.fit(S[:, :, self.used_columns_])

    def _normed(self, S, valid):
        if S.shape[2] != self.n_verifiers_in_:
            raise ValueError(f"S must have {self.n_verifiers_in_ - self._mv_extra} verifiers "
                             f"(after the MV pseudo-verifier: {self.n_verifiers_in_}), got {S.shape[2]}.")
        return self.normalizer_.transform(S[:, :, self.used_columns_], valid)

    def select(self, S, answers=None) -> np.ndarray:
        """Index of the selected candidate per query."""
        return select_argmax(self.score_candidates(S, answers), tie_break="first")


class WeaverAggregator(_PoolAggregator):
    """Normalise -> binarise -> filter -> label model -> ``P(correct)`` per candidate.

    Parameters
    ----------
    normalize : "minmax", "quantile", "winsorize" or None.
    scope : "all_problems" or "per_problem".
    threshold : "cb" (class-balance quantile per verifier) or a float in [0, 1].
    filter : "all", "small", "large", "adaptive" or None.
    mv_as_verifier : bool, append the majority-vote pseudo-verifier when ``answers`` are given
        (default False: it cost 1-2 points of selection accuracy on the candidate-pool testbed,
        see the module docstring; True is the official configuration).
    class_balance : "labels" (mean of ``y`` given to ``fit``), "estimate" (label-free: the
        maximum-likelihood prior of the label model's assumptions, from votes at each verifier's
        median, :func:`~diversa.combine.verifiers.label_model.estimate_class_balance`) or a float
        in (0, 1).
    tie_break : "first" or "naive" (ties broken by 1e-6 x the mean normalised score).
    label_model_params : dict of :class:`BinaryLabelModel` parameters.
    random_state : int or None.

    Attributes: ``kept_verifiers_`` (indices into the columns of S, MV = ``V``), ``thresholds_``,
    ``label_model_``, ``verifier_names_``, ``class_balance_``.
    """

    def __init__(self, normalize="minmax", scope="all_problems", threshold="cb", filter="all",
                 mv_as_verifier=False, class_balance="labels", tie_break="first", label_model_params=None,
                 random_state=None):
        self.normalize = normalize
        self.scope = scope
        self.threshold = threshold
        self.filter = filter
        self.mv_as_verifier = mv_as_verifier
        self.class_balance = class_balance
        self.tie_break = tie_break
        self.label_model_params = label_model_params
        self.random_state = random_state

    def fit(self, S, answers=None, y=None, verifier_names=None):
        if self.tie_break not in ("first", "naive"):
            raise ValueError(f"tie_break must be 'first' or 'naive', got {self.tie_break!r}.")
        arr, valid, _ = _prepare(S, answers, self.mv_as_verifier)
        self._mv_extra = int(self.mv_as_verifier and answers is not None)
        self._mv_used = bool(self._mv_extra)
        cb = self.class_balance
        if isinstance(cb, str):
            if cb not in ("labels", "estimate"):
                raise ValueError(f"class_balance must be 'labels', 'estimate' or a float, got {cb!r}.")
            if cb == "labels" and y is None:
                raise ValueError("class_balance='labels' needs y; pass class_balance='estimate' or a float "
                                 "to run label-free.")
        elif isinstance(cb, bool) or not isinstance(cb, numbers.Real):
            raise TypeError(f"class_balance must be a float, 'labels' or 'estimate', got {type(cb).__name__}.")
        elif not 0 < cb < 1:
            raise ValueError(f"class_balance must lie in (0, 1), got {cb}.")
        self._fit_normalizer(arr)
        Sn = self._normed(arr, valid)
        if cb == "labels":
            cb = float(_labels(y, valid)[valid].mean())
        elif cb == "estimate":
            cb = _estimate_class_balance(Sn, valid)
        self.class_balance_ = float(cb)
        if isinstance(self.threshold, str):
            if self.threshold != "cb":
                raise ValueError(f"threshold must be 'cb' or a float, got {self.threshold!r}.")
            self.thresholds_ = cb_thresholds(Sn, self.class_balance_)
        else:
            self.thresholds_ = np.array([np.nan if is_binary_column(Sn[:, :, v]) else float(self.threshold)
                                         for v in range(Sn.shape[2])])
        votes = apply_thresholds(Sn, self.thresholds_)
        self._keep_local = filter_verifiers(votes, self.filter, self.class_balance_, valid=valid)
        self.kept_verifiers_ = self.used_columns_[self._keep_local]
        names = list(verifier_names) if verifier_names is not None else \
            [f"v{j}" for j in range(arr.shape[2] - self._mv_extra)]
        if self._mv_extra:
            names.append("majority_vote")
        if len(names) != arr.shape[2]:
            raise ValueError(f"verifier_names must have {arr.shape[2] - self._mv_extra} names, got {len(names) - self._mv_extra}.")
        self.verifier_names_ = [names[j] for j in self.kept_verifiers_]
        params = dict(self.label_model_params or {})
        params.setdefault("random_state", self.random_state)
        params["class_balance"] = self.class_balance_
        self.label_model_ = BinaryLabelModel(**params).fit(votes[valid][:, self._keep_local])
        return self

    def score_candidates(self, S, answers=None):
        """``P(correct | votes)`` per candidate, ``(Q, N)`` (or a list for ragged input)."""
        check_is_fitted(self, "label_model_")
        if self._mv_used and answers is None:
            raise ValueError("answers are required: the model was fitted with the majority-vote pseudo-verifier.")
        arr, valid, ragged = _prepare(S, answers if self._mv_used else None, self._mv_used)
        Sn = self._normed(arr, valid)
        votes = apply_thresholds(Sn, self.thresholds_)[:, :, self._keep_local]
        post = self.label_model_.predict_proba(votes.reshape(-1, votes.shape[2]))[:, 1].reshape(votes.shape[:2])
        if self.tie_break == "naive":
            post = post + 1e-6 * np.nanmean(Sn, axis=2)
        return _unpad(post, valid, ragged)


class NaiveEnsembleAggregator(_PoolAggregator):
    """Unweighted baseline: mean of the normalised (not binarised) verifier scores.

    ``filter`` (optional) drops verifiers by the marginals of their ``"cb"`` votes, which needs
    ``class_balance``; default None keeps every verifier.
    """

    def __init__(self, normalize="minmax", scope="all_problems", mv_as_verifier=False, filter=None,
                 class_balance="labels", random_state=None):
        self.normalize = normalize
        self.scope = scope
        self.mv_as_verifier = mv_as_verifier
        self.filter = filter
        self.class_balance = class_balance
        self.random_state = random_state

    def fit(self, S, answers=None, y=None):
        arr, valid, _ = _prepare(S, answers, self.mv_as_verifier)
        self._mv_extra = self._mv_used = int(self.mv_as_verifier and answers is not None)
        self._fit_normalizer(arr)
        Sn = self._normed(arr, valid)
        self.kept_ = np.arange(Sn.shape[2])
        if self.filter is not None:
            cb = self.class_balance
            if isinstance(cb, str):
                if y is None:
                    raise ValueError("class_balance='labels' needs y for filtering.")
                cb = float(_labels(y, valid)[valid].mean())
            votes = apply_thresholds(Sn, cb_thresholds(Sn, cb))
            self.kept_ = filter_verifiers(votes, self.filter, cb, valid=valid)
        return self

    def score_candidates(self, S, answers=None):
        check_is_fitted(self, "kept_")
        arr, valid, ragged = _prepare(S, answers if self._mv_used else None, bool(self._mv_used))
        return _unpad(self._normed(arr, valid)[:, :, self.kept_].mean(axis=2), valid, ragged)


class SupervisedVerifierEnsemble(_PoolAggregator):
    """Supervised upper baseline on normalised scores (needs labels ``y``).

    ``method="logistic"``: ``LogisticRegression(class_weight="balanced", solver="newton-cholesky",
    max_iter=1000)`` with the default L2 penalty (the official configuration; ``penalty="l2"`` is not
    passed because scikit-learn >= 1.8 deprecates the argument); ``"naive_bayes"``:
    votes at the ``"cb"`` threshold with TPR/TNR estimated from labels (clipped to [0.01, 0.99]).
    """

    def __init__(self, method="logistic", normalize="minmax", scope="all_problems", mv_as_verifier=False,
                 random_state=None):
        self.method = method
        self.normalize = normalize
        self.scope = scope
        self.mv_as_verifier = mv_as_verifier
        self.random_state = random_state

    def fit(self, S, answers=None, y=None):
        if self.method not in ("logistic", "naive_bayes"):
            raise ValueError(f"method must be 'logistic' or 'naive_bayes', got {self.method!r}.")
        if y is None:
            raise ValueError("y is required for SupervisedVerifierEnsemble.")
        arr, valid, _ = _prepare(S, answers, self.mv_as_verifier)
        self._mv_extra = self._mv_used = int(self.mv_as_verifier and answers is not None)
        Y = _labels(y, valid)
        self._fit_normalizer(arr)
        X, t = self._normed(arr, valid)[valid], Y[valid].astype(int)
        if np.unique(t).size < 2:
            raise ValueError("y must contain both classes.")
        if self.method == "logistic":
            self.model_ = LogisticRegression(class_weight="balanced", solver="newton-cholesky", max_iter=1000).fit(X, t)
        else:
            cb = float(t.mean())
            self.thresholds_ = cb_thresholds(X[None], cb)
            votes = apply_thresholds(X[None], self.thresholds_)[0]
            tpr = np.clip(votes[t == 1].mean(axis=0), 0.01, 0.99)
            tnr = np.clip(1 - votes[t == 0].mean(axis=0), 0.01, 0.99)
            mu = np.empty((2 * X.shape[1], 2))
            mu[0::2, 0], mu[1::2, 0], mu[1::2, 1], mu[0::2, 1] = tnr, 1 - tnr, tpr, 1 - tpr
            lm = BinaryLabelModel(class_balance=cb)
            lm.mu_, lm.class_balance_, lm.n_features_in_ = mu, np.array([1 - cb, cb]), X.shape[1]
            self.model_ = lm
        return self

    def score_candidates(self, S, answers=None):
        check_is_fitted(self, "model_")
        arr, valid, ragged = _prepare(S, answers if self._mv_used else None, bool(self._mv_used))
        X = self._normed(arr, valid)
        flat = np.nan_to_num(X.reshape(-1, X.shape[2]))
        if self.method == "naive_bayes":
            flat = apply_thresholds(flat[None], self.thresholds_)[0]
        p = self.model_.predict_proba(flat)[:, 1].reshape(X.shape[:2])
        return _unpad(p, valid, ragged)


class BestSingleVerifier(_PoolAggregator):
    """Select by the single verifier with the best labelled selection accuracy on the fit pools."""

    def __init__(self, normalize="minmax", scope="all_problems"):
        self.normalize = normalize
        self.scope = scope
        self.random_state = None

    def fit(self, S, answers=None, y=None):
        if y is None:
            raise ValueError("y is required for BestSingleVerifier.")
        arr, valid, _ = _prepare(S, None, False)
        self._mv_extra = 0
        Y = _labels(y, valid)
        self._fit_normalizer(arr)
        Sn = self._normed(arr, valid)
        self.accuracies_ = np.array([selection_accuracy(np.where(valid, Y, 0), select_argmax(
            np.where(valid, Sn[:, :, v], np.nan))) for v in range(Sn.shape[2])])
        self.best_ = int(np.argmax(self.accuracies_))
        self.best_verifier_ = int(self.used_columns_[self.best_])
        return self

    def score_candidates(self, S, answers=None):
        check_is_fitted(self, "best_")
        arr, valid, ragged = _prepare(S, None, False)
        return _unpad(self._normed(arr, valid)[:, :, self.best_], valid, ragged)
