"""Commands that pass rows through write them back unchanged: types, precision, column order and
columns they know nothing about (property tests over random tables)."""

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diversa.cli import main

_WORDS = st.sampled_from(["sport", "food", "rain", "code", "bank", "goal", "soup", "loan"])
_TEXTS = st.lists(_WORDS, min_size=1, max_size=6).map(" ".join)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_ANY = st.one_of(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), _FLOATS, st.booleans(), st.none(),
                 st.from_regex(r"0[0-9]{1,3}", fullmatch=True), st.lists(st.integers(), max_size=2))


@st.composite
def documents(draw, min_rows=4):
    """Rows with a text, an id that looks like a number, a float at full precision and columns no
    command knows about, of mixed types, present in some rows only."""
    n = draw(st.integers(min_rows, 12))
    extra = draw(st.lists(st.sampled_from(["meta", "score", "notes", "z"]), unique=True, max_size=3))
    rows = []
    for i in range(n):
        row = {"id": f"{i:03d}", "text": draw(_TEXTS), "x": draw(_FLOATS)}
        for name in extra:
            if draw(st.booleans()):
                row[name] = draw(_ANY)
        if i == 0:  # the first row sets the column order: not always id, text, x
            row = dict(draw(st.permutations(list(row.items()))))
        rows.append(row)
    return rows


def canonical(row: dict) -> str:
    """A row's keys and values, exactly: 1, 1.0 and true differ, floats keep every digit."""
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def run(argv) -> int:
    return main([str(a) for a in argv])


@settings(max_examples=25, deadline=None)
@given(documents(), st.data())
def test_select_writes_the_selected_jsonl_rows_unchanged(rows, data):
    budget = data.draw(st.integers(1, len(rows)))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        lines = [json.dumps(row, ensure_ascii=False) for row in rows]
        (folder / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        argv = ["select", folder / "in.jsonl", "--budget", budget, "--method", "random", "--embedder", "hash",
                "--out", folder / "out.jsonl"]
        assert run(argv) == 0
        text = (folder / "out.jsonl").read_bytes().decode("utf-8")
        out = [json.loads(line) for line in text.split("\n")[:-1]]  # not splitlines: U+2028 may be in a value
        assert len(out) == budget and len({canonical(r) for r in out}) == budget
        assert {canonical(r) for r in out} <= {canonical(r) for r in rows}
        order = list(dict.fromkeys(key for row in rows for key in row))  # first appearance
        assert all(list(r) == [k for k in order if k in r] for r in out)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00\ufeff",
                                                             blacklist_categories=("Cs",)), max_size=6),
                         min_size=2, max_size=2), min_size=3, max_size=10),
       st.data())
def test_select_writes_the_selected_csv_cells_verbatim(cells, data):
    # Cells as a user's CSV spells them: 007, 0.50, 1e3, NA, null, empty, quotes, line breaks...
    rows = [[f"{i:03d}", data.draw(_TEXTS), *extra] for i, extra in enumerate(cells)]
    budget = data.draw(st.integers(1, len(rows)))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows([["id", "text", "a", "b"], *rows])
        (folder / "in.csv").write_text(buffer.getvalue(), encoding="utf-8", newline="")
        argv = ["select", folder / "in.csv", "--budget", budget, "--method", "random", "--embedder", "hash",
                "--out", folder / "out.csv"]
        assert run(argv) == 0
        with open(folder / "out.csv", encoding="utf-8", newline="") as handle:  # keep a "\r" inside a cell
            out = list(csv.reader(handle))
        assert out[0] == ["id", "text", "a", "b"] and len(out) == budget + 1
        assert all(row in rows for row in out[1:])


@st.composite
def labelled(draw):
    """Rows of two classes (at least two of each) with numeric, nominal and mixed-type columns."""
    n_minor = draw(st.integers(2, 5))
    n_major = draw(st.integers(n_minor, 12))
    labels = ["rare"] * n_minor + ["common"] * n_major
    rows = []
    for i, label in enumerate(labels):
        rows.append({"id": f"{i:03d}", "x": draw(st.floats(-1e6, 1e6)), "n": draw(st.integers(-1000, 1000)),
                     "colour": draw(st.sampled_from(["red", "blue", "007"])),
                     "note": draw(st.one_of(st.integers(0, 3), st.sampled_from(["a", "b"]), st.just(0.5))),
                     "label": label})
    return rows


@settings(max_examples=20, deadline=None)
@given(labelled(), st.sampled_from(["smote-nc", "under"]))
def test_resample_keeps_the_input_rows_verbatim(rows, method):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        lines = [json.dumps(row) for row in rows]
        (folder / "in.jsonl").write_text("\n".join(lines) + "\n")
        argv = ["resample", folder / "in.jsonl", "--target", "label", "--method", method, "--k-neighbors", "1",
                "--out", folder / "out.jsonl"]
        assert run(argv) == 0
        out = (folder / "out.jsonl").read_text().splitlines()
        counts = {label: sum(r["label"] == label for r in map(json.loads, out)) for label in ("rare", "common")}
        if method == "under":
            assert set(out) <= set(lines) and len(set(out)) == len(out)
            return
        assert out[:len(lines)] == lines  # every input row first, unchanged
        assert counts["rare"] == counts["common"]  # balanced: imbalanced-learn's 'auto'
        nominal = ["id", "colour", "label"] + (["note"] if any(isinstance(r["note"], str) for r in rows) else [])
        seen = {key: {json.dumps(r[key]) for r in rows} for key in nominal}  # a nominal column's values
        for synthetic in map(json.loads, out[len(lines):]):
            assert list(synthetic) == list(rows[0])  # the columns, in their order
            assert all(json.dumps(synthetic[key]) in seen[key] for key in seen)  # values of the input, as typed
            assert isinstance(synthetic["x"], float)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_select_keeps_types_and_precision_across_formats(tmp_path, suffix):
    # The report's example: "007" came back as 7 and 0.39067357053506446 as 0.3906735705.
    rows = [{"id": f"{i:03d}", "text": f"doc {i} about sport", "q": 0.39067357053506446 + i} for i in range(20)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / f"out{suffix}"
    assert main(["select", str(tmp_path / "in.jsonl"), "--budget", "20", "--method", "top-quality",
                 "--quality-field", "q", "--embedder", "hash", "--out", str(out)]) == 0
    from diversa.datasets.files import read_table

    table = read_table(out)
    assert list(table.columns) == ["id", "text", "q"]
    assert sorted(table["id"].tolist()) == [f"{i:03d}" for i in range(20)]
    assert sorted(table["q"].tolist()) == [r["q"] for r in rows]
