"""The ten CrossItem-Lite tasks in CrossVid's four dimensions, and their question generators.

CrossVid (Li et al., "CrossVid: A Comprehensive Benchmark for Evaluating
Cross-Video Reasoning in Multimodal Large Language Models", arXiv:2511.12263)
groups ten tasks into comparative analysis (BU, NC, CC, PEA), temporal
understanding (PI, FSA, PSS), multi-view reasoning (MSR, MOC) and free-form
QA (CCQA). Each generator below draws one question of its task from a
``numpy.random.Generator``: the items (symbolic videos), the templated text,
options with shuffled letters and the answer, re-sampling until the answer is
unique. Answers are computed by the task's reasoner on full views, so an
oracle re-derives every one of them.

PI and PSS are single-source tasks (segments of one story / one procedure),
as in the official benchmark: they are the controls that need no cross-item
integration. PSS presents its segments as separate items, so the frame budget
is split over them like ``frames // n_videos``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diversa.datasets.crossitem import reasoning as r
from diversa.datasets.crossitem import worlds as w
from diversa.datasets.crossitem.items import Fact, Item, full_view

#: task -> (dimension, answer format), in the official order.
TASKS: dict[str, tuple[str, str]] = {
    "BU": ("comparative", "multi_choice"),
    "NC": ("comparative", "single_choice"),
    "CC": ("comparative", "single_choice"),
    "PEA": ("comparative", "single_choice"),
    "PI": ("temporal", "single_choice"),
    "FSA": ("temporal", "interval"),
    "PSS": ("temporal", "ordering"),
    "MSR": ("multiview", "single_choice"),
    "MOC": ("multiview", "single_choice"),
    "CCQA": ("freeform", "open_ended"),
}
DIMENSIONS = {"comparative": ("BU", "NC", "CC", "PEA"), "temporal": ("PI", "FSA", "PSS"),
              "multiview": ("MSR", "MOC"), "freeform": ("CCQA",)}
#: Tasks whose items are parts of one source (no cross-item integration needed).
SINGLE_SOURCE = frozenset({"PI", "PSS"})

_FORMAT_INSTRUCTIONS = {
    "single_choice": "Answer with the letter of the correct option only.",
    "multi_choice": "One to three options are correct. Answer with all correct letters, in alphabetical order, "
                    "with nothing else (e.g. AC).",
    "interval": "Answer with the start and end time in seconds as start,end (e.g. 12.5,30.0).",
    "ordering": "Answer with the segment numbers in chronological order joined by -> (e.g. 2->3->1).",
    "open_ended": "List each difference on its own line as: aspect | A: value | B: value.",
}


@dataclass(frozen=True)
class PublicQuestion:
    """What a solver may see of a question: no items, no answer.

    ``params`` is the machine-readable meaning of ``question`` and
    ``options`` (e.g. the statements of BU, the option values), so symbolic
    solvers need not parse text; it reveals nothing the text does not.
    ``focus`` is the item the question is about (Video 1, the queried video,
    view A), which a solver that looks at one item only would look at.
    """

    id: str
    task: str
    dimension: str
    format: str
    question: str
    options: tuple[str, ...]
    params: dict
    item_durations: tuple[float, ...]
    focus: int
    single_source: bool

    @property
    def n_items(self) -> int:
        return len(self.item_durations)

    @property
    def instruction(self) -> str:
        """The answer-format instruction of the prompt (our wording of the official one)."""
        return _FORMAT_INSTRUCTIONS[self.format]


@dataclass(frozen=True)
class Question:
    """A generated question with its items and answer.

    ``answer`` is the letter(s) (choice), "a->b->c" (ordering), (start, end)
    (interval) or the reference response (open-ended, with
    ``extra["scoring_points"]``: (aspect, value in A, value in B) tuples).
    """

    id: str
    task: str
    dimension: str
    format: str
    items: tuple[Item, ...]
    question: str
    options: tuple[str, ...]
    answer: Any
    params: dict
    focus: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def single_source(self) -> bool:
        return self.task in SINGLE_SOURCE

    def public(self) -> PublicQuestion:
        return PublicQuestion(self.id, self.task, self.dimension, self.format, self.question, self.options,
                              self.params, tuple(i.duration for i in self.items), self.focus, self.single_source)


def _shuffled(rng: np.random.Generator, values: list) -> list:
    return [values[i] for i in rng.permutation(len(values))]


def _letter(values: list, value) -> str:
    return r.LETTERS[values.index(value)]


# ---------------------------------------------------------------------------------------------
# Comparative analysis
# ---------------------------------------------------------------------------------------------

def _bu_statement(rng, seqs: list[list[str]]) -> tuple:
    kind = ("every", "only", "before", "same_start")[int(rng.integers(4))]
    if kind == "every":
        return ("every", seqs[0][int(rng.integers(len(seqs[0])))])
    if kind == "only":
        i = int(rng.integers(3))
        return ("only", i, seqs[i][int(rng.integers(len(seqs[i])))])
    if kind == "before":
        a, b = sorted(rng.choice(len(seqs[0]), 2, replace=False))
        return ("before", seqs[0][a], seqs[0][b])
    i, j = sorted(rng.choice(3, 2, replace=False))
    return ("same_start", int(i), int(j))


def statement_text(statement: tuple) -> str:
    kind = statement[0]
    if kind == "every":
        return f'The action "{statement[1]}" appears in every video.'
    if kind == "only":
        return f'Only Video {statement[1] + 1} contains the action "{statement[2]}".'
    if kind == "before":
        return f'"{statement[1]}" happens before "{statement[2]}" in every video.'
    return f"Videos {statement[1] + 1} and {statement[2] + 1} start with the same action."


def generate_bu(rng):
    while True:
        pool = [str(a) for a in rng.choice(w.ACTIONS, 10, replace=False)]
        clips = [w.make_clip(rng, pool) for _ in range(3)]
        views = [full_view(c) for c in clips]
        seqs = [[k[1] for k in v.keys_of("action")] for v in views]
        statements: list[tuple] = []
        while len(statements) < 4:
            s = _bu_statement(rng, seqs)
            if s not in statements:
                statements.append(s)
        truth = [r.bu_statement_truth(s, views) for s in statements]
        if 1 <= sum(truth) <= 3:
            answer = "".join(r.LETTERS[i] for i, t in enumerate(truth) if t)
            return {"items": clips, "question": "Which statements about the three videos are true?",
                        "options": [statement_text(s) for s in statements], "answer": answer,
                        "params": {"statements": statements}, "focus": 0}


def _story_until(rng, n_events, accept, tries: int = 400):
    for _ in range(tries):
        start, events = w.make_story(rng, n_events)
        if accept(start, events):
            return start, events
    return None


def generate_nc(rng):
    kind = ("same_ending", "key_never_changes")[int(rng.integers(2))]
    while True:
        target = int(rng.integers(4))
        n_events = [int(rng.integers(5, 9)) for _ in range(4)]
        stories = []
        if kind == "same_ending":
            first = w.make_story(rng, n_events[0])
            ending = w.story_ending(w.final_state(*first))
            stories.append(first)
            for k in range(1, 4):
                same = k == target + 1  # target 3 means "none of them"
                stories.append(_story_until(rng, n_events[k], lambda s, e, same=same, ending=ending:
                                            (w.story_ending(w.final_state(s, e)) == ending) == same))
        else:
            for k in range(4):
                stories.append(_story_until(rng, n_events[k], lambda s, e, target_story=(k == target):
                                            r.key_changes_hands(e) != target_story))
        if any(s is None for s in stories):
            continue
        items = [w.story_item(rng, *s) for s in stories]
        if kind == "same_ending":
            values = _shuffled(rng, [1, 2, 3, None])
            options = [f"Story {v + 1}" if v is not None else "None of Stories 2-4" for v in values]
            answer_value = None if target == 3 else target + 1
            text = "Which story ends the same way as Story 1?"
        else:
            values = _shuffled(rng, [0, 1, 2, 3])
            options = [f"Story {v + 1}" for v in values]
            answer_value = target
            text = "In which story does the key never change hands?"
        return {"items": items, "question": text, "options": options, "answer": _letter(values, answer_value),
                    "params": {"kind": kind, "option_values": values}, "focus": 0}


_CC_TEXT = {"unique_ingredient": "Which video uses an ingredient that none of the other videos use?",
            "most_heat": "Which video has the most heating steps?",
            "season_before_heat": "Which video seasons before it first heats anything?"}


def cc_procedures(rng, kind: str, dish: str) -> list[list[tuple]]:
    """The step lists of CC's four videos of one dish for a question of ``kind`` (before the uniqueness check)."""
    if kind == "unique_ingredient":
        base = w.choose_ingredients(rng, dish)
        target, slot = int(rng.integers(4)), sorted(base)[int(rng.integers(len(base)))]
        others = [c for c in w.TEMPLATES[dish].slots[slot] if c != base[slot]]
        changed = {**base, slot: others[int(rng.integers(len(others)))]}
        return [w.instantiate(rng, dish, changed if k == target else base) for k in range(4)]
    return [w.instantiate(rng, dish, w.choose_ingredients(rng, dish)) for _ in range(4)]


