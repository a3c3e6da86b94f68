import numpy as np
import pytest

from diversa.combine.verifiers.label_model import BinaryLabelModel, LabelModel, _mirror, estimate_class_balance


def _votes(n, tpr, tnr, cb, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < cb).astype(int)
    u = rng.random((n, len(tpr)))
    L = np.where(y[:, None] == 1, u < tpr, u >= tnr).astype(int)
    return L, y


@pytest.mark.parametrize("cb", [0.2, 0.5, 0.8])
def test_recovers_planted_accuracies(cb):
    tpr = np.array([0.9, 0.8, 0.7, 0.6, 0.85])
    tnr = np.array([0.6, 0.75, 0.9, 0.8, 0.55])
    L, _ = _votes(20000, tpr, tnr, cb, 0)
    lm = BinaryLabelModel(class_balance=cb, random_state=0).fit(L)
    assert np.abs(lm.tpr_ - tpr).max() < 0.03
    assert np.abs(lm.tnr_ - tnr).max() < 0.03
    assert lm.loss_curve_[-1] < lm.loss_curve_[0]


def test_symmetry_breaking_from_swapped_init():
    tpr = np.array([0.8, 0.75, 0.7, 0.85])
    tnr = np.array([0.7, 0.8, 0.75, 0.65])
    L, _ = _votes(5000, tpr, tnr, 0.5, 1)
    truth = np.empty((8, 2))
    truth[0::2, 0], truth[1::2, 0], truth[1::2, 1], truth[0::2, 1] = tnr, 1 - tnr, tpr, 1 - tpr
    lm = BinaryLabelModel(class_balance=0.5).fit(L, mu_init=truth[:, ::-1])
    assert np.all((lm.tpr_ + lm.tnr_) / 2 > 0.5)


def test_permutation_invariance_and_perfect_copies():
    L, y = _votes(3000, np.array([0.8, 0.7, 0.75, 0.9]), np.array([0.7, 0.8, 0.6, 0.85]), 0.35, 2)
    perm = [2, 0, 3, 1]
    p1 = BinaryLabelModel(class_balance=0.35, random_state=0).fit(L).predict_proba(L)
    p2 = BinaryLabelModel(class_balance=0.35, random_state=0).fit(L[:, perm]).predict_proba(L[:, perm])
    np.testing.assert_allclose(p1, p2, atol=1e-8)
    P = np.repeat(y[:, None], 4, axis=1)
    post = BinaryLabelModel(class_balance="labels", random_state=0).fit(P, y).predict_proba(P)[:, 1]
    assert np.all(post[y == 1] > 0.999) and np.all(post[y == 0] < 0.001)


@pytest.mark.parametrize("wc", [10.0, 0.0])
def test_matches_snorkel(wc):
    snorkel_lm = pytest.importorskip("snorkel.labeling.model")
    tpr = np.array([0.9, 0.6, 0.7, 0.8, 0.65, 0.75, 0.85])
    tnr = np.array([0.7, 0.85, 0.6, 0.9, 0.75, 0.8, 0.55])
    L, _ = _votes(3000, tpr, tnr, 0.35, 3)
    ours = BinaryLabelModel(class_balance=0.35, normalization_weight=wc, random_state=0).fit(L)
    lm = snorkel_lm.LabelModel(cardinality=2, verbose=False)
    lm.fit(L, class_balance=[0.65, 0.35], n_epochs=500, lr=0.01, l2=0.0, seed=0, progress_bar=False)
    assert np.abs(lm.predict_proba(L)[:, 1] - ours.predict_proba(L)[:, 1]).max() < 0.01
    cp = lm.get_conditional_probs()
    assert np.abs(cp[:, 2, 1] - ours.tpr_).max() < 0.01
    assert np.abs(cp[:, 1, 0] - ours.tnr_).max() < 0.01


def _weak_unbalanced_votes(seed=0, n=3200):
    # Seven near-random sources, three informative ones, two slightly worse than random; P(Y=1)=0.3.
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    tpr = np.r_[[0.34] * 7, [0.58] * 3, [0.28] * 2]
    fpr = np.r_[[0.28] * 7, [0.18] * 3, [0.31] * 2]
    L = (rng.random((n, 12)) < np.where(y[:, None] == 1, tpr, fpr)).astype(int)
    return L, y


def test_weak_unbalanced_sources_are_not_flipped():
    # Regression: with the default normalisation penalty SGD overshot through mu = 0 and settled on
    # the label-flipped solution (TPR of the informative sources ~0.02, posterior correlation -0.49
    # with the truth, where snorkel finds +0.61).
    L, y = _weak_unbalanced_votes()
    lm = BinaryLabelModel(class_balance=0.3, random_state=0).fit(L)
    assert np.all(lm.tpr_[7:10] > 0.45)
    assert np.all(lm.tpr_[7:10] > 1 - lm.tnr_[7:10])
    assert np.corrcoef(lm.predict_proba(L)[:, 1], y)[0, 1] > 0.55


