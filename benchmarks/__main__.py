"""Run the benchmarks: ``python -m benchmarks [--quick] [NAME ...]`` (or ``make bench``)."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(here)])
                  if m.name.startswith("bench_"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(discover())})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(discover())
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    console = Console(width=None if sys.stdout.isatty() else 140)
    rows = []
    for name in args.names or discover():
        module = importlib.import_module(f"benchmarks.bench_{name}")
        with console.status(f"benchmark {name}..."):
            rows += module.run(quick=args.quick)
    table = Table(title="diversa vs anchors (median wall time)")
    for column in ("name", "diversa_s", "anchor", "anchor_s", "ratio"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], f"{row['diversa_s']:.3f}", row["anchor"], f"{row['anchor_s']:.3f}",
                      f"{row['ratio']:.2f}")
    console.print(table)
    console.print("ratio = diversa / anchor; below 1.0 means diversa is faster.")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
