"""The four kinds of CrossItem-Lite items and the rules of their worlds.

Analogues of CrossVid's source videos (Li et al., arXiv:2511.12263):
behaviour clips (Animal Kingdom / Charades), stories (MovieChat-1K),
procedures (YouCook2 recipes and Assembly101 toy assembly) and scenes seen
from two synchronised views (VisDrone). Every generator takes a
``numpy.random.Generator`` and is deterministic given it.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from diversa.datasets.crossitem.items import Fact, Item

# ---------------------------------------------------------------------------------------------
# Behaviour clips
# ---------------------------------------------------------------------------------------------

ACTIONS = ("walk", "run", "jump", "eat", "drink", "sniff", "groom", "climb", "swim", "dig",
           "rest", "call", "chase", "carry", "open", "close", "sit", "stand", "wave", "look")
ACTORS = ("fox", "heron", "otter", "deer", "child", "adult")


def make_clip(rng: np.random.Generator, pool: list[str]) -> Item:
    """A clip of 4-8 distinct actions from ``pool``, each lasting U[4, 12] s, end to end."""
    k = int(rng.integers(4, min(8, len(pool)) + 1))
    actions = [pool[i] for i in rng.choice(len(pool), k, replace=False)]
    durations = rng.uniform(4, 12, k)
    ends = np.cumsum(durations)
    facts = [Fact(("actor", ACTORS[int(rng.integers(len(ACTORS)))]), 0.0, float(ends[-1]))]
    facts += [Fact(("action", a), float(e - d), float(e)) for a, d, e in zip(actions, durations, ends)]
    return Item("clip", float(ends[-1]), tuple(facts), seed=int(rng.integers(2**31)))


# ---------------------------------------------------------------------------------------------
# Stories: three characters, four locations, one key
# ---------------------------------------------------------------------------------------------

CHARACTERS = ("Ada", "Bo", "Cy", "Di", "Eli", "Fay")
LOCATIONS = ("gate", "hall", "tower", "garden")
ENDINGS = ("reunion", "escape", "victory", "loss")
SETUP_SECONDS = 6.0


class StoryState(NamedTuple):
    """Where each character is, and the key: ``("held", name)`` or ``("on", location)``."""

    at: tuple[tuple[str, str], ...]
    key: tuple[str, str]

    def where(self, name: str) -> str:
        for who, location in self.at:
            if who == name:
                return location
        raise KeyError(name)


def with_location(state: StoryState, name: str, location: str) -> StoryState:
    return StoryState(tuple((n, location if n == name else loc) for n, loc in state.at), state.key)


def event_valid(state: StoryState, event: tuple) -> bool:
    """Preconditions: move somewhere else; take a key lying where you are; give it to someone
    beside you; drop a key you hold."""
    verb, actor = event[0], event[1]
    if verb == "move":
        return state.where(actor) != event[2]
    if verb == "take":
        return state.key == ("on", state.where(actor))
    if verb == "give":
        other = event[2]
        return other != actor and state.key == ("held", actor) and state.where(other) == state.where(actor)
    if verb == "drop":
        return state.key == ("held", actor)
    raise ValueError(f"unknown event {event!r}")


def apply_event(state: StoryState, event: tuple) -> StoryState:
    """The event's effect, whether or not its preconditions held (reasoners use this on partial views)."""
    verb, actor = event[0], event[1]
    if verb == "move":
        return with_location(state, actor, event[2])
    if verb == "take":
        return StoryState(state.at, ("held", actor))
    if verb == "give":
        return StoryState(state.at, ("held", event[2]))
    return StoryState(state.at, ("on", state.where(actor)))


def story_ending(state: StoryState) -> str:
    """The ending type, a deterministic function of the final state (first rule that applies):
    reunion (everyone in one place), escape (the key's holder at the gate), victory (someone
    holds the key), loss (the key lies on the ground)."""
    if len({loc for _, loc in state.at}) == 1:
        return "reunion"
    if state.key[0] == "held" and state.where(state.key[1]) == "gate":
        return "escape"
    return "victory" if state.key[0] == "held" else "loss"


