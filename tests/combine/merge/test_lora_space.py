"""LoRA-space merging against PEFT: adapters built and loaded with peft on a tiny Llama, the merged
adapter loaded back with ``PeftModel.from_pretrained``, every expected update computed by peft itself
(``get_delta_weight``) and merged by diversa's full-weight functions."""

import json
import math
import shutil

import pytest
import torch

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from peft.tuners.lora import LoraLayer  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from diversa.cli import main  # noqa: E402
from diversa.combine.merge import task_arithmetic, ties_merging  # noqa: E402
from diversa.combine.merge.lora_space import lowrank_svd, merge_lora, save_merged_adapter  # noqa: E402
from diversa.nn.lora.linear import lora_scaling  # noqa: E402

TARGETS = ["q_proj", "v_proj", "up_proj"]  # updates of shape 32x32, 16x32 and 48x32
RANKS = (2, 4, 4)
WEIGHTS = [1.0, -0.5, 2.0]


def tiny_llama(hidden=32, seed=0):
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(hidden_size=hidden, intermediate_size=48, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=64))


def make_adapter(base_dir, out_dir, r, seed, targets=TARGETS, use_rslora=False):
    torch.manual_seed(seed)
    model = get_peft_model(LlamaForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=r, lora_alpha=2 * r + 1, target_modules=targets, use_rslora=use_rslora,
                                      init_lora_weights=False))  # random, non-zero B
    model.save_pretrained(out_dir)
    return str(out_dir)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora_zoo")
    base_dir = root / "base"
    tiny_llama().save_pretrained(base_dir)
    adapters = [make_adapter(base_dir, root / f"lora{i}", r, seed=10 + i) for i, r in enumerate(RANKS)]
    rslora = [make_adapter(base_dir, root / f"rs{i}", 4, seed=20 + i, use_rslora=True) for i in range(2)]
    return {"root": root, "base": str(base_dir), "adapters": adapters, "rslora": rslora}


def load_base(zoo):
    return LlamaForCausalLM.from_pretrained(zoo["base"])


def lora_layers(model):
    return {name.removeprefix("base_model.model."): m for name, m in model.named_modules()
            if isinstance(m, LoraLayer)}


def peft_deltas(zoo, adapter):
    """peft's own update ``s B A`` of every adapted module."""
    model = PeftModel.from_pretrained(load_base(zoo), adapter)
    return {name: layer.get_delta_weight("default").detach() for name, layer in lora_layers(model).items()}


def merged_weights(zoo, adapter):
    model = PeftModel.from_pretrained(load_base(zoo), adapter).merge_and_unload()
    return {name: model.get_submodule(name).weight.detach() for name in peft_deltas(zoo, adapter)}


def base_weights(zoo, modules):
    model = load_base(zoo)
    return {name: model.get_submodule(name).weight.detach() for name in modules}


def update(merge, module):
    """``s B A`` of one module of a :class:`LoRAMerge`."""
    r = merge.ranks[module]
    A, B = merge.weights[f"{module}.lora_A.weight"], merge.weights[f"{module}.lora_B.weight"]
    return lora_scaling(r, merge.config["lora_alpha"]) * B.double() @ A.double()


