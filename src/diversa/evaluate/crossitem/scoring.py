"""CrossVid's scoring and aggregation rules, exactly as the official evaluation scripts apply them.

Li et al., "CrossVid: A Comprehensive Benchmark for Evaluating Cross-Video
Reasoning in Multimodal Large Language Models", arXiv:2511.12263.

Three answer formats:

* choice: single-choice (NC, CC, PEA, PI, MSR, MOC) is correct iff the
  response string equals the answer letter; multiple-choice (BU) iff it
  equals the concatenated answer letters (all-or-nothing, order-sensitive);
  ordering (PSS) iff it equals the answer string "2->3->1";
* temporal localisation (FSA): IoU of the parsed "start,end" with the truth,
  ``max(0, min(b, e*) - max(a, s*)) / (max(b, e*) - min(a, s*))``, 0 for an
  unparsable response or a zero denominator;
* open-ended (CCQA): per scoring point, ``coverage`` and ``correctness``;
  question score ``sum(coverage) + sum(correctness)`` out of ``2 n_points``;
  the task score is the micro average over questions.

``strict=True`` is the official, brittle string equality (no stripping);
``strict=False`` parses tolerantly (strip, standalone letters, letter sets,
integer lists, sorted interval endpoints). Report which mode you used and
never mix them. The rule-based CCQA judge replaces the official LLM judge:
it approximates it, with the same score formula.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from diversa.datasets.crossitem.tasks import DIMENSIONS, TASKS

_LETTER = re.compile(r"(?<![A-Za-z])([A-D])(?![A-Za-z])")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_INTEGER = re.compile(r"\d+")


def _text(response) -> str:
    return response if isinstance(response, str) else ""


def score_single_choice(response: str, answer: str, strict: bool = True) -> float:
    """1.0 iff the response names the answer letter (strict: is exactly it; tolerant: it is the
    only standalone letter A-D in the response)."""
    response = _text(response)
    if strict:
        return float(response == answer)
    letters = set(_LETTER.findall(response.strip()))
    return float(letters == {answer})


def score_multi_choice(response: str, answer_letters, strict: bool = True) -> float:
    """All-or-nothing: strict, the response equals the letters concatenated in order; tolerant,
    the response consists of letters A-D (with spaces, commas or "and") forming the same set."""
    response = _text(response)
    answer_letters = list(answer_letters)
    if strict:
        return float(response == "".join(answer_letters))
    cleaned = re.sub(r"(?i)\band\b|[\s,;.&+/]", "", response)
    if not cleaned or not re.fullmatch(r"[A-D]+", cleaned):
        return 0.0
    return float(set(cleaned) == set(answer_letters))


def score_ordering(response: str, answer: str, strict: bool = True) -> float:
    """Strict: the response equals "a->b->c"; tolerant: its integers, in order, equal the answer's."""
    response = _text(response)
    if strict:
        return float(response == answer)
    return float(_INTEGER.findall(response) == _INTEGER.findall(answer))


def interval_iou(pred: Sequence[float], gt: Sequence[float]) -> float:
    """Official IoU of two intervals (a, b) and (s, e): overlap over the hull; 0 when the hull is empty."""
    a, b = float(pred[0]), float(pred[1])
    s, e = float(gt[0]), float(gt[1])
    denominator = max(b, e) - min(a, s)
    if denominator == 0:
        return 0.0
    return max(0.0, min(b, e) - max(a, s)) / denominator


def parse_interval(response: str, strict: bool = True) -> tuple[float, float] | None:
    """Strict: "a,b" as two floats; tolerant: the first two numbers anywhere, sorted. None when unparsable."""
    response = _text(response)
    if strict:
        parts = response.split(",")
        if len(parts) != 2:
            return None
        try:
            return float(parts[0]), float(parts[1])
        except ValueError:
            return None
    numbers = [float(x) for x in _NUMBER.findall(response)]
    if len(numbers) != 2:
        return None
    return tuple(sorted(numbers))


def score_interval(response: str, gt: Sequence[float], strict: bool = True) -> float:
    """IoU of the parsed response with the true interval (0 when unparsable)."""
    pred = parse_interval(response, strict)
    return 0.0 if pred is None else interval_iou(pred, gt)


def judge_open_ended(response: str, scoring_points) -> tuple[list[bool], list[bool]]:
    """Rule-based judge of a free-form comparison (stands in for the official LLM judge).

    For each scoring point (aspect, value in A, value in B): ``coverage`` iff
    one line of the response names the aspect and at least one of its values;
    ``correctness`` iff such a line also attributes both values to the right
    video ("A: x" and "B: y"). Case-insensitive.
    """
    lines = [line.lower() for line in _text(response).splitlines()]
    coverage, correctness = [], []
    for aspect, value_a, value_b in scoring_points:
        aspect, value_a, value_b = aspect.lower(), value_a.lower(), value_b.lower()
        on_aspect = [line for line in lines if aspect in line]
        covered = any(value_a in line or value_b in line for line in on_aspect)
        correct = covered and any(f"a: {value_a}" in line and f"b: {value_b}" in line for line in on_aspect)
        coverage.append(covered)
        correctness.append(correct)
    return coverage, correctness


def open_ended_points(response: str, scoring_points) -> tuple[int, int]:
    """(points earned, points possible) of one CCQA question: sum(coverage) + sum(correctness) of 2 n."""
    coverage, correctness = judge_open_ended(response, scoring_points)
    return sum(coverage) + sum(correctness), 2 * len(scoring_points)


def micro_average(points: Sequence[tuple[int, int]]) -> float:
    """Sum of points earned over sum of points possible (the official CCQA task score)."""
    possible = sum(p for _, p in points)
    return sum(e for e, _ in points) / possible if possible else 0.0


def score_response(question, response: str, strict: bool = True) -> tuple[float, float]:
    """(earned, possible) of a response: possible is 1 except for CCQA (2 per scoring point)."""
    fmt = question.format
    if fmt == "single_choice":
        return score_single_choice(response, question.answer, strict), 1.0
    if fmt == "multi_choice":
        return score_multi_choice(response, question.answer, strict), 1.0
    if fmt == "ordering":
        return score_ordering(response, question.answer, strict), 1.0
    if fmt == "interval":
        return score_interval(response, question.answer, strict), 1.0
    earned, possible = open_ended_points(response, question.extra["scoring_points"])
    return float(earned), float(possible)


def aggregate(per_task: Mapping[str, float]) -> dict[str, float | None]:
    """Dimension averages and the overall score as the official leaderboard computes them.

    C_avg, T_avg, M_avg are means of their dimension's tasks; CCQA is its task
    score; O_avg is the mean of the task scores (not of the dimension
    averages). Averages over the tasks present; None for a dimension without any.
    """
    unknown = [t for t in per_task if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; expected names among {', '.join(TASKS)}.")

    def mean(tasks):
        values = [per_task[t] for t in tasks if t in per_task]
        return sum(values) / len(values) if values else None

    return {"C_avg": mean(DIMENSIONS["comparative"]), "T_avg": mean(DIMENSIONS["temporal"]),
            "M_avg": mean(DIMENSIONS["multiview"]), "CCQA": mean(DIMENSIONS["freeform"]),
            "O_avg": mean(list(per_task))}


def overall_from_dimensions(c_avg: float, t_avg: float, m_avg: float, ccqa: float) -> float:
    """O.Avg from published dimension scores: the task-weighted mean (4 C + 3 T + 2 M + CCQA) / 10."""
    return (4 * c_avg + 3 * t_avg + 2 * m_avg + ccqa) / 10
