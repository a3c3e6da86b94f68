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
    if fmt == "csv":
        return _csv_header(path)
    names: dict = {}
    for _, line in zip(range(64), _jsonl_lines(path)):  # the keys of the first lines, in order of appearance
        try:
            row = json.loads(line[1])
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise ValueError(f"{str(path)!r}: line {line[0]} is not a JSON object")
        names.update(dict.fromkeys(row))
    return list(names)


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
        import pyarrow as pa
        import pyarrow.csv as pcsv

        # Every cell as the text it is ("007" stays "007"; numbers are parsed where they are used), and
        # quoted line breaks inside cells, as Python's csv module reads them.
        header = _csv_header(path)
        options = pcsv.ConvertOptions(include_columns=columns, column_types={c: pa.string() for c in header})
        with pcsv.open_csv(str(path), convert_options=options,
                           parse_options=pcsv.ParseOptions(newlines_in_values=True)) as reader:
            for batch in reader:
                for start in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(start, batch_rows)
    else:
        yield from _jsonl_batches(path, columns, batch_rows)


def _csv_header(path: Path) -> list[str]:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), [])


def _jsonl_batches(path: Path, columns, batch_rows: int):
    """JSON Lines parsed line by line (one JSON object each), as columns of one value type each."""
    rows, first = [], 1
    for number, line in _jsonl_lines(path):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise ValueError(f"{str(path)!r}: line {number} is not a JSON object")
        if not rows:
            first = number
        rows.append(row)
        if len(rows) == batch_rows:
            yield _rows_to_table(rows, columns, path, first)
            rows = []
    if rows:
        yield _rows_to_table(rows, columns, path, first)


def _jsonl_lines(path: Path):
    """(line number, raw bytes) of the non-blank lines of a JSON Lines file."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, line


def _rows_to_table(rows: list[dict], columns, path: Path, first_line: int):
    import pyarrow as pa

    names = columns or list(dict.fromkeys(key for row in rows for key in row))
    return pa.table({name: _arrow_column([row.get(name) for row in rows], name, path, first_line)
                     for name in names})


def _arrow_column(values: list, name: str, path: Path, first_line: int):
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        kinds = sorted({type(v).__name__ for v in values if v is not None})
        raise ValueError(f"{str(path)!r}: column {name!r} holds values of several types ({', '.join(kinds)}) "
                         f"in the lines from {first_line} on; give it one type") from None


def _table_ordered_lines(path: Path):
    """Each line of a JSON Lines file with its keys in the table's column order (first appearance), as the
    whole-table writer orders them: the line's own bytes when its keys are in that order already."""
    seen: dict = {}
    for _, line in _jsonl_lines(path):
        row = json.loads(line)
        seen.update(dict.fromkeys(row))
        if list(row) == [key for key in seen if key in row]:
            yield line if line.endswith(b"\n") else line + b"\n"
        else:
            ordered = {key: row[key] for key in seen if key in row}
            yield (json.dumps(ordered, ensure_ascii=False) + "\n").encode("utf-8")


def copy_selected_rows(path, fmt: str, rank: np.ndarray, target: Path, order: str = "input") -> None:
    """Write the rows of a JSON Lines or CSV table whose ``rank`` is >= 0 to ``target`` exactly as they
    were read (JSON Lines: the same bytes; CSV: the same cells), in input or ``rank`` order."""
    import csv

    if fmt == "jsonl":
        chosen = ((rank[i], line) for i, line in enumerate(_table_ordered_lines(Path(path))) if rank[i] >= 0)
        rows = sorted(chosen, key=lambda pair: pair[0]) if order == "rank" else chosen
        with open(target, "wb") as out:
            out.writelines(line for _, line in rows)
        return
    with open(path, encoding="utf-8", newline="") as fh, open(target, "w", encoding="utf-8", newline="") as out:
        reader = csv.reader(fh)
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(next(reader, []))
        data = (row for row in reader if row)  # pyarrow skips empty lines too
        chosen = ((rank[i], row) for i, row in enumerate(data) if rank[i] >= 0)
        writer.writerows(row for _, row in (sorted(chosen, key=lambda pair: pair[0]) if order == "rank" else chosen))


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
