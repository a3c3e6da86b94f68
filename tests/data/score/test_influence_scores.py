"""Array-level influence scores, normalisation and pruning (diversa.data.score)."""

import numpy as np
import pytest

from diversa.data.score import (
    EASY_IS_LOW,
    aum_scores,
    el2n_scores,
    forgetting_scores,
    normalize_scores,
    prune,
    pvi_scores,
    sample_by_score,
    sampling_weights,
    vog_scores,
)

RNG = np.random.default_rng(0)


def _probs(n, c, rng=RNG):
    z = rng.normal(size=(n, c))
    return np.exp(z) / np.exp(z).sum(1, keepdims=True)


# ----------------------------------------------------------------- EL2N
def test_el2n_matches_the_error_vector_norm_computed_by_torch():
    torch = pytest.importorskip("torch")
    p, y = _probs(50, 4), RNG.integers(0, 4, 50)
    expected = torch.linalg.vector_norm(torch.tensor(p) - torch.nn.functional.one_hot(torch.tensor(y), 4), dim=1)
    np.testing.assert_allclose(el2n_scores(p, y), expected.numpy(), rtol=1e-12)


def test_el2n_bounds_zero_for_a_confident_correct_prediction_and_mean_over_runs():
    p, y = _probs(40, 3), RNG.integers(0, 3, 40)
    s = el2n_scores(p, y)
    assert np.all(s >= 0) and np.all(s <= np.sqrt(2) + 1e-12)
    assert el2n_scores(np.eye(3), [0, 1, 2]).tolist() == [0.0, 0.0, 0.0]
    q = _probs(40, 3)
    np.testing.assert_allclose(el2n_scores(np.stack([p, q]), y), (el2n_scores(p, y) + el2n_scores(q, y)) / 2)


