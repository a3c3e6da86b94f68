"""Reproduction of Weaver: weighted weak-verifier aggregation beats unweighted averaging and voting.

Saad-Falcon, Buchanan, Chen et al., "Shrinking the Generation-Verification Gap with Weak
Verifiers", arXiv:2506.18203 (spec ``ensemble.md#weaver``, small-scale reproduction).

A trial is one testbed seed: ``make_candidate_pools(n_queries=300, n_candidates=10,
task="verifiable", n_modes=5, generator="simple")`` and the 12 verifiers of ``WEAK_VERIFIERS``
(the spec's ``DEFAULT_VERIFIERS``, mixed formats with one always-yes, with the three strong ones at
half strength). Methods: first sample, majority vote, naive average of normalised scores, Weaver
with the library defaults (minmax, ``"cb"`` threshold, filter "all", no majority-vote
pseudo-verifier: the default chosen on separate seeds of the testbed, see
:mod:`diversa.combine.verifiers.weaver`; the official configuration with it is a diagnostic),
transductive as in the official protocol with the class balance from labels (official),
supervised logistic regression trained on half of the queries and evaluated on the other half
(Weaver fitted on the training half is evaluated on the same held-out half), the best single
verifier (chosen with labels) and the oracle (pass@N).

Checks. Headline: Weaver > naive average. Secondary claims (Holm-adjusted behind the headline):
Weaver > majority vote; Weaver within 2 points of supervised LR on held-out queries
(non-inferiority margin 0.02); "raw scores and no filtering hurt the naive average more than
Weaver"; distillation keeps > 70 % of Weaver's gain over the first sample on held-out queries.
Mechanism: label-model TPR/TNR recovery (max error over kept verifiers < 0.05, truth = the
votes' TPR/TNR measured with labels). Regime: the verifiers are weak, the setting Weaver is for:
the best single verifier, chosen with labels, trails the oracle by more than 5 points, so there
is a generation-verification gap for aggregation to close (fails if one verifier already
selects nearly as well as pass@N).

Changes of the audit (issue 16). Weaver runs with the library default ``mv_as_verifier=False``
(before: True, the official configuration, which cost 1-2 points on fresh seeds of this testbed);
the supervised margin moved into the check; the regime check is new. The verifier suite changed
AFTER the new regime check failed on the spec's suite: within a query the per-query offsets of
the simulator cancel, so its strong continuous verifiers (a = 1.0-1.5) rank candidates almost
perfectly and the best single one selected within 1-2 points of pass@N (the spec's prototype
shows the same: Weaver 0.905 vs oracle 0.914), leaving no gap for aggregation. The strength of
the three strong verifiers was then set by a rule fixed before any method was run on the new
suite: the largest of the scales 1, 0.8, 0.7, 0.6, 0.5 whose mean gap between pass@N and the
best single verifier reaches 8 points on six seeds outside the reproduction's (gaps 1.4, 3.9,
5.7, 7.7, 11.3 points: 0.5). Diagnostics add per-seed McNemar p (Weaver vs naive), Weaver with
threshold 0.5, with the MV pseudo-verifier and with the label-free class balance, the verifiers'
true AUC range, and a robustness row on the latent generator at tau = 1.0.
"""

from __future__ import annotations

import numpy as np

from diversa.combine.verifiers import (
    BestSingleVerifier,
    CrossEncoderDistiller,
    NaiveEnsembleAggregator,
    SupervisedVerifierEnsemble,
    WeaverAggregator,
    majority_vote_select,
    select_argmax,
    selection_accuracy,
)
from diversa.combine.verifiers.normalize import apply_thresholds, majority_vote_verifier
from diversa.datasets.candidate_pools import (
    WEAK_VERIFIERS,
    make_candidate_pools,
    simulate_verifiers,
)
from diversa.evaluate.proportions import mcnemar
from diversa.reproduce.registry import Check, Reproduction, TrialResult

N_QUERIES, N_CANDIDATES, N_MODES = 300, 10, 5
DISTILL_EPOCHS = 200  # spec: 200 epochs (quick and full)
#: Regime: the best single verifier must trail pass@N by more than this (selection accuracy).
GAP_HEADROOM = 0.05
#: The verifier suite: every verifier weak (the spec's suite has near-perfect rankers, see the docstring).
VERIFIERS = WEAK_VERIFIERS


def make_weaver(seed: int, **params) -> WeaverAggregator:
    """The method under test: Weaver with the library defaults (class balance from labels)."""
    return WeaverAggregator(random_state=seed, **params)


def _acc(pool, idx) -> float:
    return selection_accuracy(pool.correct, idx)


