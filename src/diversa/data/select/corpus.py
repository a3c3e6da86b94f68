"""The streaming path of :func:`diversa.data.select.pipeline.select_file` (kmq, random, top-quality).

Only per-row arrays (quality, keep mask, cluster) and the near-duplicate band
hashes are held; embeddings live one batch at a time. :class:`AssignStage` is
the per-batch step (embed, then nearest centroid), a plain function of a
``pyarrow`` batch, so the same object runs here and as a Ray Data
``map_batches`` stage (:func:`assign_with_ray`).
"""

from __future__ import annotations

import numpy as np

from diversa.data.select.pipeline import (
    FIT_SAMPLE_ROWS,
    InputError,
    build_report,
    check_vectors,
    parse_budget,
    progress_bar,
    provenance_names,
    report_folder,
    seeded_sample,
)
#: Outputs up to this size are written together with the report (all or nothing).
STAGED_BYTES = 256 << 20

from diversa.data.select.streaming import (
    TableWriter,
    column_names,
    copy_selected_rows,
    corpus_format,
    iter_batches,
)


def _vectors_of(column, where) -> np.ndarray:
    import json

    values = column.to_pylist()
    rows = [json.loads(v) if isinstance(v, str) else v for v in values]
    try:
        return check_vectors(np.array(rows, dtype=np.float32), where)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where} must hold equal-length, non-empty numeric vectors ({err})") from None


class AssignStage:
    """Embed a batch and label each row with its nearest centroid: ``{"cluster": int64 (m,)}``.

    ``encode`` maps texts to vectors (a fitted embedder's ``transform``; None when
    the vectors are in ``embedding_field``). The object is picklable, so it is
    also a Ray Data stage: ``ds.map_batches(stage, batch_format="pyarrow")``.
    A batch whose vectors have another dimension than the centroids is refused.
    """

    def __init__(self, centers, *, encode=None, text_field="text", embedding_field=None, backend="auto"):
        self.centers = np.asarray(centers, dtype=np.float32)
        self.encode = encode
        self.text_field = text_field
        self.embedding_field = embedding_field
        self.backend = backend

    def vectors(self, batch) -> np.ndarray:
        if self.embedding_field:
            return _vectors_of(batch.column(self.embedding_field), f"--embedding-field {self.embedding_field!r}")
        texts = batch.column(self.text_field).to_pylist()
        return self.encode(texts)

    def __call__(self, batch) -> dict:
        from diversa.data.select.clustering import nearest_centroid

        X = check_vectors(self.vectors(batch), "a batch of embeddings", expected_dim=self.centers.shape[1])
        labels, _ = nearest_centroid(X, self.centers, backend=self.backend)
        return {"cluster": labels}


def _check_columns(r, columns) -> None:
    needed = [(f, "--quality-field") for f in r.quality_fields]
    if r.domain_field:
        needed.append((r.domain_field, "--domain-field"))
    if r.method == "kmq" and r.embedding_field:
        needed.append((r.embedding_field, "--embedding-field"))
    if _reads_text(r):
        needed.append((r.text_field, "--text-field"))
    for name, option in needed:
        if name not in columns:
            raise InputError(f"{option} {name!r} is not a column of the input (columns: {', '.join(columns[:12])})")
    names = provenance_names(r.provenance)
    clash = [v for v in names.values() if v in columns]
    if clash:
        raise InputError(f"the provenance column {clash[0]!r} is already a column of the input: rename it with "
                         f"--provenance-columns")


def _reads_text(r) -> bool:
    return r.dedup is not None or not (r.embedding_field or r.embeddings)


def _texts(column, field, offset=0) -> list:
    values = column.to_pylist()
    for row, value in enumerate(values, start=offset + 1):
        if not isinstance(value, str):
            raise ValueError(f"--text-field {field!r} must hold text in every row; row {row} holds "
                             f"{'nothing' if value is None else 'a value of type ' + type(value).__name__}")
    return values


