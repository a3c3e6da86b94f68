"""The paper's amounts: SMOTE ``N`` percent and under-sampling ``u`` percent.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813, sections 4.2 and 5.

* SMOTE at ``N`` percent makes ``S = round(N/100 * T)`` synthetic samples for
  a class of ``T`` rows. The paper gives every base sample ``N/100`` of them
  (``N`` a multiple of 100) or one each to a random subset (``N < 100``); the
  spec's generalisation, which reduces to both, gives every base sample
  ``S // T`` and a random subset of ``S % T`` base samples one more.
  imbalanced-learn instead draws (base, neighbour) pairs uniformly with
  replacement, so some base samples make none.
* Under-sampling at ``u`` percent keeps majority rows "until the minority
  class becomes some specified percentage of the majority class":
  ``round(T * 100 / u)`` of them, clipped to ``[1, n_majority]``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._checks import check_label


def check_percentage(value, name: str = "percentage") -> float:
    """Return ``value`` as a float after checking it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0 (a percentage); got {value!r}.")
    return float(value)


def n_synthetic_from_percentage(n_class: int, percentage: float) -> int:
    """Number of synthetic samples ``S = round(N/100 * T)`` for ``N`` = percentage.

    Halves round up, so ``N = 50`` on ``T = 3`` gives 2; ``N * T`` is formed
    before dividing by 100 so that ``N = 300, T = 40`` gives exactly 120.
    """
    return int(math.floor(check_percentage(percentage) * n_class / 100.0 + 0.5))


def allocate_per_base(n_class: int, n_synthetic: int, random_state: np.random.RandomState) -> np.ndarray:
    """The paper's base sample of each synthetic sample, ascending; shape (n_synthetic,).

    Every one of the ``n_class`` base samples is used ``n_synthetic // n_class``
    times and a random subset (without replacement) of ``n_synthetic %
    n_class`` of them once more, so synthetic rows come grouped by base sample
    as in the paper's pseudo-code.
    """
    per_base, extra = divmod(int(n_synthetic), int(n_class))
    repeats = np.full(n_class, per_base, dtype=np.intp)
    if extra:
        repeats[random_state.choice(n_class, size=extra, replace=False)] += 1
    return np.repeat(np.arange(n_class, dtype=np.intp), repeats)


def synthetic_counts(percentage, minority_label, y: np.ndarray) -> dict:
    """``{label: S}`` for the paper's amount of SMOTE, sorted by label.

    ``percentage`` is a number, applied to ``minority_label`` (None: the least
    frequent class, ties to the smallest label), or a dict ``{label: N}``.
    """
    classes, counts = np.unique(y, return_counts=True)
    sizes = dict(zip(classes.tolist(), counts.tolist()))
    if isinstance(percentage, dict):
        if minority_label is not None:
            raise ValueError("minority_label must be None when percentage is a dict {label: N}; "
                             "the dict's keys already name the classes to over-sample.")
        if not percentage:
            raise ValueError("percentage must not be an empty dict; give {label: N} pairs.")
        plan = {}
        for label, amount in percentage.items():
            label = check_label(label, classes, "percentage")
            plan[label] = n_synthetic_from_percentage(sizes[label], check_percentage(amount, f"percentage[{label!r}]"))
        return dict(sorted(plan.items()))
    amount = check_percentage(percentage)
    if minority_label is None:
        label = classes.tolist()[int(np.argmin(counts))]
    else:
        label = check_label(minority_label, classes, "minority_label")
    return {label: n_synthetic_from_percentage(sizes[label], amount)}


def n_majority_after_undersampling(n_minority: int, percentage: float, n_majority: int) -> int:
    """Majority rows kept by under-sampling at ``percentage`` = u percent.

    ``round(n_minority * 100 / u)`` (halves up), clipped to ``[1, n_majority]``.
    The paper's example: 50 minority rows and ``u = 200`` keep 25.
    """
    kept = int(math.floor(n_minority * 100.0 / check_percentage(percentage) + 0.5))
    return min(max(kept, 1), int(n_majority))
