"""Random majority under-sampling at u percent, alone and followed by SMOTE.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813, section 5: the majority class is
under-sampled "until the minority class becomes some specified percentage of
the majority class", keeping ``round(T * 100 / u)`` majority rows (see
:mod:`.percentage`); the paper's example: 50 minority rows and ``u = 200``
leave 25 majority rows.

:class:`RandomUnderSampler` is ``imblearn.under_sampling.RandomUnderSampler``
(``sampling_strategy``, ``replacement``, multi-class) with the paper's
``percentage`` added. :class:`SMOTEUnder` is the combination behind the
paper's ROC curves: Under(u), then SMOTE(N). Whether ``T`` there is the
minority count before or after SMOTE is not stated (the spec marks it
UNVERIFIED); under-sampling comes first, so ``T`` is the original minority
count and "Under(u)" and "SMOTE(N) + Under(u)" keep the same majority rows
and differ only by the synthetic points (the cleanest paired comparison).
"""

from __future__ import annotations

import numbers

import numpy as np
from imblearn.base import BaseSampler
from imblearn.under_sampling import RandomUnderSampler as ImblearnRandomUnderSampler
from sklearn.utils import check_random_state

from ._checks import check_label, check_room_for_neighbours, check_target, refuse_nominal, strategy_counts
from .percentage import check_percentage, n_majority_after_undersampling
from .smote import SMOTE


def pick_labels(y: np.ndarray, minority_label=None, majority_label=None) -> tuple:
    """(minority, majority): the given labels, else the least frequent other / most frequent class."""
    classes, counts = np.unique(y, return_counts=True)
    sizes = dict(zip(classes.tolist(), counts.tolist()))
    majority = (classes.tolist()[int(np.argmax(counts))] if majority_label is None
                else check_label(majority_label, classes, "majority_label"))
    minority = (min((label for label in sizes if label != majority), key=sizes.get) if minority_label is None
                else check_label(minority_label, classes, "minority_label"))
    if minority == majority:
        raise ValueError(f"minority_label and majority_label must differ; both are {minority!r}.")
    return minority, majority


class RandomUnderSampler(ImblearnRandomUnderSampler):
    """Random under-sampling; with ``percentage``, the paper's u% of the majority (Chawla et al., 2002).

    Parameters
    ----------
    sampling_strategy, random_state, replacement
        As in ``imblearn.under_sampling.RandomUnderSampler`` (default
        ``"auto"``: every class but the minority shrinks to the minority's size).
    percentage : float, default=None
        The paper's ``u``: keep ``round(T * 100 / u)`` majority rows (clipped
        to ``[1, n_majority]``), every other class whole; ``u > 100`` keeps
        fewer majority than minority rows. Replaces ``sampling_strategy``.
    majority_label : label, default=None
        With ``percentage``: the class to under-sample; None: the most frequent.
    reference_minority_count : int, default=None
        With ``percentage``: ``T``; None: the size of the least frequent other class.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{label: rows kept}`` of the under-sampled classes.
    sample_indices_ : ndarray
        Rows of ``X`` kept, class by class (imbalanced-learn's order).
    n_features_in_, feature_names_in_
        As in imbalanced-learn.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 40 + [1] * 10)
    >>> X = np.arange(50.0).reshape(-1, 1)
    >>> np.bincount(RandomUnderSampler(percentage=200, random_state=0).fit_resample(X, y)[1]).tolist()
    [5, 10]
    """

    def __init__(self, *, sampling_strategy="auto", random_state=None, replacement=False,
                 percentage=None, majority_label=None, reference_minority_count=None):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state, replacement=replacement)
        self.percentage = percentage
        self.majority_label = majority_label
        self.reference_minority_count = reference_minority_count

    def fit_resample(self, X, y, **params):
        """Under-sample ``X`` (n, d) and ``y`` (n,); returns ``(X_resampled, y_resampled)``."""
        checked_y = check_target(X, y)
        if self.percentage is not None:
            if not (isinstance(self.sampling_strategy, str) and self.sampling_strategy == "auto"):
                raise ValueError("give either percentage (the paper's u) or sampling_strategy (imbalanced-learn's "
                                 f"target sizes), not both; got sampling_strategy={self.sampling_strategy!r}.")
            self._paper_plan(checked_y)
        elif self.majority_label is not None or self.reference_minority_count is not None:
            raise ValueError("majority_label and reference_minority_count set the paper's under-sampling; "
                             "give percentage too.")
        else:
            strategy_counts(self.sampling_strategy, checked_y, "under-sampling")
        return super().fit_resample(X, y, **params)

    def _fit_resample(self, X, y):
        if self.percentage is not None:
            self.sampling_strategy_ = self._paper_plan(y)
        return super()._fit_resample(X, y)

    def _paper_plan(self, y: np.ndarray) -> dict:
        """``{majority: rows kept}`` for under-sampling at ``percentage``."""
        minority, majority = pick_labels(y, majority_label=self.majority_label)
        reference = self.reference_minority_count
        if reference is None:
            reference = int(np.sum(y == minority))
        elif isinstance(reference, bool) or not isinstance(reference, numbers.Integral) or reference < 1:
            raise ValueError(f"reference_minority_count must be an integer >= 1 or None; got {reference!r}.")
        return {majority: n_majority_after_undersampling(int(reference), self.percentage, int(np.sum(y == majority)))}


