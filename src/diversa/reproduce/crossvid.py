"""Reproduction: a learned solver loses accuracy when the evidence is spread over several items.

Li, Wang, Tan, et al., "CrossVid: A Comprehensive Benchmark for Evaluating
Cross-Video Reasoning in Multimodal Large Language Models", arXiv:2511.12263
(AAAI 2026).

The published benchmark (5,331 videos, video MLLMs) is out of reach offline,
so we rebuild its measurement machinery on CrossItem-Lite
(:mod:`diversa.datasets.crossitem`, judged by :mod:`diversa.evaluate.crossitem`)
and test the paper's finding, that models fail mostly when they must
integrate evidence spread over videos, on a model we train ourselves. A unit
is one generator seed: fresh questions, a fresh training set and a freshly
trained model (independent units, exact sign-flip test).

**Headline.** A learned solver, :class:`RecurrentReaderSolver` (a GRU that
reads the MLLM layout "Video i" marker + the facts its frames show, scoring
each option), is trained on CrossItem-Lite's training split and judged on
held-out *twin* questions (:mod:`diversa.datasets.crossitem.twins`): the
claim is that its accuracy is lower on the cross-item twin than on the
single-item twin. **Matched difficulty is defined by the generator, not by
any result**: a twin pair is one world (four procedures of one dish drawn as
CrossVid's Culinary Comparison draws them) and one question (which source
uses a named ingredient; or CC's three comparisons), asked once with the
procedures as four videos (options "Video k") and once as one video in which
four cooks take turns in the same order (facts tagged with the cook, options
the cooks' names). Every procedure has the same duration, so under the
official frame protocol (128 frames per query, split equally over its items)
each procedure is sampled at the same relative times in both twins: the facts
visible, their times and order, the option order and the answer letter are
identical, and exact reasoning scores the same on both. Only where the facts
live differs. The reader is trained on both twins of every training world,
with the epoch chosen on a validation split (accuracy pooled over both
twins), and tested on both twins of the same held-out worlds, so the per-unit
difference is paired within one model.

The reader's architecture follows the MLLM input (no per-item channel beyond
the marker and the order of the sequence); a per-item channel would make the
twins identical to it.

Design history, stated because parts were settled after pilot runs: the
kinds of twin question and the reader's training budget were fixed after a
pilot showed that the reader learns the single-item twins at this budget (so
that a drop has room to show); full mode trains on four times as much data.
A first single-item twin showed the four cooks side by side, their facts
interleaved in time, which changes the order in which the evidence is read
besides the item boundary; it was replaced by cooks taking turns (the order
of the four videos). Pilot units on seeds 0-2, under both twin designs,
already showed the reader scoring higher on the cross-item twin; neither
change was made to move that result, and the budget was not tuned on it.

**Regime.** ``learned-off-floor``: the reader beats chance by 10 points on the
single-item twins (otherwise there is no accuracy to lose).
``options-only-chance``: a solver that never looks at frames (it picks the
option most similar to the others) is no further from chance than a random
solver on the same questions, on any single-choice task, within 0.05. The
previous design failed this check on MOC, whose spec'd options always put the
true count between the double-counting sum and the larger per-view count,
and it hid a leak in PI (true middles were mostly moves, wrong ones mostly
key events) and a small answer prior in PEA; the generators were fixed as
data bugs (tests in ``tests/datasets/test_crossitem_generators.py``), and
the check now compares absolute distances from chance, since an options-only
solver far *below* chance also reveals the answer.

**Mechanism** (true by the construction of the reference solvers, reported
as diagnostics): an oracle scores 100, a random solver scores at chance, the
budget-limited oracle improves with frames and loses more on 4-item tasks at
8 frames (the ``frames // n_videos`` split), and the isolated solver (the
budgeted oracle with the other items blanked) falls to chance on cross-item
tasks while it stays high on the single-source tasks PI and PSS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from diversa.datasets.crossitem import TASKS
from diversa.datasets.crossitem.items import observe
from diversa.datasets.crossitem.twins import KINDS, generate_twins, reason_twin
from diversa.evaluate.crossitem import (
    BudgetedOracleSolver,
    CrossItemBenchmark,
    IsolatedSolver,
    OptionsOnlySolver,
    RandomSolver,
    interval_iou,
    question_frames,
)
from diversa.evaluate.crossitem.learned import RecurrentReaderSolver
from diversa.evaluate.crossitem.solvers import question_rng
from diversa.reproduce.registry import Check, Reproduction, TrialResult

BUDGETS = {True: (8, 32, 128), False: (8, 16, 32, 64, 128)}
QUESTIONS_PER_TASK = {True: 60, False: 300}
CROSS_ITEM_CHOICE = ("BU", "NC", "CC", "PEA", "MSR", "MOC")
SINGLE_SOURCE = ("PI", "PSS")
SINGLE_CHOICE = tuple(t for t, (_, fmt) in TASKS.items() if fmt == "single_choice")
FOUR_ITEM, TWO_ITEM = ("NC", "CC"), ("FSA", "MSR", "MOC", "CCQA")
#: |z| bound for "random at chance": 99 % family-wise over the 9 tasks with a non-zero chance level.
RANDOM_Z_BOUND = float(stats.norm.isf(0.01 / 2 / 9))
#: Frames per query for both twins (the official budget): 32 per procedure, exact reasoning ~99 %.
TWIN_TOTAL_FRAMES = 128
TWIN_CHANCE = 0.25
#: How far above chance the reader must score on single-item twins for a drop to have room to show.
FLOOR_MARGIN = 0.10
#: How much further from chance than a random solver an options-only solver may be on any task.
OPTIONS_ONLY_MARGIN = 0.05


@dataclass(frozen=True)
class TwinSizes:
    """Twin pairs for training, validation (epoch choice) and test, and the epoch budget."""

    train: int
    validation: int
    test: int
    epochs: int


TWIN_SIZES = {True: TwinSizes(train=500, validation=100, test=200, epochs=20),
              False: TwinSizes(train=2000, validation=300, test=600, epochs=30)}


def chance_moments(question, rng, draws: int = 400) -> tuple[float, float]:
    """Mean and variance of a uniformly random valid answer's score on one question.

    Letters: 1/4; BU: 1/14; PSS: 1/N!; FSA: Monte Carlo over uniform intervals inside
    video 2; CCQA: 0 (the random answer is empty).
    """
    if question.format == "single_choice":
        p = 1 / len(question.options)
    elif question.format == "multi_choice":
        p = 1 / 14
    elif question.format == "ordering":
        p = 1 / math.factorial(len(question.items))
    elif question.format == "interval":
        ends = np.sort(rng.uniform(0, question.items[-1].duration, (draws, 2)), axis=1)
        ious = np.array([interval_iou(e, question.answer) for e in ends])
        return float(ious.mean()), float(ious.var())
    else:
        return 0.0, 0.0
    return p, p * (1 - p)


def chance_by_task(questions, seed: int) -> dict[str, tuple[float, float]]:
    """Per task: chance score and the standard error of a random solver's mean score."""
    rng = np.random.default_rng(seed)
    moments: dict[str, list] = {}
    for q in questions:
        moments.setdefault(q.task, []).append(chance_moments(q, rng))
    out = {}
    for task, rows in moments.items():
        means, variances = np.array(rows).T
        out[task] = (float(means.mean()), float(np.sqrt(variances.sum()) / len(rows)))
    return out


