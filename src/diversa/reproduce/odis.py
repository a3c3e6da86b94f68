"""Reproduction of ODiS: top selection along orthogonal score dimensions trains better than random.

He, Liu, Lin, Tang, Cheng, Wang, Li, Cheng, Gong, "Learning from the Best,
Differently: A Diversity-Driven Rethinking on Data Selection", arXiv:2510.18909.

Design (spec ``data.md#odis``), one unit = one seed (fresh pool, annotation
subset, noise, test set and model initialisation): a SynthText-MD pool of 3000
documents; "annotation" = its eight quality signals, standardised, plus
Gaussian noise (sd 0.2), on a random 30% of the pool (the other rows are NaN:
unannotated, scored by the regressors); ODiS with K = 4 components, RidgeCV
scorers on the embeddings, equal quotas, round-robin fill; budget 600 (20%).
Arms trained: Random, ODiS, PC-Average-Top (top by the averaged component
score) and the three oracles below; Avg-Top (top by the mean of the eight
standardised raw scores) enters the diversity mechanism checks. Learner: the
TinyTextClassifier of :mod:`diversa.reproduce.testbeds.text_classifier`
trained for the same fixed ``n_steps`` = 800 on every arm; metric: macro
accuracy on a clean balanced test set (seed 10_000 + s).

Headline: the paper's performance claim, ODiS trains better models than
random selection ("significantly outperforms" Random, DSIR and the
PC-average baselines); the low overlap of the per-component top sets is a
mechanism check (raw dimensions already overlap little here).

Training budget. The first version trained 10 epochs (~100 Adam steps on 600
documents), short of convergence (issue 16). ``n_steps`` was then fixed from a
convergence check on the Random arm of seed 0 alone, before any arm was
compared, on the validation set (seed 20_000): the smallest step count of a
doubling grid at which the model fits its selection (training accuracy 1.0,
training cross-entropy < 0.01) and validation macro accuracy stays within one
point at every longer budget measured. Measured (mean of two
initialisations): 200 steps 0.877 (train CE 0.21), 400: 0.861 (CE 0.051,
train accuracy 0.994), 800: 0.853 (CE 0.006, accuracy 1.0), 1600: 0.851,
3200: 0.847 -> 800 steps (85 epochs of 600 documents).

Regime: the three single-defect oracles of the kMQ reproduction
(``clean-random``, ``dedup-random``, ``balanced-random``; ground truth). ODiS
argues that score-based selection should give high-quality data that stays
diverse (broad coverage, no collapse onto one region); each oracle shows that
one of these properties pays in this testbed, and a failed one makes every
claim ``out of regime``.

Deviations, stated: hashing embeddings instead of MiniLM (as in the kMQ
reproduction, for the quick-mode budget); the raw-dimension overlap baseline
takes the top 150 (= the ODiS per-component quota) of each of the eight true
standardised signals over the whole pool; the exact ODiS selection rule is the
spec's ASSUMPTION (see :mod:`diversa.data.select.odis`); the spec's ODiS-union,
single-signal-top and PC1-top arms are not trained (no check reads their
accuracy; the union's size is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diversa.reproduce.kmq import domain_entropy, oracle_checks
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.selection_oracles import ORACLES, oracle_selections
from diversa.reproduce.testbeds.text_classifier import macro_accuracy, train_tiny_classifier

K = 4


@dataclass(frozen=True)
class Sizes:
    """The experiment's scale: pool, budget, training steps per model, test docs per domain."""

    pool: int = 3000
    budget: int = 600
    n_steps: int = 800
    test_per_domain: int = 200


SIZES = Sizes()


def _mean_off_diagonal(m) -> float:
    m = np.asarray(m)
    return float(m[~np.eye(m.shape[0], dtype=bool)].mean())


def select_arms(emb, Z, annotated, truth, seed: int, sizes: Sizes = SIZES):
    """Every arm's selection and the fitted ODiS selector.

    ``Z`` (n, 8) true standardised signals (for Avg-Top), ``annotated`` the noisy annotation
    with NaN rows where unannotated (what ODiS sees).
    """
    from diversa.data.select import ODiSSelector, RandomSelector, pc_average_select

    b = sizes.budget
    odis = ODiSSelector(K, random_state=seed).fit(emb, quality=annotated)
    arms = {"ODiS": odis.select(b),
            "Random": RandomSelector(random_state=seed).fit(emb).select(b),
            "PC-Average-Top": pc_average_select(odis.scores_, b),
            "Avg-Top": np.argsort(-Z.mean(axis=1), kind="stable")[:b]}
    # the oracles draw with their own stream so that they do not share the Random arm's draw
    arms.update(oracle_selections(truth, b, random_state=seed + 1))
    return arms, odis


TRAINED = ("ODiS", "Random", "PC-Average-Top", *ORACLES)


