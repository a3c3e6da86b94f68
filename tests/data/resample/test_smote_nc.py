"""Tests of diversa.data.resample.smote_nc (SMOTE-NC, Chawla et al. 2002, section 6.1)."""

import math

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTENC as ImblearnSMOTENC
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from diversa.data.resample import SMOTENC, n_synthetic_from_percentage

CONTINUOUS = [0, 2, 4]
NOMINAL = [1, 3]


def mixed(n=300, minority_share=0.15, seed=0):
    """Object array with continuous columns 0, 2, 4 and nominal columns 1 (3 values), 3 (2 values)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < minority_share).astype(int)
    y[:8] = 1
    X = np.empty((n, 5), dtype=object)
    for j in CONTINUOUS:
        X[:, j] = rng.normal(loc=y * 1.5, scale=1.0 + j / 4)
    X[:, 1] = np.where(rng.random(n) < 0.5 + 0.3 * y, "a", rng.choice(["b", "c"], n))
    X[:, 3] = rng.choice(["x", "y"], n)
    return X, y


def continuous_part(X):
    return X[:, CONTINUOUS].astype(float)


def smote_nc_distances(X_min, med):
    """The paper's SMOTE-NC distance: sum of squared continuous gaps plus Med^2 per nominal mismatch."""
    cont = continuous_part(X_min)
    squared = ((cont[:, None, :] - cont[None, :, :]) ** 2).sum(axis=2)
    for j in NOMINAL:
        squared += med**2 * (X_min[:, None, j] != X_min[None, :, j])
    return np.sqrt(squared)


def test_neighbours_are_nearest_by_the_papers_distance_with_med_per_nominal_mismatch():
    X, y = mixed(seed=13)
    sampler = SMOTENC(categorical_features=NOMINAL, percentage=100, random_state=0)
    sampler.fit_resample(X, y)
    X_min = X[y == 1]
    distances = smote_nc_distances(X_min, sampler.median_std_[1])
    np.fill_diagonal(distances, np.inf)
    chosen = np.take_along_axis(distances, sampler.nn_indices_, axis=1)
    # The neighbours are the 5 nearest (ties aside): the 5th chosen distance is the 5th smallest.
    np.testing.assert_allclose(chosen.max(axis=1), np.sort(distances, axis=1)[:, 4], rtol=1e-9)
    # Without the nominal term the neighbours would differ: the test can tell.
    plain = smote_nc_distances(X_min, 0.0)
    np.fill_diagonal(plain, np.inf)
    assert not np.allclose(np.take_along_axis(plain, sampler.nn_indices_, axis=1).max(axis=1),
                           np.sort(plain, axis=1)[:, 4])


