"""Mixed-type tables for rule learning: numbers, strings and missing values side by side.

FOLD-R++ and FOLD-SE (Wang & Gupta, "FOLD-SE: An Efficient Rule-based Machine
Learning Algorithm with Scalable Explainability", arXiv:2208.07912) learn
directly on tabular data that mixes numeric and categorical columns, with no
one-hot encoding. Every column is declared numerical or categorical:

* a categorical column holds strings only (numbers are written as strings,
  ``4.0`` as ``'4'``);
* a numerical column holds numbers, but strings are allowed in it (a *mixed*
  column, e.g. ``'?'`` or ``'unknown'``); a string that reads as a number
  (``'3.5'``) is that number, as when FOLD-R++ reads its CSV files;
* a missing value (``None``, ``NaN``, ``pd.NA``) becomes the empty string
  ``''`` in either kind of column, as FOLD-R++ does for empty CSV cells, and
  is never compared as a number.

:class:`TableEncoder` learns, per column, the sorted numbers and sorted
strings seen in training; :class:`EncodedTable` holds a table as a float
matrix (``NaN`` where a cell is not a number) plus a matrix of string codes
(``-1`` for numbers, ``-2`` for strings never seen in training), which is all
that literal evaluation and the prefix-sum literal search need.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

#: The string a missing value becomes (FOLD-R++: an empty CSV cell).
MISSING = ""
#: String code of a cell holding a number.
NUMBER_CODE = -1
#: String code of a string that training never saw.
UNSEEN_CODE = -2


def _is_missing_scalar(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    try:  # pd.NA, pd.NaT and friends, without importing pandas here
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency of the project
        return False


def format_category(value) -> str:
    """The string a value takes in a categorical column (integral floats lose their ``.0``)."""
    if isinstance(value, str):
        return value
    if _is_missing_scalar(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (numbers.Integral, np.integer)):
        return str(int(value))
    if isinstance(value, (numbers.Real, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _numeric_cell(value) -> float | str:
    """A cell of a numerical column: a float, or a string for text and missing values."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return MISSING if np.isnan(number) else number
    if _is_missing_scalar(value):
        return MISSING
    if isinstance(value, (bool, np.bool_, numbers.Real, np.number)) and not isinstance(value, complex):
        return float(value)
    return str(value)


