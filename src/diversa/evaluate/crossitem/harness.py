"""Run any solver on CrossItem-Lite under CrossVid's frame-budget protocol and score it.

Protocol of CrossVid (Li et al., arXiv:2511.12263): a query gets
``total_frames`` frames (128 officially), split equally over its items
(``max(1, total_frames // n_items)`` each), sampled uniformly in time. A
solver exception scores 0 and is counted as a failure; ``drop_failures=True``
instead leaves failed queries out of the denominators, as the official
scripts silently do for queries whose model call failed three times.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from diversa.datasets.crossitem.items import Frame, render_frames
from diversa.datasets.crossitem.tasks import (
    TASKS,
    Question,
    check_tasks,
    generate_questions,
)
from diversa.evaluate.crossitem.scoring import aggregate, score_response
from diversa.evaluate.crossitem.solvers import OracleSolver
from diversa.evaluate.holdout import normal_approx_ci
from diversa.evaluate.multiple_testing import holm
from diversa.evaluate.paired import bootstrap_mean_ci, wilcoxon_signed_rank
from diversa.evaluate.proportions import mcnemar

ACCURACY_FORMATS = ("single_choice", "multi_choice", "ordering")


def frames_per_item(question: Question, total_frames: int = 128, per_item_frames: int | None = None) -> int:
    """Frames each item of the question gets: ``per_item_frames`` if given (ablations that
    decouple budget from item count), else ``max(1, total_frames // n_items)``."""
    if per_item_frames is not None:
        if per_item_frames < 1:
            raise ValueError(f"per_item_frames must be >= 1, got {per_item_frames}.")
        return int(per_item_frames)
    if total_frames < 1:
        raise ValueError(f"total_frames must be >= 1, got {total_frames}.")
    return max(1, int(total_frames) // len(question.items))


def question_frames(question: Question, total_frames: int = 128, per_item_frames: int | None = None) -> list[list[Frame]]:
    """The frames of every item of the question under the budget."""
    n = frames_per_item(question, total_frames, per_item_frames)
    return [render_frames(item, n) for item in question.items]


def _possible(question: Question) -> float:
    return 2.0 * len(question.extra["scoring_points"]) if question.format == "open_ended" else 1.0


def _ask(solver, question: Question, frames) -> tuple[str | None, bool]:
    call = solver.answer if hasattr(solver, "answer") else solver
    try:
        response = call(question.public(), frames)
    except Exception:  # noqa: BLE001 -- any solver failure (a model error, a timeout raised by the callable) scores 0
        return None, True
    return (response, False) if isinstance(response, str) else (None, True)


def _ratio_ci(earned: np.ndarray, possible: np.ndarray, confidence: float, rng) -> tuple[float, float]:
    """Percentile bootstrap CI of sum(earned) / sum(possible), resampling questions."""
    draws = rng.integers(0, earned.size, size=(2000, earned.size))
    totals = possible[draws].sum(1)
    ratios = np.where(totals > 0, earned[draws].sum(1) / np.where(totals > 0, totals, 1), 0.0)
    tail = (1 - confidence) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return float(low), float(high)


def _task_ci(fmt: str, earned: np.ndarray, possible: np.ndarray, confidence: float, rng) -> tuple[float, float]:
    if fmt in ACCURACY_FORMATS:
        return tuple(normal_approx_ci(float(earned.mean()), earned.size, alpha=1 - confidence, method="wilson"))
    if fmt == "interval":
        ci = bootstrap_mean_ci(earned, confidence=confidence, random_state=rng.integers(2**31))
        return ci.low, ci.high
    return _ratio_ci(earned, possible, confidence, rng)


def _summarise(records: list[dict], key: str, drop_failures: bool, confidence: float | None, random_state) -> dict:
    by_task: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        if not (drop_failures and record["failed"]):
            by_task[record["task"]].append(record)
    per_task, ci, counts = {}, {}, {}
    rng = np.random.default_rng(random_state)
    for task in TASKS:
        rows = by_task.get(task)
        if not rows:
            continue
        earned = np.array([r[key] for r in rows])
        possible = np.array([r["possible"] for r in rows])
        per_task[task] = float(earned.sum() / possible.sum()) if possible.sum() else 0.0
        counts[task] = len(rows)
        if confidence is not None:
            ci[task] = _task_ci(TASKS[task][1], earned, possible, confidence, rng)
    return {"per_task": per_task, "ci": ci, "n": counts, **aggregate(per_task)}


def evaluate_solver(solver, questions: list[Question], total_frames: int = 128, strict: bool = True,
                    per_item_frames: int | None = None, drop_failures: bool = False, confidence: float = 0.95,
                    random_state=0, frames: list | None = None) -> dict:
    """Score a solver on questions under the frame budget.

    Parameters
    ----------
    solver : object with ``answer(public_question, frames_per_item) -> str`` or such a callable.
    questions : from :func:`generate_questions` / :meth:`CrossItemBenchmark.generate`.
    total_frames : frames per query, split over its items.
    strict : official string equality (True) or tolerant parsing; the other
        mode is reported under ``"alternate"``, never mixed.
    per_item_frames : frames per item, overriding the split (ablations).
    drop_failures : leave failed queries out of the scores (official behaviour).
    confidence : coverage of the per-task CIs (Wilson for accuracies, bootstrap for FSA/CCQA).
    frames : the questions' frames, already rendered with :func:`question_frames` under this
        budget (lets several solvers share one rendering).

    Returns
    -------
    dict with ``mode``, ``per_task`` {task: score in [0, 1]}, ``ci`` {task: (low, high)},
    ``n`` {task: scored questions}, ``failures`` {task: count}, ``C_avg``, ``T_avg``,
    ``M_avg``, ``CCQA``, ``O_avg`` (mean of the task scores), ``alternate`` (the same in
    the other mode, without CIs) and ``per_question`` records (id, task, response, earned,
    possible, failed, score).
    """
    if frames is not None and len(frames) != len(questions):
        raise ValueError(f"frames must hold one entry per question, got {len(frames)} for {len(questions)}.")
    records = []
    for k, question in enumerate(questions):
        shown = frames[k] if frames is not None else question_frames(question, total_frames, per_item_frames)
        response, failed = _ask(solver, question, shown)
        possible = _possible(question)
        strict_earned = 0.0 if failed else score_response(question, response, True)[0]
        tolerant_earned = 0.0 if failed else score_response(question, response, False)[0]
        records.append({"id": question.id, "task": question.task, "response": response, "failed": failed,
                        "possible": possible, "strict": strict_earned, "tolerant": tolerant_earned,
                        "score": (strict_earned if strict else tolerant_earned) / possible})
    mode, other = ("strict", "tolerant") if strict else ("tolerant", "strict")
    failures = defaultdict(int)
    for record in records:
        failures[record["task"]] += record["failed"]
    return {
        "mode": mode, "total_frames": total_frames, "per_item_frames": per_item_frames,
        "drop_failures": drop_failures,
        **_summarise(records, mode, drop_failures, confidence, random_state),
        "failures": dict(failures),
        "alternate": {"mode": other, **_summarise(records, other, drop_failures, None, random_state)},
        "per_question": records,
    }


def compare_solvers(result_a: dict, result_b: dict, alpha: float = 0.05) -> dict[str, dict]:
    """Per-task paired tests of two solvers scored on the same questions, Holm-corrected across tasks.

    Accuracy tasks: McNemar's test (exact binomial when b + c < 25); FSA and
    CCQA: Wilcoxon signed-rank on the per-question score differences.
    ``mean_diff`` is a minus b.
    """
    scores_b = {r["id"]: r for r in result_b["per_question"]}
    by_task: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in result_a["per_question"]:
        if record["id"] in scores_b:
            by_task[record["task"]].append((record["score"], scores_b[record["id"]]["score"]))
    out = {}
    for task, pairs in by_task.items():
        a, b = np.array(pairs).T
        if TASKS[task][1] in ACCURACY_FORMATS:
            only_a, only_b = int(np.sum((a == 1) & (b != 1))), int(np.sum((a != 1) & (b == 1)))
            table = np.array([[int(np.sum((a == 1) & (b == 1))), only_a], [only_b, int(np.sum((a != 1) & (b != 1)))]])
            test = mcnemar(table, exact=only_a + only_b < 25)
            name = "mcnemar-exact" if only_a + only_b < 25 else "mcnemar"
        else:
            test = wilcoxon_signed_rank(a - b)
            name = "wilcoxon"
        out[task] = {"test": name, "statistic": test.statistic, "pvalue": float(test.pvalue),
                     "mean_diff": float(np.mean(a - b)), "n": int(a.size)}
    if out:
        adjusted = holm([v["pvalue"] for v in out.values()], alpha=alpha).pvalues
        for value, p in zip(out.values(), adjusted):
            value["pvalue_holm"] = float(p)
    return out


class CrossItemBenchmark:
    """CrossItem-Lite: generated questions of the ten tasks and the official scoring.

    Parameters
    ----------
    tasks : "all" or a list of task names (BU, NC, CC, PEA, PI, FSA, PSS, MSR, MOC, CCQA).
    n_per_task : questions per task.
    seed : generator seed; the same seed gives the same questions.
    """

    def __init__(self, tasks="all", n_per_task: int = 200, seed: int = 0):
        self.tasks = check_tasks(tasks)
        self.n_per_task = n_per_task
        self.seed = seed
        self._questions: list[Question] | None = None
        self._frames: tuple[tuple, list] | None = None  # the last budget's rendering, shared by solvers

    def generate(self) -> list[Question]:
        """The benchmark's questions (generated once, then cached)."""
        if self._questions is None:
            self._questions = generate_questions(self.tasks, self.n_per_task, self.seed)
        return self._questions

    def oracle(self) -> OracleSolver:
        """The solver that re-derives every answer from the full items."""
        return OracleSolver(self.generate(), seed=self.seed)

    def evaluate(self, solver, total_frames: int = 128, strict: bool = True, per_item_frames: int | None = None,
                 drop_failures: bool = False, random_state=0) -> dict:
        """Score ``solver`` on the benchmark (see :func:`evaluate_solver`)."""
        questions = self.generate()
        budget = (total_frames, per_item_frames)
        if self._frames is None or self._frames[0] != budget:
            self._frames = (budget, [question_frames(q, total_frames, per_item_frames) for q in questions])
        return evaluate_solver(solver, questions, total_frames=total_frames, strict=strict,
                               per_item_frames=per_item_frames, drop_failures=drop_failures,
                               random_state=random_state, frames=self._frames[1])
