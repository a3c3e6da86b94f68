"""Reproduction of Sigma-MoE-Tiny: the lower-layer balance-loss shortcut and progressive sparsification.

Hu et al., "Sigma-MoE-Tiny Technical Report", arXiv:2512.16248 (code
``microsoft/ltp-megatron-lm``).

Design (spec ``experts.md#sigma_moe_tiny``): a 4-layer d=64 TinyLM with 32
fine-grained GELU experts of width 16 in every layer (1/32 of expert
parameters active at top-1), gate = raw softmax probability for every k
(``normalize_topk=False``, the spec's RESOLUTION), Switch LBL 1e-2, z-loss
1e-3, trained on the four core AlgoTasks tasks. Arms share the seed (same
init and data): (A) top-1 in every layer from scratch; (B) progressive
sparsification ``[8, 2, 1, 1]`` (:func:`sigma_default_schedule`) until 50%
of the steps, then top-1 everywhere. Every ``log_every`` steps the routing of
a fixed evaluation batch is summarised per layer with
:func:`~diversa.nn.moe.load_balance_stats` (max/min relative deviation from
uniform load, CV of f and of P, LBL value, dead experts).

Checks: the shortcut in (A) layer 0 (loads f far more uneven than the mean
probabilities P, while the LBL sits near its minimum 1); upper layers more
balanced than layer 0 in (A); phase-1 layer-0 balance of (B) better than (A)
at the same step (the report's Fig. 2a contrast); final accuracy of (B) not
worse than (A) by more than 2 points (non-inferiority).

Quick-mode budget (a deviation from the spec's 800 steps of batch 64, needed
for five trials in two minutes on two cores): 300 steps of batch 32, a
128-sequence evaluation batch, 64 test prompts per task. Full mode: 1200
steps of batch 64, 512 evaluation sequences, 256 test prompts per task, and
as diagnostics the arms (C) top-1 + Top-1 LBL (tau 0.1), (D) top-1 +
global-batch LBL over 4 micro-batches, and (E) loss-free bias balancing
(sigmoid scores, u = 1e-3, no auxiliary loss; the report's documented failure).
"""

from __future__ import annotations

import numpy as np
import torch

from diversa.datasets.algotasks import AlgoTasks, make_test_set, make_validation_set
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig
from diversa.nn.moe import load_balance_stats
from diversa.nn.moe.schedules import (
    LossFreeBias,
    ProgressiveSparsification,
    active_expert_params,
    sigma_default_schedule,
)
from diversa.nn.training import evaluate_lm, train_lm
from diversa.reproduce.registry import Check, Reproduction, TrialResult

QUICK = {"steps": 300, "batch_size": 32, "n_eval": 32, "n_test": 64, "log_every": 50}
FULL = {"steps": 1200, "batch_size": 64, "n_eval": 128, "n_test": 256, "log_every": 100}
N_LAYERS, NUM_EXPERTS, D_EXPERT = 4, 32, 16
MARGIN = 0.02
STAT_KEYS = ("max_rel_dev", "min_rel_dev", "cv_f", "cv_p", "lbl", "n_dead")


def sigma_model(seed: int, topk_per_layer, lb_type: str = "switch") -> TinyLM:
    """The 4 x 32-expert top-1 target model (same init for every arm of a seed)."""
    torch.manual_seed(seed)
    moe = MoEConfig(num_experts=NUM_EXPERTS, top_k=1, d_expert=D_EXPERT, normalize_topk=False,
                    topk_per_layer=tuple(topk_per_layer), lb_type=lb_type)
    return TinyLM(TinyLMConfig(n_layers=N_LAYERS, moe=moe))


class BalanceLog:
    """Callback recording per-layer balance statistics of a fixed batch every ``every`` steps."""

    def __init__(self, batch, every: int):
        self.batch, self.every = batch, every
        self.records: dict[int, list[dict]] = {}

    @torch.no_grad()
    def measure(self, model) -> list[dict]:
        was_training = model.training
        model.eval()
        out = model(self.batch.input_ids)
        model.train(was_training)
        mask = (self.batch.input_ids != AlgoTasks.PAD).reshape(-1)
        stats = []
        for router in out.routers:
            s = load_balance_stats(router.topk_idx, NUM_EXPERTS, router.probs, mask)
            stats.append({k: s[k] for k in STAT_KEYS})
        return stats

    def __call__(self, step, model, batch=None, out=None) -> None:
        if step % self.every == 0 and step > 0:
            self.records[step] = self.measure(model)


def train_arm(seed: int, budget: dict, topk_initial, switch: bool, eval_batch, lb_type: str = "switch",
              micro_batches: int = 1, loss_free: LossFreeBias | None = None):
    """Train one arm; returns (model, balance log keyed by step)."""
    model = sigma_model(seed, topk_initial, lb_type)
    log = BalanceLog(eval_batch, budget["log_every"])
    callbacks = [log]
    if switch:
        callbacks.insert(0, ProgressiveSparsification(topk_initial, 1, 0.5, total_steps=budget["steps"]))
    if loss_free is not None:
        callbacks.insert(0, loss_free)
    train_lm(model, AlgoTasks(seed=seed), budget["steps"], batch_size=budget["batch_size"], callbacks=callbacks,
             seed=seed, micro_batches=micro_batches, lb_coef=0.0 if loss_free is not None else None)
    log.records[budget["steps"]] = log.measure(model)
    return model, log.records


