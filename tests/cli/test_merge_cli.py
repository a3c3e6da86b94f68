"""``diversa merge``: a YAML config on locally written checkpoints, and one-line errors."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from diversa import cli
from diversa.combine.merge import ties_merging


def test_merge_is_a_registered_command():
    assert "merge" in cli.COMMANDS


def _write_models(tmp_path):
    g = torch.Generator().manual_seed(0)
    base = {"a.weight": torch.randn(5, 3, generator=g), "b.bias": torch.randn(5, generator=g)}
    models = [{k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in base.items()} for _ in range(2)]
    for name, sd in [("base", base), ("m1", models[0]), ("m2", models[1])]:
        (tmp_path / name).mkdir()
        save_file(sd, tmp_path / name / "model.safetensors")
    (tmp_path / "base" / "config.json").write_text(json.dumps({"model_type": "toy"}))
    return base, models


CONFIG = """\
merge_method: ties
base_model: base
models:
  - model: base
  - model: m1
    parameters: {weight: 1.0, density: 0.5}
  - model: m2
    parameters: {weight: 0.5, density: 0.5}
parameters: {normalize: true}
dtype: float32
"""


def test_merge_yaml_relative_to_config(tmp_path, capsys):
    base, models = _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(CONFIG)
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 0
    assert "merged 2 model(s) with ties" in capsys.readouterr().out
    out = load_file(tmp_path / "out" / "model.safetensors")
    expected = ties_merging(base, models, density=0.5, weights=[1.0, 0.5], convention="mergekit")
    for k in expected:
        torch.testing.assert_close(out[k], expected[k])
    assert json.loads((tmp_path / "out" / "config.json").read_text())["torch_dtype"] == "float32"


@pytest.mark.parametrize("method,parameters,n_models", [
    ("arcee_fusion", "{}", 1),
    ("ram", "{epsilon: 0.01}", 2),
    ("ramplus_tl", "{r: 0.5, alpha: 1.0}", 2),
])
def test_merge_yaml_with_fusion_and_ram(tmp_path, capsys, method, parameters, n_models):
    import diversa.combine.merge as dm

    base, models = _write_models(tmp_path)
    models = models[:n_models]
    lines = [f"merge_method: {method}", "base_model: base", "models:"]
    lines += [f"  - model: m{i + 1}" for i in range(n_models)]
    lines += [f"parameters: {parameters}", "dtype: float32", ""]
    (tmp_path / "merge.yaml").write_text("\n".join(lines))
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 0
    assert f"with {method}" in capsys.readouterr().out
    out = load_file(tmp_path / "out" / "model.safetensors")
    expected = {"arcee_fusion": lambda: dm.arcee_fusion(base, models),
                "ram": lambda: dm.ram_merging(base, models, epsilon=0.01),
                "ramplus_tl": lambda: dm.ramplus_tl_merging(base, models, r=0.5, alpha=1.0)}[method]()
    for k in expected:
        torch.testing.assert_close(out[k], expected[k])


@pytest.mark.parametrize("text,needle", [
    (CONFIG.replace("ties", "frankenmerge"), "unknown merge_method 'frankenmerge'"),
    (CONFIG.replace("normalize", "normalise"), "unknown parameter 'normalise'"),
    (CONFIG.replace("density: 0.5}\n  - model: m2", "density: 5}\n  - model: m2"), "density"),
])
def test_config_errors_are_one_line(tmp_path, capsys, text, needle):
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(text)
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_bad_shard_size(tmp_path, capsys):
    assert cli.main(["merge", "x.yaml", str(tmp_path / "o"), "--max-shard-size", "huge"]) == 2
    assert "--max-shard-size" in capsys.readouterr().err


@pytest.mark.slow
def test_merged_llama_loads_in_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    torch.manual_seed(0)
    sds = []
    for name in ("base", "m1", "m2"):
        model = transformers.LlamaForCausalLM(config)
        model.save_pretrained(tmp_path / name)
        sds.append(load_file(tmp_path / name / "model.safetensors"))
    (tmp_path / "merge.yaml").write_text(CONFIG.replace("dtype: float32", "dtype: bfloat16"))
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet",
                     "--max-shard-size", "4KB"]) == 0
    assert (tmp_path / "out" / "model.safetensors.index.json").is_file()
    merged = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "out")
    expected = ties_merging(sds[0], sds[1:], density=0.5, weights=[1.0, 0.5], convention="mergekit")
    state = merged.state_dict()
    for k, v in expected.items():
        if k in state:
            torch.testing.assert_close(state[k].float(), v.to(torch.bfloat16).float())
    logits = merged(torch.tensor([[1, 2, 3]])).logits
    assert logits.shape == (1, 3, 64) and torch.isfinite(logits).all()


def test_dare_without_seed_uses_a_fixed_reported_seed(tmp_path, capsys):
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(CONFIG.replace("ties", "dare_ties"))
    for out in ("a", "b"):
        assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / out), "--quiet"]) == 0
        assert "random masks drawn with seed 0" in capsys.readouterr().out
    a, b = (load_file(tmp_path / out / "model.safetensors") for out in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "c"), "--quiet", "--seed", "5"]) == 0
    assert "seed 5" in capsys.readouterr().out
    assert not torch.equal(load_file(tmp_path / "c" / "model.safetensors")["a.weight"], a["a.weight"])
    (tmp_path / "seeded.yaml").write_text(CONFIG.replace("ties", "dare_ties").replace(
        "normalize: true", "normalize: true, random_state: 3"))
    assert cli.main(["merge", str(tmp_path / "seeded.yaml"), str(tmp_path / "d"), "--seed", "5"]) == 2
    assert "contradicts random_state: 3" in capsys.readouterr().err


def test_nan_model_is_refused_unless_allowed(tmp_path, capsys):
    base, models = _write_models(tmp_path)
    models[1]["b.bias"][2] = float("nan")
    save_file(models[1], tmp_path / "m2" / "model.safetensors")
    (tmp_path / "merge.yaml").write_text(CONFIG)
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "holds NaN or infinite values" in err and "--allow-nan" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet", "--allow-nan"]) == 0
    assert "tensor b.bias holds NaN" in capsys.readouterr().err


@pytest.mark.parametrize("out", ["m1", "m1/merged", "."])
def test_overwrite_never_targets_an_input(tmp_path, capsys, out):
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(CONFIG)
    before = (tmp_path / "m1" / "model.safetensors").read_bytes()
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / out), "--overwrite"]) == 1
    assert "input model" in capsys.readouterr().err
    assert (tmp_path / "m1" / "model.safetensors").read_bytes() == before


def test_max_memory_option(tmp_path, capsys):
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(CONFIG)
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "o"), "--max-memory", "lots"]) == 2
    assert "--max-memory: cannot read 'lots'" in capsys.readouterr().err
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "o"), "--max-memory", "1MB"]) == 1
    assert "is below the" in capsys.readouterr().err  # the interpreter alone uses more
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "o"), "--quiet",
                     "--max-memory", "64GB"]) == 0


@pytest.mark.parametrize("text,needle", [
    (CONFIG.replace("normalize: true", "normalize: \"yes\""), "parameters.normalize must be true or false"),
    (CONFIG.replace("weight: 0.5", "weight: true"), "models[2].parameters.weight must be a number, got True"),
    (CONFIG.replace("dtype: float32", "dtype: [a]"), "dtype must be one of"),
    (CONFIG.replace("ties", "dare_ties").replace("density: 0.5}\n  - model: m2", "density: -0.5}\n  - model: m2"),
     "models[1].parameters.density must lie in (0, 1], got -0.5"),
])
def test_wrongly_typed_fields_are_one_line(tmp_path, capsys, text, needle):
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(text)
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_help_lists_every_merge_method(capsys):
    from diversa.cli.merge import METHODS
    from diversa.combine.merge.config import METHODS as ENGINE_METHODS

    assert set(METHODS) == set(ENGINE_METHODS)
    with pytest.raises(SystemExit):
        cli.main(["merge", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in ENGINE_METHODS)


def test_merged_folder_gets_the_umask_permissions(tmp_path, capsys):
    import os
    import stat

    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(CONFIG)
    previous = os.umask(0o022)
    try:
        assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
