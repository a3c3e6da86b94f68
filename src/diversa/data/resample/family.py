"""Every sampler by name: the SMOTE paper's, and the rest of imbalanced-learn's family.

The names are what ``diversa resample --method`` offers. The first five are
diversa's (imbalanced-learn's samplers with the paper's amounts, Chawla et
al., JAIR 2002); the others are imbalanced-learn's own classes, unchanged.
Each value is a class following imbalanced-learn's ``fit_resample``
contract; its constructor takes that class's keyword parameters (``SMOTENC``
also needs ``categorical_features``).
"""

from __future__ import annotations

from types import MappingProxyType

from imblearn import combine, over_sampling, under_sampling

from .smote import SMOTE, SMOTENC
from .smote_n import SMOTEN
from .under import RandomUnderSampler, SMOTEUnder

SAMPLERS = MappingProxyType({
    "smote": SMOTE,
    "smote-nc": SMOTENC,
    "smote-n": SMOTEN,
    "under": RandomUnderSampler,
    "smote-under": SMOTEUnder,
    # over-sampling
    "random-over": over_sampling.RandomOverSampler,
    "adasyn": over_sampling.ADASYN,
    "borderline-smote": over_sampling.BorderlineSMOTE,
    "svm-smote": over_sampling.SVMSMOTE,
    "kmeans-smote": over_sampling.KMeansSMOTE,
    # under-sampling: cleaning and prototype selection
    "tomek-links": under_sampling.TomekLinks,
    "enn": under_sampling.EditedNearestNeighbours,
    "repeated-enn": under_sampling.RepeatedEditedNearestNeighbours,
    "all-knn": under_sampling.AllKNN,
    "condensed-nn": under_sampling.CondensedNearestNeighbour,
    "one-sided-selection": under_sampling.OneSidedSelection,
    "neighbourhood-cleaning": under_sampling.NeighbourhoodCleaningRule,
    "near-miss": under_sampling.NearMiss,
    "cluster-centroids": under_sampling.ClusterCentroids,
    "instance-hardness": under_sampling.InstanceHardnessThreshold,
    # over- then under-sampling
    "smote-tomek": combine.SMOTETomek,
    "smote-enn": combine.SMOTEENN,
})