def generate_cc(rng):
    kind = ("unique_ingredient", "most_heat", "season_before_heat")[int(rng.integers(3))]
    while True:
        dish = w.DISHES[int(rng.integers(len(w.DISHES)))]
        items = [w.procedure_item(rng, steps) for steps in cc_procedures(rng, kind, dish)]
        holds = r.cc_answers(kind, [full_view(i) for i in items])
        if len(holds) == 1:
            values = _shuffled(rng, [0, 1, 2, 3])
            return {"items": items, "question": _CC_TEXT[kind], "options": [f"Video {v + 1}" for v in values],
                        "answer": _letter(values, holds[0]), "params": {"kind": kind, "option_values": values},
                        "focus": 0, "extra": {"dish": dish}}


def _inject_error(rng, steps: list[tuple], error: str) -> tuple[list[tuple], int]:
    """The steps with one error of type ``error`` and the index of the step asked about."""
    steps = list(steps)
    commuting = w.commuting_pairs(w.ASSEMBLY)
    if error in ("wrong order", "previous one is mistake"):
        fixed = [i for i in range(len(steps) - 1)
                 if (steps[i][:2], steps[i + 1][:2]) not in commuting and (steps[i + 1][:2], steps[i][:2]) not in commuting]
        i = fixed[int(rng.integers(len(fixed)))]
        steps[i], steps[i + 1] = steps[i + 1], steps[i]
        return steps, i if error == "wrong order" else i + 1
    slots = list(w.TEMPLATES[w.ASSEMBLY].slots)
    if error == "shouldn't have happened":
        i = int(rng.integers(1, len(steps)))
        part = w.FOREIGN_PARTS[int(rng.integers(len(w.FOREIGN_PARTS)))]
        steps.insert(i, ("attach", slots[int(rng.integers(len(slots)))], part))
        return steps, i
    i = int(rng.integers(len(steps)))
    other = [s for s in slots if s != steps[i][1]]
    steps[i] = ("attach", other[int(rng.integers(len(other)))], steps[i][2])
    return steps, i


