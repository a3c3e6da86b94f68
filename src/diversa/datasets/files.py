"""Reading and writing the tables the command line works on (CSV, JSON Lines, Parquet).

Commands that pass rows through (``select``, ``resample``) must hand them back
unchanged, so the reader keeps every value exactly as the file holds it and
the writer writes it back the same way:

* JSON Lines: each line is parsed with :mod:`json`; strings stay strings
  (``"007"``), numbers keep every digit, nested values stay nested, ``null``
  is ``None`` and a key a row lacks is ``pandas.NA`` (written back as absent).
* CSV: a cell becomes an ``int`` or ``float`` only when it spells a number;
  integers with leading zeros (``007``) or a sign (``+5``) stay text. A number
  whose spelling is not Python's own (``0.50``, ``1e3``) is a :class:`CSVFloat`,
  a float that remembers its text, so CSV output repeats it verbatim. An empty
  cell is ``None``; nothing else (``NA``, ``null``, ``nan``...) is treated as
  missing, except that ``nan`` and ``inf`` are the floats they spell.
* Parquet: values come from pyarrow; the column types are written back as read.

Columns whose values all have one exact type become ``int64``, ``float64`` or
``bool`` columns; all others are ``object`` columns holding the values as
they are. Column order is the file's (for JSON Lines, the order in which keys
first appear).

``"-"`` reads standard input (its format is recognised from the content) and
writes standard output. Writes to files are atomic: the bytes go to a hidden
temporary file in the target folder, created with the permissions the umask
allows (like any new file), and are renamed into place, so a failed command
never leaves a partial output. :class:`StagedWrites` writes several files
together, after all of them were encoded. Every error names the file the user
gave (and the line for JSON Lines), never a temporary one.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import secrets
import sys
from pathlib import Path

import numpy as np
import pandas as pd

STDIO = "-"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}

_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]*")
_OTHER_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)
_INT64 = (-(2**63), 2**63 - 1)


class CSVFloat(float):
    """A float read from a CSV cell whose spelling (``0.50``, ``1e3``) differs from Python's.

    It is the number for every computation; ``text`` is the cell as written,
    which the CSV writer repeats so the file comes back byte for byte.
    """

    __slots__ = ("text",)

    def __new__(cls, text: str):
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __reduce__(self):
        return CSVFloat, (self.text,)


def is_stdio(path) -> bool:
    """True when ``path`` is ``"-"``: standard input for inputs, standard output for outputs."""
    return isinstance(path, str) and path == STDIO


def describe(path, argument: str, *, output: bool = False) -> str:
    """How error messages name a file: ``DATA 'x.csv'``, ``DATA (standard input)`` or
    ``--out (standard output)``."""
    if is_stdio(path):
        return f"{argument} (standard {'output' if output else 'input'})"
    return f"{argument} {str(path)!r}"


def table_format(path, *, argument: str = "input") -> str:
    """``"csv"``, ``"jsonl"`` or ``"parquet"`` from the file extension; ValueError otherwise."""
    suffix = Path(str(path)).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{describe(path, argument)}: unsupported file type {suffix or '(none)'!r}; "
                         f"use one of {', '.join(FORMATS)}.")
    return FORMATS[suffix]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def read_bytes(path, *, argument: str = "input") -> bytes:
    """The bytes of ``path`` (standard input for ``"-"``), with one-line errors naming ``argument``."""
    if is_stdio(path):
        return sys.stdin.buffer.read()
    path = Path(path)
    where = describe(path, argument)
    if path.is_dir():
        raise IsADirectoryError(f"{where} is a folder, not a file.")
    if not path.exists():
        raise FileNotFoundError(f"{where} does not exist.")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OSError(f"{where} cannot be read: {exc.strerror or exc}.") from None


def decode_text(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped); ValueError with the line of a bad byte."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{where} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}).") from None


def sniff_format(data: bytes) -> str:
    """The format of a table given on standard input: Parquet by its magic bytes, JSON Lines when
    the first character is ``{``, CSV otherwise."""
    if data.startswith(b"PAR1"):
        return "parquet"
    return "jsonl" if data.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"{") else "csv"


def read_table(path, *, argument: str = "input") -> pd.DataFrame:
    """Read a CSV, JSON Lines or Parquet file (``"-"``: standard input) into a DataFrame.

    Values are kept exactly as the module docstring describes. The format
    (``"csv"``, ``"jsonl"``, ``"parquet"``) is recorded in ``table.attrs["format"]``
    so that a table read from standard input can be written back in kind.
    Raises ``FileNotFoundError`` for a missing file, ``IsADirectoryError`` for
    a folder and ``ValueError`` for an unsupported extension, undecodable or
    malformed content or a table without rows, each naming ``argument``.
    """
    where = describe(path, argument)
    fmt = None if is_stdio(path) else table_format(path, argument=argument)
    data = read_bytes(path, argument=argument)
    fmt = fmt or sniff_format(data)
    if not data.strip():
        raise ValueError(f"{where} is empty.")
    names, columns, attrs = _PARSERS[fmt](data, where)
    if not columns or not len(columns[0]):
        raise ValueError(f"{where} has no {'rows' if names or fmt != 'jsonl' else 'fields'}.")
    table = pd.DataFrame({name: typed_column(values) for name, values in zip(names, columns)})
    table.attrs.update(attrs, format=fmt)
    return table


def _read_jsonl(data: bytes, where: str):
    records = []
    for number, line in enumerate(decode_text(data, where).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where} line {number}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
        except RecursionError:
            raise ValueError(f"{where} line {number}: JSON nested too deeply.") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where} line {number}: expected a JSON object {{...}}, got a "
                             f"{type(record).__name__}; JSON Lines holds one object per line.")
        records.append(record)
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = [[record.get(name, pd.NA) for record in records] for name in names]
    return names, columns, {}


def _read_csv(data: bytes, where: str):
    text = decode_text(data, where)
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header, rows = None, []
    try:
        for row in reader:
            if not row:
                continue  # a blank line
            if header is None:
                header = row
                duplicated = sorted({name for name in row if row.count(name) > 1})
                if duplicated:
                    raise ValueError(f"{where} line {reader.line_num}: duplicated column name(s) "
                                     f"{', '.join(map(repr, duplicated))}.")
                continue
            if len(row) != len(header):
                raise ValueError(f"{where} line {reader.line_num}: {len(row)} fields, but the header has "
                                 f"{len(header)}.")
            rows.append(row)
    except csv.Error as exc:
        raise ValueError(f"{where} line {reader.line_num}: not valid CSV ({exc}).") from None
    if header is None:
        return [], [], {}
    columns = [[parse_csv_cell(row[j]) for row in rows] for j in range(len(header))]
    return header, columns, {}


def parse_csv_cell(text: str):
    """The value a CSV cell spells: ``None`` (empty), ``int``, ``float``, :class:`CSVFloat` or ``str``."""
    if not text:
        return None
    if _CANONICAL_INT.fullmatch(text):
        return int(text)
    if _OTHER_INT.fullmatch(text):
        return text  # 007, +5, -0: an identifier or an unusual spelling; keep the text
    if _DECIMAL.fullmatch(text):
        number = float(text)
        return number if repr(number) == text else CSVFloat(text)
    return text


def _read_parquet(data: bytes, where: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{where} is not a readable Parquet file ({reason}).") from None
    names = list(table.column_names)
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"{where}: duplicated column name(s) {', '.join(map(repr, duplicated))}.")
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    if not names:
        return [], [], {}
    return names, columns, {"parquet_types": {name: table.schema.field(name).type for name in names}}


_PARSERS = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}


def typed_column(values: list) -> pd.Series:
    """A column of Python values: int64, float64 or bool when every value has exactly that type,
    else object (the values as they are)."""
    kinds = {type(v) for v in values}
    if kinds == {int} and _INT64[0] <= min(values) and max(values) <= _INT64[1]:
        return pd.Series(values, dtype=np.int64)
    if kinds == {float}:
        return pd.Series(values, dtype=np.float64)
    if kinds == {bool}:
        return pd.Series(values, dtype=bool)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return pd.Series(column, dtype=object)


# --------------------------------------------------------------------------------------------
# Values for computing
# --------------------------------------------------------------------------------------------

def is_missing(value) -> bool:
    """True for a missing value: ``None`` (null, an empty CSV cell), ``pandas.NA`` (an absent JSON
    key), NaT and NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isnan(value))


