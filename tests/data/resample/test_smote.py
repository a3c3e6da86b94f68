"""Tests of diversa.data.resample.smote (SMOTE, Chawla et al. 2002) and the paper's allocation."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import SMOTE as ImblearnSMOTE
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from diversa.data.resample import SMOTE, allocate_per_base, n_synthetic_from_percentage


def imbalanced(n_samples=300, n_features=4, minority_share=0.15, seed=0):
    """A binary dataset whose class 1 holds about ``minority_share`` of the rows."""
    X, y = make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=min(3, n_features),
        n_redundant=0, n_clusters_per_class=1, weights=[1 - minority_share], flip_y=0,
        random_state=seed,
    )
    return X, y


def minority_of(X, y, label=1):
    return X[y == label]


def segment_fit(points, X_class, neighbours):
    """Best (residual, gap) of each point over all segments X_class[i] -> X_class[neighbours[i, j]].

    Returns arrays of shape (n_points,): the distance from each point to the
    closest segment and the gap (in [0, 1]) at which it is reached.
    """
    starts = np.repeat(X_class, neighbours.shape[1], axis=0)
    ends = X_class[neighbours.ravel()]
    direction = ends - starts
    length2 = np.einsum("ij,ij->i", direction, direction)
    offset = points[:, None, :] - starts[None, :, :]
    gap = np.clip(np.einsum("psd,sd->ps", offset, direction) / np.where(length2 > 0, length2, 1), 0, 1)
    residual = np.linalg.norm(offset - gap[..., None] * direction[None], axis=2)
    best = residual.argmin(axis=1)
    return residual[np.arange(len(points)), best], gap[np.arange(len(points)), best]


def brute_force_neighbours(X_class, k):
    """k nearest other rows by exact Euclidean distance (rows of distinct points)."""
    distances = np.linalg.norm(X_class[:, None, :] - X_class[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    return np.sort(np.argsort(distances, axis=1, kind="stable")[:, :k], axis=1)


# --- amount and allocation (spec unit-test ideas: counts) ---------------------------------------

def test_n300_on_40_minority_rows_gives_120_synthetic_samples_3_per_base():
    X, y = imbalanced(n_samples=400, minority_share=0.1, seed=1)
    y = np.r_[np.zeros(360, int), np.ones(40, int)]
    sampler = SMOTE(percentage=300, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (520, X.shape[1])
    assert np.bincount(y_res).tolist() == [360, 160]
    assert np.bincount(sampler.sample_origin_[:, 0], minlength=40).tolist() == [3] * 40


def test_n50_gives_20_synthetic_samples_each_from_a_distinct_base():
    X, _ = imbalanced(n_samples=200, seed=2)
    y = np.r_[np.zeros(160, int), np.ones(40, int)]
    sampler = SMOTE(percentage=50, random_state=3)
    _, y_res = sampler.fit_resample(X, y)
    bases = sampler.sample_origin_[:, 0]
    assert (y_res == 1).sum() == 60
    assert len(bases) == 20 and len(np.unique(bases)) == 20


def test_non_multiple_of_100_gives_floor_per_base_plus_a_random_subset():
    X, y = imbalanced(n_samples=300, seed=4)
    T = int((y == 1).sum())
    sampler = SMOTE(percentage=250, random_state=0)
    sampler.fit_resample(X, y)
    per_base = np.bincount(sampler.sample_origin_[:, 0], minlength=T)
    S = n_synthetic_from_percentage(T, 250)
    assert per_base.sum() == S == int(np.floor(2.5 * T + 0.5))
    assert set(per_base.tolist()) <= {2, 3}
    assert (per_base == 3).sum() == S - 2 * T


def test_synthetic_rows_come_in_base_sample_order():
    X, y = imbalanced(seed=5)
    sampler = SMOTE(percentage=230, random_state=1)
    sampler.fit_resample(X, y)
    assert np.all(np.diff(sampler.sample_origin_[:, 0]) >= 0)


def test_allocate_per_base_uses_every_base_equally_then_a_subset_without_replacement():
    bases = allocate_per_base(10, 34, np.random.RandomState(0))
    counts = np.bincount(bases, minlength=10)
    assert counts.sum() == 34 and set(counts.tolist()) == {3, 4} and (counts == 4).sum() == 4
    assert np.all(np.diff(bases) >= 0)


def test_n_synthetic_from_percentage_rounds_halves_up():
    assert n_synthetic_from_percentage(40, 300) == 120
    assert n_synthetic_from_percentage(40, 50) == 20
    assert n_synthetic_from_percentage(3, 50) == 2
    assert n_synthetic_from_percentage(7, 10) == 1


# --- geometry invariants -------------------------------------------------------------------------

@pytest.mark.parametrize("percentage", [100, 200, 350])
def test_each_synthetic_row_is_base_plus_gap_times_neighbour_minus_base(percentage):
    X, y = imbalanced(seed=6)
    sampler = SMOTE(percentage=percentage, k_neighbors=4, random_state=7)
    X_res, _ = sampler.fit_resample(X, y)
    X_min = minority_of(X, y)
    synthetic = X_res[len(X):]
    base, neighbour = sampler.sample_origin_.T
    gaps = sampler.gaps_
    assert gaps.shape == (len(synthetic),)
    assert np.all((gaps >= 0) & (gaps <= 1))
    np.testing.assert_allclose(
        synthetic, X_min[base] + gaps[:, None] * (X_min[neighbour] - X_min[base]), rtol=0, atol=1e-12
    )
    assert all(n in sampler.nn_indices_[b] for b, n in zip(base, neighbour))


def test_stored_neighbours_are_the_k_nearest_other_minority_rows():
    X, y = imbalanced(seed=8)
    sampler = SMOTE(percentage=200, k_neighbors=5, random_state=0)
    sampler.fit_resample(X, y)
    X_min = minority_of(X, y)
    assert sampler.nn_indices_.shape == (len(X_min), 5)
    np.testing.assert_array_equal(np.sort(sampler.nn_indices_, axis=1), brute_force_neighbours(X_min, 5))
    np.testing.assert_array_equal(sampler.minority_indices_, np.flatnonzero(y == 1))


def test_synthetic_rows_stay_inside_the_minority_bounding_box():
    X, y = imbalanced(n_features=6, seed=9)
    X_res, y_res = SMOTE(percentage=500, random_state=2).fit_resample(X, y)
    X_min = minority_of(X, y)
    synthetic = X_res[len(X):]
    assert np.all(synthetic >= X_min.min(axis=0)) and np.all(synthetic <= X_min.max(axis=0))


def test_one_dimensional_minority_0_1_2_with_k1_stays_in_0_2():
    X = np.r_[[0.0, 1.0, 2.0], np.linspace(10, 20, 12)].reshape(-1, 1)
    y = np.r_[[1, 1, 1], np.zeros(12, int)]
    sampler = SMOTE(percentage=1000, k_neighbors=1, random_state=0)
    X_res, _ = sampler.fit_resample(X, y)
    synthetic = X_res[15:, 0]
    assert len(synthetic) == 30
    assert synthetic.min() >= 0 and synthetic.max() <= 2
    # Row 1 (value 1) is equidistant from 0 and 2; either is a valid single neighbour.
    assert sampler.nn_indices_[0, 0] == 1 and sampler.nn_indices_[2, 0] == 1


def test_per_feature_gap_stays_in_the_box_between_base_and_neighbour():
    X, y = imbalanced(n_features=5, seed=10)
    sampler = SMOTE(percentage=200, per_feature_gap=True, random_state=4)
    X_res, _ = sampler.fit_resample(X, y)
    X_min = minority_of(X, y)
    base, neighbour = sampler.sample_origin_.T
    synthetic = X_res[len(X):]
    assert sampler.gaps_.shape == synthetic.shape
    low = np.minimum(X_min[base], X_min[neighbour])
    high = np.maximum(X_min[base], X_min[neighbour])
    assert np.all(synthetic >= low - 1e-12) and np.all(synthetic <= high + 1e-12)
    # With a gap per feature the points leave the segments (the paper's literal pseudo-code).
    residual, _ = segment_fit(synthetic, X_min, sampler.nn_indices_)
    assert np.median(residual) > 1e-3


def test_majority_rows_are_never_modified_and_originals_come_first():
    X, y = imbalanced(seed=11)
    X_before = X.copy()
    X_res, y_res = SMOTE(random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(X_res[: len(X)], X)
    np.testing.assert_array_equal(y_res[: len(y)], y)
    assert np.all(y_res[len(y):] == 1)


# --- randomness ----------------------------------------------------------------------------------

def test_same_random_state_gives_identical_rows_and_other_seeds_differ():
    X, y = imbalanced(seed=12)
    first = SMOTE(random_state=5).fit_resample(X, y)[0]
    again = SMOTE(random_state=5).fit_resample(X, y)[0]
    other = SMOTE(random_state=6).fit_resample(X, y)[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[len(X):], other[len(X):])


def test_randomstate_instances_are_reproducible_and_generators_are_refused_by_name():
    X, y = imbalanced(seed=13)
    a = SMOTE(percentage=200, random_state=np.random.RandomState(3)).fit_resample(X, y)[0]
    b = SMOTE(percentage=200, random_state=np.random.RandomState(3)).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="random_state"):
        SMOTE(random_state=np.random.default_rng(3)).fit_resample(X, y)


# --- classes, dtypes, containers -----------------------------------------------------------------

def test_dict_percentage_oversamples_each_class_with_its_own_neighbours():
    X, y = make_classification(
        n_samples=600, n_classes=3, n_informative=3, n_clusters_per_class=1,
        weights=[0.7, 0.2, 0.1], flip_y=0, random_state=0,
    )
    sizes = np.bincount(y)
    sampler = SMOTE(percentage={1: 100, 2: 300}, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [sizes[0], 2 * sizes[1], 4 * sizes[2]]
    assert sampler.sampling_strategy_ == {1: sizes[1], 2: 3 * sizes[2]}
    np.testing.assert_array_equal(sampler.minority_indices_[2], np.flatnonzero(y == 2))
    for label in (1, 2):
        X_class = X[y == label]
        synthetic = X_res[len(X):][y_res[len(X):] == label]
        base, neighbour = sampler.sample_origin_[label].T
        np.testing.assert_allclose(
            synthetic,
            X_class[base] + sampler.gaps_[label][:, None] * (X_class[neighbour] - X_class[base]),
            atol=1e-12,
        )
        np.testing.assert_array_equal(
            np.sort(sampler.nn_indices_[label], axis=1), brute_force_neighbours(X_class, 5)
        )


def test_minority_label_selects_the_class_to_oversample():
    X, y = imbalanced(seed=14)
    sampler = SMOTE(percentage=100, minority_label=0, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert sampler.sampling_strategy_ == {0: (y == 0).sum()}
    assert np.bincount(y_res).tolist() == [2 * (y == 0).sum(), (y == 1).sum()]


def test_string_labels_work():
    X, y = imbalanced(seed=15)
    labels = np.where(y == 1, "rare", "common")
    sampler = SMOTE(percentage=200, random_state=0)
    _, y_res = sampler.fit_resample(X, labels)
    assert sampler.sampling_strategy_ == {"rare": 2 * (y == 1).sum()}
    assert (y_res == "rare").sum() == 3 * (y == 1).sum()
    assert np.array_equal(SMOTE(random_state=0).fit_resample(X, labels)[1],
                          ImblearnSMOTE(random_state=0).fit_resample(X, labels)[1])


def test_float32_stays_float32_and_integers_are_handled_as_imblearn_does():
    X, y = imbalanced(seed=16)
    assert SMOTE(percentage=200, random_state=0).fit_resample(X.astype(np.float32), y)[0].dtype == np.float32
    integers = np.round(X * 10).astype(np.int64)
    ours = SMOTE(random_state=0).fit_resample(integers, y)[0]
    assert np.array_equal(ours, ImblearnSMOTE(random_state=0).fit_resample(integers, y)[0])
    assert ours.dtype == np.int64


def test_dataframe_in_dataframe_out_with_series_target():
    X, y = imbalanced(seed=17)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    target = pd.Series(y, name="label")
    sampler = SMOTE(percentage=200, random_state=0)
    X_res, y_res = sampler.fit_resample(frame, target)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(frame.columns)
    assert isinstance(y_res, pd.Series) and y_res.name == "label"
    assert list(sampler.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(X_res.to_numpy(), SMOTE(percentage=200, random_state=0).fit_resample(X, y)[0])


def test_sparse_input_gives_the_dense_result_as_a_sparse_matrix():
    X, y = imbalanced(seed=17)
    X[np.abs(X) < 0.5] = 0.0
    for kwargs in ({"percentage": 250}, {"percentage": 100, "per_feature_gap": True}, {}):
        dense = SMOTE(random_state=1, **kwargs).fit_resample(X, y)[0]
        sparse = SMOTE(random_state=1, **kwargs).fit_resample(scipy.sparse.csr_matrix(X), y)[0]
        assert scipy.sparse.issparse(sparse)
        np.testing.assert_allclose(sparse.toarray(), dense, rtol=0, atol=1e-12)


def test_percentage_so_small_that_no_sample_is_made_returns_the_input():
    X, y = imbalanced(seed=18)
    sampler = SMOTE(percentage=0.1, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X)
    assert sampler.sample_origin_.shape == (0, 2)


# --- bad input -----------------------------------------------------------------------------------

def test_too_few_minority_rows_for_k_neighbors_names_k_and_the_count():
    X, y = imbalanced(seed=19)
    y = np.zeros(len(y), int)
    y[:4] = 1
    with pytest.raises(ValueError, match=r"k_neighbors=5.*only 4"):
        SMOTE(k_neighbors=5).fit_resample(X, y)
    SMOTE(k_neighbors=3).fit_resample(X, y)  # k = T - 1 is the largest that works
    single = np.r_[1, np.zeros(len(y) - 1, int)]
    with pytest.raises(ValueError, match=r"k_neighbors=1.*only 1"):
        SMOTE(k_neighbors=1).fit_resample(X, single)


@pytest.mark.parametrize("k", [0, -1, 2.5, "5"])
def test_k_neighbors_must_be_a_positive_integer(k):
    X, y = imbalanced(seed=20)
    with pytest.raises(ValueError, match="k_neighbors"):
        SMOTE(k_neighbors=k).fit_resample(X, y)


@pytest.mark.parametrize("percentage", [0, -100, float("nan"), float("inf"), "200", {1: 0}, {}])
def test_percentage_must_be_positive(percentage):
    X, y = imbalanced(seed=21)
    with pytest.raises(ValueError, match="percentage"):
        SMOTE(percentage=percentage).fit_resample(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_X_is_refused(bad):
    X, y = imbalanced(seed=22)
    X[3, 1] = bad
    with pytest.raises(ValueError, match="X"):
        SMOTE().fit_resample(X, y)


def test_non_numeric_columns_point_to_smotenc_and_smoten():
    X, y = imbalanced(seed=23)
    frame = pd.DataFrame(X)
    frame["colour"] = np.where(y == 1, "red", "blue")
    with pytest.raises(ValueError, match="SMOTENC.*SMOTEN"):
        SMOTE().fit_resample(frame, y)
    with pytest.raises(ValueError, match="SMOTENC"):
        SMOTE().fit_resample(np.array([["a", 1.0]] * 20, dtype=object), y[:20])


def test_a_single_class_in_y_is_refused():
    X, y = imbalanced(seed=24)
    with pytest.raises(ValueError, match="y must contain at least 2 classes"):
        SMOTE().fit_resample(X, np.ones(len(y), int))


def test_continuous_targets_are_refused():
    X, y = imbalanced(seed=25)
    with pytest.raises(ValueError, match="y must hold class labels"):
        SMOTE().fit_resample(X, np.linspace(0, 1, len(y)))


def test_unknown_labels_are_named():
    X, y = imbalanced(seed=26)
    with pytest.raises(ValueError, match="minority_label=7"):
        SMOTE(percentage=200, minority_label=7).fit_resample(X, y)
    with pytest.raises(ValueError, match="percentage"):
        SMOTE(percentage={7: 100}).fit_resample(X, y)
    with pytest.raises(ValueError, match="sampling_strategy"):
        SMOTE(sampling_strategy={7: 100}).fit_resample(X, y)
    with pytest.raises(ValueError, match="minority_label must be None"):
        SMOTE(percentage={1: 100}, minority_label=1).fit_resample(X, y)


@pytest.mark.parametrize("strategy", ["majority", 1.5, 0.0, {1: 3}, [1], lambda y: [1]])
def test_bad_sampling_strategy_is_named(strategy):
    X, y = imbalanced(seed=27)
    with pytest.raises(ValueError, match="sampling_strategy"):
        SMOTE(sampling_strategy=strategy).fit_resample(X, y)


def test_per_feature_gap_must_be_boolean_and_needs_percentage():
    X, y = imbalanced(seed=28)
    with pytest.raises(ValueError, match="per_feature_gap"):
        SMOTE(percentage=200, per_feature_gap="yes").fit_resample(X, y)
    with pytest.raises(ValueError, match="per_feature_gap=True .* needs percentage"):
        SMOTE(per_feature_gap=True).fit_resample(X, y)


def test_percentage_and_sampling_strategy_together_are_refused():
    X, y = imbalanced(seed=28)
    with pytest.raises(ValueError, match="either percentage .* or sampling_strategy"):
        SMOTE(percentage=200, sampling_strategy="minority").fit_resample(X, y)
    with pytest.raises(ValueError, match="minority_label .* give percentage"):
        SMOTE(minority_label=1).fit_resample(X, y)


def test_mismatched_lengths_are_refused():
    X, y = imbalanced(seed=29)
    with pytest.raises(ValueError, match="X and y must have the same number of rows"):
        SMOTE().fit_resample(X, y[:-1])


def test_failed_fit_sets_no_fitted_attribute():
    X, y = imbalanced(seed=30)
    sampler = SMOTE(k_neighbors=500)
    with pytest.raises(ValueError, match="k_neighbors=500"):
        sampler.fit_resample(X, y)
    assert not hasattr(sampler, "nn_indices_") and not hasattr(sampler, "sampling_strategy_")
    assert not hasattr(sampler, "n_features_in_")


# --- scikit-learn / imbalanced-learn integration -------------------------------------------------

def test_params_round_trip_through_clone():
    sampler = SMOTE(percentage={1: 300}, k_neighbors=3, per_feature_gap=True, random_state=2)
    assert clone(sampler).get_params() == sampler.get_params()


def test_works_as_a_step_of_an_imblearn_pipeline():
    X, y = imbalanced(seed=31)
    pipe = Pipeline([("smote", SMOTE(percentage=300, random_state=0)),
                     ("tree", DecisionTreeClassifier(random_state=0))])
    pipe.fit(X, y)
    n_seen = pipe.named_steps["tree"].tree_.n_node_samples[0]
    assert n_seen == len(y) + 3 * (y == 1).sum()
    assert pipe.predict(X).shape == y.shape  # resampling happens only at fit time


# --- equivalence with imbalanced-learn -----------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("percentage", [100, 200, 300])
def test_same_counts_as_imblearn_and_both_lie_on_k_nearest_neighbour_segments(seed, percentage):
    X, y = imbalanced(n_samples=250, n_features=3 + seed, seed=seed)
    T = int((y == 1).sum())
    S = n_synthetic_from_percentage(T, percentage)
    ours_X, ours_y = SMOTE(percentage=percentage, random_state=seed).fit_resample(X, y)
    theirs_X, theirs_y = ImblearnSMOTE(
        sampling_strategy={1: T + S}, k_neighbors=5, random_state=seed
    ).fit_resample(X, y)
    assert np.bincount(ours_y).tolist() == np.bincount(theirs_y).tolist()
    X_min = minority_of(X, y)
    neighbours = brute_force_neighbours(X_min, 5)
    for synthetic in (ours_X[len(X):], theirs_X[len(X):]):
        residual, gap = segment_fit(synthetic, X_min, neighbours)
        assert residual.max() < 1e-9
        assert np.all((gap >= 0) & (gap <= 1))


def imblearn_draws(random_state, n_class, k, n_synthetic):
    """The (base, neighbour column, gap) draws of imblearn's SMOTE._make_samples."""
    rng = np.random.RandomState(random_state)
    flat = rng.randint(low=0, high=n_class * k, size=n_synthetic)
    gaps = rng.uniform(size=n_synthetic)
    return flat // k, flat % k, gaps


