"""practical-ncd: fair arms, tuning blind to novel labels, the regime holds, identical arms give no verdict."""

import numpy as np
import pytest

from diversa.reproduce import practical_ncd
from diversa.reproduce.runner import single_threaded, summarize

#: Eight units, the fewest of a quick run.
UNITS = 8


@pytest.fixture
def short(monkeypatch):
    monkeypatch.setattr(practical_ncd, "EPOCHS", {True: 3, False: 3})
    monkeypatch.setattr(practical_ncd, "W_GRID", (0.1, 0.9))
    monkeypatch.setattr(practical_ncd, "K_RANGE", {True: (2, 8), False: (2, 8)})
    monkeypatch.setattr(practical_ncd, "N_INIT", {True: 2, False: 2})
    with single_threaded():                      # one torch and one BLAS thread, as the runner runs trials
        yield


@pytest.fixture
def raw_only(short, monkeypatch):
    """Only the raw-feature arms run; the latent arms and the tuning are stubs."""
    monkeypatch.setattr(practical_ncd, "tune", lambda train, test, quick, seed: {"w": 0.1, "spearman": 0.0})
    monkeypatch.setattr(practical_ncd, "_latent_arm",
                        lambda model, train, test: {"k_hat": 5, "scores": {"acc": 0.5}, "scores_k5": {"acc": 0.5}})


def test_pbn_and_baseline_share_every_setting_but_w():
    pbn = practical_ncd.make_pbn(True, 0, w=0.5).get_params()
    base = practical_ncd.make_baseline(True, 0).get_params()
    shared = set(pbn) & set(base)
    assert set(pbn) - shared == {"w"} and not set(base) - shared
    assert {k: pbn[k] for k in shared} == {k: base[k] for k in shared}
    assert pbn["k_range"] == practical_ncd.K_RANGE[True] and pbn["n_init"] == practical_ncd.N_INIT[True]


def test_the_choice_of_w_never_reads_novel_labels(short):
    # Shuffled novel test labels change the diagnostic novel accuracies, never the CV scores or the chosen w.
    train, test = practical_ncd.load_split(0)
    rng = np.random.default_rng(0)
    shuffled = test._replace(y_novel=rng.permutation(test.y_novel))
    a = practical_ncd.tune(train, test, True, 0)
    b = practical_ncd.tune(train, shuffled, True, 0)
    assert a["w"] == b["w"] and a["cv_scores"] == b["cv_scores"]
    assert a["novel_acc"] != b["novel_acc"] and len(a["cv_scores"]) == 3


def test_regime_holds_and_identical_arms_give_no_verdict(raw_only, monkeypatch):
    # The regime fails if k-means on the raw digits were at the floor (nothing to find) or the ceiling
    # (nothing to gain). PBN's arm is replaced by k-means on the raw features with the same seed, so the
    # headline must find nothing: p = 1 and no "supported".
    memo = {}
    raw_arms = practical_ncd._raw_arms

    def remembered(train, test, quick, seed):
        if seed not in memo:
            memo[seed] = raw_arms(train, test, quick, seed)
        return memo[seed]

    def as_kmeans(model, train, test):
        raw = remembered(train, test, True, model.random_state)
        return {"k_hat": raw["k_hat_raw"], "scores": raw["kmeans"], "scores_k5": raw["kmeans_k5"]}

    monkeypatch.setattr(practical_ncd, "_raw_arms", remembered)
    monkeypatch.setattr(practical_ncd, "_latent_arm", as_kmeans)
    trials = {seed: practical_ncd.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(practical_ncd.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["kmeans-off-floor"] == "pass" and outcomes["kmeans-off-ceiling"] == "pass"
    assert np.array_equal(result.headline.baseline_values, result.headline.method_values)
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"
