"""The ``diversa`` command line.

Subcommands mirror the library's layers; each lives in a module of this
package exposing ``add_parser(subparsers)`` and ``run(args) -> int``, listed
in :data:`COMMANDS`. A user's mistake prints one line on stderr and exits with
status 2 (bad arguments) or 1 (bad input data); a traceback means a bug in
diversa. Set ``DIVERSA_DEBUG=1`` to see the traceback of a user error too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from diversa.cli.errors import OneLineParser, UserError

#: Subcommand modules, in the order ``diversa --help`` lists them.
COMMANDS = ("reproduce", "compare", "tournament", "audit", "select", "resample", "merge")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="diversa", description="diversity across a model's whole life")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"diversa.cli.{name}").add_parser(subparsers)
    return parser


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

