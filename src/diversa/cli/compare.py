"""``diversa compare``: compare models from their per-item outputs."""

from __future__ import annotations

import sys

from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_file, json_text


def add_parser(commands) -> None:
    p = commands.add_parser(
        "compare", help="compare models from their per-item outputs (McNemar, Cochran's Q, Wilcoxon)",
        description="Compare models scored on the same items. One file: a table with an id column and one "
                    "column of 0/1 correctness or scores per model. Several files: one per model, e.g. "
                    "lm-evaluation-harness per-sample JSONL with doc_id and a metric field.")
    p.add_argument("files", nargs="+", metavar="FILE", help="CSV, JSONL or Parquet files ('-' for standard input)")
    p.add_argument("--id", dest="id_field", default=None, help="item-id field (default: doc_id, id, item_id or item)")
    p.add_argument("--metric", default=None, help="metric field in per-model files (e.g. acc)")
    p.add_argument("--models", default=None,
                   help="comma-separated model columns of a single table (default: every column but the id)")
    p.add_argument("--kind", default="auto", choices=["auto", "binary", "scores"],
                   help="binary (0/1 correctness), scores, or auto (binary when every value is 0 or 1)")
    p.add_argument("--confidence", type=float, default=0.95, help="coverage of the confidence intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    p.add_argument("--json", default=None, metavar="OUT.json",
                   help="also write the results as JSON ('-' for standard output; the tables then go to stderr)")
    add_overwrite(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from diversa.datasets.files import atomic_write_text, write_stdout
    from diversa.evaluate.compare import compare_outcomes, read_outcomes

    if not 0 < args.confidence < 1:
        raise UserError(f"--confidence must lie in (0, 1), got {args.confidence}")
    inputs = [("FILE", path) for path in args.files]
    check_inputs(inputs)
    check_output_file(args.json, argument="--json", inputs=inputs, overwrite=args.overwrite)
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    outcomes = read_outcomes(args.files, id_field=args.id_field, metric=args.metric, models=models)
    result = compare_outcomes(outcomes, kind=args.kind, confidence=args.confidence, random_state=args.seed)
    json_to_stdout = args.json == "-"
    stream = sys.stderr if json_to_stdout else sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 120)
    level = f"{100 * args.confidence:g}%"
    per_model = Table(title=f"{result.n_items} items, {result.kind} outcomes")
    for column in ("model", "accuracy" if result.kind == "binary" else "mean", f"{level} CI"):
        per_model.add_column(column)
    for m in result.models:
        per_model.add_row(m.model, _number(m.mean), f"[{_number(m.low)}, {_number(m.high)}]")
    console.print(per_model)
    pairs = Table(title="pairwise (difference = a - b)")
    for column in ("a", "b", "difference", f"{level} CI", "test", "p", "p (Holm)"):
        pairs.add_column(column)
    for p in result.pairs:
        pairs.add_row(p.model_a, p.model_b, _number(p.mean_diff, "+"), f"[{_number(p.ci_low, '+')}, {_number(p.ci_high, '+')}]",
                      p.test, f"{p.pvalue:.4g}", f"{p.pvalue_holm:.4g}")
    console.print(pairs)
    if result.omnibus:
        o = result.omnibus
        console.print(f"Cochran's Q = {o['statistic']:.4g} (df {o['df']}), p = {o['pvalue']:.4g}")
    if args.json:
        text = json_text(result.to_dict())
        if json_to_stdout:
            write_stdout(text)
        else:
            atomic_write_text(args.json, text)
    return 0


def _number(value: float, sign: str = "") -> str:
    """Four decimals for everyday values, four significant digits for huge or tiny ones."""
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        return f"{value:{sign}.4f}"
    return f"{value:{sign}.4g}"

