"""Exact reasoning over what is known of each item: one reasoner per CrossItem-Lite task.

A reasoner maps a question's public ``params`` and one :class:`View` per item
to an answer string in the official format. Given full views it returns the
ground truth (the generators use it to compute answers, and the oracle to
re-derive them); given views reconstructed from frames it is the
budget-limited oracle; given only one observed item it is a solver without
cross-item integration. Unknown facts never count as evidence: when the views
do not decide between options, ties are broken with ``rng`` (the "template
prior" of the spec is the uniform one over the options still possible).

Analogue of CrossVid (Li et al., arXiv:2511.12263).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from diversa.datasets.crossitem.items import View
from diversa.datasets.crossitem.worlds import (
    HEAT_LONG_SECONDS,
    LOCATIONS,
    StoryState,
    apply_event,
    event_valid,
    rotation,
    story_ending,
)

LETTERS = "ABCD"
ERROR_TYPES = ("wrong order", "previous one is mistake", "shouldn't have happened", "wrong position")
DIRECTIONS = ("right", "in front", "left", "behind")
MATCH_RADIUS = 0.3  # view coordinates closer than this (after alignment) are the same object


def pick(rng: np.random.Generator, candidates, n_options: int = 4) -> int:
    """A uniformly chosen candidate option index; any option when there is none."""
    candidates = sorted(set(candidates))
    if not candidates:
        return int(rng.integers(n_options))
    return candidates[int(rng.integers(len(candidates)))]


def letter_of(index: int) -> str:
    return LETTERS[index]


# ---------------------------------------------------------------------------------------------
# BU: statements about three behaviour clips
# ---------------------------------------------------------------------------------------------

def _actions(view: View) -> list[str] | None:
    return [k[1] for k in view.keys_of("action")] if view.observed else None


def bu_statement_truth(statement: tuple, views: list[View]) -> bool | None:
    """Truth of one BU statement, or None when unobserved clips leave it open."""
    seqs = [_actions(v) for v in views]
    kind = statement[0]
    if kind == "every":
        x = statement[1]
        if any(s is not None and x not in s for s in seqs):
            return False
        return None if any(s is None for s in seqs) else True
    if kind == "only":
        i, x = statement[1], statement[2]
        if (seqs[i] is not None and x not in seqs[i]) or any(
                s is not None and x in s for j, s in enumerate(seqs) if j != i):
            return False
        return None if any(s is None for s in seqs) else True
    if kind == "before":
        x, y = statement[1], statement[2]
        if any(s is not None and not (x in s and y in s and s.index(x) < s.index(y)) for s in seqs):
            return False
        return None if any(s is None for s in seqs) else True
    i, j = statement[1], statement[2]  # "same_start"
    if not seqs[i] or not seqs[j]:
        return None
    return seqs[i][0] == seqs[j][0]


def reason_bu(params: dict, views: list[View], rng) -> str:
    truth = [bu_statement_truth(s, views) for s in params["statements"]]
    chosen = [i for i, t in enumerate(truth) if t is True]
    chosen += [i for i, t in enumerate(truth) if t is None and rng.random() < 0.5]
    if not chosen:
        chosen = [pick(rng, [i for i, t in enumerate(truth) if t is None])]
    if len(chosen) > 3:  # at most three statements are ever true
        chosen = list(rng.choice(sorted(chosen), 3, replace=False))
    return "".join(sorted(letter_of(int(i)) for i in chosen))


# ---------------------------------------------------------------------------------------------
# Stories (NC, PI)
# ---------------------------------------------------------------------------------------------

def story_start(view: View, names, rng) -> StoryState:
    """The start state seen in the setup scene; unseen positions are drawn uniformly."""
    seen = {k[1]: k[2] for k in view.facts if k[0] == "start"}
    at = tuple((n, seen.get(n, LOCATIONS[int(rng.integers(len(LOCATIONS)))])) for n in names)
    key_seen = [k[1] for k in view.facts if k[0] == "key start"]
    key = key_seen[0] if key_seen else LOCATIONS[int(rng.integers(len(LOCATIONS)))]
    return StoryState(at, ("on", key))


def story_names(view: View, extra_events=()) -> tuple[str, ...]:
    """The cast known from the view, padded with placeholders to three characters."""
    names = {k[1] for k in view.facts if k[0] == "start"}
    for key in view.keys_of("event"):
        names.update(a for a in key[3:] if a not in LOCATIONS)
    for event in extra_events:
        names.update(a for a in event[1:] if a not in LOCATIONS)
    names = sorted(names)
    return tuple(names + [f"?{i}" for i in range(3 - len(names))])


def story_events(view: View, part: str | None = None) -> list[tuple]:
    return [k[2:] for k in view.keys_of("event") if part is None or k[1] == part]


def story_final_ending(view: View, rng) -> str | None:
    if not view.observed:
        return None
    state = story_start(view, story_names(view), rng)
    for event in story_events(view):
        state = apply_event(state, event)
    return story_ending(state)


def key_changes_hands(events) -> bool:
    """Whether anyone takes, passes or drops the key."""
    return any(e[0] in ("take", "give", "drop") for e in events)


def reason_nc(params: dict, views: list[View], rng) -> str:
    values = params["option_values"]
    if params["kind"] == "same_ending":
        endings = [story_final_ending(v, rng) for v in views]
        if endings[0] is None:
            return letter_of(pick(rng, []))
        match = {k: (None if endings[k] is None else endings[k] == endings[0]) for k in range(1, len(views))}
        sure = [i for i, v in enumerate(values) if v is not None and match[v] is True]
        if sure:
            return letter_of(pick(rng, sure))
        return letter_of(pick(rng, [i for i, v in enumerate(values) if v is None or match[v] is None]))
    never = [None if not v.observed else not key_changes_hands(story_events(v)) for v in views]
    sure = [i for i, v in enumerate(values) if never[v] is True]
    return letter_of(pick(rng, sure or [i for i, v in enumerate(values) if never[v] is None]))


def transition_valid(start: StoryState, events: list[tuple]) -> bool:
    state = start
    for event in events:
        if not event_valid(state, event):
            return False
        state = apply_event(state, event)
    return True


def reason_pi(params: dict, views: list[View], rng) -> str:
    view = views[0]
    candidates = params["option_values"]
    start = story_start(view, story_names(view, candidates), rng)
    begin, end = story_events(view, "beginning"), story_events(view, "ending")
    valid = [i for i, middle in enumerate(candidates) if transition_valid(start, begin + [middle] + end)]
    return letter_of(pick(rng, valid))


# ---------------------------------------------------------------------------------------------
# Procedures (CC, PEA, FSA, PSS, CCQA)
# ---------------------------------------------------------------------------------------------

def steps_of(view: View) -> list[tuple]:
    """Known steps (function, slot, ingredient) in order of their start."""
    return [k[1:] for k in view.keys_of("step")]


def first_start(view: View, function: str) -> float | None:
    starts = [view.facts[k][0] for k in view.facts if k[0] == "step" and k[1] == function]
    return min(starts) if starts else None


def seasons_before_heating(view: View) -> bool:
    season, heat = first_start(view, "season"), first_start(view, "heat")
    return season is not None and (heat is None or season < heat)


def heat_count(view: View) -> int:
    return len({k[2] for k in view.facts if k[0] == "step" and k[1] == "heat"})


def unique_ingredient_videos(views: list[View]) -> list[int]:
    """Videos using an ingredient that no other video uses."""
    used = [{s[2] for s in steps_of(v)} for v in views]
    return [i for i, own in enumerate(used) if own - set().union(*(u for j, u in enumerate(used) if j != i))]


def cc_answers(kind: str, views: list[View]) -> list[int]:
    """The videos for which the CC question's property holds (full knowledge assumed)."""
    if kind == "unique_ingredient":
        return unique_ingredient_videos(views)
    if kind == "most_heat":
        counts = [heat_count(v) for v in views]
        return [i for i, c in enumerate(counts) if c == max(counts)]
    return [i for i, v in enumerate(views) if seasons_before_heating(v)]


