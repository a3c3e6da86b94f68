"""Reproduction of QuaDMix: searched joint quality/domain sampling trains better models than random data.

Liu, Zhou, Liu, Yu, Zhang, Lin, Yu, Zhang, Zhou, Wang, Cao, "QuaDMix:
Quality-Diversity Balanced Data Selection for Efficient LLM Pretraining",
arXiv:2504.16511.

Design (spec ``data.md#quadmix``), one unit = one seed: a fresh SynthText-MD
pool of 3000 documents, its own parameter search, sampling, final models and
held-out evaluation. Criteria ``fluency``, ``clf_clean``, ``edu`` (negated
inside QuaDMix to its smaller-is-better convention); domains predicted by a
logistic regression on embeddings trained on 300 labelled seed documents.
Quota = 150 documents = 5% of the pool, the share the paper selects (30B
tokens, "about the top 5%") and inside the range its prior allows (omega <=
0.1 keeps at most the top 10% of every domain).

Search, per unit: parameter sets drawn from the prior of Algorithm 1, each
sampled to the quota and scored by a proxy, ``LogisticRegression(C=1,
max_iter=200)`` on bag-of-words with ``sample_weight`` = realised counts; the
proxy loss is the log-loss on a clean validation set (seed 20_000 + s),
uniform over domains ("OH" target) or restricted to medicine and computing
("BMK" target; both targets share the same proxy fits). A gradient-boosting
regressor maps parameters to loss; theta* = the mean of the 10 best of the
candidate draws. Quick mode: 200 proxies and 5,000 candidates per unit (full:
500 and 20,000).

Arms at the same quota: Random, Quality-only (top by the equal-weight merged
quality rank, no domain control: the FineWeb-edu / DCLM analog), QuaDMix-OH,
QuaDMix-BMK, and the regime oracle ``clean-balanced-random`` (junk removed
and equal documents per true domain, from the ground truth: what joint
quality and domain control could gain at best). Criteria Mix is reported
(junk share, unique documents), not trained. Final models: the
TinyTextClassifier of :mod:`diversa.reproduce.testbeds.text_classifier`
trained for the same fixed ``n_steps`` = 400 on every arm's multiset; all
reported numbers are measured on a clean held-out test set (seed 10_000 + s)
that neither the search nor the selection saw.

Headline: the paper's performance claim (Table 1: models trained on QuaDMix
data beat random data on downstream benchmarks) as the final model's macro
test accuracy. The search's own objective on held-out data (proxy log-loss
on the test set) is a mechanism check, as is the regressor's Spearman
correlation on held-out proxies, now measured once per unit.

Changes after issue 16, decided before rerunning: the first version used a
quota of 30% of the pool, which the prior cannot fill (QuaDMix kept at most
~10% of each domain, so the quota was met by repeating documents: <= 298
unique documents against Random's 900); it searched once on the seed-0 pool
and reused theta* in every unit (one measurement counted eight times); trial
0 evaluated on the validation set the search optimised; the headline was the
proxy validation loss; the final model trained 10 epochs. ``n_steps`` = 400
was fixed from a convergence check on the Random arm (150 documents) of seed 0
alone on the validation set, by the rule of the kMQ reproduction (training
accuracy 1.0 and cross-entropy < 0.01, validation macro accuracy within one
point at every longer budget measured): 50 steps 0.776, 100: 0.816, 200:
0.812 (train CE 0.017), 400: 0.808 (CE 0.002), 800: 0.807, 1600: 0.806, 3200:
0.808.

Deviations, stated: hashing embeddings (quick-mode budget); the quota counts
documents, not tokens (lengths vary only 12-20 tokens); fewer proxies than
the spec's 500 quick / 3000 full, to run the search in every unit; the
regressor is LightGBM when installed, else scikit-learn's
HistGradientBoostingRegressor (the spec's fallback); the Mixture-only
(RegMix) arm is not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.selection_oracles import oracle_random
from diversa.reproduce.testbeds.text_classifier import macro_accuracy, train_tiny_classifier

CRITERIA = ("fluency", "clf_clean", "edu")
BMK_DOMAINS = (3, 5)
ORACLE = "clean-balanced-random"


@dataclass(frozen=True)
class Sizes:
    """The experiment's scale: pool, quota, proxies and candidates per search (quick, full), steps, eval docs."""

    pool: int = 3000
    quota: int = 150
    proxies: tuple[int, int] = (200, 500)
    candidates: tuple[int, int] = (5_000, 20_000)
    n_steps: int = 400
    eval_per_domain: int = 200


