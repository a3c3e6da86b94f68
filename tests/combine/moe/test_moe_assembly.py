"""Mixtral MoE assembly from tiny dense Llama fine-tunes written locally (no download)."""

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tiny_llamas import VOCAB, fine_tune_mlps, read_json, write_family, write_llama

from diversa import cli
from diversa.combine.moe import read_experts
from diversa.combine.moe.assemble import assemble_moe, write_moe
from diversa.combine.moe.assembly_config import load_moe_config, parse_moe_config
from diversa.combine.moe.router_init import random_router, unit_rows

transformers = pytest.importorskip("transformers")

PROMPTS = {"math": (["solve the equation", "add two numbers"], []),
           "code": (["def main", "return print x"], ["hello how are you"]),
           "chat": (["hello how are you today"], [])}
INPUT_IDS = torch.tensor([[VOCAB[w] for w in "<s> solve the equation def main hello".split()]])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llamas")
    family = write_family(folder)
    family["wide"] = write_llama(folder / "wide", seed=5, intermediate_size=48)
    family["mistral"] = write_llama(folder / "mistral", fine_tune_mlps(family["base"], 9), model_type="mistral")
    return folder, family


def moe_config(folder, gate_mode="random", experts_per_token=2, names=("math", "code", "chat"), **extra):
    experts = []
    for name in names:
        positive, negative = PROMPTS.get(name, (["write a poem"], []))
        expert = {"source_model": str(folder / name), "positive_prompts": positive}
        if negative:
            expert["negative_prompts"] = negative
        experts.append(expert)
    return {"base_model": str(folder / "base"), "gate_mode": gate_mode, "experts_per_token": experts_per_token,
            "experts": experts, **extra}


def logits(model, ids=INPUT_IDS):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_output_loads_in_transformers_as_mixtral_and_runs(models, tmp_path, one_thread):
    folder, _ = models
    result = write_moe(moe_config(folder), tmp_path / "moe")
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "moe")
    assert type(model).__name__ == "MixtralForCausalLM"
    assert (model.config.num_local_experts, model.config.num_experts_per_tok) == (3, 2)
    out = logits(model)
    assert out.shape == (1, INPUT_IDS.shape[1], len(VOCAB)) and torch.isfinite(out).all()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "moe")
    assert tokenizer("solve the equation", add_special_tokens=False)["input_ids"] == INPUT_IDS[0, 1:4].tolist()
    assert (result.n_experts, result.n_layers, result.seed, result.shards) == (3, 2, 0, ("model.safetensors",))
    assert not list(tmp_path.glob(".moe*"))  # no temporary folder left


@pytest.mark.parametrize("expert", [0, 1, 2])
def test_routing_every_token_to_one_expert_reproduces_that_dense_model(models, tmp_path, expert, one_thread):
    # Fails if gate_proj/up_proj are swapped in gate_up_proj, down_proj is misplaced, experts are
    # out of order, or a non-MLP tensor comes from another model than the base.
    folder, _ = models
    write_moe(moe_config(folder, experts_per_token=1), tmp_path / "moe")
    moe = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "moe")
    for layer in moe.model.layers:
        layer.mlp.gate.register_forward_hook(lambda module, args, out: (
            out[0], torch.ones_like(out[1]), torch.full_like(out[2], expert)))
    dense = transformers.AutoModelForCausalLM.from_pretrained(folder / ("math", "code", "chat")[expert])
    torch.testing.assert_close(logits(moe), logits(dense), rtol=1e-5, atol=1e-5)
    other = transformers.AutoModelForCausalLM.from_pretrained(folder / ("math", "code", "chat")[expert - 1])
    assert (logits(moe) - logits(other)).abs().max() > 1e-2  # the experts really differ


def test_the_expert_merging_tools_read_each_expert_as_its_dense_mlp(models, tmp_path, one_thread):
    # The assembled layers are what diversa's MC-SMoE / Sub-MoE compressors read next.
    folder, _ = models
    write_moe(moe_config(folder), tmp_path / "moe")
    moe = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "moe")
    x = torch.randn(5, 32)
    for e, name in enumerate(("math", "code", "chat")):
        dense = transformers.AutoModelForCausalLM.from_pretrained(folder / name)
        for layer in range(2):
            with torch.no_grad():
                expected = dense.model.layers[layer].mlp(x)
            torch.testing.assert_close(read_experts(moe.model.layers[layer].mlp).expert_forward(e, x), expected)


