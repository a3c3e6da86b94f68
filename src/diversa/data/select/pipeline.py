"""Selection of a budgeted subset of a text table, end to end: read -> dedup -> embed -> select -> report.

:func:`select_file` is the one pipeline behind ``diversa select``, Python users
and the Ray Data engine. For ``kmq``, ``random`` and ``top-quality`` on a file
(Parquet file or folder, JSON Lines, CSV) it streams: the table is read in record
batches, and only each row's id, quality, cluster and near-duplicate band hashes
stay in memory, as in the two-pass kMQ of arXiv:2409.11378 at corpus scale:

1. count the rows, read the quality scores and drop near-duplicates
   (:class:`~diversa.data.select.dedup.MinHashDeduplicator`, ``dedup=``);
2. fit the embedder and the k-means centroids on a seeded sample of the kept rows;
3. embed and assign every batch to its nearest centroid (:class:`AssignStage`,
   also a ``ray.data.Dataset.map_batches`` stage, ``engine="ray"``);
4. select from the gathered (row id, cluster, quality) alone
   (:meth:`KMQSelector.select_assigned`) and write the selected rows by streaming
   the table once more, with the provenance columns ``cluster``, ``quality`` and
   ``selection_rank``.

The other methods (``kcenter``, ``odis``, ``kmeans-random``, ``stratified``)
need every embedding at once and read the whole table (as does standard input).
Bad input raises ``ValueError`` naming the argument (:class:`InputError` for a
request the table cannot satisfy), before anything is written.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diversa.data.embed import BATCH_ROWS, resolve_embedder

#: Methods that rank rows by a difficulty score (arXiv:2311.16298) instead of selecting in an embedding space.
SCORE_METHODS = ("el2n", "vog", "forgetting")
METHODS = ("kmq", "kmeans-random", "kcenter", "odis", "random", "top-quality", "stratified") + SCORE_METHODS
#: Methods run batch by batch on a file: they need no more than each row's cluster and quality.
STREAMING_METHODS = ("kmq", "random", "top-quality")
NEEDS_QUALITY = ("kmq", "odis", "top-quality")
PROVENANCE = ("cluster", "quality", "selection_rank")
REPORT_FILES = ("report.json", "report.md", "quality_hist.png", "score_hist.png")
#: Rows of the seeded sample the embedder and the k-means centroids are fitted on (at least).
FIT_SAMPLE_ROWS = 20_000


class InputError(ValueError):
    """A request the input cannot satisfy: a missing column, a budget beyond the corpus, an existing output."""


@dataclass
class SelectionRequest:
    """What :func:`select_file` does; the fields mirror the options of ``diversa select``.

    ``budget``: a count (300), a fraction (0.1) or a percentage ("10%").
    ``quality_field``: a column (odis: several, comma-separated). ``embeddings``:
    a ``.npy`` file of row-aligned vectors (memory-mapped). ``dedup``: the Jaccard
    threshold of near-duplicate removal (None: none). ``provenance``: the output
    names of the ``cluster``, ``quality`` and ``selection_rank`` columns added to
    the selected rows (True: those names; a dict renames some; False: none).
    ``kcenter_mode``: ``"exact"`` k-center greedy, or ``"clustered"`` (greedy
    on k-means representatives, for large pools; ``clusters`` sets their count).
    ``order``: ``"input"`` (the table's order) or ``"rank"``
    (selection order). ``engine``: ``"local"`` or ``"ray"``. ``el2n``, ``vog`` and
    ``forgetting`` keep the budget after pruning the ``prune`` end (``"easy"`` or
    ``"hard"``) of a difficulty score read from ``score_field`` or computed from
    the ``checkpoints`` folder at the ``label_field`` classes (``normalize``: vog's
    z-scoring, ``"class"``, ``"dataset"`` or ``"none"``).
    """

    data: str
    out: str
    budget: object
    method: str = "kmq"
    text_field: str = "text"
    embedding_field: str | None = None
    embeddings: str | None = None
    quality_field: str | None = None
    domain_field: str | None = None
    clusters: int | None = None
    kcenter_mode: str = "exact"
    embedder: str = "minilm"
    seed: int = 0
    dedup: float | None = None
    provenance: dict | bool = False
    order: str = "input"
    engine: str = "local"
    score_field: str | None = None
    checkpoints: str | None = None
    label_field: str | None = None
    prune: str = "easy"
    normalize: str = "class"
    report: str | None = None
    overwrite: bool = False
    batch_rows: int = BATCH_ROWS
    progress: bool = True
    quality_fields: list = field(init=False, default_factory=list)
    #: Rows of the input, known after the first streaming pass.
    n_rows_: int = field(init=False, default=0)

    def __post_init__(self):
        self.quality_fields = [f.strip() for f in self.quality_field.split(",")] if self.quality_field else []


def parse_budget(text, n: int) -> int:
    """Rows a budget of ``300``, ``0.1`` or ``"10%"`` asks for out of ``n`` (InputError beyond ``n``)."""
    from diversa.data.select import resolve_budget

    raw = str(text).strip()
    try:
        if raw.endswith("%"):
            value = float(raw[:-1]) / 100.0
            value = n if value == 1.0 else value
        elif raw.isdigit():
            value = int(raw)
        else:
            value = float(raw)
            value = n if value == 1.0 else value
    except ValueError:
        raise InputError(f"--budget must be a count, a fraction or a percentage, got {text!r}") from None
    try:
        return resolve_budget(value, n)
    except (TypeError, ValueError):
        raise InputError(f"--budget {text!r} is out of range: the input has {n} rows") from None


def provenance_names(provenance) -> dict:
    """``{"cluster": name, "quality": name, "selection_rank": name}`` from True, False or a partial dict."""
    if provenance is False or provenance is None:
        return {}
    names = dict(zip(PROVENANCE, PROVENANCE))
    if provenance is not True:
        unknown = set(provenance) - set(PROVENANCE)
        if unknown:
            raise InputError(f"--provenance-columns: unknown column {sorted(unknown)[0]!r} "
                             f"(known: {', '.join(PROVENANCE)})")
        names.update(provenance)
    return names


def report_folder(request) -> Path | None:
    """``request.report``, or ``<out stem>_report`` next to ``request.out`` (None for standard output).

    ``request``: a :class:`SelectionRequest` or the parsed options of ``diversa select``.
    """
    if request.report:
        return Path(request.report)
    if request.out == "-":
        return None
    out = Path(request.out)
    return out.with_name(f"{out.stem}_report")


def _check_request(r: SelectionRequest) -> None:
    if r.method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {r.method!r}")
    if r.method in SCORE_METHODS:
        if bool(r.score_field) == bool(r.checkpoints):
            raise InputError(f"--method {r.method} needs exactly one of --score-field and --checkpoints")
        if r.checkpoints and not r.label_field:
            raise InputError("--checkpoints needs --label-field (the class labels the scores are computed at)")
    elif r.score_field or r.checkpoints:
        raise InputError(f"--score-field and --checkpoints go with --method {'|'.join(SCORE_METHODS)}, "
                         f"not {r.method}")
    if r.method in NEEDS_QUALITY and not r.quality_fields:
        raise InputError(f"--method {r.method} needs --quality-field")
    if r.method == "stratified" and not r.domain_field:
        raise InputError("--method stratified needs --domain-field")
    if r.clusters is not None and r.clusters < 1:
        raise InputError(f"--clusters must be positive, got {r.clusters}")
    if r.order not in ("input", "rank"):
        raise ValueError(f"order must be 'input' or 'rank', got {r.order!r}")
    if r.engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {r.engine!r}")
    if r.dedup is not None and not 0 < r.dedup < 1:
        raise InputError(f"--dedup must be a Jaccard threshold in (0, 1), got {r.dedup}")
    if r.embeddings and r.embedding_field:
        raise InputError("pass one of --embeddings and --embedding-field, not both")
    if isinstance(r.batch_rows, bool) or not isinstance(r.batch_rows, int) or r.batch_rows < 1:
        raise ValueError(f"batch_rows must be a positive int, got {r.batch_rows!r}")
    provenance_names(r.provenance)
    if r.out != "-" and Path(r.out).exists() and not r.overwrite:
        raise InputError(f"--out {r.out!r} exists (pass --overwrite to replace it)")
    folder = report_folder(r)
    taken = [] if folder is None or r.overwrite else [f for f in REPORT_FILES if (folder / f).exists()]
    if taken:
        raise InputError(f"--report {str(folder / taken[0])!r} exists (pass --overwrite to replace it)")


def is_streaming(r: SelectionRequest) -> bool:
    """Whether ``select_file`` runs ``r`` batch by batch (a file input and a streaming method)."""
    return r.data != "-" and r.method in STREAMING_METHODS


def select_file(data, out, budget, **options) -> dict:
    """Select ``budget`` rows of the table ``data`` and write them to ``out`` with a report folder.

    ``options`` are the other fields of :class:`SelectionRequest`. Returns the
    report (also written as ``report.json`` and ``report.md``). Example::

        select_file("corpus/", "subset.parquet", "10%", method="kmq", quality_field="score",
                    embedder="hash", dedup=0.8)
    """
    request = SelectionRequest(data=str(data), out=str(out), budget=budget, **options)
    return run_request(request)


def run_request(r: SelectionRequest) -> dict:
    """:func:`select_file` for a ready :class:`SelectionRequest`."""
    if r.method in SCORE_METHODS:
        from diversa.data.select.inmemory import prune_by_score

        _check_request(r)
        return prune_by_score(r)
    _check_request(r)
    if r.engine == "ray":
        try:
            import ray.data  # noqa: F401
        except ImportError:
            raise InputError("--engine ray needs Ray Data: pip install 'diversa[ray]'") from None
    if r.engine == "ray" and not is_streaming(r):
        raise InputError(f"--engine ray runs kmq, random and top-quality on a file, not --method {r.method}"
                         + (" on standard input" if r.data == "-" else ""))
    embedder = None
    if not (r.embedding_field or r.embeddings):
        try:
            embedder = resolve_embedder(r.embedder)
        except ImportError as err:
            raise InputError(str(err).replace("embedder 'minilm'", "--embedder minilm")
                             .replace("use the 'hash' embedder", "pass --embedder hash")) from None
    if is_streaming(r):
        from diversa.data.select.corpus import select_streaming

        return select_streaming(r, embedder)
    from diversa.data.select.inmemory import select_in_memory

    return select_in_memory(r, embedder)


# ---------------------------------------------------------------- shared by both paths

def histogram_png(q, idx, label) -> bytes:
    """PNG of the histograms of ``q`` over the pool and over the rows ``idx``."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.histogram_bin_edges(q, bins=30)
    ax.hist(q, bins=bins, alpha=0.5, density=True, label=f"pool (n={q.size})")
    ax.hist(q[idx], bins=bins, alpha=0.5, density=True, label=f"selected (n={len(idx)})")
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def build_report(r: SelectionRequest, idx, *, n_rows, labels=None, quality=None, domains=None,
                 steps=None) -> tuple[dict, dict]:
    """The report (a dict) and its files: report.json, report.md and, with quality, quality_hist.png.

    ``idx``: selected positions among the ``n_rows`` candidate rows; ``labels``
    their clusters (coverage); ``quality`` (n_rows,); ``domains`` (n_rows,) labels;
    ``steps``: rows removed by each step, e.g. ``{"dedup": 12, "selection": 900}``.
    """
    b = len(idx)
    source = "standard input" if r.data == "-" else str(r.data)
    report = {"input": source, "method": r.method, "n_rows": int(n_rows), "n_selected": int(b), "seed": r.seed}
    lines = [f"# diversa select: {r.method}", "", f"{b} of {n_rows} rows selected from `{source}`.", ""]
    if steps is not None:
        report["removed"] = {k: int(v) for k, v in steps.items()}
        report["n_input_rows"] = int(n_rows + steps.get("dedup", 0))
        lines += ["| step | rows removed |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in report["removed"].items()]
        lines.append("")
    if labels is not None:
        k = int(labels.max()) + 1
        hit = int(np.unique(labels[idx]).size)
        report["cluster_coverage"] = {"clusters": k, "covered": hit, "fraction": hit / k}
        lines += [f"Cluster coverage: {hit} of {k} k-means clusters ({100 * hit / k:.1f}%).", ""]
    if domains is not None:
        names, codes = np.unique(np.asarray(domains).astype(str), return_inverse=True)
        pool = np.bincount(codes, minlength=len(names)) / len(codes)
        sel = np.bincount(codes[idx], minlength=len(names)) / max(b, 1)
        order = np.argsort(-pool, kind="stable")
        report["domain_mix"] = {str(names[j]): {"pool": float(pool[j]), "selected": float(sel[j])} for j in order}
        lines += ["| domain | pool | selected |", "|---|---|---|"]
        lines += [f"| {d} | {v['pool']:.3f} | {v['selected']:.3f} |" for d, v in report["domain_mix"].items()]
        lines.append("")
    files: dict = {}
    if quality is not None:
        name = r.quality_fields[0]
        report["quality"] = {"field": name, "pool_mean": float(quality.mean()),
                             "selected_mean": float(quality[idx].mean())}
        files["quality_hist.png"] = histogram_png(quality, idx, name)
        lines += [f"Quality `{name}`: pool mean {quality.mean():.4f}, selected mean {quality[idx].mean():.4f}.", "",
                  "![quality before/after](quality_hist.png)", ""]
    files["report.json"] = json.dumps(report, indent=2)
    files["report.md"] = "\n".join(lines)
    return report, files


def progress_bar(enabled: bool):
    """A rich progress bar on standard error (silent unless it is a terminal and ``enabled``)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    return Progress(console=console, transient=True, disable=not (enabled and sys.stderr.isatty()))


def finite_quality(values, name) -> np.ndarray:
    """``values`` as float64, or a ValueError naming the first row that is missing or not finite."""
    q = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(q))
    if bad.size:
        raise ValueError(f"--quality-field {name!r}: row {bad[0] + 1} is {q[bad[0]]}, not a finite number")
    return q


def check_vectors(X, where: str, expected_dim=None) -> np.ndarray:
    """``X`` as float32 (m, d) with finite values (and ``d == expected_dim``), or a ValueError naming ``where``."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"{where} must hold equal-length, non-empty numeric vectors")
    if expected_dim is not None and X.shape[1] != expected_dim:
        raise ValueError(f"{where} holds vectors of dimension {X.shape[1]}, expected {expected_dim}")
    if not np.isfinite(X).all():
        raise ValueError(f"{where} has missing or infinite values")
    return X


def seeded_sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded uniform sample of ``min(size, n)`` of ``n`` rows."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