@pytest.mark.parametrize("seed", [0, 7, 42])
def test_recorded_origins_are_imblearns_draws_and_rebuild_its_rows_exactly(seed):
    X, y = imbalanced(n_samples=400, n_features=5, seed=seed)
    T = int((y == 1).sum())
    S = 3 * T
    theirs_X, _ = ImblearnSMOTE(sampling_strategy={1: T + S}, random_state=seed).fit_resample(X, y)
    sampler = SMOTE(sampling_strategy={1: T + S}, random_state=seed)
    ours_X, _ = sampler.fit_resample(X, y)
    assert np.array_equal(ours_X, theirs_X)
    X_min = minority_of(X, y)
    base, column, gaps = imblearn_draws(seed, T, 5, S)
    neighbours = sampler.nn_indices_[1]
    np.testing.assert_array_equal(np.sort(neighbours, axis=1), brute_force_neighbours(X_min, 5))
    np.testing.assert_array_equal(sampler.sample_origin_[1], np.column_stack([base, neighbours[base, column]]))
    np.testing.assert_array_equal(sampler.gaps_[1], gaps)
    rebuilt = X_min[base] + gaps[:, None] * (X_min[neighbours[base, column]] - X_min[base])
    assert np.array_equal(rebuilt, theirs_X[len(X):])


