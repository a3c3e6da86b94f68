"""SMOTE-NC: SMOTE for mixed continuous and nominal features.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813, section 6.1.

1. ``Med`` = median, over the continuous features, of their standard
   deviations (ddof=0) within the class being over-sampled.
2. Distance: ``dist(a, b)^2 = sum_continuous (a_f - b_f)^2 + Med^2 * #{nominal
   f with a_f != b_f}``. As in imbalanced-learn, it is computed as a plain
   Euclidean distance after one-hot encoding the nominal features with the
   value ``Med / sqrt(2)`` (two one-hot entries differ per mismatch, each
   contributing ``Med^2 / 2``).
3. k nearest neighbours within the class, itself excluded.
4. Continuous features are interpolated exactly as in SMOTE; each nominal
   feature takes the value most frequent among the base sample's k
   neighbours, ties broken uniformly at random (paper: "choose at random").

Resolutions: when ``Med`` is 0 (all continuous features constant in the
class) nominal mismatches are weighted 1 instead (the spec's guard), while
``median_std_`` still reports the computed 0, as imbalanced-learn does. The
amount, gap and ``sampling_strategy`` choices are those of :class:`SMOTE`; in
``sampling_strategy`` mode the (base, neighbour, gap) draws are
imbalanced-learn's, so the continuous part matches
``imblearn.over_sampling.SMOTENC`` (the nominal tie-breaks use our own draws).
"""

from __future__ import annotations

import math

import numpy as np
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
    ClassDraws,
    check_per_feature_gap,
    class_random_state,
    draw_smote_origins,
    plan_oversampling,
    publish_class_draws,
    synthetic_labels,
)
from ._table import Table, resolve_categorical_features
from .interpolation import interpolate
from .neighbours import within_class_neighbours
from .vote import majority_vote


def median_std(X_continuous: np.ndarray) -> float:
    """Median over features of the per-feature standard deviation (ddof=0); shape (T, c) -> scalar."""
    return float(np.median(np.std(X_continuous, axis=0)))


def encode_for_distance(
    X_continuous: np.ndarray, nominal_codes: np.ndarray, median_std: float
) -> np.ndarray:
    """Rows whose Euclidean distance is the SMOTE-NC distance.

    ``X_continuous`` (T, c) floats, ``nominal_codes`` (T, m) integer codes.
    Returns (T, c + total distinct values) floats: the continuous part as is,
    then each nominal feature one-hot encoded with entries
    ``median_std / sqrt(2)``, so that two rows differing in ``q`` nominal
    features and equal elsewhere are ``sqrt(q) * median_std`` apart.
    """
    n_rows = X_continuous.shape[0]
    one_hot_value = median_std / math.sqrt(2.0)
    blocks = [X_continuous]
    for f in range(nominal_codes.shape[1]):
        _, local_codes = np.unique(nominal_codes[:, f], return_inverse=True)
        block = np.zeros((n_rows, local_codes.max() + 1))
        block[np.arange(n_rows), local_codes] = one_hot_value
        blocks.append(block)
    return np.hstack(blocks)


