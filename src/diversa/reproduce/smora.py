"""Reproduction of SMoRA: single-rank experts beat MoE-LoRA at the same total and active rank.

Zhao, Zhou, Yang, Wang, Liu, Fu, Zhao, Zhang, Qian, "Each Rank Could be an
Expert: Single-Ranked Mixture of Experts LoRA for Multi-Task Learning",
KDD 2026, arXiv:2501.15103 (spec ``experts.md`` section ``smora``; official
code ``StyxXuan/smora``, layer ``SRMoLE``).

Testbed: the dense TinyLM "foundation model" of
:func:`~diversa.reproduce.testbeds.moe_lm.base_dense` (2 layers, d=64, 400
steps on the four core AlgoTasks tasks: partially competent, ``modadd`` near
zero), frozen. Every arm adds adapters to q, k, v, o, fc1 and fc2 of both
layers (the paper adapts all linear layers) and trains them on the same
heterogeneous four-task mix (copy/reverse/sort/modadd; stream ``40_000 + seed``,
identical batches for every arm) with AdamW lr 3e-3, 10% linear warm-up then
cosine (the paper's warm-up ratio), clip 1.0, for the same number of steps of
the same batch size. Metric: macro teacher-forced exact match over the four
tasks on 256 test prompts per task (test stream ``10_000 + seed``).

Arms (total rank 16 and active rank 4 wherever the structure allows; every
update at scale 2 = alpha/r for LoRA, alpha/k for SMoRA):

* (a) LoRA r = 4 (active 4);
* (b) LoRA r = 16 (active 16: the adapter parameters of (c)-(e) without routing);
* (c) MoE-LoRA: 4 experts x r4, softmax router, top-1 with the raw top
  probability as the gate (Switch; spec 0.3: for k = 1 the top probability is
  kept, otherwise the router gets no gradient from the LM loss), Switch
  load-balance loss 1e-2 per adapted layer over non-pad tokens
  (:class:`SwitchLoRALinear`; total 16, active 4);
* (d) SMoRA r = 16, k = 4, rank partition P = 1, bias update rate u = 1e-3
  (the spec's default for short runs: the official 1e-5 moves the bias by at
  most 0.001 in 90 steps);
* (e) SMoRA r = 16, k = 4, P = 4 (blocks of 4 ranks: (c)'s expert structure
  with SMoRA's sigmoid routing and bias balancing; isolates the granularity);
* full mode adds, as diagnostics, (d) with u = 0 (bias off) and with the
  official u = 1e-5 (the faithful variant), and (c) with gate 1 for the chosen
  expert (the router then learns from the balance loss only): the Switch gate
  starts near 1/4, so (c)'s update starts smaller than the other arms'.

Trainable parameters per unit: (a) 9,216; (b) 36,864; (c) and (e) 41,472;
(d) 55,296. (b)-(e) hold the same 16 ranks; SMoRA's router has one row per
rank (16 x d_in) where (c) and (e) have one per block (4 x d_in). The paper
matches total and activated rank, not router size, and so does this design.

Claims: headline (d) > (c) (the paper: finer-grained partitioning beats
MoE-LoRA within the same total and activated parameter constraints);
secondary (d) > (a) (same active rank), (d) > (e) (finer beats coarser with the
same router family) and (d) > (b) (the abstract: fewer activated parameters yet
better than the dense LoRA of the same total rank). Regime: the frozen base is
off floor (macro exact match > 0.2) and off ceiling (< 0.9), adapting helps at
this budget ((a) above the base) and the headline's baseline (c) leaves room
(< 0.95). Mechanisms (on 64 test prompts per task): the balancing bias lowers
the rank-usage coefficient of variation of the trained SMoRA compared with the
same model with its bias set to zero (the spec compares with a u = 0 run,
which only full mode affords; it is reported there); per-task rank profiles
(the 4 most used ranks of each task, per layer) are neither identical (mean
pairwise Jaccard < 0.9) nor disjoint (> 0.1).

Budget (quick and full): 90 steps of batch 32. Shrunk from the spec's batch 64
to fit the quick budget (five arms per unit); the step count follows the
spec's rule, calibrated once on seed 1000 (not a unit) on arm (a) alone: the
cheapest of batch {32, 64} x steps {30, 45, 60, 90, 120, 180} at which (a)
lands in [0.60, 0.90] macro exact match. (a) on seed 1000: base 0.565; batch 64:
0.590/0.593/0.593/0.604/0.616/0.628; batch 32 (60-180 steps):
0.588/0.602/0.612/0.609; ``modadd`` stayed at 0.00 throughout.

Design fixed from the paper and the spec before any result was seen.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch
import torch.nn.functional as F

from diversa.datasets.algotasks import AlgoTasks, make_test_set
from diversa.nn.lora import (
    LoRAMixerLinear,
    MixerRouting,
    SMoRALinear,
    apply_adapter,
    apply_lora,
    apply_smora,
    forward_kwargs,
    record_routing,
)
from diversa.nn.moe.losses import switch_load_balancing_loss
from diversa.nn.training import count_trainable, evaluate_lm, lm_loss, lr_at, trim_padding
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.moe_lm import base_dense

TASKS = AlgoTasks.CORE_TASKS
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2")
#: total rank, active rank, experts of the MoE-LoRA baseline
R_TOTAL, K_ACTIVE, N_EXPERTS = 16, 4, 4
#: every adapter's update scale (alpha / r for LoRA, alpha / k for SMoRA)
SCALE = 2.0
LR, BATCH, WARMUP_RATIO = 3e-3, 32, 0.1
LB_COEF = 1e-2  # Switch load-balance coefficient of the MoE-LoRA baseline (spec 0.3 default)
U_CLAIM, U_FAITHFUL = 1e-3, 1e-5
STREAM_OFFSET = 40_000
#: regime bounds (macro exact match)
BASE_FLOOR, BASE_CEILING, BASELINE_CEILING = 0.2, 0.9, 0.95
#: test prompts per task on which rank usage is measured
N_USAGE = 64
#: the per-task rank profile: this many most used ranks per task and layer; Jaccard bounds
PROFILE_TOP, JACCARD_LOW, JACCARD_HIGH = K_ACTIVE, 0.1, 0.9
CALIBRATION_SEED = 1000


@dataclass(frozen=True)
class Size:
    """Budget of one unit: adapter training steps, test prompts per task, and the extra SMoRA arms run."""

    steps: int
    n_test: int
    extra_arms: tuple[str, ...] = ()


#: calibrated once on seed 1000 with arm (a) only (module docstring)
STEPS = 90
QUICK = Size(steps=STEPS, n_test=256)
FULL = Size(steps=STEPS, n_test=512, extra_arms=("smora_u0", "smora_u1e-5", "moe_lora_unit_gate"))


class SwitchLoRALinear(LoRAMixerLinear):
    """MoE-LoRA baseline: E LoRA experts, softmax router, top-1 gated by the raw top probability (Switch).

    ``y = W x + p_e(x) * s * B_e A_e x`` with ``e = argmax p(x)``, ``p =
    softmax(W_g x)``. Unlike :class:`LoRAMixerLinear`'s sparse mode (which
    renormalises the kept probabilities, giving weight 1 to a single expert
    and no LM-loss gradient to the router), the top-1 probability is kept,
    as in the Switch Transformer. The Switch balance loss is computed from the
    returned routing (``probs``) by the training loop. Experts, scales and
    router initialisation are :class:`LoRAMixerLinear`'s.
    """

    def __init__(self, *args, unit_gate: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_gate = bool(unit_gate)

    def routing(self, x: torch.Tensor, expert_weights: torch.Tensor | None = None) -> MixerRouting:
        """Top-1 routing: the chosen expert's weight is its probability (1 with ``unit_gate``)."""
        if expert_weights is not None:
            return super().routing(x, expert_weights)
        logits = self.router(x)
        probs = logits.softmax(dim=-1)
        top = torch.sort(probs, dim=-1, descending=True, stable=True).indices[..., :1]
        values = torch.ones_like(probs[..., :1]) if self.unit_gate else probs.gather(-1, top)
        weights = torch.zeros_like(probs).scatter(-1, top, values)
        return MixerRouting(logits, probs, weights)

    def forward(self, x: torch.Tensor, expert_weights: torch.Tensor | None = None, return_routing: bool = False):
        """As :meth:`LoRAMixerLinear.forward`, computed as one block-gated LoRA ``B diag(G) A x`` (fewer calls)."""
        routing = self.routing(x, expert_weights)
        xd = self.lora_dropout(x)
        A = torch.cat([a.weight for a in self.lora_A])                               # [sum r_e, in]
        B = torch.cat([b.weight * s for b, s in zip(self.lora_B, self.scalings, strict=True)], dim=1)
        gates = routing.weights.repeat_interleave(torch.tensor(self.ranks, device=x.device), dim=-1)
        out = self.base_layer(x) + F.linear(gates * F.linear(xd, A), B)
        return (out, routing) if return_routing else out


