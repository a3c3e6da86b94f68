"""The table reader and writer: values come back exactly as written; errors name the file; writes
are atomic, use the umask, and never leave anything behind on failure."""

import csv
import io
import json
import math
import os
import stat

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diversa.datasets import files
from diversa.datasets.files import (
    CSVFloat,
    StagedWrites,
    encode_table,
    numbers,
    parse_csv_cell,
    read_table,
    write_table,
)

# ---------------------------------------------------------------------------------------------
# Random tables
# ---------------------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00\ufeff", blacklist_categories=("Cs",)),
                max_size=8)
_IDS = st.from_regex(r"0[0-9]{1,3}", fullmatch=True)  # "007": a string that looks like a number
_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
_INTS = st.integers(-(2**63), 2**63 - 1)
_SCALARS = st.one_of(_TEXT, _IDS, _INTS, _FLOATS, st.booleans(), st.none())
_VALUES = st.one_of(_SCALARS, st.lists(st.one_of(_INTS, _TEXT), max_size=3))
_NAMES = st.lists(st.text(alphabet="abcxyz_", min_size=1, max_size=5), min_size=1, max_size=5, unique=True)


@st.composite
def tables(draw, values=_VALUES, absent=True):
    """A DataFrame of object columns: a column mixes types at will; with ``absent``, pandas.NA marks
    a JSON key that a row lacks."""
    names = draw(_NAMES)
    n = draw(st.integers(1, 6))
    cell = st.one_of(values, st.just(pd.NA)) if absent else values
    columns = {}
    for name in names:
        column = np.empty(n, dtype=object)
        column[:] = draw(st.lists(cell, min_size=n, max_size=n))
        columns[name] = pd.Series(column, dtype=object)
    return pd.DataFrame(columns)


def same(a, b) -> bool:
    """Exactly the same value: same type (numpy scalars count as their Python type), same value,
    NaN equal to NaN."""
    a, b = (v.item() if isinstance(v, np.generic) else v for v in (a, b))
    if a is pd.NA or b is pd.NA:
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def assert_same_table(read, written):
    assert list(read.columns) == list(written.columns)
    assert len(read) == len(written)
    for name in written.columns:
        for a, b in zip(read[name].tolist(), written[name].tolist()):
            assert same(a, b), (name, a, b)



# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------

def lines(data: bytes) -> list[str]:
    """JSON Lines split at newlines only (str.splitlines would also split at U+2028 inside a string)."""
    return data.decode("utf-8").split("\n")[:-1]


def parse(fmt, data):
    names, columns, _ = files._PARSERS[fmt](data, "t")
    return pd.DataFrame({n: files.typed_column(c) for n, c in zip(names, columns)})


@settings(max_examples=80, deadline=None)
@given(tables(absent=False))
def test_jsonl_round_trip_is_exact(table):
    assert_same_table(parse("jsonl", encode_table(table, "jsonl")), table)


@settings(max_examples=60, deadline=None)
@given(tables())
def test_jsonl_rows_keep_exactly_their_own_keys(table):
    # pandas.NA marks a key a row lacks: it stays absent, and None (null) stays null.
    data = encode_table(table, "jsonl")
    rows = [json.loads(line) for line in lines(data)]
    for i, row in enumerate(rows):
        expected = {n: v for n, v in zip(table.columns, table.iloc[i].tolist()) if v is not pd.NA}
        assert list(row) == list(expected) and all(same(row[k], expected[k]) for k in row)
    if any(rows):  # read and written again: every row keeps its keys and values
        again = encode_table(parse("jsonl", data), "jsonl")
        for row, back in zip(rows, (json.loads(line) for line in lines(again))):
            assert set(row) == set(back) and all(same(row[k], back[k]) for k in row)
        assert encode_table(parse("jsonl", again), "jsonl") == again