def split_column(column: np.ndarray, categorical: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cells of one column as (numbers with NaN elsewhere, strings with None elsewhere).

    Parameters
    ----------
    column : array of shape (n_samples,), any dtype
    categorical : whether the column is declared categorical (all strings)

    Returns
    -------
    numbers : float array of shape (n_samples,)
    strings : object array of shape (n_samples,), ``None`` where ``numbers`` holds the cell
    """
    n = column.shape[0]
    if not categorical and column.dtype.kind in "fiub":
        floats = column.astype(np.float64)
        missing = np.isnan(floats)
        strings = np.full(n, None, dtype=object)
        strings[missing] = MISSING
        return floats, strings
    floats = np.full(n, np.nan)
    strings = np.empty(n, dtype=object)
    if categorical:
        strings[:] = [format_category(v) for v in column]
        return floats, strings
    for i, value in enumerate(column):
        cell = _numeric_cell(value)
        if isinstance(cell, str):
            strings[i] = cell
        else:
            floats[i] = cell
    return floats, strings


def infer_categorical(X, X_array: np.ndarray, categorical_features) -> np.ndarray:
    """Which columns are categorical, as a boolean mask of shape (n_features,).

    ``"auto"``: pandas columns of object, string, category or bool dtype are
    categorical unless (object dtype) every non-missing value is a number;
    for arrays, a bool array is categorical, a numeric one numerical, and an
    object array is decided per column the same way. Otherwise
    ``categorical_features`` lists column indices, feature names or is a
    boolean mask; the other columns are numerical (mixed type allowed).
    """
    n_features = X_array.shape[1]
    if isinstance(categorical_features, str):
        if categorical_features != "auto":
            raise ValueError(
                f"categorical_features must be 'auto', a list of columns or a boolean mask, "
                f"got {categorical_features!r}."
            )
        return _auto_categorical(X, X_array)
    if categorical_features is None:
        return np.zeros(n_features, dtype=bool)
    selection = np.asarray(list(categorical_features), dtype=object)
    mask = np.zeros(n_features, dtype=bool)
    if selection.size == 0:
        return mask
    if all(isinstance(s, (bool, np.bool_)) for s in selection):
        if selection.size != n_features:
            raise ValueError(
                f"categorical_features as a boolean mask needs {n_features} entries, got {selection.size}."
            )
        return selection.astype(bool)
    names = list(getattr(X, "columns", []))
    for item in selection:
        if isinstance(item, str):
            if item not in names:
                raise ValueError(f"categorical_features names {item!r}, which is not a column of X.")
            mask[names.index(item)] = True
        elif isinstance(item, (numbers.Integral, np.integer)) and -n_features <= int(item) < n_features:
            mask[int(item)] = True
        else:
            raise ValueError(
                f"categorical_features holds {item!r}: expected column indices in [0, {n_features}) or names."
            )
    return mask


def _auto_categorical(X, X_array: np.ndarray) -> np.ndarray:
    n_features = X_array.shape[1]
    dtypes = getattr(X, "dtypes", None)
    mask = np.zeros(n_features, dtype=bool)
    for j in range(n_features):
        if dtypes is not None:
            dtype = dtypes.iloc[j]
            kind = getattr(dtype, "kind", "O")
            if kind == "b" or str(dtype) == "boolean":
                mask[j] = True
                continue
            if kind in "fiuc" or str(dtype).startswith(("Int", "UInt", "Float")):
                continue
            column = np.asarray(X.iloc[:, j].to_numpy(dtype=object))
        else:
            if X_array.dtype.kind == "b":
                mask[j] = True
                continue
            if X_array.dtype.kind != "O":
                continue
            column = X_array[:, j]
        mask[j] = not all(
            _is_missing_scalar(v) or (isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_)))
            for v in column
        )
    return mask


def column_arrays(X, X_array: np.ndarray) -> list[np.ndarray]:
    """The columns of X: pandas columns keep their own dtype, array columns are sliced."""
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        return [X.iloc[:, j].to_numpy() if X.dtypes.iloc[j].kind in "fiub"
                else np.asarray(X.iloc[:, j].to_numpy(dtype=object)) for j in range(X.shape[1])]
    return [X_array[:, j] for j in range(X_array.shape[1])]


@dataclass
class EncodedTable:
    """A mixed-type table ready for literal evaluation.

    Attributes
    ----------
    numbers : float array (n_samples, n_features); NaN where the cell is a string
    codes : int array (n_samples, n_features); index of the cell's string in the
        column's sorted training vocabulary, ``-1`` for numbers, ``-2`` unseen
    number_codes : int array (n_samples, n_features) or None; for training
        tables, index of the cell's number among the column's sorted distinct
        training numbers (``-1`` for strings)
    """

    numbers: np.ndarray
    codes: np.ndarray
    number_codes: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return self.numbers.shape[0]


@dataclass
class TableEncoder:
    """Per-column vocabularies learned from training data.

    ``categorical[j]`` says how column j is read; ``number_values[j]`` are its
    sorted distinct training numbers (the FOLD-R++ thresholds) and
    ``string_values[j]`` its sorted distinct training strings.
    """

    categorical: np.ndarray
    number_values: list[np.ndarray]
    string_values: list[tuple[str, ...]]

    @classmethod
    def fit(cls, columns: list[np.ndarray], categorical: np.ndarray) -> tuple[TableEncoder, EncodedTable]:
        """Learn the vocabularies from training columns and encode them."""
        number_values, string_values, parts = [], [], []
        for column, is_cat in zip(columns, categorical):
            floats, strings = split_column(column, bool(is_cat))
            is_number = ~np.isnan(floats)
            number_values.append(np.unique(floats[is_number]))
            string_values.append(tuple(sorted(set(strings[~is_number].tolist()))))
            parts.append((floats, strings))
        encoder = cls(np.asarray(categorical, dtype=bool), number_values, string_values)
        table = encoder._encode(parts, with_number_codes=True)
        return encoder, table

    def transform(self, columns: list[np.ndarray]) -> EncodedTable:
        """Encode new columns with the training vocabularies."""
        parts = [split_column(column, bool(is_cat)) for column, is_cat in zip(columns, self.categorical)]
        return self._encode(parts, with_number_codes=False)

    def string_code(self, feature: int, value: str) -> int:
        """Code of a training string of column ``feature`` (``-2`` if training never saw it)."""
        values = self.string_values[feature]
        position = _bisect(values, value)
        return position if position < len(values) and values[position] == value else UNSEEN_CODE

    def _encode(self, parts, with_number_codes: bool) -> EncodedTable:
        n = parts[0][0].shape[0] if parts else 0
        n_features = len(parts)
        numbers_ = np.empty((n, n_features))
        codes = np.empty((n, n_features), dtype=np.int64)
        number_codes = np.empty((n, n_features), dtype=np.int64) if with_number_codes else None
        for j, (floats, strings) in enumerate(parts):
            numbers_[:, j] = floats
            is_number = ~np.isnan(floats)
            column_codes = np.full(n, NUMBER_CODE, dtype=np.int64)
            vocabulary = self.string_values[j]
            if len(vocabulary) and (~is_number).any():
                lookup = {value: k for k, value in enumerate(vocabulary)}
                column_codes[~is_number] = [lookup.get(s, UNSEEN_CODE) for s in strings[~is_number]]
            elif (~is_number).any():
                column_codes[~is_number] = UNSEEN_CODE
            codes[:, j] = column_codes
            if with_number_codes:
                number_code = np.full(n, -1, dtype=np.int64)
                number_code[is_number] = np.searchsorted(self.number_values[j], floats[is_number])
                number_codes[:, j] = number_code
        return EncodedTable(numbers_, codes, number_codes)


def _bisect(values: tuple[str, ...], value: str) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo
