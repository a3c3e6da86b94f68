"""Tables read and written batch by batch: Parquet (a file or a folder of files), JSON Lines, CSV.

The corpus-scale selection (:mod:`diversa.data.select.pipeline`) reads a table
several times, each time only the columns it needs, one record batch at a
time (``pyarrow.dataset`` for Parquet and CSV, line blocks parsed by
``pyarrow.json`` for JSON Lines), and writes the selected rows by streaming
the table once more. Row order is the file order (a folder's files in sorted
order), so a row's position is its id in every pass.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".csv": "csv"}


def corpus_format(path) -> str:
    """``"parquet"``, ``"jsonl"`` or ``"csv"`` from the extension (a folder holds Parquet files)."""
    path = Path(path)
    if path.is_dir():
        return "parquet"
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{str(path)!r} must be a .parquet, .jsonl or .csv file or a folder of .parquet files")
    return fmt


def _parquet_files(path: Path) -> list[str]:
    if not path.is_dir():
        return [str(path)]
    files = sorted(str(p) for p in path.rglob("*.parquet"))
    if not files:
        raise ValueError(f"folder {str(path)!r} holds no .parquet files")
    return files


def column_names(path) -> list[str]:
    """The columns of the table at ``path`` (read from the first batch or the schema)."""
    path = Path(path)
    fmt = corpus_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(_parquet_files(path)[0]).names)
    for batch in iter_batches(path, None, 64):
        return list(batch.column_names)
    return []


def iter_batches(path, columns, batch_rows: int):
    """Record batches (``pyarrow.Table`` or ``RecordBatch``) of the ``columns`` (None: all) of the table at
    ``path``, at most ``batch_rows`` rows each, in file order."""
    path = Path(path)
    fmt = corpus_format(path)
    if fmt == "parquet":
        import pyarrow.dataset as ds

        dataset = ds.dataset(_parquet_files(path), format="parquet")
        yield from dataset.to_batches(columns=columns, batch_size=batch_rows, use_threads=False)
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        options = pcsv.ConvertOptions(include_columns=columns) if columns else None
        with pcsv.open_csv(str(path), convert_options=options) as reader:
            for batch in reader:
                for start in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(start, batch_rows)
    else:
        yield from _jsonl_batches(path, columns, batch_rows)


def _jsonl_batches(path: Path, columns, batch_rows: int):
    import pyarrow as pa
    import pyarrow.json as pj

    def parse(lines, first_line):
        try:
            table = pj.read_json(io.BytesIO(b"".join(lines)))
        except pa.ArrowInvalid as err:
            raise ValueError(f"{str(path)!r}: a line from line {first_line} on is not a JSON object ({err})") from None
        if columns:
            missing = [c for c in columns if c not in table.column_names]
            for name in missing:  # a column absent from a whole block: all null there
                table = table.append_column(name, pa.nulls(table.num_rows))
            table = table.select(columns)
        return table

    lines, first = [], 1
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            lines.append(line if line.endswith(b"\n") else line + b"\n")
            if len(lines) == batch_rows:
                yield parse(lines, first)
                lines, first = [], number + 1
    if lines:
        yield parse(lines, first)


class TableWriter:
    """Rows appended batch by batch to a temporary file beside ``path``; :meth:`commit` renames it into
    place, :meth:`discard` removes it (nothing half-written is left at ``path``)."""

    def __init__(self, path, fmt: str):
        self.path = Path(path)
        self.fmt = fmt
        self.temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._writer = None
        self._fh = None
        open(self.temp, "wb").close()  # an empty file when no row is selected

    def write(self, table) -> None:
        """Append a ``pyarrow.Table``."""
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            if self._writer is None:
                self._writer = pq.ParquetWriter(str(self.temp), table.schema)
            self._writer.write_table(table.cast(self._writer.schema))
        elif self.fmt == "csv":
            import pyarrow.csv as pcsv

            if self._writer is None:
                self._schema = table.schema
                self._writer = pcsv.CSVWriter(str(self.temp), table.schema)
            self._writer.write_table(table.cast(self._schema))
        else:
            if self._fh is None:
                self._fh = open(self.temp, "w", encoding="utf-8")
            for row in table.to_pylist():
                self._fh.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def commit(self) -> None:
        self.close()
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        self.close()
        if self.temp.exists():
            self.temp.unlink()


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return str(value)
