"""``diversa resample``: rebalance a table's classes with SMOTE and friends.

By default the over-samplers balance the classes the way imbalanced-learn's
``sampling_strategy="auto"`` does: every class but the majority gets synthetic
rows up to the majority's size. ``--percentage N`` asks for the SMOTE paper's
mode instead (Chawla et al., JAIR 2002, arXiv:1106.1813): ``N`` percent of the
least frequent class. The input rows come back unchanged (the values exactly
as read, see :mod:`diversa.datasets.files`), followed by the synthetic rows.
"""

from __future__ import annotations

import math
import sys

from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_file

#: The SMOTE paper's samplers first, then the rest of imbalanced-learn's family: the names of
#: :data:`diversa.data.resample.SAMPLERS` (spelled out here so the parser does not import it).
PAPER_METHODS = ("smote", "smote-nc", "smote-n", "under", "smote-under")
METHODS = (*PAPER_METHODS, "random-over", "adasyn", "borderline-smote", "svm-smote", "kmeans-smote",
           "tomek-links", "enn", "repeated-enn", "all-knn", "condensed-nn", "one-sided-selection",
           "neighbourhood-cleaning", "near-miss", "cluster-centroids", "instance-hardness", "smote-tomek",
           "smote-enn")
#: Methods that only remove rows: their output is never larger than the input.
UNDER_SAMPLERS = ("under", "tomek-links", "enn", "repeated-enn", "all-knn", "condensed-nn", "one-sided-selection",
                  "neighbourhood-cleaning", "near-miss", "cluster-centroids", "instance-hardness")
#: Copies of the output a resampling holds at once (the sampler's arrays, the table, the
#: Python values being written); the estimate of memory use is rows x columns x 8 bytes x this.
WORKING_COPIES = 8


def add_parser(commands) -> None:
    p = commands.add_parser(
        "resample", help="rebalance a table's classes with SMOTE and friends",
        description="Read a table (CSV, JSONL or Parquet), rebalance its class column and write the input rows, "
                    "unchanged, followed by the synthetic ones. By default every minority class is over-sampled "
                    "to the majority's size (imbalanced-learn's sampling_strategy='auto'); --percentage N asks "
                    "for the SMOTE paper's N percent of the least frequent class instead.")
    p.add_argument("input", metavar="INPUT", help="input table (.csv, .jsonl or .parquet; '-' for standard input)")
    p.add_argument("--target", required=True, help="name of the class column")
    p.add_argument("--method", default="smote", choices=METHODS, metavar="METHOD",
                   help="smote (numeric features), smote-nc (numeric and nominal), smote-n (nominal), "
                        "under (random under-sampling), smote-under (the paper's combination), or any other "
                        "imbalanced-learn sampler: " + ", ".join(METHODS[len(PAPER_METHODS):]))
    p.add_argument("--percentage", type=float, default=None,
                   help="the paper's amount of SMOTE N, in percent of the least frequent class (default: balance "
                        "every class, as imbalanced-learn's 'auto'; smote-under: 200)")
    p.add_argument("--under-percentage", type=float, default=None,
                   help="under and smote-under: minority size as a percentage of the kept majority, the paper's u "
                        "(default: under balances the classes as imbalanced-learn's 'auto'; smote-under: 100)")
    p.add_argument("--k-neighbors", type=int, default=5, help="nearest minority neighbours to interpolate between")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws")
    p.add_argument("--out", required=True,
                   help="output table (.csv, .jsonl or .parquet; '-' for standard output in the input's format)")
    add_overwrite(p)
    p.set_defaults(handler=run)


