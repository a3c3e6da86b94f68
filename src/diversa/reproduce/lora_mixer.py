"""Reproduction of LoRA-Mixer: routed task-specific LoRA experts beat one LoRA with the same parameters.

Li, Song, Zhou, Zhang, Yu, Yang, "LoRA-Mixer: Coordinate Modular LoRA
Experts Through Serial Attention Routing", ICLR 2026, arXiv:2507.00029
(spec ``experts.md`` section ``lora_mixer``; the official repository has no
code, so the spec's resolutions are used: one softmax router per adapted
linear, entropy minimised, balance term scaled by E).

Testbed: a unit is one seed s of the dense "foundation" TinyLM
(:func:`~diversa.reproduce.testbeds.moe_lm.base_dense`: 2 layers, d = 64,
400 steps on the four core AlgoTasks tasks, partially competent), its own
fine-tuning stream (``AlgoTasks(seed=40_000 + s)``), its own unlabeled
routing set (256 mixed sequences, ``seed=50_000 + s``) and its own test set
(``make_test_set(seed=10_000 + s)``). Metric: macro teacher-forced exact
match over the four tasks (every answer token and ``<eos>`` right).

Every adapted model puts its adapters on q, k, v and o of both layers (the
paper's placement) and trains exactly 18,432 parameters in two phases with
the same schedule, data and batch sizes (AdamW, linear warm-up then cosine,
clip 1.0): phase 1 = ``PHASE1_STEPS`` steps of batch 64 from the stream at
lr 3e-3; phase 2 = 5 epochs of batch 32 over the routing set at lr 1e-3
(``PHASE2_STEPS`` = 40 steps), where no arm sees a task label.

* **LoRA-Mixer** (method): 4 experts of rank 4 (alpha 8) in every
  :class:`~diversa.nn.lora.LoRAMixerLinear`. Phase 1 = hard routing (each
  example's tokens use its task's expert; the paper's stage 1); phase 2 =
  experts frozen, routers trained with the task loss plus the specialization
  balance loss (SBL/RSL, alpha = lambda = 1e-2, entropy minimised) of every
  mixer; top-2 sparse routing at test time (the paper's top-k inference with
  E = 4).
* **single LoRA** (headline baseline): one multi-task LoRA of rank 18 (alpha
  36, the same scale 2) on the same linears: 8 * 18 * 128 = 18,432 = the
  mixer's 16,384 expert plus 2,048 router parameters. It trains in both
  phases (phase 2 continues fine-tuning on the routing set).
* **MoE-LoRA** (prior mixtures, softmax router): the same mixer layers
  trained end to end with soft routing and the Switch balance term (SBL with
  lambda = 0), no task labels, both phases; top-2 at test time, as MixLoRA /
  MoLE-style LoRA-MoEs do.
* **oracle**: the phase-1 experts, each test example routed to its own task's
  expert (per-domain LoRA with the task known; an upper bound);
  **static merge**: the uniform average of the four experts' updates;
  **balance-only router**: phase 2 with SBL's balance term only (lambda = 0),
  the paper's routing-loss ablation; **base**: no adaptation. Full mode also
  reports a router without any regulariser and soft-mode accuracy.

Headline: LoRA-Mixer > the parameter-matched single LoRA. The paper compares
against LoRA in every main table (v2 on LLaMA3-8B: GSM8K 65.53 vs 65.14,
ARC-C 83.24 vs 82.15, HumanEval 57.32 vs 55.61) and its abstract claims the
gain at fewer trainable parameters; at matched parameters and steps, one
adapter of the same size is the baseline whose defeat shows that routing
task-specific experts is what helps. Secondaries: LoRA-Mixer > MoE-LoRA with
a softmax router (the abstract's "outperforms state-of-the-art routing and
LoRA-MoE baselines", +3.79 GSM8K, here at equal rather than 48% parameters);
LoRA-Mixer > static merge (spec C1); LoRA-Mixer > base (v1 abstract: +7.61
GSM8K over the base model); SBL > balance-only routing in accuracy (the
paper's loss ablation: RSL beats balance-type auxiliary losses at the same
routing data).

Regime: the base is off floor (macro > 0.10) and off ceiling (< 0.90); the
experts are task-specific (oracle routing beats their uniform merge, so there
is something for a router to find). Mechanisms, measured on the test set's
answer-predicting positions in layer 1 (the layer whose routers can see the
task; layer-0 q/k/v routers see only token and position): the SBL router
sends tokens to their own task's expert more often than chance (1/4); SBL
routing has lower entropy and a higher own-task share than balance-only
routing (the paper: ~35% vs 18-20% task-expert activation); no expert of any
mixer linear gets under 5% of the top-1 load (the paper: 15-18% per expert,
no collapse).

Budgets were shrunk from the spec's (400 phase-1 steps) to fit the quick
budget: 60 phase-1 steps in quick mode, 400 in full mode; the router phase
keeps the spec's 256 examples x 5 epochs. A quick unit costs about 11 CPU-s
once its base is built (measured; the base takes about 10 more). Design fixed from the
paper and the spec before any result was seen.

Decision made after seeing results, stated as such: the first quick run
(headline contradicted; oracle routing above the single LoRA on 7 of 8 units,
the SBL routers close to uniform, own-task share 0.34) raised the question
whether the spec's router learning rate (1e-3 for 40 steps) starves the
routers. Full mode therefore also reports, as diagnostics only (no check
reads them), the SBL router trained at 10x that rate. On calibration seed
1000 (no unit uses it) that router was sharper (layer-1 entropy 0.49 vs 1.34
nats) and more accurate (0.557 vs 0.500 top-2) but still below oracle routing
(0.596) with an own-task share of 0.38: the routers sharpen onto token
features rather than onto the task.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch

from diversa.datasets.algotasks import AlgoBatch, AlgoTasks, make_test_set
from diversa.nn.lora import (
    LoRAMixerLinear,
    adapter_layers,
    apply_lora,
    apply_lora_mixer,
    forward_kwargs,
    record_routing,
    specialization_balance_loss,
)
from diversa.nn.training import count_trainable, evaluate_lm, lm_loss, lr_at, torch_threads, trim_padding
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.moe_lm import base_dense

TASKS = AlgoTasks.CORE_TASKS
N_EXPERTS, EXPERT_RANK, TOP_K = 4, 4, 2
#: the single LoRA's rank: 8 linears x 18 x (64 + 64) = 4 experts x rank 4 + the routers (8 x 4 x 64)
SINGLE_RANK = 18
SBL_ALPHA, SBL_LAMBDA = 1e-2, 1e-2
PHASE1_LR, PHASE2_LR = 3e-3, 1e-3
PHASE1_BATCH, PHASE2_BATCH, N_ROUTE, ROUTE_EPOCHS = 64, 32, 256, 5
#: regime: the base's macro exact match lies in (floor, ceiling)
FLOOR, CEILING = 0.10, 0.90
#: mechanism: the least-used expert's share of top-1 routing in every mixer linear
MIN_LOAD = 0.05
QUICK = {"phase1_steps": 60, "n_test_per_task": 128}
FULL = {"phase1_steps": 400, "n_test_per_task": 256}


def _sbl_term(records, mask, lam: float) -> torch.Tensor:
    return sum(specialization_balance_loss(r.routing.probs, mask, alpha=SBL_ALPHA, lam=lam).loss for r in records)


def fit(model, batches: list[AlgoBatch], lr: float, balance_lambda: float | None = None,
        expert_ids: bool = False, seed: int = 0) -> None:
    """Train ``model``'s trainable parameters on ``batches`` (one optimizer step each), the same loop for every arm.

    AdamW (betas 0.9/0.98, weight decay 0.01), 10% linear warm-up then cosine
    to 0.1 lr, gradient clip 1.0, next-token loss on the answer positions.
    ``balance_lambda`` adds the specialization balance loss of every mixer
    linear (alpha = ``SBL_ALPHA``, entropy weight ``balance_lambda``) over the
    non-pad tokens; ``expert_ids`` routes every example's tokens to its task's
    expert (hard routing).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    steps = len(batches)
    warmup = max(1, steps // 10)
    torch.manual_seed(seed)
    model.train()
    for step, batch in enumerate(batches):
        batch = trim_padding(batch)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup, 0.1)
        optimizer.zero_grad(set_to_none=True)
        with contextlib.ExitStack() as stack:
            if expert_ids:
                stack.enter_context(forward_kwargs(model, LoRAMixerLinear, expert_weights=batch.task_id[:, None]))
            records = stack.enter_context(record_routing(model)) if balance_lambda is not None else None
            loss = lm_loss(model(batch.input_ids).logits, batch)
            if records is not None:
                loss = loss + _sbl_term(records, batch.input_ids != AlgoTasks.PAD, balance_lambda)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
    model.eval()


