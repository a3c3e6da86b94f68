"""Tests of diversa.data.resample.under: the paper's u% under-sampling and SMOTE + under-sampling."""

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler as ImblearnRandomUnderSampler
from sklearn.base import clone
from sklearn.tree import DecisionTreeClassifier

from diversa.data.resample import (
    SMOTE,
    RandomUnderSampler,
    SMOTEUnder,
    n_majority_after_undersampling,
    n_synthetic_from_percentage,
)


def two_classes(n_minority=50, n_majority=400, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(2, 1, size=(n_minority, n_features)),
                   rng.normal(0, 1, size=(n_majority, n_features))])
    y = np.r_[np.ones(n_minority, int), np.zeros(n_majority, int)]
    order = rng.permutation(len(y))
    return X[order], y[order]


# --- the u% definition ---------------------------------------------------------------------------

@pytest.mark.parametrize("u, kept", [(200, 25), (100, 50), (25, 200), (10, 400), (1, 400), (1e6, 1)])
def test_u_percent_keeps_round_T_times_100_over_u_majority_rows_clipped(u, kept):
    X, y = two_classes(n_minority=50, n_majority=400)
    sampler = RandomUnderSampler(percentage=u, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert (y_res == 0).sum() == kept and sampler.sampling_strategy_ == {0: kept}
    assert (y_res == 1).sum() == 50


def test_paper_example_50_minority_at_200_percent_keeps_25():
    assert n_majority_after_undersampling(50, 200, 1000) == 25
    assert n_majority_after_undersampling(3, 200, 10) == 2  # 1.5 rounds up
    assert n_majority_after_undersampling(50, 1, 30) == 30


def test_kept_rows_are_unchanged_distinct_original_rows():
    X, y = two_classes(seed=1)
    sampler = RandomUnderSampler(percentage=150, random_state=3)
    X_res, y_res = sampler.fit_resample(X, y)
    indices = sampler.sample_indices_
    assert len(np.unique(indices)) == len(indices) == 50 + 33
    np.testing.assert_array_equal(X_res, X[indices])
    np.testing.assert_array_equal(y_res, y[indices])
    assert set(np.flatnonzero(y == 1)) <= set(indices)  # the minority is never touched


def test_same_seed_same_rows_other_seed_other_rows():
    X, y = two_classes(seed=2)
    a = RandomUnderSampler(percentage=200, random_state=4).fit_resample(X, y)[0]
    b = RandomUnderSampler(percentage=200, random_state=4).fit_resample(X, y)[0]
    c = RandomUnderSampler(percentage=200, random_state=5).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_reference_minority_count_and_majority_label_override_the_defaults():
    X, y = two_classes(n_minority=50, n_majority=400, seed=3)
    _, y_res = RandomUnderSampler(percentage=100, reference_minority_count=80, random_state=0).fit_resample(X, y)
    assert (y_res == 0).sum() == 80
    _, y_res = RandomUnderSampler(percentage=200, majority_label=1, random_state=0).fit_resample(X, y)
    assert (y_res == 1).sum() == 50  # 400 * 100 / 200 = 200, clipped to the 50 rows of class 1
    assert (y_res == 0).sum() == 400


def test_multiclass_keeps_every_non_majority_class_whole():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2], [300, 60, 30])
    X = rng.normal(size=(len(y), 2))
    _, y_res = RandomUnderSampler(percentage=50, random_state=0).fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [60, 60, 30]


def test_accepts_object_arrays_missing_values_and_dataframes():
    X, y = two_classes(seed=5)
    objects = X.astype(object)
    objects[:, 0] = np.where(y == 1, "rare", None)
    X_res, _ = RandomUnderSampler(percentage=200, random_state=0).fit_resample(objects, y)
    assert X_res.dtype == object and len(X_res) == 75
    frame = pd.DataFrame({"a": X[:, 0], "b": pd.Categorical(np.where(y == 1, "x", "y"))})
    frame_res, y_res = RandomUnderSampler(percentage=200, random_state=0).fit_resample(frame, pd.Series(y, name="t"))
    assert isinstance(frame_res, pd.DataFrame) and frame_res.dtypes.equals(frame.dtypes)
    assert isinstance(y_res, pd.Series) and y_res.name == "t" and len(frame_res) == len(y_res) == 75