def candidate_events(names: tuple[str, ...]) -> list[tuple]:
    """Every event the cast can be described doing, valid or not."""
    events = [("move", n, loc) for n in names for loc in LOCATIONS]
    events += [("take", n) for n in names] + [("drop", n) for n in names]
    events += [("give", a, b) for a in names for b in names if a != b]
    return events


def random_valid_event(rng: np.random.Generator, state: StoryState, names, exclude=()) -> tuple | None:
    """A uniformly chosen verb among those possible now, then uniform arguments."""
    options = [e for e in candidate_events(names) if event_valid(state, e) and e not in exclude]
    if not options:
        return None
    verbs = sorted({e[0] for e in options})
    verb = verbs[int(rng.integers(len(verbs)))]
    matching = [e for e in options if e[0] == verb]
    return matching[int(rng.integers(len(matching)))]


def random_start(rng: np.random.Generator, names: tuple[str, ...]) -> StoryState:
    at = tuple((n, LOCATIONS[int(rng.integers(len(LOCATIONS)))]) for n in names)
    return StoryState(at, ("on", LOCATIONS[int(rng.integers(len(LOCATIONS)))]))


def make_story(rng: np.random.Generator, n_events: int) -> tuple[StoryState, list[tuple]]:
    """A random start and ``n_events`` distinct events, each valid when it happens."""
    while True:
        names = tuple(sorted(rng.choice(CHARACTERS, 3, replace=False).tolist()))
        state = start = random_start(rng, names)
        events: list[tuple] = []
        while len(events) < n_events:
            event = random_valid_event(rng, state, names, exclude=events)
            if event is None:
                break
            events.append(event)
            state = apply_event(state, event)
        if len(events) == n_events:
            return start, events


def final_state(start: StoryState, events: list[tuple]) -> StoryState:
    for event in events:
        start = apply_event(start, event)
    return start


def story_item(rng: np.random.Generator, start: StoryState, events: list[tuple], parts=None) -> Item:
    """A story as facts: a setup scene showing where everyone and the key start, then one
    event per U[5, 15] s. ``parts`` labels each event (e.g. "beginning"/"ending")."""
    facts = [Fact(("start", n, loc), 0.0, SETUP_SECONDS) for n, loc in start.at]
    facts.append(Fact(("key start", start.key[1]), 0.0, SETUP_SECONDS))
    t = SETUP_SECONDS
    for i, event in enumerate(events):
        d = float(rng.uniform(5, 15))
        part = parts[i] if parts else "story"
        facts.append(Fact(("event", part, *event), t, t + d))
        t += d
    return Item("story", t, tuple(facts), seed=int(rng.integers(2**31)))


def describe_event(event: tuple) -> str:
    verb, actor = event[0], event[1]
    if verb == "move":
        return f"{actor} goes to the {event[2]}"
    if verb == "take":
        return f"{actor} picks up the key"
    if verb == "give":
        return f"{actor} gives the key to {event[2]}"
    return f"{actor} drops the key"


# ---------------------------------------------------------------------------------------------
# Procedures: two dishes and one toy assembly
# ---------------------------------------------------------------------------------------------

class Step(NamedTuple):
    """A template step: ``function`` applied to ``slot``; ``optional`` steps may be skipped,
    and a step that ``commutes`` may swap with the next template step when both are present."""

    function: str
    slot: str
    optional: bool = False
    commutes: bool = False


class Template(NamedTuple):
    steps: tuple[Step, ...]
    slots: dict  # slot -> candidate ingredients (dishes) or parts (assembly)