def relative(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.fixture(scope="module")
def deltas(zoo):
    return [peft_deltas(zoo, a) for a in zoo["adapters"]]


def test_ties_in_lora_space_loads_in_peft_and_equals_base_plus_the_full_delta_ties(zoo, deltas, tmp_path):
    # Fails if TIES trimmed the factors rather than the full update, or the output scaling were not undone.
    merged = merge_lora(zoo["adapters"], "ties", rank=32, density=0.5)
    assert merged.path == "full" and merged.total_error < 1e-6
    assert merged.ranks["model.layers.0.self_attn.v_proj"] == 16  # capped at min(out, in), via rank_pattern
    save_merged_adapter(merged, tmp_path / "ties")
    loaded = merged_weights(zoo, str(tmp_path / "ties"))
    zero = {m: torch.zeros_like(d) for m, d in deltas[0].items()}
    expected = ties_merging(zero, deltas, density=0.5)
    base = base_weights(zoo, zero)
    for module in zero:
        torch.testing.assert_close(loaded[module], base[module] + expected[module], atol=2e-6, rtol=1e-5)


def test_truncated_ties_misses_the_full_delta_ties_by_exactly_the_reported_error(zoo, deltas, tmp_path):
    merged = merge_lora(zoo["adapters"], "ties", rank=3, density=0.5)
    save_merged_adapter(merged, tmp_path / "ties3")
    loaded = merged_weights(zoo, str(tmp_path / "ties3"))
    zero = {m: torch.zeros_like(d) for m, d in deltas[0].items()}
    expected = ties_merging(zero, deltas, density=0.5)
    base = base_weights(zoo, zero)
    missed, energy = 0.0, 0.0
    for module in zero:
        error = relative(loaded[module] - base[module], expected[module])
        assert error > 0.1  # a sparse TIES update is far from rank 3
        assert error == pytest.approx(merged.errors[module], rel=1e-3)
        missed += (error * expected[module].double().norm()) ** 2
        energy += expected[module].double().norm() ** 2
    assert merged.total_error == pytest.approx(math.sqrt(missed / energy), rel=1e-3)


def test_task_arithmetic_with_the_sum_of_ranks_is_exact_on_both_paths(zoo, deltas):
    lowrank = merge_lora(zoo["adapters"], "task_arithmetic", weights=WEIGHTS)
    full = merge_lora(zoo["adapters"], "task_arithmetic", weights=WEIGHTS, path="full")
    assert (lowrank.path, full.path) == ("lowrank", "full")
    assert lowrank.config["r"] == sum(RANKS) and lowrank.total_error < 1e-12
    assert full.total_error < 1e-5  # float32 SVD of the formed update
    zero = {m: torch.zeros_like(d) for m, d in deltas[0].items()}
    expected = task_arithmetic(zero, deltas, scaling=1.0, weights=WEIGHTS)
    for module in zero:
        assert relative(update(lowrank, module), expected[module]) < 1e-6
        assert relative(update(full, module), update(lowrank, module)) < 1e-5



@pytest.mark.parametrize("method, params", [
    ("linear", {"weights": [1.0, 1.0, 2.0]}),
    ("dare", {"drop_rate": 0.5, "combine": "ties", "random_state": 3}),
    ("della", {"density": 0.5, "random_state": 3}),
    ("breadcrumbs", {"density": 0.6, "gamma": 0.05}),
    ("magnitude_prune", {"density": 0.3}),
    ("sce", {"select_topk": 0.5}),
    ("pcb", {"pcb_ratio": 0.3, "scope": "tensor"}),
])
def test_every_method_at_full_rank_is_its_function_on_the_full_deltas(zoo, deltas, method, params):
    # Fails if a method's parameters, random streams or zero base were not the full-weight function's.
    from diversa.combine.merge.lora_space import LORA_METHODS

    function, _ = LORA_METHODS[method]
    merged = merge_lora(zoo["adapters"], method, rank=32, path="full", **params)
    zero = {m: torch.zeros_like(d) for m, d in deltas[0].items()}
    expected = function(deltas, **params) if method == "linear" else function(zero, deltas, **params)
    assert merged.total_error < 1e-5
    for module in zero:
        assert relative(update(merged, module), expected[module]) < 1e-5, module
    if method == "linear":  # and the low-rank path reads the same coefficients off the function
        lowrank = merge_lora(zoo["adapters"], method, **params)
        assert lowrank.path == "lowrank"
        for module in zero:
            assert relative(update(lowrank, module), expected[module]) < 1e-6

def test_lowrank_svd_gives_the_singular_values_of_the_product():
    torch.manual_seed(0)
    B, A = torch.randn(40, 7, dtype=torch.float64), torch.randn(7, 30, dtype=torch.float64)
    U, S, Vh = lowrank_svd(B, A)
    full = torch.linalg.svdvals(B @ A)
    assert len(S) == 7 and float(full[7:].max()) < 1e-12 * float(full[0])  # rank 7: nothing else to find
    torch.testing.assert_close(S, full[:7], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(U @ torch.diag(S) @ Vh, B @ A, rtol=1e-10, atol=1e-10)


def test_reported_error_is_the_eckart_young_optimum(zoo, deltas):
    # Fails if the error counted kept singular values, forgot the square root or normalised per adapter.
    zero = {m: torch.zeros_like(d) for m, d in deltas[0].items()}
    exact = task_arithmetic(zero, deltas, scaling=1.0, weights=WEIGHTS)
    lowrank = merge_lora(zoo["adapters"], "task_arithmetic", rank=2, weights=WEIGHTS)
    full = merge_lora(zoo["adapters"], "task_arithmetic", rank=2, weights=WEIGHTS, path="full")
    discarded = energy = 0.0
    for module, M in exact.items():
        S = torch.linalg.svdvals(M.double())
        optimum = math.sqrt(float(S[2:].square().sum() / S.square().sum()))
        assert optimum > 0.1
        assert lowrank.errors[module] == pytest.approx(optimum, rel=1e-6)
        assert full.errors[module] == pytest.approx(optimum, rel=1e-4)
        assert relative(update(lowrank, module), M) == pytest.approx(optimum, rel=1e-5)
        discarded += float(S[2:].square().sum())
        energy += float(S.square().sum())
    assert lowrank.total_error == pytest.approx(math.sqrt(discarded / energy), rel=1e-6)


def peft_weighted(zoo, adapters, weights, **kwargs):
    """peft's ``add_weighted_adapter`` merge ``"m"``: its config and update per module."""
    model = PeftModel.from_pretrained(load_base(zoo), adapters[0], adapter_name="a0")
    for i, adapter in enumerate(adapters[1:], start=1):
        model.load_adapter(adapter, adapter_name=f"a{i}")
    model.add_weighted_adapter([f"a{i}" for i in range(len(adapters))], weights, "m", **kwargs)
    layers = lora_layers(model)
    return model.peft_config["m"], {name: layer.get_delta_weight("m").detach() for name, layer in layers.items()}


def test_matches_peft_svd_merge_at_the_same_rank(zoo):
    for rank in (sum(RANKS), 3):  # exact, then both truncated to the same best rank-3 approximation
        _, theirs = peft_weighted(zoo, zoo["adapters"], WEIGHTS, combination_type="svd", svd_rank=rank)
        ours = merge_lora(zoo["adapters"], "task_arithmetic", rank=rank, weights=WEIGHTS)
        for module, delta in theirs.items():
            assert relative(update(ours, module), delta) < 1e-5, (rank, module)


def test_peft_svd_puts_all_singular_values_into_B(zoo):
    # Same product, different split: peft's A = V^T has orthonormal rows, ours carries sqrt(S).
    model = PeftModel.from_pretrained(load_base(zoo), zoo["adapters"][0], adapter_name="a0")
    model.load_adapter(zoo["adapters"][1], adapter_name="a1")
    model.add_weighted_adapter(["a0", "a1"], [1.0, 1.0], "m", combination_type="svd", svd_rank=6)
    layer = lora_layers(model)["model.layers.0.self_attn.q_proj"]
    A = layer.lora_A["m"].weight.detach()
    torch.testing.assert_close(A @ A.T, torch.eye(6), atol=1e-5, rtol=0)
    ours = merge_lora(zoo["adapters"][:2], "task_arithmetic", rank=6)
    A = ours.weights["model.layers.0.self_attn.q_proj.lora_A.weight"]
    assert not torch.allclose(A @ A.T, torch.eye(6), atol=1e-2)


def test_peft_default_svd_rank_is_the_largest_input_rank_and_truncates_sums(zoo):
    config, theirs = peft_weighted(zoo, zoo["adapters"], WEIGHTS, combination_type="svd")
    assert config.r == max(RANKS)
    exact = merge_lora(zoo["adapters"], "task_arithmetic", weights=WEIGHTS)
    truncated = merge_lora(zoo["adapters"], "task_arithmetic", rank=max(RANKS), weights=WEIGHTS)
    for module, delta in theirs.items():
        assert relative(delta, update(exact, module)) == pytest.approx(truncated.errors[module], rel=1e-3)
        assert truncated.errors[module] > 0.05


def test_peft_svd_of_rslora_adapters_is_scaled_by_the_square_root_of_the_rank(zoo):
    # peft copies the first adapter's use_rslora into the merged config but sets lora_alpha = r, so the
    # merged update is sqrt(r) * the sum; diversa writes use_rslora: false and the sum itself.
    config, theirs = peft_weighted(zoo, zoo["rslora"], [1.0, 1.0], combination_type="svd", svd_rank=8)
    assert config.use_rslora and config.lora_alpha == 8
    ours = merge_lora(zoo["rslora"], "task_arithmetic")
    assert ours.config["use_rslora"] is False and ours.total_error < 1e-12
    sums = {m: a + b for (m, a), b in zip(peft_deltas(zoo, zoo["rslora"][0]).items(),
                                          peft_deltas(zoo, zoo["rslora"][1]).values())}
    for module, delta in theirs.items():
        assert relative(update(ours, module), sums[module]) < 1e-6
        assert relative(delta, math.sqrt(8) * sums[module]) < 1e-5


def test_peft_linear_mode_mixes_factors_and_is_not_the_weighted_sum(zoo):
    # peft's non-SVD "linear" sums sqrt(w s) B and sqrt(w s) A separately: the product has cross terms.
    pair = zoo["adapters"][1:]  # same rank, as peft's "linear" requires
    _, theirs = peft_weighted(zoo, pair, [1.0, 1.0], combination_type="linear")
    ours = merge_lora(pair, "task_arithmetic")
    layers = [peft_deltas(zoo, a) for a in pair]
    for module, delta in theirs.items():
        assert relative(delta, update(ours, module)) > 0.3
        assert relative(update(ours, module), layers[0][module] + layers[1][module]) < 1e-6


def test_merged_config_is_a_peft_lora_config(zoo, tmp_path):
    merged = merge_lora(zoo["adapters"], "task_arithmetic", rank=5, lora_alpha=10)
    save_merged_adapter(merged, tmp_path / "out")
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["peft_type"]) == (5, 10, "LORA")
    assert sorted(config["target_modules"]) == sorted(TARGETS)
    loaded = PeftModel.from_pretrained(load_base(zoo), str(tmp_path / "out"))
    assert loaded.peft_config["default"].r == 5
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["out"]  # no temporary folder left


@pytest.fixture(scope="module")
def bad_adapters(zoo):
    root = zoo["root"]
    other_base = root / "other_base"
    if not other_base.exists():
        tiny_llama(hidden=48).save_pretrained(other_base)
    renamed = root / "renamed"
    if not renamed.exists():
        shutil.copytree(zoo["adapters"][1], renamed)
        config = json.loads((renamed / "adapter_config.json").read_text())
        (renamed / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "other/llm"}))
    reshaped = root / "reshaped"
    if not reshaped.exists():
        make_adapter(other_base, reshaped, 4, seed=5)
        config = json.loads((reshaped / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = zoo["base"]  # the same name, but another model's shapes
        (reshaped / "adapter_config.json").write_text(json.dumps(config))
    fewer = root / "fewer"
    if not fewer.exists():
        make_adapter(zoo["base"], fewer, 4, seed=6, targets=["q_proj", "v_proj"])
    return {"renamed": str(renamed), "reshaped": str(reshaped), "fewer": str(fewer)}


@pytest.mark.parametrize("case, extra, key", [
    ("renamed", (), "base_model_name_or_path"),
    ("reshaped", (), "shape"),
    ("fewer", (), "target_modules"),
    (None, ("--rank", "0"), "rank"),
    (None, ("--rank", "-2"), "rank"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(zoo, bad_adapters, tmp_path, capsys, case, extra, key):
    adapters = [zoo["adapters"][0], bad_adapters[case] if case else zoo["adapters"][1]]
    out = tmp_path / "merged"
    status = main(["merge-lora", *adapters, "--out", str(out), "--quiet", *extra])
    err = capsys.readouterr().err
    assert status in (1, 2) and err.count("\n") == 1 and key in err, err
    assert list(tmp_path.iterdir()) == []
    if case is None:
        with pytest.raises(ValueError, match=key):
            merge_lora(adapters, rank=int(extra[1]))


def test_library_rejects_bad_arguments_by_name(zoo):
    with pytest.raises(ValueError, match="method"):
        merge_lora(zoo["adapters"], "slerp")
    with pytest.raises(ValueError, match="path"):
        merge_lora(zoo["adapters"], "ties", path="lowrank")
    with pytest.raises(ValueError, match="frobnicate"):
        merge_lora(zoo["adapters"], "ties", frobnicate=1)
    with pytest.raises(ValueError, match="lora_alpha"):
        merge_lora(zoo["adapters"], lora_alpha=0)
    with pytest.raises(ValueError, match="adapters"):
        merge_lora([])


def test_cli_merges_reports_and_refuses_an_existing_output(zoo, tmp_path, capsys):
    out = tmp_path / "merged"
    argv = ["merge-lora", *zoo["adapters"], "--method", "dare", "--drop-rate", "0.5", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "relative truncation error" in printed and "seed 0" in printed
    first = (out / "adapter_model.safetensors").read_bytes()
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0  # the same seed draws the same masks
    assert (out / "adapter_model.safetensors").read_bytes() == first
    PeftModel.from_pretrained(load_base(zoo), str(out))
