"""Choosing merge hyper-parameters on validation data, and normalized accuracy.

Normalized accuracy is the convention of TIES-Merging (Yadav et al.,
arXiv:2306.01708) and Twin-Merging (Lu et al., arXiv:2406.15479, Eq. 4): the
merged model's accuracy on each task divided by the fine-tuned model's
accuracy on it, averaged over tasks. Hyper-parameters (lambda, density, ...)
are chosen by maximizing a validation score, never on test data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["normalized_accuracy", "select_by_validation"]


def normalized_accuracy(merged: Mapping[str, float], individual: Mapping[str, float]) -> float:
    """``mean_t merged[t] / individual[t]`` over the tasks of ``merged``."""
    if not merged:
        raise ValueError("merged must hold at least one task")
    ratios = []
    for task, acc in merged.items():
        if task not in individual:
            raise ValueError(f"individual has no accuracy for task {task!r}")
        if individual[task] <= 0:
            raise ValueError(f"individual accuracy of task {task!r} must be positive, got {individual[task]}")
        ratios.append(float(acc) / float(individual[task]))
    return sum(ratios) / len(ratios)


def select_by_validation(merge_fn: Callable[..., Any], grid: Sequence[Mapping[str, Any]],
                         score_fn: Callable[[Any], float]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best parameters of ``merge_fn`` over ``grid`` by ``score_fn`` (higher is better).

    Calls ``score_fn(merge_fn(**params))`` for every parameter dict and returns
    ``(best_params, table)``, the table holding each dict with its ``"score"``.
    Ties go to the earliest grid point.
    """
    if len(grid) == 0:
        raise ValueError("grid must hold at least one parameter dict")
    table, best, best_score = [], None, float("-inf")
    for params in grid:
        if not isinstance(params, Mapping):
            raise TypeError(f"grid entries must be dicts, got {params!r}")
        score = float(score_fn(merge_fn(**params)))
        table.append({**params, "score": score})
        if best is None or score > best_score:
            best, best_score = dict(params), score
    return best, table
