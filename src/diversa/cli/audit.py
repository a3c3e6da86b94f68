"""``diversa audit``: can a bag of words tell the members from the non-members?

Runs the model-free shift audit of Meeus et al. (arXiv:2406.17975) on two
document sets and says whether membership-inference results on them would be
confounded by distribution shift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_file, json_text


def add_parser(commands) -> None:
    p = commands.add_parser(
        "audit", help="audit a member/non-member split for distribution shift (bag-of-words AUC)",
        description="Cross-validated bag-of-words classifier (Meeus et al., arXiv:2406.17975) between two "
                    "document sets: plain text with one document per line (blank lines skipped), or "
                    ".jsonl/.csv/.parquet with a text field. An AUC well above 0.5 means the sets differ "
                    "without any model, so membership-inference results on them are confounded.")
    p.add_argument("members", metavar="MEMBERS",
                   help="documents believed to be in the training data ('-': plain text on standard input)")
    p.add_argument("nonmembers", metavar="NONMEMBERS", help="documents believed not to be")
    p.add_argument("--text-field", default="text", help="text field of .jsonl/.csv/.parquet inputs")
    p.add_argument("--folds", type=int, default=5, help="stratified folds (the paper's 5)")
    p.add_argument("--seed", type=int, default=42, help="seed of the folds, the forest and the bootstrap")
    p.add_argument("--classifier", default="random_forest", choices=["random_forest", "logistic"],
                   help="random_forest (the paper's depth-2 forest) or logistic (finds more shift)")
    p.add_argument("--min-df", type=float, default=0.05,
                   help="minimum document frequency: a fraction in (0, 1) or a count >= 1")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the AUC interval")
    p.add_argument("--permutations", type=int, default=0, help="label permutations for a p-value (default 0)")
    p.add_argument("--top", type=int, default=20, help="discriminative words to show")
    p.add_argument("--json", default=None, metavar="OUT.json",
                   help="also write the audit as JSON ('-' for standard output; the tables then go to stderr)")
    add_overwrite(p)
    p.set_defaults(handler=run)


def read_documents(path: str, text_field: str, argument: str) -> list[str]:
    """Documents of a text file (one per non-blank line; ``-`` is standard input) or of a table's
    ``text_field`` column."""
    from diversa.datasets.files import FORMATS, decode_text, describe, is_stdio, read_bytes, read_table

    if not is_stdio(path) and Path(path).suffix.lower() in FORMATS:
        table = read_table(path, argument=argument)
        if text_field not in table.columns:
            raise ValueError(f"{argument} {path!r} has no field {text_field!r} (fields: "
                             f"{', '.join(map(str, table.columns))}); choose one with --text-field.")
        for row, value in enumerate(table[text_field].tolist(), start=1):
            if not isinstance(value, str):
                raise ValueError(f"{argument} {path!r}: field {text_field!r} must hold text in every row; "
                                 f"row {row} does not.")
        return table[text_field].tolist()
    lines = decode_text(read_bytes(path, argument=argument), describe(path, argument)).splitlines()
    return [line for line in lines if line.strip()]


def _check_options(args) -> float | int:
    if args.folds < 2:
        raise UserError(f"--folds must be >= 2, got {args.folds}")
    if args.bootstrap < 0 or args.permutations < 0 or args.top < 0:
        raise UserError("--bootstrap, --permutations and --top must be >= 0")
    if args.min_df >= 1 and args.min_df != int(args.min_df):
        raise UserError(f"--min-df must be a fraction in (0, 1) or a whole count >= 1, got {args.min_df:g}")
    if args.min_df <= 0:
        raise UserError(f"--min-df must be > 0, got {args.min_df:g}")
    return int(args.min_df) if args.min_df >= 1 else args.min_df


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from diversa.datasets.files import atomic_write_text, write_stdout
    from diversa.evaluate.audit import BagOfWordsShiftDetector, EmptyVocabularyError

    min_df = _check_options(args)
    inputs = [("MEMBERS", args.members), ("NONMEMBERS", args.nonmembers)]
    check_inputs(inputs)
    check_output_file(args.json, argument="--json", inputs=inputs, overwrite=args.overwrite)
    members = read_documents(args.members, args.text_field, "MEMBERS")
    nonmembers = read_documents(args.nonmembers, args.text_field, "NONMEMBERS")
    for name, docs in (("MEMBERS", members), ("NONMEMBERS", nonmembers)):
        if len(docs) < args.folds:
            raise ValueError(f"{name} has {len(docs)} documents; --folds {args.folds} needs at least "
                             f"{args.folds} per set.")
    detector = BagOfWordsShiftDetector(
        min_df=min_df, n_splits=args.folds, classifier=args.classifier, n_bootstrap=args.bootstrap,
        n_permutations=args.permutations, n_top_features=args.top, random_state=args.seed)
    status = Console(stderr=True)
    try:
        with status.status(f"auditing {len(members)} + {len(nonmembers)} documents ({args.folds} folds, "
                           f"{args.bootstrap} bootstrap resamples, {args.permutations} permutations)..."):
            detector.fit(members, nonmembers)
    except EmptyVocabularyError:
        raise UserError(f"--min-df {args.min_df:g}: no word (of two or more letters) occurs in enough documents, so "
                        "the bag of words is empty and the sets cannot be audited; lower --min-df or check that the "
                        "documents hold words") from None
    report = detector.report()
    json_to_stdout = args.json == "-"
    stream = sys.stderr if json_to_stdout else sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 120)
    summary = Table(title=f"bag-of-words audit: {len(members)} members vs {len(nonmembers)} non-members, "
                          f"{args.folds}-fold {args.classifier}")
    for column in ("AUC", "95% CI", "TPR@FPR 10%", "TPR@FPR 1%", "shift", "p (permutation)"):
        summary.add_column(column)
    ci = report["auc_ci"]
    tpr = report["tpr_at_fpr"]
    summary.add_row(f"{report['auc']:.3f}", f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-",
                    f"{tpr.get('0.1', float('nan')):.3f}", f"{tpr.get('0.01', float('nan')):.3f}",
                    "yes" if report["shift_detected"] else "no",
                    f"{report['pvalue']:.4g}" if report["pvalue"] is not None else "-")
    console.print(summary)
    if report["top_features"]:
        words = Table(title="most discriminative words (document frequency per set)")
        for column in ("word", "importance", "members", "non-members"):
            words.add_column(column)
        for row in report["top_features"]:
            words.add_row(row["word"], f"{row['importance']:.4f}", f"{row['df_members']:.3f}",
                          f"{row['df_nonmembers']:.3f}")
        console.print(words)
    console.print(report["reading"])
    if args.json:
        text = json_text({"members": args.members, "nonmembers": args.nonmembers, **report})
        if json_to_stdout:
            write_stdout(text)
        else:
            atomic_write_text(args.json, text)
    return 0
