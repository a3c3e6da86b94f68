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


def test_reproduce_smote_end_to_end(tmp_path, capsys):
    # Two trials keep this fast; the verdict is still computed (and cannot be "supported" with n=2).
    assert main(["reproduce", "smote", "--quick", "--seeds", "2", "--jobs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "smote" in out and "verdict" in out
    payload = json.loads((tmp_path / "results.json").read_text())
    checks = payload["reproductions"][0]["checks"]
    assert {c["name"] for c in checks} == {"auc", "hull-majority", "minority-leaves", "leaf-generality"}
    claims = [c for c in checks if c["kind"] == "claim"]
    assert {c["name"] for c in claims} == {"auc", "hull-majority"} and [c["headline"] for c in claims] == [True, False]
    assert all(c["verdict"] in ("supported", "contradicted", "inconclusive") for c in claims)
    assert all(c["outcome"] in ("pass", "fail") for c in checks if c["kind"] == "mechanism")
    assert all(c["n"] == 2 for c in checks)
    assert (tmp_path / "report.md").exists() and (tmp_path / "smote.png").exists()


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


@pytest.mark.parametrize("method,counts", [("smote-nc", {0: 500, 1: 300}), ("under", {0: 100, 1: 100})])
def test_resample_writes_the_rebalanced_table(skewed_csv, tmp_path, method, counts, capsys):
    import pandas as pd

    out = tmp_path / "out.csv"
    assert main(["resample", str(skewed_csv), "--target", "label", "--method", method, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["label"].value_counts().to_dict() == counts
    assert list(table.columns) == ["a", "b", "c", "d", "label", "colour"]
    assert set(table["colour"]) <= {"red", "blue"}
    assert "written to" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--target", "nope"], "--target 'nope'"),
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