def generate_pea(rng):
    # The error type is drawn once, outside the rejection loop: redrawing it on every retry would make
    # the answer's distribution follow the acceptance rate of each type, a prior the options reveal.
    error = r.ERROR_TYPES[int(rng.integers(4))]
    while True:
        parts = w.choose_ingredients(rng, w.ASSEMBLY)
        videos = [w.instantiate(rng, w.ASSEMBLY, parts) for _ in range(3)]
        v = int(rng.integers(3))
        videos[v], asked = _inject_error(rng, videos[v], error)
        items = [w.procedure_item(rng, steps) for steps in videos]
        fact = items[v].facts[asked]
        window = (round(fact.start, 1), round(fact.end, 1))
        views = [full_view(i) for i in items]
        found = r.pea_error_type(views[v], window, [x for j, x in enumerate(views) if j != v], np.random.default_rng(0))
        if found != error:
            continue
        values = _shuffled(rng, list(r.ERROR_TYPES))
        return {"items": items,
                    "question": f"What is wrong with the step between {window[0]:.1f}s and {window[1]:.1f}s in Video {v + 1}?",
                    "options": values, "answer": _letter(values, error),
                    "params": {"video": v, "window": window, "option_values": values}, "focus": v}


# ---------------------------------------------------------------------------------------------
# Temporal understanding
# ---------------------------------------------------------------------------------------------

