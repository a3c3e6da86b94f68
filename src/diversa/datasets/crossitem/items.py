"""Symbolic "videos": items made of timestamped facts, rendered as frames under a budget.

CrossItem-Lite (the offline analogue of CrossVid, Li et al., "CrossVid: A
Comprehensive Benchmark for Evaluating Cross-Video Reasoning in Multimodal
Large Language Models", arXiv:2511.12263) replaces a video by an
:class:`Item`: a duration and a list of facts, each active on ``[start,
end)``. A solver never sees the item itself, only ``n`` frames sampled
uniformly in time (:func:`render_frames`), exactly as a video MLLM sees ``n``
uniformly sampled frames. What a solver can know about an item is a
:class:`View`: the facts it saw, with the interval over which each was seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


class Fact(NamedTuple):
    """A fact (a hashable tuple such as ``("action", "swim")``) active on ``[start, end)`` seconds."""

    key: tuple
    start: float
    end: float


class Frame(NamedTuple):
    """What one sampled frame shows: its time and the facts active then."""

    time: float
    facts: frozenset


@dataclass(frozen=True)
class Item:
    """One symbolic video.

    ``visible_fraction < 1`` models partial observation (tracking-like): a
    frame shows a random ``visible_fraction`` of the facts active at its
    time, drawn from a generator seeded by ``(seed, n)`` so rendering is
    deterministic.
    """

    kind: str
    duration: float
    facts: tuple[Fact, ...]
    seed: int = 0
    visible_fraction: float = 1.0


def frame_times(duration: float, n: int) -> np.ndarray:
    """Uniformly spaced frame times: the centres of ``n`` equal slices of the item, shape (n,)."""
    return (np.arange(n) + 0.5) * duration / n


def render_frames(item: Item, n: int) -> list[Frame]:
    """The ``n`` frames a solver sees of ``item`` (n >= 1), in time order."""
    if n < 1:
        raise ValueError(f"n must be >= 1 frame, got {n}.")
    times = frame_times(item.duration, n)
    starts = np.array([f.start for f in item.facts])
    ends = np.array([f.end for f in item.facts])
    active = (starts[None, :] <= times[:, None]) & (times[:, None] < ends[None, :])  # (n, facts)
    if item.visible_fraction < 1 and active.any():
        rng = np.random.default_rng([item.seed, n])
        keep = np.maximum(1, np.floor(item.visible_fraction * active.sum(1) + 0.5))
        # Rank the active facts of each frame in a random order and keep the first `keep`.
        ranks = np.argsort(np.argsort(np.where(active, rng.random(active.shape), np.inf), axis=1), axis=1)
        active &= ranks < keep[:, None]
    keys = [f.key for f in item.facts]
    # Consecutive frames often show the same facts: build each distinct set once.
    shown: dict[bytes, frozenset] = {}
    frames = []
    for t, row in zip(times.tolist(), active):
        signature = row.tobytes()
        if signature not in shown:
            shown[signature] = frozenset(keys[j] for j in np.flatnonzero(row))
        frames.append(Frame(t, shown[signature]))
    return frames


@dataclass
class View:
    """What a solver knows about one item.

    ``facts`` maps each known fact to its (estimated) interval; ``observed``
    is False for an item the solver did not look at, whose facts are unknown
    rather than absent.
    """

    duration: float
    facts: dict = field(default_factory=dict)
    observed: bool = True

    def keys_of(self, kind: str) -> list[tuple]:
        """Known facts whose key starts with ``kind``, in order of their start time."""
        return sorted((k for k in self.facts if k[0] == kind), key=lambda k: (self.facts[k][0], repr(k)))


def full_view(item: Item) -> View:
    """Ground truth: every fact with its exact interval."""
    facts: dict = {}
    for fact in item.facts:
        start, end = facts.get(fact.key, (fact.start, fact.end))
        facts[fact.key] = (min(start, fact.start), max(end, fact.end))
    return View(item.duration, facts)


def observe(item_duration: float, frames: list[Frame]) -> View:
    """A view reconstructed from frames alone.

    A fact seen first at ``t1`` and last at ``t2`` is estimated to span
    ``[t1 - s/2, t2 + s/2]`` (clipped to the item), ``s`` being the frame
    spacing: the best guess when its true edges lie between frames.
    """
    spacing = item_duration / max(1, len(frames))
    seen: dict = {}
    for frame in frames:
        for key in frame.facts:
            first, _ = seen.get(key, (frame.time, frame.time))
            seen[key] = (first, frame.time)
    facts = {key: (max(0.0, a - spacing / 2), min(item_duration, b + spacing / 2)) for key, (a, b) in seen.items()}
    return View(item_duration, facts)


def unseen_view(item_duration: float) -> View:
    """The view of an item a solver did not look at."""
    return View(item_duration, {}, observed=False)
