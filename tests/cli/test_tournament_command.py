"""``diversa tournament``: rankings printed, files written with --out, one clear error for bad input."""

import json

import numpy as np
import pandas as pd
import pytest

import diversa.cli
from diversa.cli import tournament
from diversa.cli.errors import OneLineParser, UserError


def parse(argv):
    parser = OneLineParser(prog="diversa")
    tournament.add_parser(parser.add_subparsers(dest="command", parser_class=OneLineParser))
    return parser.parse_args(["tournament", *argv])


def run(argv) -> int:
    return tournament.run(parse(argv))


@pytest.fixture
def scores_csv(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.random((6, 5)).round(3), columns=[f"bench{k}" for k in range(5)])
    table.insert(0, "model", [f"model-{i}" for i in range(6)])
    table.loc[5, "bench0":] = -1.0  # worst everywhere
    path = tmp_path / "scores.csv"
    table.to_csv(path, index=False)
    return path


def test_prints_ranking_sensitivity_and_static_tables(scores_csv, capsys):
    assert run([str(scores_csv), "--sims", "2000", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for needle in ("CSD ranking", "E[S]", "MC SE", "Failure sensitivity", "retention T=1", "mean score",
                   "bradley terry", "elo", "Kendall tau", "bench0 > bench1"):
        assert needle in out, needle
    ranking = [line for line in out.splitlines() if "model-5" in line]
    assert ranking and "0.000" in ranking[0]


def test_out_writes_json_and_heat_map(scores_csv, tmp_path):
    out = tmp_path / "result"
    assert run([str(scores_csv), "--sims", "2000", "--pairing", "float", "--schedules", "0,1", "--out", str(out)]) == 0
    payload = json.loads((out / "tournament.json").read_text())
    assert payload["models"] == [f"model-{i}" for i in range(6)]
    assert payload["benchmark_order"] == [f"bench{k}" for k in range(5)]
    assert payload["csd"]["ranking"][-1] == "model-5"
    assert len(payload["csd"]["rank_probs"]) == 6
    assert np.allclose(np.sum(payload["csd"]["rank_probs"], axis=1), 1.0)
    assert payload["failure_sensitivity"]["schedules"] == [0, 1]
    assert set(payload["static"]) == {"mean_score", "mean_rank", "bradley_terry", "elo"}
    assert (out / "rank_probabilities.png").stat().st_size > 1000


def test_same_seed_same_numbers(scores_csv, tmp_path):
    for name in ("a", "b"):
        assert run([str(scores_csv), "--sims", "1500", "--seed", "3", "--out", str(tmp_path / name)]) == 0
    first, second = (json.loads((tmp_path / n / "tournament.json").read_text())["csd"] for n in "ab")
    assert first == second


def write(tmp_path, text, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("model,a,b\nx,0.5,high\ny,0.2,0.1\n", "score of model 'x' on benchmark 'b' is not a number: 'high'"),
    ("model,a,b\nx,0.5,\ny,0.2,0.1\n", "model 'x' on benchmark 'b'"),
    ("model,a,b\nx,0.5,0.1\n", "at least 2"),
    ("model,a,b\nx,0.5,0.1\nx,0.2,0.1\n", "duplicated model names: 'x'"),
    ("", "is empty"),
    ("model,a,b\n", "has no rows"),
    ("model\nx\ny\n", "at least one benchmark column"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, text, message):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        run([str(write(tmp_path, text)), "--sims", "100", "--out", str(out)])
    assert not out.exists()


def test_missing_file_and_bad_options(tmp_path, scores_csv):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run([str(tmp_path / "missing.csv")])
    for argv, message in ((["--sims", "0"], "--sims"), (["--schedules", "0,x"], "--schedules"),
                          (["--elimination", "-1"], "--elimination"), (["--jobs", "0"], "--jobs")):
        with pytest.raises(UserError, match=message):
            run([str(scores_csv), *argv])
    with pytest.raises(UserError, match="invalid choice"):
        parse([str(scores_csv), "--pairing", "dutch"])


def test_through_main_exit_codes_and_one_line_error(scores_csv, tmp_path, capsys):
    assert "tournament" in diversa.cli.COMMANDS
    assert diversa.cli.main(["tournament", str(scores_csv), "--sims", "500"]) == 0
    bad = write(tmp_path, "model,a\nx,oops\ny,1\n")
    assert diversa.cli.main(["tournament", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("diversa: error:") and "Traceback" not in err


def test_na_and_null_are_model_names_not_missing_values(tmp_path, capsys):
    # pandas read "NA" and "null" as NaN: the two models collided as "duplicated model names: nan".
    path = write(tmp_path, "model,a,b\nNA,0.9,0.8\nnull,0.5,0.4\n007,0.1,0.2\n")
    assert run([str(path), "--sims", "300", "--out", str(tmp_path / "out")]) == 0
    payload = json.loads((tmp_path / "out" / "tournament.json").read_text())
    assert payload["models"] == ["NA", "null", "007"] and payload["csd"]["ranking"][0] == "NA"


def test_an_empty_model_name_is_refused(tmp_path):
    # It became the model "nan".
    with pytest.raises(ValueError, match="the model in row 2 has no name"):
        run([str(write(tmp_path, "model,a\nx,0.5\n,0.3\n")), "--sims", "100"])


@pytest.mark.parametrize("argv", [["--elimination", "100"], ["--elimination", "5"], ["--schedules", "0,1,5"]])
def test_elimination_beyond_the_models_is_refused(scores_csv, argv):
    # 6 models: at most 4 can go after a round. --elimination 100 was accepted silently.
    with pytest.raises(UserError, match="at most 4 can be eliminated"):
        run([str(scores_csv), "--sims", "100", *argv])
    assert run([str(scores_csv), "--sims", "100", "--elimination", "4", "--schedules", "0,4"]) == 0


def test_the_default_schedules_fit_a_small_table(tmp_path, capsys):
    assert run([str(write(tmp_path, "model,a\nx,0.5\ny,0.3\n")), "--sims", "100"]) == 0
    assert "E (T=0)" in capsys.readouterr().out


def test_the_ranking_says_tied_rank_probabilities_are_split(scores_csv, capsys):
    assert run([str(scores_csv), "--sims", "200"]) == 0
    assert "ties split" in capsys.readouterr().out


def test_out_is_checked_before_the_simulations(scores_csv, tmp_path, monkeypatch):
    from diversa.evaluate import tournament as library

    def never(*args, **kwargs):
        raise AssertionError("the tournament ran before --out was checked")

    monkeypatch.setattr(library.SwissCSD, "fit", never)
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(UserError, match="is a file, not a folder"):
        run([str(scores_csv), "--out", str(tmp_path / "taken")])
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "tournament.json").write_text("{}")
    with pytest.raises(UserError, match="exists; pass --overwrite"):
        run([str(scores_csv), "--out", str(tmp_path / "done")])
