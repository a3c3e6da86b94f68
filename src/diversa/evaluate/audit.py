"""Post-hoc membership-inference audits: is the member/non-member split itself separable?

Meeus, Jain, Rei, de Montjoye, "Inherent Challenges of Post-Hoc Membership
Inference for Large Language Models", arXiv:2406.17975 (later versions with
Shilov and Faysse: "SoK: Membership Inference Attacks on LLMs are Rushing
Nowhere (and How to Fix It)", IEEE SaTML 2025).

Post-hoc MIA benchmarks choose "members" and "non-members" after a model's
release (e.g. documents before vs after its training cut-off), so the two sets
differ in distribution and an attack can score well without any memorisation.
This module measures that shift without a model:

* :class:`BagOfWordsShiftDetector` — the paper's bag-of-words classifier
  (``CountVectorizer(min_df=0.05)`` + a depth-2 random forest, stratified
  K-fold), out-of-fold ROC AUC with a bootstrap CI, TPR at low FPR, an
  optional permutation test and the words that carry the shift;
* :func:`mia_auc` — the paper's AUC / TPR@FPR reporting for any score;
* regression-discontinuity helpers for collecting members just before and
  non-members just after a known cut-off (:func:`rdd_split`,
  :func:`rdd_bandwidth_curve`, :func:`placebo_cutoffs`), and
  :func:`rdd_jump`, a local-linear estimate of the jump of a per-document
  score at the cut-off (our extension, not in the paper);
* loss-based MIA scores from token log-probabilities (:func:`mia_scores`).

A bag-of-words AUC near 0.5 does not certify that the sets are exchangeable:
it only says no shift is visible to a bag of words.
"""

from __future__ import annotations

import numbers
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

__all__ = [
    "BagOfWordsShiftDetector", "EmptyVocabularyError", "MIAResult", "RDDJump", "check_texts", "excess_over_placebo", "mia_auc",
    "mia_scores", "placebo_cutoffs", "rdd_bandwidth_curve", "rdd_jump", "rdd_split", "separability_auc",
    "tpr_at_fpr",
]

CLASSIFIERS = ("random_forest", "logistic")


# ---------------------------------------------------------------------------------------------
# AUC and TPR at low FPR with bootstrap uncertainty
# ---------------------------------------------------------------------------------------------

class MIAResult(NamedTuple):
    """ROC AUC and TPR at target FPRs of a membership score, with bootstrap spread.

    ``auc_ci`` and the values of ``tpr_at_fpr_ci`` are percentile intervals
    (``None`` when ``n_bootstrap == 0``); ``auc_std`` is the bootstrap
    standard deviation the official code reports as "+-".
    """

    auc: float
    auc_ci: tuple[float, float] | None
    auc_std: float | None
    tpr_at_fpr: dict[float, float]
    tpr_at_fpr_ci: dict[float, tuple[float, float]] | None
    n_bootstrap: int

    def to_dict(self) -> dict:
        """JSON-friendly form (FPR keys as strings)."""
        return {
            "auc": self.auc, "auc_ci": list(self.auc_ci) if self.auc_ci else None, "auc_std": self.auc_std,
            "tpr_at_fpr": {str(k): v for k, v in self.tpr_at_fpr.items()},
            "tpr_at_fpr_ci": ({str(k): list(v) for k, v in self.tpr_at_fpr_ci.items()}
                              if self.tpr_at_fpr_ci else None),
            "n_bootstrap": self.n_bootstrap,
        }


def _check_scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=float).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same length, got {scores.size} and {labels.size}.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite.")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError("labels must be 0 (non-member) or 1 (member).")
    labels = labels.astype(int)
    if labels.min() == labels.max():
        raise ValueError("labels must contain both members (1) and non-members (0).")
    return scores, labels


def tpr_at_fpr(labels, scores, target: float) -> float:
    """The largest TPR of any ROC point whose FPR is at most ``target``.

    This is what "TPR at FPR ``target``" promises: the detection rate reachable
    without exceeding the false-positive budget. The official code reads off
    the point whose FPR is *closest* to the target (``argmin |fpr - target|``),
    which can overshoot the budget and, on perfectly separated scores, picks the
    point (0, 0) and reports a TPR of 0 next to an AUC of 1; we do not follow it
    there. ``labels`` and ``scores`` have shape (n,); ``target`` lies in [0, 1].
    """
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(tpr[fpr <= target].max())


