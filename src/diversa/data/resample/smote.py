"""SMOTE: synthetic minority over-sampling by interpolation.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", Journal of Artificial Intelligence Research 16 (2002) 321-357,
arXiv:1106.1813.

Instead of replicating minority samples (which makes a classifier's minority
regions small and specific), SMOTE creates new ones on the line segments that
join each minority sample to its k nearest minority neighbours, so the
minority decision region grows and generalises.

Choices where the paper leaves room (see the spec's resolutions):

* amount: ``percentage`` ``N`` gives ``round(N/100 * T)`` synthetic samples;
  every base sample makes ``floor(N/100)`` of them and a random subset
  (without replacement) makes one more. For the paper's inputs (``N < 100``,
  or ``N`` a multiple of 100) this is exactly the paper's rule.
* gap: the paper's pseudo-code draws a gap per attribute while its prose
  speaks of "a random point along the line segment"; the default draws one
  gap per synthetic sample (prose, and imbalanced-learn), and
  ``per_feature_gap=True`` follows the pseudo-code literally.
* ``sampling_strategy``: for users of imbalanced-learn, its semantics and its
  random draws — (base, neighbour) pairs uniform with replacement, then the
  gaps, from ``np.random.RandomState(random_state)`` re-seeded for each class —
  so that the output equals ``imblearn.over_sampling.SMOTE`` bit for bit.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_X_y

from ._checks import (
    OutputFormat,
    as_random_state,
    check_k_neighbors,
    check_labels,
    feature_names_of,
    non_numeric_columns,
)
from ._oversampling import (
    ClassDraws,
    check_per_feature_gap,
    class_random_state,
    draw_smote_origins,
    plan_oversampling,
    publish_class_draws,
)
from .interpolation import interpolate
from .neighbours import within_class_neighbours


def check_numeric_input(X, y, estimator=None) -> tuple[np.ndarray, np.ndarray]:
    """Validate numeric, finite ``X`` (n, d) and ``y`` (n,) with scikit-learn's ``check_X_y``.

    Float32 stays float32, anything else numeric becomes float64. Nominal
    columns raise a ``ValueError`` pointing to SMOTENC / SMOTEN before
    scikit-learn's generic conversion error would.
    """
    non_numeric = non_numeric_columns(X)
    if non_numeric:
        raise ValueError(
            f"X has non-numeric column(s) {non_numeric[:10]!r}; SMOTE interpolates "
            "numbers only. Use SMOTENC for mixed numeric and nominal features or "
            "SMOTEN for all-nominal features."
        )
    return check_X_y(X, y, dtype=[np.float64, np.float32], estimator=estimator)


class SMOTE(BaseEstimator):
    """Synthetic Minority Over-sampling TEchnique (Chawla et al., JAIR 2002).

    For each of the ``T`` minority rows ``m_i``, find its ``k_neighbors``
    nearest minority neighbours (Euclidean, itself excluded); each synthetic
    row is ``m_i + gap * (m_j - m_i)`` for a neighbour ``m_j`` drawn uniformly
    from those ``k`` and ``gap ~ U[0, 1)``.

    Parameters
    ----------
    percentage : float or dict, default=200
        The paper's amount of SMOTE ``N`` in percent: ``round(N/100 * T)``
        synthetic samples, each base sample making ``floor(N/100)`` of them and
        a random subset (without replacement) one more. A dict ``{label: N}``
        over-samples several classes, each with its own neighbours.
    k_neighbors : int, default=5
        Neighbours per base sample; each over-sampled class needs at least
        ``k_neighbors + 1`` rows.
    minority_label : label, default=None
        Class to over-sample with a scalar ``percentage``; None means the
        least frequent class (ties: smallest label).
    per_feature_gap : bool, default=False
        False: one gap per synthetic sample, a point on the segment (the
        paper's prose). True: one gap per feature, a point in the box spanned
        by the two rows (the paper's literal pseudo-code).
    sampling_strategy : str, float, dict or callable, default=None
        imbalanced-learn's semantics ("auto", "minority", "not minority",
        "not majority", "all", a float ratio ``N_min / N_maj`` after
        resampling for binary y, a dict of *target* counts, or a callable
        ``y -> dict``). When given it overrides ``percentage`` and the draws
        follow imbalanced-learn's (uniform (base, neighbour) pairs in draw
        order), so the output equals ``imblearn.over_sampling.SMOTE`` with the
        same ``random_state`` bit for bit.
    n_jobs : int, default=None
        Parallel jobs for the neighbour search (``NearestNeighbors``).
    random_state : None, int, RandomState or Generator, default=None
        Seeds the draws; the same seed gives the same rows.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{label: number of synthetic samples}``, sorted by label.
    minority_label_ : label
        The over-sampled class (the least frequent one if several).
    minority_indices_ : ndarray of shape (T,)
        Row indices of the over-sampled class in ``X``.
    nn_indices_ : ndarray of shape (T, k)
        Neighbours of each minority row, as indices into the minority rows.
    sample_origin_ : ndarray of shape (S, 2)
        (base, neighbour) index into the minority rows of each synthetic row.
    gaps_ : ndarray of shape (S,) or (S, d)
        The interpolation gaps.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only for DataFrames with string column names

    With a dict ``percentage`` or with ``sampling_strategy``,
    ``minority_indices_``, ``nn_indices_``, ``sample_origin_`` and ``gaps_``
    are dicts keyed by class label instead.

    Notes
    -----
    ``fit_resample`` returns the original rows first, then the synthetic rows
    class by class (sorted labels), in base-sample order for ``percentage``
    and in imbalanced-learn's draw order for ``sampling_strategy``. Float32
    input stays float32; integer input is converted to float64. A DataFrame
    comes back as a DataFrame with the same columns, a Series ``y`` as a
    Series. Nominal columns are refused: use :class:`SMOTENC` or
    :class:`SMOTEN`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20, dtype=float).reshape(10, 2)
    >>> y = np.array([0] * 7 + [1] * 3)
    >>> X_res, y_res = SMOTE(percentage=200, k_neighbors=2, random_state=0).fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [7, 9]
    """

    def __init__(
        self,
        percentage=200,
        k_neighbors=5,
        minority_label=None,
        per_feature_gap=False,
        sampling_strategy=None,
        n_jobs=None,
        random_state=None,
    ):
        self.percentage = percentage
        self.k_neighbors = k_neighbors
        self.minority_label = minority_label
        self.per_feature_gap = per_feature_gap
        self.sampling_strategy = sampling_strategy
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit_resample(self, X, y):
        """Over-sample and return ``(X_resampled, y_resampled)``.

        ``X`` (n, d) numeric and finite, ``y`` (n,) class labels. Returns
        ``X_resampled`` of shape (n + S, d) and ``y_resampled`` of shape
        (n + S,): the original rows unchanged, then the synthetic ones.
        """
        output = OutputFormat.of(X, y)
        feature_names = feature_names_of(X)
        X, y = check_numeric_input(X, y, estimator=self)
        y, classes, counts = check_labels(y)
        k_neighbors = check_k_neighbors(self.k_neighbors)
        per_feature_gap = check_per_feature_gap(self.per_feature_gap)
        plan, rows_by_class = plan_oversampling(self, y, classes, counts, k_neighbors)
        targets = list(rows_by_class)

        n_samples, n_features = X.shape
        n_total = n_samples + sum(plan[label] for label in targets)
        X_res = np.empty((n_total, n_features), dtype=X.dtype)
        X_res[:n_samples] = X
        y_res = np.empty(n_total, dtype=y.dtype)
        y_res[:n_samples] = y

        imblearn_draws = self.sampling_strategy is not None
        shared_random_state = as_random_state(self.random_state)
        draws, start = {}, n_samples
        for label in targets:
            random_state = class_random_state(self, shared_random_state)
            stop = start + plan[label]
            draws[label] = self._oversample_class(
                X, rows_by_class[label], plan[label], k_neighbors, per_feature_gap,
                imblearn_draws, random_state, out=X_res[start:stop],
            )
            y_res[start:stop] = label
            start = stop

        self.n_features_in_ = n_features
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        publish_class_draws(self, draws, plan, classes, counts)
        return output.frame(X_res), output.target(y_res)

    def _oversample_class(
        self, X, rows, n_synthetic, k_neighbors, per_feature_gap, imblearn_draws, random_state, out
    ) -> ClassDraws:
        X_class = X[rows]
        neighbours = within_class_neighbours(X_class, k_neighbors, n_jobs=self.n_jobs)
        base, column, gaps = draw_smote_origins(
            len(rows), k_neighbors, n_synthetic, X.shape[1], per_feature_gap,
            imblearn_draws, random_state,
        )
        neighbour = neighbours[base, column]
        interpolate(X_class, base, neighbour, gaps, out=out)
        return ClassDraws(rows, neighbours, base, neighbour, gaps)
