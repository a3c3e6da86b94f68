"""Reproduction of SCMoE: contrasting strong (top-2) and weak (rank-k) activation improves decoding.

Shi et al., "Unchosen Experts Can Contribute Too: Unleashing MoE Models' Power
by Self-Contrast", NeurIPS 2024, arXiv:2405.14507.

Design (spec ``experts.md#scmoe``): the base top-2 MoE TinyLM (2 layers, 8
GELU experts, :func:`~diversa.reproduce.testbeds.moe_lm.base_moe`, pre-trained
300 steps on ``copy``, ``reverse`` and ``sort``, cached; the same checkpoint
AdaMoE fine-tunes). On the SAME model and the SAME prompts: (G) greedy with
top-2 routing; (S2) SCMoE with weak activation rank 2, alpha 0.1, beta tuned
on validation prompts over the paper's grid {0.1, 0.3, 0.5, 0.7, 0.9}; in full
mode (S3) weak rank 3 (the README's indexing) as a diagnostic. Metrics: macro exact
match of generation, KL(top-2 || rank-k) of next-token distributions on answer
positions, and the plausibility constraint of the emitted tokens. Per unit a
McNemar test on the paired per-prompt correctness of S2 vs G is reported as a
diagnostic. Full mode adds S3, ensemble routing top-3/top-4, dynamic top-p
0.6, weak-alone rank 2, a random-expert weak pass and the accuracy-vs-k and
KL-vs-rank curves.

Checks: ``accuracy`` (headline) S2 against G; ``divergence`` (secondary
claim) KL(top-2 || rank-2) above 0.05 nats; mechanisms: the plausibility
constraint holds (0 violations by construction, against the same contrast
without it) and lower-ranked experts diverge more from top-2 (the least
likely expert against rank 2); regimes: greedy decoding is well above floor
(0.3) on every task and below ceiling (0.95 macro), so there are errors a
decoding rule can fix and a model strong enough to fix them.

Previous design (replaced after review): the base was pre-trained 400 steps on
the four core tasks and was too weak to test a decoding method that helps
strong models (greedy exact match: modadd 0.00, copy 0.54); beta was chosen
on 32 validation prompts per task. The base now leaves out ``modadd``, which
this MoE does not learn within a CPU budget (see
:mod:`~diversa.reproduce.testbeds.moe_lm`; 300 steps were chosen on greedy
accuracy alone, on calibration seeds, between a base near floor and one near
ceiling), and beta is chosen on 128 validation prompts per task (256 in full
mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diversa.datasets.algotasks import make_test_set, make_validation_set
from diversa.evaluate.proportions import mcnemar
from diversa.infer.self_contrast import SCMoEDecoder, plausibility_violations, routing_divergence
from diversa.nn.moe import RoutingOverride
from diversa.nn.training import exact_match_gen, greedy_generate
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.moe_lm import BASE_TASKS, base_moe


@dataclass(frozen=True)
class Size:
    """Budget of one unit: base pre-training steps, test and validation prompts per task."""

    base_steps: int
    n_test: int
    n_val: int


QUICK = Size(base_steps=300, n_test=256, n_val=128)
FULL = Size(base_steps=300, n_test=512, n_val=256)
TASKS = BASE_TASKS
ALPHA = 0.1
UNCONSTRAINED_ALPHA = 1e-6  # contrast without the plausibility set (ablation of alpha) ...
UNCONSTRAINED_BETA = 0.9  # ... at the grid's strongest contrast
NUM_EXPERTS = 8
FLOOR, CEILING = 0.3, 0.95


def _gen_accuracy(model, prompts, override=None):
    return exact_match_gen(greedy_generate(model, prompts, routing_override=override), prompts)


def _mcnemar(greedy_correct, scmoe_correct) -> dict:
    both = np.stack([greedy_correct, scmoe_correct], axis=1)
    table = np.array([[np.sum(both[:, 0] & both[:, 1]), np.sum(both[:, 0] & ~both[:, 1])],
                      [np.sum(~both[:, 0] & both[:, 1]), np.sum(~both[:, 0] & ~both[:, 1])]])
    discordant = int(table[0, 1] + table[1, 0])
    return {"table": table.tolist(), "p": float(mcnemar(table, exact=True).pvalue) if discordant else 1.0}


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One seed: one base model, every decoding arm on the same prompts."""
    size = QUICK if quick else FULL
    model = base_moe(seed, steps=size.base_steps, tasks=TASKS)
    test = make_test_set(TASKS, n_per_task=size.n_test, seed=seed)
    val = make_validation_set(TASKS, n_per_task=size.n_val, seed=seed)

    greedy_gen = greedy_generate(model, test)
    greedy = exact_match_gen(greedy_gen, test)
    s2 = SCMoEDecoder(model, weak=RoutingOverride.rank((2,)), alpha=ALPHA).fit(val)
    s2_gen = s2.generate(test)
    s2_acc = exact_match_gen(s2_gen, test)
    free = SCMoEDecoder(model, weak=RoutingOverride.rank((2,)), alpha=UNCONSTRAINED_ALPHA, beta=UNCONSTRAINED_BETA)
    free_gen = free.generate(test)
    violations = plausibility_violations(model, test, s2_gen, ALPHA) / sum(len(g) for g in s2_gen)
    free_violations = plausibility_violations(model, test, free_gen, ALPHA) / sum(len(g) for g in free_gen)
    kl2 = routing_divergence(model, test, RoutingOverride.topk(2), RoutingOverride.rank((2,)))
    kl_last = routing_divergence(model, test, RoutingOverride.topk(2), RoutingOverride.rank((NUM_EXPERTS,)))

    diagnostics = {
        "tasks": list(TASKS), "greedy": greedy["exact_match_gen"], "scmoe_rank2": s2_acc["exact_match_gen"],
        "beta_rank2": s2.beta_,
        "val_scores_rank2": {str(k): v for k, v in s2.val_scores_.items()},
        "per_task_greedy": greedy["per_task"], "per_task_scmoe": s2_acc["per_task"],
        "plausibility_violation_rate": violations, "unconstrained_violation_rate": free_violations,
        "kl_top2_rank2": kl2["mean"], "kl_top2_rank_last": kl_last["mean"], "kl_per_task": kl2["per_task"],
        "mcnemar": _mcnemar(greedy["correct"], s2_acc["correct"]),
    }
    if not quick:
        diagnostics.update(_full_mode_arms(model, test, val, seed))
    return TrialResult(
        pairs={
            "accuracy": (greedy["exact_match_gen"], s2_acc["exact_match_gen"]),
            "divergence": (0.05, kl2["mean"]),
            "plausibility": (free_violations, violations),
            "divergence-rank": (kl2["mean"], kl_last["mean"]),
            "greedy-off-floor": (FLOOR, min(greedy["per_task"].values())),
            "greedy-off-ceiling": (CEILING, greedy["exact_match_gen"]),
        },
        diagnostics=diagnostics,
    )


