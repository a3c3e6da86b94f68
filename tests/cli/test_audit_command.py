"""``diversa audit``: bag-of-words separability of two document files, and one-line errors."""

import json

import numpy as np
import pytest

from diversa.cli import audit
from diversa.cli.errors import OneLineParser, UserError


def parse(argv):
    parser = OneLineParser(prog="diversa")
    audit.add_parser(parser.add_subparsers(dest="command", parser_class=OneLineParser))
    return parser.parse_args(["audit", *argv])


def _documents(words, n, seed):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, 10)) for _ in range(n)]


@pytest.fixture
def shifted_files(tmp_path):
    members = tmp_path / "members.txt"
    nonmembers = tmp_path / "nonmembers.txt"
    shared = ["the", "model", "data", "paper"]
    members.write_text("\n".join(_documents(shared + ["alpha", "beta"], 30, 0)) + "\n\n")
    nonmembers.write_text("\n".join(_documents(shared + ["gamma", "delta"], 30, 1)) + "\n")
    return members, nonmembers


def test_distinguishable_sets_are_reported_as_confounded(shifted_files, tmp_path, capsys):
    out = tmp_path / "audit.json"
    args = parse([str(shifted_files[0]), str(shifted_files[1]), "--bootstrap", "100", "--json", str(out)])
    assert audit.run(args) == 0
    printed = capsys.readouterr().out
    assert "distinguishable" in printed and "confounded" in printed and "AUC" in printed
    report = json.loads(out.read_text())
    assert report["n_members"] == 30 and report["n_nonmembers"] == 30  # the blank line is skipped
    assert report["auc"] == 1.0 and report["shift_detected"] is True
    assert {row["word"] for row in report["top_features"]} & {"alpha", "beta", "gamma", "delta"}


def test_same_source_is_not_flagged(tmp_path, capsys):
    docs = _documents(["the", "model", "data", "paper", "alpha", "gamma"], 80, 2)
    (tmp_path / "a.txt").write_text("\n".join(docs[:40]))
    (tmp_path / "b.txt").write_text("\n".join(docs[40:]))
    args = parse([str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--bootstrap", "100", "--seed", "3",
                  "--classifier", "logistic"])
    assert audit.run(args) == 0
    assert "distinguishable" not in capsys.readouterr().out


def test_jsonl_with_a_text_field(tmp_path, capsys):
    members = tmp_path / "m.jsonl"
    nonmembers = tmp_path / "n.jsonl"
    members.write_text("\n".join(json.dumps({"body": d}) for d in _documents(["alpha", "beta"], 10, 0)))
    nonmembers.write_text("\n".join(json.dumps({"body": d}) for d in _documents(["gamma", "delta"], 10, 1)))
    assert audit.run(parse([str(members), str(nonmembers), "--text-field", "body", "--bootstrap", "0",
                            "--folds", "2"])) == 0
    assert "10 members vs 10 non-members" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no field 'text'.*body"):
        audit.run(parse([str(members), str(nonmembers)]))


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


def test_missing_file(shifted_files, tmp_path):
    with pytest.raises(FileNotFoundError) as exc:
        audit.run(parse([str(tmp_path / "missing.txt"), str(shifted_files[1])]))
    assert "missing.txt" in _one_line(exc)


def test_empty_set(shifted_files, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError) as exc:
        audit.run(parse([str(shifted_files[0]), str(empty)]))
    assert "NONMEMBERS has 0 documents" in _one_line(exc)


def test_fewer_documents_than_folds(shifted_files, tmp_path):
    few = tmp_path / "few.txt"
    few.write_text("one doc\nanother doc\n")
    with pytest.raises(ValueError) as exc:
        audit.run(parse([str(few), str(shifted_files[1]), "--folds", "5"]))
    assert "MEMBERS has 2 documents; --folds 5" in _one_line(exc)


@pytest.mark.parametrize("option", [["--folds", "1"], ["--min-df", "0"], ["--min-df", "2.5"], ["--bootstrap", "-1"]])
def test_bad_options(shifted_files, option):
    with pytest.raises(UserError):
        audit.run(parse([str(shifted_files[0]), str(shifted_files[1]), *option]))


def test_bad_argument_is_a_user_error():
    with pytest.raises(UserError, match="invalid int value"):
        parse(["a.txt", "b.txt", "--folds", "many"])


def test_perfectly_separated_sets_report_full_tpr(shifted_files, tmp_path):
    # "AUC 1.000 ... TPR@FPR 10% 0.000": the closest-FPR rule read off the ROC point (0, 0).
    out = tmp_path / "audit.json"
    assert audit.run(parse([str(shifted_files[0]), str(shifted_files[1]), "--bootstrap", "0",
                            "--json", str(out)])) == 0
    report = json.loads(out.read_text())
    assert report["auc"] == 1.0 and report["tpr_at_fpr"]["0.1"] == 1.0


def test_a_min_df_that_empties_the_vocabulary_is_refused(shifted_files, tmp_path):
    # It reported "AUC 0.500, no shift" when nothing was measured.
    out = tmp_path / "audit.json"
    with pytest.raises(UserError, match="--min-df 1000: no word .* occurs in enough documents"):
        audit.run(parse([str(shifted_files[0]), str(shifted_files[1]), "--min-df", "1000", "--json", str(out)]))
    assert not out.exists()
