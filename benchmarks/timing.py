"""Timing shared by the benchmarks: interleaved runs, medians, one result row."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call, after a garbage collection."""
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def compare_timings(name: str, ours: Callable[[], Any], anchor: Callable[[], Any], anchor_name: str,
                    repeats: int) -> tuple[dict, Any, Any]:
    """Median wall time of ``repeats`` interleaved calls of each side.

    Runs alternate (ours, anchor, anchor, ours, ...) so that slow drifts of the
    machine hit both sides equally. Returns the benchmark row (``name``,
    ``diversa_s``, ``anchor``, ``anchor_s``, ``ratio``) and the last result of
    each side, for equality checks.
    """
    times: dict[str, list[float]] = {"ours": [], "anchor": []}
    results: dict[str, Any] = {}
    for repeat in range(repeats):
        order = [("ours", ours), ("anchor", anchor)]
        for side, function in order if repeat % 2 == 0 else order[::-1]:
            seconds, results[side] = timed(function)
            times[side].append(seconds)
    ours_s, anchor_s = statistics.median(times["ours"]), statistics.median(times["anchor"])
    row = {"name": name, "diversa_s": ours_s, "anchor": anchor_name, "anchor_s": anchor_s,
           "ratio": ours_s / anchor_s}
    return row, results["ours"], results["anchor"]