class SMOTEUnder(BaseSampler):
    """The paper's SMOTE + under-sampling: Under(u) of the majority, then SMOTE(N) of the minority.

    The majority keeps ``round(T * 100 / u)`` rows with ``T`` the original
    minority count, then the minority gets ``round(N/100 * T)`` SMOTE samples.
    With the same ``random_state`` as ``RandomUnderSampler(percentage=u)``,
    the kept majority rows are the same, so the two differ only by the
    synthetic rows.

    Parameters
    ----------
    smote_percentage : float, default=200
        SMOTE amount ``N`` in percent.
    under_percentage : float, default=100
        Under-sampling ``u`` in percent.
    k_neighbors : int, default=5
    minority_label, majority_label : label, default=None
        None: the least frequent other / the most frequent class.
    random_state : None, int or RandomState, default=None
        One stream feeds the under-sampling draws, then the SMOTE draws.

    Attributes
    ----------
    under_sampler_ : RandomUnderSampler
    smote_ : SMOTE
        The fitted steps; ``smote_``'s indices point into the under-sampled data.
    sample_indices_ : ndarray
        Rows of ``X`` kept by the under-sampling (they come first in the output).
    """

    _sampling_type = "bypass"
    _parameter_constraints: dict = {}
    # imbalanced-learn's fit_resample reads a sampling_strategy; the two steps carry their own.
    sampling_strategy = "auto"

    def __init__(self, *, smote_percentage=200, under_percentage=100, k_neighbors=5,
                 minority_label=None, majority_label=None, random_state=None):
        self.smote_percentage = smote_percentage
        self.under_percentage = under_percentage
        self.k_neighbors = k_neighbors
        self.minority_label = minority_label
        self.majority_label = majority_label
        self.random_state = random_state

    def fit_resample(self, X, y, **params):
        """Under-sample, then over-sample ``X`` (n, d) numeric and ``y`` (n,).

        Returns ``(X_resampled, y_resampled)``: the kept rows, then the synthetic minority rows.
        """
        refuse_nominal(X)
        checked_y = check_target(X, y)
        check_percentage(self.smote_percentage, "smote_percentage")
        check_percentage(self.under_percentage, "under_percentage")
        minority, _ = pick_labels(checked_y, self.minority_label, self.majority_label)
        check_room_for_neighbours(self.k_neighbors, checked_y, {minority: 1})
        return super().fit_resample(X, y, **params)

    def _fit_resample(self, X, y):
        minority, majority = pick_labels(y, self.minority_label, self.majority_label)
        random_state = check_random_state(self.random_state)
        under = RandomUnderSampler(percentage=self.under_percentage, majority_label=majority,
                                   reference_minority_count=int(np.sum(y == minority)), random_state=random_state)
        smote = SMOTE(percentage=self.smote_percentage, minority_label=minority, k_neighbors=self.k_neighbors,
                      random_state=random_state)
        X_res, y_res = smote.fit_resample(*under.fit_resample(X, y))
        self.under_sampler_, self.smote_ = under, smote
        self.sample_indices_ = under.sample_indices_
        return X_res, y_res
