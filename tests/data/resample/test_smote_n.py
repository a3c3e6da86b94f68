"""Tests of diversa.data.resample.smote_n (SMOTE-N with the Value Difference Metric)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.metrics.pairwise import ValueDifferenceMetric
from imblearn.over_sampling import SMOTEN as ImblearnSMOTEN
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.naive_bayes import CategoricalNB
from sklearn.preprocessing import OrdinalEncoder

from diversa.data.resample import SMOTEN, n_synthetic_from_percentage


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


def vote_set(X_min, voters, base):
    """Rows voting for a synthetic sample made from ``base``: its k + 1 nearest rows, itself among them."""
    return X_min[voters[base]]


def vdm(X, y):
    """The Value Difference Metric between all rows of ``X``, written out from its definition.

    delta_f(v, w) = sum_c |P(c | v) - P(c | w)|, combined over features as sum_f delta_f^2
    (imbalanced-learn's ValueDifferenceMetric with k=1, r=2).
    """
    classes = np.unique(y)
    distances = np.zeros((len(X), len(X)))
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        p = np.array([[np.mean(y[X[:, j] == v] == c) for c in classes] for v in values])
        codes = np.searchsorted(values, X[:, j])
        delta = np.abs(p[codes][:, None, :] - p[codes][None, :, :]).sum(axis=2)
        distances += delta**2
    return distances


def test_our_written_out_vdm_is_imblearns_metric():
    X, y = nominal(seed=1)
    codes = OrdinalEncoder(dtype=np.int32).fit_transform(X)
    metric = ValueDifferenceMetric(n_categories=[len(np.unique(X[:, j])) for j in range(3)]).fit(codes, y)
    np.testing.assert_allclose(metric.pairwise(codes), vdm(X, y), atol=1e-12)


# --- the resampler -------------------------------------------------------------------------------

def test_counts_and_every_synthetic_value_is_a_majority_of_base_and_neighbours():
    X, y = nominal(seed=2)
    sampler = SMOTEN(percentage=300, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    T = int((y == 1).sum())
    assert (y_res == 1).sum() == 4 * T and X_res.dtype == X.dtype
    np.testing.assert_array_equal(X_res[: len(X)], X)
    X_min = X[y == 1]
    assert sampler.nn_indices_.shape == (T, 6) and len(sampler.base_indices_) == 3 * T
    assert np.bincount(sampler.base_indices_, minlength=T).tolist() == [3] * T
    for row, base in zip(X_res[len(X):], sampler.base_indices_):
        voters = vote_set(X_min, sampler.nn_indices_, base)
        for j in range(X.shape[1]):
            votes = list(voters[:, j])
            assert votes.count(row[j]) == max(votes.count(v) for v in votes)


def test_voters_are_the_k_plus_1_nearest_rows_by_vdm_estimated_on_all_classes():
    X, y = nominal(seed=3)
    sampler = SMOTEN(percentage=100, k_neighbors=4, random_state=0)
    sampler.fit_resample(X, y)
    distances = vdm(X, y)[np.ix_(y == 1, y == 1)]
    chosen = np.take_along_axis(distances, sampler.nn_indices_, axis=1)
    # The (k+1)-th chosen distance is no larger than any unchosen one; a row is at distance 0 from itself.
    np.testing.assert_allclose(chosen.max(axis=1), np.sort(distances, axis=1)[:, 4], atol=1e-12)
    assert np.all(chosen.min(axis=1) == 0)
    # Probabilities from the minority alone would give other distances: the test can tell.
    assert not np.allclose(vdm(X[y == 1], y[y == 1]), distances)


def test_counts_match_imblearn_and_both_only_produce_values_seen_in_the_minority():
    for seed in range(3):
        X, y = nominal(seed=seed)
        T = int((y == 1).sum())
        S = n_synthetic_from_percentage(T, 200)
        sampler = SMOTEN(percentage=200, random_state=seed)
        ours_X, ours_y = sampler.fit_resample(X, y)
        theirs_X, theirs_y = ImblearnSMOTEN(sampling_strategy={1: T + S}, random_state=seed).fit_resample(X, y)
        assert np.bincount(ours_y).tolist() == np.bincount(theirs_y).tolist()
        # Every synthetic value of either library occurs in the minority class's feature values.
        X_min = X[y == 1]
        for synthetic in (ours_X[len(X):], theirs_X[len(X):]):
            for j in range(X.shape[1]):
                assert set(synthetic[:, j]) <= set(X_min[:, j])


@pytest.mark.parametrize("strategy", ["auto", "minority", 0.8])
def test_sampling_strategy_mode_equals_imblearn_bit_for_bit(strategy):
    X, y = nominal(seed=4)
    ours = SMOTEN(sampling_strategy=strategy, random_state=6).fit_resample(X, y)
    theirs = ImblearnSMOTEN(sampling_strategy=strategy, random_state=6).fit_resample(X, y)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
    ours_params, theirs_params = SMOTEN().get_params(), ImblearnSMOTEN().get_params()
    assert {name: ours_params[name] for name in theirs_params} == theirs_params


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


def test_object_arrays_keep_their_dtype_and_missing_values_are_refused():
    X, y = nominal(seed=6)
    X = X.astype(object)
    X[np.flatnonzero(y == 1)[:3], 1] = "missing"  # imbalanced-learn's SMOTEN needs missing values as a category
    X_res, _ = SMOTEN(percentage=200, random_state=0).fit_resample(X, y)
    assert X_res.dtype == object
    assert set(X_res[len(X):, 1]) <= set(X[y == 1, 1])
    X[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SMOTEN(percentage=200).fit_resample(X, y)


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
    with pytest.raises(ValueError, match="k_neighbors"):
        SMOTEN(k_neighbors=len(y)).fit_resample(X, y)
    with pytest.raises(ValueError, match="percentage"):
        SMOTEN(percentage=-3).fit_resample(X, y)
    with pytest.raises(ValueError, match="minority_label='blue'"):
        SMOTEN(percentage=100, minority_label="blue").fit_resample(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SMOTEN().fit_resample(X, np.ones(len(y), int))
    with pytest.raises(ValueError, match="X must be 2-D"):
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
        for j in range(n_features):
            votes = list(voters[:, j])
            assert votes.count(row[j]) == max(votes.count(v) for v in votes)
