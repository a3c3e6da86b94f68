"""What every subcommand shares: help with defaults and an example, --seed, --overwrite, '-' for
standard input and output, one-line errors, and a clean exit 70 for a bug."""

import argparse
import io
import json

import pytest

import diversa.cli
from diversa.cli import COMMANDS, build_parser, main
from diversa.cli.errors import UserError

OWN_COMMANDS = [c for c in COMMANDS if c != "merge"]  # merge's options are its own module's


def subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def leaf_parsers(command):
    """The parsers that take a command's options: its own, or those of its actions (seqpar plan, ...)."""
    sub = subparsers()[command]
    nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
    return [p for a in nested for p in a.choices.values()] or [sub]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_every_default_and_an_example(command, capsys):
    assert f"example:\n  diversa {command} " in subparsers()[command].format_help()
    for sub in leaf_parsers(command):
        text = sub.format_help()
        assert f"example:\n  diversa {command} " in text
        for action in sub._actions:
            if not action.option_strings or action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
                continue
            assert action.help, f"{command} {action.option_strings[0]} has no help"
            flat = " ".join(text.split())
            assert f"default: {action.default}" in flat or "default" in action.help.lower(), \
                f"{command} {action.option_strings[0]}: default {action.default!r} not shown"


@pytest.mark.parametrize("command", OWN_COMMANDS)
def test_seed_and_overwrite_are_spelled_the_same_everywhere(command):
    for sub in leaf_parsers(command):
        options = {o for a in sub._actions for o in a.option_strings}
        assert "--random-state" not in options
        if command != "reproduce":  # reproduce seeds with --seeds N, a count of seeds
            assert "--seed" in options
        assert "--overwrite" in options


def test_an_unknown_option_points_at_the_subcommand_help(capsys):
    assert main(["tournament", "scores.csv", "--frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "see `diversa tournament --help`" in err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("diversa ")


@pytest.fixture
def broken_command(monkeypatch):
    def explode(args):
        raise KeyError("a bug")

    original = diversa.cli.build_parser

    def parser_with_a_bug():
        parser = original()
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        action.choices["compare"].set_defaults(handler=explode)
        return parser

    monkeypatch.setattr(diversa.cli, "build_parser", parser_with_a_bug)


def test_an_unexpected_exception_is_one_internal_error_line_with_status_70(broken_command, capsys, monkeypatch):
    monkeypatch.delenv("DIVERSA_DEBUG", raising=False)
    assert main(["compare", "x.csv"]) == 70
    err = capsys.readouterr().err
    assert err == "diversa: internal error: KeyError: 'a bug' (set DIVERSA_DEBUG=1 for the traceback)\n"


def test_debug_shows_the_traceback(broken_command, monkeypatch):
    monkeypatch.setenv("DIVERSA_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["compare", "x.csv"])


def test_user_mistakes_keep_status_1_and_2(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "missing.csv")]) == 1
    assert main(["compare", "--confidence", "2", "x.csv"]) == 2
    assert capsys.readouterr().err.count("diversa: error:") == 2


def test_warnings_print_as_one_line_each(monkeypatch, capsys):
    import warnings

    def warn(args):
        warnings.warn("something to know\nover two lines", RuntimeWarning)
        return 0

    original = diversa.cli.build_parser

    def parser_that_warns():
        parser = original()
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        action.choices["compare"].set_defaults(handler=warn)
        return parser

    monkeypatch.setattr(diversa.cli, "build_parser", parser_that_warns)
    assert main(["compare", "x.csv"]) == 0
    assert capsys.readouterr().err == "diversa: warning: something to know over two lines\n"


# ---------------------------------------------------------------------------------------------
# '-' is standard input and standard output
# ---------------------------------------------------------------------------------------------

def stdin(monkeypatch, data: bytes):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_compare_json_to_standard_output(tmp_path, monkeypatch, capsys):
    # It wrote a file named '-'.
    monkeypatch.chdir(tmp_path)
    table = "id,a,b\n" + "".join(f"{i},{i % 2},{int(i % 3 == 0)}\n" for i in range(30))
    stdin(monkeypatch, table.encode())
    assert main(["compare", "-", "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_items"] == 30
    assert "pairwise" in captured.err  # the tables go to stderr, out of the JSON's way
    assert list(tmp_path.iterdir()) == []


def test_audit_reads_standard_input_and_writes_json_to_standard_output(tmp_path, monkeypatch, capsys):
    other = tmp_path / "b.txt"
    other.write_text("\n".join(f"gamma delta doc {i}" for i in range(20)))
    stdin(monkeypatch, "\n".join(f"alpha beta doc {i}" for i in range(20)).encode())
    assert main(["audit", "-", str(other), "--bootstrap", "0", "--folds", "2", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_members"] == 20 and report["auc"] == 1.0


def test_tournament_reads_standard_input(monkeypatch, capsys):
    stdin(monkeypatch, b"model,a,b\nx,0.5,0.4\ny,0.3,0.9\nz,0.1,0.2\n")
    assert main(["tournament", "-", "--sims", "200"]) == 0
    assert "3 models x 2 benchmarks" in capsys.readouterr().out


def test_resample_from_standard_input_to_standard_output(monkeypatch, capsysbinary):
    rows = "".join(f"{i / 7!r},{'b' if i % 5 else 'a'}\n" for i in range(40))
    stdin(monkeypatch, ("x,label\n" + rows).encode())
    assert main(["resample", "-", "--target", "label", "--out", "-"]) == 0
    captured = capsysbinary.readouterr()
    out = captured.out.decode()
    assert out.startswith("x,label\n" + rows)  # the input rows, unchanged, then the synthetic ones
    assert out.count("\n") == 1 + 64 and b"written to standard output" in captured.err


def test_overwrite_replaces_an_existing_output(tmp_path, capsys):
    table = tmp_path / "o.csv"
    table.write_text("id,a,b\n" + "".join(f"{i},{i % 2},{int(i % 3 == 0)}\n" for i in range(30)))
    out = tmp_path / "c.json"
    out.write_text("old")
    assert main(["compare", str(table), "--json", str(out)]) == 2
    assert out.read_text() == "old"
    assert main(["compare", str(table), "--json", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text())["n_items"] == 30


def test_an_output_is_never_an_input_even_through_a_link(tmp_path):
    from diversa.cli.outputs import check_output_file

    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    (tmp_path / "link.csv").symlink_to(data)
    with pytest.raises(UserError, match="is the input DATA"):
        check_output_file(tmp_path / "link.csv", argument="--out", inputs=[("DATA", data)], overwrite=True)
