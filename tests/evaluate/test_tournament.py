"""Competitive Swiss-System Dynamics (arXiv:2512.21010): tournament invariants, a pure-Python
reference simulator, and the static baselines on hand-computed cases."""

import random

import numpy as np
import pytest
from joblib import parallel_config
from scipy import optimize, stats

from diversa.evaluate.static_rankings import (
    bradley_terry,
    elo_ratings,
    mean_rank,
    mean_score,
    pairwise_wins,
    static_rankings,
)
from diversa.evaluate.tournament import (
    PAIRINGS,
    SwissCSD,
    bootstrap_rank_intervals,
    csd_expected_win_score,
    failure_sensitivity,
    periodic_elimination,
    win_tensor,
)


def total_order(n_models, n_benchmarks):
    """Model i beats j on every benchmark iff i < j."""
    return np.tile(np.arange(n_models, 0, -1, dtype=float)[:, None], (1, n_benchmarks))


# --- a slow reference simulator: one tournament at a time, plain Python, random.Random ---------------

def reference_tournament(wins, rng, pairing, tie, schedule, spill=True, min_active=2, random_order=False):
    m, _, k = wins.shape
    score, active = [0.0] * m, [True] * m
    rounds = list(range(k))
    if random_order:
        rng.shuffle(rounds)
    for r, bench in enumerate(rounds):
        players = [i for i in range(m) if active[i]]
        rng.shuffle(players)
        players.sort(key=lambda i: -score[i])  # stable: random order inside each score group
        for a, b in reference_pairs(players, score, pairing):
            play_match(wins[a, b, bench], wins[b, a, bench], a, b, score, rng, tie)
        if r < k - 1 and schedule[r] > 0:
            eliminate(score, active, rng, schedule[r], spill, min_active)
    return score


def reference_pairs(players, score, pairing):
    if pairing == "float":
        return [(players[i], players[i + 1]) for i in range(0, len(players) - 1, 2)]
    pairs, i = [], 0
    while i < len(players) - 1:
        if score[players[i]] == score[players[i + 1]]:
            pairs.append((players[i], players[i + 1]))
            i += 2
        else:
            i += 1  # the odd one out of its group: a bye
    return pairs


def play_match(w_ab, w_ba, a, b, score, rng, tie):
    if w_ab == 0 and w_ba == 0:
        if tie == "half":
            score[a] += 0.5
            score[b] += 0.5
        elif tie == "coin":
            score[a if rng.random() < 0.5 else b] += 1
        return
    score[a if rng.random() < w_ab else b] += 1


def eliminate(score, active, rng, n_eliminate, spill, min_active):
    players = [i for i in range(len(score)) if active[i]]
    rng.shuffle(players)
    players.sort(key=lambda i: score[i])
    n_out = min(n_eliminate, max(len(players) - min_active, 0))
    if not spill:
        n_out = min(n_out, sum(score[i] == score[players[0]] for i in players))
    for i in players[:n_out]:
        active[i] = False


def reference_expected(wins, n_sims, seed, pairing, tie, elimination, **kwargs):
    rng = random.Random(seed)
    schedule = [elimination] * wins.shape[2]
    finals = np.array([reference_tournament(wins, rng, pairing, tie, schedule, **kwargs) for _ in range(n_sims)])
    return finals.mean(axis=0), finals.std(axis=0, ddof=1) / np.sqrt(n_sims)


def assert_agree(wins, pairing, tie, elimination, n_ref=1500, **kwargs):
    order = "random" if kwargs.get("random_order") else None
    kw = {key: value for key, value in kwargs.items() if key != "random_order"}
    ours = SwissCSD(n_sims=20_000, elimination=elimination, pairing=pairing, tie=tie, order=order,
                    random_state=1, **kw).fit(wins)
    expected, se = reference_expected(wins, n_ref, 2, pairing, tie, elimination, **kwargs)
    tolerance = 4 * np.sqrt(ours.mc_se_**2 + se**2) + 1e-9
    assert np.all(np.abs(ours.expected_win_score_ - expected) <= tolerance), (ours.expected_win_score_, expected)


