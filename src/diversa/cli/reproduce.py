"""``diversa reproduce``: rerun papers' claims and compute their verdicts."""

from __future__ import annotations

import shlex
import sys

from diversa.cli.backend import add_backend_options, check_backend, parallel_backend
from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_output_folder

def add_parser(commands) -> None:
    p = commands.add_parser(
        "reproduce", help="rerun papers' claims as small experiments with computed verdicts",
        description="Run each paper's small experiment over several independent units and compute "
                    "its verdict: supported, contradicted, inconclusive or out of regime. The headline "
                    "claim is tested at alpha 0.05 (exact sign-flip test, or the corrected resampled "
                    "t-test for re-split data), secondary claims Holm-adjusted behind it; mechanism "
                    "and regime checks are reported as pass/fail.")
    p.add_argument("ids", nargs="*", metavar="ID", help="reproduction ids (default: all)")
    p.add_argument("--list", action="store_true", help="list the reproductions and exit")
    p.add_argument("--quick", action="store_true", help="quick mode: each paper in about 2 minutes or less")
    p.add_argument("--seeds", type=int, default=None, metavar="N", help="seeds/folds per paper (default: the paper's own)")
    p.add_argument("--jobs", type=int, default=-1, metavar="N", help="parallel worker processes (default -1: all cores)")
    add_backend_options(p)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write results.json, report.md, report.html and plots here")
    add_overwrite(p)
    p.set_defaults(handler=run)


def run(args) -> int:
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
    check_backend(args)
    if args.out is not None:  # before the work, not after it
        files = ["results.json", "report.md", "report.html"] + [f"{get(rid).id}.png" for rid in ids]
        check_output_folder(args.out, argument="--out", files=files, overwrite=args.overwrite)
    with parallel_backend(args):
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
    for column in ("id", "paper", "arXiv", "headline claim", "checks", "units quick/full"):
        table.add_column(column, overflow="fold")
    for rid in available_ids():
        r = get(rid)
        kinds = [c.kind for c in r.checks]
        counts = ", ".join(f"{kinds.count(k)} {k}" for k in ("claim", "mechanism", "regime") if k in kinds)
        table.add_row(r.id, r.title, r.arxiv, f"{r.headline}: {r.headline_check.claim}", counts,
                      f"{r.quick_trials}/{r.full_trials} {r.unit.kind}")
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
