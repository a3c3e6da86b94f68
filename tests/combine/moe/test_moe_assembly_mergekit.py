"""``diversa moe`` against mergekit-moe on the same config and the same tiny Llama fine-tunes (CPU)."""

import pytest
import torch
from safetensors.torch import load_file
from tiny_llamas import VOCAB, read_json, write_family

from diversa.combine.moe.assemble import write_moe

pytest.importorskip("mergekit.moe")
transformers = pytest.importorskip("transformers")

EXPERTS = [("math", ["solve the equation", "add two numbers"], []),
           ("code", ["def main", "return print x"], ["hello how are you"]),
           ("chat", ["hello how are you today"], [])]
#: Config fields that decide the Mixtral forward pass.
FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
          "num_key_value_heads", "head_dim", "hidden_act", "rms_norm_eps", "rope_parameters", "tie_word_embeddings",
          "num_local_experts", "num_experts_per_tok", "sliding_window", "bos_token_id", "eos_token_id")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llamas")
    write_family(folder)
    return folder


def config(folder, gate_mode):
    return {"base_model": str(folder / "base"), "gate_mode": gate_mode, "experts_per_token": 2,
            "experts": [{"source_model": str(folder / name), "positive_prompts": pos,
                         **({"negative_prompts": neg} if neg else {})} for name, pos, neg in EXPERTS]}


def mergekit_moe(cfg, out, seed=0):
    from mergekit.merge import MergeOptions
    from mergekit.moe.config import MoEMergeConfig
    from mergekit.scripts.moe import build

    torch.manual_seed(seed)  # mergekit draws random routers from torch's global generator
    build(MoEMergeConfig.model_validate(cfg), str(out), MergeOptions(device="cpu"), device="cpu")


def tensors(path):
    return load_file(path / "model.safetensors")


@pytest.mark.parametrize("gate_mode,router_atol", [
    ("random", 0.0),
    ("cheap_embed", 1e-6),  # float32 sums in another order
    ("hidden", 1e-2),  # mergekit runs the base model in bfloat16, diversa in float32
])
def test_same_tensors_and_config_as_mergekit_moe(folder, tmp_path, gate_mode, router_atol, one_thread):
    cfg = config(folder, gate_mode)
    mergekit_moe(cfg, tmp_path / "mergekit", seed=7)
    write_moe(cfg, tmp_path / "diversa", seed=7)
    theirs, ours = tensors(tmp_path / "mergekit"), tensors(tmp_path / "diversa")
    assert ours.keys() == theirs.keys()
    for key, tensor in theirs.items():
        assert ours[key].dtype == tensor.dtype and ours[key].shape == tensor.shape, key
        atol = router_atol if key.endswith("mlp.gate.weight") else 0.0
        torch.testing.assert_close(ours[key], tensor, rtol=0, atol=atol, msg=key)
    their_cfg = read_json(tmp_path / "mergekit" / "config.json")
    our_cfg = read_json(tmp_path / "diversa" / "config.json")
    assert {f: our_cfg.get(f) for f in FIELDS} == {f: their_cfg.get(f) for f in FIELDS}
    assert our_cfg["model_type"] == their_cfg["model_type"] == "mixtral"


def test_the_two_checkpoints_compute_the_same_logits(folder, tmp_path, one_thread):
    cfg = config(folder, "random")
    mergekit_moe(cfg, tmp_path / "mergekit", seed=1)
    write_moe(cfg, tmp_path / "diversa", seed=1)
    ids = torch.tensor([[VOCAB[w] for w in "<s> add two numbers def main".split()]])
    with torch.no_grad():
        theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "mergekit")(input_ids=ids).logits
        ours = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "diversa")(input_ids=ids).logits
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)  # same tensors; kernels may round apart
