"""Equivalence with PEFT's LoRA on a tiny LlamaForCausalLM, and PEFT adapter files both ways (spec 0.2)."""

import copy
import json

import pytest
import torch

from diversa.nn.lora import LoRALinear, apply_lora, load_adapter, lora_state_dict, read_adapter, save_adapter

peft = pytest.importorskip("peft")
llama = pytest.importorskip("transformers.models.llama.modeling_llama")

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

ATOL = 1e-6


def _base(hidden=16, layers=2, seed=0):
    torch.manual_seed(seed)
    config = llama.LlamaConfig(vocab_size=40, hidden_size=hidden, intermediate_size=2 * hidden,
                               num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                               max_position_embeddings=32)
    return llama.LlamaForCausalLM(config).eval()


def _ids(seed=3):
    return torch.randint(0, 40, (3, 9), generator=torch.Generator().manual_seed(seed))


def _logits(model, ids):
    with torch.no_grad():
        return model(ids).logits


def _randomize(model, seed=1, std=0.3):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(std * torch.randn(p.shape, generator=gen))


def _lora_layers(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


@pytest.mark.parametrize("use_rslora", [False, True])
def test_same_weights_give_peft_outputs(use_rslora):
    base = _base()
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"]
    theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=targets, use_rslora=use_rslora, rank_pattern={"down_proj": 2})).eval()
    _randomize(theirs)
    ours = apply_lora(copy.deepcopy(base), targets, r=4, alpha=8, use_rslora=use_rslora,
                      rank_pattern={"down_proj": 2}).eval()
    peft_params = dict(theirs.named_parameters())
    with torch.no_grad():
        for name, layer in _lora_layers(ours).items():
            for which in ("lora_A", "lora_B"):
                getattr(layer, which).weight.copy_(peft_params[f"base_model.model.{name}.{which}.default.weight"])
    ids = _ids()
    expected = _logits(theirs, ids)
    assert (expected - _logits(base, ids)).abs().max() > 1e-2, "the adapter must change the outputs"
    torch.testing.assert_close(_logits(ours, ids), expected, atol=ATOL, rtol=0)
    peft_modules = dict(theirs.named_modules())
    for name, layer in _lora_layers(ours).items():
        peft_layer = peft_modules[f"base_model.model.{name}"]
        assert layer.scaling == pytest.approx(peft_layer.scaling["default"])
        torch.testing.assert_close(layer.delta_weight(), peft_layer.get_delta_weight("default"), atol=ATOL, rtol=0)


def test_diversa_adapter_loads_in_peft(tmp_path):
    base = _base()
    ours = apply_lora(copy.deepcopy(base), ["q_proj", "v_proj", "gate_proj"], r=4, alpha=8, use_rslora=True,
                      rank_pattern={"gate_proj": 2}, alpha_pattern={"layers.1.self_attn.v_proj": 5}).eval()
    _randomize(ours)
    save_adapter(ours, tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["target_modules"] == ["gate_proj", "q_proj", "v_proj"]
    assert config["rank_pattern"] == {"model.layers.0.mlp.gate_proj": 2, "model.layers.1.mlp.gate_proj": 2}
    assert config["alpha_pattern"] == {"model.layers.1.self_attn.v_proj": 5}
    theirs = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "adapter").eval()
    ids = _ids()
    torch.testing.assert_close(_logits(theirs, ids), _logits(ours, ids), atol=ATOL, rtol=0)


def test_peft_adapter_loads_here(tmp_path):
    base = _base()
    theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(
        r=4, lora_alpha=6, target_modules=["q_proj", "o_proj", "up_proj"], use_rslora=True, lora_dropout=0.1,
        rank_pattern={"up_proj": 3}, alpha_pattern={"o_proj": 2})).eval()
    _randomize(theirs)
    theirs.save_pretrained(tmp_path / "peft")
    ours = load_adapter(copy.deepcopy(base), tmp_path / "peft").eval()
    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(theirs, ids), atol=ATOL, rtol=0)
    layers = _lora_layers(ours)
    assert len(layers) == 6 and layers["model.layers.0.mlp.up_proj"].r == 3
    assert layers["model.layers.1.self_attn.o_proj"].alpha == 2 and layers["model.layers.1.self_attn.o_proj"].use_rslora
    assert layers["model.layers.1.self_attn.q_proj"].dropout_p == pytest.approx(0.1)
    assert not any(p.requires_grad for p in ours.parameters())  # PEFT's is_trainable=False
    trainable = load_adapter(copy.deepcopy(base), tmp_path / "peft", trainable=True)
    assert {n for n, p in trainable.named_parameters() if p.requires_grad} == \
        {f"{n}.{w}.weight" for n in layers for w in ("lora_A", "lora_B")}


