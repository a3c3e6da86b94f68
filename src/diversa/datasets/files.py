"""Reading and writing tables the command line works on (CSV, JSON Lines, Parquet).

Writes are atomic: the table goes to a temporary file in the target folder and
is renamed into place, so a failed command never leaves a partial output.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

_READERS = {
    ".csv": pd.read_csv,
    ".jsonl": lambda path: pd.read_json(path, lines=True),
    ".parquet": pd.read_parquet,
}


def _suffix(path: Path, argument: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise ValueError(f"{argument} {str(path)!r}: unsupported file type {suffix or '(none)'!r}; "
                         f"use one of {', '.join(_READERS)}.")
    return suffix


def read_table(path, *, argument: str = "input") -> pd.DataFrame:
    """Read a CSV, JSON Lines or Parquet file into a DataFrame (by file extension).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for an
    unsupported extension or an empty table, naming ``argument``.
    """
    path = Path(path)
    reader = _READERS[_suffix(path, argument)]
    if not path.is_file():
        raise FileNotFoundError(f"{argument} {str(path)!r} does not exist.")
    try:
        table = reader(path)
    except ImportError as exc:  # Parquet without pyarrow installed
        raise ValueError(f"{argument} {str(path)!r}: reading {path.suffix} files needs {exc.name or 'pyarrow'}; "
                         "install it with `pip install pyarrow`.") from exc
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    if table.empty:
        raise ValueError(f"{argument} {str(path)!r} has no rows.")
    return table


def write_table(table: pd.DataFrame, path, *, argument: str = "out") -> Path:
    """Write ``table`` atomically in the format of ``path``'s extension."""
    path = Path(path)
    suffix = _suffix(path, argument)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        if suffix == ".csv":
            table.to_csv(tmp, index=False)
        elif suffix == ".jsonl":
            table.to_json(tmp, orient="records", lines=True)
        else:
            table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