def run_trial(seed: int, quick: bool, sizes: Sizes | None = None) -> TrialResult:
    from diversa.data.select import ODiSSelector, selection_overlap
    from diversa.datasets import synthtext as st

    sizes = SIZES if sizes is None else sizes
    pool = st.make_multidomain_text(sizes.pool, seed=seed)
    test = st.make_eval_set(sizes.test_per_domain, seed=10_000 + seed)
    emb = st.hash_embed(st.texts(pool))
    signals = st.quality_signals(pool, emb, seed=seed, embedder="hash").to_numpy(dtype=float)
    truth = st.ground_truth(pool)
    rng = np.random.default_rng(seed)
    Z = (signals - signals.mean(axis=0)) / signals.std(axis=0)
    annotated = Z + rng.normal(scale=0.2, size=Z.shape)
    annotated[rng.random(sizes.pool) >= 0.3] = np.nan

    arms, odis = select_arms(emb, Z, annotated, truth, seed, sizes)
    odis_overlap = _mean_off_diagonal(odis.overlap_)
    union_size = len(ODiSSelector(K, dedup="union", random_state=seed).fit(emb, quality=annotated)
                     .select(sizes.budget))
    quota = sizes.budget // K
    raw_overlap = _mean_off_diagonal(selection_overlap([np.argsort(-Z[:, j], kind="stable")[:quota]
                                                        for j in range(Z.shape[1])]))

    ids, y = st.token_ids(pool), truth["y"].to_numpy()
    test_ids, test_y = st.token_ids(test), np.array([d.y for d in test])
    test_dom = np.array([d.domain for d in test])
    acc = {name: macro_accuracy(train_tiny_classifier(ids[arms[name]], y[arms[name]], seed=seed,
                                                      n_steps=sizes.n_steps)(test_ids), test_y, test_dom)
           for name in TRAINED}
    groups = {name: float(len(np.unique(truth["dup_group"].to_numpy()[idx]))) for name, idx in arms.items()}
    entropy = {name: domain_entropy(truth["domain"].to_numpy()[idx]) for name, idx in arms.items()}
    junk = truth["is_junk"].to_numpy()
    pairs = {
        "odis-vs-random": (acc["Random"], acc["ODiS"]),
        "odis-vs-pc-average-top": (acc["PC-Average-Top"], acc["ODiS"]),
        **{f"{name}-headroom": (acc["Random"], acc[name]) for name in ORACLES},
        "overlap-vs-raw-dims": (raw_overlap, odis_overlap),
        "dup-groups-vs-avg-top": (groups["Avg-Top"], groups["ODiS"]),
        "domain-entropy-vs-avg-top": (entropy["Avg-Top"], entropy["ODiS"]),
        "scorer-r2-pc1": (0.5, float(odis.scorer_r2_[0])),
    }
    return TrialResult(pairs=pairs, diagnostics={
        "accuracy": acc, "dup_groups": groups, "domain_entropy": entropy,
        "junk_share": {name: float(junk[idx].mean()) for name, idx in arms.items()},
        "scorer_r2": odis.scorer_r2_.tolist(), "explained_variance_ratio": odis.pca_.explained_variance_ratio_.tolist(),
        "odis_overlap_matrix": odis.overlap_.tolist(), "raw_dimension_overlap": raw_overlap,
        "union_size": union_size, "independence_level": 2 * quota / sizes.pool, "n_steps": sizes.n_steps})


REPRODUCTION = Reproduction(
    id="odis",
    title="Learning from the Best, Differently: A Diversity-Driven Rethinking on Data Selection",
    arxiv="2510.18909",
    claim=("Decorrelating multi-dimensional quality scores with PCA and selecting the top documents separately "
           "along each orthogonal component trains better models than random or averaged-score selection, "
           "because the per-component top sets barely overlap and the union stays diverse."),
    paper_result=("1.5B LMs on 100B Nemotron-CC tokens: ODiS 'significantly outperforms' Random, DSIR and "
                  "PC-Average-Top/Sample on five benchmarks (exact numbers not retrieved); < 2% inter-dimension "
                  "overlap."),
    setup=("SynthText-MD pool of 3000 docs; 8 standardised quality signals + noise (sd 0.2) annotated on 30% "
           "(NaN elsewhere); PCA K=4, RidgeCV scorers on hashing embeddings; budget 600; TinyTextClassifier "
           "trained 800 Adam steps on every arm (converged: fixed from the Random arm of seed 0 on validation "
           "data before comparing arms; previously 10 epochs ~ 100 steps); macro accuracy on a clean balanced "
           "test set. Regime: clean-, dedup- and domain-balanced-random oracles (ground truth) must beat Random."),
    checks=(
        Check("odis-vs-random", "macro test accuracy", "Random", "ODiS", "greater",
              "ODiS trains better than random selection", "significant gains over Random"),
        Check("odis-vs-pc-average-top", "macro test accuracy", "PC-Average-Top", "ODiS", "greater",
              "ODiS trains better than taking the top by the averaged component score",
              "significant gains over PC-Average-Top"),
        *oracle_checks("pretraining pools mix quality levels, duplicates and domains (Nemotron-CC)"),
        Check("overlap-vs-raw-dims", "mean pairwise overlap of per-dimension top sets", "raw dimensions", "ODiS PCs",
              "less", "top sets along orthogonal components overlap less than along the raw dimensions",
              "< 2% overlap", kind="mechanism"),
        Check("dup-groups-vs-avg-top", "distinct duplicate groups selected", "Avg-Top", "ODiS", "greater",
              "ODiS selects more distinct documents than averaging the raw scores", "broader coverage (UMAP)",
              kind="mechanism"),
        Check("domain-entropy-vs-avg-top", "domain entropy of the selection (nats)", "Avg-Top", "ODiS", "greater",
              "ODiS keeps a broader domain mix than averaging the raw scores", "broader coverage (UMAP)",
              kind="mechanism"),
        Check("scorer-r2-pc1", "held-out R^2 of the PC1 scorer", "nominal 0.5", "ODiS PC1 scorer", "greater",
              "the component scorers predict the first component well", "not reported (asked by reviewers)",
              kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="odis-vs-random",
    trial_seconds=7.0,
)