def numbers(column: pd.Series, *, what: str, allow_bool: bool = False, allow_missing: bool = False) -> np.ndarray:
    """A column's values as a float array, or a ValueError naming ``what`` and the first bad row.

    Numbers (int, float) pass; booleans count as 0/1 only with ``allow_bool``;
    missing values (``None``, ``pandas.NA``) become NaN only with
    ``allow_missing``; text and anything else are refused. NaN and infinities
    pass through: callers that need finite values check for them.
    """
    out = np.empty(len(column))
    for row, value in enumerate(column.tolist(), start=1):
        if isinstance(value, (bool, np.bool_)) and not allow_bool:
            raise ValueError(f"{what}: row {row} holds {value!r}, a yes/no value, not a number.")
        if value is None or value is pd.NA:
            if not allow_missing:
                raise ValueError(f"{what}: row {row} has a missing value.")
            out[row - 1] = np.nan
            continue
        if not isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
            raise ValueError(f"{what}: row {row} holds {_shorten(value)}, not a number.")
        try:
            out[row - 1] = float(value)
        except OverflowError:
            raise ValueError(f"{what}: row {row} holds {_shorten(value)}, too large for a float.") from None
    return out


def _shorten(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def encode_table(table: pd.DataFrame, fmt: str, *, where: str = "output") -> bytes:
    """The bytes of ``table`` as a ``fmt`` file (``"csv"``, ``"jsonl"`` or ``"parquet"``)."""
    names = [str(name) for name in table.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: the table has duplicated column names.")
    columns = [_column_values(table.iloc[:, j]) for j in range(table.shape[1])]
    if fmt == "jsonl":
        return _encode_jsonl(names, columns, len(table), where)
    if fmt == "csv":
        return _encode_csv(names, columns, len(table), where)
    if fmt == "parquet":
        return _encode_parquet(names, columns, table.attrs.get("parquet_types", {}), where)
    raise ValueError(f"{where}: unknown table format {fmt!r}.")


def _column_values(column: pd.Series) -> list:
    """The column's values as Python objects; a pandas string column's missing values are None."""
    values = column.tolist()
    if isinstance(column.dtype, pd.StringDtype):
        return [None if is_missing(v) else v for v in values]
    return values


def _json_value(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


def _encode_jsonl(names, columns, n_rows, where) -> bytes:
    lines = []
    for i in range(n_rows):
        row = {name: values[i] for name, values in zip(names, columns) if values[i] is not pd.NA}
        try:
            line = json.dumps(row, ensure_ascii=False, default=_json_value)
        except TypeError as exc:
            raise ValueError(f"{where}: row {i + 1} holds a {exc} value, which JSON cannot hold.") from None
        except ValueError as exc:  # a circular structure
            raise ValueError(f"{where}: row {i + 1} cannot be written as JSON ({exc}).") from None
        try:
            lines.append(line.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates from \\ud800 escapes: keep them escaped
            lines.append(json.dumps(row, ensure_ascii=True, default=_json_value).encode("ascii"))
    return b"".join(line + b"\n" for line in lines)


def csv_cell(value) -> str:
    """The text of one CSV cell: floats in full precision, :class:`CSVFloat` as it was written,
    missing values empty, lists and dicts as JSON."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, CSVFloat):
        return value.text
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (list, dict, tuple, np.ndarray)):
        return json.dumps(value, ensure_ascii=False, default=_json_value)
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _quote(cell: str) -> str:
    # csv.writer with "\n" line endings leaves a carriage return unquoted, which every reader then
    # takes for a line break; quote any cell holding a separator, a quote or a line break.
    if any(c in cell for c in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _csv_line(cells: list[str]) -> str:
    if cells == [""]:
        return '""\n'  # a lone empty cell would be a blank line, which readers skip
    return ",".join(_quote(cell) for cell in cells) + "\n"


def _encode_csv(names, columns, n_rows, where) -> bytes:
    cells = [[csv_cell(v) for v in values] for values in columns]
    lines = [_csv_line(names)] + [_csv_line([column[i] for column in cells]) for i in range(n_rows)]
    try:
        return "".join(lines).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where}: some text is not valid Unicode (a lone surrogate), which a UTF-8 CSV "
                         "file cannot hold; write .jsonl instead.") from None


def _encode_parquet(names, columns, types: dict, where) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for name, values in zip(names, columns):
        values = [None if v is pd.NA else v for v in values]
        arrays.append(_arrow_array(values, types.get(name), name, where))
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=names), buffer)
    return buffer.getvalue()


def _arrow_array(values, arrow_type, name, where):
    import pyarrow as pa

    failures = (pa.ArrowException, OverflowError, TypeError, ValueError)
    if arrow_type is not None:
        try:
            return pa.array(values, type=arrow_type, from_pandas=False)
        except failures:
            pass  # new values (synthetic rows) no longer fit the type read: infer one
    try:
        return pa.array(values, from_pandas=False)
    except failures:
        kinds = sorted({type(v).__name__ for v in values if v is not None})
        raise ValueError(f"{where}: column {name!r} mixes {', '.join(kinds)} values, which one Parquet column "
                         "cannot hold; write .jsonl or .csv instead.") from None


def write_table(table: pd.DataFrame, path, *, argument: str = "out", fmt: str | None = None) -> Path | None:
    """Write ``table`` atomically in the format of ``path``'s extension (``"-"``: standard output
    in ``fmt``, by default the format the table was read in)."""
    where = describe(path, argument, output=True)
    if is_stdio(path):
        write_stdout(encode_table(table, fmt or table.attrs.get("format", "jsonl"), where=where))
        return None
    data = encode_table(table, fmt or table_format(path, argument=argument), where=where)
    writes = StagedWrites()
    writes.add(path, data, argument=argument)
    writes.commit()
    return Path(path)


def write_stdout(data: bytes | str) -> None:
    """Write ``data`` to standard output and flush."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


class StagedWrites:
    """Files written together: each is encoded first, then all go to temporary files beside their
    targets and are renamed into place; if anything fails, nothing new is left behind (the
    temporary files and any folder created for them are removed).
    """

    def __init__(self):
        self._files: list[tuple[Path, bytes, str]] = []

    def add(self, path, data: bytes | str, *, argument: str = "output") -> None:
        """Queue ``data`` for ``path`` (text is written as UTF-8)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self._files.append((Path(path), data, argument))

    def commit(self) -> list[Path]:
        """Write every queued file; raises OSError naming the target (never a temporary file)."""
        created: list[Path] = []
        staged: list[tuple[Path, Path]] = []
        try:
            for path, data, argument in self._files:
                where = describe(path, argument, output=True)
                created += _make_folders(path.parent, where)
                temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
                staged.append((temp, path))
                _write_new_file(temp, data, where)
            for (temp, path), (_, _, argument) in zip(staged, self._files):
                try:
                    os.replace(temp, path)
                except OSError as exc:
                    raise OSError(f"{describe(path, argument, output=True)} cannot be written: "
                                  f"{exc.strerror or exc}.") from None
        except BaseException:
            for temp, _ in staged:
                if os.path.lexists(temp):
                    os.remove(temp)
            for folder in reversed(created):
                try:
                    folder.rmdir()
                except OSError:
                    pass
            raise
        return [path for _, path in staged]


def _make_folders(folder: Path, where: str) -> list[Path]:
    """Create ``folder`` and its missing parents (mode 0777 less the umask); the ones created."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{where}: {str(folder)!r} is a file, not a folder.")
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as exc:
            raise OSError(f"{where}: cannot create the folder {str(path)!r}: {exc.strerror or exc}.") from None
        created.append(path)
    return created


def _write_new_file(temp: Path, data: bytes, where: str) -> None:
    # os.open with 0o666 lets the umask decide the permissions, as for any new file
    # (tempfile.mkstemp would make it 0600).
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise OSError(f"{where} cannot be written: {exc.strerror or exc}.") from None


def temporary_folder(parent, prefix: str) -> Path:
    """A new, uniquely named folder in ``parent`` with the umask's permissions.

    ``tempfile.mkdtemp`` would make it 0700, and a folder moved into place
    from there would stay unreadable to the user's group.
    """
    parent = Path(parent)
    for _ in range(100):
        folder = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            os.mkdir(folder, 0o777)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"no free temporary folder name in {str(parent)!r}")


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8) through a temporary file renamed into place."""
    writes = StagedWrites()
    writes.add(path, text)
    writes.commit()
    return Path(path)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed into place."""
    writes = StagedWrites()
    writes.add(path, data)
    writes.commit()
    return Path(path)