def _bootstrap_aucs(scores: np.ndarray, labels: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """AUC of every bootstrap resample (rows of ``draws``) by the rank-sum formula.

    Resamples with a single class are undefined and come back as NaN.
    """
    out = np.empty(len(draws))
    for start in range(0, len(draws), 100):  # chunks keep memory at 100 x n
        rows = draws[start:start + 100]
        ranks = stats.rankdata(scores[rows], axis=1)
        positives = labels[rows]
        n1 = positives.sum(1).astype(float)
        n0 = rows.shape[1] - n1
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + 100] = ((ranks * positives).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return out


def mia_auc(scores, labels, n_bootstrap: int = 1000, fpr_targets: Sequence[float] = (0.1, 0.01),
            confidence: float = 0.95, random_state=None) -> MIAResult:
    """ROC AUC and TPR@FPR of membership scores, with a bootstrap over (label, score) pairs.

    Parameters
    ----------
    scores : array-like of shape (n,), higher means "member".
    labels : array-like of shape (n,), 1 for members and 0 for non-members.
    n_bootstrap : resamples of the pairs (0 skips the bootstrap); the paper's
        code reports mean +- std, we also give the percentile interval.
    fpr_targets : FPRs at which the TPR is read off.
    confidence : coverage of the percentile intervals.
    random_state : seed of the bootstrap.
    """
    scores, labels = _check_scores_labels(scores, labels)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, numbers.Integral) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be an int >= 0, got {n_bootstrap!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}.")
    targets = tuple(float(t) for t in fpr_targets)
    if not all(0 <= t <= 1 for t in targets):
        raise ValueError(f"fpr_targets must lie in [0, 1], got {list(fpr_targets)}.")
    auc = float(roc_auc_score(labels, scores))
    tprs = {t: tpr_at_fpr(labels, scores, t) for t in targets}
    if n_bootstrap == 0:
        return MIAResult(auc, None, None, tprs, None, 0)
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, scores.size, size=(int(n_bootstrap), scores.size))
    aucs = _bootstrap_aucs(scores, labels, draws)
    valid = np.isfinite(aucs)
    draws, aucs = draws[valid], aucs[valid]
    tail = 100 * (1 - confidence) / 2
    boot_tprs = {t: np.array([tpr_at_fpr(labels[row], scores[row], t) for row in draws]) for t in targets}
    return MIAResult(
        auc=auc,
        auc_ci=tuple(float(v) for v in np.percentile(aucs, [tail, 100 - tail])),
        auc_std=float(aucs.std()),
        tpr_at_fpr=tprs,
        tpr_at_fpr_ci={t: tuple(float(v) for v in np.percentile(b, [tail, 100 - tail])) for t, b in boot_tprs.items()},
        n_bootstrap=int(valid.sum()),
    )


# ---------------------------------------------------------------------------------------------
# The bag-of-words shift detector
# ---------------------------------------------------------------------------------------------

def check_texts(name: str, texts) -> list[str]:
    """``texts`` as a list of str; TypeError naming ``name`` otherwise."""
    if isinstance(texts, (str, bytes)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}.")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(text).__name__}.")
    return texts


class EmptyVocabularyError(ValueError):
    """No word is frequent enough (``min_df``) in a fold's training documents to build a bag of words."""


def _check_min_df(min_df):
    if isinstance(min_df, bool):
        raise TypeError(f"min_df must be a float in (0, 1] or an int >= 1, got {min_df!r}.")
    if isinstance(min_df, numbers.Integral) and min_df >= 1:
        return int(min_df)
    if isinstance(min_df, numbers.Real) and not isinstance(min_df, numbers.Integral) and 0 < min_df <= 1:
        return float(min_df)
    raise ValueError(f"min_df must be a float in (0, 1] or an int >= 1, got {min_df!r}.")