def _continuation(rng, state, names, history: list[tuple], n_events: int) -> list[tuple] | None:
    """``n_events`` further events, each valid when it happens and new to the story."""
    events: list[tuple] = []
    for _ in range(n_events):
        event = w.random_valid_event(rng, state, names, exclude=history + events)
        if event is None:
            return None
        events.append(event)
        state = w.apply_event(state, event)
    return events


def _exclusive_ending(rng, start, begin, candidates, middle, names, tries: int = 20) -> list[tuple] | None:
    """Two ending events possible after ``middle`` and impossible after every other candidate."""
    state = w.apply_event(w.final_state(start, begin), middle)
    for _ in range(tries):
        end = _continuation(rng, state, names, begin + candidates, 2)
        if end is not None and [c for c in candidates if r.transition_valid(start, begin + [c] + end)] == [middle]:
            return end
    return None


def generate_pi(rng):
    """Four candidate middles drawn alike (each a possible next event after the beginning), kept
    only when each of them admits an ending that it alone makes possible; then one of them, chosen
    uniformly, is what happened, with its ending.

    The options are then exchangeable: nothing about them, apart from the story, tells the true one
    from the others. (Drawing wrong middles any other way gives their verbs a different distribution
    from the truth's, and the options alone give the answer away.)
    """
    while True:
        start, begin = w.make_story(rng, 2)
        names = tuple(n for n, _ in start.at)
        state = w.final_state(start, begin)
        candidates = _continuation(rng, state, names, begin, 1) or []
        while candidates and len(candidates) < 4:
            event = w.random_valid_event(rng, state, names, exclude=begin + candidates)
            if event is None:
                break
            candidates.append(event)
        if len(candidates) < 4:
            continue
        endings = []
        for candidate in candidates:
            endings.append(_exclusive_ending(rng, start, begin, candidates, candidate, names))
            if endings[-1] is None:
                break
        if endings[-1] is None:
            continue
        k = int(rng.integers(4))
        middle, end = candidates[k], endings[k]
        item = w.story_item(rng, start, begin + end, parts=["beginning"] * 2 + ["ending"] * 2)
        values = _shuffled(rng, candidates)
        return {"items": [item], "question": "The beginning and the ending of a story are shown. What happens in between?",
                    "options": [w.describe_event(e) for e in values], "answer": _letter(values, middle),
                    "params": {"option_values": values}, "focus": 0}


def generate_fsa(rng):
    while True:
        dish = w.DISHES[int(rng.integers(len(w.DISHES)))]
        items = [w.procedure_item(rng, w.instantiate(rng, dish, w.choose_ingredients(rng, dish))) for _ in range(2)]
        first = {f.key[1:3]: f for f in items[0].facts}
        second = {f.key[1:3]: f for f in items[1].facts}
        common = [k for k in first if k in second]
        if not common:
            continue
        key = common[int(rng.integers(len(common)))]
        ref = (round(first[key].start, 1), round(first[key].end, 1))
        answer = (round(second[key].start, 1), round(second[key].end, 1))
        return {"items": items,
                    "question": (f"In Video 1, a step happens between {ref[0]:.1f}s and {ref[1]:.1f}s. When does the "
                              "step with the same function happen in Video 2?"),
                    "options": [], "answer": answer, "params": {"reference": ref}, "focus": 0, "extra": {"step": key}}


def _segment(item: Item, start: float, end: float, rng) -> Item:
    facts = tuple(Fact(f.key, max(f.start, start) - start, min(f.end, end) - start)
                  for f in item.facts if f.start < end and f.end > start)
    return Item("segment", end - start, facts, seed=int(rng.integers(2**31)))