def _layer(records, step, layer, key):
    return float(records[step][layer][key])


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One seed: arms A (top-1) and B (progressive), paired by init and data."""
    budget = QUICK if quick else FULL
    eval_batch = make_validation_set(n_per_task=budget["n_eval"], seed=seed)
    test = make_test_set(n_per_task=budget["n_test"], seed=seed)
    schedule = sigma_default_schedule(N_LAYERS, NUM_EXPERTS)
    model_a, log_a = train_arm(seed, budget, [1] * N_LAYERS, False, eval_batch)
    acc_a = evaluate_lm(model_a, test)
    model_b, log_b = train_arm(seed, budget, schedule, True, eval_batch)
    acc_b = evaluate_lm(model_b, test)
    final = budget["steps"]
    switch = ProgressiveSparsification(schedule, 1, 0.5, total_steps=final).switch_step()
    phase1 = max(s for s in log_a if s < switch)  # last logged step of phase 1 (same step in both arms)
    shortcut = {k: _layer(log_a, final, 0, k) for k in STAT_KEYS}
    upper = float(np.mean([_layer(log_a, final, layer, "max_rel_dev") for layer in range(1, N_LAYERS)]))
    diagnostics = {
        "schedule": schedule, "switch_step": switch, "phase1_step": phase1,
        "acc_top1": acc_a["exact_match_tf"], "acc_progressive": acc_b["exact_match_tf"],
        "per_task_top1": acc_a["per_task"], "per_task_progressive": acc_b["per_task"],
        "ce_top1": acc_a["ce"], "ce_progressive": acc_b["ce"],
        "layer0_final_top1": shortcut, "upper_layers_max_rel_dev_top1": upper,
        "phase1_layer0_max_rel_dev": {"top1": _layer(log_a, phase1, 0, "max_rel_dev"),
                                      "progressive": _layer(log_b, phase1, 0, "max_rel_dev")},
        "active_expert_params_final": {"top1": active_expert_params(model_a),
                                       "progressive": active_expert_params(model_b)},
        "balance_log_top1": {str(s): r for s, r in log_a.items()},
        "balance_log_progressive": {str(s): r for s, r in log_b.items()},
    }
    if not quick:
        model_c, log_c = train_arm(seed, budget, [1] * N_LAYERS, False, eval_batch, lb_type="top1")
        diagnostics["top1_lbl"] = {"acc": evaluate_lm(model_c, test)["exact_match_tf"],
                                   "layer0_final": log_c[final][0]}
        model_d, log_d = train_arm(seed, budget, [1] * N_LAYERS, False, eval_batch, lb_type="global_batch",
                                   micro_batches=4)
        diagnostics["global_batch_lbl"] = {"acc": evaluate_lm(model_d, test)["exact_match_tf"],
                                           "layer0_final": log_d[final][0]}
        balancer = LossFreeBias(update_rate=1e-3)
        model_e, log_e = train_arm(seed, budget, [1] * N_LAYERS, False, eval_batch, loss_free=balancer)
        diagnostics["loss_free"] = {"acc": evaluate_lm(model_e, test)["exact_match_tf"],
                                    "layer0_final": log_e[final][0],
                                    "layer0_bias_spread": [h[0] for h in balancer.history[:: budget["log_every"]]]}
    return TrialResult(
        pairs={
            "shortcut": (2.0 * shortcut["cv_p"], shortcut["cv_f"]),
            "lower-layer-imbalance": (upper, shortcut["max_rel_dev"]),
            "phase1-balance": (_layer(log_a, phase1, 0, "max_rel_dev"), _layer(log_b, phase1, 0, "max_rel_dev")),
            "accuracy": (acc_a["exact_match_tf"] - MARGIN, acc_b["exact_match_tf"]),
        },
        diagnostics=diagnostics,
    )


REPRODUCTION = Reproduction(
    id="sigma-moe-tiny",
    title="Sigma-MoE-Tiny Technical Report",
    arxiv="2512.16248",
    claim=("At top-1 with fine-grained experts the load-balancing loss is satisfied in the lower layers by "
           "flattening the mean gate probabilities while token loads stay uneven; activating more experts in the "
           "lower layers early (progressive sparsification) keeps them balanced, at nearly the same final "
           "performance after switching to top-1."),
    paper_result=("Layer 0 at top-1 from scratch: busiest expert +150..300% over uniform load, idlest ~-90%, with "
                  "LBL 1.01 (near-uniform P); with 8 active experts about +30%/-20%. Converting to the target "
                  "sparsity (0.65B -> 0.50B active) costs 0.16 average points after 200B tokens."),
    setup=("TinyLM 4 layers, d=64, 32 GELU experts of width 16 per layer, raw-probability gates, Switch LBL 1e-2, "
           "z-loss 1e-3, AlgoTasks core tasks; quick 300 steps x 32 (full 1200 x 64); (A) top-1 everywhere vs (B) "
           "k=[8,2,1,1] then top-1 at 50% of the steps; a trial = a seed."),
    checks=(
        Check("shortcut", "layer-0 CV of expert loads f", "2 x CV of mean probabilities P (top-1)", "CV of f (top-1)",
              "greater", "the LBL shortcut: in layer 0 loads are far more uneven than the mean probabilities",
              "layer 0: LBL 1.01 with uneven f and near-uniform P", kind="mechanism"),
        Check("lower-layer-imbalance", "max relative load deviation (top-1)", "upper layers (mean)", "layer 0",
              "greater", "the lowest layer is the least balanced", "lower layers hard to balance (Fig. 2)"),
        Check("phase1-balance", "layer-0 max relative load deviation, phase 1", "top-1 from scratch",
              "progressive [8,2,1,1]", "less", "more active experts in the lowest layer keep it balanced",
              "+150..300% (top-1) vs about +30% (8 experts)", kind="mechanism"),
        Check("accuracy", "macro exact match after training", "top-1 - 2 pt margin", "progressive -> top-1",
              "greater", "non-inferiority: performance nearly preserved after switching to top-1",
              "-0.16 average points after 200B tokens (Table 3)"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="accuracy",
    trial_seconds=26.0,
)
