"""Reproduction of kMQ: diversity-first (k-means) quality selection beats random and quality-top.

Yu, Chen, Ahmadian, Fadaee, "Diversify and Conquer: Diversity-Centric Data
Selection with Iterative Refinement", arXiv:2409.11378.

Design (spec ``data.md#kmq``), one unit = one seed (fresh pool, test set,
k-means, sampling and model initialisation): a SynthText-MD pool of 3000
documents (15% junk, 30% heavy-tailed duplicates, imbalanced domains, 5% label
noise), quality = the ``clf_clean`` signal, budget 300 (10%), k = 30. Arms:
Random, Quality-top, kMQ (equal allocation), kMQ (proportional), kM-Random and
Iterative kMQ (3 rounds, reward-difference scorer). Learner: the spec's
TinyTextClassifier (:mod:`diversa.reproduce.testbeds.text_classifier`; Adam
3e-3, batch 64) trained for the same fixed ``n_steps`` = 400 on every arm,
including the iterative arm's per-round models; metric: macro accuracy over
the six domains of a clean balanced test set (seed 10_000 + s).

Training budget. The first version trained 10 epochs (~50 Adam steps on 300
documents), far from convergence (issue 16). ``n_steps`` was then fixed from a
convergence check on the Random arm of seed 0 alone, before any arm was
compared, on the validation set (seed 20_000): the smallest step count of a
doubling grid at which the model fits its selection (training accuracy 1.0,
training cross-entropy < 0.01) and validation macro accuracy stays within one
point at every longer budget up to 16 times more. Measured (mean of two
initialisations): 50 steps 0.791, 100: 0.848, 200: 0.850 (train CE 0.043),
400: 0.845 (train CE 0.005, train accuracy 1.0), 800: 0.840, 1600: 0.839,
3200: 0.834, 6400: 0.833 -> 400 steps (80 epochs of 300 documents).

Regime. Three oracle arms draw the budget at random after curing one defect
with the generator's ground truth: ``clean-random`` (junk removed),
``dedup-random`` (one member per duplicate group), ``balanced-random`` (equal
documents per domain; :mod:`diversa.reproduce.testbeds.selection_oracles`).
kMQ's argument is that a pool holds low-quality data, redundant copies and
skewed modes, and that quality-weighted sampling from every cluster avoids all
three; each oracle shows that one of these costs accuracy in this testbed. A
failed oracle check (the oracle does not beat Random) means the testbed lacks
a condition the claim is about, so every claim is ``out of regime``.

Deviations, stated: documents are embedded with diversa's hashing embedder
(TF-IDF + 128-d SVD fitted on pool and seed texts together) rather than
MiniLM, because MiniLM embeddings ship for seed 0 only and encoding a fresh
pool per seed costs more than the quick-mode budget; k-means uses n_init=3.
The iterative arm's reward model is a logistic regression on embeddings
trained on 300 clean labelled seed documents, R(x, y) = log p_ref(y | x), and
S = R(x, y_gold) - R(x, argmax of the current model), as the spec's analog of
Eq. 4; the iterative arm is reported, not tested (the spec's choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.selection_oracles import ORACLES, oracle_selections
from diversa.reproduce.testbeds.text_classifier import macro_accuracy, train_tiny_classifier


@dataclass(frozen=True)
class Sizes:
    """The experiment's scale: pool, budget, clusters, training steps per model, test docs per domain."""

    pool: int = 3000
    budget: int = 300
    clusters: int = 30
    n_steps: int = 400
    test_per_domain: int = 200


SIZES = Sizes()


def domain_entropy(domains) -> float:
    """Shannon entropy (nats) of the domain mix of a selection."""
    p = np.bincount(np.asarray(domains), minlength=6) / len(domains)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


class Testbed(NamedTuple):
    """One seed's pool (token ids, observed labels, ground truth, embeddings, quality) and test set."""

    ids: np.ndarray
    y: np.ndarray
    truth: object
    emb: np.ndarray
    quality: np.ndarray
    reward_log_proba: np.ndarray
    test_ids: np.ndarray
    test_y: np.ndarray
    test_domains: np.ndarray


