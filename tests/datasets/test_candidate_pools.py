import numpy as np
import pytest

from diversa.datasets.candidate_pools import (
    DEFAULT_VERIFIERS,
    WEAK_VERIFIERS,
    SimulatedJudge,
    SimulatedRewardModel,
    make_candidate_pools,
    make_multilingual_pools,
    sample_more,
    simulate_verifiers,
)


def test_shapes_and_consistency_verifiable():
    p = make_candidate_pools(n_queries=50, n_candidates=8, n_modes=5, dim=16, random_state=1)
    assert p.quality.shape == (50, 8) and p.resp_emb.shape == (50, 8, 16)
    assert np.allclose(np.linalg.norm(p.resp_emb, axis=2), 1.0)
    assert set(np.unique(p.quality)) <= {0.0, 1.0}
    np.testing.assert_array_equal(p.correct, (p.answers == 0))
    assert np.all(p.answers[p.degenerate] == -1)
    assert 0 <= p.first_sample() <= p.oracle() <= 1


def test_deterministic_and_seed_dependent():
    a = make_candidate_pools(n_queries=20, random_state=3)
    b = make_candidate_pools(n_queries=20, random_state=3)
    c = make_candidate_pools(n_queries=20, random_state=4)
    np.testing.assert_array_equal(a.resp_emb, b.resp_emb)
    assert not np.array_equal(a.resp_emb, c.resp_emb)


def test_greedy_and_hedged():
    p = make_candidate_pools(n_queries=40, n_candidates=4, temperature=[0.0, 1.0, 1.0, 1.0], random_state=0)
    assert p.is_greedy[:, 0].all() and not p.is_greedy[:, 1:].any()
    np.testing.assert_array_equal(p.modes[:, 0], np.argmax(p.logits, axis=1))
    assert not p.degenerate[:, 0].any()
    h = make_candidate_pools(n_queries=40, n_candidates=4, temperature=1.5, hedged=True, random_state=0)
    assert h.is_greedy[:, 0].all() and h.degenerate[:, 1:].any()


def test_open_task_quality_and_degeneration_rate():
    p = make_candidate_pools(n_queries=400, n_candidates=10, task="open", temperature=1.4, random_state=0)
    assert np.all((p.quality >= 0) & (p.quality <= 1))
    assert np.all(p.quality[p.degenerate] == 0)
    # en: p_deg = 0.4 * (1.4 - 0.9) = 0.2
    assert abs(p.degenerate.mean() - 0.2) < 0.02


def test_simple_generator_p_correct():
    p = make_candidate_pools(n_queries=2000, n_candidates=10, generator="simple", n_modes=5, random_state=0)
    # E[Beta(1.2, 1.5)] = 1.2 / 2.7
    assert abs(p.correct.mean() - 1.2 / 2.7) < 0.02
    assert not p.is_greedy.any() and not p.degenerate.any()


def test_multilingual_share_queries_and_sample_more():
    pools = make_multilingual_pools(n_queries=30, n_candidates=5, random_state=2)
    assert set(pools) == {"en", "xx", "zz"}
    np.testing.assert_array_equal(pools["en"].query_emb, pools["xx"].query_emb)
    np.testing.assert_array_equal(pools["en"].mode_quality, pools["zz"].mode_quality)
    assert not np.array_equal(pools["en"].logits, pools["xx"].logits)
    more = sample_more(pools["xx"], 7, 0.5, random_state=0)
    assert more.quality.shape == (30, 7) and more.language == "xx"
    np.testing.assert_array_equal(more.logits, pools["xx"].logits)


def test_simulate_verifiers_formats_and_accuracy():
    p = make_candidate_pools(n_queries=300, generator="simple", n_modes=5, random_state=0)
    S, info = simulate_verifiers(p, DEFAULT_VERIFIERS, random_state=0)
    assert S.shape == (300, 10, 12) and len(info) == 12
    kinds = {d["name"]: d for d in info}
    assert set(np.unique(S[:, :, 0])) <= {0.0, 1.0}
    lik = S[:, :, 1]
    assert lik.min() >= 1 and lik.max() <= 10 and np.all(lik == np.round(lik))
    assert S[:, :, 2].min() > 0
    assert kinds["binary_strong"]["auc_true"] > kinds["binary_weak_3"]["auc_true"] > 0.5
    assert kinds["always_yes"]["tpr"] > 0.93 and kinds["always_yes"]["tnr"] < 0.07
    _adv, _ = simulate_verifiers(p, [{"kind": "adversarial", "a": 1.0}], random_state=0)
    assert _[0]["auc_true"] < 0.5


def test_weak_suite_leaves_a_gap_to_pass_at_n_that_the_default_suite_does_not():
    # Selection only compares candidates of one query, where the per-query offsets cancel: the default
    # strong verifiers rank almost perfectly, the weak suite's best verifier stays well below pass@N.
    gaps = {"default": [], "weak": []}
    for seed in range(3):
        p = make_candidate_pools(n_queries=300, generator="simple", n_modes=5, random_state=seed)
        for name, suite in (("default", DEFAULT_VERIFIERS), ("weak", WEAK_VERIFIERS)):
            S, _ = simulate_verifiers(p, suite, random_state=seed)
            picked = p.correct[np.arange(300)[:, None], np.argmax(S, axis=1)]  # (Q, V): each verifier's pick
            gaps[name].append(p.oracle() - picked.mean(axis=0).max())
    assert max(gaps["default"]) < 0.03
    assert min(gaps["weak"]) > 0.06
    assert [v["kind"] for v in WEAK_VERIFIERS] == [v["kind"] for v in DEFAULT_VERIFIERS]


def test_reward_model_and_judge_count_calls():
    p = make_candidate_pools(n_queries=10, n_candidates=4, task="open", random_state=0)
    rm = SimulatedRewardModel(random_state=0)
    s = rm.score(p)
    assert s.shape == (10, 4) and rm.n_calls == 40
    j = SimulatedJudge(random_state=0)
    assert 0 <= j.pairwise(p, 0, 0, 1) <= 1
    j.pointwise(p, 0, 1)
    j.reference_utility(p, 0, 1, p, 2)
    c1 = j.checklist_one_pass(p, 0)
    assert c1.shape == (4,) and j.n_calls == 4
    j.reset()
    assert j.n_calls == 0


def test_bad_input():
    with pytest.raises(ValueError, match="task"):
        make_candidate_pools(task="nope")
    with pytest.raises(ValueError, match="language"):
        make_candidate_pools(language="fr")
    with pytest.raises(TypeError, match="n_queries"):
        make_candidate_pools(n_queries=2.5)
    with pytest.raises(ValueError, match="temperature"):
        make_candidate_pools(n_candidates=3, temperature=[0.1, 0.2])
    with pytest.raises(ValueError, match="kind"):
        simulate_verifiers(make_candidate_pools(n_queries=3), [{"kind": "weird"}])
    with pytest.raises(TypeError, match="pool"):
        simulate_verifiers("pool")
    with pytest.raises(ValueError, match="generator"):
        make_candidate_pools(task="open", generator="simple")
