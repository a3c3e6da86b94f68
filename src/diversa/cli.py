"""The ``diversa`` command line.

Subcommands mirror the library's layers (``diversa reproduce``, ...). A user's
mistake prints one line on stderr and exits with status 2 (bad arguments) or
1 (bad input data); a traceback means a bug in diversa. Set
``DIVERSA_DEBUG=1`` to see the traceback of a user error too.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence


class UserError(Exception):
    """A mistake in what the user asked for, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr rather than usage plus message."""

    def error(self, message: str):
        raise UserError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="diversa", description="diversity across a model's whole life")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_reproduce(commands)
    _add_resample(commands)
    _add_compare(commands)
    return parser


def _add_reproduce(commands) -> None:
    p = commands.add_parser(
        "reproduce", help="rerun papers' claims as small experiments with computed verdicts",
        description="Run each paper's small experiment over several seeds/folds and decide with a "
                    "one-sided paired Wilcoxon test and a bootstrap CI whether its claim held.")
    p.add_argument("ids", nargs="*", metavar="ID", help="reproduction ids (default: all)")
    p.add_argument("--list", action="store_true", help="list the reproductions and exit")
    p.add_argument("--quick", action="store_true", help="quick mode: each paper in about 2 minutes or less")
    p.add_argument("--seeds", type=int, default=None, metavar="N", help="seeds/folds per paper (default: the paper's own)")
    p.add_argument("--jobs", type=int, default=-1, metavar="N", help="parallel worker processes (default -1: all cores)")
    p.add_argument("--out", default=None, metavar="DIR", help="write results.json, report.md and plots here")
    p.set_defaults(handler=_cmd_reproduce)


def _add_resample(commands) -> None:
    p = commands.add_parser(
        "resample", help="rebalance a CSV's classes with SMOTE and friends",
        description="Read a CSV, rebalance the class column, write the resampled CSV.")
    p.add_argument("input", metavar="INPUT.csv")
    p.add_argument("--target", required=True, help="name of the class column")
    p.add_argument("--method", default="smote", choices=["smote", "smote-nc", "smote-n", "under", "smote-under"])
    p.add_argument("--percentage", type=float, default=200.0,
                   help="amount of SMOTE in percent of the minority size (paper's N; default 200)")
    p.add_argument("--under-percentage", type=float, default=100.0,
                   help="minority size as a percentage of the kept majority (paper's u; default 100)")
    p.add_argument("--k-neighbors", type=int, default=5)
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--out", required=True, metavar="OUT.csv")
    p.set_defaults(handler=_cmd_resample)


def _add_compare(commands) -> None:
    p = commands.add_parser(
        "compare", help="compare models from their per-item outputs (McNemar, Cochran's Q, Wilcoxon)",
        description="Compare models scored on the same items. One file: a table with an id column and one "
                    "column of 0/1 correctness or scores per model. Several files: one per model, e.g. "
                    "lm-evaluation-harness per-sample JSONL with doc_id and a metric field.")
    p.add_argument("files", nargs="+", metavar="FILE", help="CSV, JSONL or Parquet files")
    p.add_argument("--id", dest="id_field", default=None, help="item-id field (default: doc_id, id, item_id or item)")
    p.add_argument("--metric", default=None, help="metric field in per-model files (e.g. acc)")
    p.add_argument("--models", default=None, help="comma-separated model columns of a single table")
    p.add_argument("--kind", default="auto", choices=["auto", "binary", "scores"])
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the results as JSON")
    p.set_defaults(handler=_cmd_compare)


def _cmd_compare(args) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from diversa.evaluate.compare import compare_outcomes, read_outcomes

    if not 0 < args.confidence < 1:
        raise UserError(f"--confidence must lie in (0, 1), got {args.confidence}")
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    outcomes = read_outcomes(args.files, id_field=args.id_field, metric=args.metric, models=models)
    result = compare_outcomes(outcomes, kind=args.kind, confidence=args.confidence, random_state=args.seed)
    console = Console(width=None if sys.stdout.isatty() else 120)
    level = f"{100 * args.confidence:g}%"
    per_model = Table(title=f"{result.n_items} items, {result.kind} outcomes")
    for column in ("model", "accuracy" if result.kind == "binary" else "mean", f"{level} CI"):
        per_model.add_column(column)
    for m in result.models:
        per_model.add_row(m.model, f"{m.mean:.4f}", f"[{m.low:.4f}, {m.high:.4f}]")
    console.print(per_model)
    pairs = Table(title="pairwise (difference = a - b)")
    for column in ("a", "b", "difference", f"{level} CI", "test", "p", "p (Holm)"):
        pairs.add_column(column)
    for p in result.pairs:
        pairs.add_row(p.model_a, p.model_b, f"{p.mean_diff:+.4f}", f"[{p.ci_low:+.4f}, {p.ci_high:+.4f}]",
                      p.test, f"{p.pvalue:.4g}", f"{p.pvalue_holm:.4g}")
    console.print(pairs)
    if result.omnibus:
        o = result.omnibus
        console.print(f"Cochran's Q = {o['statistic']:.4g} (df {o['df']}), p = {o['pvalue']:.4g}")
    if args.json:
        from diversa.datasets.files import atomic_write_text

        atomic_write_text(args.json, json.dumps(result.to_dict(), indent=2))
    return 0


def _cmd_reproduce(args) -> int:
    from rich.console import Console

    from diversa.reproduce import available_ids, get

    # Wide enough for the summary table when the output is a file or a pipe.
    console = Console(width=None if sys.stdout.isatty() else 160)
    if args.list:
        return _list_reproductions(console)
    ids = args.ids or available_ids()
    for rid in ids:
        try:
            get(rid)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {args.seeds}")
    if args.jobs == 0:
        raise UserError("--jobs must be a positive count or -1 for all cores, got 0")
    results = _run_with_progress(ids, args, console)
    from diversa.reproduce.report import print_table, write_report

    print_table(results, console)
    if args.out:
        command = "diversa " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        report = write_report(results, args.out, command=command)
        console.print(f"report written to {report}")
    return 0


def _list_reproductions(console) -> int:
    from rich.table import Table

    from diversa.reproduce import available_ids, get

    table = Table(title="reproductions")
    for column in ("id", "paper", "arXiv", "checks", "trials quick/full"):
        table.add_column(column, overflow="fold")
    for rid in available_ids():
        r = get(rid)
        table.add_row(r.id, r.title, r.arxiv, ", ".join(c.name for c in r.checks),
                      f"{r.quick_trials}/{r.full_trials}")
    console.print(table)
    return 0


def _run_with_progress(ids, args, console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from diversa.reproduce import get, run_reproductions

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        tasks = {get(rid).id: progress.add_task(get(rid).id, total=args.seeds or get(rid).n_trials(args.quick))
                 for rid in ids}
        return run_reproductions(ids, quick=args.quick, n_seeds=args.seeds, n_jobs=args.jobs,
                                 on_trial_done=lambda rid: progress.advance(tasks[rid]))


def _cmd_resample(args) -> int:
    from diversa.data.resample import SMOTE, SMOTEN, SMOTENC, RandomUnderSampler, SMOTEUnder
    from diversa.datasets import read_table, write_table

    table = read_table(args.input)
    if args.target not in table.columns:
        raise UserError(f"--target {args.target!r} is not a column of {args.input} "
                        f"(columns: {', '.join(map(str, table.columns))})")
    X, y = table.drop(columns=[args.target]), table[args.target]
    nominal = [c for c in X.columns if not pd_is_numeric(X[c])]
    smote = dict(percentage=args.percentage, k_neighbors=args.k_neighbors, random_state=args.random_state)
    samplers = {
        "smote": lambda: SMOTE(**smote),
        "smote-nc": lambda: SMOTENC(categorical_features=nominal, **smote),
        "smote-n": lambda: SMOTEN(**smote),
        "under": lambda: RandomUnderSampler(percentage=args.under_percentage, random_state=args.random_state),
        "smote-under": lambda: SMOTEUnder(smote_percentage=args.percentage, under_percentage=args.under_percentage,
                                          k_neighbors=args.k_neighbors, random_state=args.random_state),
    }
    X_res, y_res = samplers[args.method]().fit_resample(X, y)
    resampled = X_res.assign(**{args.target: y_res.to_numpy()})[table.columns]
    write_table(resampled, args.out, argument="--out")
    before, after = y.value_counts().sort_index(), resampled[args.target].value_counts().sort_index()
    counts = ", ".join(f"{label}: {before.get(label, 0)} -> {after[label]}" for label in after.index)
    print(f"{args.method}: {len(table)} -> {len(resampled)} rows ({counts}); written to {args.out}")
    return 0


def pd_is_numeric(column) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(column) and not is_bool_dtype(column)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``diversa`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            from diversa import __version__

            print(f"diversa {__version__}")
            return 0
        if args.command is None:
            parser.print_help()
            return 2
        return args.handler(args)
    except UserError as exc:
        return _fail(exc, status=2)
    except (ValueError, OSError) as exc:
        # Raised by diversa's own validation of the user's files and values.
        return _fail(exc, status=1)
    except KeyboardInterrupt:
        print("diversa: interrupted", file=sys.stderr)
        return 130


def _fail(exc: Exception, *, status: int) -> int:
    if os.environ.get("DIVERSA_DEBUG"):
        raise exc
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"diversa: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