def exact_match(model, test: AlgoBatch, expert_weights: torch.Tensor | None = None) -> float:
    """Macro teacher-forced exact match, optionally with every mixer linear's routing overridden."""
    with contextlib.ExitStack() as stack:
        if expert_weights is not None:
            stack.enter_context(forward_kwargs(model, LoRAMixerLinear, expert_weights=expert_weights))
        return float(evaluate_lm(model, test)["exact_match_tf"])


@torch.no_grad()
def routing_stats(model, test: AlgoBatch) -> dict:
    """Top-1 routing on the test set's answer-predicting positions, per mixer linear.

    Per linear: ``entropy`` (mean token entropy of the router, nats),
    ``own_share`` (share of tokens whose top-1 expert is their task's expert;
    1/4 when routing ignores the task), ``mi`` (I(task; top-1 expert) / H(task))
    and ``load`` (top-1 share of each expert). ``layer1_*``: means over the
    linears of layer 1; ``min_load``: the smallest load of any expert in any linear.
    """
    model.eval()
    with record_routing(model) as records:
        model(test.input_ids)
    mask = test.loss_mask
    tasks = test.task_id[:, None].expand_as(mask)[mask]
    per_linear = {}
    for name, routing in records:
        probs = routing.probs[mask]
        top = probs.argmax(dim=-1)
        joint = torch.zeros(N_EXPERTS, N_EXPERTS)
        joint.index_put_((tasks, top), torch.ones(len(top)), accumulate=True)
        joint /= joint.sum()
        pt, pe = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
        nz = joint > 0
        mi = float((joint[nz] * (joint[nz] / (pt @ pe)[nz]).log()).sum() / -(pt[pt > 0] * pt[pt > 0].log()).sum())
        per_linear[name] = {"entropy": float(-torch.special.xlogy(probs, probs).sum(-1).mean()),
                            "own_share": float((top == tasks).float().mean()), "mi": mi,
                            "load": [round(float(x), 4) for x in pe.reshape(-1)]}
    layer1 = [v for k, v in per_linear.items() if k.startswith("blocks.1.")]
    return {"per_linear": per_linear,
            "layer1_entropy": float(np.mean([v["entropy"] for v in layer1])),
            "layer1_own_share": float(np.mean([v["own_share"] for v in layer1])),
            "layer1_mi": float(np.mean([v["mi"] for v in layer1])),
            "min_load": float(min(min(v["load"]) for v in per_linear.values()))}


