"""Tests of diversa.data.resample.smote_n (SMOTE-N with the Value Difference Metric)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import SMOTEN as ImblearnSMOTEN
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.naive_bayes import CategoricalNB
from sklearn.preprocessing import OrdinalEncoder

from diversa.data.resample import SMOTEN, majority_vote, n_synthetic_from_percentage, value_difference_matrix
from diversa.data.resample.smote_n import vdm_distances


def nominal(n=300, minority_share=0.15, seed=0):
    """String array with 3 nominal features whose value frequencies depend on the class."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < minority_share).astype(int)
    y[:8] = 1
    X = np.column_stack([
        np.where(rng.random(n) < 0.3 + 0.5 * y, "red", rng.choice(["green", "blue"], n)),
        rng.choice(["s", "m", "l", "xl"], n),
        np.where(rng.random(n) < 0.5 + 0.3 * y, "yes", "no"),
    ])
    return X, y


def vote_set(X_min, neighbours, base):
    """Rows voting for a synthetic sample made from ``base``: itself and its neighbours."""
    return X_min[np.r_[base, neighbours[base]]]


# --- the Value Difference Metric -----------------------------------------------------------------

def test_value_difference_matrix_on_a_hand_computed_example():
    values, delta = value_difference_matrix(["a", "a", "b", "b", "c"], [0, 1, 1, 1, 0])
    # P(class | a) = (1/2, 1/2), P(class | b) = (0, 1), P(class | c) = (1, 0).
    assert values.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(delta, [[0, 1, 1], [1, 0, 2], [1, 2, 0]])


def test_vdm_of_a_value_with_itself_is_zero_and_the_matrix_is_symmetric():
    X, y = nominal(seed=1)
    for j in range(X.shape[1]):
        _, delta = value_difference_matrix(X[:, j], y)
        np.testing.assert_array_equal(np.diag(delta), 0)
        np.testing.assert_array_equal(delta, delta.T)
        assert np.all(delta >= 0) and np.all(delta <= 2)


def test_row_distance_sums_feature_differences_to_the_power_r():
    deltas = [np.array([[0, 1.0], [1.0, 0]]), np.array([[0, 0.5, 2.0], [0.5, 0, 1.0], [2.0, 1.0, 0]])]
    codes = np.array([[0, 0], [1, 2], [1, 1]])
    np.testing.assert_allclose(vdm_distances(codes, deltas, 1.0)[0], [0, 3.0, 1.5])
    np.testing.assert_allclose(vdm_distances(codes, deltas, 2.0)[0], [0, np.sqrt(5.0), np.sqrt(1.25)])


def test_majority_vote_picks_the_most_frequent_code_and_breaks_ties_uniformly():
    voters = np.array([[2, 2, 1], [0, 1, 3]])
    chosen = majority_vote(voters, np.r_[np.zeros(10, int), np.ones(3000, int)], np.random.RandomState(0))
    assert np.all(chosen[:10] == 2)
    shares = np.bincount(chosen[10:], minlength=4)[[0, 1, 3]] / 3000
    np.testing.assert_allclose(shares, 1 / 3, atol=0.04)


# --- the resampler -------------------------------------------------------------------------------

