"""Reproduction of AdaMoE: null experts cut expert FLOPs at (about) equal accuracy.

Zeng, Miao, Gao, Zhang, Deng, "AdaMoE: Token-Adaptive Routing with Null
Experts for Mixture-of-Experts Language Models", Findings of EMNLP 2024,
arXiv:2406.13233.

Design (spec ``experts.md#adamoe``). The pretrained MoE is the base top-2
TinyLM (2 layers, 8 GELU experts, :func:`~diversa.reproduce.testbeds.moe_lm.base_moe`,
pre-trained on ``copy``, ``reverse``, ``sort``; cached). As the paper
fine-tunes Mixtral on a downstream task (ARC-C), every arm fine-tunes that
checkpoint on the held-out task ``shift`` (x + 1 mod 10 per digit; never seen
in pre-training) with the same steps, data stream and hyper-parameters:

* (A) keep top-2, Switch balance loss 1e-2;
* (B) AdaMoE: 16 tiled null experts and k = 4 (function-preserving: |T(x)| = 2
  for every token at step 0), null-averaged balance loss 1e-3;
* (Bz) AdaMoE as (B) plus the router z-loss 1e-3 of the base's pre-training.

All parameters are fine-tuned with AdamW except the router rows (true and
null), which take plain SGD steps at the same learning rate. Null rows get
gradient only from the auxiliary losses, and Adam's step size ignores a loss's
coefficient, so under AdamW they move as fast as any weight whatever the
coefficient; SGD makes their steps scale with the (small) coefficient again.
No z-loss in (A) and (B), as in the official Mixtral fine-tuning (Mixtral has
none).

The headline compares accuracy at matched compute: the fair training-free
baseline is (A) itself under top-p routing (at most 4 experts; top-1 when
AdaMoE's count is below 1), with p chosen on validation inputs so that (A)
uses as many true experts per token as (B); (Bz) gets its own match. The
accuracy-vs-experts curve of (A) under top-1, top-p (p in 0.5..0.99) and
top-2 is reported with the AdaMoE points (diagnostics ``accuracy_vs_experts``).

Checks: ``accuracy`` (headline) B against matched top-p of A; ``accuracy-vs-top2``
(secondary) B non-inferior to A with top-2 within 2 points (the paper's own
comparison); ``accuracy-zloss`` (secondary) Bz against its matched top-p of
A; mechanisms ``flops`` (fewer than 2 true experts per token: follows from the
balance loss) and ``adaptive`` (fewer true experts on ``<eos>``-predicting
positions than on answer digits); regimes ``avg-experts`` (B's true experts
per token above the balance loss's equilibrium k n / (n + m) = 4 * 8 / 24 =
1.33, i.e. not collapsed onto it; the paper's Mixtral run reports -14.5%
FLOPs, about 1.71) and ``finetuned-off-floor``/``finetuned-off-ceiling`` for
(A)'s exact match (0.3 < A < 0.95).

Decisions made after seeing results, stated as such:

* ``Z_COEF = 0`` for (B) was chosen after a run in which the z-loss made the
  null rows drift the other way (|T(x)| rising above 2 under AdamW); the z-loss
  arm (Bz) is therefore run and tested as a secondary claim.
* Router SGD replaced AdamW for router rows after calibration runs (on seed
  1000, which no unit uses; avg true experts only, accuracy not compared)
  showed AdaMoE at 1.29-1.35 true experts per token after 120 steps with
  AdamW, whatever the router's learning rate (x1 to x0.01). The collapse is
  mostly not drift of the null rows: at conversion every true expert ties its
  null twins, so any step that lowers a true row below its twins (fine-tuning
  sharpens the routing and lowers the second expert) drops that expert.
  With router SGD AdaMoE settled at 1.28-1.51 in these runs (coefficient
  1e-4 or 1e-3, router learning rate 1e-3 to 1e-1, with or without z-loss,
  30 to 120 steps): the paper's 1.71 is not reached by these knobs at this
  scale, so the regime check asks only that AdaMoE is off the equilibrium it
  collapsed to. That check gates ``accuracy-vs-top2`` alone: equal accuracy
  at a far larger FLOPs cut than the paper's is not what the paper claims,
  whereas the matched-compute comparisons are fair at any compute level.
* The downstream task (``shift``), the fine-tuning length (60 steps) and the
  base's pre-training length (300 steps, shared with SCMoE) were chosen on
  (A)'s accuracy alone, on calibration seeds 100-103 and 1000: fine-tuning
  on ``modadd`` stayed at 0.00; on ``shift`` (A) reached 0.97-1.0 after 120
  steps, 0.22-0.86 after 60 steps from the 300-step base.

Quick mode: 60 fine-tuning steps of batch 64 (lr 1e-3, 6 warm-up steps), 256
test and 128 validation prompts. Full mode: the same fine-tuning, 512 test and
256 validation prompts, and as diagnostics the coefficient sweep {1e-4, 1e-2}
and the ``null_load="individual"`` variant.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from diversa.datasets.algotasks import AlgoTasks, make_test_set, make_validation_set
from diversa.nn.moe import RoutingOverride, add_null_experts, router_parameters, true_expert_counts
from diversa.nn.training import evaluate_lm, train_lm
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.moe_lm import base_moe


@dataclass(frozen=True)
class Size:
    """Budget of one unit: base pre-training steps, fine-tuning steps, test and validation prompts."""

    base_steps: int
    finetune_steps: int
    n_test: int
    n_val: int


QUICK = Size(base_steps=300, finetune_steps=60, n_test=256, n_val=128)
FULL = Size(base_steps=300, finetune_steps=60, n_test=512, n_val=256)
TASKS = ("shift",)
NUM_NULL, TOP_K, K0, NUM_TRUE = 16, 4, 2, 8
EQUILIBRIUM = TOP_K * NUM_TRUE / (NUM_TRUE + NUM_NULL)  # true experts per token at perfectly balanced load
COEF_BASELINE, COEF_ADAMOE = 1e-2, 1e-3
LR, BATCH = 1e-3, 64
MARGIN = 0.02  # non-inferiority margin on exact match (2 points)
FLOOR, CEILING = 0.3, 0.95
Z_COEF = 0.0  # chosen after seeing a result (module docstring); the z-loss arm uses Z_COEF_ARM
Z_COEF_ARM = 1e-3
TOP_P_CURVE = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def finetune(model, seed: int, steps: int, lb_coef: float, z_coef: float = Z_COEF) -> dict:
    """Fine-tune on the ``shift`` stream ``30_000 + seed`` (the same for every arm); router rows by SGD."""
    return train_lm(model, AlgoTasks(TASKS, seed=30_000 + seed), steps, lr=LR, batch_size=BATCH,
                    warmup=max(1, steps // 10), lb_coef=lb_coef, z_coef=z_coef, seed=seed,
                    sgd_parameters=router_parameters(model))


@torch.no_grad()
def experts_per_token(model, input_ids: torch.Tensor, override: RoutingOverride | None = None) -> float:
    """True experts a token uses (mean over layers and non-pad tokens): the expert-FLOPs measure.

    An expert counts when it is a true expert (not an AdaMoE null one) with a
    non-zero gate weight (top-p pads its rows with weight-0 repeats).
    """
    model.eval()
    routers = model(input_ids, routing_override=override).routers
    used = torch.stack([((r.topk_idx < NUM_TRUE) & (r.topk_w > 0)).sum(dim=1) for r in routers]).float()
    return float(used.mean(dim=0)[(input_ids != AlgoTasks.PAD).reshape(-1)].mean())


def matched_top_p(model, batch, target: float, max_k: int = TOP_K, iters: int = 24) -> tuple[RoutingOverride, float]:
    """The top-p routing of ``model`` whose true experts per token on ``batch`` is closest to ``target``.

    Bisection on p (the count is non-decreasing in p); a target at or below 1
    gets top-1 (the least a top-p rule can use). Returns the override and
    its count on ``batch``.
    """
    def count(p):
        return experts_per_token(model, batch.input_ids, RoutingOverride.top_p(p, max_k=max_k))

    lo, hi = 1e-6, 1.0  # p -> 0 keeps one expert per token (top-1)
    tried = {lo: count(lo), hi: count(hi)}
    if tried[lo] < target < tried[hi]:
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            tried[mid] = count(mid)
            lo, hi = (mid, hi) if tried[mid] < target else (lo, mid)
    p = min(tried, key=lambda q: (abs(tried[q] - target), q))
    return RoutingOverride.top_p(p, max_k=max_k), tried[p]


def position_types(batch) -> dict[str, torch.Tensor]:
    """Boolean [B, L] masks: prompt positions, answer-digit-predicting positions, ``<eos>``-predicting ones."""
    length = batch.input_ids.shape[1]
    cols = torch.arange(length)[None, :]
    eos_pos = (batch.prompt_len + batch.answer_len - 2)[:, None]
    non_pad = batch.input_ids != AlgoTasks.PAD
    return {"prompt": (cols < batch.prompt_len[:, None] - 1) & non_pad,
            "answer": batch.loss_mask & (cols != eos_pos),
            "eos": cols == eos_pos}


def adaptivity(model, batch) -> dict:
    """|T(x)| (mean over layers) summarised over tokens and by position type."""
    counts = true_expert_counts(model, batch.input_ids).float()  # [layers, B, L]
    per_token = counts.mean(dim=0)
    non_pad = batch.input_ids != AlgoTasks.PAD
    out = {
        "avg_true": float(per_token[non_pad].mean()),
        "avg_true_per_layer": [float(c[non_pad].mean()) for c in counts],
        "std_true": float(counts.permute(1, 2, 0)[non_pad].std()),
        "hist_true": np.bincount(counts.permute(1, 2, 0)[non_pad].long().reshape(-1).numpy(),
                                 minlength=TOP_K + 1).tolist(),
    }
    out.update({f"{name}_positions": float(per_token[mask].mean()) for name, mask in position_types(batch).items()})
    return out


def adamoe_arm(base, seed: int, steps: int, coef: float, z_coef: float = Z_COEF, null_load: str = "average"):
    model = add_null_experts(copy.deepcopy(base), num_null=NUM_NULL, top_k=TOP_K, init="tile", null_load=null_load)
    finetune(model, seed, steps, coef, z_coef)
    return model


def _exact_match(model, test, override=None) -> float:
    return evaluate_lm(model, test, routing_override=override)["exact_match_tf"]


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One seed: base checkpoint, three fine-tuned arms from it, top-p baselines matched in compute."""
    size = QUICK if quick else FULL
    base = base_moe(seed, steps=size.base_steps)
    test = make_test_set(TASKS, n_per_task=size.n_test, seed=seed)
    val = make_validation_set(TASKS, n_per_task=size.n_val, seed=seed)

    top2 = copy.deepcopy(base)
    finetune(top2, seed, size.finetune_steps, COEF_BASELINE)
    ada = adamoe_arm(base, seed, size.finetune_steps, COEF_ADAMOE)
    ada_z = adamoe_arm(base, seed, size.finetune_steps, COEF_ADAMOE, z_coef=Z_COEF_ARM)

    acc = {"top2": _exact_match(top2, test), "adamoe": _exact_match(ada, test), "adamoe_z": _exact_match(ada_z, test)}
    experts = {"top2": experts_per_token(top2, test.input_ids, RoutingOverride.topk(K0)),
               "adamoe": experts_per_token(ada, test.input_ids), "adamoe_z": experts_per_token(ada_z, test.input_ids)}
    matched = {}
    for arm, model in (("adamoe", ada), ("adamoe_z", ada_z)):
        override, val_count = matched_top_p(top2, val, experts_per_token(model, val.input_ids))
        matched[arm] = {"p": override.p, "experts_val": val_count,
                        "experts_test": experts_per_token(top2, test.input_ids, override),
                        "exact_match": _exact_match(top2, test, override)}
    routings = ([("top-1", RoutingOverride.topk(1))]
                + [(f"top-p {p}", RoutingOverride.top_p(p, max_k=TOP_K)) for p in TOP_P_CURVE]
                + [("top-2", RoutingOverride.topk(K0))])
    curve = [{"routing": name, "experts": experts_per_token(top2, test.input_ids, override),
              "exact_match": _exact_match(top2, test, override)} for name, override in routings]
    stats = adaptivity(ada, test)
    diagnostics = {
        "base_exact_match": _exact_match(base, test), "exact_match": acc, "experts_per_token": experts,
        "matched_top_p": matched, "flops_reduction": {arm: 1.0 - experts[arm] / K0 for arm in ("adamoe", "adamoe_z")},
        "accuracy_vs_experts": {"top2_finetuned": curve,
                                "adamoe": {"experts": experts["adamoe"], "exact_match": acc["adamoe"]},
                                "adamoe_z": {"experts": experts["adamoe_z"], "exact_match": acc["adamoe_z"]}},
        "adamoe_adaptivity": stats, "adamoe_z_adaptivity": adaptivity(ada_z, test),
    }
    if not quick:
        diagnostics.update(_full_mode_arms(base, seed, size, test))
    return TrialResult(
        pairs={
            "accuracy": (matched["adamoe"]["exact_match"], acc["adamoe"]),
            "accuracy-vs-top2": (acc["top2"], acc["adamoe"]),
            "accuracy-zloss": (matched["adamoe_z"]["exact_match"], acc["adamoe_z"]),
            "flops": (float(K0), experts["adamoe"]),
            "adaptive": (stats["answer_positions"], stats["eos_positions"]),
            "avg-experts": (EQUILIBRIUM, experts["adamoe"]),
            "finetuned-off-floor": (FLOOR, acc["top2"]),
            "finetuned-off-ceiling": (CEILING, acc["top2"]),
        },
        diagnostics=diagnostics,
    )