def _mean(scores: dict, tasks) -> float:
    return float(np.mean([scores[t] for t in tasks]))


def _twin_frames(questions) -> list[list]:
    return [question_frames(q, TWIN_TOTAL_FRAMES) for q in questions]


def learned_twin_accuracy(seed: int, sizes: TwinSizes) -> dict:
    """Train the reader on one seed's training twins and score it on its test twins.

    Returns per-layout accuracy, per-kind accuracy, exact reasoning's accuracy on the same
    frames and the training record.
    """
    train_pool = generate_twins(sizes.train + sizes.validation, seed=seed, split="train")
    test_pairs = generate_twins(sizes.test, seed=seed, split="test")
    train = [q for pair in train_pool[:sizes.train] for q in pair]
    validation = [q for pair in train_pool[sizes.train:] for q in pair]
    reader = RecurrentReaderSolver(epochs=sizes.epochs, batch_size=64, lr=1e-2, seed=seed)
    reader.fit(train, _twin_frames(train), validation=(validation, _twin_frames(validation)))
    kinds = np.array([pair.single.params["kind"] for pair in test_pairs])
    correct, exact = {}, {}
    for layout in ("single", "cross"):
        questions = [getattr(pair, layout) for pair in test_pairs]
        frames = _twin_frames(questions)
        correct[layout] = np.array([a == q.answer for a, q in zip(reader.predict(questions, frames), questions)])
        exact[layout] = float(np.mean([
            reason_twin(q.public(), [observe(d, f) for d, f in zip(q.public().item_durations, fr)],
                        question_rng(seed, q.id)) == q.answer for q, fr in zip(questions, frames)]))
    return {
        "accuracy": {layout: float(c.mean()) for layout, c in correct.items()},
        "by_kind": {kind: {layout: float(c[kinds == kind].mean()) for layout, c in correct.items()}
                    for kind in KINDS if (kinds == kind).any()},
        "exact_reasoning": exact,
        "best_epoch": reader.best_epoch_, "validation_curve": reader.validation_curve_,
        "loss_curve": reader.loss_curve_,
    }


