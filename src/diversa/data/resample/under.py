"""Random majority under-sampling at u percent, alone and followed by SMOTE.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813, section 5: the majority class is
under-sampled "until the minority class becomes some specified percentage of
the majority class". Under-sampling at ``u`` percent keeps

    n_majority_new = round(T * 100 / u), clipped to [1, n_majority],

majority rows, drawn without replacement, where ``T`` is the minority count.
``u > 100`` therefore keeps *fewer* majority than minority rows; the paper's
example: 50 minority samples and ``u = 200`` leave 25 majority samples.

The paper's ROC curves combine SMOTE with under-sampling. Whether ``T`` there
is the minority count before or after SMOTE is not stated (the spec marks it
UNVERIFIED); :class:`SMOTEUnder` uses the ORIGINAL minority count, so that
"Under(u)" and "SMOTE(N) + Under(u)" keep exactly the same number of majority
rows and differ only by the synthetic points (the cleanest paired
comparison).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ._checks import (
    OutputFormat,
    as_random_state,
    check_label_present,
    check_labels,
    check_percentage,
    check_y_matches,
    feature_names_of,
    most_frequent,
)
from .smote import SMOTE, check_numeric_input


def n_majority_after_undersampling(n_minority: int, percentage: float, n_majority: int) -> int:
    """Majority rows kept by under-sampling at ``percentage`` = u percent.

    ``round(n_minority * 100 / u)`` (halves up), clipped to ``[1, n_majority]``.
    Example from the paper: 50 minority rows and ``u = 200`` keep 25.
    """
    percentage = check_percentage(percentage)
    kept = int(math.floor(n_minority * 100.0 / percentage + 0.5))
    return min(max(kept, 1), int(n_majority))


def pick_labels(classes, counts, minority_label, majority_label) -> tuple:
    """Resolve (minority, majority) labels: given ones, else least/most frequent.

    When only one is given the other is the least (or most) frequent of the
    remaining classes; both must be classes of y and differ.
    """
    sizes = dict(zip(classes.tolist(), counts.tolist()))
    majority = (
        most_frequent(classes, counts)
        if majority_label is None
        else check_label_present(majority_label, classes, "majority_label")
    )
    if minority_label is None:
        others = [label for label in sizes if label != majority]
        minority = min(others, key=lambda label: sizes[label])
    else:
        minority = check_label_present(minority_label, classes, "minority_label")
    if minority == majority:
        raise ValueError(
            f"minority_label and majority_label must differ; both resolve to {minority!r}."
        )
    return minority, majority


def _rows_of(X):
    """Row-indexable view of X: DataFrames and sparse matrices as they are, else an array."""
    if isinstance(X, pd.DataFrame) or hasattr(X, "tocsr"):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features); got shape {X.shape}.")
    return X


def _take_rows(X, indices):
    if isinstance(X, pd.DataFrame):
        return X.iloc[indices].reset_index(drop=True)
    return X[indices]


class RandomUnderSampler(BaseEstimator):
    """Random majority under-sampling at ``percentage`` = u percent (Chawla et al., 2002).

    Keeps ``round(T * 100 / u)`` majority rows (clipped to ``[1, n_majority]``),
    drawn without replacement; every other class is kept whole. ``u`` is the
    minority size as a percentage of the *new* majority size, so ``u > 100``
    keeps fewer majority than minority rows: with ``T = 50`` minority rows,
    ``u = 200`` keeps 25 majority rows, ``u = 100`` keeps 50, ``u = 25``
    keeps 200.

    Parameters
    ----------
    percentage : float, default=100
        ``u`` in percent, > 0.
    majority_label : label, default=None
        Class to under-sample; None means the most frequent class.
    reference_minority_count : int, default=None
        ``T``; None means the size of the least frequent other class.
        :class:`SMOTEUnder` passes the minority count before SMOTE.
    random_state : None, int, RandomState or Generator, default=None

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the kept rows of ``X``, ascending (rows keep their order).
    majority_label_ : label
    n_majority_kept_ : int

    Notes
    -----
    Any ``X`` works (numeric, object, DataFrame, sparse); missing values are
    allowed since nothing is computed from ``X``. DataFrames come back as
    DataFrames with a fresh index.
    """

    def __init__(
        self, percentage=100, majority_label=None, reference_minority_count=None, random_state=None
    ):
        self.percentage = percentage
        self.majority_label = majority_label
        self.reference_minority_count = reference_minority_count
        self.random_state = random_state

    def fit_resample(self, X, y):
        """Under-sample the majority class; returns ``(X_resampled, y_resampled)``.

        ``X`` has n rows, ``y`` shape (n,); the result holds the kept rows in
        their original order.
        """
        output = OutputFormat.of(X, y)
        feature_names = feature_names_of(X)
        X = _rows_of(X)
        y, classes, counts = check_labels(y)
        check_y_matches(X.shape[0], y)
        percentage = check_percentage(self.percentage)
        minority, majority = pick_labels(classes, counts, None, self.majority_label)
        sizes = dict(zip(classes.tolist(), counts.tolist()))
        reference = self._reference_count(sizes[minority])
        n_kept = n_majority_after_undersampling(reference, percentage, sizes[majority])

        majority_rows = np.flatnonzero(y == majority)
        random_state = as_random_state(self.random_state)
        kept_majority = random_state.choice(majority_rows.size, size=n_kept, replace=False)
        keep = y != majority
        keep[majority_rows[kept_majority]] = True
        indices = np.flatnonzero(keep)

        self.sample_indices_ = indices
        self.majority_label_ = majority
        self.n_majority_kept_ = n_kept
        self.n_features_in_ = X.shape[1]
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        X_res = _take_rows(X, indices)
        return X_res, output.target(y[indices])

    def _reference_count(self, minority_count: int) -> int:
        reference = self.reference_minority_count
        if reference is None:
            return minority_count
        if isinstance(reference, bool) or not isinstance(reference, numbers.Integral) or reference < 1:
            raise ValueError(
                f"reference_minority_count must be an integer >= 1 or None; got {reference!r}."
            )
        return int(reference)


class SMOTEUnder(BaseEstimator):
    """The paper's SMOTE + under-sampling: Under(u) of the majority, then SMOTE(N) of the minority.

    The majority keeps ``round(T * 100 / u)`` rows with ``T`` the ORIGINAL
    minority count (spec resolution of an UNVERIFIED detail, see the module
    docstring), then the minority gets ``round(N/100 * T)`` SMOTE samples.
    With the same ``random_state`` as a :class:`RandomUnderSampler`, the kept
    majority rows are the same, so the two differ only by the synthetic rows.

    Parameters
    ----------
    smote_percentage : float, default=200
        SMOTE amount ``N`` in percent.
    under_percentage : float, default=100
        Under-sampling ``u`` in percent.
    k_neighbors : int, default=5
    random_state : None, int, RandomState or Generator, default=None
        One stream feeds the under-sampling draws, then the SMOTE draws.
    minority_label, majority_label : label, default=None
        None: least / most frequent class.
    n_jobs : int, default=None
        Parallel jobs for the neighbour search.

    Attributes
    ----------
    under_sampler_ : RandomUnderSampler
    smote_ : SMOTE
        The fitted steps; ``smote_``'s indices refer to the under-sampled data.
    sample_indices_ : ndarray
        Rows of ``X`` kept by the under-sampling (they come first in the output).
    minority_label_, majority_label_ : labels
    """

    def __init__(
        self,
        smote_percentage=200,
        under_percentage=100,
        k_neighbors=5,
        random_state=None,
        minority_label=None,
        majority_label=None,
        n_jobs=None,
    ):
        self.smote_percentage = smote_percentage
        self.under_percentage = under_percentage
        self.k_neighbors = k_neighbors
        self.random_state = random_state
        self.minority_label = minority_label
        self.majority_label = majority_label
        self.n_jobs = n_jobs

    def fit_resample(self, X, y):
        """Under-sample, then over-sample; returns ``(X_resampled, y_resampled)``.

        ``X`` (n, d) numeric and finite, ``y`` (n,). Output: the kept original
        rows in their order, then the synthetic minority rows.
        """
        smote = SMOTE(
            percentage=self.smote_percentage,
            k_neighbors=self.k_neighbors,
            n_jobs=self.n_jobs,
        )
        # Validate everything (and hint at SMOTENC/SMOTEN) before drawing anything.
        check_percentage(self.smote_percentage, "smote_percentage")
        check_percentage(self.under_percentage, "under_percentage")
        check_numeric_input(X, y, estimator=self)
        _, classes, counts = check_labels(np.asarray(y))
        minority, majority = pick_labels(classes, counts, self.minority_label, self.majority_label)
        sizes = dict(zip(classes.tolist(), counts.tolist()))
        random_state = as_random_state(self.random_state)
        under = RandomUnderSampler(
            percentage=self.under_percentage,
            majority_label=majority,
            reference_minority_count=sizes[minority],
            random_state=random_state,
        )
        X_under, y_under = under.fit_resample(X, y)
        smote.set_params(minority_label=minority, random_state=random_state)
        X_res, y_res = smote.fit_resample(X_under, y_under)

        self.under_sampler_ = under
        self.smote_ = smote
        self.sample_indices_ = under.sample_indices_
        self.minority_label_ = minority
        self.majority_label_ = majority
        self.n_features_in_ = smote.n_features_in_
        if hasattr(smote, "feature_names_in_"):
            self.feature_names_in_ = smote.feature_names_in_
        return X_res, y_res
