"""Compare models from their per-item outputs on the same test items.

Raschka (2018), "Model Evaluation, Model Selection, and Algorithm Selection in
Machine Learning", arXiv:1811.12808, recommends judging two classifiers on one
test set with McNemar's test (McNemar, 1947) and several with Cochran's Q
(Cochran, 1950) followed by corrected pairwise tests. This module applies
that advice to the files evaluation harnesses write: one row per test item,
one 0/1 correctness or real-valued score per model, matched by item id.

* 0/1 outcomes: per-model accuracy with a Wilson interval; pairwise McNemar
  (exact binomial when there are fewer than 25 discordant items, else
  chi-square with continuity correction); Cochran's Q as the omnibus test.
* Scores: per-model mean with a bootstrap interval; pairwise two-sided
  Wilcoxon signed-rank test.
* Both: the mean paired difference with a paired-bootstrap interval, and
  Holm-adjusted p-values when more than two models are compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from diversa.datasets.files import numbers, read_table
from diversa.evaluate.holdout import normal_approx_ci
from diversa.evaluate.multiple_testing import holm
from diversa.evaluate.paired import bootstrap_mean_ci, wilcoxon_signed_rank
from diversa.evaluate.proportions import cochrans_q, mcnemar

#: Below this many discordant items McNemar's chi-square approximation is poor.
EXACT_MCNEMAR_BELOW = 25
ID_FIELDS = ("doc_id", "id", "item_id", "item")


class ModelSummary(NamedTuple):
    """A model's mean outcome (accuracy for 0/1 outcomes) with its confidence interval."""

    model: str
    n: int
    mean: float
    low: float
    high: float


class PairComparison(NamedTuple):
    """Model ``a`` against model ``b``: mean difference a - b, its CI, and a paired test."""

    model_a: str
    model_b: str
    mean_diff: float
    ci_low: float
    ci_high: float
    test: str
    statistic: float | None
    pvalue: float
    pvalue_holm: float


@dataclass
class Comparison:
    """Everything :func:`compare_outcomes` found; ``to_dict()`` is JSON-ready."""

    kind: str
    n_items: int
    models: list[ModelSummary]
    pairs: list[PairComparison]
    omnibus: dict[str, Any] | None
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_items": self.n_items, "confidence": self.confidence,
                "models": [m._asdict() for m in self.models],
                "pairs": [p._asdict() for p in self.pairs], "omnibus": self.omnibus}


