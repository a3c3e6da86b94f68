"""Twin questions of matched difficulty: the same evidence in one item or spread over several.

CrossVid (Li et al., "CrossVid: A Comprehensive Benchmark for Evaluating
Cross-Video Reasoning in Multimodal Large Language Models", arXiv:2511.12263)
reports that models fail mostly when evidence is spread over several
videos. Comparing a model's accuracy on cross-video tasks with its accuracy on
single-video tasks confounds that with everything else that differs between
tasks (the reasoning needed, the number of facts, the options). A twin pair
removes the confound by construction of the data:

* one world: four procedures of the same dish, drawn exactly as CrossVid's
  Culinary Comparison (CC) draws them, with one question whose answer is
  unique: which source uses a named ingredient, or one of CC's three
  comparisons (an ingredient no one else uses, the most heating steps,
  seasoning before the first heating);
* the **cross-item** twin shows the four procedures as four videos (CC
  itself), options "Video 1".."Video 4";
* the **single-item** twin shows them as one video in which four cooks take
  turns, in the same order, each fact tagged with its cook; options are the
  cooks' names.

Every procedure is rescaled to one common duration D, so under the official
protocol (``total_frames`` split equally over a query's items) the single
video of length 4 D gets as many frames as the four videos together, at the
same times relative to each procedure: the facts a solver can see, the times
it sees them, their order, the question's meaning, the option order and the
answer letter are identical, and exact reasoning scores the same on both.
Only where the facts live differs (a cook tag and a segment of one item, or
an item of their own); that is what "matched difficulty" means here.
:func:`source_views` recovers one view per procedure from either twin.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from diversa.datasets.crossitem import worlds as w
from diversa.datasets.crossitem.items import Fact, Item, View, full_view
from diversa.datasets.crossitem.reasoning import LETTERS, cc_answers, letter_of, pick, steps_of
from diversa.datasets.crossitem.tasks import Question, cc_procedures

#: Twin task names: the same Culinary Comparison question inside one item or across items.
SINGLE_ITEM, CROSS_ITEM = "CC-single", "CC-cross"
#: Question kinds: which source uses a named ingredient (find the evidence and the item it is in),
#: then CC's three comparisons (an ingredient no other source uses, most heating steps, seasoning
#: before the first heating).
KINDS = ("uses_ingredient", "unique_ingredient", "most_heat", "season_before_heat")
COOKS = ("Ada", "Bo", "Cy", "Di", "Eli", "Fay", "Gus", "Hal")
N_SOURCES = 4
#: Entropy words that keep the streams of the splits (and of twins vs the ten tasks) apart.
SPLIT_TAGS = {"train": 1_000_003, "test": 1_000_033}
_TWIN_STREAM = 97

_SINGLE_TEXT = {"unique_ingredient": "Which cook uses an ingredient that none of the other cooks use?",
                "most_heat": "Which cook has the most heating steps?",
                "season_before_heat": "Which cook seasons before first heating anything?"}
_CROSS_TEXT = {"unique_ingredient": "Which video uses an ingredient that none of the other videos use?",
               "most_heat": "Which video has the most heating steps?",
               "season_before_heat": "Which video seasons before first heating anything?"}


class TwinPair(NamedTuple):
    """One world asked as a single-item question and as a cross-item question."""

    single: Question
    cross: Question


def _rescaled(item: Item, duration: float) -> Item:
    scale = duration / item.duration
    facts = tuple(Fact(f.key, f.start * scale, f.end * scale) for f in item.facts)
    return Item(item.kind, duration, facts, seed=item.seed)


def _procedures(rng: np.random.Generator, kind: str) -> tuple[str, list[Item]]:
    """Four procedures of one dish drawn as CC draws them, with a unique answer to the ``kind``
    question, rescaled to their mean duration."""
    while True:
        dish = w.DISHES[int(rng.integers(len(w.DISHES)))]
        items = [w.procedure_item(rng, steps) for steps in cc_procedures(rng, kind, dish)]
        if len(cc_answers(kind, [full_view(i) for i in items])) == 1:
            duration = float(np.mean([i.duration for i in items]))
            return dish, [_rescaled(i, duration) for i in items]


def _cooking_show(items: list[Item], cooks: list[str], seed: int) -> Item:
    """The procedures one after another in one item, each step fact tagged with its cook's name."""
    facts = tuple(Fact((*f.key, cook), k * item.duration + f.start, k * item.duration + f.end)
                  for k, (item, cook) in enumerate(zip(items, cooks)) for f in item.facts)
    return Item("cooking show", sum(item.duration for item in items), facts, seed=seed)