def test_defaults_are_imblearns_so_swapping_the_import_changes_nothing():
    ours, theirs = SMOTE().get_params(), ImblearnSMOTE().get_params()
    assert {name: ours[name] for name in theirs} == theirs
    assert (ours["percentage"], ours["per_feature_gap"]) == (None, False)
    X, y = make_classification(n_samples=500, n_classes=3, n_informative=3, n_clusters_per_class=1,
                               weights=[0.6, 0.3, 0.1], random_state=5)
    assert all(np.array_equal(a, b) for a, b in zip(SMOTE(random_state=3).fit_resample(X, y),
                                                    ImblearnSMOTE(random_state=3).fit_resample(X, y)))


@pytest.mark.parametrize(
    "strategy", ["auto", "minority", "not majority", "all", 0.6, {1: 150}, lambda y: {1: 120}]
)
@pytest.mark.parametrize("seed", [0, 11])
def test_sampling_strategy_mode_equals_imblearn_bit_for_bit(strategy, seed):
    X, y = imbalanced(n_samples=300, n_features=4, seed=seed)
    theirs = ImblearnSMOTE(sampling_strategy=strategy, random_state=seed).fit_resample(X, y)
    sampler = SMOTE(sampling_strategy=strategy, random_state=seed)
    ours = sampler.fit_resample(X, y)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
    assert set(sampler.sampling_strategy_) == {1} or strategy == "all"


