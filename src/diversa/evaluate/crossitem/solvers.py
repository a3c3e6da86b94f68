"""Reference solvers of CrossItem-Lite and the prompt for any text model.

A solver answers ``answer(question, frames_per_item) -> str`` where
``question`` is a :class:`PublicQuestion` (text, options, machine-readable
params; no items, no answer) and ``frames_per_item`` holds the frames the
harness rendered under the budget. Any callable with that signature works
too. Reference solvers (analogue of CrossVid, Li et al., arXiv:2511.12263):

* :class:`RandomSolver` — a uniformly random valid answer (chance level);
* :class:`OracleSolver` — re-derives every answer from the full items
  (harness sanity check: 100 on every task);
* :class:`BudgetedOracleSolver` — exact reasoning over the facts visible in
  its frames only; ties broken at random;
* :class:`IsolatedSolver` — the same, but it looks at one item per question
  (the one asked about) and so cannot integrate evidence across items: the
  failure mode the paper reports. On single-source tasks (PI, PSS) it sees
  everything, like the budgeted oracle;
* :class:`OptionsOnlySolver` — never looks at frames; picks the option most
  similar to the others (detects answers leaking through the options).

:func:`render_prompt` lays a question and its frames out as text in the
official layout ("Video i:" blocks, then the question, options and an answer
instruction), so a text LLM can be evaluated with the same scorers.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np

from diversa.datasets.crossitem.items import (
    Frame,
    View,
    full_view,
    observe,
    unseen_view,
)
from diversa.datasets.crossitem.reasoning import LETTERS, REASONERS, format_interval
from diversa.datasets.crossitem.tasks import PublicQuestion, Question
from diversa.datasets.crossitem.worlds import describe_event

#: The 14 answers of a 4-option multiple-choice question with 1-3 correct options.
MULTI_CHOICE_ANSWERS = tuple("".join(c) for k in (1, 2, 3) for c in itertools.combinations(LETTERS, k))


def question_rng(seed, question_id: str) -> np.random.Generator:
    """A generator for one question, independent of the order questions are asked in."""
    return np.random.default_rng([0 if seed is None else int(seed), zlib.crc32(question_id.encode())])


class RandomSolver:
    """Uniform over valid answers: a letter (1/4), one of the 14 letter subsets of size 1-3,
    a permutation of the segments, an interval inside the last item, or an empty comparison."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def answer(self, question: PublicQuestion, frames_per_item) -> str:
        rng = question_rng(self.seed, question.id)
        if question.format == "single_choice":
            return LETTERS[int(rng.integers(len(question.options)))]
        if question.format == "multi_choice":
            return MULTI_CHOICE_ANSWERS[int(rng.integers(len(MULTI_CHOICE_ANSWERS)))]
        if question.format == "ordering":
            return "->".join(str(i + 1) for i in rng.permutation(question.n_items))
        if question.format == "interval":
            a, b = np.sort(rng.uniform(0, question.item_durations[-1], 2))
            return format_interval(a, b)
        return ""


class OracleSolver:
    """Answers from the full items of the questions it was given (the answer key's source)."""

    name = "oracle"

    def __init__(self, questions: list[Question], seed: int = 0):
        self.items = {q.id: q.items for q in questions}
        self.seed = seed

    def answer(self, question: PublicQuestion, frames_per_item) -> str:
        views = [full_view(item) for item in self.items[question.id]]
        return REASONERS[question.task](question.params, views, question_rng(self.seed, question.id))


class BudgetedOracleSolver:
    """Exact reasoning over what its frames show; what they do not show is unknown."""

    name = "budgeted-oracle"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def views(self, question: PublicQuestion, frames_per_item) -> list[View]:
        return [observe(d, frames) for d, frames in zip(question.item_durations, frames_per_item)]

    def answer(self, question: PublicQuestion, frames_per_item) -> str:
        views = self.views(question, frames_per_item)
        return REASONERS[question.task](question.params, views, question_rng(self.seed, question.id))


class IsolatedSolver(BudgetedOracleSolver):
    """The budgeted oracle restricted to one item per question (no cross-item integration)."""

    name = "isolated"

    def views(self, question: PublicQuestion, frames_per_item) -> list[View]:
        views = super().views(question, frames_per_item)
        if question.single_source:
            return views
        return [v if i == question.focus else unseen_view(v.duration) for i, v in enumerate(views)]


def _similarity(a: str, b: str) -> float:
    numbers = [float(x) for x in (a, b) if x.replace(".", "", 1).lstrip("-").isdigit()]
    if len(numbers) == 2:
        return -abs(numbers[0] - numbers[1])
    words_a, words_b = set(a.lower().split()), set(b.lower().split())
    return len(words_a & words_b) / max(1, len(words_a | words_b))


class OptionsOnlySolver(RandomSolver):
    """Picks the option most similar to the others (the medoid), never looking at a frame.

    Scores above chance reveal answers predictable from the options alone.
    Formats without options fall back to :class:`RandomSolver`.
    """

    name = "options-only"

    def answer(self, question: PublicQuestion, frames_per_item) -> str:
        if question.format != "single_choice":
            return super().answer(question, frames_per_item)
        rng = question_rng(self.seed, question.id)
        options = question.options
        totals = [sum(_similarity(o, p) for j, p in enumerate(options) if j != i) for i, o in enumerate(options)]
        best = [i for i, t in enumerate(totals) if np.isclose(t, max(totals))]
        return LETTERS[best[int(rng.integers(len(best)))]]


# ---------------------------------------------------------------------------------------------
# Prompt for text models
# ---------------------------------------------------------------------------------------------

def describe_fact(key: tuple) -> str:
    """A fact as a short phrase."""
    kind = key[0]
    if kind == "action":
        return f"doing: {key[1]}"
    if kind == "actor":
        return f"subject: {key[1]}"
    if kind == "start":
        return f"{key[1]} is at the {key[2]}"
    if kind == "key start":
        return f"the key lies at the {key[1]}"
    if kind == "event":
        return describe_event(key[2:])
    if kind == "step":
        return f"{key[1]} {key[2]} ({key[3]})"
    if kind == "object":
        return f"{key[1]}: {key[3]} {key[2]} at ({key[4]:.2f}, {key[5]:.2f})"
    return " ".join(map(str, key))


def _item_label(question: PublicQuestion, index: int) -> str:
    if question.task in ("MSR", "MOC"):
        return f"View {'AB'[index]}"
    if question.task == "PSS":
        return f"Segment {index + 1}"
    if question.task == "CCQA":
        return f"Video {'AB'[index]}"
    if question.task in ("NC", "PI"):
        return f"Story {index + 1}"
    return f"Video {index + 1}"


def render_prompt(question: PublicQuestion, frames_per_item: list[list[Frame]]) -> str:
    """The question as a text prompt: one block per item listing its frames with timestamps,
    then the question, the lettered options and the answer-format instruction."""
    blocks = []
    for i, frames in enumerate(frames_per_item):
        lines = [f"{_item_label(question, i)}: ({question.item_durations[i]:.1f}s, {len(frames)} frames)"]
        lines += [f"  [{f.time:.1f}s] " + ("; ".join(sorted(describe_fact(k) for k in f.facts)) or "(nothing visible)")
                  for f in frames]
        blocks.append("\n".join(lines))
    options = [f"{LETTERS[i]}. {o}" for i, o in enumerate(question.options)]
    return "\n\n".join([*blocks, question.question, *(["\n".join(options)] if options else []), question.instruction])
