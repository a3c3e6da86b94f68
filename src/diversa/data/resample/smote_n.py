"""SMOTE-N: imbalanced-learn's SMOTEN with the paper's amount of SMOTE.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813, section 6.2. For all-nominal
data, neighbours are found with the Value Difference Metric (Cost and
Salzberg, 1993) and a synthetic sample takes, feature by feature, the most
frequent value among a base sample and its k nearest minority neighbours.

The class is ``imblearn.over_sampling.SMOTEN``: without ``percentage`` it
behaves exactly as imbalanced-learn's. With ``percentage`` every base sample
makes its share of the ``round(N/100 * T)`` synthetic samples (see
:mod:`.percentage`) instead of imbalanced-learn's base samples drawn with
replacement. Two details stay imbalanced-learn's where the paper differs:
its VDM sums squared per-feature differences (the paper's exemplar distance
with ``r = 2``, without the root, which orders neighbours the same way), and
a tied vote goes to the smallest encoded value, where the paper draws one
at random.
"""

from __future__ import annotations

import numpy as np
from imblearn.over_sampling import SMOTEN as ImblearnSMOTEN
from scipy.stats import mode

from .paper import PaperAmount
from .percentage import allocate_per_base


class SMOTEN(PaperAmount, ImblearnSMOTEN):
    """SMOTE for Nominal features with the Value Difference Metric (Chawla et al., JAIR 2002).

    Parameters
    ----------
    categorical_encoder, sampling_strategy, random_state, k_neighbors
        As in ``imblearn.over_sampling.SMOTEN``; the vote has
        ``k_neighbors + 1`` voters, the base sample among them.
    percentage, minority_label
        As in :class:`~diversa.data.resample.SMOTE`.

    Attributes
    ----------
    sampling_strategy_, categorical_encoder_, nn_k_, n_features_in_, feature_names_in_
        As in imbalanced-learn.
    minority_indices_ : ndarray of shape (T,)
        Rows of ``X`` of the over-sampled class (only with ``percentage``).
    nn_indices_ : ndarray of shape (T, k + 1)
        The voters of each minority row (only with ``percentage``).
    base_indices_ : ndarray of shape (S,)
        Base sample of each synthetic row; its voters are
        ``nn_indices_[base]`` (only with ``percentage``).

    With a dict ``percentage`` these are ``{label: array}`` dicts.
    """

    def __init__(self, categorical_encoder=None, *, sampling_strategy="auto", random_state=None, k_neighbors=5,
                 percentage=None, minority_label=None):
        super().__init__(categorical_encoder, sampling_strategy=sampling_strategy, random_state=random_state,
                         k_neighbors=k_neighbors)
        self.percentage = percentage
        self.minority_label = minority_label

    def _make_samples(self, X_class, klass, y_dtype, nn_indices, n_samples):
        if self.percentage is None:
            return super()._make_samples(X_class, klass, y_dtype, nn_indices, n_samples)
        bases = allocate_per_base(X_class.shape[0], n_samples, self._paper_random_state)
        # Feature by feature, the most frequent code among the base's voters.
        X_new = mode(X_class[nn_indices[bases]], axis=1, keepdims=False).mode
        self._records[klass] = {"nn_indices_": nn_indices, "base_indices_": bases}
        return X_new, np.full(n_samples, klass, dtype=y_dtype)

    def _publish(self, records: dict, y: np.ndarray) -> None:
        if self.percentage is not None:  # imbalanced-learn's own draws are not recorded
            super()._publish(records, y)

    def _empty_record(self) -> dict:
        k = self.nn_k_.n_neighbors
        return {"nn_indices_": np.empty((0, k), dtype=np.intp), "base_indices_": np.empty(0, dtype=np.intp)}