def test_sampling_strategy_mode_matches_imblearn_on_multiclass_and_float32_and_randomstate():
    X, y = make_classification(
        n_samples=500, n_classes=3, n_informative=3, n_clusters_per_class=1,
        weights=[0.6, 0.3, 0.1], flip_y=0, random_state=1,
    )
    for data in (X, X.astype(np.float32)):
        theirs = ImblearnSMOTE(sampling_strategy="not majority", random_state=4).fit_resample(data, y)
        ours = SMOTE(sampling_strategy="not majority", random_state=4).fit_resample(data, y)
        assert ours[0].dtype == theirs[0].dtype
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
    theirs = ImblearnSMOTE(random_state=np.random.RandomState(9)).fit_resample(X, y)
    ours = SMOTE(sampling_strategy="auto", random_state=np.random.RandomState(9)).fit_resample(X, y)
    assert np.array_equal(ours[0], theirs[0])


def test_synthetic_feature_means_agree_with_imblearn_within_a_tenth_of_a_pooled_sd():
    X, y = imbalanced(n_samples=3000, n_features=6, minority_share=0.2, seed=3)
    T = int((y == 1).sum())
    S = n_synthetic_from_percentage(T, 500)
    assert S >= 2000
    ours = SMOTE(percentage=500, random_state=0).fit_resample(X, y)[0][len(X):]
    theirs = ImblearnSMOTE(sampling_strategy={1: T + S}, random_state=0).fit_resample(X, y)[0][len(X):]
    pooled_sd = np.sqrt((ours.var(axis=0) + theirs.var(axis=0)) / 2)
    assert np.all(np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) < 0.1 * pooled_sd)


