"""``diversa merge`` recipes: --random-seed, dtype vs out_dtype, the model card, and one-line errors for slices."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from diversa import cli


def _write_models(tmp_path, layers=3):
    """A base and two fine-tuned 3-layer stacks (``model.layers.i.w``) with an embedding and a head."""
    g = torch.Generator().manual_seed(0)
    base = {f"model.layers.{i}.w": torch.randn(16, 8, generator=g) for i in range(layers)}
    base |= {"model.embed_tokens.weight": torch.randn(10, 8, generator=g), "lm_head.weight": torch.randn(10, 8,
                                                                                                         generator=g)}
    for name in ("base", "m1", "m2"):
        sd = base if name == "base" else {k: v + 0.1 * torch.randn(v.shape, generator=g) for k, v in base.items()}
        (tmp_path / name).mkdir()
        save_file(sd, tmp_path / name / "model.safetensors")
        (tmp_path / name / "config.json").write_text(json.dumps({"model_type": "toy", "num_hidden_layers": layers}))


DELLA = """\
merge_method: {method}
base_model: base
models:
  - model: m1
    parameters: {{weight: 1.0, density: 0.5}}
  - model: m2
    parameters: {{weight: 0.5, density: 0.5}}
dtype: float32
"""


@pytest.mark.parametrize("method", ["dare_ties", "della", "dare_linear"])
def test_random_seed_reproduces_and_changes_the_masks(tmp_path, capsys, method):
    """Same --random-seed, same bytes; another seed, another merge (fails if masks ignore the seed)."""
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(DELLA.format(method=method))
    outs = {}
    for out, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / out), "--quiet",
                         "--random-seed", seed]) == 0
        outs[out] = load_file(tmp_path / out / "model.safetensors")
    assert "seed 8" in capsys.readouterr().out
    assert all(torch.equal(outs["a"][k], outs["b"][k]) for k in outs["a"])
    assert not torch.equal(outs["a"]["model.layers.0.w"], outs["c"]["model.layers.0.w"])


def test_a_layer_repeated_in_two_slices_draws_other_masks(tmp_path):
    """The random masks are seeded by the output tensor name, so a duplicated layer is not masked twice alike."""
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text("""\
merge_method: dare_linear
base_model: base
slices:
  - sources: [{model: base, layer_range: [0, 1]}, {model: m1, layer_range: [0, 1], parameters: {density: 0.5}}]
  - sources: [{model: base, layer_range: [0, 1]}, {model: m1, layer_range: [0, 1], parameters: {density: 0.5}}]
""")
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 0
    out = load_file(tmp_path / "out" / "model.safetensors")
    assert set(out) == {"model.layers.0.w", "model.layers.1.w", "model.embed_tokens.weight", "lm_head.weight"}
    assert not torch.equal(out["model.layers.0.w"], out["model.layers.1.w"])
    assert json.loads((tmp_path / "out" / "config.json").read_text())["num_hidden_layers"] == 2


def test_dtype_is_the_compute_dtype_and_out_dtype_the_stored_one(tmp_path):
    """dtype: bfloat16 rounds the inputs first; out_dtype: float32 stores the result in float32."""
    _write_models(tmp_path)
    text = "merge_method: linear\nmodels: [m1, m2]\n"
    (tmp_path / "half.yaml").write_text(text + "dtype: bfloat16\nout_dtype: float32\n")
    (tmp_path / "full.yaml").write_text(text + "dtype: float32\n")
    (tmp_path / "store.yaml").write_text(text + "dtype: bfloat16\n")
    for name in ("half", "full", "store"):
        assert cli.main(["merge", str(tmp_path / f"{name}.yaml"), str(tmp_path / name), "--quiet"]) == 0
    half, full, store = (load_file(tmp_path / n / "model.safetensors") for n in ("half", "full", "store"))
    m1, m2 = (load_file(tmp_path / n / "model.safetensors") for n in ("m1", "m2"))
    key = "model.layers.1.w"
    assert half[key].dtype == torch.float32 and store[key].dtype == torch.bfloat16
    # float32 arithmetic on the rounded inputs, the result in the compute dtype (as mergekit), then stored as float32
    expected = ((m1[key].to(torch.bfloat16).float() + m2[key].to(torch.bfloat16).float()) / 2).to(torch.bfloat16)
    torch.testing.assert_close(half[key], expected.float(), atol=0, rtol=0)
    assert not torch.equal(half[key], full[key])  # the bfloat16 rounding of the inputs shows
    assert json.loads((tmp_path / "half" / "config.json").read_text())["torch_dtype"] == "float32"


def test_the_output_holds_a_model_card_with_the_recipe(tmp_path):
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(DELLA.format(method="della"))
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 0
    card = (tmp_path / "out" / "README.md").read_text()
    assert "**della**" in card and "Base model: `base`" in card and '- `m1` (weight: 1.0, density: 0.5)' in card
    assert "```yaml\n" + DELLA.format(method="della").rstrip() + "\n```" in card


SLICES = """\
merge_method: passthrough
slices:
  - sources: [{model: m1, layer_range: [0, 2]}]
  - sources: [{model: m2, layer_range: [1, 3]}]
"""


@pytest.mark.parametrize("text,needle", [
    (SLICES.replace("[1, 3]", "[1, 5]"), "slices[1].sources[0].layer_range [1, 5] exceeds the 3 layers"),
    (SLICES.replace("[1, 3]", "[2, 1]"), "slices[1].sources[0].layer_range [2, 1] must satisfy"),
    (SLICES.replace("{model: m2, layer_range: [1, 3]}", "{model: m2, layer_range: [1, 3]}, {model: m1, "
                                                        "layer_range: [0, 1]}"),
     "slices[1].sources: every layer_range of a slice must span as many layers"),
    (SLICES + "models: [m1]\n", "give exactly one of models and slices"),
    (SLICES.replace("passthrough", "slerp") + "base_model: base\nparameters: {t: 0.5}\n",
     "slices[0]: base_model 'base' is not among the slice's sources"),
    (SLICES.replace("passthrough", "slerp").replace("[{model: m1, layer_range: [0, 2]}]",
                                                    "[{model: m1, layer_range: [0, 2]}, {model: m2, layer_range: "
                                                    "[0, 2], parameters: {t: 0.5}}]") + "base_model: m1\n",
     "unknown per-model parameter 't'"),
])
def test_bad_slices_fail_in_one_line_and_write_nothing(tmp_path, capsys, text, needle):
    _write_models(tmp_path)
    (tmp_path / "merge.yaml").write_text(text)
    assert cli.main(["merge", str(tmp_path / "merge.yaml"), str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
