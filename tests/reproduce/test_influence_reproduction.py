import dataclasses

import numpy as np

from diversa.reproduce import influence
from diversa.reproduce.runner import single_threaded, summarize

#: A shortened testbed: fast, not the real scale; enough to see every check measured and a broken arm lose.
TINY = influence.Sizes(pool=600, steps=300, eval_every=50, ref_epochs=3, early_epochs=1, runs=1, eval_per_domain=30)


def test_a_trial_measures_every_check_and_keeps_the_declared_budgets(one_thread):
    with single_threaded():
        trial = influence.run_trial(0, True, TINY)
    assert set(trial.pairs) == {c.name for c in influence.REPRODUCTION.checks}
    kept = 600 - int(np.floor(0.45 * 600))
    d = trial.diagnostics
    assert set(d["accuracy"]) == {"Full", "Random", "VoG-easy", "VoG-hard", "EL2N-easy", "EL2N-hard",
                                  "noise-free-random"}
    assert d["noisy_share_kept"]["noise-free-random"] == 0.0
    assert all(0 < step <= TINY.steps and step % TINY.eval_every == 0 for step in d["best_step"].values())
    assert trial.pairs["converged-within-budget"][0] == TINY.steps
    tb = influence.testbed(0, TINY)
    arms = influence.select_arms(tb, {"vog": np.arange(600.0), "el2n": -np.arange(600.0)}, 0, TINY)
    assert all(idx.size == kept for name, idx in arms.items() if name != "Full")
    assert arms["VoG-easy"].tolist() == list(range(600 - kept, 600))  # the lowest VoG rows are pruned
    assert arms["EL2N-hard"].tolist() == list(range(600 - kept, 600))  # the highest EL2N rows are pruned


def test_a_selection_that_drops_whole_domains_gets_a_contradicted_headline(one_thread, monkeypatch):
    real = influence.select_arms

    def domain_dropping(tb, scores, seed, sizes=influence.SIZES):
        arms = real(tb, scores, seed, sizes)
        keep = arms["VoG-easy"].size
        by_domain = np.argsort(tb.domain, kind="stable")
        arms["VoG-easy"] = np.sort(by_domain[:keep])  # the first domains only
        return arms

    monkeypatch.setattr(influence, "select_arms", domain_dropping)
    with single_threaded():
        trials = {seed: influence.run_trial(seed, True, TINY) for seed in range(6)}
    claims_only = dataclasses.replace(influence.REPRODUCTION, checks=influence.REPRODUCTION.checks_of_kind("claim"))
    result = summarize(claims_only, True, trials)
    assert result.headline.outcome == "contradicted"