def _check_options(args) -> None:
    for option, value in (("--percentage", args.percentage), ("--under-percentage", args.under_percentage)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UserError(f"{option} must be a finite number > 0, got {value:g}")
    if args.k_neighbors < 1:
        raise UserError(f"--k-neighbors must be >= 1, got {args.k_neighbors}")


def available_memory() -> int | None:
    """Bytes of memory this process can still use: the system's MemAvailable, capped by a
    cgroup (container) limit; None when unknown."""
    limits = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as handle:
            limit = handle.read().strip()
        with open("/sys/fs/cgroup/memory.current") as handle:
            used = int(handle.read().strip())
        if limit != "max":
            limits.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return min(limits) if limits else None


def planned_rows(method: str, percentage, counts: list[int]) -> int:
    """An upper bound on the rows the resampling writes, from the class sizes alone."""
    n = sum(counts)
    if method in UNDER_SAMPLERS:
        return n
    if percentage is None and method != "smote-under":
        return len(counts) * max(counts)  # 'auto': every class up to the majority's size
    amount = 200.0 if percentage is None else percentage
    return n + math.floor(amount / 100.0 * min(counts) + 0.5)


def check_output_size(args, counts: list[int], n_columns: int, available: int | None) -> None:
    """Refuse up front a resampling whose output would not fit in memory."""
    rows = planned_rows(args.method, args.percentage, counts)
    need = rows * n_columns * 8 * WORKING_COPIES
    if available is not None and need > available:
        raise UserError(f"this resampling would write {rows:.3g} rows x {n_columns} columns and need about "
                        f"{need / 1e9:.3g} GB of memory, more than the {available / 1e9:.3g} GB available; "
                        "lower --percentage")


def _check_complete(table, where: str) -> None:
    from diversa.datasets.files import is_missing

    for name in table.columns:
        for row, value in enumerate(table[name].tolist(), start=1):
            if is_missing(value):
                raise ValueError(f"{where}: column {name!r} has a missing value in row {row}; resampling needs "
                                 "complete rows")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{where}: column {name!r} holds {value} in row {row}; resampling needs "
                                 "finite numbers")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _categories(values: list, *, keep: tuple = (str,)):
    """``values`` as category keys the samplers can sort and compare, and the way back.

    Values all of one type in ``keep`` are their own keys; any other column (1 and
    "a", lists, ...) gets text keys that name the type, so no two values collide
    and sorting works.
    """
    kinds = {type(v) for v in values}
    if len(kinds) == 1 and kinds <= set(keep):
        return values, {v: v for v in values}
    keys = [f"{type(v).__name__}:{v!r}" for v in values]
    return keys, dict(zip(keys, values))


def _sampler_input(table, target: str, all_nominal: bool):
    """(X, y, nominal columns, key -> value maps) for the sampler, built from the table's values."""
    import numpy as np
    import pandas as pd

    columns, nominal, back = {}, [], {}
    for name in table.columns:
        values = table[name].tolist()
        if name != target and not all_nominal and all(_is_number(v) for v in values):
            columns[name] = np.asarray(values, dtype=float)
            continue
        if name == target:  # labels keep their own type (0/1 stay ints) unless they mix types
            keys, back[name] = _categories(values, keep=(str, int, bool, float))
            y = np.asarray(keys, dtype=object if isinstance(keys[0], str) else None)
            continue
        keys, back[name] = _categories(values)
        nominal.append(name)
        columns[name] = pd.Series(keys, dtype=object)
    return pd.DataFrame(columns), y, nominal, back


def _sampler(args, nominal):
    from diversa.data.resample import SAMPLERS, SMOTE, SMOTEN, SMOTENC, RandomUnderSampler, SMOTEUnder

    amount = {"sampling_strategy": "auto"} if args.percentage is None else {"percentage": args.percentage}
    common = dict(k_neighbors=args.k_neighbors, random_state=args.seed)
    if args.method == "smote":
        return SMOTE(**amount, **common)
    if args.method == "smote-nc":
        return SMOTENC(categorical_features=nominal, **amount, **common)
    if args.method == "smote-n":
        return SMOTEN(**amount, **common)
    if args.method == "under":
        if args.under_percentage is None:
            return RandomUnderSampler(sampling_strategy="auto", random_state=args.seed)
        return RandomUnderSampler(percentage=args.under_percentage, random_state=args.seed)
    if args.method == "smote-under":
        return SMOTEUnder(smote_percentage=200.0 if args.percentage is None else args.percentage,
                          under_percentage=100.0 if args.under_percentage is None else args.under_percentage,
                          **common)
    return _family_sampler(SAMPLERS[args.method], args, nominal)