class BagOfWordsShiftDetector(BaseEstimator):
    """Model-free audit of a member/non-member split: can a bag of words tell them apart?

    Implements the paper's detector (official defaults): stratified K-fold
    with ``K = int(1 / test_size)`` (shuffled, seeded); in each fold a
    ``CountVectorizer(min_df)`` fitted on the training texts only and a
    classifier (``RandomForestClassifier(n_estimators, max_depth,
    min_samples_leaf)`` or a logistic regression, which finds more shift);
    the out-of-fold P(member) of every document is pooled into one ROC AUC
    (:func:`mia_auc`). ``shift_detected_`` is True when the bootstrap lower
    bound of the AUC exceeds ``0.5 + margin``. The official code sets no
    random_state on the forest (so its runs differ); we seed it.

    Parameters
    ----------
    min_df : float in (0, 1] (fraction of training documents) or int >= 1.
    n_estimators, max_depth, min_samples_leaf : the random forest's.
    test_size : 1/K of the stratified K-fold (0.2 -> 5 folds).
    n_splits : K itself, overriding ``test_size`` when given.
    classifier : "random_forest" (the paper's) or "logistic".
    n_bootstrap : bootstrap resamples for the AUC/TPR intervals (0: none; the
        verdict then uses the point estimate).
    fpr_targets : FPRs at which the TPR is reported.
    margin : shift is declared when the AUC's lower bound exceeds 0.5 + margin.
    n_permutations : label permutations for a Monte Carlo p-value (0: none).
    n_top_features : how many discriminative words to report.
    random_state : int or None; seeds the folds, the forest and the bootstrap.
    n_jobs : joblib workers for the permutation test (the results do not depend on it).

    Attributes
    ----------
    labels_ : ndarray (n,), 1 for ``texts_a`` (members), 0 for ``texts_b``.
    oof_scores_ : ndarray (n,), out-of-fold P(member).
    fold_of_ : ndarray (n,), the fold in which each document was scored.
    fold_vocabularies_ : list of K sets of words, each fold's training vocabulary.
    auc_, auc_ci_, auc_std_ : out-of-fold ROC AUC, its interval and bootstrap std.
    tpr_at_fpr_, tpr_at_fpr_ci_ : dicts keyed by target FPR.
    top_features_ : list of (word, mean importance, df in texts_a, df in texts_b).
    shift_detected_ : bool.
    permutation_aucs_, pvalue_ : permutation AUCs and ``(1 + #{perm >= auc}) /
        (1 + n_permutations)``, or None without permutations.
    """

    def __init__(self, min_df=0.05, n_estimators=100, max_depth=2, min_samples_leaf=5, test_size=0.2,
                 n_splits=None, classifier="random_forest", n_bootstrap=1000, fpr_targets=(0.1, 0.01),
                 margin=0.05, n_permutations=0, n_top_features=20, random_state=42, n_jobs=None):
        self.min_df = min_df
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.test_size = test_size
        self.n_splits = n_splits
        self.classifier = classifier
        self.n_bootstrap = n_bootstrap
        self.fpr_targets = fpr_targets
        self.margin = margin
        self.n_permutations = n_permutations
        self.n_top_features = n_top_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- configuration ---------------------------------------------------------------------
    def _folds(self) -> int:
        if self.n_splits is not None:
            k = self.n_splits
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
                raise ValueError(f"n_splits must be an int >= 2, got {k!r}.")
            return int(k)
        if not isinstance(self.test_size, numbers.Real) or not 0 < self.test_size <= 0.5:
            raise ValueError(f"test_size must lie in (0, 0.5], got {self.test_size!r}.")
        return int(1 / self.test_size)  # the official code's rule

    def _check_params(self) -> None:
        _check_min_df(self.min_df)
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {self.classifier!r}.")
        for name in ("n_permutations", "n_top_features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}.")
        if not isinstance(self.margin, numbers.Real) or not 0 <= self.margin < 0.5:
            raise ValueError(f"margin must lie in [0, 0.5), got {self.margin!r}.")

    def _make_classifier(self, seed):
        if self.classifier == "random_forest":
            return RandomForestClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                          min_samples_leaf=self.min_samples_leaf, random_state=seed)
        return LogisticRegression(max_iter=2000)

    # -- the cross-validated audit ---------------------------------------------------------
    def _fold_scores(self, texts: list[str], labels: np.ndarray, train: np.ndarray, test: np.ndarray, seed):
        """P(member) of the test documents, the training vocabulary and word importances."""
        vectorizer = CountVectorizer(min_df=_check_min_df(self.min_df))
        train_texts = [texts[i] for i in train]
        try:
            X_train = vectorizer.fit_transform(train_texts)
        except ValueError:
            # No word survives min_df (empty texts, or min_df above the number of documents): an AUC
            # of 0.5 would read as "no shift" when nothing was measured, so refuse instead.
            raise EmptyVocabularyError(
                f"no word (of two or more letters, CountVectorizer's tokens) occurs in at least "
                f"min_df={self.min_df!r} of the {len(train_texts)} training documents of a fold, so the bag of "
                "words is empty and nothing can be audited; lower min_df or check that the documents hold "
                "words.") from None
        X_test = vectorizer.transform([texts[i] for i in test])
        model = self._make_classifier(seed).fit(X_train, labels[train])
        words = vectorizer.get_feature_names_out()
        if self.classifier == "random_forest":
            importance = model.feature_importances_
        else:
            weights = np.abs(model.coef_[0])
            importance = weights / weights.sum() if weights.sum() > 0 else weights
        return model.predict_proba(X_test)[:, 1], set(words), dict(zip(words, importance))

    def _cross_validated(self, texts: list[str], labels: np.ndarray, seed):
        splitter = StratifiedKFold(n_splits=self._folds(), shuffle=True, random_state=seed)
        scores = np.empty(labels.size)
        fold_of = np.empty(labels.size, dtype=int)
        vocabularies, importances = [], []
        for fold, (train, test) in enumerate(splitter.split(np.zeros(labels.size), labels)):
            scores[test], vocabulary, importance = self._fold_scores(texts, labels, train, test, seed)
            fold_of[test] = fold
            vocabularies.append(vocabulary)
            importances.append(importance)
        return scores, fold_of, vocabularies, importances

    def fit(self, texts_a, texts_b):
        """Run the cross-validated audit of ``texts_a`` (members) against ``texts_b`` (non-members).

        Raises TypeError for non-str items, ValueError when a set has fewer
        than max(2, K) documents, and :class:`EmptyVocabularyError` (a
        ValueError) when no word passes ``min_df`` in some fold.
        """
        self._check_params()
        texts_a, texts_b = check_texts("texts_a", texts_a), check_texts("texts_b", texts_b)
        k = self._folds()
        for name, texts in (("texts_a", texts_a), ("texts_b", texts_b)):
            if len(texts) < max(2, k):
                raise ValueError(f"{name} has {len(texts)} documents; {k}-fold stratified CV needs at least {k}.")
        texts = texts_a + texts_b
        labels = np.r_[np.ones(len(texts_a), dtype=int), np.zeros(len(texts_b), dtype=int)]
        seed = self.random_state
        scores, fold_of, vocabularies, importances = self._cross_validated(texts, labels, seed)
        self.labels_, self.oof_scores_, self.fold_of_ = labels, scores, fold_of
        self.fold_vocabularies_, self.n_splits_ = vocabularies, k
        result = mia_auc(scores, labels, n_bootstrap=self.n_bootstrap, fpr_targets=self.fpr_targets,
                         random_state=seed)
        self.auc_, self.auc_ci_, self.auc_std_ = result.auc, result.auc_ci, result.auc_std
        self.tpr_at_fpr_, self.tpr_at_fpr_ci_ = result.tpr_at_fpr, result.tpr_at_fpr_ci
        lower = result.auc_ci[0] if result.auc_ci else result.auc
        self.shift_detected_ = bool(lower > 0.5 + self.margin)
        self.top_features_ = self._top_features(importances, texts_a, texts_b)
        self.permutation_aucs_, self.pvalue_ = self._permutation_test(texts, labels)
        return self

    def _top_features(self, importances: list[dict], texts_a: list[str], texts_b: list[str]) -> list[tuple]:
        """Words by mean importance across folds (0 where a fold lacks the word), with their
        document frequencies in each set."""
        total: dict[str, float] = {}
        for importance in importances:
            for word, value in importance.items():
                total[word] = total.get(word, 0.0) + float(value)
        ranked = sorted(((v / len(importances), w) for w, v in total.items() if v > 0), key=lambda p: (-p[0], p[1]))
        ranked = ranked[:self.n_top_features]
        if not ranked:
            return []
        words = [w for _, w in ranked]
        counter = CountVectorizer(vocabulary=words, binary=True)
        df_a = np.asarray(counter.transform(texts_a).mean(0)).ravel() if texts_a else np.zeros(len(words))
        df_b = np.asarray(counter.transform(texts_b).mean(0)).ravel() if texts_b else np.zeros(len(words))
        return [(w, float(v), float(a), float(b)) for (v, w), a, b in zip(ranked, df_a, df_b)]

    def _permutation_test(self, texts: list[str], labels: np.ndarray):
        if self.n_permutations == 0:
            return None, None
        rng = np.random.default_rng(self.random_state)
        # Drawn up front so the p-value does not depend on n_jobs.
        permutations = [rng.permutation(labels) for _ in range(self.n_permutations)]
        aucs = np.array(Parallel(n_jobs=self.n_jobs)(
            delayed(self._permuted_auc)(texts, permuted) for permuted in permutations))
        return aucs, float((1 + np.sum(aucs >= self.auc_)) / (1 + aucs.size))

    def _permuted_auc(self, texts: list[str], permuted: np.ndarray) -> float:
        scores = self._cross_validated(texts, permuted, self.random_state)[0]
        return float(roc_auc_score(permuted, scores))

    def report(self) -> dict:
        """JSON-friendly summary of the fitted audit, with a plain-language reading."""
        if not hasattr(self, "auc_"):
            raise ValueError("call fit(texts_a, texts_b) before report().")
        return {
            "n_members": int(self.labels_.sum()), "n_nonmembers": int((self.labels_ == 0).sum()),
            "n_splits": self.n_splits_, "classifier": self.classifier, "min_df": self.min_df,
            "auc": self.auc_, "auc_ci": list(self.auc_ci_) if self.auc_ci_ else None, "auc_std": self.auc_std_,
            "tpr_at_fpr": {str(k): v for k, v in self.tpr_at_fpr_.items()},
            "tpr_at_fpr_ci": ({str(k): list(v) for k, v in self.tpr_at_fpr_ci_.items()}
                              if self.tpr_at_fpr_ci_ else None),
            "margin": self.margin, "shift_detected": self.shift_detected_, "pvalue": self.pvalue_,
            "top_features": [{"word": w, "importance": v, "df_members": a, "df_nonmembers": b}
                             for w, v, a, b in self.top_features_],
            "reading": self.reading(),
        }

    def reading(self) -> str:
        """One sentence saying what the AUC means for MIA results on these sets."""
        ci = f" (95% CI {self.auc_ci_[0]:.3f}-{self.auc_ci_[1]:.3f})" if self.auc_ci_ else ""
        auc = f"bag-of-words AUC {self.auc_:.3f}{ci}"
        if self.shift_detected_:
            return (f"The sets are distinguishable without any model: {auc}. Membership-inference results "
                    "on them are confounded by distribution shift.")
        lower = self.auc_ci_[0] if self.auc_ci_ else self.auc_
        if lower > 0.5:
            return (f"A weak shift is visible: {auc} is above chance but within the margin of "
                    f"{self.margin:g}. Compare MIA scores against this floor, not against 0.5.")
        return (f"No bag-of-words-visible shift: {auc}. This does not prove the sets are exchangeable "
                "(other shifts may exist); a randomized member/non-member split is the only guarantee.")


