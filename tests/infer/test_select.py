import numpy as np
import pytest

from diversa.datasets.candidate_pools import SimulatedJudge, make_candidate_pools
from diversa.infer.select import (
    best_of_n,
    chops_select,
    majority_vote_select,
    mbr_select,
    pass_at_n,
    pointwise_judge_select,
    random_select,
    win_rate,
    x_mbr_select,
)


def _chrf_like(a, b):
    sa, sb = set(a), set(b)
    return len(sa & sb) / max(len(sa | sb), 1)


def test_best_of_n_and_ragged():
    r = best_of_n(np.array([[0.1, 0.9, 0.9], [0.5, 0.2, 0.1]]))
    np.testing.assert_array_equal(r.index, [1, 0])
    assert r.n_calls == 6
    rr = best_of_n([np.array([0.2, 0.3]), np.array([0.9])])
    np.testing.assert_array_equal(rr.index, [1, 0])
    assert rr.n_calls == 3
    assert pointwise_judge_select(np.array([[0.0, 1.0]])).index[0] == 1


def test_mbr_duplicate_wins_and_include_self_shift():
    hyps = ["abcd", "abce", "abcd", "xyz"]
    U = np.array([[[_chrf_like(a, b) for b in hyps] for a in hyps]])
    res = mbr_select(U)
    assert res.index[0] in (0, 2) and res.n_calls == 12
    assert mbr_select(U, include_self=True).index[0] == res.index[0]
    # callable utility gives the same
    cres = mbr_select(lambda i, j, k: _chrf_like(hyps[j], hyps[k]), shape=(1, 4, 4))
    assert cres.index[0] == res.index[0]


def test_mbr_exact_match_equals_majority_vote():
    rng = np.random.default_rng(0)
    A = rng.integers(0, 3, size=(50, 7))
    U = (A[:, :, None] == A[:, None, :]).astype(float)
    np.testing.assert_array_equal(mbr_select(U, include_self=True).index, majority_vote_select(A))


def test_x_mbr_m0_equals_mbr_and_evidence_never_selected():
    rng = np.random.default_rng(1)
    S = rng.random((20, 5, 5))
    np.testing.assert_array_equal(x_mbr_select(S, np.zeros((20, 5, 0))).index, mbr_select(S).index)
    res = x_mbr_select(S, rng.random((20, 5, 3)) + 5)
    assert np.all(res.index < 5) and res.n_calls == 20 * 5 * 7


def test_chops_one_call_per_query_and_quality():
    pool = make_candidate_pools(n_queries=60, n_candidates=5, task="open", temperature=0.7, hedged=True,
                                random_state=0)
    judge = SimulatedJudge(random_state=0)
    res = chops_select(judge, pool)
    assert res.n_calls == 60 and res.index.shape == (60,)
    sel = pool.quality[np.arange(60), res.index]
    assert sel.mean() > pool.quality.mean()


def test_win_rate_pass_at_n_random():
    q = np.array([0.2, 0.5, 0.9])
    assert win_rate(q, q) == 0.5
    assert 0 <= win_rate(q, q[::-1]) <= 1
    assert pass_at_n(np.array([[0, 1], [0, 0]])) == 0.5
    r = random_select(np.array([3, 1, 5]), random_state=0)
    assert r.index[1] == 0 and np.all(r.index < [3, 1, 5])


def test_bad_input():
    with pytest.raises(ValueError, match="utility_same"):
        x_mbr_select(np.zeros((2, 3, 4)), np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="utility_cross"):
        x_mbr_select(np.zeros((2, 3, 3)), np.zeros((2, 4, 1)))
    with pytest.raises(ValueError, match="shape"):
        mbr_select(lambda i, j, k: 0.0)
    with pytest.raises(ValueError, match="evidence"):
        mbr_select(np.zeros((1, 1, 1)))
    with pytest.raises(TypeError, match="judge"):
        chops_select(object(), None)
    with pytest.raises(ValueError, match="q_selected"):
        win_rate(np.zeros(3), np.zeros(2))