def _outcome_matrix(outcomes) -> pd.DataFrame:
    table = pd.DataFrame(outcomes) if isinstance(outcomes, Mapping) else outcomes
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"outcomes must be a DataFrame or a dict of model -> values, got {type(outcomes).__name__}.")
    if table.shape[1] < 2:
        raise ValueError(f"outcomes must hold at least 2 models (columns), got {table.shape[1]}.")
    if table.shape[0] < 2:
        raise ValueError(f"outcomes must hold at least 2 items (rows), got {table.shape[0]}.")
    non_numeric = [str(c) for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if non_numeric:
        raise ValueError(f"outcomes of model(s) {non_numeric} are not numeric.")
    values = table.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        bad = [str(c) for c in table.columns[~np.isfinite(values).all(axis=0)]]
        raise ValueError(f"outcomes of model(s) {bad} contain missing or non-finite values.")
    return table.astype(float)


def _resolve_kind(values: np.ndarray, kind: str) -> str:
    is_binary = bool(np.isin(values, (0.0, 1.0)).all())
    if kind == "auto":
        return "binary" if is_binary else "scores"
    if kind == "binary" and not is_binary:
        raise ValueError("kind='binary' needs 0/1 outcomes, but some values are neither 0 nor 1; "
                         "use kind='scores' for real-valued metrics.")
    if kind not in ("binary", "scores"):
        raise ValueError(f"kind must be 'auto', 'binary' or 'scores', got {kind!r}.")
    return kind


def _summary(name: str, values: np.ndarray, kind: str, confidence: float, random_state) -> ModelSummary:
    if kind == "binary":
        low, high = normal_approx_ci(float(values.mean()), values.size, alpha=1 - confidence, method="wilson")
    else:
        _, low, high = bootstrap_mean_ci(values, confidence=confidence, random_state=random_state)
    return ModelSummary(name, int(values.size), float(values.mean()), float(low), float(high))


def _paired_test(a: np.ndarray, b: np.ndarray, kind: str) -> tuple[str, float | None, float]:
    if kind == "scores":
        result = wilcoxon_signed_rank(a - b, alternative="two-sided")
        return "wilcoxon", result.statistic, result.pvalue
    b_only_a, b_only_b = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
    table = np.array([[0, b_only_a], [b_only_b, 0]])
    if b_only_a + b_only_b < EXACT_MCNEMAR_BELOW:
        return "mcnemar-exact", None, mcnemar(table, exact=True).pvalue
    result = mcnemar(table, corrected=True)
    return "mcnemar-chi2", result.statistic, result.pvalue


def compare_outcomes(outcomes, *, kind: str = "auto", confidence: float = 0.95,
                     n_resamples: int = 2000, random_state=0) -> Comparison:
    """Compare models measured on the same items.

    Parameters
    ----------
    outcomes : DataFrame of shape (n_items, n_models) (columns are model
        names, rows are items already matched by id), or a dict of
        model -> array of shape (n_items,).
    kind : "binary" (0/1 correctness), "scores" (real-valued metric) or
        "auto" (binary when every value is 0 or 1).
    confidence : coverage of every interval.
    n_resamples : bootstrap resamples of the paired differences.
    random_state : seed of the bootstraps.

    Returns
    -------
    Comparison with one :class:`ModelSummary` per model, one
    :class:`PairComparison` per pair of models (in column order), and the
    Cochran's Q omnibus test for 0/1 outcomes of three or more models.

    Scores too large to sum in float64 (up to ~1.8e308) are scaled by a
    power of two, which is exact, and the results scaled back; a result that
    itself exceeds float64 (a difference of two scores near the limit) raises
    a ValueError rather than print ``inf`` or ``nan``.

    Examples
    --------
    >>> result = compare_outcomes({"a": [1, 1, 1, 0, 1, 1], "b": [0, 1, 0, 0, 1, 0]})
    >>> result.kind, result.pairs[0].test, round(result.pairs[0].mean_diff, 3)
    ('binary', 'mcnemar-exact', 0.5)
    """
    table = _outcome_matrix(outcomes)
    values = table.to_numpy()
    kind = _resolve_kind(values, kind)
    exponent = _scale_exponent(values) if kind == "scores" else 0
    values = np.ldexp(values, -exponent)
    names = [str(c) for c in table.columns]
    models = [_summary(n, values[:, j], kind, confidence, random_state) for j, n in enumerate(names)]
    models = [m._replace(mean=_unscale(m.mean, exponent), low=_unscale(m.low, exponent),
                         high=_unscale(m.high, exponent)) for m in models]
    raw = []
    for i, j in combinations(range(len(names)), 2):
        diff = bootstrap_mean_ci(values[:, i] - values[:, j], confidence=confidence,
                                 n_resamples=n_resamples, random_state=random_state)
        test, statistic, pvalue = _paired_test(values[:, i], values[:, j], kind)
        raw.append((names[i], names[j], _unscale(diff.mean, exponent), _unscale(diff.low, exponent),
                    _unscale(diff.high, exponent), test, statistic, pvalue))
    adjusted = holm([r[-1] for r in raw]).pvalues if len(raw) > 1 else [raw[0][-1]]
    pairs = [PairComparison(*r, pvalue_holm=float(p)) for r, p in zip(raw, adjusted)]
    omnibus = None
    if kind == "binary" and len(names) > 2:
        q = cochrans_q(np.ones(len(values)), *values.T)
        omnibus = {"test": "cochrans-q", "statistic": q.statistic, "pvalue": q.pvalue, "df": q.df}
    _check_finite_results(models, pairs)
    return Comparison(kind, len(values), models, pairs, omnibus, confidence)


def _scale_exponent(values: np.ndarray) -> int:
    """e such that max|values| / 2**e <= 1 when the scores are large enough to overflow a sum, else 0.

    Scaling by a power of two changes only the exponent, so it loses nothing.
    """
    largest = float(np.max(np.abs(values)))
    return math.ceil(math.log2(largest)) if largest >= 2.0**500 else 0


def _unscale(value: float, exponent: int) -> float:
    with np.errstate(over="ignore"):  # a result beyond float64 becomes inf, refused below
        return float(np.ldexp(value, exponent))


def _check_finite_results(models, pairs) -> None:
    for m in models:
        if not np.isfinite([m.mean, m.low, m.high]).all():
            raise ValueError(f"the mean of model {m.model!r} or its interval is not a finite float64 number; "
                             "rescale the scores.")
    for p in pairs:
        if not np.isfinite([p.mean_diff, p.ci_low, p.ci_high]).all():
            raise ValueError(f"the difference {p.model_a!r} - {p.model_b!r} exceeds the float64 range "
                             "(about 1.8e308); rescale the scores.")


def _check_unique_ids(ids: pd.Series, source: str) -> None:
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        examples = ", ".join(map(str, duplicated.unique()[:5]))
        raise ValueError(f"{source}: item id(s) {examples} occur more than once ({len(duplicated)} duplicate rows).")


def _pick_id_field(table: pd.DataFrame, id_field: str | None, source: str) -> str:
    if id_field is not None:
        if id_field not in table.columns:
            raise ValueError(f"{source}: --id field {id_field!r} is not a column ({', '.join(map(str, table.columns))}).")
        return id_field
    for name in ID_FIELDS:
        if name in table.columns:
            return name
    raise ValueError(f"{source}: no item-id column found (looked for {', '.join(ID_FIELDS)}); name it with --id.")


def _metric_column(table: pd.DataFrame, metric: str | None, source: str, id_field: str) -> str:
    if metric is not None:
        if metric not in table.columns:
            raise ValueError(f"{source}: --metric field {metric!r} is not a column ({', '.join(map(str, table.columns))}).")
        return metric
    numeric = [c for c in table.columns if c != id_field and _holds_numbers(table[c])]
    if len(numeric) != 1:
        raise ValueError(f"{source}: cannot tell which field is the metric ({', '.join(map(str, numeric)) or 'none numeric'}); "
                         "name it with --metric.")
    return numeric[0]


def read_outcomes(paths: Sequence[str | Path], *, id_field: str | None = None,
                  metric: str | None = None, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Read per-item outcomes into an (items x models) table matched by item id.

    One path: a wide CSV/JSONL/Parquet table with an id column and one column
    per model (``models`` picks some; default every other column, each of
    which must then hold numbers: a column of text is an error, never
    silently dropped).
    Several paths: one per model, each a per-sample file such as
    lm-evaluation-harness writes (JSON Lines with ``doc_id`` and a metric
    field such as ``acc``); a model is named after its file.

    Outcomes must be numbers (``true``/``false`` count as 1/0); text, missing
    values and anything else raise a ``ValueError`` naming the file, the
    column and the row.

    Raises ``ValueError`` for duplicate ids, ids present in some files but not
    others, and missing fields.
    """
    if not paths:
        raise ValueError("give at least one outcomes file.")
    if len(paths) == 1:
        table = read_table(paths[0], argument="outcomes")
        key = _pick_id_field(table, id_field, str(paths[0]))
        _check_unique_ids(table[key], str(paths[0]))
        columns = list(models) if models else [c for c in table.columns if c != key]
        missing = [m for m in columns if m not in table.columns]
        if missing:
            raise ValueError(f"{paths[0]}: model column(s) {missing} not found.")
        return pd.DataFrame({str(c): _outcomes(table[c], f"{paths[0]}: model column {str(c)!r}")
                             for c in columns}, index=pd.Index(table[key].tolist(), name=key))
    per_model = {}
    for path in paths:
        table = read_table(path, argument="outcomes")
        key = _pick_id_field(table, id_field, str(path))
        _check_unique_ids(table[key], str(path))
        name = Path(path).stem
        if name in per_model:
            raise ValueError(f"two outcome files are both named {name!r}; rename one.")
        column = _metric_column(table, metric, str(path), key)
        per_model[name] = pd.Series(_outcomes(table[column], f"{path}: --metric field {column!r}"),
                                    index=pd.Index(table[key].tolist(), name=key))
    return _align(per_model)


def _holds_numbers(column: pd.Series) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating, np.bool_)) for v in column.tolist())


def _outcomes(column: pd.Series, what: str) -> np.ndarray:
    values = numbers(column, what=what, allow_bool=True)
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0]) + 1
        raise ValueError(f"{what}: row {row} is {values[row - 1]}, not a finite number.")
    return values


def _align(per_model: dict[str, pd.Series]) -> pd.DataFrame:
    all_ids = set().union(*(s.index for s in per_model.values()))
    for name, series in per_model.items():
        absent = all_ids.difference(series.index)
        if absent:
            examples = ", ".join(map(str, sorted(absent, key=str)[:5]))
            raise ValueError(f"unmatched item ids: {len(absent)} id(s) missing from {name!r} (e.g. {examples}).")
    return pd.DataFrame(per_model)