@pytest.mark.parametrize("seed", range(5))
def test_mean_source_better_than_random_across_inits(seed):
    L, y = _weak_unbalanced_votes(seed=seed)
    for wc in (10.0, 0.0):
        lm = BinaryLabelModel(class_balance=0.3, normalization_weight=wc, random_state=seed).fit(L)
        assert np.mean((lm.tpr_ + lm.tnr_) / 2) > 0.5
        assert np.corrcoef(lm.predict_proba(L)[:, 1], y)[0, 1] > 0.4


@pytest.mark.parametrize("p", [[0.7, 0.3], [0.5, 0.3, 0.2]])
def test_mirror_keeps_overlaps_and_marginals(p):
    # The flipped solution the symmetry step chooses between fits the data exactly as well.
    rng = np.random.default_rng(0)
    p = np.array(p)
    mu = rng.uniform(0.05, 0.6, (4 * p.size, p.size))
    flipped = _mirror(mu, p)
    np.testing.assert_allclose(flipped @ np.diag(p) @ flipped.T, mu @ np.diag(p) @ mu.T, atol=1e-12)
    np.testing.assert_allclose(flipped @ p, mu @ p, atol=1e-12)
    if p.size == 2:   # the binary mirror swaps every source's TPR and FPR around its vote rate
        q = mu[1::2] @ p
        np.testing.assert_allclose(flipped[1::2, 1] - flipped[1::2, 0], -(mu[1::2, 1] - mu[1::2, 0]), atol=1e-12)
        np.testing.assert_allclose(flipped[1::2] @ p, q, atol=1e-12)


def _multiclass_votes(n, m, p, seed, accuracy=(0.45, 0.85), coverage=(0.2, 0.9)):
    rng = np.random.default_rng(seed)
    k = len(p)
    y = rng.choice(k, size=n, p=p)
    acc, cov = rng.uniform(*accuracy, m), rng.uniform(*coverage, m)
    L = np.where(rng.random((n, m)) < acc, y[:, None], rng.integers(0, k, (n, m)))
    return np.where(rng.random((n, m)) < cov, L, -1), y


@pytest.mark.parametrize("p", [[1 / 3] * 3, [0.5, 0.3, 0.2]])
def test_label_model_matches_snorkel_with_abstains(p):
    snorkel_lm = pytest.importorskip("snorkel.labeling.model")
    L, _ = _multiclass_votes(4000, 8, p, seed=1)
    ours = LabelModel(cardinality=3, class_balance=p, n_epochs=500, random_state=1).fit(L)
    theirs = snorkel_lm.LabelModel(cardinality=3, verbose=False)
    theirs.fit(L, class_balance=p, n_epochs=500, lr=0.01, l2=0.0, seed=1, progress_bar=False)
    assert np.abs(ours.predict_proba(L) - theirs.predict_proba(L)).max() < 1e-3
    assert np.mean(ours.predict(L) == theirs.predict(L)) >= 0.99
    assert np.abs(ours.get_conditional_probs() - theirs.get_conditional_probs()).max() < 1e-3


def test_label_model_recovers_planted_tables_and_abstains_carry_no_evidence():
    p = np.array([0.5, 0.3, 0.2])
    L, y = _multiclass_votes(30000, 6, p, seed=2, accuracy=(0.6, 0.85))
    lm = LabelModel(cardinality=3, class_balance=p, n_epochs=500, random_state=0).fit(L)
    assert np.mean(lm.predict(L) == y) > 0.85
    cp = lm.get_conditional_probs()
    for i in range(6):                     # empirical P(L_i = a | Y = y) including the abstain row
        emp = np.array([[np.mean(L[y == c, i] == a) for c in range(3)] for a in (-1, 0, 1, 2)])
        assert np.abs(cp[i] - emp).max() < 0.03
    all_abstain = np.full((1, 6), -1)
    np.testing.assert_allclose(lm.predict_proba(all_abstain)[0], p, atol=1e-12)


def test_binary_label_model_is_the_two_class_case():
    L, y = _votes(3000, np.array([0.8, 0.7, 0.75, 0.9]), np.array([0.7, 0.8, 0.6, 0.85]), 0.35, 4)
    binary = BinaryLabelModel(class_balance=0.35, random_state=0).fit(L)
    general = LabelModel(cardinality=2, class_balance=[0.65, 0.35], n_epochs=500, mu_eps=0.01,
                         normalization_weight=10.0, random_state=0).fit(L)
    np.testing.assert_allclose(binary.mu_, general.mu_, atol=1e-12)
    np.testing.assert_allclose(binary.predict_proba(L), general.predict_proba(L), atol=1e-12)
    snorkel_lm = pytest.importorskip("snorkel.labeling.model")
    plain = LabelModel(cardinality=2, class_balance=[0.65, 0.35], n_epochs=500, random_state=0).fit(L)
    theirs = snorkel_lm.LabelModel(cardinality=2, verbose=False)
    theirs.fit(L, class_balance=[0.65, 0.35], n_epochs=500, lr=0.01, l2=0.0, seed=0, progress_bar=False)
    assert np.abs(plain.predict_proba(L) - theirs.predict_proba(L)).max() < 1e-3