def reason_cc(params: dict, views: list[View], rng) -> str:
    if not all(v.observed for v in views):  # every question compares all four videos
        return letter_of(pick(rng, []))
    holds = set(cc_answers(params["kind"], views))
    return letter_of(pick(rng, [i for i, v in enumerate(params["option_values"]) if v in holds]))


def step_in_window(view: View, window: tuple[float, float]) -> tuple | None:
    """The known step overlapping ``window`` the most."""
    best, best_overlap = None, 0.0
    for key in view.keys_of("step"):
        start, end = view.facts[key]
        overlap = min(window[1], end) - max(window[0], start)
        if overlap > best_overlap:
            best, best_overlap = key, overlap
    return best


def _always_before(first: tuple, second: tuple, references: list[View]) -> bool:
    both = [r for r in references if first in r.facts and second in r.facts]
    return bool(both) and all(r.facts[first][0] < r.facts[second][0] for r in both)


def pea_error_type(view: View, window, references: list[View], rng) -> str | None:
    """Classify the step in ``window`` against correct reference videos (None: cannot tell)."""
    step = step_in_window(view, window)
    references = [r for r in references if r.observed]
    if step is None or not references:
        return None
    reference_keys = set().union(*(r.facts for r in references))
    if step not in reference_keys:
        parts = {k[3] for k in reference_keys if k[0] == "step"}
        return "wrong position" if step[3] in parts else "shouldn't have happened"
    order = view.keys_of("step")
    i = order.index(step)
    after = order[i + 1] if i + 1 < len(order) else None
    before = order[i - 1] if i > 0 else None
    if after is not None and _always_before(after, step, references):
        return "wrong order"
    if before is not None and _always_before(step, before, references):
        return "previous one is mistake"
    return ERROR_TYPES[int(rng.integers(2))]