@pytest.fixture(scope="module")
def tied_wins():
    """A random 6 x 7 leaderboard rounded so that some matches are ties."""
    scores = np.random.default_rng(3).integers(0, 4, size=(6, 7)).astype(float)
    return win_tensor(scores)


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("tie", ["coin", "half", "none"])
def test_vectorised_matches_reference_simulator_across_tie_rules(tied_wins, pairing, tie):
    assert_agree(tied_wins, pairing, tie, elimination=0)


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("elimination", [1, 2])
def test_vectorised_matches_reference_simulator_with_elimination(pairing, elimination):
    scores = np.random.default_rng(4).random((7, 6))
    assert_agree(win_tensor(scores), pairing, "coin", elimination)


@pytest.mark.parametrize("pairing", PAIRINGS)
def test_vectorised_matches_reference_without_spill_and_random_order(tied_wins, pairing):
    assert_agree(tied_wins, pairing, "coin", 2, spill=False, min_active=3)
    assert_agree(tied_wins, pairing, "none", 1, random_order=True)


def test_probabilistic_wins_match_reference():
    first, second = np.triu_indices(5, 1)
    p = np.random.default_rng(5).random((len(first), 4))
    wins = np.zeros((5, 5, 4))
    wins[first, second], wins[second, first] = p, 1 - p
    for pairing in PAIRINGS:
        assert_agree(wins, pairing, "coin", 1)


# --- exact cases from the spec --------------------------------------------------------------------

def test_two_models_float_counts_benchmarks_won_and_within_group_freezes_after_round_one():
    scores = np.array([[3.0, 1.0, 2.0, 5.0], [1.0, 2.0, 1.0, 4.0]])
    floated = SwissCSD(n_sims=500, pairing="float", random_state=0).fit(scores)
    np.testing.assert_array_equal(floated.expected_win_score_, [3.0, 1.0])
    grouped = SwissCSD(n_sims=500, random_state=0).fit(scores)
    np.testing.assert_array_equal(grouped.expected_win_score_, [1.0, 0.0])  # later rounds: byes only
    assert grouped.mean_matches_ == 1.0


@pytest.mark.parametrize("n_models", [3, 5, 8])
def test_total_order_settles_to_consecutive_scores_once_k_is_2m(n_models):
    fit = SwissCSD(n_sims=3_000, random_state=0).fit(total_order(n_models, 2 * n_models))
    np.testing.assert_array_equal(fit.expected_win_score_, np.arange(n_models - 1, -1, -1))
    np.testing.assert_array_equal(fit.score_std_, 0.0)


def test_total_order_known_values():
    six = SwissCSD(n_sims=100_000, random_state=0).fit(total_order(6, 6))
    np.testing.assert_allclose(six.expected_win_score_, [3.96, 3.04, 3, 2, 1, 0], atol=0.01)
    four = SwissCSD(n_sims=2_000, pairing="float", random_state=0).fit(total_order(4, 4))
    np.testing.assert_array_equal(four.expected_win_score_, [4, 2, 2, 0])


@pytest.mark.parametrize("pairing", PAIRINGS)
def test_scores_sum_to_matches_played_and_are_constant_without_ties(pairing):
    scores = np.random.default_rng(0).random((9, 7))
    fit = SwissCSD(n_sims=4_000, pairing=pairing, keep_samples=True, random_state=0).fit(scores)
    per_sim = fit.final_scores_.sum(axis=1)
    assert np.all(per_sim == per_sim[0])  # no ties, no elimination: group sizes are deterministic
    assert fit.expected_win_score_.sum() == pytest.approx(fit.mean_matches_)