def test_label_model_class_balance_options():
    p = [0.6, 0.25, 0.15]
    L, y = _multiclass_votes(20000, 8, p, seed=3, accuracy=(0.55, 0.85))
    from_labels = LabelModel(cardinality=3, class_balance="labels").fit(L, y)
    np.testing.assert_allclose(from_labels.class_balance_, np.bincount(y) / y.size)
    estimated = LabelModel(cardinality=3, class_balance="estimate").fit(L)
    assert np.abs(estimated.class_balance_ - np.bincount(y) / y.size).max() < 0.02
    np.testing.assert_allclose(LabelModel(cardinality=3).fit(L).class_balance_, [1 / 3] * 3)
    binary = BinaryLabelModel(class_balance="estimate", random_state=0).fit(_votes(
        20000, np.array([0.8, 0.7, 0.75, 0.65]), np.array([0.7, 0.8, 0.6, 0.75]), 0.25, 5)[0])
    assert abs(binary.class_balance_[1] - 0.25) < 0.03


@pytest.mark.parametrize("cb", [0.15, 0.5, 0.8])
def test_estimate_class_balance_binary_and_label_swap(cb):
    tpr = np.array([0.75, 0.6, 0.7, 0.55, 0.65, 0.8])
    tnr = np.array([0.6, 0.7, 0.65, 0.75, 0.55, 0.7])
    L, y = _votes(20000, tpr, tnr, cb, 6)
    est = estimate_class_balance(L)
    assert abs(est[1] - y.mean()) < 0.03
    # Relabelling the classes (every vote complemented) must mirror the estimate, not keep it.
    np.testing.assert_allclose(estimate_class_balance(1 - L), est[::-1], atol=1e-4)


def test_estimate_class_balance_with_weak_sources():
    # Mostly weak sources under unbalanced classes: majority vote says P(Y=1) ~ 0.1, the truth is 0.3.
    L, y = _weak_unbalanced_votes(n=20000)
    assert abs(estimate_class_balance(L)[1] - y.mean()) < 0.05


def test_label_model_bad_input():
    L = np.array([[0, 1, 2], [1, -1, 0], [2, 2, 1]])
    with pytest.raises(ValueError, match="L must contain"):
        LabelModel(cardinality=2).fit(L)
    with pytest.raises(ValueError, match="L must contain"):
        LabelModel(cardinality=3).fit(L - 1)
    with pytest.raises(ValueError, match="cardinality"):
        LabelModel(cardinality=1).fit(L)
    with pytest.raises(ValueError, match="class_balance"):
        LabelModel(cardinality=3, class_balance=[0.5, 0.5]).fit(L)
    with pytest.raises(ValueError, match="class_balance"):
        LabelModel(cardinality=3, class_balance="median").fit(L)
    with pytest.raises(ValueError, match="needs labels"):
        LabelModel(cardinality=3, class_balance="labels").fit(L)
    with pytest.raises(ValueError, match="normalization_weight"):
        LabelModel(cardinality=3, normalization_weight=1.0).fit(L)
    with pytest.raises(ValueError, match="prec_init"):
        LabelModel(cardinality=3, prec_init=[0.7, 0.7]).fit(L)
    with pytest.raises(ValueError, match="lr"):
        LabelModel(cardinality=3, lr=0).fit(L)
    with pytest.raises(ValueError, match="at least 3 sources"):
        estimate_class_balance(np.array([[0, 1, -1], [1, 0, -1]]))
    lm = LabelModel(cardinality=3, n_epochs=5).fit(L)
    with pytest.raises(ValueError, match="tie_break"):
        lm.predict(L, tie_break="last")
    # Uniform prior and nothing voted: a tie, which snorkel's policy reports as -1.
    assert lm.predict(np.full((1, 3), -1)).tolist() == [-1]
    assert lm.predict(np.full((1, 3), -1), tie_break="first").tolist() == [0]


def test_bad_input():
    L = np.array([[0, 1, 1], [1, 1, 0]])
    with pytest.raises(ValueError, match="L must contain"):
        BinaryLabelModel(class_balance=0.5).fit(L + 1)
    with pytest.raises(ValueError, match="class_balance"):
        BinaryLabelModel(class_balance=1.5).fit(L)
    with pytest.raises(ValueError, match="class_balance"):
        BinaryLabelModel().fit(L)
    with pytest.warns(UserWarning, match="identifiable"):
        BinaryLabelModel(class_balance=0.5, n_epochs=5).fit(L[:, :2])
    lm = BinaryLabelModel(class_balance=0.5, n_epochs=5).fit(L)
    with pytest.raises(ValueError, match="columns"):
        lm.predict_proba(L[:, :2])


@pytest.mark.parametrize("est", [BinaryLabelModel(class_balance=0.5), LabelModel(cardinality=3)])
def test_sklearn_api_checks(est):
    # The full parametrize_with_checks suite does not apply: inputs are 0/1 vote matrices (random
    # float X is rejected by design) and fit needs a class balance. The API-contract checks do.
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
    )
    name = type(est).__name__
    check_no_attributes_set_in_init(name, est)
    check_get_params_invariance(name, est)
    check_parameters_default_constructible(name, est)