def test_counts_equal_imblearn_random_under_sampler_with_the_dict_strategy():
    for u in (10, 50, 100, 175, 400):
        X, y = two_classes(n_minority=37, n_majority=300, seed=u)
        n_new = n_majority_after_undersampling(37, u, 300)
        ours = RandomUnderSampler(percentage=u, random_state=0).fit_resample(X, y)
        theirs = ImblearnRandomUnderSampler(sampling_strategy={0: n_new}, random_state=0).fit_resample(X, y)
        assert np.bincount(ours[1]).tolist() == np.bincount(theirs[1]).tolist()
        # Same draw: the same rows in the same order.
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("kwargs", [
    {}, {"sampling_strategy": 0.5}, {"sampling_strategy": "not minority"}, {"sampling_strategy": {0: 70, 2: 20}},
    {"replacement": True}, {"sampling_strategy": "all", "replacement": True},
])
def test_imblearn_semantics_without_percentage_equal_imblearn_bit_for_bit(kwargs):
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], [300, 60, 30])
    X = rng.normal(size=(len(y), 3))
    if "sampling_strategy" in kwargs and isinstance(kwargs["sampling_strategy"], float):
        X, y = X[y != 2], y[y != 2]
    ours = RandomUnderSampler(random_state=7, **kwargs)
    theirs = ImblearnRandomUnderSampler(random_state=7, **kwargs)
    X_ours, y_ours = ours.fit_resample(X, y)
    X_theirs, y_theirs = theirs.fit_resample(X, y)
    assert np.array_equal(X_ours, X_theirs) and np.array_equal(y_ours, y_theirs)
    np.testing.assert_array_equal(ours.sample_indices_, theirs.sample_indices_)
    assert dict(ours.sampling_strategy_) == dict(theirs.sampling_strategy_)


def test_defaults_are_imblearns():
    ours, theirs = RandomUnderSampler().get_params(), ImblearnRandomUnderSampler().get_params()
    assert {name: ours[name] for name in theirs} == theirs and ours["percentage"] is None


def test_replacement_applies_to_the_papers_mode_too():
    X, y = two_classes(n_minority=50, n_majority=400, seed=13)
    sampler = RandomUnderSampler(percentage=100, replacement=True, random_state=1)
    _, y_res = sampler.fit_resample(X, y)
    kept = sampler.sample_indices_[y_res == 0]
    assert len(kept) == 50 and len(np.unique(kept)) < 50  # 50 draws from 400 repeat with probability 0.96


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"percentage": 0}, "percentage"),
        ({"percentage": -5}, "percentage"),
        ({"percentage": "100"}, "percentage"),
        ({"majority_label": 9}, "majority_label=9"),
        ({"reference_minority_count": 0}, "reference_minority_count"),
        ({"reference_minority_count": 2.5}, "reference_minority_count"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    X, y = two_classes(seed=6)
    with pytest.raises(ValueError, match=message):
        RandomUnderSampler(**{"percentage": 100, **kwargs}).fit_resample(X, y)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sampling_strategy": "majority", "percentage": 100}, "either percentage"),
        ({"majority_label": 0}, "give percentage"),
        ({"sampling_strategy": {1: 80}}, "sampling_strategy="),
        ({"sampling_strategy": 2.0}, "sampling_strategy"),
    ],
)
def test_bad_imblearn_arguments_are_named(kwargs, message):
    X, y = two_classes(seed=6)
    with pytest.raises(ValueError, match=message):
        RandomUnderSampler(**kwargs).fit_resample(X, y)


