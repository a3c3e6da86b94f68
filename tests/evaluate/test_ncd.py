import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from diversa.evaluate.ncd import (
    clustering_accuracy,
    match_clusters,
    novel_class_scores,
    novel_class_split,
)


def _confusion(y_true, y_pred):
    classes, t = np.unique(y_true, return_inverse=True)
    clusters, p = np.unique(y_pred, return_inverse=True)
    table = np.zeros((classes.size, clusters.size), dtype=int)
    np.add.at(table, (t, p), 1)
    return table


def _brute_force(y_true, y_pred):
    table = _confusion(y_true, y_pred)
    n_classes, n_clusters = table.shape
    best = 0
    # every one-to-one map from clusters to classes (injective on the smaller side)
    if n_clusters <= n_classes:
        for classes in itertools.permutations(range(n_classes), n_clusters):
            best = max(best, sum(table[c, k] for k, c in enumerate(classes)))
    else:
        for clusters in itertools.permutations(range(n_clusters), n_classes):
            best = max(best, sum(table[c, k] for c, k in enumerate(clusters)))
    return best / len(y_true)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_classes, n_clusters", [(3, 3), (4, 4), (3, 5), (5, 2)])
def test_accuracy_equals_assignment_and_brute_force(seed, n_classes, n_clusters):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, 60)
    y_pred = np.where(rng.random(60) < 0.6, y_true % n_clusters, rng.integers(0, n_clusters, 60)) + 10
    table = _confusion(y_true, y_pred)
    rows, cols = linear_sum_assignment(-table)
    acc = clustering_accuracy(y_true, y_pred)
    assert acc == pytest.approx(table[rows, cols].sum() / 60)
    assert acc == pytest.approx(_brute_force(y_true, y_pred))


def test_accuracy_is_invariant_to_relabelling_and_the_map_achieves_it():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 80)
    relabel = np.array([7, 3, 9, 1])
    assert clustering_accuracy(y, relabel[y]) == 1.0
    noisy = np.where(rng.random(80) < 0.3, rng.integers(0, 4, 80), y)
    assert clustering_accuracy(y, noisy) == clustering_accuracy(y, relabel[noisy])
    mapping = match_clusters(y, relabel[noisy])
    mapped = np.array([mapping.get(c, -1) for c in relabel[noisy]])
    assert np.mean(mapped == y) == pytest.approx(clustering_accuracy(y, noisy))
    assert clustering_accuracy(["a", "b", "b"], [0, 1, 1]) == 1.0


def test_scores_match_scikit_learn():
    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 3, 50), rng.integers(0, 4, 50)
    scores = novel_class_scores(y, pred)
    assert scores.nmi == normalized_mutual_info_score(y, pred)
    assert scores.ari == adjusted_rand_score(y, pred)
    assert scores.acc == clustering_accuracy(y, pred)


def test_accuracy_bad_input():
    with pytest.raises(ValueError, match="same length"):
        clustering_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        clustering_accuracy([], [])
    with pytest.raises(ValueError, match="1-D"):
        clustering_accuracy([[0]], [[0]])


def test_novel_class_split_hides_novel_labels():
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([0, 1, 2, 3, 0, 1, 2, 3, 4, 4])
    split = novel_class_split(X, y, novel_classes=[2, 3], known_classes=[0, 1])
    assert set(split.y_known) == {0, 1} and set(split.y_novel) == {2, 3}
    assert len(split.X_known) == 4 and len(split.X_unlabelled) == 4     # class 4 is in neither
    assert len(novel_class_split(X, y, [2, 3]).X_known) == 6             # default known: the rest


@pytest.mark.parametrize("novel, known, match", [([1, 2], [0, 1], "overlap"), ([9], None, "novel_classes"),
                                                 ([1], [0, 8], "known_classes")])
def test_novel_class_split_bad_input(novel, known, match):
    X, y = np.zeros((6, 2)), np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match=match):
        novel_class_split(X, y, novel, known)
    with pytest.raises(ValueError, match="NaN"):
        novel_class_split(np.full((6, 2), np.nan), y, [2])
