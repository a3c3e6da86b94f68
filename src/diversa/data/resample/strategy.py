"""Which classes to over-sample, and by how many synthetic samples.

Two ways to say it:

* the paper's amount of SMOTE ``N`` percent (Chawla et al., "SMOTE: Synthetic
  Minority Over-sampling Technique", JAIR 16 (2002), arXiv:1106.1813): the
  minority class, or each class of a ``{label: N}`` dict, gets
  ``round(N/100 * T)`` synthetic samples;
* imbalanced-learn's ``sampling_strategy`` (``"auto"``, ``"minority"``,
  ``"not minority"``, ``"not majority"``, ``"all"``, a float ratio for binary
  targets, a dict of *target* counts, or a callable returning such a dict),
  re-implemented here with the same semantics for users coming from
  imbalanced-learn. Note that its float is the ratio ``N_minority /
  N_majority`` after resampling, not the paper's ``N`` percent.

Both return an ordered ``{label: number of synthetic samples}`` dict sorted by
label, which is also the order in which classes are processed.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checks import (
    check_label_present,
    check_percentage,
    least_frequent,
    most_frequent,
)
from .allocation import n_synthetic_from_percentage

_NAMED_STRATEGIES = ("auto", "minority", "not minority", "not majority", "all")


def counts_from_percentage(
    percentage, minority_label, classes: np.ndarray, counts: np.ndarray
) -> dict:
    """``{label: S}`` for the paper's amount of SMOTE.

    ``percentage`` is a number (applied to ``minority_label``, or to the least
    frequent class when that is None) or a dict ``{label: N}``.
    """
    class_sizes = dict(zip(classes.tolist(), counts.tolist()))
    if isinstance(percentage, dict):
        if minority_label is not None:
            raise ValueError(
                "minority_label must be None when percentage is a dict {label: N}; "
                "the dict's keys already name the classes to over-sample."
            )
        if not percentage:
            raise ValueError("percentage must not be an empty dict; give {label: N} pairs.")
        plan = {}
        for label, amount in percentage.items():
            label = check_label_present(label, classes, "percentage")
            amount = check_percentage(amount, f"percentage[{label!r}]")
            plan[label] = n_synthetic_from_percentage(class_sizes[label], amount)
        return dict(sorted(plan.items()))
    amount = check_percentage(percentage)
    if minority_label is None:
        label = least_frequent(classes, counts)
    else:
        label = check_label_present(minority_label, classes, "minority_label")
    return {label: n_synthetic_from_percentage(class_sizes[label], amount)}


def counts_from_sampling_strategy(
    sampling_strategy, classes: np.ndarray, counts: np.ndarray, y: np.ndarray
) -> dict:
    """``{label: S}`` with imbalanced-learn's over-sampling semantics.

    Raises a ``ValueError`` naming ``sampling_strategy`` on anything
    imbalanced-learn's over-samplers would refuse.
    """
    class_sizes = dict(zip(classes.tolist(), counts.tolist()))
    majority = most_frequent(classes, counts)
    minority = least_frequent(classes, counts)
    n_majority = class_sizes[majority]
    if isinstance(sampling_strategy, str):
        if sampling_strategy not in _NAMED_STRATEGIES:
            raise ValueError(
                f"sampling_strategy must be one of {_NAMED_STRATEGIES}, a float in (0, 1], "
                f"a dict or a callable; got {sampling_strategy!r}."
            )
        targeted = {
            "auto": [c for c in class_sizes if c != majority],
            "not majority": [c for c in class_sizes if c != majority],
            "minority": [minority],
            "not minority": [c for c in class_sizes if c != minority],
            "all": list(class_sizes),
        }[sampling_strategy]
        return {c: n_majority - class_sizes[c] for c in sorted(targeted)}
    if isinstance(sampling_strategy, numbers.Real) and not isinstance(sampling_strategy, bool):
        return _counts_from_ratio(float(sampling_strategy), class_sizes, majority)
    if callable(sampling_strategy):
        sampling_strategy = sampling_strategy(y)
        if not isinstance(sampling_strategy, dict):
            raise ValueError(
                "sampling_strategy, when callable, must return a dict {label: target count}; "
                f"got {type(sampling_strategy).__name__}."
            )
    if isinstance(sampling_strategy, dict):
        return _counts_from_targets(sampling_strategy, classes, class_sizes)
    raise ValueError(
        f"sampling_strategy must be one of {_NAMED_STRATEGIES}, a float in (0, 1], a dict "
        f"{{label: target count}} or a callable; got {sampling_strategy!r}."
    )


def _counts_from_ratio(ratio: float, class_sizes: dict, majority) -> dict:
    if not 0 < ratio <= 1:
        raise ValueError(f"sampling_strategy as a float must be in (0, 1]; got {ratio}.")
    if len(class_sizes) != 2:
        raise ValueError(
            "sampling_strategy can be a float only for a binary y; use a dict for "
            f"{len(class_sizes)} classes."
        )
    plan = {
        c: int(class_sizes[majority] * ratio - size)
        for c, size in class_sizes.items()
        if c != majority
    }
    if any(n <= 0 for n in plan.values()):
        raise ValueError(
            f"sampling_strategy={ratio} asks for fewer minority samples than y already has; "
            "increase the ratio."
        )
    return dict(sorted(plan.items()))


def _counts_from_targets(targets: dict, classes: np.ndarray, class_sizes: dict) -> dict:
    plan = {}
    for label, target in targets.items():
        label = check_label_present(label, classes, "sampling_strategy")
        if isinstance(target, bool) or not isinstance(target, numbers.Integral):
            raise ValueError(
                f"sampling_strategy[{label!r}] must be an integer target count; got {target!r}."
            )
        if target < class_sizes[label]:
            raise ValueError(
                f"sampling_strategy[{label!r}]={target} is below the {class_sizes[label]} "
                "samples the class already has; an over-sampler can only add samples."
            )
        plan[label] = int(target) - class_sizes[label]
    return dict(sorted(plan.items()))
