"""Resampling for imbalanced classes: SMOTE and its relatives.

Implements Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority
Over-sampling Technique", JAIR 16 (2002), arXiv:1106.1813:

* :class:`SMOTE` — synthetic minority samples interpolated between a minority
  sample and one of its k nearest minority neighbours;
* :class:`RandomUnderSampler` — the paper's random majority under-sampling at
  ``u`` percent;
* :class:`SMOTEUnder` — the paper's combination: under-sample the majority,
  then SMOTE the minority;
* :class:`SMOTENC` — SMOTE for mixed continuous and nominal features;
* :class:`SMOTEN` — SMOTE for nominal features, with the Value Difference
  Metric.

Every resampler follows imbalanced-learn's ``fit_resample(X, y)`` contract
and works as a step of ``imblearn.pipeline.Pipeline``. The building blocks
(:func:`interpolate`, :func:`within_class_neighbours`,
:func:`allocate_per_base`, :func:`majority_vote`,
:func:`value_difference_matrix`) are public for reuse and testing.
"""

from .allocation import (
    allocate_per_base,
    draw_uniform_pairs,
    n_synthetic_from_percentage,
)
from .interpolation import interpolate
from .neighbours import within_class_neighbours
from .smote import SMOTE
from .smote_n import SMOTEN, value_difference_matrix
from .smote_nc import SMOTENC, encode_for_distance
from .under import RandomUnderSampler, SMOTEUnder, n_majority_after_undersampling
from .vote import majority_vote

__all__ = [
    "SMOTE",
    "SMOTEN",
    "SMOTENC",
    "SMOTEUnder",
    "RandomUnderSampler",
    "allocate_per_base",
    "draw_uniform_pairs",
    "encode_for_distance",
    "interpolate",
    "majority_vote",
    "n_majority_after_undersampling",
    "n_synthetic_from_percentage",
    "value_difference_matrix",
    "within_class_neighbours",
]
