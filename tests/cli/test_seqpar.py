"""``diversa seqpar``: plan a batch against the fixed-degree baselines, sample lengths, one-line errors."""

import io
import json

import pytest

from diversa.cli import main
from diversa.cli.seqpar import parse_memory

#: Lengths whose planning is quick: 16 GPUs of the authors' GPT-7B hold 8,012 tokens each.
LENGTHS = [40_000, 30_000, 12_000, 9_000, 5_000, 3_000, 3_000, 2_000, 1_500, 900, 700, 400]
FAST = ["--node-limit", "5", "--mb-options", "1"]


@pytest.fixture
def lengths(tmp_path):
    path = tmp_path / "lengths.txt"
    path.write_text("".join(f"{n}\n" for n in LENGTHS))
    return path


def test_plan_prints_flexsp_beside_the_baselines(lengths, capsys):
    assert main(["seqpar", "plan", str(lengths), *FAST]) == 0
    out = capsys.readouterr().out
    for needle in ("Predicted step time", "static d=8", "adaptive d=", "flexsp", "FlexSP plan",
                   "speed-up vs static", "12 sequences", "8012 tokens fit one GPU", "not measured"):
        assert needle in out, needle


def test_plan_json_lists_every_sequence_once_in_each_plan(lengths, tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["seqpar", "plan", str(lengths), *FAST, "--gpus", "16", "--memory", "28GB", "--model", "7b",
                 "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["token_capacity"] == 8012 and set(payload["plans"]) == {"static", "adaptive", "flexsp"}
    for plan in payload["plans"].values():
        ids = [i for mb in plan["micro_batches"] for g in mb for i in g["sequences"]]
        assert sorted(ids) == list(range(len(LENGTHS)))
        assert all(sum(g["degree"] for g in mb) == 16 for mb in plan["micro_batches"])
        assert plan["predicted_ms"] == pytest.approx(sum(plan["micro_batch_ms"]))
    assert payload["plans"]["flexsp"]["predicted_ms"] <= payload["plans"]["static"]["predicted_ms"]
    assert main(["seqpar", "plan", str(lengths), *FAST, "--json", str(out)]) == 2   # no --overwrite


def test_plan_reads_standard_input_and_writes_json_to_standard_output(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"9000\n\n300\n+700\n")))
    assert main(["seqpar", "plan", "-", *FAST, "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["plans"]["flexsp"]["n_micro"] >= 1
    assert "Predicted step time" in captured.err


def test_sample_writes_lengths_the_planner_reads(tmp_path, capsys):
    out = tmp_path / "l.txt"
    assert main(["seqpar", "sample", "64", "--out", str(out), "--max-len", "64000", "--pad-to", "32",
                 "--seed", "3"]) == 0
    values = [int(v) for v in out.read_text().split()]
    assert len(values) == 64 and max(values) <= 64000 and all(v % 32 == 0 for v in values)
    assert "64 lengths" in capsys.readouterr().out
    assert main(["seqpar", "sample", "5", "--out", "-"]) == 0
    assert len(capsys.readouterr().out.split()) == 5


def test_memory_strings():
    assert parse_memory("80GB") == parse_memory("80 gib") == parse_memory("80") == parse_memory("81920MB") == 80.0
    assert parse_memory("0.5TB") == 512.0


def write(tmp_path, text, name="bad.txt"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


@pytest.mark.parametrize("text, extra, status, message", [
    ("200000\n", [], 1, "sequence 1 has 200000 tokens, more than a group of 16 GPUs holds (128192 tokens"),
    ("", [], 1, "holds no lengths"),
    ("\n \n", [], 1, "holds no lengths"),
    ("100\nabc\n", [], 1, "line 2: 'abc' is not a whole number"),
    ("100\n12.5\n", [], 1, "line 2: '12.5' is not a whole number"),
    ("100\n0\n", [], 1, "line 2: a sequence needs at least 1 token"),
    ("100\n-5\n", [], 1, "line 2: '-5' is not a whole number"),
    (b"1\n\xff\n", [], 1, "not UTF-8"),
    ("100\n", ["--gpus", "0"], 2, "--gpus must be a power of two"),
    ("100\n", ["--gpus", "12"], 2, "--gpus must be a power of two"),
    ("100\n", ["--memory", "lots"], 2, "--memory must be a size such as 80GB"),
    ("100\n", ["--memory", "0GB"], 2, "--memory must be more than 0"),
    ("100\n", ["--memory", "5GB"], 2, "does not hold the model states"),
    ("100\n", ["--model", "70b"], 2, "invalid choice"),
    ("100\n", ["--mb-options", "0"], 2, "--mb-options must be >= 1"),
    ("100\n", ["--time-limit", "0"], 2, "--time-limit must be"),
    ("100\n", ["--static-degree", "3"], 2, "--static-degree must be a power of two"),
    ("20000\n", ["--static-degree", "2"], 2, "needs more than 2 GPUs"),
])
def test_bad_input_is_one_line(tmp_path, capsys, text, extra, status, message):
    assert main(["seqpar", "plan", write(tmp_path, text), *extra]) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("diversa: error:") and message in err, err


@pytest.mark.parametrize("argv, message", [
    (["seqpar"], "required: ACTION"),
    (["seqpar", "plan", "missing.txt"], "does not exist"),
    (["seqpar", "sample", "0", "--out", "x.txt"], "N must be >= 1"),
    (["seqpar", "sample", "5", "--out", "x.txt", "--scale", "-1"], "--scale must be"),
    (["seqpar", "sample", "5", "--out", "x.txt", "--max-len", "8", "--pad-to", "32"], "--max-len must be at least"),
])
def test_bad_arguments_are_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) in (1, 2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x.txt").exists()
