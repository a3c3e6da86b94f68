"""The command line: listing, running, and one-line errors for users' mistakes."""

import json
import subprocess
import sys

import pytest

from diversa.cli import main


def test_list_names_smote(capsys):
    assert main(["reproduce", "--list"]) == 0
    assert "smote" in capsys.readouterr().out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("diversa ")


@pytest.mark.parametrize("argv,needle", [
    (["reproduce", "no-such-paper"], "unknown reproduction"),
    (["reproduce", "smote", "--seeds", "0"], "--seeds"),
    (["reproduce", "smote", "--jobs", "0"], "--jobs"),
    (["reproduce", "--seeds", "many"], "invalid int value"),
    (["frobnicate"], "invalid choice"),
    (["resample", "missing.csv", "--target", "y", "--out", "x.csv"], "missing.csv"),
])
def test_user_errors_are_one_line_without_traceback(argv, needle, capsys):
    status = main(argv)
    err = capsys.readouterr().err
    assert status != 0
    assert err.count("\n") == 1 and err.startswith("diversa: error:")
    assert needle in err and "Traceback" not in err


def test_console_script_exits_non_zero_with_one_line():
    done = subprocess.run([sys.executable, "-m", "diversa.cli", "reproduce", "nope"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown reproduction" in done.stderr


def test_reproduce_end_to_end(tmp_path, capsys):
    # llmonade's units take well under a second; three of them still go through every kind of check.
    assert main(["reproduce", "llmonade", "--quick", "--seeds", "3", "--jobs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "llmonade" in out and "verdict" in out
    payload = json.loads((tmp_path / "results.json").read_text())
    (paper,) = payload["reproductions"]
    checks = paper["checks"]
    claims = [c for c in checks if c["kind"] == "claim"]
    assert [c["name"] for c in claims if c["headline"]] == [paper["headline"]] == ["xmbr-vs-mbr-equal-calls"]
    assert paper["verdict"] in ("supported", "contradicted", "inconclusive", "out of regime")
    assert all(c["verdict"] in ("supported", "contradicted", "inconclusive", "out of regime") for c in claims)
    assert {c["kind"] for c in checks} == {"claim", "mechanism", "regime"}
    assert all(c["outcome"] in ("pass", "fail") for c in checks if c["kind"] != "claim")
    assert all(c["n"] == 3 for c in checks)
    assert (tmp_path / "report.md").exists() and (tmp_path / "llmonade.png").exists()


@pytest.fixture
def skewed_csv(tmp_path):
    import numpy as np
    import pandas as pd

    from diversa.datasets import make_imbalanced

    X, y = make_imbalanced(600, 4, imbalance_ratio=5, random_state=0)
    table = pd.DataFrame(X, columns=list("abcd")).assign(label=y)
    table["colour"] = np.where(np.arange(600) % 3 == 0, "red", "blue")
    path = tmp_path / "skewed.csv"
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("method,extra,counts", [
    ("smote-nc", [], {0: 500, 1: 500}),                          # default: balanced, like imbalanced-learn's 'auto'
    ("smote-nc", ["--percentage", "200"], {0: 500, 1: 300}),     # the paper's N = 200% of the minority
    ("under", [], {0: 100, 1: 100}),
    ("under", ["--under-percentage", "50"], {0: 200, 1: 100}),   # the paper's u: minority = 50% of the kept majority
])
def test_resample_writes_the_rebalanced_table(skewed_csv, tmp_path, method, extra, counts, capsys):
    import pandas as pd

    out = tmp_path / "out.csv"
    assert main(["resample", str(skewed_csv), "--target", "label", "--method", method, *extra,
                 "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["label"].value_counts().to_dict() == counts
    assert list(table.columns) == ["a", "b", "c", "d", "label", "colour"]
    assert set(table["colour"]) <= {"red", "blue"}
    assert "written to" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["adasyn", "borderline-smote", "random-over", "smote-tomek", "tomek-links",
                                    "near-miss", "enn"])
def test_every_imbalanced_learn_sampler_runs_from_the_command_line(tmp_path, method, capsys):
    import pandas as pd

    from diversa.cli.resample import METHODS, UNDER_SAMPLERS
    from diversa.data.resample import SAMPLERS
    from diversa.datasets import make_imbalanced

    assert set(METHODS) == set(SAMPLERS)
    X, y = make_imbalanced(400, 5, imbalance_ratio=4, random_state=1)
    path = tmp_path / "numeric.csv"
    pd.DataFrame(X, columns=list("abcde")).assign(label=y).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    assert main(["resample", str(path), "--target", "label", "--method", method, "--out", str(out)]) == 0
    before, after = pd.Series(y).value_counts(), pd.read_csv(out)["label"].value_counts()
    if method in UNDER_SAMPLERS:
        assert after[0] < before[0] and after[1] == before[1]   # majority rows removed, minority kept
    else:
        assert after[1] > before[1]                              # minority rows added
    assert "written to" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--target", "nope"], "--target 'nope'"),
    (["--target", "label", "--method", "adasyn"], "numeric features"),
    (["--target", "label", "--method", "near-miss", "--percentage", "200"], "paper's amounts"),
    (["--target", "label", "--method", "smote"], "SMOTENC"),
    (["--target", "label", "--method", "smote-nc", "--k-neighbors", "200"], "k_neighbors"),
])
def test_resample_bad_input_writes_nothing(skewed_csv, tmp_path, argv, needle, capsys):
    out = tmp_path / "out.csv"
    assert main(["resample", str(skewed_csv), *argv, "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not out.exists()


@pytest.fixture
def harness_files(tmp_path):
    rng = __import__("numpy").random.default_rng(0)
    paths = []
    for name, rate in (("llama", 0.75), ("mistral", 0.6)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"doc_id": i, "acc": int(rng.random() < rate), "resps": "..."}) + "\n"
                                for i in range(200)))
        paths.append(path)
    return paths


def test_compare_per_model_files(harness_files, tmp_path, capsys):
    out = tmp_path / "compare.json"
    assert main(["compare", *map(str, harness_files), "--metric", "acc", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "llama" in printed and "mcnemar" in printed
    payload = json.loads(out.read_text())
    assert payload["kind"] == "binary" and payload["n_items"] == 200 and len(payload["pairs"]) == 1


def test_compare_bad_input_is_one_line(harness_files, tmp_path, capsys):
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({"doc_id": 0, "acc": 1}) + "\n")
    assert main(["compare", str(harness_files[0]), str(short), "--metric", "acc"]) == 1
    err = capsys.readouterr().err
    assert "unmatched item ids" in err and err.count("\n") == 1
    assert main(["compare", str(harness_files[0]), str(harness_files[1]), "--metric", "nope"]) == 1
    assert "--metric field 'nope'" in capsys.readouterr().err


def test_reproduce_checks_out_before_running(tmp_path, monkeypatch, capsys):
    # The output folder was only looked at after every reproduction had run.
    import diversa.reproduce

    def never(*args, **kwargs):
        raise AssertionError("the reproductions ran before --out was checked")

    monkeypatch.setattr(diversa.reproduce, "run_reproductions", never)
    (tmp_path / "taken").write_text("a file")
    assert main(["reproduce", "smote", "--quick", "--out", str(tmp_path / "taken")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text("{}")
    assert main(["reproduce", "smote", "--quick", "--out", str(tmp_path / "old")]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_resample_default_oversamples_every_minority_class(tmp_path, capsys):
    # Multi-class data: the paper's mode over-sampled only the least frequent class.
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    labels = ["a"] * 60 + ["b"] * 20 + ["c"] * 10
    table = pd.DataFrame({"x": rng.normal(size=90), "y": rng.normal(size=90), "label": labels})
    path = tmp_path / "multi.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "out.csv"
    assert main(["resample", str(path), "--target", "label", "--out", str(out)]) == 0
    assert pd.read_csv(out)["label"].value_counts().to_dict() == {"a": 60, "b": 60, "c": 60}
    paper = tmp_path / "paper.csv"
    assert main(["resample", str(path), "--target", "label", "--percentage", "100", "--out", str(paper)]) == 0
    assert pd.read_csv(paper)["label"].value_counts().to_dict() == {"a": 60, "b": 20, "c": 20}


def test_resample_refuses_an_output_larger_than_memory_up_front(skewed_csv, tmp_path, monkeypatch, capsys):
    # --percentage 1e9 ran until the kernel killed it (rc 137, no message).
    from diversa.cli import resample

    monkeypatch.setattr(resample, "available_memory", lambda: 10**9)
    called = []
    monkeypatch.setattr(resample, "merge_back", lambda *a: called.append(a))
    out = tmp_path / "out.csv"
    assert main(["resample", str(skewed_csv), "--target", "label", "--method", "smote-nc", "--percentage", "1e9",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1e+09 rows" in err and "lower --percentage" in err
    assert not out.exists() and not called


def test_planned_rows_bound_every_method():
    from diversa.cli.resample import planned_rows

    counts = [500, 100, 40]
    assert planned_rows("smote", None, counts) == 1500         # every class up to 500
    assert planned_rows("smote", 200.0, counts) == 640 + 80    # the paper's N% of the least frequent
    assert planned_rows("under", None, counts) == 640
    assert planned_rows("smote-under", None, counts) == 640 + 80


def test_resample_passes_rows_of_any_format_through(tmp_path, capsys):
    import json

    rows = [{"id": f"{i:03d}", "x": i / 7, "tags": [i], "label": "rare" if i % 4 == 0 else "common"} for i in range(24)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    assert main(["resample", str(src), "--target", "label", "--method", "smote-nc", "--k-neighbors", "2",
                 "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[:24] == src.read_text().splitlines()
    assert len(lines) == 36