def test_counts_and_every_synthetic_value_is_a_majority_of_base_and_neighbours():
    X, y = nominal(seed=2)
    sampler = SMOTEN(percentage=300, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    T = int((y == 1).sum())
    assert (y_res == 1).sum() == 4 * T and X_res.dtype == X.dtype
    np.testing.assert_array_equal(X_res[: len(X)], X)
    X_min = X[y == 1]
    assert sampler.nn_indices_.shape == (T, 5) and len(sampler.base_indices_) == 3 * T
    assert np.bincount(sampler.base_indices_, minlength=T).tolist() == [3] * T
    for row, base in zip(X_res[len(X):], sampler.base_indices_):
        voters = vote_set(X_min, sampler.nn_indices_, base)
        for j in range(X.shape[1]):
            votes = list(voters[:, j])
            assert votes.count(row[j]) == max(votes.count(v) for v in votes)


def test_neighbours_are_nearest_by_vdm_and_exclude_the_row_itself():
    X, y = nominal(seed=3)
    sampler = SMOTEN(k_neighbors=4, random_state=0)
    sampler.fit_resample(X, y)
    X_min = X[y == 1]
    T = len(X_min)
    tables = [dict(zip(values, range(len(values)))) for values, _ in sampler.vdm_]
    codes = np.array([[tables[j][v] for j, v in enumerate(row)] for row in X_min])
    distances = vdm_distances(codes, [delta for _, delta in sampler.vdm_], 1.0)
    assert not np.any(sampler.nn_indices_ == np.arange(T)[:, None])
    chosen = np.take_along_axis(distances, sampler.nn_indices_, axis=1)
    others = distances + np.diag(np.full(T, np.inf))
    # The k-th chosen distance is no larger than any unchosen one.
    kth = np.sort(others, axis=1)[:, 3]
    np.testing.assert_allclose(chosen.max(axis=1), kth, atol=1e-12)


def test_counts_match_imblearn_and_both_only_produce_values_seen_in_the_minority():
    for seed in range(3):
        X, y = nominal(seed=seed)
        T = int((y == 1).sum())
        S = n_synthetic_from_percentage(T, 200)
        sampler = SMOTEN(random_state=seed, r=2)
        ours_X, ours_y = sampler.fit_resample(X, y)
        theirs_X, theirs_y = ImblearnSMOTEN(sampling_strategy={1: T + S}, random_state=seed).fit_resample(X, y)
        assert np.bincount(ours_y).tolist() == np.bincount(theirs_y).tolist()
        # Every synthetic value of either library occurs in the minority class's feature values.
        X_min = X[y == 1]
        for synthetic in (ours_X[len(X):], theirs_X[len(X):]):
            for j in range(X.shape[1]):
                assert set(synthetic[:, j]) <= set(X_min[:, j])


def test_sampling_strategy_mode_draws_bases_like_imblearn():
    X, y = nominal(seed=4)
    sampler = SMOTEN(sampling_strategy="auto", random_state=6)
    _, y_res = sampler.fit_resample(X, y)
    T = int((y == 1).sum())
    expected = np.random.RandomState(6).choice(np.arange(T), size=(y == 0).sum() - T, replace=True)
    np.testing.assert_array_equal(sampler.base_indices_[1], expected)  # dicts in this mode
    theirs_y = ImblearnSMOTEN(random_state=6).fit_resample(X, y)[1]
    np.testing.assert_array_equal(y_res, theirs_y)


def test_pandas_in_pandas_out_with_columns_and_dtypes():
    X, y = nominal(seed=5)
    frame = pd.DataFrame({
        "colour": pd.Categorical(X[:, 0]),
        "size": pd.Series(X[:, 1], dtype="string"),
        "answer": X[:, 2] == "yes",
        "code": np.unique(X[:, 1], return_inverse=True)[1].astype(np.int32),
    })
    X_res, y_res = SMOTEN(random_state=0).fit_resample(frame, pd.Series(y, name="cls"))
    assert isinstance(X_res, pd.DataFrame) and X_res.dtypes.equals(frame.dtypes)
    assert list(X_res.columns) == list(frame.columns) and y_res.name == "cls"
    pd.testing.assert_frame_equal(X_res.iloc[: len(frame)], frame)


def test_object_arrays_with_missing_values_keep_their_dtype():
    X, y = nominal(seed=6)
    X = X.astype(object)
    X[np.flatnonzero(y == 1)[:3], 1] = None
    X_res, _ = SMOTEN(random_state=0).fit_resample(X, y)
    assert X_res.dtype == object
    assert set(X_res[len(X):, 1]) <= set(X[y == 1, 1])


def test_deterministic_given_random_state_and_clonable():
    X, y = nominal(seed=7)
    a = SMOTEN(random_state=1).fit_resample(X, y)[0]
    b = clone(SMOTEN(random_state=1)).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)


def test_works_in_an_imblearn_pipeline():
    X, y = nominal(seed=8)
    pipe = Pipeline([("smoten", SMOTEN(percentage=100, random_state=0)),
                     ("encode", OrdinalEncoder()),
                     ("nb", CategoricalNB())]).fit(X, y)
    assert pipe.named_steps["nb"].class_count_.tolist() == [(y == 0).sum(), 2 * (y == 1).sum()]


def test_bad_arguments_are_named():
    X, y = nominal(seed=9)
    for r in (0, -1, float("nan"), "1"):
        with pytest.raises(ValueError, match="r must be"):
            SMOTEN(r=r).fit_resample(X, y)
    with pytest.raises(ValueError, match="k_neighbors"):
        SMOTEN(k_neighbors=len(y)).fit_resample(X, y)
    with pytest.raises(ValueError, match="percentage"):
        SMOTEN(percentage=-3).fit_resample(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SMOTEN().fit_resample(X, np.ones(len(y), int))
    with pytest.raises(ValueError, match="2-D"):
        SMOTEN().fit_resample(X[:, 0], y)
    with pytest.raises(ValueError, match="sampling_strategy"):
        SMOTEN(sampling_strategy="everything").fit_resample(X, y)


@settings(max_examples=25, deadline=None)
@given(
    n_minority=st.integers(2, 20),
    n_features=st.integers(1, 3),
    n_values=st.integers(1, 4),
    percentage=st.floats(10, 500),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_small_nominal_datasets_give_planned_counts_from_vote_sets(
    n_minority, n_features, n_values, percentage, seed
):
    rng = np.random.default_rng(seed)
    n = n_minority + 15
    X = rng.integers(0, n_values, size=(n, n_features)).astype(str)
    y = np.r_[np.ones(n_minority, int), np.zeros(15, int)]
    k = min(3, n_minority - 1)
    sampler = SMOTEN(percentage=percentage, k_neighbors=k, minority_label=1, random_state=seed)
    X_res, y_res = sampler.fit_resample(X, y)
    assert (y_res == 1).sum() == n_minority + n_synthetic_from_percentage(n_minority, percentage)
    for row, base in zip(X_res[n:], sampler.base_indices_):
        voters = vote_set(X[:n_minority], sampler.nn_indices_, base)
        assert all(row[j] in voters[:, j] for j in range(n_features))
