"""What the SMOTE paper adds to imbalanced-learn's over-samplers.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813.

imbalanced-learn's SMOTE family asks for target class sizes
(``sampling_strategy``) and draws (base, neighbour) pairs uniformly. The paper
asks for an amount ``N`` percent and gives every base sample its share
(:mod:`.percentage`). :class:`PaperAmount` adds that ``percentage`` to an
imbalanced-learn over-sampler: it turns ``percentage`` into the sampler's
``sampling_strategy_``, lets imbalanced-learn do the rest (neighbours,
distances, interpolation, nominal votes, pandas in and out), and records where
each synthetic row came from. Without ``percentage`` the sampler is
imbalanced-learn's, defaults and draws included.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ._checks import check_flag, check_room_for_neighbours, check_target, strategy_counts
from .percentage import allocate_per_base, synthetic_counts


class PaperAmount:
    """Mixin for an imbalanced-learn over-sampler: the paper's ``percentage`` and provenance.

    The class using it has the parameters ``percentage`` and
    ``minority_label``, fills ``self._records[label]`` (a dict of fitted
    attribute name -> value) from its sample-making hook, and says with
    ``_empty_record()`` what those attributes are for a class that got no
    synthetic sample. After fitting, each recorded attribute holds one array
    when ``percentage`` is a single number (the paper's one-class setting)
    and a ``{label: array}`` dict otherwise; ``minority_indices_`` gives the
    rows of ``X`` that the recorded indices point into.
    """

    def fit_resample(self, X, y, **params):
        """Resample ``X`` (n, d) and ``y`` (n,); returns ``(X_resampled, y_resampled)``.

        The original rows come first, then the synthetic rows class by class.
        """
        self._check_before_fit(X, y)
        return super().fit_resample(X, y, **params)

    def _check_before_fit(self, X, y) -> np.ndarray:
        y = check_target(X, y)
        if self.percentage is None:
            if self.minority_label is not None:
                raise ValueError("minority_label names the class that percentage over-samples; give percentage "
                                 "too, or choose classes with sampling_strategy.")
            plan = strategy_counts(self.sampling_strategy, y, "over-sampling")
        else:
            if not (isinstance(self.sampling_strategy, str) and self.sampling_strategy == "auto"):
                raise ValueError("give either percentage (the paper's amount of SMOTE) or sampling_strategy "
                                 f"(imbalanced-learn's target sizes), not both; got sampling_strategy="
                                 f"{self.sampling_strategy!r}.")
            plan = synthetic_counts(self.percentage, self.minority_label, y)
        check_room_for_neighbours(self.k_neighbors, y, plan)
        return y

    def _fit_resample(self, X, y):
        self._records = {}
        if self.percentage is not None:
            self.sampling_strategy_ = synthetic_counts(self.percentage, self.minority_label, y)
            self._paper_random_state = check_random_state(self.random_state)
        X_res, y_res = super()._fit_resample(X, y)
        self._publish(self.__dict__.pop("_records"), y)
        self.__dict__.pop("_paper_random_state", None)
        return X_res, y_res

    def _publish(self, records: dict, y: np.ndarray) -> None:
        empty = self._empty_record()
        if self.percentage is not None and not isinstance(self.percentage, dict):
            (label,) = self.sampling_strategy_
            self.minority_indices_ = np.flatnonzero(y == label)
            for name, value in records.get(label, empty).items():
                setattr(self, name, value)
            return
        self.minority_indices_ = {label: np.flatnonzero(y == label) for label in records}
        for name in empty:
            setattr(self, name, {label: record[name] for label, record in records.items()})


class PaperSMOTE(PaperAmount):
    """:class:`PaperAmount` for the interpolating samplers (SMOTE, SMOTE-NC), plus per-feature gaps.

    With ``percentage``, base samples follow the paper's allocation, the
    neighbour of each synthetic sample is uniform among the base's k, and the
    gap is ``U[0, 1)``, one per sample or (``per_feature_gap``) one per
    feature; draws come from one stream in that order. Interpolation is
    imbalanced-learn's. Records ``nn_indices_`` (T, k), ``sample_origin_``
    (S, 2) = (base, neighbour) and ``gaps_`` (S,) or (S, d), all indices into
    the class's rows, in both modes.
    """

    def _check_before_fit(self, X, y) -> np.ndarray:
        y = super()._check_before_fit(X, y)
        if check_flag(self.per_feature_gap, "per_feature_gap") and self.percentage is None:
            raise ValueError("per_feature_gap=True is the paper's pseudo-code and needs percentage; "
                             "imbalanced-learn's draws have one gap per sample.")
        return y

    def _make_samples(self, X, y_dtype, y_type, nn_data, nn_num, n_samples, step_size=1.0, y=None):
        if self.percentage is None:
            return super()._make_samples(X, y_dtype, y_type, nn_data, nn_num, n_samples, step_size, y)
        random_state = self._paper_random_state
        rows = allocate_per_base(nn_num.shape[0], n_samples, random_state)
        cols = random_state.randint(0, nn_num.shape[1], size=n_samples)
        steps = random_state.uniform(size=(n_samples, X.shape[1] if self.per_feature_gap else 1))
        X_new = self._generate_samples(X, nn_data, nn_num, rows, cols, steps, y_type)
        return X_new, np.full(n_samples, y_type, dtype=y_dtype)

    def _generate_samples(self, X, nn_data, nn_num, rows, cols, steps, y_type=None, y=None):
        self._records[y_type] = {
            "nn_indices_": nn_num,
            "sample_origin_": np.column_stack([rows, nn_num[rows, cols]]),
            "gaps_": self._gaps(np.asarray(steps)),
        }
        return super()._generate_samples(X, nn_data, nn_num, rows, cols, steps, y_type, y)

    def _gaps(self, steps: np.ndarray) -> np.ndarray:
        return steps[:, 0] if steps.shape[1] == 1 else steps

    def _empty_record(self) -> dict:
        k = self.nn_k_.n_neighbors - 1
        return {"nn_indices_": np.empty((0, k), dtype=np.intp), "sample_origin_": np.empty((0, 2), dtype=np.intp),
                "gaps_": np.empty(0)}