TEMPLATES = {
    "stir-fry": Template(
        (Step("prep", "vegetable"), Step("cut", "vegetable", commutes=True), Step("prep", "protein"),
         Step("heat", "oil", commutes=True), Step("season", "protein", optional=True),
         Step("combine", "protein"), Step("heat", "sauce", optional=True), Step("combine", "vegetable"),
         Step("season", "wok", optional=True), Step("heat", "wok", optional=True), Step("plate", "dish")),
        {"vegetable": ("carrot", "pepper", "broccoli", "bok choy"), "protein": ("tofu", "chicken", "shrimp"),
         "oil": ("peanut oil", "sesame oil"), "sauce": ("soy sauce", "oyster sauce", "chili sauce"),
         "wok": ("salt", "white pepper", "garlic"), "dish": ("plate", "bowl")}),
    "soup": Template(
        (Step("prep", "stock"), Step("heat", "stock", commutes=True), Step("season", "stock", optional=True),
         Step("cut", "vegetable", commutes=True), Step("prep", "noodle"), Step("combine", "vegetable"),
         Step("heat", "broth", optional=True), Step("season", "broth", optional=True), Step("combine", "noodle"),
         Step("rest", "pot", optional=True), Step("plate", "serving")),
        {"stock": ("chicken stock", "vegetable stock", "miso"), "vegetable": ("leek", "cabbage", "mushroom"),
         "noodle": ("udon", "rice noodle", "ramen"), "broth": ("ginger", "chili", "scallion"),
         "pot": ("covered", "uncovered"), "serving": ("deep bowl", "cup")}),
    "toy-car": Template(
        (Step("attach", "base"), Step("attach", "front axle", commutes=True), Step("attach", "rear axle"),
         Step("attach", "left wheels", commutes=True), Step("attach", "right wheels"), Step("attach", "cabin"),
         Step("attach", "roof", commutes=True), Step("attach", "lights"), Step("attach", "spoiler")),
        {"base": ("red chassis", "blue chassis"), "front axle": ("steel front axle", "plastic front axle"),
         "rear axle": ("steel rear axle", "plastic rear axle"), "left wheels": ("big left wheels", "small left wheels"),
         "right wheels": ("big right wheels", "small right wheels"), "cabin": ("open cabin", "closed cabin"),
         "roof": ("flat roof", "round roof"), "lights": ("round lights", "square lights"),
         "spoiler": ("low spoiler", "high spoiler")}),
}
DISHES = ("stir-fry", "soup")
ASSEMBLY = "toy-car"
FOREIGN_PARTS = ("sticker", "antenna", "bell", "flag")
HEAT_LONG_SECONDS = 20.0  # heat steps shorter than this are "short", others "long"


def choose_ingredients(rng: np.random.Generator, template: str) -> dict:
    """One candidate per slot."""
    slots = TEMPLATES[template].slots
    return {slot: options[int(rng.integers(len(options)))] for slot, options in slots.items()}


def commuting_pairs(template: str) -> set[tuple[tuple[str, str], tuple[str, str]]]:
    """Pairs of (function, slot) whose order may differ between correct instances."""
    steps = TEMPLATES[template].steps
    return {((a.function, a.slot), (b.function, b.slot)) for a, b in itertools.pairwise(steps) if a.commutes}


def instantiate(rng: np.random.Generator, template: str, ingredients: dict, include_optional=None) -> list[tuple]:
    """An ordered list of (function, slot, ingredient) steps: optional steps kept with
    probability 1/2 (or as ``include_optional`` says), then each commuting pair present and
    adjacent swapped with probability 1/2."""
    steps = TEMPLATES[template].steps
    kept = [s for s in steps if not s.optional
            or (include_optional(s) if include_optional else rng.random() < 0.5)]
    order = [(s.function, s.slot) for s in kept]
    for a, b in sorted(commuting_pairs(template)):
        if a in order and b in order and order.index(b) == order.index(a) + 1 and rng.random() < 0.5:
            i = order.index(a)
            order[i], order[i + 1] = order[i + 1], order[i]
    return [(f, slot, ingredients[slot]) for f, slot in order]


