"""FlexSP planning time: a 512-sequence batch on 64 GPUs, against the adaptive-homogeneous baseline.

Wang et al., "Data-Centric and Heterogeneity-Adaptive Sequence Parallelism for
Efficient LLM Training" (FlexSP, arXiv:2412.01523) solve one MILP per
micro-batch with SCIP under a 5-10 s time limit, in parallel processes, and
hide the planning behind training. The target here: a plan for 64 GPUs and a
512-sequence global batch (GPT-7B, lengths up to 128K tokens) within 10 s on
2 cores. No planning library does the same job, so the "anchor" is diversa's
own adaptive-homogeneous planner (Best-Fit-Decreasing with the best single
degree): the ratio says what the MILP costs over the baseline's packing. Each
row also gives the predicted step-time speed-up of the plan over that baseline
(``speedup_vs_adaptive``) and over the static degree the 128K context needs
(``speedup_vs_static``).

Configurations: 0.3 s of HiGHS per micro-batch, three micro-batch counts and
two worker processes (the authors' style: a time limit, so the plan depends on
the machine's speed), and the reproducible one (a node limit, one count, one
process).
Usage: ``python benchmarks/bench_seqpar.py [--quick]`` or ``python -m benchmarks seqpar``.
"""

from __future__ import annotations

import argparse
import time

from diversa.systems.seqpar import (
    AdaptiveHomogeneousPlanner,
    FlexSPPlanner,
    SPCostModel,
    StaticSPPlanner,
    sample_lengths,
)

ANCHOR = "adaptive-homogeneous (BFD)"
MAX_LEN = 128_000
CONFIGS = {
    "time limit 0.3 s, 3 counts, 2 jobs": dict(time_limit=0.3, node_limit=None, mb_options=3, n_jobs=2),
    "node limit 10, 1 count, 1 job": dict(node_limit=10, mb_options=1, n_jobs=1),
}


def _timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def compare(n_gpus: int, memory_gb: float, n_sequences: int, config: str) -> dict:
    """One row: FlexSP's planning wall time and the baseline's, with the predicted speed-ups."""
    cost = SPCostModel.gpt("7b", n_gpus, mem_limit_gb=memory_gb)
    lens = sample_lengths(n_sequences, 0, max_len=MAX_LEN, pad_to=2 * n_gpus)
    static = StaticSPPlanner(cost, cost.min_degree(MAX_LEN)).plan(lens)
    anchor_s, adaptive = _timed(lambda: AdaptiveHomogeneousPlanner(cost).plan(lens))
    planner = FlexSPPlanner(cost, safeguard="micro", random_state=0, **CONFIGS[config])
    ours_s, plan = _timed(lambda: planner.plan(lens))
    return {"name": f"FlexSP plan, {n_gpus} GPUs x {memory_gb:g} GB, {n_sequences} sequences ({config})",
            "diversa_s": ours_s, "anchor": ANCHOR, "anchor_s": anchor_s, "ratio": ours_s / anchor_s,
            "speedup_vs_static": static.predicted_ms / plan.predicted_ms,
            "speedup_vs_adaptive": adaptive.predicted_ms / plan.predicted_ms}


def run(quick: bool = False) -> list[dict]:
    """Rows {name, diversa_s, anchor, anchor_s, ratio, speedup_vs_static, speedup_vs_adaptive}."""
    if quick:
        return [compare(16, 28.0, 128, config) for config in CONFIGS]
    return [compare(64, memory, 512, config) for memory in (80.0, 28.0) for config in CONFIGS]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 GPUs and 128 sequences")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        print(f"{row['name']}: plan {row['diversa_s']:.2f} s ({row['anchor']} {row['anchor_s']:.3f} s); "
              f"predicted speed-up {row['speedup_vs_static']:.2f}x vs static, "
              f"{row['speedup_vs_adaptive']:.2f}x vs adaptive")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
