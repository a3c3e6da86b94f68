"""SMOTE-N: SMOTE for nominal features, with the Value Difference Metric.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813, section 6.2, using the modified
Value Difference Metric (VDM) of Cost and Salzberg (1993):

* per feature f, values v and w differ by
  ``delta_f(v, w) = sum_classes |P(c | x_f = v) - P(c | x_f = w)|`` (the
  exponent q = 1), the probabilities estimated on the whole training set
  (all classes);
* rows differ by ``Delta(a, b) = (sum_f delta_f(a_f, b_f)^r)^(1/r)``, default
  ``r = 1``, exemplar weights 1;
* a synthetic sample takes, feature by feature, the majority value among
  the base sample AND its k nearest minority neighbours (k + 1 votes), ties
  broken uniformly at random.

Every synthetic sample made from the same base sample therefore agrees with
it except where votes tie. The neighbour search is
``NearestNeighbors(metric="precomputed")`` on the ``(T, T)`` VDM matrix, so
memory grows as ``T^2`` for a class of ``T`` rows (as in imbalanced-learn).
imbalanced-learn's SMOTEN differs in three ways: its VDM uses ``r = 2``
without the root (same neighbour order as our ``r = 2``), it breaks ties
with the smallest encoded value instead of at random, and it draws base
samples uniformly with replacement (our ``sampling_strategy`` mode does the
same draw).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator

from ._checks import (
    OutputFormat,
    as_random_state,
    check_k_neighbors,
    check_labels,
    check_y_matches,
    feature_names_of,
)
from ._oversampling import (
    class_random_state,
    plan_oversampling,
    publish_per_class,
    synthetic_labels,
)
from ._table import Table
from .allocation import allocate_per_base
from .neighbours import within_class_neighbours
from .vote import majority_vote


def class_given_value(codes: np.ndarray, n_values: int, class_codes: np.ndarray, n_classes: int) -> np.ndarray:
    """``P(class | value)`` estimated by counting; shape (n_values, n_classes).

    ``codes`` and ``class_codes`` are (n,) integer codes of one feature and of
    the class labels. Values that never occur get a row of zeros.
    """
    joint = np.bincount(codes * n_classes + class_codes, minlength=n_values * n_classes)
    joint = joint.reshape(n_values, n_classes).astype(np.float64)
    totals = joint.sum(axis=1, keepdims=True)
    return np.divide(joint, totals, out=np.zeros_like(joint), where=totals > 0)


def value_differences(codes: np.ndarray, n_values: int, class_codes: np.ndarray, n_classes: int) -> np.ndarray:
    """VDM between the ``n_values`` codes of one feature; shape (n_values, n_values)."""
    probabilities = class_given_value(codes, n_values, class_codes, n_classes)
    return cdist(probabilities, probabilities, metric="cityblock")


def value_difference_matrix(column, y) -> tuple[np.ndarray, np.ndarray]:
    """The VDM between the values of one nominal feature (q = 1).

    ``column`` and ``y`` have shape (n,). Returns ``(values, delta)``: the
    distinct values (n_values,) in order of first appearance and the
    symmetric (n_values, n_values) matrix
    ``delta[i, j] = sum_c |P(c | values[i]) - P(c | values[j])|``, zero on the
    diagonal.
    """
    codes, values = pd.factorize(np.asarray(column, dtype=object), use_na_sentinel=False)
    classes, class_codes = np.unique(np.asarray(y), return_inverse=True)
    delta = value_differences(codes, len(values), class_codes, len(classes))
    return np.asarray(values, dtype=object), delta


def vdm_distances(codes: np.ndarray, deltas: list[np.ndarray], r: float) -> np.ndarray:
    """Pairwise VDM distances ``(sum_f delta_f(a_f, b_f)^r)^(1/r)`` between rows.

    ``codes`` (T, m) integer codes; ``deltas[f]`` the value-difference matrix
    of feature f. Returns a (T, T) float matrix.
    """
    distances = np.zeros((codes.shape[0], codes.shape[0]))
    for f, delta in enumerate(deltas):
        distances += delta[np.ix_(codes[:, f], codes[:, f])] ** r
    return distances ** (1.0 / r)


def check_r(r) -> float:
    """Return the VDM exponent ``r`` as a float after checking it is > 0."""
    if isinstance(r, bool) or not isinstance(r, numbers.Real) or not np.isfinite(r) or r <= 0:
        raise ValueError(f"r must be a finite number > 0 (1: Manhattan, 2: Euclidean); got {r!r}.")
    return float(r)


class SMOTEN(BaseEstimator):
    """SMOTE for Nominal features with the Value Difference Metric (Chawla et al., JAIR 2002).

    Parameters
    ----------
    percentage : float or dict, default=200
        SMOTE amount ``N`` in percent, allocated per base sample as in
        :class:`SMOTE`.
    k_neighbors : int, default=5
        Neighbours per base sample; the vote has ``k_neighbors + 1`` voters.
    r : float, default=1
        Exponent of the VDM row distance (1: Manhattan, 2: Euclidean).
    minority_label, sampling_strategy, n_jobs, random_state
        As in :class:`SMOTE`. With ``sampling_strategy``, base samples are
        drawn uniformly with replacement as imbalanced-learn does.

    Attributes
    ----------
    vdm_ : list of (values, delta)
        Per feature, the distinct values and their value-difference matrix
        (estimated on all classes).
    sampling_strategy_, minority_label_, minority_indices_, nn_indices_
        As in :class:`SMOTE`.
    base_indices_ : ndarray of shape (S,)
        Base sample (index into the minority rows) of each synthetic row; its
        voters are itself and ``nn_indices_[base]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only for DataFrames with string column names

    Notes
    -----
    Every column is nominal; values may be strings, numbers or None. Output
    has the caller's type (NumPy keeps its dtype, DataFrames keep columns and
    dtypes).
    """

    def __init__(
        self,
        percentage=200,
        k_neighbors=5,
        r=1,
        minority_label=None,
        sampling_strategy=None,
        n_jobs=None,
        random_state=None,
    ):
        self.percentage = percentage
        self.k_neighbors = k_neighbors
        self.r = r
        self.minority_label = minority_label
        self.sampling_strategy = sampling_strategy
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit_resample(self, X, y):
        """Over-sample and return ``(X_resampled, y_resampled)``: originals, then synthetic rows."""
        output = OutputFormat.of(X, y)
        table = Table(X)
        y, classes, counts = check_labels(y)
        check_y_matches(table.n_rows, y)
        r = check_r(self.r)
        k_neighbors = check_k_neighbors(self.k_neighbors)
        columns = np.arange(table.n_columns)
        codes, values = table.nominal_codes(columns)
        _, class_codes = np.unique(y, return_inverse=True)
        deltas = [value_differences(codes[:, f], len(values[f]), class_codes, len(classes)) for f in columns]
        plan, rows_by_class = plan_oversampling(self, y, classes, counts, k_neighbors)
        targets = list(rows_by_class)

        imblearn_draws = self.sampling_strategy is not None
        shared_random_state = as_random_state(self.random_state)
        neighbours, bases, new_codes = {}, {}, []
        for label in targets:
            random_state = class_random_state(self, shared_random_state)
            class_codes_block = codes[rows_by_class[label]]
            neighbours[label] = within_class_neighbours(
                vdm_distances(class_codes_block, deltas, r), k_neighbors,
                metric="precomputed", n_jobs=self.n_jobs,
            )
            bases[label] = self._draw_bases(len(class_codes_block), plan[label], imblearn_draws, random_state)
            new_codes.append(
                self._vote(class_codes_block, neighbours[label], bases[label], random_state)
            )

        codes_block = np.concatenate([np.empty((0, len(columns)), dtype=np.intp)] + new_codes)
        synthetic_columns = [values[f][codes_block[:, f]] for f in columns]
        y_new = synthetic_labels(plan, targets, y.dtype)

        self.vdm_ = [(values[f], deltas[f]) for f in columns]
        self.n_features_in_ = table.n_columns
        feature_names = feature_names_of(X)
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        publish_per_class(
            self, plan, classes, counts,
            minority_indices_=rows_by_class,
            nn_indices_=neighbours,
            base_indices_=bases,
        )
        return table.append_rows(synthetic_columns), output.target(np.concatenate([y, y_new]))

    @staticmethod
    def _draw_bases(n_class, n_synthetic, imblearn_draws, random_state) -> np.ndarray:
        if imblearn_draws:
            return random_state.choice(np.arange(n_class), size=n_synthetic, replace=True)
        return allocate_per_base(n_class, n_synthetic, random_state)

    @staticmethod
    def _vote(codes, neighbours, base, random_state) -> np.ndarray:
        """Codes of the synthetic rows: per feature, the majority of the base and its neighbours."""
        voters = np.column_stack([np.arange(len(codes)), neighbours])
        new = np.empty((len(base), codes.shape[1]), dtype=np.intp)
        for f in range(codes.shape[1]):
            new[:, f] = majority_vote(codes[:, f][voters], base, random_state)
        return new