def test_expected_scores_sum_to_games_played_with_coin_ties_and_elimination(tied_wins):
    fit = SwissCSD(n_sims=5_000, elimination=1, random_state=0).fit(tied_wins)
    assert fit.expected_win_score_.sum() == pytest.approx(fit.mean_matches_)


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("elimination", [0, 1])
def test_dominated_model_scores_zero_and_dominant_model_leads(pairing, elimination):
    rng = np.random.default_rng(7)
    for _ in range(6):
        m, k = rng.integers(3, 10), rng.integers(2, 12)
        scores = rng.random((m, k))
        scores[0] = 2.0  # strictly best on every benchmark
        scores[-1] = -1.0  # strictly worst
        fit = SwissCSD(n_sims=2_000, pairing=pairing, elimination=elimination, random_state=0).fit(scores)
        assert fit.expected_win_score_[-1] == 0.0
        assert fit.ranking_[0] == 0


def test_dominant_model_ranks_first_with_probability_one_under_float_pairing():
    # With an even field and K >= log2(M) rounds, "float" leaves one undefeated model. Under
    # "within_group" byes let others tie it (the spec notes this), so no such guarantee there.
    scores = np.random.default_rng(8).random((8, 5))
    scores[2] = 2.0
    fit = SwissCSD(n_sims=5_000, pairing="float", random_state=0).fit(scores)
    assert fit.win_prob_[2] == 1.0
    assert fit.rank_probs_[2, 0] == 1.0


def test_rank_probabilities_are_doubly_stochastic():
    fit = SwissCSD(n_sims=5_000, random_state=0).fit(np.random.default_rng(1).random((7, 5)).round(1))
    np.testing.assert_allclose(fit.rank_probs_.sum(axis=1), 1.0)
    np.testing.assert_allclose(fit.rank_probs_.sum(axis=0), 1.0)
    np.testing.assert_allclose(fit.expected_rank_, fit.rank_probs_ @ np.arange(1, 8))


# --- invariances and reproducibility ------------------------------------------------------------

@pytest.mark.parametrize("pairing", PAIRINGS)
def test_permuting_models_permutes_expected_scores(pairing):
    scores = np.random.default_rng(2).random((8, 6))
    perm = np.random.default_rng(3).permutation(8)
    a = SwissCSD(n_sims=20_000, pairing=pairing, elimination=1, random_state=0).fit(scores)
    b = SwissCSD(n_sims=20_000, pairing=pairing, elimination=1, random_state=1).fit(scores[perm])
    tolerance = 4 * np.sqrt(a.mc_se_[perm] ** 2 + b.mc_se_**2) + 1e-9
    assert np.all(np.abs(a.expected_win_score_[perm] - b.expected_win_score_) <= tolerance)
    deterministic = total_order(6, 12)
    perm6 = np.array([3, 0, 5, 1, 4, 2])
    np.testing.assert_array_equal(SwissCSD(n_sims=500, random_state=0).fit(deterministic).expected_win_score_[perm6],
                                  SwissCSD(n_sims=500, random_state=0).fit(deterministic[perm6]).expected_win_score_)


def test_constant_shift_of_a_benchmark_changes_nothing():
    scores = np.random.default_rng(4).random((6, 5))
    shifted = scores.copy()
    shifted[:, 2] += 10.0
    a = SwissCSD(n_sims=3_000, elimination=1, random_state=0).fit(scores)
    b = SwissCSD(n_sims=3_000, elimination=1, random_state=0).fit(shifted)
    np.testing.assert_array_equal(a.expected_win_score_, b.expected_win_score_)
    np.testing.assert_array_equal(a.rank_probs_, b.rank_probs_)


def test_half_points_on_all_equal_scores_give_equal_expected_scores():
    fit = SwissCSD(n_sims=1_000, tie="half", random_state=0).fit(np.ones((6, 5)))
    np.testing.assert_array_equal(fit.expected_win_score_, 2.5)


