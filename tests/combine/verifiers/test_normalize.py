import numpy as np
import pytest

from diversa.combine.verifiers.normalize import (
    binarize_verifier_scores,
    filter_verifiers,
    majority_vote_verifier,
    normalize_verifier_scores,
)


def test_unit_interval_column_unchanged_constant_to_half_and_range():
    rng = np.random.default_rng(0)
    S = np.stack([rng.random((4, 5)), np.full((4, 5), 3.0), rng.normal(5, 3, (4, 5))], axis=2)
    out = normalize_verifier_scores(S)
    np.testing.assert_array_equal(out[:, :, 0], S[:, :, 0])
    assert np.all(out[:, :, 1] == 0.5)
    assert out[:, :, 2].min() == 0 and out[:, :, 2].max() == 1
    for method in ("quantile", "winsorize"):
        o = normalize_verifier_scores(S, method=method)
        assert np.all((o >= 0) & (o <= 1))


def test_nan_handling_and_per_problem_scope():
    S = np.array([[[1.0], [3.0], [np.nan]], [[10.0], [30.0], [20.0]]])
    assert normalize_verifier_scores(S)[0, 2, 0] == 0
    assert normalize_verifier_scores(S, nan_replacement="mean")[0, 2, 0] == pytest.approx(np.mean([0, 2 / 29]))
    pp = normalize_verifier_scores(S, scope="per_problem")
    np.testing.assert_allclose(pp[0, :2, 0], [0, 1])
    np.testing.assert_allclose(pp[1, :, 0], [0, 1, 0.5])


def test_cb_threshold_rate_and_binary_untouched():
    rng = np.random.default_rng(1)
    S = np.stack([rng.random((50, 20)), (rng.random((50, 20)) < 0.9).astype(float)], axis=2)
    votes = binarize_verifier_scores(S, "cb", class_balance=0.3)
    assert abs(votes[:, :, 0].mean() - 0.3) <= 1 / 1000 + 1e-12
    np.testing.assert_array_equal(votes[:, :, 1], S[:, :, 1])


def test_filter_rules():
    votes = np.zeros((10, 4), dtype=int)
    votes[:, 0] = 1                          # marginal 1.0
    votes[:3, 1] = 1                         # 0.3
    votes[:7, 2] = 1                         # 0.7
    np.testing.assert_array_equal(filter_verifiers(votes, "all"), [1, 2])
    np.testing.assert_array_equal(filter_verifiers(votes, "adaptive", class_balance=0.1), [1, 3])
    np.testing.assert_array_equal(filter_verifiers(votes, "adaptive", class_balance=0.9), [0, 2])
    np.testing.assert_array_equal(filter_verifiers(votes, None), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="removed every verifier"):
        filter_verifiers(votes[:, [0, 3]], "all")
    np.testing.assert_array_equal(filter_verifiers(votes[:, [0, 3]], "all", fallback_all=True), [0, 1])


def test_majority_vote_verifier():
    A = np.array([[1, 1, 2, 3], [4, 4, 4, 4], [1, 2, 1, 2]])
    mv = majority_vote_verifier(A)
    np.testing.assert_allclose(mv[0], [1, 1, 0, 0])
    assert np.all(mv[1] == 1) and np.all(mv[2] == 1)


def test_bad_input():
    with pytest.raises(TypeError, match="S"):
        normalize_verifier_scores(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="method"):
        normalize_verifier_scores(np.zeros((2, 3, 1)), method="zscore")
    with pytest.raises(ValueError, match="class_balance"):
        binarize_verifier_scores(np.random.rand(2, 3, 1), "cb", class_balance=1.2)
    with pytest.raises(ValueError, match="votes"):
        filter_verifiers(np.full((3, 2), 2))