def _options_only_distance(scores: dict, chance: dict) -> float:
    """The largest distance from chance over the single-choice tasks."""
    return max(abs(scores[t] - chance[t][0]) for t in SINGLE_CHOICE)


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One generator seed: the reference solvers on the ten tasks, and the learned reader on twins."""
    budgets = BUDGETS[quick]
    bench = CrossItemBenchmark(n_per_task=QUESTIONS_PER_TASK[quick], seed=seed)
    questions = bench.generate()
    results = {"oracle": bench.evaluate(bench.oracle()), "random": bench.evaluate(RandomSolver(seed)),
               "isolated": bench.evaluate(IsolatedSolver(seed)), "options-only": bench.evaluate(OptionsOnlySolver(seed))}
    budgeted = {b: bench.evaluate(BudgetedOracleSolver(seed), total_frames=b) for b in budgets}
    scores = {name: r["per_task"] for name, r in results.items()}
    curve = {b: budgeted[b]["O_avg"] for b in budgets}
    top, low = budgeted[max(budgets)]["per_task"], budgeted[min(budgets)]["per_task"]
    chance = chance_by_task(questions, seed)
    z_random = {t: (scores["random"][t] - c) / se for t, (c, se) in chance.items() if se > 0}
    excess = {name: {t: scores[name][t] - chance[t][0] for t in TASKS} for name in ("isolated", "options-only")}
    loss = {t: top[t] - low[t] for t in TASKS}
    rho = stats.spearmanr(budgets, [curve[b] for b in budgets]).statistic
    learned = learned_twin_accuracy(seed, TWIN_SIZES[quick])
    accuracy = learned["accuracy"]
    return TrialResult(
        pairs={
            "learned-cross-item-drop": (accuracy["cross"], accuracy["single"]),
            "learned-off-floor": (TWIN_CHANCE + FLOOR_MARGIN, accuracy["single"]),
            "options-only-chance": (_options_only_distance(scores["random"], chance),
                                    _options_only_distance(scores["options-only"], chance)),
            "integration-gap": (_mean(scores["isolated"], CROSS_ITEM_CHOICE), _mean(top, CROSS_ITEM_CHOICE)),
            "isolated-near-chance": (0.05, float(np.mean([excess["isolated"][t] for t in CROSS_ITEM_CHOICE]))),
            "single-source-controls": (_mean(scores["isolated"], CROSS_ITEM_CHOICE), _mean(scores["isolated"], SINGLE_SOURCE)),
            "oracle-perfect": (0.999, min(scores["oracle"].values())),
            "random-at-chance": (RANDOM_Z_BOUND, max(abs(z) for z in z_random.values())),
            "budget-monotone": (0.0, 0.0 if math.isnan(rho) else float(rho)),
            "more-items-lose-more": (_mean(loss, TWO_ITEM), _mean(loss, FOUR_ITEM)),
        },
        diagnostics={
            "n_per_task": QUESTIONS_PER_TASK[quick], "mode": results["oracle"]["mode"],
            "twins": {"sizes": TWIN_SIZES[quick].__dict__, "total_frames": TWIN_TOTAL_FRAMES, **learned},
            "scores_top_budget": {**scores, "budgeted-oracle": top},
            "O_avg": {**{name: r["O_avg"] for name, r in results.items()}, "budgeted-oracle": curve[max(budgets)]},
            "budget_curve_O_avg": {str(b): v for b, v in curve.items()},
            "budget_curve_per_task": {str(b): budgeted[b]["per_task"] for b in budgets},
            "chance": {t: c for t, (c, _) in chance.items()},
            "random_z": z_random,
            "options_only_excess": excess["options-only"],
        },
    )


REPRODUCTION = Reproduction(
    id="crossvid",
    title="CrossVid: A Comprehensive Benchmark for Evaluating Cross-Video Reasoning in Multimodal Large Language Models",
    arxiv="2511.12263",
    claim=("Cross-video reasoning needs integrating evidence spread over several videos, and models fail mostly "
           "there (best MLLM ~50 % vs humans 89 %). On CrossItem-Lite: a learned solver answers the same question "
           "about the same evidence less accurately when the evidence is spread over four items than when it is "
           "in one."),
    paper_result=("O.Avg: Gemini-2.5-Pro 50.4 (C 54.7, T 56.0, M 28.7, CCQA 59.8), GPT-4.1 45.2, best open-source "
                  "35.1; humans 89.2; errors mostly from failing to integrate or compare evidence across videos. "
                  "The paper has no matched single-video control."),
    setup=("Per generator seed: a GRU reader over the MLLM layout (marker + facts seen per item) trained on 500 "
           "twin worlds x 2 layouts (quick; 2,000 full), epoch (<= 20) chosen on 100 validation worlds, tested on "
           "200 held-out twin worlds in both layouts, 128 frames per query; twins = the same four procedures and "
           "question as four videos or as one video of four cooks taking turns. Reference solvers (oracle, random, "
           "budget-limited oracle at 8/32/128 frames, isolated, options-only) on the ten tasks x 60 questions "
           "(quick; 300 full), strict scoring. MLLM numbers are not reproducible offline."),
    checks=(
        Check("learned-cross-item-drop", "learned reader accuracy on twin questions", "cross-item twin (4 videos)",
              "single-item twin (4 cooks in turn, one video)", "greater",
              "a learned solver's accuracy drops when the same evidence is spread over items (matched difficulty)",
              "best MLLM 50.4 vs humans 89.2; errors mostly from integrating evidence across videos "
              "(no matched single-video number)"),
        Check("learned-off-floor", "learned reader accuracy, single-item twins", f"chance + {FLOOR_MARGIN:.2f}",
              "learned reader", "greater", "the reader learned the single-item twins, so a drop has room to show",
              "testbed requirement", kind="regime", applies_to=("learned-cross-item-drop",)),
        Check("options-only-chance", "max over single-choice tasks of |score - chance|", "random solver",
              "options-only solver", "less",
              f"no single-choice answer is predictable from its options alone (within {OPTIONS_ONLY_MARGIN} of a "
              "random solver's distance from chance)", "benchmark-design requirement (spec)", kind="regime",
              margin=OPTIONS_ONLY_MARGIN),
        Check("integration-gap", "mean score, cross-item choice tasks (BU NC CC PEA MSR MOC)", "isolated solver",
              "budget-limited oracle (128 frames)", "greater",
              "integrating evidence across items is what the cross-item tasks measure",
              "errors mostly from failing to integrate evidence across videos", kind="mechanism"),
        Check("isolated-near-chance", "isolated score - chance, cross-item choice tasks", "nominal 0.05",
              "isolated solver", "less",
              "a solver without cross-item integration collapses to chance (within 0.05)",
              "best MLLM 50.4 vs humans 89.2; M.Avg <= 40.7 for every model", kind="mechanism"),
        Check("single-source-controls", "isolated solver mean score", "cross-item choice tasks",
              "single-source tasks (PI, PSS)", "greater",
              "the same solver stays high on single-source control tasks (the cross-item gap)",
              "qualitative (PI, PSS use segments of one video)", kind="mechanism"),
        Check("oracle-perfect", "minimum task score of the oracle", "nominal 0.999", "oracle", "greater",
              "the harness and scorers give an oracle 100 on every task", "harness sanity check", kind="mechanism"),
        Check("random-at-chance", "max |z| of random solver vs chance over tasks", f"bound {RANDOM_Z_BOUND:.2f}",
              "random solver", "less", "a random solver scores at chance on every task (99 % family-wise)",
              "harness sanity check", kind="mechanism"),
        Check("budget-monotone", "Spearman rho(total_frames, O.Avg)", "no trend (0)", "budget-limited oracle",
              "greater", "more frames never hurt a budget-limited reasoner", "128 frames per query protocol",
              kind="mechanism"),
        Check("more-items-lose-more", "score at 128 minus at 8 frames", "2-item tasks (FSA MSR MOC CCQA)",
              "4-item tasks (NC CC)", "greater",
              "at a small budget, 4-item tasks lose more (each item gets fewer frames)",
              "frames // n_videos couples difficulty to the number of videos", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="learned-cross-item-drop",
    trial_seconds=14.0,
)