def _full_mode_arms(base, seed: int, size: Size, test) -> dict:
    out = {}
    for coef in (1e-4, 1e-2):
        model = adamoe_arm(base, seed, size.finetune_steps, coef)
        out[f"coef_{coef:g}"] = {"exact_match": _exact_match(model, test),
                                 "experts": experts_per_token(model, test.input_ids)}
    model = adamoe_arm(base, seed, size.finetune_steps, COEF_ADAMOE, null_load="individual")
    out["individual_null_load"] = {"exact_match": _exact_match(model, test),
                                   "experts": experts_per_token(model, test.input_ids)}
    return out


REPRODUCTION = Reproduction(
    id="adamoe",
    title="AdaMoE: Token-Adaptive Routing with Null Experts for Mixture-of-Experts Language Models",
    arxiv="2406.13233",
    claim=("Adding null experts (zero output, zero FLOPs) and raising k lets each token use a variable number "
           "of true experts: fewer expert FLOPs at equal or better accuracy after fine-tuning, i.e. better "
           "accuracy than the fine-tuned top-k model at the same compute."),
    paper_result=("Mixtral-8x7B fine-tuned on ARC-C: expert FLOPs -14.5% (about 1.71 true experts per token) with "
                  "accuracy +1.69 points over top-2 fine-tuning; FLOP reductions at equal or better accuracy on "
                  "several benchmarks."),
    setup=("Base TinyLM (2 layers, d=64, 8 GELU experts, top-2) pre-trained 300 steps on copy/reverse/sort "
           "(cached), fine-tuned 60 steps (batch 64, lr 1e-3, router rows by SGD) on the held-out task shift as "
           "(A) top-2 + Switch LBL 1e-2, (B) AdaMoE: 16 tiled null experts, k=4, null-averaged LBL 1e-3, "
           "no z-loss (chosen after seeing a result), (Bz) = B + z-loss 1e-3. Headline: B against (A) under "
           "top-p routing with p chosen on validation inputs to match B's true experts per token; teacher-forced "
           "exact match on 256 (full 512) test prompts; a unit = a seed (base, data, fine-tuning). Changed after "
           "review: matched-compute baseline, router SGD (AdamW collapsed AdaMoE to the balanced 1.33), "
           "z-loss arm, downstream task instead of the pre-training tasks (those left A at ceiling)."),
    checks=(
        Check("accuracy", "exact match at matched expert FLOPs", "top-2 fine-tuned, top-p matched to AdaMoE",
              "AdaMoE", "greater", "AdaMoE beats training-free top-p routing of the fine-tuned top-2 model at "
              "the same true experts per token", "+1.69 points at -14.5% FLOPs vs top-2 (ARC-C); no "
              "matched-compute baseline in the paper"),
        Check("accuracy-vs-top2", "exact match", "top-2 fine-tuned", "AdaMoE", "greater",
              "non-inferiority: AdaMoE, with fewer FLOPs, stays within 2 points of top-2 fine-tuning",
              "accuracy +1.69 points (ARC-C)", margin=MARGIN),
        Check("accuracy-zloss", "exact match at matched expert FLOPs", "top-2 fine-tuned, top-p matched",
              "AdaMoE + z-loss 1e-3", "greater", "the headline holds when AdaMoE also keeps the router z-loss",
              "Mixtral has no z-loss"),
        Check("flops", "true experts per token (expert FLOPs)", "top-2 (k0=2)", "AdaMoE", "less",
              "AdaMoE uses fewer true experts per token than top-2 (the balance loss pushes toward 1.33)",
              "expert FLOPs -14.5% (ARC-C)", kind="mechanism"),
        Check("adaptive", "mean |T(x)|", "answer-digit positions", "<eos>-predicting positions", "less",
              "tokens differ in their number of true experts; easy (<eos>) positions get fewer",
              "qualitative: token-adaptive number of experts", kind="mechanism"),
        Check("avg-experts", "AdaMoE true experts per token", "balanced equilibrium 4*8/24 = 1.33", "AdaMoE",
              "greater", "AdaMoE is not collapsed onto the balance loss's equilibrium, as the paper's run is not",
              "about 1.71 (-14.5% FLOPs, Mixtral on ARC-C)", kind="regime", applies_to=("accuracy-vs-top2",)),
        Check("finetuned-off-floor", "exact match of (A)", f"floor {FLOOR}", "top-2 fine-tuned", "greater",
              "the fine-tuned baseline is well above floor", kind="regime"),
        Check("finetuned-off-ceiling", "exact match of (A)", f"ceiling {CEILING}", "top-2 fine-tuned", "less",
              "the fine-tuned baseline leaves room for a better method", kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="accuracy",
    trial_seconds=12.0,
)