@settings(max_examples=80, deadline=None)
@given(tables(absent=False))
def test_csv_written_by_us_passes_through_byte_for_byte(table):
    first = encode_table(table, "csv")
    assert encode_table(parse("csv", first), "csv") == first


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_TEXT, min_size=3, max_size=3), min_size=1, max_size=6))
def test_any_csv_cell_text_passes_through(rows):
    # Cells as a user's file spells them: "007", "0.50", "1e3", "NA", "", " 1", "nan", line breaks...
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([["a", "b", "c"], *rows])
    written = encode_table(parse("csv", buffer.getvalue().encode("utf-8")), "csv").decode("utf-8")
    assert list(csv.reader(io.StringIO(written, newline=""))) == [["a", "b", "c"], *rows]


_ONE_TYPE = st.sampled_from([_TEXT, _IDS, _INTS, _FLOATS, st.booleans(), st.lists(_INTS, max_size=3)])


@st.composite
def typed_tables(draw):
    """Tables Parquet can hold: one type per column (missing values allowed)."""
    names = draw(_NAMES)
    n = draw(st.integers(1, 6))
    columns = {}
    for name in names:
        column = np.empty(n, dtype=object)
        column[:] = draw(st.lists(st.one_of(draw(_ONE_TYPE), st.none()), min_size=n, max_size=n))
        columns[name] = pd.Series(column, dtype=object)
    return pd.DataFrame(columns)


@settings(max_examples=60, deadline=None)
@given(typed_tables())
def test_parquet_round_trip_is_exact(table):
    assert_same_table(parse("parquet", encode_table(table, "parquet")), table)


def test_the_examples_of_the_report(tmp_path):
    # "007" came back as 7 and 0.39067357053506446 as 0.3906735705 through pandas' JSON defaults.
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": "007", "x": 0.39067357053506446, "n": 3}\n{"id": "010", "x": 1e-300, "extra": [1]}\n')
    table = read_table(path)
    assert table["id"].tolist() == ["007", "010"] and table["x"].tolist() == [0.39067357053506446, 1e-300]
    out = tmp_path / "out.jsonl"
    write_table(table, out)
    assert out.read_text() == path.read_text()
    for fmt in ("csv", "parquet"):
        write_table(table, tmp_path / f"out.{fmt}")
        again = read_table(tmp_path / f"out.{fmt}")
        assert again["id"].tolist() == ["007", "010"] and again["x"].tolist() == [0.39067357053506446, 1e-300]


@pytest.mark.parametrize("text,value", [
    ("", None), ("7", 7), ("-12", -12), ("007", "007"), ("+5", "+5"), ("-0", "-0"), ("0.5", 0.5),
    ("NA", "NA"), ("null", "null"), ("nan", "nan"), (" 1", " 1"), ("1_000", "1_000"), ("abc", "abc"),
])
def test_csv_cells(text, value):
    parsed = parse_csv_cell(text)
    if text == "nan":
        assert isinstance(parsed, float) and math.isnan(parsed)
    else:
        assert same(parsed, value)


@pytest.mark.parametrize("text", ["0.50", "1e3", "1.0E-5", "+.5", "NaN", "Infinity"])
def test_unusual_number_spellings_are_numbers_that_keep_their_text(text):
    parsed = parse_csv_cell(text)
    assert isinstance(parsed, CSVFloat) and parsed.text == text
    assert float(parsed) == float(text) or math.isnan(float(text))
    assert json.loads(json.dumps(parsed)) == float(text) or math.isnan(float(text))


def test_numbers_names_the_first_bad_row():
    assert numbers(pd.Series([1, 2.5, CSVFloat("0.50")], dtype=object), what="q").tolist() == [1, 2.5, 0.5]
    with pytest.raises(ValueError, match="q: row 2 holds 'no', not a number"):
        numbers(pd.Series([1, "no"], dtype=object), what="q")
    with pytest.raises(ValueError, match="row 1 holds True, a yes/no value"):
        numbers(pd.Series([True, False]), what="q")
    assert numbers(pd.Series([True, False]), what="q", allow_bool=True).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="row 2 has a missing value"):
        numbers(pd.Series([1, None], dtype=object), what="q")
    assert np.isnan(numbers(pd.Series([1, None], dtype=object), what="q", allow_missing=True)[1])


