"""Tests of diversa.data.resample.family: every sampler by name."""

import numpy as np
import pandas as pd
import pytest
from imblearn import over_sampling, under_sampling
from imblearn.base import BaseSampler
from sklearn.datasets import make_classification

from diversa.data.resample import SAMPLERS, SMOTE, SMOTEN, SMOTENC, RandomUnderSampler

REQUIRED = {"smote", "smote-nc", "smote-n", "under", "smote-under", "borderline-smote", "adasyn", "svm-smote",
            "kmeans-smote", "random-over", "tomek-links", "enn", "smote-tomek", "smote-enn"}
GROWS_MINORITY = {"smote", "smote-nc", "smote-n", "random-over", "adasyn", "borderline-smote", "svm-smote",
                  "kmeans-smote", "smote-tomek", "smote-enn", "smote-under"}
SHRINKS_MAJORITY = {"under", "smote-under", "tomek-links", "enn", "repeated-enn", "all-knn", "condensed-nn",
                    "one-sided-selection", "neighbourhood-cleaning", "near-miss", "cluster-centroids",
                    "instance-hardness", "smote-enn", "smote-tomek"}


def table():
    """A DataFrame like one read from a CSV: 4 numeric columns (the last 0/1), class 1 the 20% minority."""
    X, y = make_classification(n_samples=600, n_features=4, n_informative=3, n_redundant=0,
                               n_clusters_per_class=1, weights=[0.8], class_sep=1.5, random_state=0)
    X[:, 3] = X[:, 3] > 0
    return pd.DataFrame(X, columns=list("abcd")), pd.Series(y, name="label")


def test_the_mapping_covers_the_papers_samplers_and_imbalanced_learns_family():
    assert REQUIRED <= set(SAMPLERS)
    assert set(SAMPLERS) == GROWS_MINORITY | SHRINKS_MAJORITY
    assert all(issubclass(sampler, BaseSampler) for sampler in SAMPLERS.values())
    assert issubclass(SAMPLERS["smote"], over_sampling.SMOTE) and SAMPLERS["smote"] is SMOTE
    assert issubclass(SAMPLERS["smote-nc"], over_sampling.SMOTENC) and SAMPLERS["smote-nc"] is SMOTENC
    assert issubclass(SAMPLERS["smote-n"], over_sampling.SMOTEN) and SAMPLERS["smote-n"] is SMOTEN
    assert issubclass(SAMPLERS["under"], under_sampling.RandomUnderSampler) and SAMPLERS["under"] is RandomUnderSampler
    assert SAMPLERS["adasyn"] is over_sampling.ADASYN and SAMPLERS["enn"] is under_sampling.EditedNearestNeighbours
    with pytest.raises(TypeError):
        SAMPLERS["mine"] = SMOTE  # read-only


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_rebalances_a_table_in_its_direction(name):
    X, y = table()
    sampler = SAMPLERS[name](categorical_features=["d"]) if name == "smote-nc" else SAMPLERS[name]()
    if "random_state" in sampler.get_params():
        sampler.set_params(random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list("abcd") and len(X_res) == len(y_res)
    before, after = np.bincount(y), np.bincount(y_res)
    assert (after[1] > before[1]) == (name in GROWS_MINORITY)
    assert (after[0] < before[0]) == (name in SHRINKS_MAJORITY)
    assert after[1] >= before[1]