def procedure_item(rng: np.random.Generator, steps: list[tuple]) -> Item:
    """A procedure as facts ``("step", function, slot, ingredient)``, each lasting U[5, 40] s."""
    durations = rng.uniform(5, 40, len(steps))
    ends = np.cumsum(durations)
    facts = tuple(Fact(("step", *s), float(e - d), float(e)) for s, d, e in zip(steps, durations, ends))
    return Item("procedure", float(ends[-1]), facts, seed=int(rng.integers(2**31)))


# ---------------------------------------------------------------------------------------------
# Scenes seen from two views
# ---------------------------------------------------------------------------------------------

CLASSES = ("car", "van", "person", "bike")
COLOURS = ("red", "blue", "white", "black", "green", "yellow")
VIEW_NOISE = 0.05
SCENE_SECONDS = 30.0


class Scene(NamedTuple):
    """World objects and two views.

    classes, colours : (n,) str arrays; positions : (n, 2) world coordinates in [0, 10]^2;
    visible : (2, n) bool, which view sees which object; ids : per view, object index -> "A1".. / "B1"..;
    angles : (2,) view rotations (radians); origins : (2, 2) view origins in world coordinates.
    """

    classes: np.ndarray
    colours: np.ndarray
    positions: np.ndarray
    visible: np.ndarray
    ids: tuple[dict, dict]
    angles: np.ndarray
    origins: np.ndarray


def rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def to_view(scene: Scene, view: int, points: np.ndarray) -> np.ndarray:
    """World points (m, 2) in a view's frame (noise-free)."""
    return (points - scene.origins[view]) @ rotation(scene.angles[view])


def make_scene(rng: np.random.Generator) -> Scene:
    """6-12 objects; view A sees x < a, view B sees x >= b (b < a), both rotated at random; at
    least 3 objects in both views, two of them with a (class, colour) unique in the scene."""
    while True:
        n = int(rng.integers(6, 13))
        classes = rng.choice(CLASSES, n)
        colours = rng.choice(COLOURS, n)
        positions = rng.uniform(0, 10, (n, 2))
        a_edge, b_edge = rng.uniform(6, 8), rng.uniform(2, 4)
        visible = np.array([positions[:, 0] < a_edge, positions[:, 0] >= b_edge])
        both = visible.all(0)
        combos = list(zip(classes, colours))
        unique_shared = sum(1 for i in np.flatnonzero(both) if combos.count(combos[i]) == 1)
        if both.sum() >= 3 and unique_shared >= 2:
            break
    ids = []
    for v, prefix in enumerate("AB"):
        members = np.flatnonzero(visible[v])
        order = rng.permutation(members)
        ids.append({int(i): f"{prefix}{k + 1}" for k, i in enumerate(order)})
    angles = rng.uniform(0, 2 * np.pi, 2)
    origins = np.array([[a_edge / 2, 5.0], [(b_edge + 10) / 2, 5.0]])
    return Scene(classes, colours, positions, visible, (ids[0], ids[1]), angles, origins)


def view_item(rng: np.random.Generator, scene: Scene, view: int) -> Item:
    """One view as facts ``("object", id, class, colour, x, y)`` in the view's own frame (noise
    sigma 0.05), shown for 30 s; each frame shows a random 70 % of them."""
    members = sorted(scene.ids[view], key=lambda i: scene.ids[view][i])
    coords = to_view(scene, view, scene.positions[members]) + rng.normal(0, VIEW_NOISE, (len(members), 2))
    facts = tuple(Fact(("object", scene.ids[view][i], str(scene.classes[i]), str(scene.colours[i]),
                        round(float(x), 2), round(float(y), 2)), 0.0, SCENE_SECONDS)
                  for i, (x, y) in zip(members, coords))
    return Item("view", SCENE_SECONDS, facts, seed=int(rng.integers(2**31)), visible_fraction=0.7)