def separability_auc(texts_a, texts_b, **params) -> float:
    """Out-of-fold AUC of :class:`BagOfWordsShiftDetector` (no bootstrap unless asked)."""
    params.setdefault("n_bootstrap", 0)
    return BagOfWordsShiftDetector(**params).fit(texts_a, texts_b).auc_


# ---------------------------------------------------------------------------------------------
# Regression-discontinuity collection around a training cut-off
# ---------------------------------------------------------------------------------------------

def _as_times(timestamps) -> np.ndarray:
    times = np.asarray(timestamps)
    if times.ndim != 1:
        raise ValueError(f"timestamps must be 1-D, got shape {times.shape}.")
    if times.dtype.kind not in "iufM":
        raise TypeError(f"timestamps must be numbers or numpy datetime64, got dtype {times.dtype}.")
    return times


def rdd_split(timestamps, cutoff, bandwidth, exclude=None) -> tuple[np.ndarray, np.ndarray]:
    """Members just before and non-members just after a training cut-off.

    members = ``cutoff - bandwidth <= t < cutoff``; non-members =
    ``cutoff <= t < cutoff + bandwidth``. Works for floats or numpy
    ``datetime64`` times with a ``timedelta64`` bandwidth. ``exclude=(lo,
    hi)`` drops a "donut" ``lo <= t < hi`` where membership is uncertain
    (data snapshots lag publication dates).

    Returns
    -------
    member_mask, nonmember_mask : bool ndarrays of shape (n,).
    """
    times = _as_times(timestamps)
    if not bandwidth > bandwidth * 0:  # "* 0" is the zero of its type: 0.0 or timedelta64(0)
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}.")
    members = (times >= cutoff - bandwidth) & (times < cutoff)
    nonmembers = (times >= cutoff) & (times < cutoff + bandwidth)
    if exclude is not None:
        low, high = exclude
        kept = ~((times >= low) & (times < high))
        members, nonmembers = members & kept, nonmembers & kept
    return members, nonmembers