def generate_pss(rng):
    template = (*w.DISHES, w.ASSEMBLY)[int(rng.integers(3))]
    steps = w.instantiate(rng, template, w.choose_ingredients(rng, template))
    video = w.procedure_item(rng, steps)
    n = int(rng.integers(3, 7))
    cut_steps = sorted(rng.choice(np.arange(1, len(steps) - 1), n - 1, replace=False))
    cuts = [video.facts[i].start + rng.uniform(0.3, 0.7) * (video.facts[i].end - video.facts[i].start)
            for i in cut_steps]
    bounds = [0.0, *cuts, video.duration]
    segments = [_segment(video, a, b, rng) for a, b in itertools.pairwise(bounds)]
    shown = rng.permutation(n)  # shown[p] = chronological index of the segment presented as p + 1
    position = {int(s): p for p, s in enumerate(shown)}
    answer = "->".join(str(position[s] + 1) for s in range(n))
    return {"items": [segments[int(s)] for s in shown],
                "question": f"These {n} segments of one video are shuffled. In which order did they happen?",
                "options": [], "answer": answer, "params": {"n_segments": n}, "focus": 0, "extra": {"template": template}}


# ---------------------------------------------------------------------------------------------
# Multi-view reasoning
# ---------------------------------------------------------------------------------------------

def _sector_margin(vector: np.ndarray) -> float:
    """Degrees between a vector's angle and the nearest sector boundary (+-45, +-135)."""
    angle = np.degrees(np.arctan2(vector[1], vector[0]))
    return float(min(abs((angle - b + 180) % 360 - 180) for b in (45, 135, -45, -135)))


def generate_msr(rng):
    while True:
        scene = w.make_scene(rng)
        only_a = np.flatnonzero(scene.visible[0] & ~scene.visible[1])
        only_b = np.flatnonzero(scene.visible[1] & ~scene.visible[0])
        pairs = [(int(i), int(j)) for i in only_a for j in only_b]
        rng.shuffle(pairs)
        for i, j in pairs:
            vector = w.to_view(scene, 0, scene.positions[[j]])[0] - w.to_view(scene, 0, scene.positions[[i]])[0]
            if _sector_margin(vector) >= 20:
                break
        else:
            continue
        items = [w.view_item(rng, scene, 0), w.view_item(rng, scene, 1)]
        first, second = scene.ids[0][i], scene.ids[1][j]
        values = _shuffled(rng, list(r.DIRECTIONS))
        params = {"first": first, "second": second, "option_values": values}
        truth = r.direction_of(vector)
        if r.reason_msr(params, [full_view(x) for x in items], np.random.default_rng(0)) != _letter(values, truth):
            continue
        return {"items": items,
                    "question": (f"In view A's frame, where is object {second} (seen only in view B) relative to "
                              f"object {first} (seen only in view A)?"),
                    "options": values, "answer": _letter(values, truth), "params": params, "focus": 0}


def _moc_options(rng, rank: int, true: int, naive: int, largest: int) -> list[int] | None:
    """Four count options: the true count at a uniformly drawn rank among them, the double-counting
    sum above it, the larger per-view count below it, and spare distractors to fill the rank.

    The spec's fixed set (true, sum, larger view, one spare) always puts the true count strictly
    between the sum and the larger view, so an options-only solver that picks a middle value gets
    one half. Here the rank of the true count is uniform: rank 0 keeps the sum and drops the larger
    view, rank 3 the reverse, ranks 1-2 keep both. None when the scene's counts cannot fill the
    drawn rank (too few positive counts below the truth); the caller then draws a new scene for the
    same rank (redrawing the rank would make the large ranks rarer).
    """
    below = [largest] if rank > 0 else []
    above = [naive] if rank < 3 else []
    spare_below = [v for v in range(1, true) if v not in below]
    spare_above = [v for v in range(true + 1, naive + 3) if v not in above]
    n_below, n_above = rank - len(below), 3 - rank - len(above)
    if n_below > len(spare_below) or n_above > len(spare_above):
        return None
    below += [int(v) for v in rng.choice(spare_below, n_below, replace=False)] if n_below else []
    above += [int(v) for v in rng.choice(spare_above, n_above, replace=False)] if n_above else []
    return _shuffled(rng, [true, *below, *above])


