"""Evaluation on CrossItem-Lite, an offline analogue of the CrossVid cross-video reasoning benchmark.

Li, Wang, Tan, et al., "CrossVid: A Comprehensive Benchmark for Evaluating
Cross-Video Reasoning in Multimodal Large Language Models", arXiv:2511.12263
(AAAI 2026). The published benchmark needs 5,331 videos and video MLLMs;
CrossItem-Lite mirrors its measurement machinery on symbolic "videos" (items
of timestamped facts rendered as frames). The data (items, the 10 tasks in 4
dimensions, question generators and the exact reasoners that derive their
answers) is in :mod:`diversa.datasets.crossitem`; this package judges solvers
on it: the answer formats with their official scoring rules
(:mod:`.scoring`), the frame-budget protocol (:mod:`.harness`), reference
solvers and a prompt for any text model (:mod:`.solvers`), and a learned
solver, a small recurrent reader trained on generated questions
(:mod:`.learned`, imported on its own because it needs torch).

Typical use::

    bench = CrossItemBenchmark(n_per_task=200, seed=0)
    result = bench.evaluate(BudgetedOracleSolver(), total_frames=32)
    result["per_task"], result["O_avg"]

``evaluate_solver(solver, questions, ...)`` accepts any object with
``answer(question, frames_per_item) -> str`` or such a callable.
"""

from diversa.evaluate.crossitem.harness import (
    CrossItemBenchmark,
    compare_solvers,
    evaluate_solver,
    frames_per_item,
    question_frames,
)
from diversa.evaluate.crossitem.scoring import (
    aggregate,
    interval_iou,
    judge_open_ended,
    micro_average,
    open_ended_points,
    overall_from_dimensions,
    score_interval,
    score_multi_choice,
    score_ordering,
    score_response,
    score_single_choice,
)
from diversa.evaluate.crossitem.solvers import (
    BudgetedOracleSolver,
    IsolatedSolver,
    OptionsOnlySolver,
    OracleSolver,
    RandomSolver,
    render_prompt,
)

__all__ = [
    "BudgetedOracleSolver", "CrossItemBenchmark", "IsolatedSolver", "OptionsOnlySolver", "OracleSolver",
    "RandomSolver", "aggregate", "compare_solvers", "evaluate_solver", "frames_per_item", "interval_iou",
    "judge_open_ended", "micro_average", "open_ended_points", "overall_from_dimensions", "question_frames",
    "render_prompt", "score_interval", "score_multi_choice", "score_ordering", "score_response",
    "score_single_choice",
]