def test_round_trip_through_files_keeps_every_weight(tmp_path):
    base = _base()
    ours = apply_lora(copy.deepcopy(base), ["q_proj", "v_proj"], r=2, alpha=3)
    _randomize(ours)
    save_adapter(ours, tmp_path / "a")
    again = load_adapter(copy.deepcopy(base), tmp_path / "a")
    assert lora_state_dict(again).keys() == lora_state_dict(ours).keys()
    assert all(torch.equal(lora_state_dict(again)[k], v) for k, v in lora_state_dict(ours).items())
    scalings = {n: m.scaling for n, m in _lora_layers(ours).items()}
    assert {n: m.scaling for n, m in _lora_layers(again).items()} == scalings
    adapter = read_adapter(tmp_path / "a")
    assert set(adapter.weights) == set(lora_state_dict(ours))


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}, [type(m).__name__ for m in model.modules()]


def _unchanged(model, snapshot):
    state, types = _state(model)
    return types == snapshot[1] and state.keys() == snapshot[0].keys() and \
        all(torch.equal(state[k], snapshot[0][k]) for k in state)


def test_adapter_for_a_wider_base_is_refused(tmp_path):
    source = apply_lora(_base(hidden=24), ["q_proj", "v_proj"], r=2)
    save_adapter(source, tmp_path / "wide")
    model = _base(hidden=16)
    snapshot = _state(model)
    with pytest.raises(ValueError, match=r"model.layers.0.self_attn.q_proj: .*lora_A \(2, 24\).*"
                                         r"Linear\(in_features=16, out_features=16\).*saved for LlamaForCausalLM"):
        load_adapter(model, tmp_path / "wide")
    assert _unchanged(model, snapshot)


def test_adapter_for_a_shallower_base_is_refused(tmp_path):
    save_adapter(apply_lora(_base(layers=2), ["q_proj"], r=2), tmp_path / "shallow")
    model = _base(layers=3)
    snapshot = _state(model)
    with pytest.raises(ValueError, match="select 1 module.*no weights for.*model.layers.2.self_attn.q_proj"):
        load_adapter(model, tmp_path / "shallow")
    assert _unchanged(model, snapshot)


def test_adapter_for_another_architecture_is_refused(tmp_path):
    save_adapter(apply_lora(_base(), ["q_proj"], r=2), tmp_path / "llama")
    model = torch.nn.Sequential(torch.nn.Linear(16, 16))
    with pytest.raises(ValueError, match="which Sequential lacks"):
        load_adapter(model, tmp_path / "llama")


def test_inconsistent_and_unsupported_files(tmp_path):
    save_adapter(apply_lora(_base(), ["q_proj"], r=2), tmp_path / "a")
    config_file = tmp_path / "a" / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "r": 3}))
    with pytest.raises(ValueError, match="config gives r=3 but the weights have rank 2"):
        load_adapter(_base(), tmp_path / "a")
    config_file.write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ValueError, match="use_dora=True is not supported"):
        load_adapter(_base(), tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="not a PEFT adapter directory"):
        load_adapter(_base(), tmp_path / "missing")


def test_save_refuses_models_it_cannot_describe(tmp_path):
    with pytest.raises(ValueError, match="no LoRALinear layers"):
        save_adapter(_base(), tmp_path / "none")
    mixed = apply_lora(_base(), ["q_proj"], r=2)
    apply_lora(mixed, ["v_proj"], r=2, use_rslora=True)
    with pytest.raises(ValueError, match="one use_rslora for all layers"):
        save_adapter(mixed, tmp_path / "mixed")
    assert not (tmp_path / "none").exists() and not (tmp_path / "mixed").exists()


def test_mixer_with_hard_routing_is_a_peft_lora_of_that_expert():
    """Spec lora_mixer anchor: hard routing to expert e equals PEFT LoRA holding expert e's A and B."""
    from diversa.nn.lora import LoRAMixerLinear

    torch.manual_seed(0)
    host = torch.nn.Sequential()
    host.add_module("q_proj", torch.nn.Linear(12, 8))
    mixer = LoRAMixerLinear(copy.deepcopy(host.q_proj), num_experts=3, r=[2, 4, 3], alpha=[4, 6, 5])
    with torch.no_grad():
        for B in mixer.lora_B:
            B.weight.normal_()
    x = torch.randn(5, 7, 12)
    for e in range(3):
        theirs = peft.get_peft_model(copy.deepcopy(host), peft.LoraConfig(
            r=mixer.ranks[e], lora_alpha=[4, 6, 5][e], target_modules=["q_proj"])).eval()
        with torch.no_grad():
            theirs.base_model.model.q_proj.lora_A["default"].weight.copy_(mixer.lora_A[e].weight)
            theirs.base_model.model.q_proj.lora_B["default"].weight.copy_(mixer.lora_B[e].weight)
            torch.testing.assert_close(mixer(x, expert_weights=torch.tensor(e)), theirs(x), atol=ATOL, rtol=0)
