"""SMOTE and SMOTE-NC: imbalanced-learn's samplers with the paper's amount of SMOTE.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", Journal of Artificial Intelligence Research 16 (2002) 321-357,
arXiv:1106.1813, sections 4.2 and 6.1.

Instead of replicating minority samples (which makes a classifier's minority
regions small and specific), SMOTE creates new ones on the line segments that
join each minority sample to its k nearest minority neighbours; SMOTE-NC adds
nominal features (a median-standard-deviation penalty per mismatch in the
distance, the neighbours' most frequent value for the synthetic sample).

Both classes are ``imblearn.over_sampling.SMOTE`` / ``SMOTENC``: without
``percentage`` they behave exactly as imbalanced-learn's (same defaults, same
draws, the same rows bit for bit), so they are drop-in replacements. With
``percentage`` they follow the paper (see :mod:`.paper`): ``round(N/100 * T)``
synthetic samples, every base sample making ``floor(N/100)`` of them and a
random subset one more; ``per_feature_gap=True`` follows the paper's
pseudo-code, which draws a gap per attribute (a point in the box between base
and neighbour) where its prose and imbalanced-learn draw one per sample (a
point on the segment).
"""

from __future__ import annotations

import numpy as np
from imblearn.over_sampling import SMOTE as ImblearnSMOTE
from imblearn.over_sampling import SMOTENC as ImblearnSMOTENC
from sklearn.utils.validation import check_array

from ._checks import is_numeric, refuse_nominal
from .paper import PaperSMOTE


class SMOTE(PaperSMOTE, ImblearnSMOTE):
    """Synthetic Minority Over-sampling TEchnique (Chawla et al., JAIR 2002).

    Each synthetic row is ``m_i + gap * (m_j - m_i)`` for a minority row
    ``m_i``, one of its ``k_neighbors`` nearest minority neighbours ``m_j``
    and ``gap ~ U[0, 1)``.

    Parameters
    ----------
    sampling_strategy, random_state, k_neighbors
        As in ``imblearn.over_sampling.SMOTE`` (default ``"auto"``: every
        class but the majority grows to the majority's size).
    percentage : float or dict, default=None
        The paper's amount of SMOTE ``N`` in percent: ``round(N/100 * T)``
        synthetic samples of the minority class, allocated per base sample.
        A dict ``{label: N}`` over-samples several classes. Replaces
        ``sampling_strategy``, which must then stay ``"auto"``.
    minority_label : label, default=None
        Class a single ``percentage`` over-samples; None: the least frequent
        class (ties: smallest label).
    per_feature_gap : bool, default=False
        With ``percentage``: one gap per feature (the paper's pseudo-code)
        instead of one per synthetic sample (its prose, imbalanced-learn).

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{label: number of synthetic samples}``.
    minority_indices_ : ndarray of shape (T,)
        Rows of ``X`` of the over-sampled class; the indices below point into them.
    nn_indices_ : ndarray of shape (T, k)
        Each minority row's neighbours.
    sample_origin_ : ndarray of shape (S, 2)
        (base, neighbour) of each synthetic row, in output order.
    gaps_ : ndarray of shape (S,) or (S, d)
        The interpolation gaps.
    nn_k_, n_features_in_, feature_names_in_
        As in imbalanced-learn.

    ``minority_indices_``, ``nn_indices_``, ``sample_origin_`` and ``gaps_``
    are ``{label: array}`` dicts, over the classes that got synthetic rows,
    unless ``percentage`` is a single number.

    Notes
    -----
    Input checks, dtypes (float32 stays float32; integer ``X`` gives integer
    synthetic rows) and pandas output are imbalanced-learn's; nominal columns
    are refused with a pointer to :class:`SMOTENC` and ``SMOTEN``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20, dtype=float).reshape(10, 2)
    >>> y = np.array([0] * 7 + [1] * 3)
    >>> X_res, y_res = SMOTE(percentage=200, k_neighbors=2, random_state=0).fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [7, 9]
    >>> np.bincount(SMOTE(k_neighbors=2, random_state=0).fit_resample(X, y)[1]).tolist()
    [7, 7]
    """

    def __init__(self, *, sampling_strategy="auto", random_state=None, k_neighbors=5,
                 percentage=None, minority_label=None, per_feature_gap=False):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state, k_neighbors=k_neighbors)
        self.percentage = percentage
        self.minority_label = minority_label
        self.per_feature_gap = per_feature_gap

    def _check_before_fit(self, X, y) -> np.ndarray:
        refuse_nominal(X)
        return super()._check_before_fit(X, y)


class SMOTENC(PaperSMOTE, ImblearnSMOTENC):
    """SMOTE for Nominal and Continuous features (Chawla et al., JAIR 2002, section 6.1).

    Parameters
    ----------
    categorical_features, categorical_encoder, sampling_strategy, random_state, k_neighbors
        As in ``imblearn.over_sampling.SMOTENC``: nominal columns as indices,
        a boolean mask, DataFrame column names, or ``"auto"`` (the
        DataFrame's ``category`` columns).
    percentage, minority_label, per_feature_gap
        As in :class:`SMOTE`; ``per_feature_gap`` applies to the continuous
        features.

    Attributes
    ----------
    median_std_, categorical_features_, continuous_features_, categorical_encoder_
        As in imbalanced-learn (``median_std_`` is the paper's ``Med``).
    sampling_strategy_, minority_indices_, nn_indices_, sample_origin_, gaps_
        As in :class:`SMOTE` (``gaps_`` has one column per continuous feature
        when ``per_feature_gap``).
    """

    def __init__(self, categorical_features, *, categorical_encoder=None, sampling_strategy="auto",
                 random_state=None, k_neighbors=5, percentage=None, minority_label=None, per_feature_gap=False):
        super().__init__(categorical_features, categorical_encoder=categorical_encoder,
                         sampling_strategy=sampling_strategy, random_state=random_state, k_neighbors=k_neighbors)
        self.percentage = percentage
        self.minority_label = minority_label
        self.per_feature_gap = per_feature_gap

    def _validate_column_types(self, X):
        # imbalanced-learn's messages about columns do not all name the argument.
        try:
            super()._validate_column_types(X)
        except ValueError as error:
            raise ValueError(f"categorical_features={self.categorical_features!r} does not fit X: {error}") from error
        if np.unique(self.categorical_features_).size < self.categorical_features_.size:
            raise ValueError(f"categorical_features names a column twice: {self.categorical_features!r}.")
        if self.continuous_features_.size == 0:
            return  # imbalanced-learn says SMOTE-NC needs a continuous feature
        continuous = X.iloc[:, self.continuous_features_] if hasattr(X, "iloc") else X[:, self.continuous_features_]
        if not is_numeric(continuous):
            raise ValueError("X has non-numeric values in a column missing from categorical_features; list every "
                             "nominal column in categorical_features.")
        check_array(continuous, dtype=np.float64, accept_sparse=True, input_name="X")  # NaN, inf

    def _gaps(self, steps: np.ndarray) -> np.ndarray:
        gaps = super()._gaps(steps)
        return gaps if gaps.ndim == 1 else gaps[:, : self.continuous_features_.size]