def test_same_seed_and_batch_size_is_bit_identical_and_n_jobs_does_not_matter():
    scores = np.random.default_rng(5).random((10, 6)).round(1)
    kwargs = {"n_sims": 9_000, "batch_size": 2_000, "elimination": 1, "random_state": 42}
    one = SwissCSD(n_jobs=1, **kwargs).fit(scores)
    again = SwissCSD(n_jobs=1, **kwargs).fit(scores)
    with parallel_config(backend="threading"):
        two = SwissCSD(n_jobs=2, **kwargs).fit(scores)
    for attribute in ("expected_win_score_", "score_std_", "rank_probs_", "survival_"):
        np.testing.assert_array_equal(getattr(one, attribute), getattr(again, attribute))
        np.testing.assert_array_equal(getattr(one, attribute), getattr(two, attribute))
    other = SwissCSD(n_sims=9_000, batch_size=3_000, elimination=1, random_state=42).fit(scores)
    assert not np.array_equal(one.expected_win_score_, other.expected_win_score_)
    tolerance = 4 * np.sqrt(one.mc_se_**2 + other.mc_se_**2) + 1e-9
    assert np.all(np.abs(one.expected_win_score_ - other.expected_win_score_) <= tolerance)


def test_order_permutation_equals_reordered_columns():
    scores = np.random.default_rng(6).random((7, 5))
    order = [3, 1, 4, 0, 2]
    a = SwissCSD(n_sims=4_000, elimination=1, order=order, random_state=0).fit(scores)
    b = SwissCSD(n_sims=4_000, elimination=1, random_state=0).fit(scores[:, order])
    np.testing.assert_array_equal(a.expected_win_score_, b.expected_win_score_)
    np.testing.assert_array_equal(a.order_, order)


def test_random_order_on_identical_columns_matches_the_fixed_order():
    scores = np.tile(np.random.default_rng(7).random((6, 1)), (1, 6))
    fixed = SwissCSD(n_sims=20_000, random_state=0).fit(scores)
    shuffled = SwissCSD(n_sims=20_000, order="random", random_state=1).fit(scores)
    assert shuffled.order_ is None
    assert np.all(np.abs(fixed.expected_win_score_ - shuffled.expected_win_score_)
                  <= 4 * np.sqrt(fixed.mc_se_**2 + shuffled.mc_se_**2) + 1e-9)


# --- elimination ---------------------------------------------------------------------------------

def test_elimination_stops_at_min_active_and_freezes_scores():
    fit = SwissCSD(n_sims=2_000, pairing="float", elimination=6, keep_samples=True, random_state=0).fit(
        np.random.default_rng(8).random((6, 5)))
    np.testing.assert_allclose(fit.survival_.sum(axis=0), 2.0)  # two left after round 1, to the end
    # round 1: 3 points; then the two survivors play 4 rounds: 7 points per tournament
    np.testing.assert_array_equal(fit.final_scores_.sum(axis=1), 7.0)
    assert np.all(np.sort(fit.final_scores_, axis=1)[:, :4] <= 1.0)  # the eliminated keep their round-1 points
    np.testing.assert_allclose(fit.mean_rounds_played_.sum(), 4 * 1 + 2 * 5)


def test_elimination_schedule_vector_and_last_round_ignored():
    scores = np.random.default_rng(9).random((8, 4))
    last_only = SwissCSD(n_sims=2_000, elimination=[0, 0, 0, 5], random_state=0).fit(scores)
    none = SwissCSD(n_sims=2_000, random_state=0).fit(scores)
    np.testing.assert_array_equal(last_only.expected_win_score_, none.expected_win_score_)
    np.testing.assert_array_equal(last_only.schedule_, [0, 0, 0, 0])