def test_expert_tensors_are_the_dense_mlps(models):
    folder, family = models
    sd = assemble_moe(moe_config(folder)).state_dict
    for e, name in enumerate(("math", "code", "chat")):
        for layer in range(2):
            mlp = {p: family[name][f"model.layers.{layer}.mlp.{p}.weight"]
                   for p in ("gate_proj", "up_proj", "down_proj")}
            prefix = f"model.layers.{layer}.mlp.experts"
            assert torch.equal(sd[f"{prefix}.gate_up_proj"][e], torch.cat([mlp["gate_proj"], mlp["up_proj"]]))
            assert torch.equal(sd[f"{prefix}.down_proj"][e], mlp["down_proj"])
    assert torch.equal(sd["model.embed_tokens.weight"], family["base"]["model.embed_tokens.weight"])
    assert not [k for k in sd if k.endswith(("gate_proj.weight", "up_proj.weight", "down_proj.weight"))]


def test_hidden_router_at_layer_zero_is_the_last_prompt_tokens_embedding(models):
    # The hidden state entering layer 0 is the token embedding: row e = unit(mean last-token
    # embedding of the positives - that of the negatives). Fails for mean-over-tokens or a wrong sign.
    folder, family = models
    sd = assemble_moe(moe_config(folder, gate_mode="hidden")).state_dict
    embed = family["base"]["model.embed_tokens.weight"]

    def mean_last(prompts):
        return torch.stack([embed[VOCAB[p.split()[-1]]] for p in prompts]).mean(0)

    for e, name in enumerate(("math", "code", "chat")):
        positive, negative = PROMPTS[name]
        row = mean_last(positive) - (mean_last(negative) if negative else 0)
        torch.testing.assert_close(sd["model.layers.0.mlp.gate.weight"][e], unit_rows(row))
    layer1 = sd["model.layers.1.mlp.gate.weight"]
    torch.testing.assert_close(layer1.norm(dim=1), torch.ones(3))
    assert not torch.allclose(layer1, sd["model.layers.0.mlp.gate.weight"], atol=1e-3)


def test_cheap_embed_router_is_the_prompt_embedding_sum_at_every_layer(models):
    folder, family = models
    sd = assemble_moe(moe_config(folder, gate_mode="cheap_embed")).state_dict
    embed = family["base"]["model.embed_tokens.weight"]

    def direction(prompts):  # BOS, then every word of every prompt
        return unit_rows(sum(embed[VOCAB["<s>"]] + sum(embed[VOCAB[w]] for w in p.split()) for p in prompts))

    for e, name in enumerate(("math", "code", "chat")):
        positive, negative = PROMPTS[name]
        row = direction(positive) - direction(negative) if negative else direction(positive)
        for layer in range(2):
            torch.testing.assert_close(sd[f"model.layers.{layer}.mlp.gate.weight"][e], unit_rows(row))


def test_random_router_is_seeded(models):
    folder, _ = models
    first = assemble_moe(moe_config(folder), seed=3).state_dict["model.layers.1.mlp.gate.weight"]
    again = assemble_moe(moe_config(folder), seed=3).state_dict["model.layers.1.mlp.gate.weight"]
    other = assemble_moe(moe_config(folder), seed=4).state_dict["model.layers.1.mlp.gate.weight"]
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(first, random_router(2, 3, 32, seed=3)[1])


def test_dtype_shards_and_the_written_file_match_the_in_memory_assembly(models, tmp_path, one_thread):
    folder, _ = models
    config = moe_config(folder, gate_mode="cheap_embed", dtype="bfloat16")
    result = write_moe(config, tmp_path / "moe", max_shard_size="40KB")
    assert len(result.shards) > 1 and (tmp_path / "moe" / "model.safetensors.index.json").is_file()
    written = {}
    for shard in result.shards:
        written.update(load_file(tmp_path / "moe" / shard))
    expected = assemble_moe(config).state_dict
    assert written.keys() == expected.keys()
    assert all(v.dtype == torch.bfloat16 and torch.equal(v, expected[k]) for k, v in written.items())
    assert read_json(tmp_path / "moe" / "config.json")["dtype"] == "bfloat16"
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "moe")
    assert torch.isfinite(logits(model)).all()


