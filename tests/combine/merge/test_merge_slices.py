"""``slices:`` configs (frankenmerges, per-slice merges) against mergekit's run_merge on tiny Llama checkpoints."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from diversa.combine.merge.config import load_config, parse_config
from diversa.combine.merge.engine import merge_checkpoints
from diversa.combine.merge.slices import before_stack, renumber

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def llamas(tmp_path_factory):
    """Two unrelated 4-layer Llama checkpoints ``a`` and ``b``."""
    root = tmp_path_factory.mktemp("llamas")
    config = transformers.LlamaConfig(hidden_size=16, intermediate_size=24, num_hidden_layers=4,
                                      num_attention_heads=2, num_key_value_heads=2, vocab_size=32,
                                      max_position_embeddings=16, tie_word_embeddings=False)
    for seed, name in enumerate(("a", "b")):
        torch.manual_seed(seed)
        transformers.LlamaForCausalLM(config).save_pretrained(root / name)
    return root


def _run_both(root, tmp_path, text):
    """Merge ``text`` with mergekit and with diversa; both outputs' tensors and config.json."""
    merge = pytest.importorskip("mergekit.merge")
    mk_config = pytest.importorskip("mergekit.config")
    mk_options = pytest.importorskip("mergekit.options")
    text = text.format(root=root)
    (tmp_path / "merge.yaml").write_text(text)
    merge.run_merge(mk_config.MergeConfiguration.model_validate(yaml.safe_load(text)), str(tmp_path / "mk"),
                    options=mk_options.MergeOptions(copy_tokenizer=False, lazy_unpickle=False))
    merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "dv")
    outputs = []
    for name in ("mk", "dv"):
        tensors = {}
        for shard in (tmp_path / name).glob("*.safetensors"):
            tensors.update(load_file(shard))
        outputs.append((tensors, json.loads((tmp_path / name / "config.json").read_text())))
    return outputs


def _assert_same(theirs, ours):
    assert set(ours) == set(theirs)
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], atol=1e-6, rtol=1e-6, msg=key)


FRANKEN = """
merge_method: passthrough
slices:
  - sources: [{{model: {root}/a, layer_range: [0, 3]}}]
  - sources: [{{model: {root}/b, layer_range: [1, 4]}}]
  - sources: [{{model: {root}/a, layer_range: [2, 4]}}]
dtype: float32
"""


def test_frankenmerge_stacks_layers_like_mergekit_and_loads(llamas, tmp_path):
    """Fails if layers are not renumbered 0..7 in order, or config.json keeps 4 layers."""
    (theirs, their_cfg), (ours, our_cfg) = _run_both(llamas, tmp_path, FRANKEN)
    _assert_same(theirs, ours)
    b = load_file(llamas / "b" / "model.safetensors")
    torch.testing.assert_close(ours["model.layers.3.mlp.up_proj.weight"], b["model.layers.1.mlp.up_proj.weight"])
    assert our_cfg["num_hidden_layers"] == their_cfg["num_hidden_layers"] == 8
    ignored = {"transformers_version", "torch_dtype"}  # diversa also writes the older name of ``dtype``
    assert {k: v for k, v in our_cfg.items() if k not in ignored} == \
        {k: v for k, v in their_cfg.items() if k not in ignored}
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "dv")
    assert len(model.model.layers) == 8
    assert torch.isfinite(model(torch.tensor([[1, 2, 3]])).logits).all()
    card = (tmp_path / "dv" / "README.md").read_text()
    assert "passthrough" in card and "layers 1-3" in card and "layer_range: [1, 4]" in card


SLERP = """
merge_method: slerp
base_model: {root}/a
slices:
  - sources:
      - {{model: {root}/a, layer_range: [0, 2]}}
      - {{model: {root}/b, layer_range: [0, 2]}}
    parameters: {{t: [0.1, 0.9]}}
  - sources:
      - {{model: {root}/a, layer_range: [2, 4]}}
      - {{model: {root}/b, layer_range: [1, 3]}}
parameters:
  t: [{{filter: layers.3.mlp, value: 0.9}}, {{filter: self_attn, value: [0, 0.5, 1]}}, {{value: 0.3}}]
dtype: float32
"""


def test_slices_merging_several_sources_give_mergekits_result(llamas, tmp_path):
    """Per-slice parameters, gradients across each slice, filters on output names (``layers.3.`` is the second
    slice's second layer), embeddings from the first slice, head from the last."""
    (theirs, _), (ours, our_cfg) = _run_both(llamas, tmp_path, SLERP)
    _assert_same(theirs, ours)
    assert our_cfg["num_hidden_layers"] == 4


TIES = """
merge_method: ties
base_model: {root}/a
slices:
  - sources:
      - {{model: {root}/a, layer_range: [1, 4]}}
      - {{model: {root}/b, layer_range: [0, 3], parameters: {{weight: 0.7, density: 0.5}}}}
parameters: {{weight: 1.0, density: 0.8}}
dtype: float32
"""


def test_a_single_slice_with_a_task_vector_method_gives_mergekits_result(llamas, tmp_path):
    (theirs, _), (ours, our_cfg) = _run_both(llamas, tmp_path, TIES)
    _assert_same(theirs, ours)
    assert our_cfg["num_hidden_layers"] == 3


@pytest.mark.parametrize("change,needle", [
    ("[2, 4]}}]\ndtype", "slices[2].sources[0].layer_range [2, 9] exceeds the 4 layers"),
    ("[3, 3]}}]\ndtype", "slices[2].sources[0].layer_range [3, 3] must satisfy 0 <= first < stop"),
])
def test_bad_layer_ranges_name_the_key_and_write_nothing(llamas, tmp_path, change, needle):
    text = FRANKEN.replace("[2, 4]}}]\ndtype", change.replace("[2, 4]", "[2, 9]")).format(root=llamas)
    (tmp_path / "merge.yaml").write_text(text)
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "out")
    assert list(tmp_path.iterdir()) == [tmp_path / "merge.yaml"]


@pytest.mark.parametrize("data,needle", [
    ({"slices": [{"sources": [{"model": "a", "layer_range": [0, 2]}, {"model": "b", "layer_range": [0, 3]}]}]},
     r"slices\[0\]\.sources: every layer_range of a slice must span as many layers"),
    ({"slices": [{"sources": [{"model": "a", "layer_range": [0]}]}]}, r"slices\[0\]\.sources\[0\]\.layer_range"),
    ({"slices": [{"sources": [{"model": "a", "layer_range": [0, 2], "weight": 1}]}]},
     r"slices\[0\]\.sources\[0\] has unknown field"),
    ({"slices": [{"sources": [{"model": "a", "layer_range": [0, 2]}]}], "models": ["a"]},
     "exactly one of models and slices"),
    ({"slices": [{"sources": [{"model": "a", "layer_range": [0, 2]}, {"model": "b", "layer_range": [0, 2]}]}]},
     "passthrough takes one source per slice"),
    ({"slices": [{"sources": [{"model": "a", "layer_range": [0, 2], "parameters": {"density": 0.5}}]}]},
     r"unknown per-model parameter 'density'.*slices\[0\]\.sources\[0\]"),
])
def test_malformed_slices_name_the_key(data, needle):
    with pytest.raises(ValueError, match=needle):
        parse_config({"merge_method": "passthrough", **data})


def test_a_base_model_missing_from_a_slice_is_refused(llamas, tmp_path):
    text = TIES.replace("- {{model: {root}/a, layer_range: [1, 4]}}\n", "").format(root=llamas)
    text = text.replace("[0, 3]", "[0, 3]").replace("base_model: ", "base_model: ")
    (tmp_path / "merge.yaml").write_text(text)
    with pytest.raises(ValueError, match=r"slices\[0\]: base_model .* is not among the slice's sources"):
        merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_renumber_and_stack_position():
    assert renumber("model.layers.3.mlp.up_proj.weight", 4) == "model.layers.7.mlp.up_proj.weight"
    assert renumber("transformer.h.10.attn.c_attn.weight", -10) == "transformer.h.0.attn.c_attn.weight"
    assert renumber("model.norm.weight", 2) == "model.norm.weight"
    assert before_stack("model.embed_tokens.weight") and not before_stack("lm_head.weight")