def test_counts_and_continuous_part_on_neighbour_segments():
    X, y = mixed(seed=1)
    sampler = SMOTENC(categorical_features=NOMINAL, percentage=300, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    T = int((y == 1).sum())
    assert (y_res == 1).sum() == T + 3 * T and X_res.shape == (len(y) + 3 * T, 5)
    np.testing.assert_array_equal(X_res[: len(X)], X)
    cont = continuous_part(X)[y == 1]
    base, neighbour = sampler.sample_origin_.T
    expected = cont[base] + sampler.gaps_[:, None] * (cont[neighbour] - cont[base])
    np.testing.assert_allclose(continuous_part(X_res[len(X):]), expected, atol=1e-12)
    assert all(n in sampler.nn_indices_[b] for b, n in zip(base, neighbour))
    np.testing.assert_array_equal(sampler.categorical_features_, NOMINAL)
    np.testing.assert_array_equal(sampler.continuous_features_, CONTINUOUS)


def test_nominal_values_are_a_most_frequent_value_among_the_base_rows_neighbours():
    X, y = mixed(seed=2)
    sampler = SMOTENC(categorical_features=NOMINAL, percentage=200, random_state=3)
    X_res, _ = sampler.fit_resample(X, y)
    X_min = X[y == 1]
    for row, base in zip(X_res[len(X):], sampler.sample_origin_[:, 0]):
        for j in NOMINAL:
            votes = list(X_min[sampler.nn_indices_[base], j])
            assert votes.count(row[j]) == max(votes.count(v) for v in set(votes))


def test_ties_are_broken_at_random_between_the_tied_values():
    # Minority: one base whose 2 neighbours carry "p" and "q" -> a 1:1 tie.
    X = np.array([[0.0, "p"], [1.0, "p"], [-1.0, "q"], [10.0, "r"], [11.0, "r"], [12.0, "r"]], dtype=object)
    y = np.array([1, 1, 1, 0, 0, 0])
    sampler = SMOTENC(categorical_features=[1], percentage=6000, k_neighbors=2, minority_label=1, random_state=0)
    X_res, _ = sampler.fit_resample(X, y)
    from_first = X_res[6:][sampler.sample_origin_[:, 0] == 0, 1]
    values, counts = np.unique(from_first.astype(str), return_counts=True)
    assert values.tolist() == ["p", "q"]
    assert 0.35 < counts[0] / counts.sum() < 0.65


def test_median_std_equals_imblearn_and_counts_match():
    for seed in range(3):
        X, y = mixed(seed=seed)
        T = int((y == 1).sum())
        S = n_synthetic_from_percentage(T, 200)
        ours = SMOTENC(categorical_features=NOMINAL, percentage=200, random_state=seed)
        ours_X, ours_y = ours.fit_resample(X, y)
        theirs = ImblearnSMOTENC(categorical_features=NOMINAL, sampling_strategy={1: T + S}, random_state=seed)
        theirs_X, theirs_y = theirs.fit_resample(X, y)
        assert np.bincount(ours_y).tolist() == np.bincount(theirs_y).tolist()
        assert math.isclose(ours.median_std_[1], theirs.median_std_[1], rel_tol=1e-12)
        assert math.isclose(ours.median_std_[1], np.median(continuous_part(X)[y == 1].std(axis=0)), rel_tol=1e-12)


@pytest.mark.parametrize("strategy", ["auto", "by dict"])
def test_sampling_strategy_mode_equals_imblearn_and_its_nominals_are_neighbour_values(strategy):
    X, y = mixed(n=400, seed=4)
    T = int((y == 1).sum())
    strategy = {1: 4 * T} if strategy == "by dict" else strategy
    theirs_X, theirs_y = ImblearnSMOTENC(
        categorical_features=NOMINAL, sampling_strategy=strategy, random_state=5
    ).fit_resample(X, y)
    sampler = SMOTENC(categorical_features=NOMINAL, sampling_strategy=strategy, random_state=5)
    ours_X, ours_y = sampler.fit_resample(X, y)
    np.testing.assert_array_equal(ours_y, theirs_y)
    assert ours_X.dtype == theirs_X.dtype and (ours_X == theirs_X).all()
    cont = continuous_part(X)[y == 1]
    base, neighbour = sampler.sample_origin_[1].T
    expected = cont[base] + sampler.gaps_[1][:, None] * (cont[neighbour] - cont[base])
    np.testing.assert_allclose(continuous_part(ours_X[len(X):]), expected, atol=1e-12)
    # Both choose every nominal value among the base row's neighbours' values.
    X_min = X[y == 1]
    neighbours = sampler.nn_indices_[1]
    for ours_row, theirs_row, base in zip(ours_X[len(X):], theirs_X[len(X):], sampler.sample_origin_[1][:, 0]):
        for j in NOMINAL:
            allowed = set(X_min[neighbours[base], j])
            assert ours_row[j] in allowed and theirs_row[j] in allowed


def test_constant_continuous_features_give_zero_median_std_and_still_work():
    X, y = mixed(seed=6)
    X[y == 1, 0] = 1.0
    X[y == 1, 2] = 2.0
    sampler = SMOTENC(categorical_features=NOMINAL, percentage=200, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.median_std_[1] == 0.0
    assert (y_res == 1).sum() == 3 * (y == 1).sum()
    assert set(X_res[len(X):, 1]) <= set(X[y == 1, 1])


def test_dataframe_in_dataframe_out_with_the_same_columns_and_dtypes():
    rng = np.random.default_rng(7)
    n = 200
    y = pd.Series(np.r_[np.ones(30, int), np.zeros(n - 30, int)], name="target")
    frame = pd.DataFrame({
        "height": rng.normal(size=n),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "count": rng.integers(0, 20, n),
        "city": pd.Series(rng.choice(["Oslo", "Lima"], n), dtype="string"),
        "flag": rng.random(n) < 0.3,
        "weight": rng.normal(size=n).astype(np.float32),
    })
    sampler = SMOTENC(categorical_features=["colour", "city", "flag"], percentage=200, random_state=0)
    X_res, y_res = sampler.fit_resample(frame, y)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(frame.columns)
    assert X_res.dtypes.equals(frame.dtypes)
    assert isinstance(y_res, pd.Series) and y_res.name == "target" and len(y_res) == len(X_res) == n + 60
    pd.testing.assert_frame_equal(X_res.iloc[:n], frame)
    assert sampler.categorical_features_.tolist() == [1, 3, 4]
    # The integer column is continuous: its synthetic values are rounded, within the minority range.
    counts = frame["count"][:30]
    assert X_res["count"].iloc[n:].between(counts.min(), counts.max()).all()
    assert list(sampler.feature_names_in_) == list(frame.columns)
    by_index = SMOTENC(categorical_features=[1, 3, 4], percentage=200, random_state=0).fit_resample(frame, y)[0]
    pd.testing.assert_frame_equal(by_index, X_res)
    # "auto" is imbalanced-learn's: the DataFrame's category columns.
    as_category = frame.astype({"city": "category", "flag": "category"})
    auto = SMOTENC(categorical_features="auto", percentage=200, random_state=0)
    auto.fit_resample(as_category, y)
    assert auto.categorical_features_.tolist() == [1, 3, 4]


def test_numeric_array_in_numeric_array_out_and_masks_select_columns():
    X, y = mixed(seed=8)
    numeric = X.copy()
    numeric[:, 1] = np.unique(X[:, 1], return_inverse=True)[1]
    numeric[:, 3] = np.unique(X[:, 3], return_inverse=True)[1]
    numeric = numeric.astype(float)
    mask = np.isin(np.arange(5), NOMINAL).tolist()  # imbalanced-learn takes lists, not arrays
    a = SMOTENC(categorical_features=mask, random_state=1).fit_resample(numeric, y)[0]
    b = SMOTENC(categorical_features=[-4, -2], random_state=1).fit_resample(numeric, y)[0]
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a[:, 1])) <= {0.0, 1.0, 2.0}


