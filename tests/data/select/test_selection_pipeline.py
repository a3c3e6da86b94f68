"""select_file: streaming kmq equals the in-memory selector, the Ray stage, provenance, bad input."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diversa.data.select import KMQSelector
from diversa.data.select.corpus import AssignStage
from diversa.data.select.pipeline import InputError, select_file


@pytest.fixture(autouse=True)
def _hash(monkeypatch):
    monkeypatch.setenv("DIVERSA_EMBEDDER", "hash")


@pytest.fixture
def corpus(tmp_path):
    from diversa.datasets.synthtext import make_multidomain_text, texts

    docs = make_multidomain_text(240, seed=1)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"text": texts(docs), "q": rng.normal(size=240), "row": np.arange(240)})
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):  # a Parquet folder of three files
        table.iloc[80 * i:80 * (i + 1)].to_parquet(folder / f"part-{i}.parquet", index=False)
    table.to_json(tmp_path / "c.jsonl", orient="records", lines=True)
    return tmp_path, table


def test_streaming_kmq_equals_the_in_memory_selector_and_adds_provenance(corpus):
    tmp, table = corpus
    rep = select_file(tmp / "parts", tmp / "sel.parquet", 24, quality_field="q", embedder="hash", clusters=4,
                      provenance=True, batch_rows=50, progress=False)
    out = pq.read_table(tmp / "sel.parquet").to_pandas()
    from diversa.data.embed import HashEmbedder

    X = HashEmbedder(random_state=0).fit(table.text).transform(table.text)
    expected = KMQSelector(4, random_state=0).fit_select(X, 24, quality=table.q.to_numpy())
    # fails if batching, the sample fit or the id bookkeeping changes the subset
    assert sorted(out.row) == sorted(expected.tolist())
    assert out.row.is_monotonic_increasing  # input order by default
    assert sorted(out.selection_rank) == list(range(24)) and out.cluster.between(0, 3).all()
    assert np.allclose(out.quality, table.q.to_numpy()[out.row])
    assert rep["n_selected"] == 24 and rep["removed"] == {"dedup": 0, "selection": 216}


def test_rank_order_and_renamed_provenance_in_jsonl(corpus):
    tmp, _ = corpus
    select_file(tmp / "c.jsonl", tmp / "top.jsonl", 5, method="top-quality", quality_field="q", order="rank",
                provenance={"selection_rank": "rank"}, progress=False)
    rows = [json.loads(line) for line in (tmp / "top.jsonl").read_text().splitlines()]
    assert [r["rank"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["q"] for r in rows] == sorted((r["q"] for r in rows), reverse=True)


def test_dedup_counts_are_reported(tmp_path):
    texts = ["alpha beta gamma delta epsilon zeta eta theta"] * 3 + [f"row {i} of a distinct text {i * 7}"
                                                                    for i in range(10)]
    pd.DataFrame({"text": texts}).to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    rep = select_file(tmp_path / "d.jsonl", tmp_path / "o.jsonl", 4, method="random", dedup=0.8, progress=False)
    assert rep["removed"] == {"dedup": 2, "selection": 7} and rep["n_rows"] == 11


def test_embeddings_from_a_npy_file(corpus):
    tmp, table = corpus
    X = np.random.default_rng(0).normal(size=(240, 8)).astype(np.float32)
    np.save(tmp / "emb.npy", X)
    select_file(tmp / "c.jsonl", tmp / "e.jsonl", 20, quality_field="q", embeddings=str(tmp / "emb.npy"),
                clusters=3, progress=False)
    got = pd.read_json(tmp / "e.jsonl", lines=True).row
    expected = KMQSelector(3, random_state=0).fit_select(X, 20, quality=table.q.to_numpy())
    assert sorted(got) == sorted(expected.tolist())


def test_the_stage_labels_a_pyarrow_batch_like_nearest_centroid():
    centers = np.eye(3, dtype=np.float32)
    batch = pa.table({"emb": [[0.9, 0.1, 0.0], [0.0, 0.2, 1.0], [0.1, 1.0, 0.0]]})
    assert AssignStage(centers, embedding_field="emb")(batch)["cluster"].tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="dimension 2, expected 3"):
        AssignStage(centers, embedding_field="emb")(pa.table({"emb": [[1.0, 0.0]]}))


@pytest.mark.parametrize("kwargs,match", [
    ({"text_field": "body"}, "--text-field 'body'"),
    ({"budget": 1000}, "out of range"),
    ({"quality_field": "nanq"}, "not a finite number"),
    ({"embedding_field": "emb"}, "dimension"),
])
def test_bad_input_raises_and_writes_nothing(tmp_path, kwargs, match):
    rows = [{"text": f"text {i}", "q": 1.0, "nanq": float("nan") if i == 7 else 1.0,
             "emb": [0.0, 1.0] if i < 60 else [0.0, 1.0, 2.0]} for i in range(100)]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    args = {"budget": 10, "quality_field": "q", "embedder": "hash", "batch_rows": 30, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        select_file(tmp_path / "in.jsonl", tmp_path / "out.jsonl", args.pop("budget"), **args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_an_existing_output_is_refused(corpus):
    tmp, _ = corpus
    (tmp / "exists.jsonl").write_text("x")
    with pytest.raises(InputError, match="exists"):
        select_file(tmp / "c.jsonl", tmp / "exists.jsonl", 5, method="random", progress=False)
    assert (tmp / "exists.jsonl").read_text() == "x"


@pytest.mark.slow
def test_ray_engine_selects_what_the_local_run_selects(corpus):
    ray = pytest.importorskip("ray")
    tmp, _ = corpus
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    try:
        for engine in ("local", "ray"):
            select_file(tmp / "parts", tmp / f"{engine}.parquet", 30, quality_field="q", clusters=5, engine=engine,
                        batch_rows=40, progress=False)
    finally:
        ray.shutdown()
    local, remote = (pq.read_table(tmp / f"{e}.parquet").to_pandas() for e in ("local", "ray"))
    assert local.row.tolist() == remote.row.tolist()