def test_downstream_tree_auc_is_within_002_of_imblearn_on_average():
    # Single-split tree AUCs vary by ~0.03 between seeds of the same sampler,
    # so the comparison averages 20 splits (standard error ~0.006).
    differences = []
    for seed in range(20):
        X, y = imbalanced(n_samples=1500, n_features=6, minority_share=0.1, seed=seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=seed)
        T = int((y_train == 1).sum())
        aucs = []
        for sampler in (SMOTE(percentage=300, random_state=seed),
                        ImblearnSMOTE(sampling_strategy={1: 4 * T}, random_state=seed)):
            X_res, y_res = sampler.fit_resample(X_train, y_train)
            tree = DecisionTreeClassifier(min_samples_leaf=5, random_state=seed).fit(X_res, y_res)
            aucs.append(roc_auc_score(y_test, tree.predict_proba(X_test)[:, 1]))
        differences.append(aucs[0] - aucs[1])
    assert abs(np.mean(differences)) < 0.02


# --- property-based ------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(
    n_minority=st.integers(3, 25),
    n_majority=st.integers(1, 40),
    n_features=st.integers(1, 4),
    k=st.integers(1, 5),
    percentage=st.floats(1, 700),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_small_datasets_give_planned_counts_on_neighbour_segments(
    n_minority, n_majority, n_features, k, percentage, seed
):
    k = min(k, n_minority - 1)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_minority + n_majority, n_features))
    y = np.r_[np.ones(n_minority, int), np.zeros(n_majority, int)]
    sampler = SMOTE(percentage=percentage, k_neighbors=k, minority_label=1, random_state=seed)
    X_res, y_res = sampler.fit_resample(X, y)
    S = n_synthetic_from_percentage(n_minority, percentage)
    assert (y_res == 1).sum() == n_minority + S and (y_res == 0).sum() == n_majority
    per_base = np.bincount(sampler.sample_origin_[:, 0], minlength=n_minority)
    assert per_base.max() - per_base.min() <= 1
    if S:
        residual, gap = segment_fit(X_res[len(X):], X[:n_minority], sampler.nn_indices_)
        assert residual.max() < 1e-9 and gap.min() >= 0 and gap.max() <= 1