def _tpr_tnr_error(w, S, answers, correct) -> float:
    arr = np.concatenate([S, _mv_column(answers)], axis=2) if w._mv_used else S
    votes = apply_thresholds(w._normed(arr, np.ones(S.shape[:2], bool)), w.thresholds_)[:, :, w._keep_local]
    tpr, tnr = votes[correct].mean(axis=0), 1 - votes[~correct].mean(axis=0)
    return float(max(np.abs(w.label_model_.tpr_ - tpr).max(), np.abs(w.label_model_.tnr_ - tnr).max()))


def _mv_column(answers):
    return majority_vote_verifier(answers)[:, :, None]


def _row(pool, S, seed):
    """Weaver vs naive vs MV on one pool (transductive)."""
    y = pool.correct
    w = make_weaver(seed).fit(S, pool.answers, y)
    pw = pool.correct[np.arange(len(y)), w.select(S, pool.answers)]
    n = NaiveEnsembleAggregator().fit(S)
    pn = pool.correct[np.arange(len(y)), n.select(S)]
    return w, pw, pn


def run_trial(seed: int, quick: bool) -> TrialResult:
    pool = make_candidate_pools(n_queries=N_QUERIES, n_candidates=N_CANDIDATES, task="verifiable", n_modes=N_MODES,
                                generator="simple", random_state=seed)
    S, info = simulate_verifiers(pool, VERIFIERS, random_state=seed)
    y, A = pool.correct, pool.answers
    w, right_w, right_n = _row(pool, S, seed)
    acc_w, acc_n = float(right_w.mean()), float(right_n.mean())
    acc_mv = _acc(pool, majority_vote_select(A))
    table = np.array([[np.sum(right_w & right_n), np.sum(right_w & ~right_n)],
                      [np.sum(~right_w & right_n), np.sum(~right_w & ~right_n)]])
    p_mcnemar = mcnemar(table, exact=True).pvalue
    acc_w05 = _acc(pool, make_weaver(seed, threshold=0.5).fit(S, A, y).select(S, A))
    acc_w_mv = _acc(pool, make_weaver(seed, mv_as_verifier=True).fit(S, A, y).select(S, A))
    acc_w_free = _acc(pool, make_weaver(seed, class_balance="estimate").fit(S, A).select(S, A))
    acc_best_single = _acc(pool, BestSingleVerifier().fit(S, y=y).select(S))
    # ablation: raw (unnormalised) scores and no filtering
    acc_w_raw = _acc(pool, make_weaver(seed, normalize=None, filter=None).fit(S, A, y).select(S, A))
    acc_n_raw = _acc(pool, NaiveEnsembleAggregator(normalize=None).fit(S).select(S))
    err = _tpr_tnr_error(w, S, A, y)
    always_yes = [i for i, d in enumerate(info) if d["kind"] == "always_yes"]
    filtered_always_yes = bool(all(i not in w.kept_verifiers_ for i in always_yes))

    # held-out half: supervised LR and Weaver fitted on the training half
    rng = np.random.default_rng(seed)
    perm = rng.permutation(N_QUERIES)
    tr, te = np.sort(perm[: N_QUERIES // 2]), np.sort(perm[N_QUERIES // 2:])
    sup = SupervisedVerifierEnsemble().fit(S[tr], A[tr], y[tr])
    acc_sup = selection_accuracy(y[te], sup.select(S[te], A[te]))
    w_tr = make_weaver(seed).fit(S[tr], A[tr], y[tr])
    acc_w_te = selection_accuracy(y[te], w_tr.select(S[te], A[te]))
    # distillation into a small scorer
    dist = CrossEncoderDistiller(epochs=DISTILL_EPOCHS, random_state=seed).fit(
        pool.query_emb[tr], pool.resp_emb[tr], w_tr.score_candidates(S[tr], A[tr]))
    acc_dist = selection_accuracy(y[te], select_argmax(dist.predict(pool.query_emb[te], pool.resp_emb[te])))
    acc_first_te = float(np.mean(y[te, 0]))
    gain = acc_w_te - acc_first_te
    retained = (acc_dist - acc_first_te) / gain if gain > 0 else 0.0

    # robustness row: latent generator at tau = 1.0
    lp = make_candidate_pools(n_queries=N_QUERIES, n_candidates=N_CANDIDATES, task="verifiable", n_modes=N_MODES,
                              generator="latent", language="en", temperature=1.0, random_state=seed)
    LS, _ = simulate_verifiers(lp, VERIFIERS, random_state=seed)
    _, lw, ln = _row(lp, LS, seed)

    return TrialResult(
        pairs={
            "weaver-vs-naive": (acc_n, acc_w),
            "weaver-vs-majority": (acc_mv, acc_w),
            "weaver-vs-supervised": (acc_sup, acc_w_te),
            "ablation-raw-unfiltered": (acc_w - acc_w_raw, acc_n - acc_n_raw),
            "tpr-tnr-recovery": (0.05, err),
            "distillation-retained": (0.7, float(retained)),
            "weak-verifiers-gap": (acc_best_single + GAP_HEADROOM, pool.oracle()),
        },
        diagnostics={
            "first_sample": pool.first_sample(), "oracle": pool.oracle(), "majority_vote": acc_mv,
            "naive": acc_n, "weaver": acc_w, "weaver_thr05": acc_w05, "weaver_with_mv_official": acc_w_mv,
            "weaver_label_free": acc_w_free, "best_single_verifier": acc_best_single,
            "true_auc_range": [min(d["auc_true"] for d in info), max(d["auc_true"] for d in info)],
            "weaver_raw_unfiltered": acc_w_raw, "naive_raw": acc_n_raw, "mcnemar_p_weaver_vs_naive": p_mcnemar,
            "supervised_lr_test": acc_sup, "weaver_test": acc_w_te, "distilled_test": acc_dist,
            "first_sample_test": acc_first_te, "distill_calls_ratio": 1.0 / S.shape[2],
            "max_tpr_tnr_error": err, "always_yes_filtered": filtered_always_yes,
            "kept": [int(k) for k in w.kept_verifiers_],
            "latent_tau1_weaver": float(lw.mean()), "latent_tau1_naive": float(ln.mean()),
            "latent_tau1_oracle": lp.oracle(),
        },
    )


REPRODUCTION = Reproduction(
    id="weaver",
    title="Shrinking the Generation-Verification Gap with Weak Verifiers (Weaver)",
    arxiv="2506.18203",
    claim=("Weighting weak verifiers by accuracies estimated without labels (weak supervision) selects "
           "correct responses more often than unweighted averaging of verifier scores and than majority "
           "voting, nearly matches a supervised ensemble, and can be distilled into a small scorer."),
    paper_result=("Weaver improves over unweighted averaging by 17.1 % and over majority voting by 13.5 %; "
                  "MATH-500 70B: 93.4 % vs majority vote 83.0 %; a 400M distilled cross-encoder keeps 98.7 % "
                  "of Weaver's accuracy (GPQA-Diamond: Weaver 66.4 %, distilled 65.3 %)."),
    setup=("Simulated candidate pools: 300 queries x 10 candidates, per-query P(correct) ~ Beta(1.2, 1.5), "
           "distractors ~ Dirichlet(0.5); 12 weak simulated verifiers (binary, reward, exp-reward, Likert, "
           "always-yes; WEAK_VERIFIERS); Weaver with the library defaults (minmax + class-balance threshold + "
           "filter 'all', no MV pseudo-verifier; class balance from labels), label model lr 0.01 x 500 epochs; supervised LR "
           "and distillation on a 50/50 query split; distiller MLP [x, r, x*r] -> 64 -> 64 -> 1; "
           "a trial = one testbed seed."),
    checks=(
        Check("weaver-vs-naive", "selection accuracy", "naive average", "Weaver", "greater",
              "weighted (Weaver) beats unweighted averaging of normalised scores", "+17.1 % over naive averaging"),
        Check("weaver-vs-majority", "selection accuracy", "majority vote", "Weaver", "greater",
              "Weaver beats majority voting", "+13.5 % over majority voting"),
        Check("weaver-vs-supervised", "held-out selection accuracy", "supervised LR", "Weaver", "greater",
              "label-free Weaver trails a supervised logistic ensemble by less than 2 points (non-inferiority)",
              "Weaver close to supervised ensembles (repo tables)", margin=0.02),
        Check("ablation-raw-unfiltered", "accuracy drop with raw scores, no filter", "Weaver drop", "naive drop",
              "greater", "raw scales and degenerate verifiers hurt naive averaging more than Weaver",
              "normalisation and filtering are needed because verifiers differ in scale and quality"),
        Check("tpr-tnr-recovery", "max |estimated - true| TPR/TNR", "tolerance 0.05", "label model", "less",
              "the label model recovers every kept verifier's TPR/TNR without labels",
              "accuracies estimated from agreements alone", kind="mechanism"),
        Check("distillation-retained", "retained gain over first sample", "0.7", "distilled scorer", "greater",
              "a small distilled scorer keeps most of Weaver's gain", "98.7 % of Weaver's accuracy retained"),
        Check("weak-verifiers-gap", "selection accuracy", "best single verifier (labels) + 0.05", "oracle pass@N",
              "greater", "the verifiers are weak: the best one trails pass@N by more than 5 points",
              "MATH-500 70B: pass@100 well above the best verifier", kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="weaver-vs-naive",
    trial_seconds=4.0,
)