# ----------------------------------------------------------- forgetting
def test_forgetting_counts_on_a_hand_made_correctness_matrix():
    correct = np.array([[1, 0, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=bool).T  # (T=4, n=4)
    # example 0: 1,0,1,0 -> 2 events; 1: never forgotten; 2: never learned -> max + 1 = 3; 3: learned, kept
    assert forgetting_scores(correct).tolist() == [2.0, 0.0, 3.0, 0.0]
    runs = np.stack([correct, np.ones_like(correct)])
    assert forgetting_scores(runs).tolist() == [1.0, 0.0, 1.5, 0.0]  # run 2 learns all, forgets none


def test_forgetting_rejects_non_boolean_records():
    with pytest.raises(ValueError, match="correct"):
        forgetting_scores([[0.5, 1.0]])


# ------------------------------------------------------------------ AUM
def test_aum_is_the_mean_margin_of_the_assigned_label():
    logits = np.array([[[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]], [[4.0, 1.0, 3.0], [0.0, 0.0, 0.0]]])
    # ex 0 (label 0): 2-1=1, 4-3=1 -> 1; ex 1 (label 2): 1-3=-2, 0-0=0 -> -1
    np.testing.assert_allclose(aum_scores(logits, [0, 2]), [1.0, -1.0])
    assert EASY_IS_LOW["aum"] is False


# ------------------------------------------------------------------ PVI
def test_pvi_is_zero_for_the_null_model_and_flips_sign_when_swapped():
    p, q, y = _probs(30, 3), _probs(30, 3), RNG.integers(0, 3, 30)
    np.testing.assert_allclose(pvi_scores(p, p, y), 0.0, atol=1e-12)
    np.testing.assert_allclose(pvi_scores(p, q, y), -pvi_scores(q, p, y))


def test_pvi_against_logistic_regressions_where_the_null_model_predicts_the_prior():
    from sklearn.linear_model import LogisticRegression

    X = RNG.normal(size=(200, 2))
    y = (X[:, 0] + 0.3 * RNG.normal(size=200) > 0).astype(int)
    p_x = LogisticRegression().fit(X, y).predict_proba(X)
    p_null = LogisticRegression().fit(np.zeros((200, 1)), y).predict_proba(np.zeros((200, 1)))
    np.testing.assert_allclose(p_null[0], np.bincount(y) / 200, atol=1e-3)
    expected = np.log2(p_x[np.arange(200), y]) - np.log2(p_null[np.arange(200), y])
    np.testing.assert_allclose(pvi_scores(p_x, p_null, y), expected, rtol=1e-9)
    # examples against the decision rule (likely mislabels) get negative PVI
    assert pvi_scores(p_x, p_null, 1 - y).mean() < 0 < pvi_scores(p_x, p_null, y).mean()


# ------------------------------------------------------------------ VoG
def test_vog_is_zero_when_all_checkpoint_gradients_agree_and_quadratic_in_scale():
    g = np.repeat(RNG.normal(size=(1, 6, 5, 3)), 4, axis=0)
    assert np.all(vog_scores(g, normalize=None) == 0)
    h = RNG.normal(size=(4, 6, 5, 3))
    np.testing.assert_allclose(vog_scores(3 * h, normalize=None), 9 * vog_scores(h, normalize=None))
    np.testing.assert_allclose(vog_scores(3 * h, normalize=None, sqrt=True), 3 * vog_scores(h, normalize=None, sqrt=True))


def test_vog_masked_padding_positions_do_not_change_the_score():
    h = RNG.normal(size=(5, 4, 6, 2))
    mask = np.ones((4, 6), bool)
    mask[:, 4:] = False
    noisy_padding = h.copy()
    noisy_padding[:, :, 4:] = 100 * RNG.normal(size=(5, 4, 2, 2))
    np.testing.assert_allclose(vog_scores(h, normalize=None, mask=mask),
                               vog_scores(noisy_padding, normalize=None, mask=mask))
    np.testing.assert_allclose(vog_scores(h, normalize=None, mask=mask), vog_scores(h[:, :, :4], normalize=None))


def test_class_normalised_vog_has_mean_zero_and_sd_one_within_every_class():
    h, y = RNG.gamma(2.0, size=(5, 60, 7)), np.repeat([0, 1, 2], 20)
    h[:, y == 2] *= 10  # one class far more variable: dataset-norm would rank it all "hard"
    s = vog_scores(h, y, normalize="class")
    for c in range(3):
        assert abs(s[y == c].mean()) < 1e-12 and abs(s[y == c].std() - 1) < 1e-12
    d = vog_scores(h, y, normalize="dataset")
    assert d[y == 2].min() > d[y != 2].max()


def test_vog_argument_errors():
    with pytest.raises(ValueError, match="Nc >= 2"):
        vog_scores(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="needs labels"):
        vog_scores(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="normalize"):
        vog_scores(np.zeros((2, 3, 2)), normalize="global")
    with pytest.raises(ValueError, match="mask"):
        vog_scores(np.zeros((2, 3, 2, 2)), normalize=None, mask=np.ones((3, 5)))


# -------------------------------------------------------- normalisation
def test_normalize_scores_dataset_and_groups_and_degenerate_groups():
    s = RNG.normal(size=20)
    z = normalize_scores(s)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12
    g = np.array([0] * 19 + [1])
    assert normalize_scores(s, g)[-1] == 0.0  # a single-row group is centred, not divided by zero
    with pytest.raises(ValueError, match="groups has no rows for group"):
        normalize_scores(s, g, group_names=[0, 1, 2])
    with pytest.raises(ValueError, match="groups must be 1-D with 20"):
        normalize_scores(s, g[:5])


# --------------------------------------------------------------- prune
def test_prune_cutoff_keeps_exact_size_and_easy_and_hard_are_complements():
    s = RNG.normal(size=101)
    for frac in (0.1, 0.45, 0.99):
        kept = prune(s, frac)
        assert kept.size == 101 - int(np.floor(frac * 101)) and np.all(np.diff(kept) > 0)
    easy_removed, hard_removed = prune(s, 0.5, end="easy"), prune(s, 0.5, end="hard")
    assert s[easy_removed].min() >= s[np.setdiff1d(np.arange(101), easy_removed)].max()
    assert s[hard_removed].max() <= s[np.setdiff1d(np.arange(101), hard_removed)].min()


def test_prune_orientation_and_ties_are_broken_by_the_seed():
    s = np.array([1.0, 2.0, 3.0, 4.0])
    assert prune(s, 0.5, end="easy", easy_is_low=False).tolist() == [0, 1]
    ties = np.zeros(100)
    a, b = prune(ties, 0.5, random_state=0), prune(ties, 0.5, random_state=1)
    assert not np.array_equal(a, b) and np.array_equal(a, prune(ties, 0.5, random_state=0))


def test_prune_per_group_prunes_the_fraction_within_every_group():
    s, g = RNG.normal(size=60), np.repeat([0, 1, 2], [10, 20, 30])
    kept = prune(s, 0.5, groups=g)
    assert np.bincount(g[kept]).tolist() == [5, 10, 15]


@pytest.mark.parametrize("method", ["softmax", "linear"])
def test_prune_by_sampling_keeps_distinct_rows_and_favours_the_other_end(method):
    s = np.linspace(0, 5, 400)
    kept = prune(s, 0.5, end="easy", method=method, random_state=0)
    assert kept.size == 200 and np.unique(kept).size == 200
    assert s[kept].mean() > s.mean()
    assert s[prune(s, 0.5, end="hard", method=method, random_state=0)].mean() < s.mean()


def test_sampling_weights_linear_and_softmax():
    w = sampling_weights([0.0, 0.5, 1.0], eps=0.1)
    np.testing.assert_allclose(w, np.array([0.1, 0.55, 1.0]) / 1.65)
    sm = sampling_weights([0.0, 1.0], method="softmax", prefer="easy")
    np.testing.assert_allclose(sm, np.array([1.0, np.exp(-1)]) / (1 + np.exp(-1)))
    draw = sample_by_score(np.arange(10.0), 10, random_state=0)
    assert sorted(draw.tolist()) == list(range(10))


@pytest.mark.parametrize("bad, match", [
    (dict(fraction=0.0), "fraction must lie strictly between 0 and 1"),
    (dict(fraction=1.0), "fraction must lie strictly between 0 and 1"),
    (dict(fraction=-0.2), "fraction"),
    (dict(fraction="half"), "fraction"),
    (dict(end="middle"), "end must be one of"),
    (dict(method="topk"), "method must be one of"),
    (dict(scores=[0.1, np.nan, 0.3]), "scores contains NaN"),
    (dict(scores=[]), "scores must be a non-empty 1-D"),
    (dict(groups=[0, 1]), "groups must be 1-D with 3"),
    (dict(method="linear", eps=0.0), "eps"),
    (dict(method="softmax", temperature=0.0), "temperature"),
])
def test_prune_bad_input_names_the_argument(bad, match):
    args = dict(scores=[0.1, 0.2, 0.3], fraction=0.5)
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        prune(args.pop("scores"), args.pop("fraction"), **args)


def test_scores_of_the_wrong_length_are_rejected_by_name():
    with pytest.raises(ValueError, match="labels must be 1-D with 3"):
        el2n_scores(_probs(3, 2), [0, 1])
    with pytest.raises(ValueError, match="p_model and p_null"):
        pvi_scores(_probs(3, 2), _probs(4, 2), [0, 1, 0])
    with pytest.raises(ValueError, match="size must be an int in"):
        sample_by_score([0.1, 0.2], 3)
    with pytest.raises(ValueError, match="probs contains NaN"):
        el2n_scores([[np.nan, 1.0]], [0])
    with pytest.raises(ValueError, match="labels must be >= 0 and < 2"):
        el2n_scores(_probs(2, 2), [0, 2])
