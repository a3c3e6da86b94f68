"""``diversa resample``: rebalance a table's classes with SMOTE and friends."""

from __future__ import annotations

from diversa.cli.errors import UserError

def add_parser(commands) -> None:
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
    p.set_defaults(handler=run)


def run(args) -> int:
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