def test_bad_data_is_refused():
    X, y = two_classes(seed=7)
    with pytest.raises(ValueError, match="at least 2 classes"):
        RandomUnderSampler(percentage=100).fit_resample(X, np.zeros(len(y), int))
    with pytest.raises(ValueError, match="same number of rows"):
        RandomUnderSampler(percentage=100).fit_resample(X, y[:-3])
    with pytest.raises(ValueError, match="X must be 2-D"):
        RandomUnderSampler().fit_resample(X[:, 0], y)


# --- SMOTE + under-sampling ----------------------------------------------------------------------

@pytest.mark.parametrize("u", [50, 100, 200])
def test_smote_under_uses_the_original_minority_count_for_the_majority(u):
    X, y = two_classes(n_minority=40, n_majority=400, seed=8)
    _, y_res = SMOTEUnder(smote_percentage=300, under_percentage=u, random_state=0).fit_resample(X, y)
    assert (y_res == 0).sum() == n_majority_after_undersampling(40, u, 400)
    assert (y_res == 1).sum() == 40 + n_synthetic_from_percentage(40, 300)


def test_smote_under_keeps_the_same_majority_rows_as_under_alone_with_the_same_seed():
    X, y = two_classes(seed=9)
    combined = SMOTEUnder(smote_percentage=200, under_percentage=150, random_state=12)
    X_res, y_res = combined.fit_resample(X, y)
    under = RandomUnderSampler(percentage=150, random_state=12)
    X_under, y_under = under.fit_resample(X, y)
    np.testing.assert_array_equal(combined.sample_indices_, under.sample_indices_)
    np.testing.assert_array_equal(X_res[: len(X_under)], X_under)
    np.testing.assert_array_equal(y_res[: len(y_under)], y_under)
    assert np.all(y_res[len(y_under):] == 1)


def test_smote_under_synthetic_rows_lie_on_minority_segments():
    X, y = two_classes(seed=10)
    combined = SMOTEUnder(smote_percentage=200, under_percentage=100, k_neighbors=3, random_state=1)
    X_res, _ = combined.fit_resample(X, y)
    smote = combined.smote_
    X_min = X[y == 1]
    base, neighbour = smote.sample_origin_.T
    expected = X_min[base] + smote.gaps_[:, None] * (X_min[neighbour] - X_min[base])
    np.testing.assert_allclose(X_res[len(combined.sample_indices_):], expected, atol=1e-12)
    assert smote.nn_indices_.shape == (len(X_min), 3)


def test_smote_under_is_deterministic_and_an_imblearn_pipeline_step():
    X, y = two_classes(seed=11)
    a = SMOTEUnder(random_state=3).fit_resample(X, y)[0]
    b = clone(SMOTEUnder(random_state=3)).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    pipe = Pipeline([("resample", SMOTEUnder(smote_percentage=100, under_percentage=100, random_state=0)),
                     ("tree", DecisionTreeClassifier(random_state=0))]).fit(X, y)
    assert pipe.named_steps["tree"].tree_.n_node_samples[0] == 50 + 50 + 50
    pipe = Pipeline([("under", RandomUnderSampler(percentage=200, random_state=0)),
                     ("smote", SMOTE(percentage=100, minority_label=1, random_state=0)),
                     ("tree", DecisionTreeClassifier(random_state=0))]).fit(X, y)
    assert pipe.named_steps["tree"].tree_.n_node_samples[0] == 25 + 100


def test_smote_under_refuses_bad_input_with_named_arguments():
    X, y = two_classes(seed=12)
    with pytest.raises(ValueError, match="must differ"):
        SMOTEUnder(minority_label=0, majority_label=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="under_percentage"):
        SMOTEUnder(under_percentage=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="smote_percentage"):
        SMOTEUnder(smote_percentage=-1).fit_resample(X, y)
    with pytest.raises(ValueError, match="SMOTENC"):
        SMOTEUnder().fit_resample(pd.DataFrame({"a": X[:, 0], "b": ["s"] * len(y)}), y)
    with pytest.raises(ValueError, match="k_neighbors"):
        SMOTEUnder(k_neighbors=60).fit_resample(X, y)