def generate_moc(rng):
    rank = int(rng.integers(4))  # of the true count among the options, drawn once (see _moc_options)
    while True:
        scene = w.make_scene(rng)
        cls = str(scene.classes[int(rng.integers(scene.classes.size))])
        of_class = scene.classes == cls
        per_view = (scene.visible & of_class).sum(1)
        true = int((scene.visible.any(0) & of_class).sum())
        naive, largest = int(per_view.sum()), int(per_view.max())
        if len({true, naive, largest}) < 3:
            continue
        values = _moc_options(rng, rank, true, naive, largest)
        if values is None:
            continue
        items = [w.view_item(rng, scene, 0), w.view_item(rng, scene, 1)]
        params = {"class": cls, "option_values": values}
        objects = [r.scene_objects(full_view(x)) for x in items]
        transform = r.align_views(*objects)
        # Reject scenes where look-alikes or near-coincident objects make the count ambiguous.
        if transform is None or r.count_across_views(*objects, cls, transform) != true:
            continue
        return {"items": items, "question": f"How many distinct {cls} objects are there across both views?",
                    "options": [str(v) for v in values], "answer": _letter(values, true), "params": params, "focus": 0}


# ---------------------------------------------------------------------------------------------
# Free-form
# ---------------------------------------------------------------------------------------------

def generate_ccqa(rng):
    while True:
        dish = w.DISHES[int(rng.integers(len(w.DISHES)))]
        base = w.choose_ingredients(rng, dish)
        variant = {s: (w.choose_ingredients(rng, dish)[s] if rng.random() < 0.3 else v) for s, v in base.items()}
        items = [w.procedure_item(rng, w.instantiate(rng, dish, base)),
                 w.procedure_item(rng, w.instantiate(rng, dish, variant))]
        points = r.procedure_differences(full_view(items[0]), full_view(items[1]))
        if points:
            reference = "\n".join(f"{aspect} | A: {a} | B: {b}" for aspect, a, b in points)
            return {"items": items, "question": "Compare how Video A and Video B prepare the dish.", "options": [],
                        "answer": reference, "params": {}, "focus": 0, "extra": {"scoring_points": points, "dish": dish}}


GENERATORS = {
    "BU": generate_bu, "NC": generate_nc, "CC": generate_cc, "PEA": generate_pea, "PI": generate_pi,
    "FSA": generate_fsa, "PSS": generate_pss, "MSR": generate_msr, "MOC": generate_moc, "CCQA": generate_ccqa,
}


def check_tasks(tasks) -> tuple[str, ...]:
    """Task names in the official order; ``"all"`` for every task."""
    if isinstance(tasks, str):
        tasks = tuple(TASKS) if tasks == "all" else (tasks,)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"tasks must be 'all' or names among {', '.join(TASKS)}; got {list(tasks)!r}.")
    return tuple(t for t in TASKS if t in set(tasks))


def generate_questions(tasks="all", n_per_task: int = 200, seed: int = 0) -> list[Question]:
    """``n_per_task`` questions of each task; question ``k`` of task ``T`` depends only on (seed, T, k)."""
    if isinstance(n_per_task, bool) or not isinstance(n_per_task, (int, np.integer)) or n_per_task < 1:
        raise ValueError(f"n_per_task must be an int >= 1, got {n_per_task!r}.")
    questions = []
    for t_index, task in enumerate(TASKS):
        if task not in check_tasks(tasks):
            continue
        dimension, fmt = TASKS[task]
        for k in range(int(n_per_task)):
            rng = np.random.default_rng([seed, t_index, k])
            spec = GENERATORS[task](rng)
            questions.append(Question(
                id=f"{task}-{seed}-{k}", task=task, dimension=dimension, format=fmt, items=tuple(spec["items"]),
                question=spec["question"], options=tuple(spec["options"]), answer=spec["answer"],
                params=spec["params"], focus=spec["focus"], extra=spec.get("extra", {}),
            ))
    return questions