def testbed(seed: int, sizes: Sizes = SIZES) -> Testbed:
    """Pool, joint hashing embeddings, ``clf_clean`` quality, the reward model's log p_ref and the test set."""
    from sklearn.linear_model import LogisticRegression

    from diversa.datasets import synthtext as st

    pool = st.make_multidomain_text(sizes.pool, seed=seed)
    test = st.make_eval_set(sizes.test_per_domain, seed=10_000 + seed)
    labelled = st.make_multidomain_text(300, seed=seed + 3, junk_rate=0.0, label_noise=0.0, dup_rate=0.0)
    emb = st.hash_embed(st.texts(pool) + st.texts(labelled))
    pool_emb, lab_emb = emb[:sizes.pool], emb[sizes.pool:]
    quality = st.quality_signals(pool, pool_emb, seed=seed, embedder="hash")["clf_clean"].to_numpy(dtype=float)
    reward = LogisticRegression(max_iter=1000).fit(lab_emb, [d.y for d in labelled])
    truth = st.ground_truth(pool)
    return Testbed(st.token_ids(pool), truth["y"].to_numpy(), truth, pool_emb, quality,
                   reward.predict_log_proba(pool_emb), st.token_ids(test), np.array([d.y for d in test]),
                   np.array([d.domain for d in test]))


def select_arms(tb: Testbed, seed: int, sizes: Sizes = SIZES) -> tuple[dict[str, np.ndarray], dict]:
    """Every arm's selection of ``sizes.budget`` rows, and the iterative run's record.

    The record holds the iterative selector and the models it trained, in round order (the last
    one is trained on the whole iterative selection, so it is that arm's final model).
    """
    from diversa.data.select import IterativeKMQSelector, KMQSelector, RandomSelector, TopQualitySelector

    b = sizes.budget
    kmq = KMQSelector(sizes.clusters, kmeans_n_init=3, random_state=seed).fit(tb.emb, quality=tb.quality)
    arms = {"Random": RandomSelector(random_state=seed).fit(tb.emb).select(b),
            "Quality-top": TopQualitySelector().fit(tb.emb, quality=tb.quality).select(b),
            "kMQ": kmq.select(b)}
    labels = kmq.labels_
    arms["kMQ-proportional"] = KMQSelector(allocation="proportional", random_state=seed).fit(
        tb.emb, quality=tb.quality, labels=labels).select(b)
    arms["kM-Random"] = KMQSelector(within="random", random_state=seed).fit(tb.emb, labels=labels).select(b)

    models = []

    def train_fn(idx):
        models.append(train_tiny_classifier(tb.ids[idx], tb.y[idx], seed=seed, n_steps=sizes.n_steps))
        return models[-1]

    def reward_difference(model, idx):
        generated = model(tb.ids[idx]).argmax(axis=1)
        return tb.reward_log_proba[idx, tb.y[idx]] - tb.reward_log_proba[idx, generated]

    iterative = IterativeKMQSelector(train_fn, reward_difference, n_rounds=3, random_state=seed).fit(
        tb.emb, quality=tb.quality, labels=labels)
    arms["Iterative kMQ"] = iterative.select(b)
    # the oracles draw with their own stream so that they do not share the Random arm's draw
    arms.update(oracle_selections(tb.truth, b, random_state=seed + 1))
    return arms, {"selector": iterative, "models": models, "score": reward_difference}


def run_trial(seed: int, quick: bool, sizes: Sizes | None = None) -> TrialResult:
    sizes = SIZES if sizes is None else sizes
    tb = testbed(seed, sizes)
    arms, iterative = select_arms(tb, seed, sizes)

    def accuracy(proba):
        return macro_accuracy(proba, tb.test_y, tb.test_domains)

    acc = {}
    for name, idx in arms.items():
        if name == "Iterative kMQ":
            model = iterative["models"][-1]
        else:
            model = train_tiny_classifier(tb.ids[idx], tb.y[idx], seed=seed, n_steps=sizes.n_steps)
        acc[name] = accuracy(model(tb.test_ids))

    junk = tb.truth["is_junk"].to_numpy()
    groups_of = tb.truth["dup_group"].to_numpy()
    domains_of = tb.truth["domain"].to_numpy()
    # S of every pool document under the round-1 model (round 1 itself holds few junk docs)
    pool_S = iterative["score"](iterative["models"][0], np.arange(sizes.pool))
    s_junk, s_clean = float(pool_S[junk].mean()), float(pool_S[~junk].mean())
    groups = {name: float(np.unique(groups_of[idx]).size) for name, idx in arms.items()}
    entropy = {name: domain_entropy(domains_of[idx]) for name, idx in arms.items()}
    selector = iterative["selector"]
    labels = selector.labels_
    k = selector.cluster_centers_.shape[0]
    junk_clusters = np.flatnonzero(np.bincount(labels, weights=junk, minlength=k)
                                   / np.maximum(np.bincount(labels, minlength=k), 1) > 0.5)
    pairs = {
        "kmq-vs-random": (acc["Random"], acc["kMQ"]),
        "kmq-vs-quality-top": (acc["Quality-top"], acc["kMQ"]),
        **{f"{name}-headroom": (acc["Random"], acc[name]) for name in ORACLES},
        "dup-groups-vs-random": (groups["Random"], groups["kMQ"]),
        "dup-groups-vs-quality-top": (groups["Quality-top"], groups["kMQ"]),
        "domain-entropy-vs-quality-top": (entropy["Quality-top"], entropy["kMQ"]),
        "reward-gap-junk": (s_clean, s_junk),
    }
    return TrialResult(pairs=pairs, diagnostics={
        "accuracy": acc, "dup_groups": groups, "domain_entropy": entropy,
        "junk_share": {name: float(junk[idx].mean()) for name, idx in arms.items()},
        "round1_mean_S": {"clean": s_clean, "junk": s_junk},
        "junk_cluster_weights_after_round2": selector.cluster_weights_history_[2, junk_clusters].tolist(),
        "uniform_weight": 1.0 / k, "n_steps": sizes.n_steps})


