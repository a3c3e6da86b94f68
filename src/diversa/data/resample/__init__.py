"""Resampling for imbalanced classes, built on imbalanced-learn.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813. The samplers are
imbalanced-learn's, subclassed; without the paper's parameters they behave
exactly as imbalanced-learn's (a drop-in replacement), and diversa adds only
what the paper adds:

* ``percentage=`` on :class:`SMOTE`, :class:`SMOTENC`, :class:`SMOTEN`: the
  paper's amount of SMOTE ``N`` percent, every base sample making its share
  (:func:`allocate_per_base`), and ``per_feature_gap`` (the paper's
  pseudo-code draws a gap per attribute);
* ``percentage=`` on :class:`RandomUnderSampler`: the paper's u% majority
  under-sampling;
* :class:`SMOTEUnder`: the paper's Under(u) followed by SMOTE(N);
* provenance: ``sample_origin_`` (base, neighbour), ``gaps_``,
  ``nn_indices_`` of every synthetic row.

:data:`SAMPLERS` maps a name to every sampler, these and the rest of
imbalanced-learn's family (ADASYN, BorderlineSMOTE, SVMSMOTE, KMeansSMOTE,
TomekLinks, EditedNearestNeighbours, SMOTETomek, SMOTEENN, ...).
"""

from .family import SAMPLERS
from .percentage import allocate_per_base, n_majority_after_undersampling, n_synthetic_from_percentage
from .smote import SMOTE, SMOTENC
from .smote_n import SMOTEN
from .under import RandomUnderSampler, SMOTEUnder

__all__ = [
    "SAMPLERS",
    "SMOTE",
    "SMOTEN",
    "SMOTENC",
    "SMOTEUnder",
    "RandomUnderSampler",
    "allocate_per_base",
    "n_majority_after_undersampling",
    "n_synthetic_from_percentage",
]