def test_deterministic_given_random_state():
    X, y = mixed(seed=9)
    a = SMOTENC(NOMINAL, random_state=2).fit_resample(X, y)[0]
    b = clone(SMOTENC(NOMINAL, random_state=2)).fit_resample(X, y)[0]
    c = SMOTENC(NOMINAL, random_state=3).fit_resample(X, y)[0]
    assert (a == b).all()
    assert not (a == c).all()


def test_works_in_an_imblearn_pipeline():
    X, y = mixed(seed=10)
    encode = ColumnTransformer([("nominal", OneHotEncoder(), NOMINAL)], remainder="passthrough")
    pipe = Pipeline([("smote", SMOTENC(NOMINAL, percentage=100, random_state=0)),
                     ("encode", encode),
                     ("tree", DecisionTreeClassifier(random_state=0))]).fit(X, y)
    assert pipe.named_steps["tree"].tree_.n_node_samples[0] == len(y) + (y == 1).sum()


@pytest.mark.parametrize(
    "categorical_features, message",
    [
        ([], "categorical_features"),
        ([0, 1, 2, 3, 4], "only with categorical features"),
        ([5], "categorical_features=.5.*must be in"),
        ([1, 1], "twice"),
        (["colour"], "categorical_features=.*dataframes"),
        ([True, False], "categorical_features=.*True, False"),
        ("auto", "categorical_features='auto'.*DataFrame"),
        (3, "categorical_features"),
        ([0.5], "categorical_features"),
    ],
)
def test_bad_categorical_features_are_named(categorical_features, message):
    X, y = mixed(seed=11)
    with pytest.raises(ValueError, match=message):
        SMOTENC(categorical_features=categorical_features).fit_resample(X, y)


def test_bad_data_and_arguments_are_named():
    X, y = mixed(seed=12)
    with pytest.raises(ValueError, match="list every nominal column in categorical_features"):
        SMOTENC(categorical_features=[1]).fit_resample(X, y)
    X_nan = X.copy()
    X_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        SMOTENC(NOMINAL).fit_resample(X_nan, y)
    with pytest.raises(ValueError, match="k_neighbors"):
        SMOTENC(NOMINAL, k_neighbors=1000).fit_resample(X, y)
    with pytest.raises(ValueError, match="percentage"):
        SMOTENC(NOMINAL, percentage=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SMOTENC(NOMINAL).fit_resample(X, np.zeros(len(y), int))
    with pytest.raises(ValueError, match="minority_label"):
        SMOTENC(NOMINAL, percentage=100, minority_label="z").fit_resample(X, y)
    with pytest.raises(ValueError, match="same number of rows"):
        SMOTENC(NOMINAL).fit_resample(X, y[:-1])
    frame = pd.DataFrame(X[:, :2], columns=["num", "cat"])
    with pytest.raises(ValueError, match="categorical_features=.*not columns"):
        SMOTENC(["colour"]).fit_resample(frame, y)