_ORACLE_CLAIMS = {
    "clean-random": "removing the junk documents (ground truth) before a random draw beats a plain random draw",
    "dedup-random": "keeping one document per duplicate group (ground truth) before a random draw beats a plain "
                    "random draw",
    "balanced-random": "drawing equally from every domain (ground truth) beats a plain random draw",
}


def oracle_checks(paper: str) -> tuple[Check, ...]:
    """The regime checks of the three single-defect oracles against Random (gate every claim)."""
    return tuple(Check(f"{name}-headroom", "macro test accuracy", "Random", name, "greater",
                       f"regime: {text}, so selection has something to gain", paper, kind="regime")
                 for name, text in _ORACLE_CLAIMS.items())


REPRODUCTION = Reproduction(
    id="kmq",
    title="Diversify and Conquer: Diversity-Centric Data Selection with Iterative Refinement",
    arxiv="2409.11378",
    claim=("Selecting a fine-tuning budget by k-means clustering with quality-weighted sampling inside every "
           "cluster (kMQ) trains better models than random selection and than ranking by a quality score, "
           "because it covers the data's modes; an iterative variant re-weights clusters by how learnable "
           "their data proved."),
    paper_result=("WizardLM 196k -> 10k, Llama-2-7B, average of six benchmarks: Random 43.8, Deita (quality) 45.0, "
                  "kM-Random 45.2, kMQ 46.2, Iterative kMQ 46.9."),
    setup=("SynthText-MD pool of 3000 docs (15% junk, 30% duplicates, 6 imbalanced domains), hashing embeddings, "
           "quality = clf_clean; budget 300, k = 30 (equal allocation); TinyTextClassifier trained 400 Adam steps "
           "on every arm (converged: fixed from the Random arm of seed 0 on validation data before comparing arms; "
           "previously 10 epochs ~ 50 steps); macro accuracy on a clean balanced test set; iterative: 3 rounds, "
           "reward-difference scorer. Regime: clean-, dedup- and domain-balanced-random oracles (ground truth) "
           "must beat Random."),
    checks=(
        Check("kmq-vs-random", "macro test accuracy", "Random", "kMQ", "greater",
              "kMQ (equal allocation) beats random selection", "46.2 vs 43.8 (Llama-2-7B)"),
        Check("kmq-vs-quality-top", "macro test accuracy", "Quality-top", "kMQ", "greater",
              "kMQ beats selection of the top-quality examples", "46.2 vs 45.0 (Deita)"),
        *oracle_checks("real pools hold junk, redundancy and skewed modes (section 1)"),
        Check("dup-groups-vs-random", "distinct duplicate groups selected", "Random", "kMQ", "greater",
              "mechanism: kMQ covers more distinct documents than random", "diversity argument of section 2",
              kind="mechanism"),
        Check("dup-groups-vs-quality-top", "distinct duplicate groups selected", "Quality-top", "kMQ", "greater",
              "mechanism: quality ranking collapses onto duplicates, kMQ does not", "diversity argument of section 2",
              kind="mechanism"),
        Check("domain-entropy-vs-quality-top", "domain entropy of the selection (nats)", "Quality-top", "kMQ",
              "greater", "mechanism: kMQ keeps a broader domain mix than quality ranking", "Fig. 4 discussion",
              kind="mechanism"),
        Check("reward-gap-junk", "mean reward difference S under the round-1 model", "clean docs", "junk docs", "less",
              "mechanism: the scorer gives junk docs lower S than clean docs (so their clusters lose weight)",
              "section 2.2, Eq. 4-6", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="kmq-vs-random",
    trial_seconds=6.0,
)
