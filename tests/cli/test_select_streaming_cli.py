"""``diversa select`` at corpus scale: --dedup, provenance columns, --order, --embeddings, --engine ray errors."""

import json

import numpy as np
import pandas as pd
import pytest

from diversa.cli import select
from diversa.cli.errors import OneLineParser, UserError


def parse(argv):
    parser = OneLineParser(prog="diversa")
    select.add_parser(parser.add_subparsers(dest="command", parser_class=OneLineParser))
    return parser.parse_args(["select", *argv])


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("DIVERSA_EMBEDDER", "hash")
    from diversa.datasets.synthtext import make_multidomain_text, texts

    rows = texts(make_multidomain_text(150, seed=2))
    rows += rows[:30]  # 30 exact duplicates at the end
    q = np.random.default_rng(0).normal(size=len(rows))
    path = tmp_path / "c.jsonl"
    pd.DataFrame({"text": rows, "q": q, "row": np.arange(len(rows))}).to_json(path, orient="records", lines=True)
    return path


def test_dedup_then_kmq_with_renamed_provenance_in_rank_order(corpus, tmp_path, capsys):
    out = tmp_path / "sel.jsonl"
    assert select.run(parse([str(corpus), "--budget", "20", "--quality-field", "q", "--clusters", "4", "--dedup",
                             "0.8", "--provenance-columns", "cluster=c,selection_rank=r", "--order", "rank",
                             "--batch-rows", "40", "--out", str(out)])) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["r"] for r in rows] == list(range(20)) and all(0 <= r["c"] < 4 for r in rows)
    assert all(r["row"] < 150 for r in rows)  # the duplicates at the end were dropped, not selected
    report = json.loads((tmp_path / "sel_report" / "report.json").read_text())
    assert report["removed"]["dedup"] >= 30 and report["removed"]["selection"] == report["n_rows"] - 20
    assert "near-duplicates removed first" in capsys.readouterr().out


def test_embeddings_npy_of_the_wrong_length_is_one_error_and_writes_nothing(corpus, tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((7, 4), dtype=np.float32))
    out = tmp_path / "o.jsonl"
    with pytest.raises(UserError, match=r"--embeddings .* has shape \(7, 4\); expected \(180, d\)"):
        select.run(parse([str(corpus), "--budget", "5", "--quality-field", "q", "--clusters", "2",
                          "--embeddings", str(tmp_path / "e.npy"), "--out", str(out)]))
    assert not out.exists() and not (tmp_path / "o_report").exists()


def test_engine_ray_without_ray_is_one_line(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    monkeypatch.setitem(__import__("sys").modules, "ray.data", None)
    with pytest.raises(UserError, match=r"--engine ray needs Ray Data: pip install 'diversa\[ray\]'"):
        select.run(parse([str(corpus), "--budget", "5", "--method", "random", "--engine", "ray",
                          "--out", str(tmp_path / "o.jsonl")]))


def test_engine_ray_refuses_an_in_memory_method(corpus, tmp_path):
    pytest.importorskip("ray")
    with pytest.raises(UserError, match="--engine ray runs kmq, random and top-quality"):
        select.run(parse([str(corpus), "--budget", "5", "--method", "kcenter", "--engine", "ray",
                          "--out", str(tmp_path / "o.jsonl")]))
