"""The ``diversa`` command line.

Subcommands mirror the library's layers; each lives in a module of this
package exposing ``add_parser(subparsers)`` and ``run(args) -> int``, listed
in :data:`COMMANDS`. The conventions every subcommand shares:

* exit status 0 on success; a user's mistake prints one line on stderr and
  exits with 2 (bad arguments or outputs) or 1 (bad input data); anything
  else is a bug in diversa, reported as one ``internal error`` line with
  status 70 (``DIVERSA_DEBUG=1`` shows the traceback of any error); Ctrl-C
  exits with 130;
* ``-`` is standard input or standard output, outputs are checked before the
  work starts and never replace an input, existing outputs are replaced only
  with ``--overwrite`` (:mod:`diversa.cli.outputs`);
* the seed option is ``--seed``; every ``--help`` shows the defaults and an
  example (:data:`EXAMPLES`); warnings print as one ``diversa: warning:`` line each.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from diversa.cli.errors import OneLineParser, UserError

#: Subcommand modules, in the order ``diversa --help`` lists them.
COMMANDS = ("reproduce", "compare", "tournament", "audit", "select", "resample", "merge", "merge-lora", "moe",
            "seqpar", "separate")

#: One example per subcommand, shown at the end of its ``--help``.
EXAMPLES = {
    "reproduce": "diversa reproduce smote --quick --out report",
    "compare": "diversa compare run_a.jsonl run_b.jsonl --metric acc --json compare.json",
    "tournament": "diversa tournament scores.csv --sims 20000 --out swiss/",
    "audit": "diversa audit members.txt nonmembers.txt --json audit.json",
    "select": "diversa select data.jsonl --budget 10% --method kmq --quality-field q --out selected.jsonl",
    "resample": "diversa resample data.csv --target label --method smote --out balanced.csv",
    "merge": "diversa merge merge.yaml merged/ --max-shard-size 2GB",
    "merge-lora": "diversa merge-lora lora_a/ lora_b/ lora_c/ --method ties --density 0.5 --rank 16 --out merged/",
    "moe": "diversa moe moe.yml --out moe/ --seed 0",
    "seqpar": "diversa seqpar plan lengths.txt --gpus 64 --memory 80GB --json plan.json",
    "separate": "diversa separate song.wav --out stems/ --reference true_stems/",
}

#: Exit status of an unexpected exception (a bug in diversa), as sysexits' EX_SOFTWARE.
INTERNAL_ERROR = 70


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="diversa", description="diversity across a model's whole life",
                           epilog="example:\n  diversa select --help")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"diversa.cli.{name.replace('-', '_')}").add_parser(subparsers)
        subparsers.choices[name].epilog = f"example:\n  {EXAMPLES[name]}"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``diversa`` command; returns the exit status."""
    with warnings.catch_warnings(record=True) as caught:  # the filters in force still apply
        try:
            status = _dispatch(argv)
        except UserError as exc:
            return _fail(exc, status=2)
        except BrokenPipeError:
            # The reader of our standard output went away (`... | head`): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
        except (ValueError, OSError) as exc:
            # Raised by diversa's own validation of the user's files and values.
            return _fail(exc, status=1)
        except KeyboardInterrupt:
            print("diversa: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a clean exit
            if os.environ.get("DIVERSA_DEBUG"):
                raise
            print(f"diversa: internal error: {type(exc).__name__}: {_one_line(exc)} "
                  "(set DIVERSA_DEBUG=1 for the traceback)", file=sys.stderr)
            return INTERNAL_ERROR
    for message in dict.fromkeys(_one_line(w.message) for w in caught):
        print(f"diversa: warning: {message}", file=sys.stderr)
    return status


def _dispatch(argv) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        command = f"diversa {args.command}" if getattr(args, "command", None) else "diversa"
        raise UserError(f"unrecognized arguments: {' '.join(extras)} (see `{command} --help`)")
    if args.version:
        from diversa import __version__

        print(f"diversa {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    return args.handler(args)


def _one_line(exc) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _fail(exc: Exception, *, status: int) -> int:
    if os.environ.get("DIVERSA_DEBUG"):
        raise exc
    print(f"diversa: error: {_one_line(exc)}", file=sys.stderr)
    return status
