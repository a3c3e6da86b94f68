"""Post-hoc MIA audit: the bag-of-words shift detector, AUC reporting, RDD helpers, MIA scores."""

import zlib

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

from diversa.datasets.timestamped_text import TemporalTextWorld
from diversa.evaluate.audit import (
    BagOfWordsShiftDetector,
    EmptyVocabularyError,
    excess_over_placebo,
    mia_auc,
    mia_scores,
    placebo_cutoffs,
    rdd_bandwidth_curve,
    rdd_jump,
    rdd_split,
    separability_auc,
    tpr_at_fpr,
)


@pytest.fixture(scope="module")
def world():
    return TemporalTextWorld(seed=0)


@pytest.fixture(scope="module")
def shifted(world):
    rng = np.random.default_rng(0)
    return world.sample_window(100, 0.0, 0.4, rng)[0], world.sample_window(100, 0.6, 1.0, rng)[0]


def _templates(words, n, seed):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, 8)) for _ in range(n)]


def test_identical_sets_are_not_separable(world):
    texts = world.sample_window(300, 0.2, 0.4, 0)[0]
    order = np.random.default_rng(1).permutation(300)
    detector = BagOfWordsShiftDetector(n_estimators=30, n_bootstrap=100).fit([texts[i] for i in order[:150]],
                                                                             [texts[i] for i in order[150:]])
    assert 0.35 <= detector.auc_ <= 0.65
    assert not detector.shift_detected_
    assert "distinguishable" not in detector.reading()


def test_disjoint_vocabularies_are_perfectly_separable():
    a, b = _templates(["alpha", "beta"], 40, 0), _templates(["gamma", "delta"], 40, 1)
    detector = BagOfWordsShiftDetector(n_estimators=20, n_bootstrap=50, n_permutations=4).fit(a, b)
    assert detector.auc_ == 1.0 and detector.shift_detected_
    assert detector.pvalue_ == pytest.approx(0.2)  # the smallest possible with 4 permutations
    assert detector.permutation_aucs_.shape == (4,)
    with parallel_config(backend="threading"):  # no worker processes to start in a unit test
        parallel = BagOfWordsShiftDetector(n_estimators=20, n_bootstrap=0, n_permutations=4, n_jobs=2).fit(a, b)
    np.testing.assert_array_equal(parallel.permutation_aucs_, detector.permutation_aucs_)
    assert {w for w, *_ in detector.top_features_} <= {"alpha", "beta", "gamma", "delta"}
    _word, importance, df_a, df_b = detector.top_features_[0]
    assert importance > 0 and {df_a, df_b} & {0.0}
    assert "distinguishable" in detector.report()["reading"]


def test_every_document_scored_once_out_of_fold(shifted):
    detector = BagOfWordsShiftDetector(n_estimators=10, n_bootstrap=0).fit(*shifted)
    assert detector.oof_scores_.shape == (200,) and np.all(np.isfinite(detector.oof_scores_))
    assert sorted(np.bincount(detector.fold_of_)) == [40] * 5
    assert detector.labels_.sum() == 100


def test_vocabulary_is_fitted_on_training_folds_only():
    # Every document carries a word of its own: with min_df=1 it enters a fold's vocabulary
    # exactly when the document is in that fold's training part.
    a = [f"common alpha own{i}" for i in range(20)]
    b = [f"common beta own{i + 20}" for i in range(20)]
    detector = BagOfWordsShiftDetector(min_df=1, n_estimators=5, n_bootstrap=0).fit(a, b)
    for fold, vocabulary in enumerate(detector.fold_vocabularies_):
        for doc in range(40):
            assert (f"own{doc}" in vocabulary) == (detector.fold_of_[doc] != fold)


def test_matches_the_official_pipeline_exactly(shifted):
    texts = shifted[0] + shifted[1]
    labels = np.r_[np.ones(100), np.zeros(100)]
    expected = np.zeros(200)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=42).split(texts, labels):
        vectorizer = CountVectorizer(min_df=0.05)
        X_train = vectorizer.fit_transform([texts[i] for i in train])
        forest = RandomForestClassifier(100, max_depth=2, min_samples_leaf=5, random_state=42)
        forest.fit(X_train, labels[train])
        expected[test] = forest.predict_proba(vectorizer.transform([texts[i] for i in test]))[:, 1]
    detector = BagOfWordsShiftDetector(n_bootstrap=0).fit(*shifted)
    np.testing.assert_array_equal(detector.oof_scores_, expected)
    assert detector.auc_ == roc_auc_score(labels, expected)


def test_swapping_the_sets_keeps_the_auc(shifted):
    forward = separability_auc(*shifted, n_estimators=30)
    backward = separability_auc(shifted[1], shifted[0], n_estimators=30)
    assert forward > 0.9 and abs(forward - backward) < 0.03


