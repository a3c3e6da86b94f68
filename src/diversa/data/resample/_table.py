"""Column-wise access to mixed-type tables for SMOTE-NC and SMOTE-N.

Nominal data arrive as object or string NumPy arrays or as pandas DataFrames
with object, string, category or bool columns. These helpers read such a table
column by column, encode nominal columns as integer codes, and put synthetic
rows back into a table of the caller's type: NumPy in, NumPy out with the
same dtype; pandas in, pandas out with the same columns and dtypes.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array


class Table:
    """A read-only, column-addressable view of ``X`` of shape (n, d)."""

    def __init__(self, X):
        if isinstance(X, pd.DataFrame):
            self.frame = X
            self.array = None
        else:
            if hasattr(X, "tocsr"):
                raise ValueError(
                    "X must be dense (an array or a DataFrame); sparse matrices are not "
                    "supported for nominal features."
                )
            array = np.asarray(X)
            if array.ndim != 2:
                raise ValueError(
                    f"X must be a 2-D array (n_samples, n_features); got shape {array.shape}."
                )
            self.frame = None
            self.array = array
        self.n_rows, self.n_columns = (self.frame if self.frame is not None else self.array).shape
        if self.n_rows == 0 or self.n_columns == 0:
            raise ValueError(f"X must have at least one row and one column; got shape "
                             f"({self.n_rows}, {self.n_columns}).")

    @property
    def is_frame(self) -> bool:
        return self.frame is not None

    def column_label(self, j: int):
        """The DataFrame column name of column ``j``, or ``j`` for arrays."""
        return self.frame.columns[j] if self.is_frame else j

    def column(self, j: int) -> np.ndarray:
        """Column ``j`` as a 1-D NumPy array of its values."""
        if self.is_frame:
            return self.frame.iloc[:, j].to_numpy()
        return self.array[:, j]

    def numeric_block(self, columns: np.ndarray) -> np.ndarray:
        """Columns ``columns`` as a finite float64 array of shape (n, len(columns)).

        Raises a ``ValueError`` naming the column when one is not numeric (it
        should then be listed as categorical) or holds NaN/inf.
        """
        pieces = []
        for j in columns:
            try:
                pieces.append(np.asarray(self.column(j), dtype=np.float64))
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"X column {self.column_label(j)!r} is treated as continuous but is not "
                    "numeric; list it in categorical_features."
                ) from error
        block = np.column_stack(pieces) if pieces else np.empty((self.n_rows, 0))
        return check_array(block, dtype=np.float64, input_name="X", ensure_min_features=0)

    def nominal_codes(self, columns: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Integer codes of the nominal columns and each column's distinct values.

        Returns ``codes`` of shape (n, len(columns)) and, per column, the array
        of values such that ``values[codes[i, f]]`` is the original entry.
        Missing values (None/NaN) are a value of their own.
        """
        codes = np.empty((self.n_rows, len(columns)), dtype=np.intp)
        values = []
        for f, j in enumerate(columns):
            column = self.column(j)
            column_codes, _ = pd.factorize(column, use_na_sentinel=False)
            codes[:, f] = column_codes
            # Decode from each value's first occurrence rather than factorize's
            # uniques, which turn None into NaN.
            _, first = np.unique(column_codes, return_index=True)
            values.append(np.asarray(column, dtype=object)[first])
        return codes, values

    def append_rows(self, synthetic_columns: list[np.ndarray]):
        """The table followed by synthetic rows given column by column.

        ``synthetic_columns[j]`` (S,) holds the synthetic values of column j.
        Integer and boolean columns get continuous values rounded to the
        nearest integer so that dtypes are preserved.
        """
        if self.is_frame:
            return self._append_to_frame(synthetic_columns)
        return self._append_to_array(synthetic_columns)

    def _append_to_array(self, synthetic_columns):
        n_new = len(synthetic_columns[0]) if synthetic_columns else 0
        out = np.empty((self.n_rows + n_new, self.n_columns), dtype=self.array.dtype)
        out[: self.n_rows] = self.array
        for j, values in enumerate(synthetic_columns):
            out[self.n_rows :, j] = _fit_to_dtype(values, self.array.dtype)
        return out

    def _append_to_frame(self, synthetic_columns):
        dtypes = self.frame.dtypes
        synthetic = pd.DataFrame(
            {j: _fit_to_dtype(values, dtypes.iloc[j]) for j, values in enumerate(synthetic_columns)}
        )
        synthetic.columns = self.frame.columns
        combined = pd.concat([self.frame.reset_index(drop=True), synthetic], ignore_index=True)
        # Concatenation can widen a dtype (category + object -> object, int +
        # float -> float); cast each column back to the caller's dtype.
        for j in range(self.n_columns):
            if combined.dtypes.iloc[j] != dtypes.iloc[j]:
                combined.isetitem(j, combined.iloc[:, j].astype(dtypes.iloc[j]))
        return combined


def _fit_to_dtype(values: np.ndarray, dtype) -> np.ndarray:
    """Round float values headed for an integer or boolean column."""
    values = np.asarray(values)
    if values.dtype.kind == "f" and _is_integer_like(dtype):
        return np.rint(values)
    return values


def _is_integer_like(dtype) -> bool:
    return pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def resolve_categorical_features(categorical_features, table: Table) -> np.ndarray:
    """Sorted column indices named by ``categorical_features``.

    Accepts ``"auto"`` (DataFrame columns of object, string, category or bool
    dtype), a boolean mask of length d, integer indices (negative ones count
    from the end) or, for DataFrames, column names. Raises a ``ValueError``
    naming ``categorical_features`` otherwise.
    """
    d = table.n_columns
    if isinstance(categorical_features, str) and categorical_features == "auto":
        if not table.is_frame:
            raise ValueError(
                "categorical_features='auto' needs X as a pandas DataFrame; give column "
                "indices or a boolean mask for arrays."
            )
        return np.flatnonzero([_is_nominal_dtype(dtype) for dtype in table.frame.dtypes])
    if isinstance(categorical_features, (str, bytes)) or np.ndim(categorical_features) != 1:
        raise ValueError(
            "categorical_features must be 'auto', a boolean mask, or a list of column indices "
            f"or names; got {categorical_features!r}."
        )
    entries = list(categorical_features)
    if entries and all(isinstance(e, (bool, np.bool_)) for e in entries):
        if len(entries) != d:
            raise ValueError(
                f"categorical_features as a boolean mask must have one entry per column of X "
                f"({d}); got {len(entries)}."
            )
        return np.flatnonzero(entries)
    indices = [_column_index(entry, table) for entry in entries]
    if len(set(indices)) != len(indices):
        raise ValueError(f"categorical_features names a column twice: {categorical_features!r}.")
    return np.array(sorted(indices), dtype=np.intp)


def _column_index(entry, table: Table) -> int:
    d = table.n_columns
    if isinstance(entry, numbers.Integral) and not isinstance(entry, (bool, np.bool_)):
        if not -d <= entry < d:
            raise ValueError(
                f"categorical_features index {entry} is out of range for X with {d} columns."
            )
        return int(entry) % d
    if table.is_frame and entry in table.frame.columns:
        return int(table.frame.columns.get_loc(entry))
    if not table.is_frame:
        raise ValueError(
            f"categorical_features entry {entry!r} is not an integer index; column names "
            "need X as a pandas DataFrame."
        )
    raise ValueError(f"categorical_features entry {entry!r} is not a column of X.")


def _is_nominal_dtype(dtype) -> bool:
    return not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