def reason_pea(params: dict, views: list[View], rng) -> str:
    v = params["video"]
    kind = pea_error_type(views[v], params["window"], [w for j, w in enumerate(views) if j != v], rng)
    return letter_of(pick(rng, [i for i, t in enumerate(params["option_values"]) if t == kind]))


def format_interval(start: float, end: float) -> str:
    return f"{start:.1f},{end:.1f}"


def reason_fsa(params: dict, views: list[View], rng) -> str:
    reference, target = views
    step = step_in_window(reference, params["reference"]) if reference.observed else None
    if step is not None and target.observed:
        same = [k for k in target.keys_of("step") if k[1:3] == step[1:3]]
        if same:
            return format_interval(*target.facts[same[0]])
    a, b = np.sort(rng.uniform(0, target.duration, 2))
    return format_interval(a, b)


def reason_pss(params: dict, views: list[View], rng) -> str:
    """Chain segments: the step cut at a boundary is the last of one segment and the first of the next."""
    n = len(views)
    firsts = [min(v.facts, key=lambda k: v.facts[k][0]) if v.facts else None for v in views]
    lasts = [max(v.facts, key=lambda k: v.facts[k][1]) if v.facts else None for v in views]
    successor: dict[int, int] = {}
    taken: set[int] = set()
    for i in rng.permutation(n):
        options = [j for j in range(n) if j != i and j not in taken and lasts[i] is not None and firsts[j] == lasts[i]]
        if options:
            j = options[int(rng.integers(len(options)))]
            successor[int(i)] = j
            taken.add(j)
    chains, placed = [], set()
    for head in [int(i) for i in rng.permutation(n) if int(i) not in taken]:
        chain = [head]
        while chain[-1] in successor and successor[chain[-1]] not in chain:
            chain.append(successor[chain[-1]])
        chains.append(chain)
        placed.update(chain)
    chains += [[i] for i in range(n) if i not in placed]  # members of cycles (inconsistent links)
    order = [i for chain in chains for i in chain]
    return "->".join(str(i + 1) for i in order)


def heat_bucket(interval: tuple[float, float]) -> str:
    return "short" if interval[1] - interval[0] < HEAT_LONG_SECONDS else "long"


def _slot_ingredients(steps: list[tuple]) -> dict:
    return {slot: ingredient for _, slot, ingredient in steps}


def procedure_differences(view_a: View, view_b: View) -> list[tuple[str, str, str]]:
    """The true differences (aspect, value in A, value in B) between two procedures:
    ingredient substitutions, extra/missing steps, heat-duration buckets and order swaps."""
    steps_a, steps_b = steps_of(view_a), steps_of(view_b)
    by_a = {s[:2]: s for s in steps_a}
    by_b = {s[:2]: s for s in steps_b}
    points = []
    ingredients_a, ingredients_b = _slot_ingredients(steps_a), _slot_ingredients(steps_b)
    for slot in sorted(set(ingredients_a) & set(ingredients_b)):
        if ingredients_a[slot] != ingredients_b[slot]:
            points.append((f"ingredient {slot}", ingredients_a[slot], ingredients_b[slot]))
    for step in sorted(set(by_a) ^ set(by_b)):
        present = ("present", "absent") if step in by_a else ("absent", "present")
        points.append((f"step {step[0]} {step[1]}", *present))
    for step in sorted(k for k in set(by_a) & set(by_b) if k[0] == "heat"):
        bucket_a = heat_bucket(view_a.facts[("step", *by_a[step])])
        bucket_b = heat_bucket(view_b.facts[("step", *by_b[step])])
        if bucket_a != bucket_b:
            points.append((f"heat {step[1]} duration", bucket_a, bucket_b))
    common = [k for k in by_a if k in by_b]
    for x, y in itertools.combinations(sorted(common), 2):
        a_first = view_a.facts[("step", *by_a[x])][0] < view_a.facts[("step", *by_a[y])][0]
        b_first = view_b.facts[("step", *by_b[x])][0] < view_b.facts[("step", *by_b[y])][0]
        if a_first != b_first:
            name_x, name_y = " ".join(x), " ".join(y)
            first_a, first_b = (name_x, name_y) if a_first else (name_y, name_x)
            points.append((f"order of {name_x} and {name_y}", f"{first_a} first", f"{first_b} first"))
    return points


def describe_one(view: View, label: str = "A") -> list[str]:
    """What can be said of one procedure alone: its ingredients, steps and heat durations."""
    steps = steps_of(view)
    lines = [f"ingredient {slot} | {label}: {ingredient}" for slot, ingredient in sorted(_slot_ingredients(steps).items())]
    lines += [f"step {f} {slot} | {label}: present" for f, slot, _ in steps]
    lines += [f"heat {slot} duration | {label}: {heat_bucket(view.facts[('step', f, slot, i)])}"
              for f, slot, i in steps if f == "heat"]
    return lines


def reason_ccqa(params: dict, views: list[View], rng) -> str:
    view_a, view_b = views
    if view_a.observed and view_b.observed:
        return "\n".join(f"{aspect} | A: {a} | B: {b}" for aspect, a, b in procedure_differences(view_a, view_b))
    if view_a.observed:
        return "\n".join(describe_one(view_a, "A"))
    if view_b.observed:
        return "\n".join(describe_one(view_b, "B"))
    return ""


# ---------------------------------------------------------------------------------------------
# Two-view scenes (MSR, MOC)
# ---------------------------------------------------------------------------------------------

def scene_objects(view: View) -> dict[str, tuple[str, str, np.ndarray]]:
    """Per-view id -> (class, colour, view coordinates) of the objects seen."""
    return {k[1]: (k[2], k[3], np.array(k[4:6], dtype=float)) for k in view.facts if k[0] == "object"}


