"""Balanced min-cut partitions of an edge's operations (GM-NAS, arXiv:2203.15207), against networkx."""

import itertools

import numpy as np
import pytest

from diversa.systems.nas import edge_split_score, partition_ops, set_partitions, within_distance


def random_dist(n, seed, high=2.0):
    rng = np.random.default_rng(seed)
    d = np.triu(rng.uniform(0, high, size=(n, n)), 1)
    return d + d.T


def brute_force(dist, k, sizes):
    """The least within-group distance over labelled assignments with group sizes in ``sizes``."""
    n = len(dist)
    best = np.inf
    for labels in itertools.product(range(k), repeat=n):
        groups = [[i for i in range(n) if labels[i] == g] for g in range(k)]
        if all(sizes[0] <= len(g) <= sizes[1] for g in groups):
            best = min(best, within_distance(dist, groups))
    return best


def test_two_obvious_clusters_are_found():
    D = np.array([[0, .1, .9, .8], [.1, 0, .7, .9], [.9, .7, 0, .2], [.8, .9, .2, 0]])
    groups, w = partition_ops(D)
    assert [g.tolist() for g in groups] == [[0, 1], [2, 3]] and w == pytest.approx(0.3)
    D2 = D[np.ix_([0, 2, 1, 3], [0, 2, 1, 3])]          # the same clusters under relabelled operations
    assert [g.tolist() for g in partition_ops(D2)[0]] == [[0, 2], [1, 3]]


@pytest.mark.parametrize("n, k", [(4, 2), (5, 2), (6, 2), (6, 3), (7, 2), (7, 3)])
def test_the_result_is_a_balanced_partition_with_the_brute_force_minimum(n, k):
    for seed in range(3):
        D = random_dist(n, seed)
        groups, w = partition_ops(D, n_groups=k)
        members = np.concatenate(groups)
        assert len(groups) == k and sorted(members.tolist()) == list(range(n))
        assert {len(g) for g in groups} <= {n // k, -(-n // k)}
        assert w == pytest.approx(within_distance(D, groups))
        assert w == pytest.approx(brute_force(D, k, (n // k, -(-n // k))))


def test_min_group_size_gives_the_darts_space_rule():
    D = random_dist(7, 4)
    groups, w = partition_ops(D, min_group_size=2)
    assert all(len(g) >= 2 for g in groups)
    assert w == pytest.approx(brute_force(D, 2, (2, 5)))
    assert w <= partition_ops(D)[1] + 1e-12                # a superset of the balanced partitions


def test_set_partitions_counts():
    assert len(list(set_partitions(5, 2, (2, 3)))) == 10
    assert len(list(set_partitions(4, 2, (2, 2)))) == 3
    assert len(list(set_partitions(5, 2, (1, 5)))) == 15   # Stirling numbers of the second kind
    assert len(list(set_partitions(6, 3, (1, 6)))) == 90
    assert len(list(set_partitions(6, 3, (2, 2)))) == 15


def test_candidates_restrict_the_partition():
    D = random_dist(6, 1)
    groups, w = partition_ops(D, candidates=[1, 3, 4, 5])
    assert sorted(np.concatenate(groups).tolist()) == [1, 3, 4, 5]
    sub = D[np.ix_([1, 3, 4, 5], [1, 3, 4, 5])]
    assert w == pytest.approx(brute_force(sub, 2, (2, 2)))
    D[0, 2] = D[2, 0] = np.nan                              # outside the candidates: ignored
    assert partition_ops(D, candidates=[1, 3, 4, 5])[1] == pytest.approx(w)


def test_edge_scores():
    D = random_dist(4, 2)
    groups, w = partition_ops(D)
    assert edge_split_score(D, groups, "cross") == pytest.approx(np.triu(D, 1).sum() - w)
    assert edge_split_score(D, groups, "within") == pytest.approx(-w)
    with pytest.raises(ValueError, match="rule"):
        edge_split_score(D, groups, "max")


@pytest.mark.parametrize("D, match", [(np.array([[0, 1], [2, 0]]), "symmetric"), (-random_dist(3, 0), "non-negative"),
                                      (np.ones((2, 3)), "square"), (np.full((3, 3), np.nan), "finite")])
def test_bad_distances_are_refused(D, match):
    with pytest.raises(ValueError, match=match):
        partition_ops(D)


def test_bad_group_settings_are_refused():
    with pytest.raises(ValueError, match="n_groups"):
        partition_ops(random_dist(3, 0), n_groups=4)
    with pytest.raises(ValueError, match="n_groups"):
        partition_ops(random_dist(3, 0), n_groups=0)
    with pytest.raises(ValueError, match="min_group_size"):
        partition_ops(random_dist(5, 0), min_group_size=3)
    with pytest.raises(ValueError, match="candidates"):
        partition_ops(random_dist(4, 0), candidates=[0, 0, 1])


def test_exhaustive_cut_is_never_worse_than_kernighan_lin():
    # Anchor: networkx's Kernighan-Lin bisection on the complete graph weighted by the GM score 1 - D is a
    # balanced heuristic; for fixed group sizes the least within-group distance is the least cut of that graph.
    nx = pytest.importorskip("networkx")
    from networkx.algorithms.community import kernighan_lin_bisection

    for n in (4, 5, 6, 7, 8):
        for seed in range(5):
            D = random_dist(n, 100 * n + seed)
            G = nx.Graph()
            G.add_weighted_edges_from((i, j, 1.0 - D[i, j]) for i in range(n) for j in range(i + 1, n))
            a, b = kernighan_lin_bisection(G, weight="weight", seed=0)
            assert {len(a), len(b)} == {n // 2, -(-n // 2)}
            groups, _ = partition_ops(D)
            ours = nx.cut_size(G, set(groups[0].tolist()), set(groups[1].tolist()), weight="weight")
            assert ours <= nx.cut_size(G, a, b, weight="weight") + 1e-9


def test_an_unbalanced_min_cut_isolates_one_operation():
    # Why the partition is balanced: the global minimum cut (Stoer-Wagner, on non-negative GM scores)
    # separates a single operation here, which would leave one child with almost the whole edge.
    nx = pytest.importorskip("networkx")
    D = np.array([[0, .2, .3, .2, 1.], [.2, 0, .3, .2, .9], [.3, .3, 0, .4, .9], [.2, .2, .4, 0, .8],
                  [1., .9, .9, .8, 0]])
    G = nx.Graph()
    G.add_weighted_edges_from((i, j, 1.0 - D[i, j]) for i in range(5) for j in range(i + 1, 5))
    _, (a, b) = nx.stoer_wagner(G)
    assert min(len(a), len(b)) == 1
    assert {len(g) for g in partition_ops(D)[0]} == {2, 3}