def _family_sampler(cls, args, nominal):
    """One of imbalanced-learn's own samplers with the options its constructor takes."""
    import inspect

    if args.percentage is not None or args.under_percentage is not None:
        raise UserError(f"--percentage and --under-percentage are the SMOTE paper's amounts; --method "
                        f"{args.method} balances the classes as imbalanced-learn does")
    if nominal:
        raise UserError(f"--method {args.method} needs numeric features, but {', '.join(map(repr, nominal))} "
                        "are not numbers; use smote-nc or smote-n")
    accepted = inspect.signature(cls).parameters
    options = {"random_state": args.seed, "k_neighbors": args.k_neighbors, "n_neighbors": args.k_neighbors}
    return cls(**{name: value for name, value in options.items() if name in accepted})


def merge_back(table, target, X, y, X_res, y_res, back):
    """The output table: each resampled row that equals an input row is that input row, exactly as
    read (the first unused one with those values); the others are synthetic rows, written from
    the sampler's values (categories mapped back to the input's values)."""
    from collections import defaultdict, deque

    import pandas as pd

    from diversa.datasets.files import typed_column

    features = list(X.columns)
    pool: dict[tuple, deque] = defaultdict(deque)
    for i, row in enumerate(X.itertuples(index=False, name=None)):
        pool[row + (y[i],)].append(i)
    first = {key: rows[0] for key, rows in pool.items()}
    source = []  # input row index, or the resampled row itself for synthetic rows
    for j, row in enumerate(X_res.itertuples(index=False, name=None)):
        key = row + (y_res[j],)
        if pool.get(key):
            source.append(pool[key].popleft())
        elif key in first:
            source.append(first[key])
        else:
            source.append(dict(zip(features, row), **{target: y_res[j]}))
    out = {}
    for name in table.columns:
        original = table[name].tolist()
        mapping = back.get(name)
        values = []
        for s in source:
            if isinstance(s, int):
                values.append(original[s])
            else:
                value = s[name]
                values.append(mapping[value] if mapping is not None else float(value))
        out[name] = typed_column(values)
    result = pd.DataFrame(out)
    result.attrs.update(table.attrs)
    return result


def run(args) -> int:
    from collections import Counter

    import pandas as pd

    from diversa.datasets.files import describe, read_table, write_table

    _check_options(args)
    inputs = [("INPUT", args.input)]
    check_inputs(inputs)
    check_output_file(args.out, argument="--out", inputs=inputs, overwrite=args.overwrite, table=True)
    table = read_table(args.input, argument="INPUT")
    where = describe(args.input, "INPUT")
    if args.target not in table.columns:
        raise UserError(f"--target {args.target!r} is not a column of {where} "
                        f"(columns: {', '.join(map(str, table.columns))})")
    if table.shape[1] < 2:
        raise ValueError(f"{where} has no feature columns besides --target {args.target!r}")
    _check_complete(table, where)
    X, y, nominal, back = _sampler_input(table, args.target, all_nominal=args.method == "smote-n")
    counts = list(Counter(y.tolist()).values())
    if len(counts) < 2:
        raise ValueError(f"{where}: --target {args.target!r} has one class only; there is nothing to rebalance")
    check_output_size(args, counts, table.shape[1], available_memory())
    X_res, y_res = _sampler(args, nominal).fit_resample(X, y)
    if not isinstance(X_res, pd.DataFrame):
        X_res = pd.DataFrame(X_res, columns=X.columns)
    resampled = merge_back(table, args.target, X, y, X_res, list(y_res), back)
    write_table(resampled, args.out, argument="--out")  # '-': in the format the input was read in
    before = table[args.target].value_counts(sort=False)
    after = resampled[args.target].value_counts(sort=False)
    counts_text = ", ".join(f"{label}: {before.get(label, 0)} -> {after[label]}" for label in after.index)
    where_out = "standard output" if args.out == "-" else args.out
    print(f"{args.method}: {len(table)} -> {len(resampled)} rows ({counts_text}); written to {where_out}",
          file=sys.stderr if args.out == "-" else sys.stdout)
    return 0