def _audit_window(texts: list[str], members: np.ndarray, nonmembers: np.ndarray, detector, min_per_side: int) -> dict:
    row = {"n_members": int(members.sum()), "n_nonmembers": int(nonmembers.sum()),
           "auc": None, "auc_ci": None, "shift_detected": None}
    if min(row["n_members"], row["n_nonmembers"]) < min_per_side:
        return row
    fitted = clone(detector).fit([texts[i] for i in np.flatnonzero(members)],
                                 [texts[i] for i in np.flatnonzero(nonmembers)])
    row.update(auc=fitted.auc_, auc_ci=list(fitted.auc_ci_) if fitted.auc_ci_ else None,
               shift_detected=fitted.shift_detected_)
    return row


def rdd_bandwidth_curve(texts, timestamps, cutoff, bandwidths, detector=None, min_per_side: int = 20) -> list[dict]:
    """Bag-of-words AUC of the RDD split for each bandwidth.

    A valid design shows the AUC falling towards 0.5 as the bandwidth shrinks:
    the shift is continuous in time and membership is the only discontinuity.
    Windows with fewer than ``min_per_side`` documents on a side get
    ``auc=None``.

    Returns one dict per bandwidth: bandwidth, n_members, n_nonmembers, auc,
    auc_ci, shift_detected.
    """
    texts = check_texts("texts", texts)
    times = _as_times(timestamps)
    if len(texts) != times.size:
        raise ValueError(f"texts and timestamps must have the same length, got {len(texts)} and {times.size}.")
    detector = BagOfWordsShiftDetector() if detector is None else detector
    rows = []
    for h in bandwidths:
        members, nonmembers = rdd_split(times, cutoff, h)
        rows.append({"bandwidth": h, **_audit_window(texts, members, nonmembers, detector, min_per_side)})
    return rows