# ---------------------------------------------------------------------------------------------
# Errors name the file (and the line)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,content,message", [
    ("bad.jsonl", b'{"a": 1}\n{"a": 2,}\n', r"DATA '.*bad.jsonl' line 2: not valid JSON"),
    ("bad.jsonl", b'{"a": 1}\n\n[1, 2]\n', r"line 3: expected a JSON object"),
    ("bad.jsonl", b'{"a": 1}\n{"a": "\xff"}\n', r"bad.jsonl' is not UTF-8 text \(byte 0xff on line 2\)"),
    ("bad.csv", b"a,b\n1,2\n3\n", r"bad.csv' line 3: 1 fields, but the header has 2"),
    ("bad.csv", b"a,a\n1,2\n", r"line 1: duplicated column name\(s\) 'a'"),
    ("bad.csv", b'a\n"open\n', r"bad.csv' line \d: not valid CSV"),
    ("bad.csv", b"a,b\n", r"bad.csv' has no rows"),
    ("bad.csv", b"", r"bad.csv' is empty"),
    ("bad.parquet", b"PAR1 not really", r"bad.parquet' is not a readable Parquet file"),
    ("bad.txt", b"a,b\n1,2\n", r"unsupported file type '.txt'"),
])
def test_malformed_files_are_one_line_errors_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as raised:
        read_table(path, argument="DATA")
    assert "\n" not in str(raised.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="DATA '.*nope.csv' does not exist"):
        read_table(tmp_path / "nope.csv", argument="DATA")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder, not a file"):
        read_table(tmp_path / "dir.csv", argument="DATA")


def test_standard_input_is_recognised_by_its_content(monkeypatch):
    for data, fmt in ((b'{"a": "007"}\n', "jsonl"), (b"a\n007\n", "csv")):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        table = read_table("-")
        assert table["a"].tolist() == ["007"] and table.attrs["format"] == fmt


def test_standard_output_uses_the_format_read(monkeypatch, capsysbinary):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a,b\n007,0.50\n")))
    write_table(read_table("-"), "-")
    assert capsysbinary.readouterr().out == b"a,b\n007,0.50\n"


# ---------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_new_files_and_folders_get_the_umask_permissions(tmp_path, umask_027):
    # mkstemp made every output 0600 and mkdtemp every folder 0700, whatever the umask.
    path = tmp_path / "new" / "deeper" / "out.csv"
    write_table(pd.DataFrame({"a": [1]}), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o750
    files.atomic_write_text(tmp_path / "r.json", "{}")
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o640


def test_a_failed_staged_write_leaves_nothing_behind(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    writes = StagedWrites()
    writes.add(tmp_path / "made" / "first.csv", "a\n1\n", argument="--out")
    writes.add(tmp_path / "blocker" / "report.json", "{}", argument="--report")
    with pytest.raises(OSError, match="--report"):
        writes.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_write_errors_name_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    def disk_full(source, target):
        raise OSError(28, "No space left on device", str(source))

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError) as raised:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.csv", argument="--out")
    assert "--out" in str(raised.value) and "out.csv" in str(raised.value) and ".tmp" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_values_of_a_pandas_string_column_are_written_as_missing():
    table = pd.DataFrame({"a": ["x", None]})  # pandas' string dtype holds the None as NaN
    assert encode_table(table, "jsonl") == b'{"a": "x"}\n{"a": null}\n'
    assert encode_table(table, "csv") == b'a\nx\n""\n'  # a lone empty cell, not a blank line
    assert parse("parquet", encode_table(table, "parquet"))["a"].tolist() == ["x", None]


def test_a_mixed_column_cannot_go_to_parquet_and_says_so(tmp_path):
    table = pd.DataFrame({"a": pd.Series([1, "x"], dtype=object)})
    with pytest.raises(ValueError, match="column 'a' mixes int, str values"):
        write_table(table, tmp_path / "out.parquet", argument="--out")
    assert list(tmp_path.iterdir()) == []