class SMOTENC(BaseEstimator):
    """SMOTE for Nominal and Continuous features (Chawla et al., JAIR 2002).

    Parameters
    ----------
    categorical_features : "auto", array-like of int, str or bool
        Nominal columns: indices, a boolean mask of length d, column names
        (DataFrames), or ``"auto"`` (DataFrame columns of object, string,
        category or bool dtype). At least one column must be continuous and
        one nominal.
    percentage, k_neighbors, minority_label, per_feature_gap, sampling_strategy, n_jobs, random_state
        As in :class:`SMOTE`; ``per_feature_gap`` applies to the continuous part.

    Attributes
    ----------
    median_std_ : dict
        ``{label: Med}`` for each over-sampled class.
    categorical_features_, continuous_features_ : ndarray of int
        Column indices of each kind.
    sampling_strategy_, minority_label_, minority_indices_, nn_indices_, sample_origin_, gaps_
        As in :class:`SMOTE` (``gaps_`` has one column per continuous feature
        when ``per_feature_gap``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only for DataFrames with string column names

    Notes
    -----
    Continuous columns must be numeric and finite; nominal columns may hold
    any values (strings, numbers, None). Output has the caller's type: a
    NumPy array keeps its dtype (object arrays stay object), a DataFrame keeps
    its columns and dtypes; continuous values headed for integer columns are
    rounded to the nearest integer.
    """

    def __init__(
        self,
        categorical_features,
        percentage=200,
        k_neighbors=5,
        minority_label=None,
        per_feature_gap=False,
        sampling_strategy=None,
        n_jobs=None,
        random_state=None,
    ):
        self.categorical_features = categorical_features
        self.percentage = percentage
        self.k_neighbors = k_neighbors
        self.minority_label = minority_label
        self.per_feature_gap = per_feature_gap
        self.sampling_strategy = sampling_strategy
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit_resample(self, X, y):
        """Over-sample and return ``(X_resampled, y_resampled)``: originals, then synthetic rows."""
        output = OutputFormat.of(X, y)
        table = Table(X)
        y, classes, counts = check_labels(y)
        check_y_matches(table.n_rows, y)
        nominal, continuous = self._split_columns(table)
        X_continuous = table.numeric_block(continuous)
        codes, values = table.nominal_codes(nominal)
        k_neighbors = check_k_neighbors(self.k_neighbors)
        per_feature_gap = check_per_feature_gap(self.per_feature_gap)
        plan, rows_by_class = plan_oversampling(self, y, classes, counts, k_neighbors)
        targets = list(rows_by_class)

        imblearn_draws = self.sampling_strategy is not None
        shared_random_state = as_random_state(self.random_state)
        draws, medians, new_continuous, new_codes = {}, {}, [], []
        for label in targets:
            random_state = class_random_state(self, shared_random_state)
            draws[label], medians[label], continuous_new, codes_new = self._oversample_class(
                X_continuous, codes, rows_by_class[label], plan[label], k_neighbors,
                per_feature_gap, imblearn_draws, random_state,
            )
            new_continuous.append(continuous_new)
            new_codes.append(codes_new)

        synthetic_columns = self._synthetic_columns(
            table, nominal, continuous, values, new_continuous, new_codes
        )
        y_new = synthetic_labels(plan, targets, y.dtype)

        self.categorical_features_ = nominal
        self.continuous_features_ = continuous
        self.median_std_ = medians
        self.n_features_in_ = table.n_columns
        feature_names = feature_names_of(X)
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        publish_class_draws(self, draws, plan, classes, counts)
        return table.append_rows(synthetic_columns), output.target(np.concatenate([y, y_new]))

    def _split_columns(self, table: Table) -> tuple[np.ndarray, np.ndarray]:
        nominal = resolve_categorical_features(self.categorical_features, table)
        if nominal.size == 0:
            raise ValueError(
                "categorical_features selects no column; SMOTENC needs at least one nominal "
                "feature (use SMOTE for all-continuous data)."
            )
        if nominal.size == table.n_columns:
            raise ValueError(
                "categorical_features selects every column; SMOTENC needs at least one "
                "continuous feature (use SMOTEN for all-nominal data)."
            )
        continuous = np.setdiff1d(np.arange(table.n_columns), nominal)
        return nominal, continuous

    def _oversample_class(
        self, X_continuous, codes, rows, n_synthetic, k_neighbors, per_feature_gap,
        imblearn_draws, random_state,
    ):
        """Neighbours, draws, synthetic continuous values and nominal codes of one class."""
        X_continuous, codes = X_continuous[rows], codes[rows]
        med = median_std(X_continuous)
        # A zero Med would make nominal mismatches free; weight them 1 instead.
        weight = med if med > 0 else 1.0
        neighbours = within_class_neighbours(
            encode_for_distance(X_continuous, codes, weight), k_neighbors, n_jobs=self.n_jobs
        )
        base, column, gaps = draw_smote_origins(
            len(codes), k_neighbors, n_synthetic, X_continuous.shape[1], per_feature_gap,
            imblearn_draws, random_state,
        )
        neighbour = neighbours[base, column]
        continuous = interpolate(X_continuous, base, neighbour, gaps)
        nominal = np.empty((n_synthetic, codes.shape[1]), dtype=np.intp)
        for f in range(codes.shape[1]):
            nominal[:, f] = majority_vote(codes[:, f][neighbours], base, random_state)
        return ClassDraws(rows, neighbours, base, neighbour, gaps), med, continuous, nominal

    @staticmethod
    def _synthetic_columns(table, nominal, continuous, values, new_continuous, new_codes):
        """Synthetic values column by column, nominal codes decoded to the original values."""
        continuous_block = np.concatenate([np.empty((0, len(continuous)))] + new_continuous)
        codes_block = np.concatenate([np.empty((0, len(nominal)), dtype=np.intp)] + new_codes)
        columns = [None] * table.n_columns
        for position, j in enumerate(continuous):
            columns[j] = continuous_block[:, position]
        for position, j in enumerate(nominal):
            columns[j] = values[position][codes_block[:, position]]
        return columns
