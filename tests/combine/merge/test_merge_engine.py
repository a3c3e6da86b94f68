"""The streaming engine: equality with the pure functions, sharding, atomic output, clear errors."""

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from diversa.combine.merge import dare_merging, ties_merging, weight_average
from diversa.combine.merge.config import parse_config
from diversa.combine.merge.engine import Checkpoint, merge_checkpoints, parse_size, write_safetensors


def _sd(seed, dtype=torch.float32, base=None):
    g = torch.Generator().manual_seed(seed)
    sd = {"embed.weight": torch.randn(10, 4, generator=g), "layers.0.w": torch.randn(4, 4, generator=g),
          "layers.0.b": torch.randn(4, generator=g), "layers.1.w": torch.randn(4, 4, generator=g),
          "norm.weight": torch.randn(4, generator=g)}
    if base is not None:
        sd = {k: base[k].float() + 0.1 * v for k, v in sd.items()}
    sd = {k: v.to(dtype) for k, v in sd.items()}
    sd["pos_ids"] = torch.arange(6, dtype=torch.int64)
    return sd


def _save(folder: Path, sd, shards: int = 1, extra_files=True):
    folder.mkdir(parents=True)
    if shards == 1:
        save_file(sd, folder / "model.safetensors", metadata={"format": "pt"})
    else:
        keys = sorted(sd)
        weight_map = {}
        for i in range(shards):
            name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            part = {k: sd[k] for k in keys[i::shards]}
            save_file(part, folder / name, metadata={"format": "pt"})
            weight_map.update({k: name for k in part})
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    if extra_files:
        (folder / "config.json").write_text(json.dumps({"model_type": "toy", "torch_dtype": "float32"}))
        (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.fixture
def zoo(tmp_path):
    base = _sd(0)
    fts = [_sd(s, base=base) for s in (1, 2, 3)]
    paths = {"base": _save(tmp_path / "base", base),
             "m1": _save(tmp_path / "m1", fts[0], extra_files=False),
             "m2": _save(tmp_path / "m2", fts[1], shards=2, extra_files=False),
             "m3": _save(tmp_path / "m3", fts[2], extra_files=False)}
    return tmp_path, base, fts, paths


def _config(paths, method="ties", per_model=None, params=None, dtype=None, base=True):
    models = [{"model": str(paths[m]), "parameters": dict(per_model or {})} for m in ("m1", "m2", "m3")]
    data = {"merge_method": method, "models": models, "parameters": dict(params or {})}
    if base:
        data["base_model"] = str(paths["base"])
        data["models"] = [{"model": str(paths["base"])}] + data["models"]  # mergekit lists the base too
    if dtype:
        data["dtype"] = dtype
    return parse_config(data)


def _digest(folder: Path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _leftovers(tmp_path: Path):
    return [p.name for p in tmp_path.iterdir() if ".merging-" in p.name or ".old-" in p.name]


def test_ties_equals_pure_function_and_copies_files(zoo):
    tmp_path, base, fts, paths = zoo
    before = {k: _digest(p) for k, p in paths.items()}
    cfg = _config(paths, per_model={"weight": 0.7, "density": 0.5}, params={"lambda": 1.2})
    result = merge_checkpoints(cfg, tmp_path / "out")
    out = load_file(tmp_path / "out" / "model.safetensors")
    expected = ties_merging(base, fts, density=0.5, scaling=1.2, weights=[0.7] * 3, convention="mergekit")
    assert out.keys() == expected.keys()
    for k in out:
        torch.testing.assert_close(out[k], expected[k], atol=1e-6, rtol=1e-6)
    assert result.n_models == 3 and result.n_merged == 5 and result.n_tensors == 6
    assert sorted(result.copied_files) == ["config.json", "tokenizer.json"]
    assert {k: _digest(p) for k, p in paths.items()} == before
    assert _leftovers(tmp_path) == []


def test_sharded_output_with_index_and_dtype(zoo):
    tmp_path, _, fts, paths = zoo
    cfg = _config(paths, method="linear", per_model={"weight": 1.0}, dtype="bfloat16", base=False)
    result = merge_checkpoints(cfg, tmp_path / "out", max_shard_size=200)
    assert len(result.shards) > 1
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(result.shards)
    merged = {}
    for shard in result.shards:
        merged.update(load_file(tmp_path / "out" / shard))
    assert index["metadata"]["total_size"] == sum(v.numel() * v.element_size() for v in merged.values())
    rounded = [{k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in ft.items()} for ft in fts]
    expected = weight_average(rounded)  # dtype is the compute dtype: inputs are rounded to it first
    for k in expected:
        assert merged[k].dtype == (torch.bfloat16 if expected[k].is_floating_point() else torch.int64)
        torch.testing.assert_close(merged[k].float(), expected[k].to(merged[k].dtype).float())
    reread = Checkpoint(tmp_path / "out")
    assert sorted(reread.keys) == sorted(expected)
    assert torch.equal(reread.read("pos_ids"), expected["pos_ids"])


def test_dare_with_random_state_is_reproducible_and_equals_pure(zoo):
    tmp_path, base, fts, paths = zoo
    cfg = _config(paths, method="dare_ties", per_model={"weight": 1.0, "density": 0.5},
                  params={"random_state": 3})
    merge_checkpoints(cfg, tmp_path / "out")
    out = load_file(tmp_path / "out" / "model.safetensors")
    expected = dare_merging(base, fts, drop_rate=0.5, combine="ties", rescale="l1", convention="mergekit",
                            normalize=False, random_state=3)
    for k in expected:
        torch.testing.assert_close(out[k], expected[k])


def test_failure_mid_merge_leaves_no_output(zoo, monkeypatch):
    tmp_path, _, _, paths = zoo
    calls = {"n": 0}
    original = Checkpoint.read

    def flaky(self, key, rows=None):
        calls["n"] += 1
        if calls["n"] > 6:
            raise OSError("disk went away")
        return original(self, key, rows)

    monkeypatch.setattr(Checkpoint, "read", flaky)
    with pytest.raises(OSError, match="disk went away"):
        merge_checkpoints(_config(paths), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


def test_existing_output_needs_overwrite(zoo):
    tmp_path, _, _, paths = zoo
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        merge_checkpoints(_config(paths), tmp_path / "out")
    merge_checkpoints(_config(paths), tmp_path / "out", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["README.md", "config.json", "model.safetensors",
                                                                   "tokenizer.json"]
    assert _leftovers(tmp_path) == []


def _broken(tmp_path, paths, mutate):
    sd = load_file(paths["m1"] / "model.safetensors")
    mutate(sd)
    (paths["m1"] / "model.safetensors").unlink()
    save_file(sd, paths["m1"] / "model.safetensors")


@pytest.mark.parametrize("mutate,match", [
    (lambda sd: sd.pop("layers.1.w"), "'layers.1.w' is missing"),
    (lambda sd: sd.__setitem__("layers.0.w", torch.zeros(4, 5)), "'layers.0.w' has shape"),
    (lambda sd: sd.__setitem__("pos_ids", torch.zeros(6)), "'pos_ids' has dtype"),
    (lambda sd: sd.__setitem__("extra", torch.zeros(1)), "'extra'"),
])
def test_input_errors_name_the_tensor_and_write_nothing(zoo, mutate, match):
    tmp_path, _, _, paths = zoo
    _broken(tmp_path, paths, mutate)
    with pytest.raises(ValueError, match=match):
        merge_checkpoints(_config(paths), tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_bad_parameter_value_fails_before_writing(zoo):
    tmp_path, _, _, paths = zoo
    with pytest.raises(ValueError, match="density"):
        merge_checkpoints(_config(paths, per_model={"density": 2.0}), tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_missing_model_path(tmp_path):
    cfg = parse_config({"merge_method": "linear", "models": [{"model": str(tmp_path / "nope")}]})
    with pytest.raises(FileNotFoundError, match="nope"):
        merge_checkpoints(cfg, tmp_path / "out")


def test_write_safetensors_roundtrip_and_parse_size(tmp_path):
    tensors = {"a": torch.randn(3, 2).to(torch.bfloat16), "b": torch.tensor(True), "c": torch.zeros(0)}
    write_safetensors(tmp_path / "x.safetensors", tensors)
    back = load_file(tmp_path / "x.safetensors")
    assert all(torch.equal(back[k], v) for k, v in tensors.items())
    assert parse_size("5GB") == 5 * 10**9 and parse_size("2MiB") == 2 * 2**20 and parse_size(100) == 100
    with pytest.raises(ValueError, match="max_shard_size"):
        parse_size("lots")


def test_pcb_streams_with_per_tensor_scope(zoo):
    from diversa.combine.merge import pcb_merging

    tmp_path, base, fts, paths = zoo
    cfg = _config(paths, method="pcb", params={"pcb_ratio": 0.3, "lambda": 1.1})
    merge_checkpoints(cfg, tmp_path / "out")
    out = load_file(tmp_path / "out" / "model.safetensors")
    expected = pcb_merging(base, fts, pcb_ratio=0.3, scaling=1.1, scope="tensor")
    for k in expected:
        torch.testing.assert_close(out[k], expected[k])


def _write_raw(path: Path, header, data: bytes = b"") -> None:
    import struct

    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize("header,data,needle", [
    ([1, 2], b"", "JSON list"),
    ({"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "tensor 'w': no 'data_offsets'"),
    ({"w": "hello"}, b"", "tensor 'w': its entry is 'hello'"),
    ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8,
     "tensor 'w': 8 bytes of data for shape [3] of F32 (12 expected)"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8,
     "tensor 'w': data_offsets [8, 0] are reversed"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8, "tensor 'w': its data ends at byte 16"),
    ({"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, "tensor 'w': unsupported dtype 'Q4'"),
])
def test_malformed_safetensors_is_one_error_naming_file_and_tensor(zoo, header, data, needle):
    tmp_path, _, _, paths = zoo
    bad = paths["m1"] / "model.safetensors"
    _write_raw(bad, header, data)
    with pytest.raises(ValueError) as info:
        merge_checkpoints(_config(paths), tmp_path / "out")
    assert str(bad) in str(info.value) and needle in str(info.value)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_truncated_file_is_reported(zoo):
    tmp_path, _, _, paths = zoo
    path = paths["m3"] / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError, match="m3.*not a valid safetensors file"):
        merge_checkpoints(_config(paths), tmp_path / "out")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nonfinite_input_is_refused_unless_allowed(zoo, value):
    tmp_path, _, _, paths = zoo
    sd = load_file(paths["m3"] / "model.safetensors")
    sd["layers.1.w"][2, 1] = value
    save_file(sd, paths["m3"] / "model.safetensors")
    with pytest.raises(ValueError, match=r"m3'.*tensor 'layers.1.w' holds NaN or infinite values.*allow-nan"):
        merge_checkpoints(_config(paths, method="linear", base=False), tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []
    result = merge_checkpoints(_config(paths, method="linear", base=False), tmp_path / "out", allow_nan=True)
    assert result.nonfinite == ((str(paths["m3"]), "layers.1.w"),)


@pytest.mark.parametrize("where", ["m1", "m1/sub", "."])
def test_output_that_is_holds_or_lies_inside_an_input_is_refused(zoo, where):
    tmp_path, _, _, paths = zoo
    before = {k: _digest(p) for k, p in paths.items()}
    out = tmp_path / where
    with pytest.raises(ValueError, match="input model"):
        merge_checkpoints(_config(paths), out, overwrite=True)
    assert {k: _digest(p) for k, p in paths.items()} == before


def test_differing_integer_tensors_are_refused(zoo):
    tmp_path, _, _, paths = zoo
    sd = load_file(paths["m1"] / "model.safetensors")
    sd["pos_ids"] = sd["pos_ids"] + 1
    save_file(sd, paths["m1"] / "model.safetensors")
    with pytest.raises(ValueError, match="'pos_ids' is int64 .*differs between the inputs"):
        merge_checkpoints(_config(paths, method="task_arithmetic"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_dare_without_random_state_uses_the_seed(zoo):
    tmp_path, base, fts, paths = zoo
    cfg = _config(paths, method="dare_linear", per_model={"weight": 1.0, "density": 0.5})
    first = merge_checkpoints(cfg, tmp_path / "a")
    second = merge_checkpoints(cfg, tmp_path / "b")
    other = merge_checkpoints(cfg, tmp_path / "c", seed=1)
    assert first.seed == 0 and other.seed == 1
    a, b, c = (load_file(tmp_path / d / "model.safetensors") for d in "abc")
    expected = dare_merging(base, fts, drop_rate=0.5, rescale="l1", convention="mergekit", normalize=False,
                            random_state=0)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["embed.weight"], c["embed.weight"])
    torch.testing.assert_close(a["embed.weight"], expected["embed.weight"])
    assert merge_checkpoints(_config(paths, method="ties"), tmp_path / "d").seed is None


@pytest.fixture
def no_process_memory(monkeypatch):
    """Budgets count only the merge's own tensors (the test process's memory would dwarf them)."""
    import diversa.combine.merge.engine as engine

    monkeypatch.setattr(engine, "_process_rss", lambda: 0)


@pytest.mark.parametrize("method,per_model,params", [
    ("ties", {"weight": 0.7, "density": 0.3}, {"lambda": 1.2}),
    ("dare_ties", {"weight": 1.0, "density": 0.5}, {"random_state": 2}),
    ("dare_linear", {"weight": 0.5, "density": 0.7}, {"rescale": False}),
    ("magnitude_prune", {"weight": 0.5, "density": 0.4}, {}),
    ("task_arithmetic", {"weight": 0.5}, {"lambda": 0.8}),
    ("linear", {"weight": 2.0}, {}),
    ("ram", {}, {"epsilon": 0.01}),
])
def test_a_memory_budget_merges_in_row_blocks_with_the_same_result(zoo, no_process_memory, method, per_model,
                                                                   params):
    tmp_path, _, _, paths = zoo
    # bfloat16 output, except for DARE whose L1 factor may differ in its last float32 bit
    cfg = _config(paths, method=method, per_model=per_model, params=params,
                  dtype=None if method.startswith("dare") else "bfloat16", base=method != "linear")
    whole = merge_checkpoints(cfg, tmp_path / "whole")
    # 10 x 4 embedding: 4 models x 4 bytes in + working set + 2 bytes out per entry; 1200 bytes leave 2-3 rows
    blocks = merge_checkpoints(cfg, tmp_path / "blocks", max_memory=1200)
    assert "embed.weight" in blocks.chunked and whole.chunked == ()
    a, b = load_file(tmp_path / "whole" / "model.safetensors"), load_file(tmp_path / "blocks" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-7 if method.startswith("dare") else 0,
                                   rtol=1e-6 if method.startswith("dare") else 0)


def test_a_budget_too_small_for_a_method_or_a_row_is_refused_before_writing(zoo, no_process_memory):
    tmp_path, _, _, paths = zoo
    with pytest.raises(ValueError, match="'embed.weight' needs about .* 'pcb', which cannot merge it in row blocks"):
        merge_checkpoints(_config(paths, method="pcb"), tmp_path / "out", max_memory=1000)
    with pytest.raises(ValueError, match="one row of 4 entries"):
        merge_checkpoints(_config(paths), tmp_path / "out", max_memory=50)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []
