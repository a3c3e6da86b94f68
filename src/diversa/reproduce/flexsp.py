"""Reproduction of FlexSP: heterogeneity-adaptive sequence parallelism (a model-based claim).

Wang, Zhang, Fu, Miao, Nie, Cui et al., "Data-Centric and Heterogeneity-Adaptive
Sequence Parallelism for Efficient LLM Training" (FlexSP), arXiv:2412.01523,
ASPLOS'25; spec ``training.md#flexsp``, small-scale reproduction. Pure
simulation: every arm is timed by the same cost model
(:class:`~diversa.systems.seqpar.cost_model.SPCostModel`, the authors' profiled
constants for GPT-7B on A100s: NVLink up to 8 GPUs, InfiniBand beyond) on the
real lengths of its plan; no GPU runs anything, so the claim tested is that the
*planner* finds faster plans under the authors' cost model, not that training
runs faster.

A unit is one training step: a fresh global batch of 128 lengths from a fresh
seed, ``floor(8 exp(N(5.95, 1.26^2))) + 1`` tokens (a log-normal fitted to the
authors' Wikipedia sample, stretched 8x), padded to a multiple of 32. Cluster:
16 GPUs, 28 GB per GPU for model states and activations (ZeRO-3), so one GPU
holds C = 8,012 tokens. Regime A clips the lengths at 128,000 tokens, which
needs a cross-node group of 16; regime B at 64,000 (a group of 8, one node
suffices); B uses the same draws as A, clipped. Group degrees 2, 4, 8, 16 for
every arm (the authors' planner skips single-GPU groups; the baselines never
could use them, as the longest sequence needs more than one GPU).

Arms, all on the same batch:

* static: one degree for every step, the one the dataset's longest sequence
  needs (16 in A, 8 in B), Best-Fit-Decreasing packing (DeepSpeed-Ulysses-style);
* adaptive: per step the fastest single degree, same packing;
* FlexSP: :class:`~diversa.systems.seqpar.planner.FlexSPPlanner` with the
  sequence blaster, DP bucketing (16 buckets and up), the slot MILP solved by
  HiGHS with a branch-and-bound node limit (no time limit: plans do not depend
  on the machine's speed), and the per-micro-batch one-degree candidates (the
  role of the authors' greedy warm starts); not the whole-step fallback to the
  adaptive plan, which would make it no slower than adaptive by construction
  (its step time is a diagnostic).

Checks (decided from the paper and the spec before the runs). Headline: in
regime A FlexSP's predicted step time is below static's (the paper's speed-up
over DeepSpeed-Ulysses and Megatron-LM). Secondary claims: in regime A below
adaptive's (heterogeneous groups beat the best single degree); in regime B
below static's (the paper claims speed-ups across context lengths; here no
cross-node degree is forced, reported as measured). Mechanism: FlexSP's
micro-batches mix group sizes in regime A (fails if the planner only ever
picks one degree per micro-batch). Regime: the batches are long-tailed, the
longest sequence needing more than 4x the GPUs of the median one in regime A
(fails for batches of similar lengths, where heterogeneous groups have nothing
to exploit).

Deviations from the authors' setting, for the CPU budget: 16 GPUs rather than
up to 64 (the paper's 1.98x comes from 64 GPUs with slow cross-node links),
one micro-batch count per step (the fewest that fit; the authors try five,
the spec's prototype two: the second rarely won and doubled the time), HiGHS with a 10-node limit and a 1% gap rather than SCIP
with a 5-10 s time limit.
"""

from __future__ import annotations

import math

import numpy as np

from diversa.reproduce.registry import Check, Reproduction, TrialResult, Units
from diversa.systems.seqpar import (
    AdaptiveHomogeneousPlanner,
    FlexSPPlanner,
    SPCostModel,
    StaticSPPlanner,
    sample_lengths,
)

N_GPUS, MEMORY_GB, BATCH, PAD = 16, 28.0, 128, 32
MAX_LEN = {"A": 128_000, "B": 64_000}
DEGREES = (2, 4, 8, 16)
N_BUCKETS, MB_OPTIONS, NODE_LIMIT, MIP_GAP = 16, 1, 10, 1e-2
#: Regime: the longest sequence needs more than 2**LONG_TAIL times the GPUs of the median one.
LONG_TAIL = 2.0


def cost_model() -> SPCostModel:
    """GPT-7B on 16 GPUs with 28 GB each (the authors' profile)."""
    return SPCostModel.gpt("7b", N_GPUS, mem_limit_gb=MEMORY_GB)


def _plans(cost: SPCostModel, lens: np.ndarray, max_len: int, seed: int) -> dict:
    flexsp = FlexSPPlanner(cost, DEGREES, n_buckets=N_BUCKETS, mb_options=MB_OPTIONS, node_limit=NODE_LIMIT,
                           mip_rel_gap=MIP_GAP, safeguard="micro", random_state=seed)
    return {"static": StaticSPPlanner(cost, cost.min_degree(max_len)).plan(lens),
            "adaptive": AdaptiveHomogeneousPlanner(cost, DEGREES).plan(lens),
            "flexsp": flexsp.plan(lens)}