def _batch_quality(column, name, offset) -> np.ndarray:
    import pyarrow as pa

    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type)
    if not (numeric or pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise ValueError(f"--quality-field {name!r} must hold numbers in every row, not {column.type} values")
    try:  # CSV cells arrive as text: "0.5" is a number, "NA" or "" is not
        q = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"--quality-field {name!r} must hold numbers in every row") from None
    bad = np.flatnonzero(~np.isfinite(q))
    if bad.size:
        raise ValueError(f"--quality-field {name!r}: row {offset + bad[0] + 1} is {q[bad[0]]}, not a finite number")
    return q


def first_pass(r, progress):
    """Rows, qualities (n,) or None, domains as (labels, codes (n,)) or None, keep mask (n,) and the number of
    near-duplicates."""
    from diversa.data.select.dedup import MinHashDeduplicator

    columns = list(dict.fromkeys(r.quality_fields[:1] + ([r.domain_field] if r.domain_field else [])
                                 + ([r.embedding_field] if r.embedding_field else [])
                                 + ([r.text_field] if _reads_text(r) else [])))
    dedup = MinHashDeduplicator(r.dedup, seed=r.seed) if r.dedup is not None else None
    quality, domains, keep, dims, names, n = [], [], [], [], {}, 0
    task = progress.add_task("reading" + (" and deduplicating" if dedup else ""), total=None)
    for batch in iter_batches(r.data, columns or None, r.batch_rows):
        m = batch.num_rows
        if r.quality_fields:
            q = _batch_quality(batch.column(r.quality_fields[0]), r.quality_fields[0], n)
            quality.append(q)
        if r.domain_field:
            values = batch.column(r.domain_field).to_pylist()
            if any(v is None for v in values):
                row = n + values.index(None) + 1
                raise ValueError(f"--domain-field {r.domain_field!r}: row {row} has no domain")
            # int32 codes, not the labels themselves: 4 bytes a row
            domains.append(np.fromiter((names.setdefault(v, len(names)) for v in values), np.int32, len(values)))
        if r.embedding_field:  # every batch: numeric vectors of one dimension
            dim = _vectors_of(batch.column(r.embedding_field), f"--embedding-field {r.embedding_field!r}").shape[1]
            if dims and dim != dims[0]:
                raise ValueError(f"--embedding-field {r.embedding_field!r}: the batch from row {n + 1} holds vectors "
                                 f"of dimension {dim}, earlier rows {dims[0]}")
            dims.append(dim)
        texts = _texts(batch.column(r.text_field), r.text_field, n) if _reads_text(r) else None
        keep.append(dedup.add(texts) if dedup else np.ones(m, bool))
        n += m
        progress.update(task, completed=n)
    if n == 0:
        raise ValueError(f"DATA {r.data!r} is empty (no rows)")
    keep = np.concatenate(keep)
    q = np.concatenate(quality) if quality else None
    d = (np.array([str(v) for v in names], dtype=object), np.concatenate(domains)) if domains else None
    return n, q, d, keep, int((~keep).sum())