def _odd_ingredient(items: list[Item], source: int) -> str:
    """The ingredient only ``source`` uses (the one CC's unique-ingredient draw swapped in)."""
    used = [{f.key[3] for f in item.facts} for item in items]
    others = set().union(*(u for k, u in enumerate(used) if k != source))
    return sorted(used[source] - others)[0]


def make_twin(rng: np.random.Generator, pair_id: str) -> TwinPair:
    """One twin pair drawn from ``rng``: a kind, a world with a unique answer, cooks, option order."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    world_kind = "unique_ingredient" if kind == "uses_ingredient" else kind
    dish, items = _procedures(rng, world_kind)
    answer_source = cc_answers(world_kind, [full_view(i) for i in items])[0]
    params: dict = {"kind": kind}
    single_text, cross_text = _SINGLE_TEXT.get(kind), _CROSS_TEXT.get(kind)
    if kind == "uses_ingredient":
        params["ingredient"] = _odd_ingredient(items, answer_source)
        single_text = f"Which cook uses the {params['ingredient']}?"
        cross_text = f"Which video uses the {params['ingredient']}?"
    cooks = [str(c) for c in rng.choice(COOKS, N_SOURCES, replace=False)]
    values = [int(v) for v in rng.permutation(N_SOURCES)]
    params["option_values"] = values
    letter = LETTERS[values.index(answer_source)]
    extra = {"dish": dish, "answer_source": answer_source}
    single = Question(f"{SINGLE_ITEM}-{pair_id}", SINGLE_ITEM, "comparative", "single_choice",
                      (_cooking_show(items, cooks, seed=items[0].seed),), single_text,
                      tuple(cooks[v] for v in values), letter, {**params, "cooks": cooks}, 0,
                      {**extra, "layout": "single"})
    cross = Question(f"{CROSS_ITEM}-{pair_id}", CROSS_ITEM, "comparative", "single_choice", tuple(items),
                     cross_text, tuple(f"Video {v + 1}" for v in values), letter, params, 0,
                     {**extra, "layout": "cross"})
    return TwinPair(single, cross)


def generate_twins(n: int, seed: int = 0, split: str = "test") -> list[TwinPair]:
    """``n`` twin pairs; pair ``k`` depends only on (seed, split, k), and the splits never share a stream.

    ``split="train"`` draws the questions a learned solver is fitted on,
    ``"test"`` the ones it is judged on.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}.")
    if split not in SPLIT_TAGS:
        raise ValueError(f"split must be one of {sorted(SPLIT_TAGS)}, got {split!r}.")
    return [make_twin(np.random.default_rng([int(seed), _TWIN_STREAM, k, SPLIT_TAGS[split]]), f"{split}-{seed}-{k}")
            for k in range(int(n))]


def source_views(question, views: list[View]) -> list[View]:
    """One view per procedure, from either twin: the items of a cross-item twin, or each cook's
    facts of a single-item twin (tag removed, times relative to the cook's turn), in source order."""
    if question.task == CROSS_ITEM:
        return list(views)
    if question.task != SINGLE_ITEM:
        raise ValueError(f"question must be a twin ({SINGLE_ITEM} or {CROSS_ITEM}), got task {question.task!r}.")
    (view,) = views
    cooks = question.params["cooks"]
    length = view.duration / len(cooks)
    per_cook = [View(length, {}, view.observed) for _ in cooks]
    for key, (start, end) in view.facts.items():
        k = cooks.index(key[-1])
        per_cook[k].facts[key[:-1]] = (start - k * length, end - k * length)
    return per_cook


def twin_answers(params: dict, views: list[View]) -> list[int]:
    """Sources for which the twin question holds, from one view per source (see :func:`source_views`)."""
    if params["kind"] == "uses_ingredient":
        return [k for k, view in enumerate(views) if any(s[2] == params["ingredient"] for s in steps_of(view))]
    return cc_answers(params["kind"], views)


def reason_twin(question, views: list[View], rng) -> str:
    """Exact reasoning over what the views show, on either twin (ties broken with ``rng``)."""
    holds = set(twin_answers(question.params, source_views(question, views)))
    return letter_of(pick(rng, [i for i, v in enumerate(question.params["option_values"]) if v in holds]))