def _summary(plans: dict) -> dict:
    out = {name: {"step_s": p.predicted_ms / 1000, "n_micro": p.n_micro, "strategy": p.strategy,
                  "groups_per_degree": p.degree_histogram()} for name, p in plans.items()}
    flexsp = plans["flexsp"]
    out["flexsp"].update(heterogeneous_fraction=flexsp.heterogeneous_fraction(), solver_status=flexsp.solver_status,
                         solve_seconds=flexsp.solve_seconds)
    out["flexsp_with_step_fallback_s"] = min(flexsp.predicted_ms, plans["adaptive"].predicted_ms) / 1000
    out["speedup_vs_static"] = plans["static"].predicted_ms / flexsp.predicted_ms
    out["speedup_vs_adaptive"] = plans["adaptive"].predicted_ms / flexsp.predicted_ms
    return out


def run_trial(seed: int, quick: bool) -> TrialResult:
    cost = cost_model()
    raw = sample_lengths(BATCH, seed, max_len=MAX_LEN["A"], pad_to=PAD)
    plans = {"A": _plans(cost, raw, MAX_LEN["A"], seed)}
    clipped = np.minimum(raw, MAX_LEN["B"])
    if np.any(raw != clipped):
        plans["B"] = _plans(cost, clipped, MAX_LEN["B"], seed)
    else:   # no sequence beyond B's limit: the same batch, planned once
        plans["B"] = {**plans["A"], "static": StaticSPPlanner(cost, cost.min_degree(MAX_LEN["B"])).plan(clipped)}
    step = {r: {name: p.predicted_ms / 1000 for name, p in arms.items()} for r, arms in plans.items()}
    tail = math.log2(cost.min_degree(int(raw.max())) / cost.min_degree(int(np.median(raw))))
    return TrialResult(
        pairs={
            "flexsp-vs-static": (step["A"]["static"], step["A"]["flexsp"]),
            "flexsp-vs-adaptive": (step["A"]["adaptive"], step["A"]["flexsp"]),
            "flexsp-vs-static-64k": (step["B"]["static"], step["B"]["flexsp"]),
            "heterogeneous-groups": (0.0, plans["A"]["flexsp"].heterogeneous_fraction()),
            "long-tailed-batches": (LONG_TAIL, tail),
        },
        diagnostics={"regime_A": _summary(plans["A"]), "regime_B": _summary(plans["B"]),
                     "longest": int(raw.max()), "median": float(np.median(raw)), "tokens": int(raw.sum()),
                     "token_capacity": cost.token_capacity},
    )


_STEP_A = "predicted step time (s), regime A (max 128K tokens)"
_STEP_B = "predicted step time (s), regime B (max 64K tokens)"

REPRODUCTION = Reproduction(
    id="flexsp",
    title="Data-Centric and Heterogeneity-Adaptive Sequence Parallelism for Efficient LLM Training (FlexSP)",
    arxiv="2412.01523",
    claim=("Planning heterogeneous sequence-parallel groups per step for long-tailed length distributions "
           "trains LLMs faster than one static sequence-parallel degree (model-based: the cost model predicts it)."),
    paper_result=("Up to 1.98x end-to-end speed-up over DeepSpeed-Ulysses and Megatron-LM (static sequence "
                  "parallelism) for GPT-7B/13B/30B on up to 64 A100 GPUs, contexts 32K-384K, GitHub, "
                  "CommonCrawl and Wikipedia length distributions (measured on GPUs)."),
    setup=("Model-based, pure simulation: every plan is timed by the same cost model (the authors' profiled "
           "GPT-7B constants; NVLink within 8 GPUs, InfiniBand beyond); no GPU runs anything. 16 GPUs, 28 GB "
           "each, ZeRO-3 (8,012 tokens per GPU); a unit = one step with a fresh global batch of 128 log-normal "
           "lengths (Wikipedia fit x 8, padded to 32); regime A clips at 128K tokens (static degree 16, cross-node), "
           "regime B at 64K (static degree 8). Degrees 2-16 for all arms. FlexSP: sequence blaster, DP "
           "bucketing, slot MILP (scipy HiGHS, 10 nodes, 1% gap), per-micro-batch one-degree candidates, the "
           "fewest micro-batches that fit; baselines: Best-Fit-Decreasing with one degree (static: the dataset's; "
           "adaptive: the best per step)."),
    checks=(
        Check("flexsp-vs-static", _STEP_A, "static d = 16", "FlexSP", "less",
              "FlexSP's plans are faster than static sequence parallelism sized for the longest sequence",
              "up to 1.98x over DeepSpeed-Ulysses / Megatron-LM"),
        Check("flexsp-vs-adaptive", _STEP_A, "best single degree per step", "FlexSP", "less",
              "heterogeneous groups beat the best single degree chosen per step",
              "heterogeneity-adaptive beats homogeneous"),
        Check("flexsp-vs-static-64k", _STEP_B, "static d = 8", "FlexSP", "less",
              "FlexSP is faster than static sequence parallelism when no cross-node degree is forced",
              "speed-ups across context lengths 32K-384K"),
        Check("heterogeneous-groups", "fraction of FlexSP micro-batches mixing group sizes, regime A", "0",
              "FlexSP", "greater", "the planner uses groups of different sizes within a micro-batch",
              "heterogeneous SP groups", kind="mechanism"),
        Check("long-tailed-batches", "log2(GPUs the longest sequence needs / GPUs the median needs), regime A",
              f"{LONG_TAIL:g}", "batch", "greater",
              "the longest sequence needs more than 4x the GPUs of the median one (a long tail)",
              "long-tailed length distributions", kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="flexsp-vs-static",
    unit=Units(description="one training step: a fresh global batch of 128 lengths from a fresh seed"),
    trial_seconds=2.5,
)