SIZES = Sizes()


class Testbed(NamedTuple):
    """One seed's pool, predicted domains, criteria (higher = better), validation and test sets."""

    st: object
    pool: list
    domains: np.ndarray
    quality: np.ndarray
    val: list
    test: list


def testbed(seed: int, sizes: Sizes = SIZES) -> Testbed:
    from sklearn.linear_model import LogisticRegression

    from diversa.datasets import synthtext as st

    pool = st.make_multidomain_text(sizes.pool, seed=seed)
    seed_docs = st.make_multidomain_text(300, seed=seed + 3, junk_rate=0.0, label_noise=0.0, dup_rate=0.0)
    emb = st.hash_embed(st.texts(pool) + st.texts(seed_docs))
    domain_clf = LogisticRegression(max_iter=1000).fit(emb[sizes.pool:], [d.domain for d in seed_docs])
    domains = domain_clf.predict(emb[:sizes.pool])
    quality = st.quality_signals(pool, emb[:sizes.pool], seed=seed, embedder="hash")[list(CRITERIA)].to_numpy(float)
    val = st.make_eval_set(sizes.eval_per_domain // 2, seed=20_000 + seed)
    test = st.make_eval_set(sizes.eval_per_domain, seed=10_000 + seed)
    return Testbed(st, pool, domains, quality, val, test)


def proxy_losses(st, pool, eval_docs):
    """``counts -> (log-loss on all eval docs, log-loss on the BMK domains)`` of the proxy model (cached)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    B, y = st.bow(pool), np.array([d.y for d in pool])
    Be, ye = st.bow(eval_docs), np.array([d.y for d in eval_docs])
    bmk = np.isin([d.domain for d in eval_docs], BMK_DOMAINS)
    cache: dict = {}

    def losses(counts):
        key = counts.tobytes()
        if key not in cache:
            keep = counts > 0
            model = LogisticRegression(C=1.0, max_iter=200).fit(B[keep], y[keep], sample_weight=counts[keep])
            full = np.zeros((len(ye), 3))
            full[:, model.classes_] = model.predict_proba(Be)
            full = np.clip(full, 1e-12, 1.0)
            full /= full.sum(axis=1, keepdims=True)
            cache[key] = (log_loss(ye, full, labels=[0, 1, 2]), log_loss(ye[bmk], full[bmk], labels=[0, 1, 2]))
        return cache[key]

    return losses


def search(tb: Testbed, seed: int, quick: bool, sizes: Sizes = SIZES):
    """The OH- and BMK-targeted parameter searches of one unit, on its validation set."""
    from diversa.data.select import QuaDMixSearch

    val_losses = proxy_losses(tb.st, tb.pool, tb.val)
    mode = 0 if quick else 1
    settings = {"n_proxies": sizes.proxies[mode], "n_candidates": sizes.candidates[mode], "top_k": 10,
                "random_state": seed}
    oh = QuaDMixSearch(**settings).run(tb.quality, tb.domains, lambda c: val_losses(c)[0], quota=sizes.quota)
    # same random_state: the same parameter draws and samples, so the BMK search reuses the proxy fits
    bmk = QuaDMixSearch(**settings).run(tb.quality, tb.domains, lambda c: val_losses(c)[1], quota=sizes.quota)
    return oh, bmk


def select_arms(tb: Testbed, oh, bmk, seed: int, sizes: Sizes = SIZES) -> dict[str, np.ndarray]:
    """Every arm's multiset of ``sizes.quota`` row indices (repeats allowed for QuaDMix)."""
    from scipy.stats import rankdata

    from diversa.data.select import RandomSelector

    q, n = tb.quality, sizes.quota
    idx = {"Random": RandomSelector(random_state=seed).fit(q).select(n)}
    merged = np.mean([rankdata(-q[:, j]) for j in range(q.shape[1])], axis=0)
    idx["Quality-only"] = np.argsort(merged, kind="stable")[:n]
    tops = [np.argsort(-q[:, j], kind="stable")[:n] for j in range(q.shape[1])]
    interleaved = np.stack(tops, axis=1).ravel()
    _, first = np.unique(interleaved, return_index=True)
    idx["Criteria-Mix"] = interleaved[np.sort(first)][:n]
    idx["QuaDMix-OH"] = oh.selector(random_state=seed).fit(quality=q, domains=tb.domains).select(n)
    idx["QuaDMix-BMK"] = bmk.selector(random_state=seed).fit(quality=q, domains=tb.domains).select(n)
    idx[ORACLE] = oracle_random(tb.st.ground_truth(tb.pool), n, clean=True, balanced=True, random_state=seed + 1)
    return idx


TRAINED = ("Random", "Quality-only", "QuaDMix-OH", "QuaDMix-BMK", ORACLE)


def run_trial(seed: int, quick: bool, sizes: Sizes | None = None) -> TrialResult:
    sizes = SIZES if sizes is None else sizes
    tb = testbed(seed, sizes)
    oh, bmk = search(tb, seed, quick, sizes)
    idx = select_arms(tb, oh, bmk, seed, sizes)

    st, truth = tb.st, tb.st.ground_truth(tb.pool)
    test_losses = proxy_losses(st, tb.pool, tb.test)
    test_loss = {name: float(test_losses(np.bincount(i, minlength=sizes.pool))[0]) for name, i in idx.items()}
    ids, y = st.token_ids(tb.pool), truth["y"].to_numpy()
    test_ids, test_y = st.token_ids(tb.test), np.array([d.y for d in tb.test])
    test_dom = np.array([d.domain for d in tb.test])
    target = np.isin(test_dom, BMK_DOMAINS)
    acc, acc_bmk = {}, {}
    for name in TRAINED:
        proba = train_tiny_classifier(ids[idx[name]], y[idx[name]], seed=seed, n_steps=sizes.n_steps)(test_ids)
        acc[name] = macro_accuracy(proba, test_y, test_dom)
        acc_bmk[name] = macro_accuracy(proba[target], test_y[target], test_dom[target])
    junk = truth["is_junk"].to_numpy()
    pairs = {
        "oh-vs-random-accuracy": (acc["Random"], acc["QuaDMix-OH"]),
        "oh-vs-quality-only-accuracy": (acc["Quality-only"], acc["QuaDMix-OH"]),
        "bmk-vs-oh-target-accuracy": (acc_bmk["QuaDMix-OH"], acc_bmk["QuaDMix-BMK"]),
        "oracle-headroom": (acc["Random"], acc[ORACLE]),
        "oh-vs-random-heldout-loss": (test_loss["Random"], test_loss["QuaDMix-OH"]),
        "regressor-spearman": (0.5, oh.regressor_spearman_),
        "quality-only-junk-vs-random": (float(junk[idx["Random"]].mean()), float(junk[idx["Quality-only"]].mean())),
    }
    return TrialResult(pairs=pairs, diagnostics={
        "accuracy": acc, "accuracy_bmk_domains": acc_bmk, "test_loss": test_loss,
        "junk_share": {n: float(junk[i].mean()) for n, i in idx.items()},
        "unique_docs": {n: int(np.unique(i).size) for n, i in idx.items()},
        "domain_mix": {n: (np.bincount(truth["domain"].to_numpy()[i], minlength=6) / len(i)).round(4).tolist()
                       for n, i in idx.items()},
        "pool_domain_mix": (np.bincount(truth["domain"], minlength=6) / sizes.pool).round(4).tolist(),
        "regressor_mae_oh": oh.regressor_mae_, "regressor_spearman_bmk": bmk.regressor_spearman_,
        "theta_star_oh_omega": oh.theta_star_.omega.round(4).tolist(), "n_steps": sizes.n_steps})


REPRODUCTION = Reproduction(
    id="quadmix",
    title="QuaDMix: Quality-Diversity Balanced Data Selection for Efficient LLM Pretraining",
    arxiv="2504.16511",
    claim=("Sampling pretraining data with one parameterised function of domain and merged quality rank, its "
           "parameters found by proxy models and a LightGBM regressor, trains better models than random and "
           "quality-only selection, and can target chosen benchmarks."),
    paper_result=("530M models, 500B tokens: average over 9 benchmarks Random 32.3, FineWeb-edu classifier 37.4, "
                  "Criteria Mix 36.0, QuaDMix-OH 39.0, QuaDMix-BMK 39.5; BMK-targeted beats OH-targeted on 4/5 "
                  "targeted tasks."),
    setup=("SynthText-MD pool of 3000 docs per unit; criteria fluency, clf_clean, edu; predicted domains; quota 150 "
           "docs (5%, inside the prior's omega <= 0.1; previously 30%); a search per unit: 200 proxies "
           "(bag-of-words logistic regression, validation log-loss; OH: all domains, BMK: medicine + computing), "
           "gradient-boosting regressor, top-10 of 5,000 candidates; TinyTextClassifier final models, 400 Adam "
           "steps on every arm; everything measured on a held-out test set. Regime: a clean, domain-balanced "
           "random oracle (ground truth) must beat Random."),
    checks=(
        Check("oh-vs-random-accuracy", "macro test accuracy (final model)", "Random", "QuaDMix-OH", "greater",
              "models trained on QuaDMix data beat models trained on random data", "39.0 vs 32.3 average"),
        Check("oh-vs-quality-only-accuracy", "macro test accuracy (final model)", "Quality-only", "QuaDMix-OH",
              "greater", "QuaDMix data beats quality-only data", "39.0 vs 37.4 (FineWeb-edu)"),
        Check("bmk-vs-oh-target-accuracy", "accuracy on the BMK target domains", "QuaDMix-OH", "QuaDMix-BMK",
              "greater", "parameters searched for a target improve that target", "BMK > OH on 4/5 tasks"),
        Check("oracle-headroom", "macro test accuracy (final model)", "Random", ORACLE, "greater",
              "regime: removing junk and balancing domains (ground truth) beats a random draw of the quota, so "
              "joint quality and domain control has something to gain", "quality filters and mixing both matter "
              "(Fig. 1, Table 1)", kind="regime"),
        Check("oh-vs-random-heldout-loss", "held-out log-loss of the proxy model", "Random", "QuaDMix-OH", "less",
              "mechanism: the searched parameters lower the search's objective on data the search never saw",
              "QuaDMix-OH lowers the OH target loss", kind="mechanism"),
        Check("regressor-spearman", "Spearman(predicted, actual proxy loss), held-out 20% of proxies", "nominal 0.5",
              "regressor", "greater", "mechanism: the regressor ranks parameter sets by proxy loss",
              "predicted loss correlates strongly with the real loss", kind="mechanism"),
        Check("quality-only-junk-vs-random", "junk share of the selection", "Random", "Quality-only", "less",
              "mechanism: quality filtering admits fewer junk documents than random", "Fig. 1 context",
              kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="oh-vs-random-accuracy",
    trial_seconds=9.0,
)
