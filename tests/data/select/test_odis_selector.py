import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from diversa.data.select import ODiSSelector, pc_average_select, selection_overlap


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 20))
    latent = X[:, :3] @ rng.normal(size=(3, 3))
    # six correlated raw dimensions driven by three latent factors, all predictable from X
    S = np.column_stack([latent[:, 0], latent[:, 0] + 0.3 * latent[:, 1], latent[:, 1], latent[:, 2],
                         latent[:, 2] - 0.2 * latent[:, 0], latent[:, 1] + latent[:, 2]])
    S = S + 0.1 * rng.normal(size=S.shape)
    annotated = S.copy()
    annotated[rng.random(600) > 0.4] = np.nan
    return X, S, annotated


def test_pca_matches_sklearn_up_to_orientation_and_scores_are_decorrelated(corpus):
    X, S, annotated = corpus
    sel = ODiSSelector(3, random_state=0).fit(X, quality=annotated)
    mask = ~np.isnan(annotated).any(axis=1)
    ref = PCA(n_components=3, svd_solver="full").fit(StandardScaler().fit_transform(S[mask]))
    assert np.allclose(sel.pca_.explained_variance_ratio_, ref.explained_variance_ratio_)
    assert np.allclose(np.abs(sel.loadings_), np.abs(ref.components_.T))
    assert np.all(sel.loadings_.sum(axis=0) >= 0)
    Y = (sel.scaler_.transform(S[mask]) - sel.pca_.mean_) @ sel.loadings_
    corr = np.corrcoef(Y.T)
    assert np.allclose(corr[np.triu_indices(3, 1)], 0, atol=1e-8)
    assert sel.scorer_r2_.shape == (3,) and sel.scorer_r2_[0] > 0.8
    assert sel.scores_.shape == (600, 3)


def test_fill_is_exact_with_quotas_and_union_is_smaller_or_equal(corpus):
    X, _, annotated = corpus
    sel = ODiSSelector(3, random_state=0).fit(X, quality=annotated)
    idx = sel.select(90)
    assert len(idx) == 90 and len(np.unique(idx)) == 90
    assert np.array_equal(idx, sel.select(90))
    assert np.allclose(np.diag(sel.overlap_), 1.0) and sel.overlap_.shape == (3, 3)
    union = ODiSSelector(3, dedup="union", random_state=0).fit(X, quality=annotated).select(90)
    n_dup = sum(len(s) for s in sel.per_component_indices_) - len(np.unique(np.concatenate(sel.per_component_indices_)))
    assert len(union) == 90 - n_dup


def test_single_component_is_top_k_and_dimension_order_does_not_matter(corpus):
    X, S, annotated = corpus
    one = ODiSSelector(1, random_state=0).fit(X, quality=annotated)
    assert np.array_equal(one.select(25), np.argsort(-one.scores_[:, 0], kind="stable")[:25])
    perm = np.random.default_rng(1).permutation(S.shape[1])
    a = ODiSSelector(3, random_state=0).fit(X, quality=annotated).select(60)
    b = ODiSSelector(3, random_state=0).fit(X, quality=annotated[:, perm]).select(60)
    assert set(a.tolist()) == set(b.tolist())


def test_floor_and_softmax_sampling(corpus):
    X, _, annotated = corpus
    sel = ODiSSelector(3, floor_quantile=0.5, random_state=0).fit(X, quality=annotated)
    idx = sel.select(60)
    joint = sel.scores_.mean(axis=1)
    assert joint[idx].min() >= np.quantile(joint, 0.5)
    soft = ODiSSelector(3, sampling="softmax", random_state=0).fit(X, quality=annotated)
    s1 = soft.select(60)
    assert len(np.unique(s1)) == 60 and np.array_equal(s1, soft.select(60))


def test_overlap_and_pc_average():
    sets = [np.array([0, 1, 2, 3]), np.array([2, 3, 4, 5])]
    assert np.allclose(selection_overlap(sets), [[1, 0.5], [0.5, 1]])
    tokens = np.array([1, 1, 2, 6, 1, 1])
    assert np.allclose(selection_overlap(sets, tokens)[0, 1], 8 / 10)
    scores = np.array([[1.0, 0.0], [0.0, 0.0], [3.0, 3.0]])
    assert pc_average_select(scores, 2).tolist() == [2, 0]
    sampled = pc_average_select(scores, 2, mode="sample", random_state=0)
    assert len(set(sampled.tolist())) == 2


def test_bad_input_names_the_argument(corpus):
    X, S, _annotated = corpus
    with pytest.raises(ValueError, match="n_components"):
        ODiSSelector(7).fit(X, quality=S)
    with pytest.raises(ValueError, match="quality"):
        ODiSSelector(3).fit(X)
    few = np.full_like(S, np.nan)
    few[:3] = S[:3]
    with pytest.raises(ValueError, match="annotated"):
        ODiSSelector(3).fit(X, quality=few)
    with pytest.raises(ValueError, match="quality"):
        ODiSSelector(3).fit(X, quality=S[:10])
    with pytest.raises(ValueError, match="budget"):
        ODiSSelector(3).fit(X, quality=S).select(601)
    with pytest.raises(ValueError, match="dedup"):
        ODiSSelector(3, dedup="x").fit(X, quality=S)


def test_annotated_rows_are_ranked_by_their_true_scores(corpus):
    # Embeddings that carry no information about the scores: the regressors predict ~0 for
    # every row, so only the annotations can put the truly best documents on top.
    _, S, annotated = corpus
    X = np.random.default_rng(5).normal(size=(S.shape[0], 20))
    sel = ODiSSelector(1, random_state=0).fit(X, quality=annotated)
    mask = sel.annotated_
    assert mask.sum() == int((~np.isnan(annotated).any(axis=1)).sum())
    true = (sel.scaler_.transform(S[mask]) - sel.pca_.mean_) @ sel.loadings_
    np.testing.assert_allclose(sel.scores_[mask], true)
    np.testing.assert_allclose(sel.scores_[~mask], sel.transform(X[~mask]))
    top = np.flatnonzero(mask)[np.argsort(-true[:, 0], kind="stable")[:20]]
    assert set(sel.select(20).tolist()) == set(top.tolist())