def _mixer(base):
    return apply_lora_mixer(copy.deepcopy(base), num_experts=N_EXPERTS, r=EXPERT_RANK, alpha=2 * EXPERT_RANK,
                            top_k=TOP_K)


def _set_trainable(model, routers: bool, experts: bool) -> None:
    for layer in adapter_layers(model, LoRAMixerLinear).values():
        layer.router.requires_grad_(routers)
        layer.lora_A.requires_grad_(experts)
        layer.lora_B.requires_grad_(experts)


def _router_arm(experts, phase2, lam: float, seed: int):
    model = copy.deepcopy(experts)
    _set_trainable(model, routers=True, experts=False)
    fit(model, phase2, PHASE2_LR, balance_lambda=lam, seed=seed)
    return model


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One unit: one base, its fine-tuning stream, routing set and test set; every arm trained on them."""
    cfg = QUICK if quick else FULL
    with torch_threads(1):
        base = base_dense(seed)
        stream = AlgoTasks(TASKS, seed=40_000 + seed)
        phase1 = [stream.sample(PHASE1_BATCH) for _ in range(cfg["phase1_steps"])]
        route = AlgoTasks(TASKS, seed=50_000 + seed).sample(N_ROUTE)
        order = np.random.default_rng(50_000 + seed)
        phase2 = [route.subset(torch.as_tensor(chunk)) for _ in range(ROUTE_EPOCHS)
                  for chunk in np.array_split(order.permutation(N_ROUTE), N_ROUTE // PHASE2_BATCH)]
        test = make_test_set(TASKS, n_per_task=cfg["n_test_per_task"], seed=10_000 + seed)

        single = apply_lora(copy.deepcopy(base), r=SINGLE_RANK, alpha=2 * SINGLE_RANK)
        fit(single, phase1, PHASE1_LR, seed=seed)
        fit(single, phase2, PHASE2_LR, seed=seed)

        moe = _mixer(base)
        fit(moe, phase1, PHASE1_LR, balance_lambda=0.0, seed=seed)
        fit(moe, phase2, PHASE2_LR, balance_lambda=0.0, seed=seed)

        experts = _mixer(base)
        params = {"single": count_trainable(single), "mixer": count_trainable(experts),
                  "moe_lora": count_trainable(moe)}
        if len(set(params.values())) != 1:
            raise RuntimeError(f"trainable parameters differ between arms: {params}.")
        _set_trainable(experts, routers=False, experts=True)
        fit(experts, phase1, PHASE1_LR, expert_ids=True, seed=seed)
        mixer = _router_arm(experts, phase2, SBL_LAMBDA, seed)
        balance_only = _router_arm(experts, phase2, 0.0, seed)

        acc = {"base": exact_match(base, test), "single": exact_match(single, test),
               "moe_lora": exact_match(moe, test), "mixer": exact_match(mixer, test),
               "balance_only": exact_match(balance_only, test),
               "oracle": exact_match(experts, test, expert_weights=test.task_id[:, None]),
               "merge": exact_match(experts, test, expert_weights=torch.full((N_EXPERTS,), 1.0 / N_EXPERTS))}
        stats = {"mixer": routing_stats(mixer, test), "balance_only": routing_stats(balance_only, test),
                 "moe_lora": routing_stats(moe, test)}
        diagnostics = {"trainable_parameters": params, "phase1_steps": cfg["phase1_steps"],
                       "phase2_steps": len(phase2),
                       **{f"exact_match_{k}": v for k, v in acc.items()},
                       **{f"routing_{arm}": s for arm, s in stats.items()}}
        if not quick:
            no_reg = _router_arm(experts, phase2, None, seed)
            diagnostics["exact_match_no_regulariser"] = exact_match(no_reg, test)
            diagnostics["routing_no_regulariser"] = routing_stats(no_reg, test)
            for layer in adapter_layers(mixer, LoRAMixerLinear).values():
                layer.mode = "soft"
            diagnostics["exact_match_mixer_soft"] = exact_match(mixer, test)
            fast = copy.deepcopy(experts)
            _set_trainable(fast, routers=True, experts=False)
            fit(fast, phase2, 10 * PHASE2_LR, balance_lambda=SBL_LAMBDA, seed=seed)
            diagnostics["exact_match_mixer_router_lr_x10"] = exact_match(fast, test)
            diagnostics["routing_mixer_router_lr_x10"] = routing_stats(fast, test)
    m, b = stats["mixer"], stats["balance_only"]
    return TrialResult(
        pairs={
            "mixer-vs-single-lora": (acc["single"], acc["mixer"]),
            "mixer-vs-moe-lora": (acc["moe_lora"], acc["mixer"]),
            "mixer-vs-merge": (acc["merge"], acc["mixer"]),
            "mixer-vs-base": (acc["base"], acc["mixer"]),
            "sbl-vs-balance-only": (acc["balance_only"], acc["mixer"]),
            "base-off-floor": (FLOOR, acc["base"]),
            "base-off-ceiling": (CEILING, acc["base"]),
            "experts-task-specific": (acc["merge"], acc["oracle"]),
            "router-finds-task-experts": (1.0 / N_EXPERTS, m["layer1_own_share"]),
            "sbl-sharpens-routing": (b["layer1_entropy"], m["layer1_entropy"]),
            "sbl-raises-own-task-share": (b["layer1_own_share"], m["layer1_own_share"]),
            "no-expert-collapse": (MIN_LOAD, m["min_load"]),
        },
        diagnostics=diagnostics,
    )


_ARMS = (f"{N_EXPERTS} rank-{EXPERT_RANK} experts + routers on q/k/v/o")

REPRODUCTION = Reproduction(
    id="lora-mixer",
    title="LoRA-Mixer: Coordinate Modular LoRA Experts Through Serial Attention Routing",
    arxiv="2507.00029",
    claim=("Routing task-specific LoRA experts per token inside the attention projections, with experts trained "
           "by hard task routing and light routers trained on a little unlabeled mixed data with the "
           "specialization balance loss, beats a single LoRA and prior LoRA-MoE mixtures with fewer trainable "
           "parameters."),
    paper_result=("LLaMA3-8B, LoRA-Mixer vs LoRA: GSM8K 65.53 vs 65.14, ARC-C 83.24 vs 82.15, HumanEval 57.32 vs "
                  "55.61 (Mistral-7B GSM8K 46.48 vs 46.67); over the best LoRA-MoE baseline +3.79 GSM8K, +2.90 "
                  "CoLA, +3.95 ARC-C with 48% of its trainable parameters (v2); over the base model +7.61 GSM8K, "
                  "+4.88 HumanEval, +3.08 MedQA (v1). No error bars."),
    setup=(f"Dense TinyLM base (2 layers, d=64, 400 steps on copy/reverse/sort/modadd) per seed; every adapted arm "
           f"trains 18,432 parameters: {QUICK['phase1_steps']} (full {FULL['phase1_steps']}) steps of batch "
           f"{PHASE1_BATCH} at lr {PHASE1_LR:g}, then {ROUTE_EPOCHS} epochs of batch {PHASE2_BATCH} over "
           f"{N_ROUTE} unlabeled routing sequences at lr {PHASE2_LR:g}. LoRA-Mixer = {_ARMS} (hard task routing, "
           f"then routers only with SBL alpha=lambda={SBL_ALPHA:g}, top-{TOP_K} at test) vs a rank-{SINGLE_RANK} "
           f"LoRA, a softmax-router MoE-LoRA trained end to end with the balance term, oracle routing, a uniform "
           f"merge of the experts, a balance-only router and the base. Macro teacher-forced exact match on "
           f"{QUICK['n_test_per_task']} (full {FULL['n_test_per_task']}) test prompts per task. A unit = one seed "
           f"of base, data and test set."),
    checks=(
        Check("mixer-vs-single-lora", "macro exact match", f"single multi-task LoRA (rank {SINGLE_RANK})",
              "LoRA-Mixer (SBL, top-2)", "greater",
              "at the same trainable parameters and steps, routed task experts beat one LoRA",
              "LLaMA3-8B: GSM8K 65.53 vs 65.14, ARC-C 83.24 vs 82.15, HumanEval 57.32 vs 55.61"),
        Check("mixer-vs-moe-lora", "macro exact match", "MoE-LoRA, softmax router trained end to end",
              "LoRA-Mixer (SBL, top-2)", "greater",
              "hard-then-soft training with SBL beats a jointly trained LoRA-MoE of the same size",
              "+3.79 GSM8K, +2.90 CoLA, +3.95 ARC-C over the best routing / LoRA-MoE baseline"),
        Check("mixer-vs-merge", "macro exact match", "uniform merge of the four experts",
              "LoRA-Mixer (SBL, top-2)", "greater",
              "per-token routing beats statically averaging the experts", "spec C1 (LoRAHub-style static fusion)"),
        Check("mixer-vs-base", "macro exact match", "base model", "LoRA-Mixer (SBL, top-2)", "greater",
              "the routed experts improve the base model", "+7.61 GSM8K, +4.88 HumanEval, +3.08 MedQA over base"),
        Check("sbl-vs-balance-only", "macro exact match", "router trained with the balance term only",
              "router trained with SBL", "greater",
              "the entropy-shaping loss gives better routers from the same little routing data",
              "RSL beats GMoE / DS-MoE / AESL routing losses at 2k routing samples"),
        Check("base-off-floor", "macro exact match", f"floor {FLOOR}", "base model", "greater",
              "the base is partially competent, so adapting it is meaningful", kind="regime"),
        Check("base-off-ceiling", "macro exact match", f"ceiling {CEILING}", "base model", "less",
              "the base leaves room for adapters to improve it", kind="regime"),
        Check("experts-task-specific", "macro exact match", "uniform merge of the experts",
              "oracle routing (own task's expert)", "greater",
              "the experts carry task-specific skill, so a router has something to find", kind="regime"),
        Check("router-finds-task-experts", "layer-1 share of answer tokens routed top-1 to their task's expert",
              "chance 1/4", "LoRA-Mixer router (SBL)", "greater",
              "routers trained without task labels send a task's tokens to that task's expert",
              "task-relevant expert activation ~35% with RSL", kind="mechanism"),
        Check("sbl-sharpens-routing", "layer-1 mean routing entropy (nats)", "balance-only router",
              "SBL router", "less", "the entropy term makes each token's routing sharp",
              "RSL yields peaked per-token routing distributions", kind="mechanism"),
        Check("sbl-raises-own-task-share", "layer-1 share routed top-1 to the own task's expert",
              "balance-only router", "SBL router", "greater",
              "SBL aligns routing with the task more than a balance loss alone",
              "task-relevant expert share ~35% with RSL vs ~18-20% without", kind="mechanism"),
        Check("no-expert-collapse", "smallest top-1 load of any expert in any mixer linear", f"{MIN_LOAD}",
              "SBL router", "greater", "the balance term keeps every expert in use",
              "per-expert load stays 15-18%", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="mixer-vs-single-lora",
    trial_seconds=12.0,
)