def _rigid_fit(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t minimising sum |R s + t - t'|^2 (2-D Kabsch, no reflection)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    cov = (source - mu_s).T @ (target - mu_t)
    angle = math.atan2(cov[0, 1] - cov[1, 0], cov[0, 0] + cov[1, 1])
    r = rotation(angle)
    return r, mu_t - r @ mu_s


def align_views(objects_a: dict, objects_b: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Rigid map of view-B coordinates into view A's frame, from objects matched by a
    (class, colour) unique in both views; RANSAC over pairs guards against look-alikes.
    None when fewer than two such objects are known."""
    def unique(objects):
        combos = [(c, col) for c, col, _ in objects.values()]
        return {(c, col): xy for c, col, xy in objects.values() if combos.count((c, col)) == 1}

    in_a, in_b = unique(objects_a), unique(objects_b)
    shared = sorted(set(in_a) & set(in_b))
    if len(shared) < 2:
        return None
    a = np.array([in_a[s] for s in shared])
    b = np.array([in_b[s] for s in shared])
    best, best_score = None, (-1, 0.0)
    for i, j in itertools.combinations(range(len(shared)), 2):
        r, t = _rigid_fit(b[[i, j]], a[[i, j]])
        residual = np.linalg.norm(b @ r.T + t - a, axis=1)
        inliers = residual < MATCH_RADIUS
        score = (int(inliers.sum()), -float(residual[inliers].sum()))
        if score > best_score:
            best, best_score = inliers, score
    if best is None or best.sum() < 2:
        return None
    return _rigid_fit(b[best], a[best])


def direction_of(vector: np.ndarray) -> str:
    """Sector of a vector in a view's frame: right (|angle| < 45 deg), in front (+y), left, behind."""
    angle = math.degrees(math.atan2(vector[1], vector[0]))
    if -45 <= angle < 45:
        return "right"
    if 45 <= angle < 135:
        return "in front"
    if -135 <= angle < -45:
        return "behind"
    return "left"


def reason_msr(params: dict, views: list[View], rng) -> str:
    objects_a, objects_b = scene_objects(views[0]), scene_objects(views[1])
    first, second = params["first"], params["second"]
    transform = align_views(objects_a, objects_b) if views[0].observed and views[1].observed else None
    if transform is None or first not in objects_a or second not in objects_b:
        return letter_of(pick(rng, []))
    r, t = transform
    direction = direction_of(r @ objects_b[second][2] + t - objects_a[first][2])
    return letter_of(pick(rng, [i for i, d in enumerate(params["option_values"]) if d == direction]))


def count_across_views(objects_a: dict, objects_b: dict, cls: str, transform) -> int:
    """Distinct objects of ``cls``: both views' counts minus the pairs that coincide after alignment."""
    a = [xy for c, _, xy in objects_a.values() if c == cls]
    b = [transform[0] @ xy + transform[1] for c, _, xy in objects_b.values() if c == cls]
    pairs = sorted((float(np.linalg.norm(p - q)), i, j) for i, p in enumerate(a) for j, q in enumerate(b))
    used_a, used_b, matches = set(), set(), 0
    for distance, i, j in pairs:
        if distance < MATCH_RADIUS and i not in used_a and j not in used_b:
            used_a.add(i), used_b.add(j)
            matches += 1
    return len(a) + len(b) - matches


def reason_moc(params: dict, views: list[View], rng) -> str:
    cls, values = params["class"], params["option_values"]
    objects = [scene_objects(v) for v in views]
    counts = [sum(1 for c, _, _ in o.values() if c == cls) for o in objects]
    if all(v.observed for v in views):
        transform = align_views(*objects)
        if transform is not None:
            count = count_across_views(*objects, cls, transform)
            gaps = [abs(v - count) for v in values]
            return letter_of(pick(rng, [i for i, g in enumerate(gaps) if g == min(gaps)]))
    # Without alignment the count is only bounded: at least the larger view's, at most the sum,
    # and unbounded above when a view was not looked at.
    low = max((c for c, v in zip(counts, views) if v.observed), default=0)
    high = sum(counts) if all(v.observed for v in views) else math.inf
    return letter_of(pick(rng, [i for i, v in enumerate(values) if low <= v <= high]))


REASONERS = {
    "BU": reason_bu, "NC": reason_nc, "CC": reason_cc, "PEA": reason_pea, "PI": reason_pi,
    "FSA": reason_fsa, "PSS": reason_pss, "MSR": reason_msr, "MOC": reason_moc, "CCQA": reason_ccqa,
}
