"""The whole-table path of :func:`diversa.data.select.pipeline.select_file`.

``kcenter``, ``odis``, ``kmeans-random`` and ``stratified`` compare every row
with every other (or need every embedding at once), and standard input cannot
be read twice: the table is read into memory, embedded batch by batch in one
fitted space, and selected by the in-memory selectors of
:mod:`diversa.data.select`. The selected rows are written back exactly as they
were read (:mod:`diversa.datasets.files`), plus the provenance columns.
"""

from __future__ import annotations

import json

import numpy as np

from diversa.data.embed import embed_in_batches, text_encoder
from diversa.data.select.pipeline import (
    InputError,
    build_report,
    check_vectors,
    finite_quality,
    parse_budget,
    progress_bar,
    provenance_names,
    report_folder,
)


def column(table, name, option):
    """``table[name]``, or an InputError naming ``option`` and the columns there are."""
    if name not in table.columns:
        raise InputError(f"{option} {name!r} is not a column of the input "
                         f"(columns: {', '.join(map(str, table.columns[:12]))})")
    return table[name]


def vectors(values, name) -> np.ndarray:
    """The embedding column ``values`` as float32 (n, d); a ValueError naming the first bad row."""
    rows = []
    for row, value in enumerate(values.tolist(), start=1):
        if isinstance(value, str):  # a CSV cell holding a JSON list
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"--embedding-field {name!r}: row {row} is not a vector") from None
        try:
            rows.append(np.asarray(value, dtype=np.float32))
        except (TypeError, ValueError):
            raise ValueError(f"--embedding-field {name!r}: row {row} is not a numeric vector") from None
    if any(r.ndim != 1 or r.shape != rows[0].shape for r in rows) or not rows[0].size:
        raise ValueError(f"--embedding-field {name!r} must hold equal-length, non-empty numeric vectors")
    return check_vectors(np.vstack(rows), f"--embedding-field {name!r}")


def check_texts(table, r) -> list:
    from diversa.datasets.files import is_missing

    texts = column(table, r.text_field, "--text-field").tolist()
    for row, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise ValueError(f"--text-field {r.text_field!r} must hold text in every row; row {row} holds "
                             f"{'nothing' if is_missing(text) else 'a value of type ' + type(text).__name__}")
    return texts