def placebo_cutoffs(texts, timestamps, cutoffs, bandwidth, detector=None, min_per_side: int = 20,
                    true_cutoff=None) -> list[dict]:
    """Bag-of-words AUC around fake cut-offs (placebos).

    Each placebo window ``[c' - h, c' + h)`` should lie on one side of the real
    cut-off (all members or all non-members; checked when ``true_cutoff`` is
    given), so its AUC is the natural drift over ``2h``: the floor any MIA
    evaluated on an RDD split must beat.

    Returns one dict per placebo cut-off: cutoff, n_members, n_nonmembers,
    auc, auc_ci, shift_detected.
    """
    texts = check_texts("texts", texts)
    times = _as_times(timestamps)
    if len(texts) != times.size:
        raise ValueError(f"texts and timestamps must have the same length, got {len(texts)} and {times.size}.")
    detector = BagOfWordsShiftDetector() if detector is None else detector
    rows = []
    for c in cutoffs:
        if true_cutoff is not None and c - bandwidth < true_cutoff < c + bandwidth:
            raise ValueError(f"placebo cutoff {c!r} with bandwidth {bandwidth!r} straddles the real cutoff "
                             f"{true_cutoff!r}.")
        members, nonmembers = rdd_split(times, c, bandwidth)
        rows.append({"cutoff": c, **_audit_window(texts, members, nonmembers, detector, min_per_side)})
    return rows


def excess_over_placebo(auc: float, placebo_rows: Sequence[dict]) -> float:
    """AUC at the real cut-off minus the mean AUC of the placebo cut-offs (rows without an AUC skipped)."""
    aucs = [row["auc"] for row in placebo_rows if row.get("auc") is not None]
    if not aucs:
        raise ValueError("no placebo cutoff has an AUC (too few documents in every window).")
    return float(auc - np.mean(aucs))


class RDDJump(NamedTuple):
    """Local-linear jump of a score at the cut-off (members' side minus non-members' side)."""

    statistic: float
    pvalue: float
    tau: float
    se: float
    n_left: int
    n_right: int