def test_periodic_elimination_schedule():
    np.testing.assert_array_equal(periodic_elimination(7), [1, 0, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(periodic_elimination(6, every=3, count=2, first=2), [0, 2, 0, 0, 2, 0])
    assert periodic_elimination(38).sum() == 19  # 29 models keep 10 > min_active
    fit = SwissCSD(n_sims=500, elimination=periodic_elimination(4), random_state=0).fit(
        np.random.default_rng(1).random((6, 4)))
    np.testing.assert_array_equal(fit.schedule_, [1, 0, 1, 0])
    with pytest.raises(ValueError, match="every"):
        periodic_elimination(5, every=0)


def test_failure_sensitivity_separates_generalist_from_specialist():
    # Spec prototype: 12 models, K = 20; a flat 0.75 generalist vs a specialist at 0.45 then 0.97.
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.5, 0.9, (12, 1)) + rng.normal(0.0, 0.05, (12, 20))  # others: a level plus noise
    scores[0] = 0.75
    scores[1, :10], scores[1, 10:] = 0.45, 0.97
    result = failure_sensitivity(scores, schedules=(0, 1), n_sims=10_000, random_state=0)
    assert result.expected.shape == (2, 12) and result.rank.shape == (2, 12)
    np.testing.assert_array_equal(result.retention[0], 1.0)
    np.testing.assert_array_equal(result.drop[0], 0.0)
    assert result.retention[1, 1] < result.retention[1, 0]
    assert result.profile.shape == (12, 2)
    assert len(result.labels()) == 12


def test_bootstrap_rank_intervals_bracket_a_dominated_model():
    scores = np.random.default_rng(1).random((5, 6))
    scores[4] = -1.0
    intervals = bootstrap_rank_intervals(scores, n_boot=20, n_sims=500, random_state=0)
    assert intervals.ranks.shape == (20, 5)
    assert np.all(intervals.low <= intervals.high)
    assert intervals.low[4] == intervals.high[4] == 5


def test_csd_expected_win_score_unpacks():
    expected, se = csd_expected_win_score(total_order(4, 8), n_sims=1_000, random_state=0)
    np.testing.assert_array_equal(expected, [3, 2, 1, 0])
    assert se.shape == (4,)


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("scores, message", [
    ([[1.0, np.nan], [0.5, 0.2]], "model 'model0' on benchmark 'benchmark1'"),
    ([[1.0, np.inf], [0.5, 0.2]], "infinite"),
    ([[1.0, 2.0]], "at least 2 models"),
    (np.zeros((3, 0)), "at least 1 benchmark"),
    ([1.0, 2.0], "2-D"),
    ([["a", "b"], ["c", "d"]], "numeric"),
])
def test_bad_scores_raise(scores, message):
    with pytest.raises(ValueError, match=message):
        SwissCSD(n_sims=10).fit(scores)


def test_missing_score_error_names_given_model_and_benchmark():
    with pytest.raises(ValueError, match="'gpt' on benchmark 'math'"):
        SwissCSD(n_sims=10).fit([[1.0, np.nan], [0.5, 0.2]], model_names=["gpt", "llama"],
                                benchmark_names=["code", "math"])


@pytest.mark.parametrize("kwargs, message", [
    ({"elimination": -1}, "non-negative"),
    ({"elimination": [1, 1]}, "length 3"),
    ({"elimination": 0.5}, "integers"),
    ({"n_sims": 0}, "n_sims"),
    ({"batch_size": 0}, "batch_size"),
    ({"pairing": "dutch"}, "pairing"),
    ({"tie": "replay"}, "tie"),
    ({"order": [0, 0, 1]}, "permutation"),
    ({"order": "reverse"}, "order"),
    ({"min_active": 0}, "min_active"),
    ({"random_state": "seed"}, "random_state"),
])
def test_bad_parameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SwissCSD(**{"n_sims": 10, **kwargs}).fit(np.random.default_rng(0).random((4, 3)))


def test_probabilistic_tensor_must_pair_to_one():
    wins = np.full((3, 3, 2), 0.4)
    with pytest.raises(ValueError, match="sum to 1"):
        SwissCSD(n_sims=10).fit(wins)
    with pytest.raises(ValueError, match="probabilities"):
        SwissCSD(n_sims=10).fit(np.full((3, 3, 2), 1.5))


def test_win_tensor_hand_case():
    scores = np.array([[0.9, 0.1], [0.5, 0.1], [0.1, 0.3]])
    wins = win_tensor(scores)
    assert wins.shape == (3, 3, 2) and wins.dtype == np.float32
    np.testing.assert_array_equal(wins[:, :, 0], [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(wins[:, :, 1], [[0, 0, 0], [0, 0, 0], [1, 1, 0]])
    np.testing.assert_array_equal(win_tensor(scores, tie="half")[:, :, 1], [[0, .5, 0], [.5, 0, 0], [1, 1, 0]])
    np.testing.assert_array_equal(win_tensor(scores, higher_is_better=False)[:, :, 0], wins[:, :, 0].T)
    with pytest.raises(ValueError, match="tie"):
        win_tensor(scores, tie="coin")


# --- static baselines ----------------------------------------------------------------------------

def test_mean_score_and_mean_rank_hand_case():
    scores = np.array([[0.9, 0.2, 0.5], [0.5, 0.6, 0.5], [0.1, 0.4, 0.3]])
    np.testing.assert_allclose(mean_score(scores), [1.6 / 3, 1.6 / 3, 0.8 / 3])
    np.testing.assert_allclose(mean_rank(scores), [(1 + 3 + 1.5) / 3, (2 + 1 + 1.5) / 3, (3 + 2 + 3) / 3])
    by_column = np.column_stack([stats.rankdata(-scores[:, k]) for k in range(3)]).mean(axis=1)
    np.testing.assert_allclose(mean_rank(scores), by_column)
    np.testing.assert_allclose(mean_rank(scores[:, :1]), [1, 2, 3])


def test_pairwise_wins_hand_case():
    scores = np.array([[0.9, 0.2], [0.5, 0.2]])
    np.testing.assert_array_equal(pairwise_wins(scores), [[0, 1.5], [0.5, 0]])


def test_bradley_terry_equal_records_and_regularised_mle():
    np.testing.assert_allclose(bradley_terry(np.array([[0, 2, 2], [2, 0, 2], [2, 2, 0.0]])), 1.0)
    wins = pairwise_wins(np.random.default_rng(2).random((6, 9)))
    strengths = bradley_terry(wins)
    assert np.exp(np.log(strengths).mean()) == pytest.approx(1.0)
    w = wins + 0.01
    np.fill_diagonal(w, 0.0)

    def negative_log_likelihood(theta):
        diff = theta[:, None] - theta[None, :]
        return -np.sum(w * (diff - np.logaddexp(0.0, diff)))

    best = optimize.minimize(negative_log_likelihood, np.zeros(6), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(np.log(strengths), best - best.mean(), atol=1e-5)


def test_bradley_terry_undefeated_model_stays_finite():
    strengths = bradley_terry(pairwise_wins(total_order(4, 3)))
    assert np.all(np.isfinite(strengths)) and np.all(np.diff(strengths) < 0)


def test_bradley_terry_agrees_with_choix():
    choix = pytest.importorskip("choix")
    scores = np.random.default_rng(3).random((8, 12))
    wins = pairwise_wins(scores)
    comparisons = [(i, j) for i in range(8) for j in range(8) for _ in range(round(2 * wins[i, j]))]
    theirs = choix.ilsr_pairwise(8, comparisons, alpha=0.01)
    assert stats.spearmanr(theirs, np.log(bradley_terry(wins)))[0] > 0.99


def test_elo_hand_case_and_zero_sum():
    np.testing.assert_allclose(elo_ratings([[1.0], [0.0]], n_permutations=3), [1002.0, 998.0])
    ratings = elo_ratings(np.random.default_rng(4).random((6, 5)), random_state=1)
    assert ratings.sum() == pytest.approx(6000.0)
    np.testing.assert_allclose(elo_ratings(np.ones((4, 3))), 1000.0)
    assert np.argmax(elo_ratings(total_order(5, 4))) == 0


def test_static_rankings_and_their_ranks():
    scores = total_order(4, 3)
    result = static_rankings(scores)
    for name, ranks in result.ranks().items():
        np.testing.assert_array_equal(ranks, [1, 2, 3, 4], err_msg=name)
    perm = np.array([2, 0, 3, 1])
    permuted = static_rankings(scores[perm])
    np.testing.assert_allclose(permuted.mean_score, result.mean_score[perm])
    np.testing.assert_allclose(permuted.bradley_terry, result.bradley_terry[perm])


def test_dataframe_gives_model_and_benchmark_names():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame([[0.9, 0.2], [0.1, 0.4]], index=["gpt", "llama"], columns=["code", "math"])
    fit = SwissCSD(n_sims=10, random_state=0).fit(frame)
    assert fit.model_names_ == ["gpt", "llama"] and fit.benchmark_names_ == ["code", "math"]