def embeddings(table, r, embedder, on_batch, batch_rows):
    """(n, d) embeddings of the table's rows: a column, a .npy file or the embedder."""
    if r.embedding_field:
        X = vectors(column(table, r.embedding_field, "--embedding-field"), r.embedding_field)
    elif r.embeddings:
        try:
            X = np.load(r.embeddings, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise ValueError(f"--embeddings {r.embeddings!r} is not a readable .npy file ({err})") from None
        if X.ndim != 2 or X.shape[0] != len(table):
            raise InputError(f"--embeddings {r.embeddings!r} has shape {X.shape}; expected ({len(table)}, d), "
                             "one row per input row")
        X = check_vectors(X, f"--embeddings {r.embeddings!r}")
    else:
        texts = check_texts(table, r)
        encode = text_encoder(embedder, texts, seed=r.seed)
        return embed_in_batches(texts, encode, batch_rows=batch_rows, on_batch=on_batch)
    on_batch(len(table))
    return X


def quality_matrix(table, fields) -> np.ndarray:
    from diversa.datasets.files import numbers

    cols = [finite_quality(numbers(column(table, f, "--quality-field"), what=f"--quality-field {f!r}"), f)
            for f in fields]
    return np.column_stack(cols)


def selector_for(r, n_quality):
    from diversa.data import select as S

    if r.method == "kmq":
        return S.KMQSelector(r.clusters, random_state=r.seed)
    if r.method == "kmeans-random":
        return S.KMQSelector(r.clusters, within="random", random_state=r.seed)
    if r.method == "kcenter":
        return S.KCenterGreedySelector(mode=r.kcenter_mode, n_clusters=r.clusters, random_state=r.seed)
    if r.method == "odis":
        return S.ODiSSelector(min(4, n_quality), random_state=r.seed)
    if r.method == "random":
        return S.RandomSelector(random_state=r.seed)
    if r.method == "top-quality":
        return S.TopQualitySelector()
    return S.StratifiedDomainSelector(random_state=r.seed)


def _domains(table, r):
    from diversa.datasets.files import is_missing

    if not r.domain_field:
        return None
    domains = column(table, r.domain_field, "--domain-field")
    missing = [row for row, value in enumerate(domains.tolist(), start=1) if is_missing(value)]
    if missing:
        raise ValueError(f"--domain-field {r.domain_field!r}: row {missing[0]} has no domain "
                         f"({len(missing)} row(s) without one)")
    return domains


def select_in_memory(r, embedder, *, batch_rows=None) -> dict:
    """Run a :class:`~diversa.data.select.pipeline.SelectionRequest` on the whole table in memory."""
    from diversa.data.select import cluster_embeddings
    from diversa.data.select.dedup import near_duplicate_mask
    from diversa.datasets.files import read_table

    table = read_table(r.data, argument="DATA")
    n_input = len(table)
    n_dup = 0
    if r.dedup is not None:
        keep = near_duplicate_mask(check_texts(table, r), r.dedup, seed=r.seed)
        n_dup = int((~keep).sum())
        table = table.loc[keep].reset_index(drop=True).__finalize__(table)
    n = len(table)
    b = parse_budget(r.budget, n)
    if not (r.embedding_field or r.embeddings):
        check_texts(table, r)
    quality = quality_matrix(table, r.quality_fields) if r.quality_fields else None
    domains = _domains(table, r)
    if r.clusters is not None and r.clusters > n:
        raise InputError(f"--clusters {r.clusters} exceeds the {n} rows of the input")
    names = provenance_names(r.provenance)
    clash = [v for v in names.values() if v in table.columns]
    if clash:
        raise InputError(f"the provenance column {clash[0]!r} is already a column of the input: rename it with "
                         "--provenance-columns")
    with progress_bar(r.progress) as progress:
        task = progress.add_task("embedding", total=n)
        X = embeddings(table, r, embedder, lambda done: progress.update(task, completed=done),
                       batch_rows or r.batch_rows)
        progress.add_task(f"selecting ({r.method})", total=1)
        selector = selector_for(r, 0 if quality is None else quality.shape[1])
        q_arg = None if quality is None else (quality if r.method == "odis" else quality[:, 0])
        d_arg = None if domains is None else domains.astype(str).to_numpy()
        idx = np.asarray(selector.fit_select(X, b, quality=q_arg, domains=d_arg))
    labels = getattr(selector, "labels_", None)
    if labels is None:
        k = min(r.clusters or max(2, round(b / 10)), n)
        labels, _ = cluster_embeddings(X, k, n_init=1, random_state=r.seed)
    report, files = build_report(r, idx, n_rows=n, labels=labels,
                                 quality=None if quality is None else quality[:, 0],
                                 domains=None if domains is None else domains.to_numpy(),
                                 steps={"dedup": n_dup, "selection": n - b} if r.dedup is not None else None)
    report["engine"] = "local"
    rows = idx if r.order == "rank" else np.sort(idx)
    selected = table.iloc[rows].reset_index(drop=True)
    rank = np.empty(n, dtype=np.int64)
    rank[idx] = np.arange(len(idx))
    extra = {"cluster": labels[rows], "quality": None if quality is None else quality[rows, 0],
             "selection_rank": rank[rows]}
    for key, name in names.items():
        if extra[key] is not None:
            selected[name] = extra[key]
    selected.attrs.update(table.attrs)
    write_selection(selected, table.attrs["format"], files, r)
    report["n_input_rows"] = n_input
    return report


def difficulty(table, r):
    """The difficulty scores (n,) of ``score_field`` or computed from ``checkpoints``, and their source."""
    from diversa.datasets.files import numbers

    if r.score_field:
        scores = numbers(column(table, r.score_field, "--score-field"), what=f"--score-field {r.score_field!r}")
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            raise ValueError(f"--score-field {r.score_field!r}: row {bad[0] + 1} is {scores[bad[0]]}, not a finite "
                             f"number ({bad.size} such row(s))")
        return scores, f"column {r.score_field!r}"
    from diversa.data.score import scores_from_outputs

    labels = numbers(column(table, r.label_field, "--label-field"), what=f"--label-field {r.label_field!r}")
    if not (np.isfinite(labels).all() and np.all(labels == np.round(labels)) and labels.min() >= 0):
        raise ValueError(f"--label-field {r.label_field!r} must hold class indices 0, 1, 2, ... in every row")
    try:
        scores = scores_from_outputs(r.checkpoints, labels.astype(np.int64), r.method,
                                     normalize=None if r.normalize == "none" else r.normalize)
    except ValueError as err:
        raise ValueError(f"--checkpoints {r.checkpoints!r}: {err}") from None
    return scores, f"checkpoints {r.checkpoints!r}"


def prune_by_score(r) -> dict:
    """``el2n``/``vog``/``forgetting``: keep the budget after pruning one end of the difficulty ranking."""
    from diversa.data.score import rank_by_score
    from diversa.data.select.pipeline import histogram_png
    from diversa.datasets.files import read_table

    table = read_table(r.data, argument="DATA")
    n = len(table)
    b = parse_budget(r.budget, n)
    scores, source = difficulty(table, r)
    if scores.size != n:
        raise ValueError(f"{source} gives {scores.size} scores but DATA has {n} rows")
    order = rank_by_score(scores, random_state=r.seed)  # easiest first
    idx = np.sort(order[n - b:] if r.prune == "easy" else order[:b])
    selected = table.iloc[idx].reset_index(drop=True)
    where = "standard input" if r.data == "-" else str(r.data)
    report = {"input": where, "method": r.method, "scores": source, "pruned_end": r.prune,
              "n_rows": n, "n_selected": int(b), "seed": r.seed,
              "score": {"pool_mean": float(scores.mean()), "selected_mean": float(scores[idx].mean()),
                        "selected_min": float(scores[idx].min()), "selected_max": float(scores[idx].max())}}
    lines = [f"# diversa select: {r.method}", "",
             f"{b} of {n} rows kept from `{where}` after pruning the {r.prune} end of the {r.method} ranking "
             f"(scores from {source}; low = easy).", "",
             f"Score: pool mean {scores.mean():.4f}, kept mean {scores[idx].mean():.4f}, kept range "
             f"[{scores[idx].min():.4f}, {scores[idx].max():.4f}].", "", "![scores before/after](score_hist.png)", ""]
    files = {"report.json": json.dumps(report, indent=2), "report.md": "\n".join(lines),
             "score_hist.png": histogram_png(scores, idx, f"{r.method} score")}
    write_selection(selected, table.attrs["format"], files, r)
    return report


def write_selection(selected, input_format: str, files: dict, r) -> None:
    """Write the selected rows and the report files together (all or nothing); ``-`` is standard output."""
    from diversa.datasets.files import StagedWrites, encode_table, table_format, write_stdout

    fmt = input_format if r.out == "-" else table_format(r.out, argument="--out")
    data = encode_table(selected, fmt, where=f"--out {r.out!r}")
    writes = StagedWrites()
    if r.out != "-":
        writes.add(r.out, data, argument="--out")
    folder = report_folder(r)
    if folder is not None:
        for name, content in files.items():
            writes.add(folder / name, content, argument="--report")
    writes.commit()
    if r.out == "-":
        write_stdout(data)