def rdd_jump(y, timestamps, cutoff, bandwidth, kernel: str = "triangular") -> RDDJump:
    """Sharp-RD estimate of the jump of a per-document score at the cut-off (our extension).

    Weighted least squares on the documents with ``|t - c| < h``, weights
    ``1 - |t - c| / h`` (triangular) or 1 (uniform), design
    ``[1, D, x, D x]`` with ``x = (t - c) / h`` and ``D = 1[t < c]`` (the
    member side); ``tau`` is D's coefficient (left limit minus right limit,
    positive when members score higher), with an HC1 sandwich standard error
    and a two-sided normal p-value for ``statistic = tau / se``. Equals
    ``-rdrobust(y, t, c, h, p=1, kernel="triangular")``'s conventional
    estimate. Not in the paper, which uses the RDD for data collection only.

    Parameters
    ----------
    y : array-like of shape (n,), e.g. an MIA score per document.
    timestamps : array-like of shape (n,), floats or datetime64.
    """
    if kernel not in ("triangular", "uniform"):
        raise ValueError(f"kernel must be 'triangular' or 'uniform', got {kernel!r}.")
    times = _as_times(timestamps)
    y = np.asarray(y, dtype=float).ravel()
    if y.size != times.size:
        raise ValueError(f"y and timestamps must have the same length, got {y.size} and {times.size}.")
    if not bandwidth > bandwidth * 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}.")
    x = np.asarray((times - cutoff) / bandwidth, dtype=float)  # dimensionless also for datetimes
    inside = np.abs(x) < 1
    x, y = x[inside], y[inside]
    left = x < 0
    n_left, n_right = int(left.sum()), int((~left).sum())
    if min(n_left, n_right) < 3:
        raise ValueError(f"rdd_jump needs >= 3 documents on each side within the bandwidth, got {n_left} and {n_right}.")
    w = 1 - np.abs(x) if kernel == "triangular" else np.ones_like(x)
    d = left.astype(float)
    X = np.column_stack([np.ones_like(x), d, x, d * x])
    bread = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = bread @ (X.T @ (w * y))
    residuals = y - X @ beta
    scores = X * (w * residuals)[:, None]  # per-document score contributions of the WLS fit
    meat = scores.T @ scores
    n, k = X.shape
    cov = bread @ meat @ bread * n / (n - k)
    tau, se = float(beta[1]), float(np.sqrt(cov[1, 1]))
    z = tau / se if se > 0 else (np.inf if tau != 0 else 0.0)
    return RDDJump(float(z), float(2 * stats.norm.sf(abs(z))), tau, se, n_left, n_right)


# ---------------------------------------------------------------------------------------------
# Loss-based membership scores
# ---------------------------------------------------------------------------------------------

def _logprob_rows(token_logprobs) -> list[np.ndarray]:
    rows = [np.asarray(row, dtype=float).ravel() for row in token_logprobs]
    for i, row in enumerate(rows):
        if row.size == 0 or not np.all(np.isfinite(row)):
            raise ValueError(f"token_logprobs[{i}] must be a non-empty finite array.")
    return rows


def mia_scores(token_logprobs, texts=None, k: float = 0.2) -> dict[str, np.ndarray]:
    """Loss-based membership scores (higher means "member") from per-token log-probabilities.

    * ``loss``: mean token log-probability (= minus the mean NLL);
    * ``zlib``: summed log-probability divided by the zlib-compressed length
      of the text in bytes (needs ``texts``);
    * ``min_k``: mean of the ``k`` fraction of lowest token log-probabilities
      (Min-K% Prob, k = 0.2 by default; at least one token).

    Parameters
    ----------
    token_logprobs : sequence of n 1-D arrays (documents may differ in length)
        or an array of shape (n, tokens).
    texts : sequence of n str, for the zlib score.
    """
    rows = _logprob_rows(token_logprobs)
    if not 0 < k <= 1:
        raise ValueError(f"k must lie in (0, 1], got {k}.")
    out = {
        "loss": np.array([row.mean() for row in rows]),
        "min_k": np.array([np.sort(row)[:max(1, int(k * row.size))].mean() for row in rows]),
    }
    if texts is not None:
        texts = check_texts("texts", texts)
        if len(texts) != len(rows):
            raise ValueError(f"texts and token_logprobs must have the same length, got {len(texts)} and {len(rows)}.")
        out["zlib"] = np.array([row.sum() / len(zlib.compress(text.encode("utf-8")))
                                for row, text in zip(rows, texts)])
    return out