def apply_switch_lora(model, target_modules=TARGETS, num_experts: int = N_EXPERTS, r: int = K_ACTIVE,
                      unit_gate: bool = False):
    """Replace the targeted linears by :class:`SwitchLoRALinear` (scale ``SCALE`` per expert), in place."""
    return apply_adapter(model, target_modules, lambda name, base: SwitchLoRALinear(
        base, num_experts, r=r, alpha=SCALE * r, top_k=1, mode="sparse", unit_gate=unit_gate))


def build_arm(base, arm: str):
    """A copy of the frozen ``base`` with arm ``arm``'s adapters."""
    model = copy.deepcopy(base)
    if arm == "lora_r4":
        return apply_lora(model, TARGETS, r=K_ACTIVE, alpha=SCALE * K_ACTIVE)
    if arm == "lora_r16":
        return apply_lora(model, TARGETS, r=R_TOTAL, alpha=SCALE * R_TOTAL)
    if arm == "moe_lora":
        return apply_switch_lora(model)
    if arm == "moe_lora_unit_gate":
        return apply_switch_lora(model, unit_gate=True)
    smora = {"smora": (1, U_CLAIM), "smora_block": (R_TOTAL // N_EXPERTS, U_CLAIM), "smora_u0": (1, 0.0),
             "smora_u1e-5": (1, U_FAITHFUL)}
    if arm not in smora:
        raise ValueError(f"unknown arm {arm!r}.")
    partition, rate = smora[arm]
    return apply_smora(model, TARGETS, r=R_TOTAL, k=K_ACTIVE, alpha=SCALE * K_ACTIVE, rank_partition=partition,
                       bias_update_rate=rate)


def _has(model, layer_type) -> bool:
    return any(isinstance(m, layer_type) for m in model.modules())


def train_adapters(model, seed: int, steps: int) -> dict:
    """Train the adapters of ``model`` on the four-task stream ``40_000 + seed``; returns the loss history.

    The same loop, batches, optimiser and schedule for every arm: AdamW (betas
    0.9/0.98, weight decay 0.01), linear warm-up over 10% of the steps, cosine
    to 0.1 lr, gradient clip 1.0. SMoRA layers get the non-pad token mask (the
    bias update counts real tokens only); MoE-LoRA layers add ``LB_COEF``
    times the Switch balance loss of every adapted layer.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.98), weight_decay=0.01, fused=True)
    batches = AlgoTasks(TASKS, seed=STREAM_OFFSET + seed).batches(BATCH)
    warmup = max(1, int(WARMUP_RATIO * steps))
    smora, switch = _has(model, SMoRALinear), _has(model, SwitchLoRALinear)
    history = {"ce": [], "lb": []}
    torch.manual_seed(seed)
    model.train()
    for step in range(steps):
        batch = trim_padding(next(batches))
        mask = batch.input_ids != AlgoTasks.PAD
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, LR, warmup, 0.1)
        optimizer.zero_grad(set_to_none=True)
        with contextlib.ExitStack() as stack:
            if smora:
                stack.enter_context(forward_kwargs(model, SMoRALinear, token_mask=mask))
            records = stack.enter_context(record_routing(model, SwitchLoRALinear)) if switch else []
            out = model(batch.input_ids)
        ce = lm_loss(out.logits, batch)
        lb = torch.zeros(())
        flat_mask = mask.reshape(-1)
        for record in records:
            probs = record.routing.probs.reshape(-1, N_EXPERTS)
            top = torch.sort(probs, dim=-1, descending=True, stable=True).indices[:, :1]
            lb = lb + switch_load_balancing_loss(probs, top, N_EXPERTS, mask=flat_mask)
        loss = ce + LB_COEF * lb
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        history["ce"].append(float(ce.detach()))
        history["lb"].append(float(lb.detach()) / max(1, len(records)))
    model.eval()
    return history



@torch.no_grad()
def rank_usage(model, batch, without_bias: bool = False) -> dict[str, torch.Tensor]:
    """``{layer: counts [n_tasks, r]}``: how often each rank of each SMoRA layer is active, per task.

    Counted over the non-pad tokens of ``batch`` in eval mode (no bias
    update). ``without_bias`` routes with every layer's balancing bias set to
    zero (restored afterwards): the router's own preferences.
    """
    model.eval()
    mask = batch.input_ids != AlgoTasks.PAD
    n_tasks = int(batch.task_id.max()) + 1
    task_of_token = batch.task_id[:, None].expand_as(batch.input_ids)[mask]
    layers = [m for m in model.modules() if isinstance(m, SMoRALinear)]
    saved = [layer.rank_bias.clone() for layer in layers]
    try:
        if without_bias:
            for layer in layers:
                layer.rank_bias.zero_()
        with record_routing(model, SMoRALinear) as records:
            model(batch.input_ids)
    finally:
        for layer, bias in zip(layers, saved, strict=True):
            layer.rank_bias.copy_(bias)
    usage = {}
    for record in records:
        idx = record.routing.topk_idx[mask]                       # [T, k]
        r = record.routing.gates.shape[-1]
        one_hot = F.one_hot(idx, r).sum(dim=1).float()            # [T, r]
        usage[record.name] = torch.zeros(n_tasks, r).index_add_(0, task_of_token, one_hot)
    return usage


def usage_cv(usage: dict[str, torch.Tensor]) -> float:
    """Mean over layers of the coefficient of variation (std / mean) of the ranks' selection counts."""
    return float(np.mean([float(c.sum(dim=0).std(unbiased=False) / c.sum(dim=0).mean()) for c in usage.values()]))


def profile_jaccard(usage: dict[str, torch.Tensor], top: int = PROFILE_TOP) -> float:
    """Mean over layers and task pairs of the Jaccard overlap of each task's ``top`` most used ranks."""
    values = []
    for counts in usage.values():
        order = torch.sort(counts, dim=1, descending=True, stable=True).indices[:, :top]
        sets = [set(row.tolist()) for row in order]
        values += [len(a & b) / len(a | b) for a, b in combinations(sets, 2)]
    return float(np.mean(values))


def dead_ranks(usage: dict[str, torch.Tensor]) -> float:
    """Mean number of ranks per layer never selected."""
    return float(np.mean([int((counts.sum(dim=0) == 0).sum()) for counts in usage.values()]))


@torch.no_grad()
def mean_top_gate(model, batch) -> float:
    """Mean over MoE-LoRA layers and non-pad tokens of the chosen expert's gate (1/E at a uniform router)."""
    model.eval()
    mask = batch.input_ids != AlgoTasks.PAD
    with record_routing(model, SwitchLoRALinear) as records:
        model(batch.input_ids)
    return float(np.mean([float(r.routing.weights.sum(-1)[mask].mean()) for r in records]))


@torch.no_grad()
def expert_usage(model, batch) -> dict[str, list[float]]:
    """``{layer: share of non-pad tokens routed to each expert}`` of the MoE-LoRA layers."""
    model.eval()
    mask = batch.input_ids != AlgoTasks.PAD
    with record_routing(model, SwitchLoRALinear) as records:
        model(batch.input_ids)
    return {r.name: [round(float(v), 3) for v in (r.routing.weights[mask] > 0).float().mean(0)] for r in records}


def bias_spread(model) -> float:
    """Mean over SMoRA layers of max - min of the balancing bias."""
    return float(np.mean([float(m.rank_bias.max() - m.rank_bias.min()) for m in model.modules()
                          if isinstance(m, SMoRALinear)]))


ARMS = ("lora_r4", "lora_r16", "moe_lora", "smora", "smora_block")


def _named(per_task: dict) -> dict:
    return {TASKS[t]: round(v, 4) for t, v in per_task.items()}


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One unit: base_dense(seed), every arm trained on the same stream, all tested on the same prompts."""
    size = QUICK if quick else FULL
    base = base_dense(seed)
    test = make_test_set(TASKS, n_per_task=size.n_test, seed=seed)
    probe = test.subset(torch.cat([torch.nonzero(test.task_id == t).reshape(-1)[:N_USAGE]
                                   for t in range(len(TASKS))]))
    base_eval = evaluate_lm(base, test)
    results, models, params, final_ce = {}, {}, {}, {}
    for arm in ARMS + size.extra_arms:
        model = build_arm(base, arm)
        params[arm] = count_trainable(model)
        history = train_adapters(model, seed, size.steps)
        final_ce[arm] = round(float(np.mean(history["ce"][-10:])), 4)
        results[arm] = evaluate_lm(model, test)
        models[arm] = model
    em = {arm: r["exact_match_tf"] for arm, r in results.items()}
    smora_arms = [arm for arm in models if arm.startswith("smora")]
    usage = {arm: rank_usage(models[arm], probe) for arm in smora_arms}
    unbiased = rank_usage(models["smora"], probe, without_bias=True)
    cv = {arm: usage_cv(u) for arm, u in usage.items()}
    jaccard = {arm: profile_jaccard(u) for arm, u in usage.items()}
    diagnostics = {
        "steps": size.steps, "batch": BATCH,
        "base_exact_match": base_eval["exact_match_tf"], "base_per_task": _named(base_eval["per_task"]),
        "exact_match": em, "per_task": {arm: _named(r["per_task"]) for arm, r in results.items()},
        "trainable_parameters": params, "final_train_ce": final_ce,
        "rank_usage_cv": cv, "rank_usage_cv_smora_bias_zeroed": usage_cv(unbiased),
        "rank_profile_jaccard": jaccard, "dead_ranks": {arm: dead_ranks(u) for arm, u in usage.items()},
        "bias_spread": {arm: bias_spread(models[arm]) for arm in smora_arms},
        "moe_lora_mean_top_gate": mean_top_gate(models["moe_lora"], probe),
        "moe_lora_expert_usage": expert_usage(models["moe_lora"], probe),
        "smora_rank_counts": {name: c.sum(dim=0).int().tolist() for name, c in usage["smora"].items()},
    }
    return TrialResult(
        pairs={
            "smora-vs-moe-lora": (em["moe_lora"], em["smora"]),
            "smora-vs-lora-r4": (em["lora_r4"], em["smora"]),
            "finer-vs-block": (em["smora_block"], em["smora"]),
            "smora-vs-lora-r16": (em["lora_r16"], em["smora"]),
            "base-off-floor": (BASE_FLOOR, base_eval["exact_match_tf"]),
            "base-off-ceiling": (BASE_CEILING, base_eval["exact_match_tf"]),
            "adaptation-helps": (base_eval["exact_match_tf"], em["lora_r4"]),
            "moe-lora-off-ceiling": (BASELINE_CEILING, em["moe_lora"]),
            "bias-balances-ranks": (usage_cv(unbiased), cv["smora"]),
            "task-profiles-differ": (JACCARD_HIGH, jaccard["smora"]),
            "task-profiles-overlap": (JACCARD_LOW, jaccard["smora"]),
        },
        diagnostics=diagnostics,
    )


_EM = "macro exact match (teacher-forced, 4 tasks)"

REPRODUCTION = Reproduction(
    id="smora",
    title="Each Rank Could be an Expert: Single-Ranked Mixture of Experts LoRA for Multi-Task Learning (SMoRA)",
    arxiv="2501.15103",
    claim=("Treating every rank of a LoRA as an expert, routed per token (top-k of sigmoid scores, balanced by an "
           "auxiliary-loss-free bias), is the finest partition of MoE-LoRA; within the same total and activated "
           "rank it beats coarser MoE-LoRA in multi-task fine-tuning, and it beats dense LoRA while activating "
           "fewer parameters."),
    paper_result=("Llama-2-7B/13B and Qwen2.5-7B on a mixed FLAN task set and a 6-domain mix: SMoRA (64 ranks, 8 "
                  "active) above LoRA r=8 and r=64 and MoE-LoRA (8 experts x r8, top-1/top-2/soft) at equal total "
                  "rank; finer partitions better at fixed total and active rank (exact table numbers not retrieved; "
                  "the direction is compared)."),
    setup=(f"Frozen dense TinyLM base (2 layers, d=64, 400 steps on copy/reverse/sort/modadd; cached) per seed; "
           f"adapters on q/k/v/o/fc1/fc2 of both layers trained {STEPS} steps of batch {BATCH} (calibrated once on "
           f"seed {CALIBRATION_SEED} so that LoRA r4 lands in [0.6, 0.9]), AdamW lr {LR:g}, 10% warm-up + cosine, "
           f"the same four-task stream for every arm. Arms: LoRA r4; LoRA r16; MoE-LoRA 4 x r4 softmax top-1 "
           f"(Switch gate, LBL {LB_COEF:g}); SMoRA r16 k4 (u = {U_CLAIM:g}); SMoRA r16 k4 with blocks of 4 ranks "
           f"(P = 4). Metric: macro teacher-forced exact match on 256 (full 512) test prompts per task; a unit = "
           f"a seed (base, training stream, test set). Full mode adds SMoRA with u = 0 and u = 1e-5 and "
           f"MoE-LoRA with gate 1 as diagnostics."),
    checks=(
        Check("smora-vs-moe-lora", _EM, "MoE-LoRA 4 x r4, softmax top-1 (total 16, active 4)",
              "SMoRA r16 k4 (total 16, active 4)", "greater",
              "single-rank experts beat MoE-LoRA at the same total and activated rank",
              "SMoRA above MoE-LoRA (8 x r8, top-1/top-2/soft) at equal total rank on FLAN and multi-domain mixes"),
        Check("smora-vs-lora-r4", _EM, "LoRA r4 (active 4)", "SMoRA r16 k4 (active 4)", "greater",
              "at the same activated rank, routing among 16 ranks beats a fixed rank-4 LoRA",
              "SMoRA 64/8 above LoRA r8"),
        Check("finer-vs-block", _EM, "SMoRA r16 k4 with blocks of 4 ranks (P = 4)", "SMoRA r16 k4 (P = 1)",
              "greater", "finer partitions are better at the same total and active rank and the same router",
              "finer-grained LoRA partitioning gives better performance at fixed total and activated parameters"),
        Check("smora-vs-lora-r16", _EM, "LoRA r16 (active 16)", "SMoRA r16 k4 (active 4)", "greater",
              "activating a quarter of the ranks beats the dense LoRA of the same total rank",
              "SMoRA activates fewer parameters yet achieves better performance (vs LoRA r64)"),
        Check("base-off-floor", _EM, f"floor {BASE_FLOOR}", "frozen base", "greater",
              "the base is partly competent, as a foundation model to adapt", kind="regime"),
        Check("base-off-ceiling", _EM, f"ceiling {BASE_CEILING}", "frozen base", "less",
              "the base leaves the tasks to be learned by the adapters", kind="regime"),
        Check("adaptation-helps", _EM, "frozen base", "LoRA r4", "greater",
              "the step budget is enough for adapters to change the model, so arms can differ", kind="regime"),
        Check("moe-lora-off-ceiling", _EM, f"ceiling {BASELINE_CEILING}", "MoE-LoRA", "less",
              "the headline's baseline leaves room for a better method", kind="regime"),
        Check("bias-balances-ranks", "rank-usage CV (std/mean of selection counts, mean over layers)",
              "trained SMoRA with its balancing bias set to zero", "trained SMoRA", "less",
              "the auxiliary-loss-free bias balances rank usage",
              "the bias update keeps the ranks' load balanced", kind="mechanism"),
        Check("task-profiles-differ", "mean pairwise Jaccard of the tasks' 4 most used ranks",
              f"{JACCARD_HIGH}", "SMoRA r16 k4", "less", "tasks route to different ranks (specialisation)",
              "different tasks activate different ranks", kind="mechanism"),
        Check("task-profiles-overlap", "mean pairwise Jaccard of the tasks' 4 most used ranks",
              f"{JACCARD_LOW}", "SMoRA r16 k4", "greater", "tasks still share ranks (knowledge sharing)",
              "ranks are shared across tasks, unlike isolated experts", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="smora-vs-moe-lora",
    trial_seconds=21.0,
)
