"""Encoding of several protected attributes of mixed types into vectors for a distance-covariance penalty.

Lee, Antonio, Avanzi, Marchi, Zhou, arXiv:2509.08163, spec ``tabular.md#dcov-fairness``. Distance
covariance works on vectors, so each attribute becomes a block of columns: continuous -> z-score
with the training mean and SD (scikit-learn's ``StandardScaler``); binary -> {0, 1}; categorical with
L levels -> one-hot scaled by ``1/sqrt(2)``, so two different categories are at Euclidean distance 1
like the two values of a binary attribute (scikit-learn's ``OneHotEncoder``). The paper's exact
scaling is not visible; this is the spec's recommendation. The blocks feed JdCov (one variable per
attribute) and CCdCov (all blocks side by side).

Types are inferred when not given: text, boolean and categorical columns are binary (2 levels) or
categorical; numeric columns with 2 values are binary, integer columns with at most
``max_levels`` values categorical, the rest (all other floats) continuous. An attribute that takes a single value,
missing values and infinities are refused.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ATTRIBUTE_TYPES", "ProtectedAttributeEncoder", "as_attribute_frame", "infer_attribute_type"]

ATTRIBUTE_TYPES = ("continuous", "binary", "categorical")


def as_attribute_frame(sensitive, name: str = "sensitive_features", n_samples: int | None = None) -> pd.DataFrame:
    """The protected attributes as a DataFrame ``(n, d)``, checked: no missing or infinite values.

    ``sensitive`` is a DataFrame, a Series, a 1-D array (one attribute) or a 2-D array (one column
    per attribute; columns named ``s0, s1, ..``); ``name`` is the argument named in errors.
    """
    if isinstance(sensitive, pd.DataFrame):
        frame = sensitive.reset_index(drop=True)
    elif isinstance(sensitive, pd.Series):
        frame = sensitive.reset_index(drop=True).to_frame(sensitive.name if sensitive.name is not None else "s0")
    else:
        values = np.asarray(sensitive)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"{name} must be 1-D or 2-D, got an array of shape {values.shape}.")
        frame = pd.DataFrame(values, columns=[f"s{k}" for k in range(values.shape[1])])
    if frame.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one attribute column.")
    if n_samples is not None and len(frame) != n_samples:
        raise ValueError(f"{name} must have one row per sample of X: got {len(frame)} rows for {n_samples} samples.")
    for column in frame.columns:
        values = frame[column]
        missing = values.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            missing = missing | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if missing.any():
            raise ValueError(f"{name} contains NaN or infinity in attribute {column!r}.")
    return frame


def infer_attribute_type(values: pd.Series, max_levels: int = 10) -> str:
    """``"continuous"``, ``"binary"`` or ``"categorical"`` for one attribute column (rules in the module doc)."""
    n_levels = values.nunique()
    if n_levels == 2:
        return "binary"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric:
        return "categorical"
    if pd.api.types.is_integer_dtype(values) and n_levels <= max_levels:
        return "categorical"
    return "continuous"


def _resolve_types(types, columns, name: str = "types") -> dict:
    if isinstance(types, str):
        if types != "auto":
            raise ValueError(f"{name} must be 'auto', a dict or a sequence of {ATTRIBUTE_TYPES}, got {types!r}.")
        return {}
    if isinstance(types, dict):
        unknown = set(types) - set(columns)
        if unknown:
            raise ValueError(f"{name} names unknown attributes {sorted(map(str, unknown))}; "
                             f"attributes are {list(columns)}.")
        chosen = dict(types)
    else:
        chosen = list(types)
        if len(chosen) != len(columns):
            raise ValueError(f"{name} must give one type per attribute ({len(columns)}), got {len(chosen)}.")
        chosen = dict(zip(columns, chosen))
    bad = {k: v for k, v in chosen.items() if v not in ATTRIBUTE_TYPES + ("auto",)}
    if bad:
        raise ValueError(f"{name} must map attributes to one of {ATTRIBUTE_TYPES}, got {bad}.")
    return {k: v for k, v in chosen.items() if v != "auto"}


class ProtectedAttributeEncoder(TransformerMixin, BaseEstimator):
    """Encode mixed-type protected attributes as numeric blocks for distance-covariance penalties.

    Lee et al., arXiv:2509.08163. Continuous -> z-score; binary -> {0, 1} (the first sorted level is
    0); categorical -> one-hot / sqrt(2). ``transform`` returns the blocks side by side
    ``(n, sum p_k)`` (what CCdCov takes); :meth:`transform_blocks` returns one ``(n, p_k)`` array per
    attribute (what JdCov and the sum of marginals take).

    Parameters
    ----------
    types : "auto", dict {column: type} or a sequence with one type per column; types are
        "continuous", "binary", "categorical" or "auto" (inferred, see the module doc).
    max_levels : int, the most distinct integer values an inferred categorical column may have.

    Attributes
    ----------
    types_ (list of str, one per attribute), blocks_ (list of column slices of the output),
    encoders_ (the fitted scikit-learn scaler or one-hot encoder of each attribute),
    attribute_names_ (list), n_features_in_, feature_names_in_ (DataFrame input).

    Examples
    --------
    >>> import pandas as pd
    >>> S = pd.DataFrame({"age": [23., 35., 51., 64., 47.], "sex": ["f", "m", "m", "f", "f"],
    ...                   "group": ["a", "b", "c", "a", "b"]})
    >>> enc = ProtectedAttributeEncoder().fit(S)
    >>> enc.types_, enc.transform(S).shape
    (['continuous', 'binary', 'categorical'], (5, 5))
    """

    def __init__(self, types="auto", max_levels=10):
        self.types = types
        self.max_levels = max_levels

    def _frame(self, X, reset: bool) -> pd.DataFrame:
        # validate_data keeps scikit-learn's bookkeeping (n_features_in_, feature names); the
        # frame keeps each column's own dtype for type inference and encoding
        validate_data(self, X, dtype=None, ensure_all_finite=False, reset=reset)
        return as_attribute_frame(X, name="X")

    def fit(self, X, y=None):
        """Learn each attribute's type and encoding from ``X`` ``(n, d)`` (DataFrame or array)."""
        if isinstance(self.max_levels, bool) or not isinstance(self.max_levels, numbers.Integral) \
                or self.max_levels < 2:
            raise ValueError(f"max_levels must be an int >= 2, got {self.max_levels!r}.")
        frame = self._frame(X, reset=True)
        if len(frame) < 2:
            raise ValueError(f"protected attributes need at least 2 samples, got {len(frame)} sample.")
        chosen = _resolve_types(self.types, list(frame.columns))
        self.attribute_names_ = list(frame.columns)
        self.types_, self.encoders_, self.blocks_ = [], [], []
        start = 0
        for column in frame.columns:
            values = frame[column]
            try:
                n_levels = values.nunique()
            except TypeError as error:  # unhashable entries such as dicts
                raise TypeError(f"protected attribute {column!r}: each value must be a string or a number "
                                f"(argument must be a string or a number; {error}).") from None
            if n_levels < 2:
                raise ValueError(f"protected attribute {column!r} takes one value; it cannot be depended on.")
            kind = chosen.get(column) or infer_attribute_type(values, self.max_levels)
            if kind == "binary" and values.nunique() != 2:
                raise ValueError(f"protected attribute {column!r} is declared binary but takes "
                                 f"{values.nunique()} values.")
            column_frame = frame[[column]]
            if kind == "continuous":
                encoder = StandardScaler().fit(column_frame.to_numpy(dtype=float))
            else:
                encoder = OneHotEncoder(drop="if_binary" if kind == "binary" else None, sparse_output=False,
                                        handle_unknown="error").fit(column_frame.to_numpy(dtype=object))
            width = 1 if kind != "categorical" else len(encoder.categories_[0])
            self.types_.append(kind)
            self.encoders_.append(encoder)
            self.blocks_.append(slice(start, start + width))
            start += width
        return self

    def transform_blocks(self, X) -> list[np.ndarray]:
        """One float64 block ``(n, p_k)`` per attribute (``p_k`` = 1 or the number of levels)."""
        check_is_fitted(self, "encoders_")
        frame = self._frame(X, reset=False)
        blocks = []
        for column, kind, encoder in zip(self.attribute_names_, self.types_, self.encoders_):
            column_frame = frame[[column]]
            if kind == "continuous":
                blocks.append(encoder.transform(column_frame.to_numpy(dtype=float)))
                continue
            try:
                block = encoder.transform(column_frame.to_numpy(dtype=object)).astype(np.float64)
            except ValueError as error:
                raise ValueError(f"protected attribute {column!r} has a level not seen in fit: {error}") from None
            blocks.append(block / np.sqrt(2.0) if kind == "categorical" else block)
        return blocks

    def transform(self, X) -> np.ndarray:
        """The encoded attributes side by side, ``(n, sum p_k)`` float64 (the CCdCov vector)."""
        return np.hstack(self.transform_blocks(X))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names: the attribute, and for one-hot blocks ``attribute=level``."""
        check_is_fitted(self, "encoders_")
        names = []
        for column, kind, encoder in zip(self.attribute_names_, self.types_, self.encoders_):
            if kind == "categorical":
                names.extend(f"{column}={level}" for level in encoder.categories_[0])
            else:
                names.append(str(column))
        return np.asarray(names, dtype=object)