def test_cli_builds_the_moe_from_a_yaml_file_with_paths_relative_to_it(models, tmp_path, capsys):
    folder, _ = models
    config = moe_config(folder, gate_mode="cheap_embed")
    config["base_model"] = "base"  # relative to the config file's folder
    (folder / "moe_cli.yml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    assert cli.main(["moe", str(folder / "moe_cli.yml"), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "3 experts x 2 layers, top-2, routers from gate_mode cheap_embed" in printed
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    assert load_moe_config(folder / "moe_cli.yml").base_model == folder / "base"


@pytest.mark.parametrize("change,needle", [
    (lambda c, f: c["experts"].append({"source_model": str(f / "wide"), "positive_prompts": ["write a poem"]}),
     "experts[3].source_model has intermediate_size 48, base_model has 64"),
    (lambda c, f: c["experts"][1].update(source_model=str(f / "mistral")),
     "experts[1].source_model is a 'mistral' model and base_model a 'llama' model"),
    (lambda c, f: c.update(gate_mode="learned"), "gate_mode must be one of hidden, cheap_embed, random"),
    (lambda c, f: c.update(experts_per_token=4), "experts_per_token (4) exceeds the number of experts (3)"),
    (lambda c, f: c.update(experts_per_token=0), "experts_per_token must be a positive integer"),
    (lambda c, f: c.update(gate_mode="hidden") or c["experts"][2].pop("positive_prompts"),
     "experts[2].positive_prompts is required"),
    (lambda c, f: c["experts"][0].update(noise_scale=0.1), "experts[0].noise_scale"),
    (lambda c, f: c.update(top_k=2), "unknown key top_k"),
    (lambda c, f: c.update(dtype="float8"), "dtype must be one of"),
    (lambda c, f: c["experts"][0].update(source_model=str(f / "absent")), "experts[0].source_model"),
    (lambda c, f: c["experts"][0].update(positive_prompts="solve"), "experts[0].positive_prompts must be a list"),
])
def test_bad_input_is_one_error_naming_the_key_and_writes_nothing(models, tmp_path, change, needle, capsys):
    folder, _ = models
    config = moe_config(folder)
    change(config, folder)
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(config))
    with pytest.raises((ValueError, FileNotFoundError)) as info:
        write_moe(parse_moe_config(config), tmp_path / "out")
    assert needle in str(info.value)
    assert cli.main(["moe", str(tmp_path / "bad.yml"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yml"]


def test_a_base_with_tied_embeddings_gives_a_tied_mixtral(models, tmp_path, one_thread):
    folder, family = models
    tied = write_llama(tmp_path / "tied", seed=3, tie_word_embeddings=True)
    assert "lm_head.weight" not in load_file(tmp_path / "tied" / "model.safetensors")
    config = moe_config(folder)
    config["base_model"] = str(tmp_path / "tied")
    write_moe(config, tmp_path / "moe")
    assert "lm_head.weight" not in load_file(tmp_path / "moe" / "model.safetensors")
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "moe")
    assert model.config.tie_word_embeddings
    assert torch.equal(model.lm_head.weight, tied["model.embed_tokens.weight"])


def test_output_folder_that_is_an_input_or_not_empty_is_refused(models, tmp_path):
    folder, _ = models
    with pytest.raises(ValueError, match="input model"):
        write_moe(moe_config(folder), folder / "math" / "moe")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("keep")
    with pytest.raises(ValueError, match="not empty"):
        write_moe(moe_config(folder), tmp_path / "out")
    write_moe(moe_config(folder), tmp_path / "out", overwrite=True)
    assert not (tmp_path / "out" / "keep.txt").exists() and (tmp_path / "out" / "model.safetensors").is_file()