def _embeddings_memmap(r, n):
    try:
        X = np.load(r.embeddings, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise ValueError(f"--embeddings {r.embeddings!r} is not a readable .npy file ({err})") from None
    if X.ndim != 2 or X.shape[0] != n:
        raise InputError(f"--embeddings {r.embeddings!r} has shape {X.shape}; expected ({n}, d), one row per input row")
    return X


def fit_centroids(r, ids, k, embedder, progress):
    """Fit the embedder and k-means on a seeded sample of the kept rows ``ids``; the centroids and encoder."""
    from diversa.data.embed import text_encoder
    from diversa.data.select import KMQSelector

    size = max(FIT_SAMPLE_ROWS, 256 * k)
    sample = ids[seeded_sample(len(ids), size, r.seed)]
    task = progress.add_task("fitting on a sample", total=None)
    if r.embeddings:
        X = np.asarray(_embeddings_memmap(r, r.n_rows_)[sample], dtype=np.float32)
        encode = None
    else:
        field = r.embedding_field or r.text_field
        wanted = np.zeros(r.n_rows_, dtype=bool)
        wanted[sample] = True
        got, start = [], 0
        for batch in iter_batches(r.data, [field], r.batch_rows):
            mask = wanted[start:start + batch.num_rows]
            if mask.any():
                got.append(batch.filter(mask).column(field))
            start += batch.num_rows
        if r.embedding_field:
            X = np.vstack([_vectors_of(c, f"--embedding-field {field!r}") for c in got])
            encode = None
        else:
            texts = [t for c in got for t in _texts(c, field)]
            encode = text_encoder(embedder, texts, seed=r.seed)
            X = encode(texts)
    X = check_vectors(X, "the sampled embeddings")
    # "auto": every sampled row through scikit-learn's k-means up to 200,000 rows, so a table no larger
    # than the sample gets exactly the in-memory KMQSelector's centroids
    selector = KMQSelector(k, random_state=r.seed)
    selector.fit(X, quality=np.zeros(len(X)))  # the centroids only: the draws use every row's quality later
    progress.update(task, completed=1)
    return selector, encode


def assign_local(r, stage, progress) -> np.ndarray:
    """Cluster of every row (n,), batch by batch."""
    task = progress.add_task("embedding and assigning", total=r.n_rows_)
    labels, done = [], 0
    if r.embeddings:
        X = _embeddings_memmap(r, r.n_rows_)
        for start in range(0, r.n_rows_, r.batch_rows):
            labels.append(_assign_vectors(stage, X[start:start + r.batch_rows]))
            progress.update(task, completed=min(start + r.batch_rows, r.n_rows_))
        return np.concatenate(labels)
    columns = [r.embedding_field] if r.embedding_field else [r.text_field]
    for batch in iter_batches(r.data, columns, r.batch_rows):
        labels.append(stage(batch)["cluster"])
        done += batch.num_rows
        progress.update(task, completed=done)
    return np.concatenate(labels)


def _assign_vectors(stage, X):
    from diversa.data.select.clustering import nearest_centroid

    X = check_vectors(X, "--embeddings", expected_dim=stage.centers.shape[1])
    return nearest_centroid(X, stage.centers, backend=stage.backend)[0]


def assign_with_ray(r, stage) -> np.ndarray:
    """Cluster of every row (n,) by a Ray Data ``map_batches`` of ``stage``, in input order."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError("--engine ray needs Ray Data: pip install 'diversa[ray]'") from None
    if r.embeddings:
        raise InputError("--engine ray reads embeddings from a column (--embedding-field), not --embeddings")
    fmt = corpus_format(r.data)
    columns = [r.embedding_field] if r.embedding_field else [r.text_field]
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    if fmt == "parquet":
        ds = ray.data.read_parquet(str(r.data), columns=columns)
    elif fmt == "csv":
        ds = ray.data.read_csv(str(r.data))
    else:
        ds = ray.data.read_json(str(r.data))
    ds = ds.select_columns(columns).map_batches(stage, batch_size=r.batch_rows, batch_format="pyarrow")
    return np.concatenate([np.asarray(b["cluster"], dtype=np.int64)
                           for b in ds.iter_batches(batch_format="numpy", batch_size=None)])


def select_ids(r, ids, b, *, quality, labels, selector):
    """Selected row ids (in selection order) among the kept ``ids``."""
    if r.method == "random":
        return ids[np.random.RandomState(r.seed).choice(len(ids), size=b, replace=False)]
    if r.method == "top-quality":
        return ids[np.argsort(-quality[ids], kind="stable")[:b]]
    return ids[selector.select_assigned(labels[ids], b, quality=quality[ids])]


def write_selected(r, chosen, *, labels, quality, folder, report_files, progress) -> None:
    """Stream the table once more, writing the rows ``chosen`` (selection order) with provenance columns."""
    import pyarrow as pa

    from diversa.datasets.files import StagedWrites

    n = r.n_rows_
    rank = np.full(n, -1, dtype=np.int64)
    rank[chosen] = np.arange(len(chosen))
    names = provenance_names(r.provenance)
    fmt = corpus_format(r.out)
    writer = TableWriter(r.out, fmt)
    held = []
    task = progress.add_task("writing the selection", total=n)
    # Same text format in and out, no added column: copy the rows as read, not as pyarrow would spell them.
    verbatim = not names and fmt in ("jsonl", "csv") and corpus_format(r.data) == fmt
    try:
        start = 0
        if verbatim:
            copy_selected_rows(r.data, fmt, rank, writer.temp, r.order)
        for batch in ([] if verbatim else iter_batches(r.data, None, r.batch_rows)):
            m = batch.num_rows
            pos = np.flatnonzero(rank[start:start + m] >= 0)
            if pos.size:
                rows = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
                rows = rows.take(pa.array(pos))
                ids = start + pos
                extra = {"cluster": labels[ids] if labels is not None else None,
                         "quality": quality[ids] if quality is not None else None,
                         "selection_rank": rank[ids]}
                for key, name in names.items():
                    if extra[key] is not None:
                        rows = rows.append_column(name, pa.array(extra[key]))
                if r.order == "rank":
                    held.append((rank[ids], rows))
                else:
                    writer.write(rows)
            start += m
            progress.update(task, completed=start)
        if held:
            table = pa.concat_tables([t for _, t in held], promote_options="default")
            order = np.argsort(np.concatenate([k for k, _ in held]))
            writer.write(table.take(pa.array(order)))
        writes = StagedWrites()
        if folder is not None:
            for name, content in report_files.items():
                writes.add(folder / name, content, argument="--report")
        writer.close()
        if writer.temp.stat().st_size <= STAGED_BYTES:  # small: committed together with the report
            writes.add(r.out, writer.temp.read_bytes(), argument="--out")
            writer.discard()
            writes.commit()
        else:
            writes.commit()
            writer.commit()
    except BaseException:
        writer.discard()
        raise


def select_streaming(r, embedder) -> dict:
    """Run a :class:`~diversa.data.select.pipeline.SelectionRequest` batch by batch (see the module notes)."""
    columns = column_names(r.data)
    if not columns:
        raise ValueError(f"DATA {r.data!r} is empty.")
    _check_columns(r, columns)
    folder = report_folder(r)
    with progress_bar(r.progress) as progress:
        n, quality, domains, keep, n_dup = first_pass(r, progress)
        r.n_rows_ = n
        ids = np.flatnonzero(keep)
        b = parse_budget(r.budget, len(ids))
        if r.clusters is not None and r.clusters > len(ids):
            raise InputError(f"--clusters {r.clusters} exceeds the {len(ids)} rows of the input")
        labels = selector = None
        if r.method == "kmq":
            k = r.clusters if r.clusters is not None else max(2, round(b / 10))
            if k > len(ids):
                raise InputError(f"--clusters {k} exceeds the {len(ids)} rows of the input")
            if r.embeddings:
                _embeddings_memmap(r, n)
            selector, encode = fit_centroids(r, ids, k, embedder, progress)
            stage = AssignStage(selector.cluster_centers_, encode=encode, text_field=r.text_field,
                                embedding_field=r.embedding_field)
            labels = assign_with_ray(r, stage) if r.engine == "ray" else assign_local(r, stage, progress)
        chosen = select_ids(r, ids, b, quality=quality, labels=labels, selector=selector)
        kept_pos = np.searchsorted(ids, chosen)
        report, files = build_report(
            r, kept_pos, n_rows=len(ids), labels=None if labels is None else labels[ids],
            quality=None if quality is None else quality[ids],
            domains=None if domains is None else domains[0][domains[1][ids]],
            steps={"dedup": n_dup, "selection": len(ids) - b})
        report["engine"] = r.engine
        write_selected(r, chosen, labels=labels, quality=quality, folder=folder, report_files=files,
                       progress=progress)
    return report
