"""``permute:`` in a merge config: checkpoints aligned by weight matching before merging, end to end."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from diversa import cli
from diversa.combine.merge import weight_average
from diversa.combine.merge.config import parse_config
from diversa.combine.merge.engine import merge_checkpoints
from diversa.combine.permute import apply_permutation, checkpoint_spec, weight_matching


def _mlp(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10), torch.nn.ReLU(),
                               torch.nn.Linear(10, 3))


def _save(folder: Path, state) -> Path:
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, folder / "model.safetensors")
    return folder


def _config(paths, weights=(0.5, 0.5), permute=True):
    return {"merge_method": "linear", "permute": permute,
            "models": [{"model": str(p), "parameters": {"weight": w}} for p, w in zip(paths, weights)]}


@pytest.fixture
def two_mlps(tmp_path):
    a, b = _mlp(1), _mlp(2)
    return tmp_path, a, b, [_save(tmp_path / "a", a.state_dict()), _save(tmp_path / "b", b.state_dict())]


def test_linear_merge_averages_the_first_model_with_the_aligned_second(two_mlps):
    tmp_path, a, b, paths = two_mlps
    merge_checkpoints(parse_config(_config(paths)), tmp_path / "out")
    out = load_file(tmp_path / "out" / "model.safetensors")
    sa, sb = a.state_dict(), b.state_dict()
    spec = checkpoint_spec({k: v.shape for k, v in sa.items()})
    aligned = apply_permutation(spec, weight_matching(spec, sa, sb), sb)
    expected = weight_average([sa, aligned])
    naive = weight_average([sa, sb])
    for k in expected:
        torch.testing.assert_close(out[k], expected[k])
    assert not torch.allclose(out["0.weight"], naive["0.weight"])


def test_the_aligned_model_keeps_its_function(two_mlps):
    """Weight 0 on the anchor: the merge is the aligned second model, which must compute what it did."""
    tmp_path, a, b, paths = two_mlps
    result = merge_checkpoints(parse_config(_config(paths, weights=(0.0, 1.0))), tmp_path / "out")
    assert result.aligned == (str(paths[1]),)
    out = load_file(tmp_path / "out" / "model.safetensors")
    assert not torch.equal(out["2.weight"], b.state_dict()["2.weight"])
    aligned = _mlp(0)
    aligned.load_state_dict(out)
    x = torch.randn(16, 6)
    with torch.no_grad():
        torch.testing.assert_close(aligned(x), b(x), atol=1e-5, rtol=0)


def test_without_permute_the_merge_is_naive(two_mlps):
    tmp_path, a, b, paths = two_mlps
    result = merge_checkpoints(parse_config(_config(paths, permute=False)), tmp_path / "out")
    assert result.aligned == ()
    out = load_file(tmp_path / "out" / "model.safetensors")
    torch.testing.assert_close(out["0.weight"], (a[0].weight + b[0].weight).detach() / 2)


def test_an_unknown_architecture_is_refused_and_nothing_is_written(tmp_path):
    conv = {"conv.weight": torch.randn(4, 3, 3, 3), "fc.weight": torch.randn(2, 4)}
    paths = [_save(tmp_path / n, {k: v + i for k, v in conv.items()}) for i, n in enumerate(("a", "b"))]
    with pytest.raises(ValueError, match="'conv.weight' with shape \\[4, 3, 3, 3\\] is not the weight"):
        merge_checkpoints(parse_config(_config(paths)), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_models_of_different_shapes_are_refused_and_nothing_is_written(tmp_path):
    wide = torch.nn.Sequential(torch.nn.Linear(6, 13), torch.nn.ReLU(), torch.nn.Linear(13, 10), torch.nn.ReLU(),
                               torch.nn.Linear(10, 3))
    paths = [_save(tmp_path / "a", _mlp(1).state_dict()), _save(tmp_path / "b", wide.state_dict())]
    with pytest.raises(ValueError, match=r"tensor .0\.(weight|bias). has shape \[13.*\] in model .*b. but"):
        merge_checkpoints(parse_config(_config(paths)), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.parametrize("value", ["yes", 1, "gpt2", [True]])
def test_permute_values_are_checked(two_mlps, value):
    _, _, _, paths = two_mlps
    with pytest.raises(ValueError, match="permute must be true, false, 'mlp' or 'llama'"):
        parse_config(_config(paths, permute=value))


def test_cli_merges_two_llama_decoders_keeping_the_aligned_ones_function(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16)
    models = []
    for seed, name in ((1, "a"), (2, "b")):
        torch.manual_seed(seed)
        model = transformers.LlamaForCausalLM(config).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        model.save_pretrained(tmp_path / name)
        models.append(model)
    (tmp_path / "merge.yaml").write_text(
        "merge_method: linear\npermute: llama\nmodels:\n  - model: a\n    parameters: {weight: 0.0}\n"
        "  - model: b\n    parameters: {weight: 1.0}\n")
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 0
    assert "aligned to the anchor by weight matching" in capsys.readouterr().out
    merged = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "out").eval()
    state_b = models[1].state_dict()
    moved = [k for k, v in merged.state_dict().items() if not torch.equal(v, state_b[k])]
    assert "model.layers.0.self_attn.q_proj.weight" in moved and "model.layers.1.mlp.down_proj.weight" in moved
    ids = torch.randint(0, 32, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, models[1](ids).logits, atol=1e-5, rtol=0)
    assert json.loads((tmp_path / "out" / "config.json").read_text())["num_key_value_heads"] == 2


def test_cli_refusal_is_one_line(tmp_path, capsys):
    conv = {"conv.weight": torch.randn(4, 3, 3, 3), "fc.weight": torch.randn(2, 4)}
    for i, n in enumerate(("a", "b")):
        _save(tmp_path / n, {k: v + i for k, v in conv.items()})
    (tmp_path / "merge.yaml").write_text("merge_method: linear\npermute: true\nmodels: [a, b]\n")
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "not a plain stack of linear layers" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_with_a_base_model_every_model_is_aligned_to_the_base(tmp_path):
    """A shuffled copy of the base has, once aligned, no task vector: Task Arithmetic returns the base."""
    base = _mlp(1)
    spec = checkpoint_spec({k: v.shape for k, v in base.state_dict().items()})
    g = torch.Generator().manual_seed(0)
    shuffle = {name: torch.randperm(n, generator=g) for name, n in spec.sizes.items()}
    paths = [_save(tmp_path / "base", base.state_dict()),
             _save(tmp_path / "m", apply_permutation(spec, shuffle, base.state_dict()))]
    config = {"merge_method": "task_arithmetic", "base_model": str(paths[0]), "permute": "mlp",
              "models": [{"model": str(paths[1]), "parameters": {"weight": 1.0}}]}
    merge_checkpoints(parse_config(config), tmp_path / "out")
    out = load_file(tmp_path / "out" / "model.safetensors")
    for k, v in base.state_dict().items():
        torch.testing.assert_close(out[k], v)
    merge_checkpoints(parse_config({**config, "permute": False}), tmp_path / "naive")
    assert not torch.allclose(load_file(tmp_path / "naive" / "model.safetensors")["0.weight"], base[0].weight)