def test_deterministic_and_logistic_finds_shift(shifted):
    first = BagOfWordsShiftDetector(n_estimators=20, n_bootstrap=50).fit(*shifted)
    second = BagOfWordsShiftDetector(n_estimators=20, n_bootstrap=50).fit(*shifted)
    np.testing.assert_array_equal(first.oof_scores_, second.oof_scores_)
    assert first.auc_ci_ == second.auc_ci_
    assert separability_auc(*shifted, classifier="logistic") > 0.9


def test_empty_vocabulary_is_refused_rather_than_reported_as_no_shift():
    # An empty bag of words used to give every document the prior: "AUC 0.500, no shift".
    with pytest.raises(EmptyVocabularyError, match="min_df"):
        BagOfWordsShiftDetector(n_estimators=5, n_bootstrap=0).fit([""] * 10, [""] * 10)
    with pytest.raises(ValueError, match="min_df=1000"):
        BagOfWordsShiftDetector(min_df=1000, n_estimators=5, n_bootstrap=0).fit(["aa bb"] * 10, ["cc dd"] * 10)


def test_tpr_at_fpr_is_the_largest_tpr_within_the_fpr_budget():
    # Perfectly separated scores: every member is found before any false positive. The closest-FPR
    # rule picked the ROC point (0, 0) and reported TPR 0 beside an AUC of 1.
    assert tpr_at_fpr([0, 0, 0, 1, 1, 1], [.1, .2, .3, .7, .8, .9], 0.1) == 1.0
    # FPR steps of 1/3: a 0.3 budget admits only FPR 0, where one member of three is found;
    # the closest point (FPR 1/3, TPR 2/3) would exceed the budget.
    assert tpr_at_fpr([0, 0, 0, 1, 1, 1], [.1, .5, .8, .7, .9, .4], 0.3) == pytest.approx(1 / 3)
    assert tpr_at_fpr([0, 0, 0, 1, 1, 1], [.1, .5, .8, .7, .9, .4], 0.34) == pytest.approx(2 / 3)


@pytest.mark.parametrize("min_df", [0, 0.0, 1.5, -1, "0.1"])
def test_bad_min_df(min_df):
    with pytest.raises(ValueError, match="min_df"):
        BagOfWordsShiftDetector(min_df=min_df).fit(["a b"] * 5, ["c d"] * 5)


def test_boolean_min_df_is_a_type_error():
    with pytest.raises(TypeError, match="min_df"):
        BagOfWordsShiftDetector(min_df=True).fit(["a b"] * 5, ["c d"] * 5)


@pytest.mark.parametrize("min_df", [1, 2, 1.0, 0.5])
def test_good_min_df(min_df):
    # "the" is in every document, so even min_df=1.0 (all documents) keeps a word.
    BagOfWordsShiftDetector(min_df=min_df, n_estimators=5, n_bootstrap=0).fit(["the aa bb"] * 5, ["the cc dd"] * 5)


def test_too_few_documents_and_bad_types():
    with pytest.raises(ValueError, match="texts_b has 4 documents"):
        BagOfWordsShiftDetector().fit(["aa"] * 5, ["bb"] * 4)
    with pytest.raises(ValueError, match="at least 2"):
        BagOfWordsShiftDetector(n_splits=2).fit(["aa"] * 5, ["bb"])
    with pytest.raises(TypeError, match=r"texts_a\[1\]"):
        BagOfWordsShiftDetector().fit(["aa", 3, "cc", "dd", "ee"], ["bb"] * 5)
    with pytest.raises(TypeError, match="texts_a must be a sequence"):
        BagOfWordsShiftDetector().fit("aa bb", ["bb"] * 5)
    with pytest.raises(ValueError, match="classifier"):
        BagOfWordsShiftDetector(classifier="svm").fit(["aa"] * 5, ["bb"] * 5)
    with pytest.raises(ValueError, match="fit"):
        BagOfWordsShiftDetector().report()


def test_mia_auc_matches_sklearn_and_bootstraps():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(200), np.zeros(200)]
    scores = rng.normal(labels * 0.8, 1.0)
    result = mia_auc(scores, labels, n_bootstrap=100, random_state=1)
    assert result.auc == roc_auc_score(labels, scores)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    assert result.tpr_at_fpr[0.1] == tpr[fpr <= 0.1].max()
    low, high = result.auc_ci
    assert low < result.auc < high and result.auc_std > 0 and result.n_bootstrap == 100
    assert mia_auc(scores, labels, n_bootstrap=100, random_state=1) == result
    assert mia_auc(scores, labels, n_bootstrap=0).auc_ci is None
    assert result.to_dict()["tpr_at_fpr"]["0.1"] == result.tpr_at_fpr[0.1]


def test_mia_auc_bad_input():
    with pytest.raises(ValueError, match="both members"):
        mia_auc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        mia_auc([0.1, 0.2], [1, 0, 1])
    with pytest.raises(ValueError, match="labels"):
        mia_auc([0.1, 0.2], [1, 2])


def test_rdd_split_floats_and_datetimes():
    t = np.array([0.2, 0.45, 0.49, 0.5, 0.55, 0.61, 0.7])
    members, nonmembers = rdd_split(t, 0.5, 0.1)
    assert members.tolist() == [False, True, True, False, False, False, False]
    assert nonmembers.tolist() == [False, False, False, True, True, False, False]
    dates = np.array(["2023-01-20", "2023-02-10", "2023-02-28", "2023-03-01", "2023-03-30", "2023-04-02"],
                     dtype="datetime64[D]")
    members, nonmembers = rdd_split(dates, np.datetime64("2023-03-01"), np.timedelta64(31, "D"))
    assert members.tolist() == [False, True, True, False, False, False]
    assert nonmembers.tolist() == [False, False, False, True, True, False]
    members, nonmembers = rdd_split(t, 0.5, 0.1, exclude=(0.48, 0.52))
    assert members.sum() == 1 and nonmembers.sum() == 1
    with pytest.raises(ValueError, match="bandwidth"):
        rdd_split(t, 0.5, 0.0)


def test_rdd_jump_recovers_a_known_jump():
    t = np.linspace(0, 1, 401)
    y = 2 + 0.5 * t + 1.0 * (t < 0.5)
    jump = rdd_jump(y, t, 0.5, 0.2)
    assert jump.tau == pytest.approx(1.0, abs=1e-10) and jump.n_left > 0 and jump.n_right > 0


def test_rdd_jump_without_a_jump_is_small_and_shrinks():
    t = np.linspace(0, 1, 2001)
    taus = [abs(rdd_jump(np.sin(3 * t), t, 0.5, h).tau) for h in (0.4, 0.2, 0.1)]
    assert taus[0] < 0.1 and taus[0] > taus[1] > taus[2]


def test_rdd_jump_equals_weighted_least_squares_with_hc1():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1, 500)
    y = np.sin(2 * t) + 0.4 * (t < 0.5) + rng.normal(0, 0.3, 500)
    jump = rdd_jump(y, t, 0.5, 0.3)
    inside = np.abs(t - 0.5) < 0.3
    x = (t[inside] - 0.5) / 0.3
    d = (x < 0).astype(float)
    fit = sm.WLS(y[inside], np.column_stack([np.ones_like(x), d, x, d * x]), weights=1 - np.abs(x)).fit(cov_type="HC1")
    assert jump.tau == pytest.approx(fit.params[1], abs=1e-10)
    assert jump.se == pytest.approx(fit.bse[1], rel=1e-8)


def test_rdd_jump_bad_input():
    with pytest.raises(ValueError, match="3 documents"):
        rdd_jump([1.0, 2.0, 3.0], [0.1, 0.2, 0.6], 0.5, 0.3)
    with pytest.raises(ValueError, match="kernel"):
        rdd_jump([1.0], [0.1], 0.5, 0.3, kernel="epanechnikov")


def test_bandwidth_curve_and_placebos(world):
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0.0, 1.0, 800))
    texts = world.sample(times, rng)
    detector = BagOfWordsShiftDetector(n_estimators=20, n_bootstrap=0)
    curve = rdd_bandwidth_curve(texts, times, 0.5, [0.4, 0.05, 0.001], detector=detector)
    assert [row["bandwidth"] for row in curve] == [0.4, 0.05, 0.001]
    assert curve[0]["auc"] > curve[1]["auc"] and curve[2]["auc"] is None  # too few documents
    placebos = placebo_cutoffs(texts, times, [0.2, 0.8], 0.1, detector=detector, true_cutoff=0.5)
    # Each placebo splits the documents within h of its own cut-off at that cut-off.
    assert [(row["n_members"], row["n_nonmembers"]) for row in placebos] == [
        (np.sum((times >= c - 0.1) & (times < c)), np.sum((times >= c) & (times < c + 0.1))) for c in (0.2, 0.8)]
    # The world drifts smoothly: a placebo measures that drift, so a wider window sees more of it.
    wider = placebo_cutoffs(texts, times, [0.2, 0.8], 0.2, detector=detector, true_cutoff=0.5)
    assert all(0.5 < narrow["auc"] < wide["auc"] for narrow, wide in zip(placebos, wider))
    assert excess_over_placebo(0.7, placebos) == pytest.approx(0.7 - np.mean([r["auc"] for r in placebos]))
    with pytest.raises(ValueError, match="straddles"):
        placebo_cutoffs(texts, times, [0.45], 0.1, true_cutoff=0.5)


def test_mia_scores():
    logprobs = [np.array([-1.0, -2.0, -3.0, -4.0, -5.0]), np.array([-0.5, -0.5])]
    texts = ["hello world", "hi"]
    scores = mia_scores(logprobs, texts, k=0.4)
    np.testing.assert_allclose(scores["loss"], [-3.0, -0.5])
    np.testing.assert_allclose(scores["min_k"], [-4.5, -0.5])
    np.testing.assert_allclose(scores["zlib"], [-15.0 / len(zlib.compress(b"hello world")),
                                                -1.0 / len(zlib.compress(b"hi"))])
    with pytest.raises(ValueError, match="non-empty finite"):
        mia_scores([np.array([])])