def _full_mode_arms(model, test, val, seed: int) -> dict:
    s3 = SCMoEDecoder(model, weak=RoutingOverride.rank((3,)), alpha=ALPHA).fit(val)
    out = {"scmoe_rank3": s3.score(test), "beta_rank3": s3.beta_}
    out |= {name: _gen_accuracy(model, test, override)["exact_match_gen"] for name, override in
           {"top3": RoutingOverride.topk(3), "top4": RoutingOverride.topk(4),
            "dynamic_top_p0.6": RoutingOverride.top_p(0.6), "weak_rank2_alone": RoutingOverride.rank((2,))}.items()}
    out["scmoe_random_weak"] = SCMoEDecoder(model, weak=RoutingOverride.random(1, seed=seed),
                                            alpha=ALPHA).fit(val).score(test)
    out["accuracy_vs_k"] = {k: _gen_accuracy(model, test, RoutingOverride.topk(k))["exact_match_gen"]
                            for k in range(1, NUM_EXPERTS + 1)}
    out["kl_vs_rank"] = {k: routing_divergence(model, test, RoutingOverride.topk(2),
                                               RoutingOverride.rank((k,)))["mean"] for k in range(1, NUM_EXPERTS + 1)}
    return out


REPRODUCTION = Reproduction(
    id="scmoe",
    title="Unchosen Experts Can Contribute Too: Unleashing MoE Models' Power by Self-Contrast",
    arxiv="2405.14507",
    claim=("Contrasting the next-token logits of strong (top-2) and weak (rank-2 single expert) activation of "
           "the same MoE model, within the strong model's plausible tokens, decodes better than greedy top-2."),
    paper_result=("Mixtral 8x7B GSM8K 61.79 -> 66.94 (greedy -> SCMoE), major@20 75.59 -> 78.31; gains on "
                  "StrategyQA, MBPP, HumanEval; top-2 vs rank-k next-token distributions differ (large KL)."),
    setup=("Base TinyLM (2 layers, 8 GELU experts, top-2) pre-trained 300 steps on AlgoTasks copy, reverse and "
           "sort (cached); greedy generation vs SCMoE (alpha 0.1, weak rank 2, beta "
           "chosen on 128 (full 256) validation prompts per task over {0.1,...,0.9}) on 256 (full 512) test "
           "prompts per task; a unit = a seed (base model and prompts). Changed after review: the base no longer "
           "trains on modadd (not learned in budget; it kept the base near floor) and the validation split grew "
           "from 32 prompts per task."),
    checks=(
        Check("accuracy", "macro exact match (generation)", "greedy top-2", "SCMoE rank-2", "greater",
              "SCMoE decodes more answers correctly than greedy", "GSM8K 61.79 -> 66.94"),
        Check("divergence", "KL(top-2 || rank-2) on answer positions (nats)", "threshold 0.05", "tiny MoE", "greater",
              "strong and weak activation give clearly different next-token distributions",
              "large KL between top-2 and rank-k routing"),
        Check("plausibility", "emitted tokens with p_s < alpha max p_s", "contrast without V_head (beta 0.9)",
              "SCMoE (alpha 0.1)", "less", "the plausibility constraint keeps every token plausible "
              "(0 violations by construction)", "alpha = 0.1 cut-off", kind="mechanism"),
        Check("divergence-rank", "KL(top-2 || rank-k)", "rank 2", "rank 8 (least likely expert)", "greater",
              "lower-ranked experts diverge more from top-2", "KL grows with k", kind="mechanism"),
        Check("greedy-off-floor", "lowest per-task greedy exact match", f"floor {FLOOR}", "greedy top-2", "greater",
              "the base model decodes every task well above floor", kind="regime"),
        Check("greedy-off-ceiling", "macro greedy exact match", f"ceiling {CEILING}", "greedy top-2", "less",
              "the base model leaves errors for a decoding rule to fix", kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="accuracy",
    trial_seconds=8.0,
)
