"""Equivalence with mergekit for the methods beyond Task Arithmetic / TIES / DARE.

Tensor level: diversa's pure functions against mergekit's own methods called
through ``mergekit.merge_methods.api.merge_tensors`` on the same random
tensors (float32). Tolerance: ``atol = rtol = 1e-6`` unless a test says
otherwise (both sides compute in float32; the differences are summation
order). Methods that draw random numbers (DELLA) are compared under the same
``torch.manual_seed`` with diversa's ``random_state=None`` (torch's global
generator). Config level: the same YAML through ``mergekit.merge.run_merge``
and diversa's engine (per-layer gradients).
"""

import pytest
import torch

api = pytest.importorskip("mergekit.merge_methods.api")

TOL = {"atol": 1e-6, "rtol": 1e-6}


@pytest.fixture
def tensors():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(12, 7, generator=g)
    return [base] + [base + 0.2 * torch.randn(12, 7, generator=g) for _ in range(3)]


def _sd(t):
    return {"w": t}


def _mergekit(tensors, method, base_index=0, **parameters):
    return api.merge_tensors(tensors, method, parameters=parameters, base_index=base_index)


# --- SLERP ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [0.0, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(12, 7), (5,), (3, 4, 2)])
def test_slerp(t, shape):
    from diversa.combine.merge.slerp import slerp

    g = torch.Generator().manual_seed(1)
    a = torch.randn(shape, generator=g)
    b = a + 0.8 * torch.randn(shape, generator=g)
    out = _mergekit([a, b], "slerp", t=t)
    ours = slerp(_sd(a), [_sd(b)], t=t)["w"]
    torch.testing.assert_close(ours, out, **TOL)


@pytest.mark.parametrize("other", ["collinear", "antipodal", "zero"])
def test_slerp_degenerate_pairs(other):
    from diversa.combine.merge.slerp import slerp

    a = torch.randn(6, 5, generator=torch.Generator().manual_seed(2))
    b = {"collinear": 3 * a, "antipodal": -a, "zero": torch.zeros_like(a)}[other]
    out = _mergekit([a, b], "slerp", t=0.3)
    ours = slerp(_sd(a), [_sd(b)], t=0.3)["w"]
    torch.testing.assert_close(ours, out, **TOL)
    assert torch.isfinite(ours).all()


def test_slerp_bad_input():
    from diversa.combine.merge.slerp import slerp, slerp_tensor

    a = torch.randn(3, 3)
    with pytest.raises(ValueError, match="exactly one model"):
        slerp(_sd(a), [_sd(a), _sd(a)], t=0.5)
    with pytest.raises(ValueError, match="base"):
        slerp(None, [_sd(a)], t=0.5)
    with pytest.raises(ValueError, match="t must be"):
        slerp(_sd(a), [_sd(a)], t=float("nan"))
    with pytest.raises(ValueError, match="t must be"):
        slerp(_sd(a), [_sd(a)], t="0.5")
    with pytest.raises(ValueError, match="dot_threshold"):
        slerp_tensor(0.5, a, a, dot_threshold=2.0)


# --- gradients (per-layer parameters) ---------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[0.0, 1.0], [0.2, 0.9, 0.1], [0.5], [1, 0, 1, 0.25, 0.3]])
def test_gradient_interpolation_matches_mergekits(values):
    from mergekit.config import evaluate_setting

    from diversa.combine.merge.config import gradient_value

    for i in range(7):
        t = i / 6
        theirs = evaluate_setting("x", values, t, validate=float)
        assert gradient_value(values, t) == pytest.approx(theirs, abs=1e-12)


def test_gradient_config_resolution():
    from diversa.combine.merge.config import count_layers, layer_index, parse_config

    cfg = parse_config({"merge_method": "slerp", "base_model": "/b", "models": [{"model": "/b"}, {"model": "/m"}],
                        "parameters": {"t": [{"filter": "self_attn", "value": [0.0, 0.5, 1.0]},
                                             {"value": [1.0, 0.0]}]}})
    names = [f"model.layers.{i}.self_attn.q_proj.weight" for i in range(5)] + ["model.embed_tokens.weight"]
    assert count_layers(names) == 5 and layer_index("transformer.h.12.attn.c_attn.weight") == 12
    import dataclasses

    cfg = dataclasses.replace(cfg, num_layers=5)
    got = [cfg.arguments_for(n)["t"] for n in names]
    assert got == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0])  # the embedding: [1, 0] at t = 0
    assert cfg.arguments_for("model.layers.1.mlp.up_proj.weight")["t"] == pytest.approx(0.75)
    assert cfg.arguments_for("lm_head.weight")["t"] == pytest.approx(1.0)  # outside the stack: t = 0, [1, 0] -> 1
    with pytest.raises(ValueError, match="num_layers"):
        dataclasses.replace(cfg, num_layers=None).arguments_for(names[0])


@pytest.mark.parametrize("value,match", [
    ([], "empty list"),
    ([0.1, "x"], "must be a number"),
    ([0.1, [0.2]], "list of scalars"),
    ([{"filter": "mlp", "value": [0.1, True]}], "must be a number"),
])
def test_gradient_bad_values_name_the_parameter(value, match):
    from diversa.combine.merge.config import parse_config

    with pytest.raises(ValueError, match=match) as info:
        parse_config({"merge_method": "slerp", "base_model": "/b", "models": [{"model": "/m"}],
                      "parameters": {"t": value}})
    assert "parameters.t" in str(info.value)


def test_slerp_needs_t_and_one_model():
    from diversa.combine.merge.config import parse_config

    with pytest.raises(ValueError, match="needs parameter 't'"):
        parse_config({"merge_method": "slerp", "base_model": "/b", "models": [{"model": "/m"}]})


SLERP_YAML = """\
merge_method: slerp
base_model: {root}/base
models:
  - model: {root}/base
  - model: {root}/m1
parameters:
  t:
    - filter: self_attn
      value: [0.0, 0.5, 0.3, 0.7, 1.0]
    - filter: mlp
      value: [1.0, 0.5, 0.7, 0.3, 0.0]
    - value: 0.5
dtype: float32
"""


def test_slerp_yaml_with_gradients_gives_mergekits_result(tmp_path):
    """mergekit's gradient example (t over filters and layers) through run_merge and diversa's engine."""
    from safetensors.torch import load_file
    from test_mergekit_equivalence import _llama_zoo

    from diversa.combine.merge.config import load_config
    from diversa.combine.merge.engine import merge_checkpoints

    merge = pytest.importorskip("mergekit.merge")
    mk_config = pytest.importorskip("mergekit.config")
    mk_options = pytest.importorskip("mergekit.options")
    import yaml

    _llama_zoo(tmp_path, layers=3)
    text = SLERP_YAML.format(root=tmp_path)
    (tmp_path / "merge.yaml").write_text(text)
    merge.run_merge(mk_config.MergeConfiguration.model_validate(yaml.safe_load(text)), str(tmp_path / "mk"),
                    options=mk_options.MergeOptions(copy_tokenizer=False, lazy_unpickle=False))
    merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "dv")
    theirs = {}
    for shard in (tmp_path / "mk").glob("*.safetensors"):
        theirs.update(load_file(shard))
    ours = load_file(tmp_path / "dv" / "model.safetensors")
    base = load_file(tmp_path / "base" / "model.safetensors")
    assert set(ours) == set(theirs)
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], **TOL, msg=key)
    # the gradient is in effect: layer 0's attention is the base (t = 0), the embedding is halfway (t = 0.5)
    key = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(ours[key], base[key])
    assert not torch.equal(ours["model.embed_tokens.weight"], base["model.embed_tokens.weight"])


# --- Model Stock ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filter_wise", [False, True])
@pytest.mark.parametrize("shape", [(12, 7), (9,), (3, 4, 5)])
@pytest.mark.parametrize("n", [2, 3])
def test_model_stock(filter_wise, shape, n):
    from diversa.combine.merge.model_stock import model_stock

    g = torch.Generator().manual_seed(3)
    base = torch.randn(shape, generator=g)
    common = 0.3 * torch.randn(shape, generator=g)  # correlated offsets: cos theta well away from 0
    models = [base + common + 0.2 * torch.randn(shape, generator=g) for _ in range(n)]
    out = _mergekit([base] + models, "model_stock", filter_wise=filter_wise)
    ours = model_stock(_sd(base), [_sd(m) for m in models], filter_wise=filter_wise)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_model_stock_singular_and_equal_models_keep_the_base_or_the_model():
    from diversa.combine.merge.model_stock import model_stock

    base = torch.randn(4, 6, generator=torch.Generator().manual_seed(4))
    d = torch.randn(4, 6, generator=torch.Generator().manual_seed(5))
    opposite = [_sd(base + d), _sd(base - d)]  # cos = -1, 1 + (N - 1) cos = 0: the base
    out = _mergekit([base, base + d, base - d], "model_stock")
    ours = model_stock(_sd(base), opposite)["w"]
    torch.testing.assert_close(ours, out, **TOL)
    torch.testing.assert_close(ours, base)
    same = model_stock(_sd(base), [_sd(base + d), _sd(base + d)])["w"]  # cos = 1, t = 1: the model
    torch.testing.assert_close(same, base + d, **TOL)


def test_model_stock_bad_input():
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.model_stock import model_stock

    a = torch.randn(3, 3)
    with pytest.raises(ValueError, match="at least two"):
        model_stock(_sd(a), [_sd(a)])
    with pytest.raises(ValueError, match="base"):
        model_stock(None, [_sd(a), _sd(a)])
    with pytest.raises(TypeError, match="filter_wise"):
        model_stock(_sd(a), [_sd(a), _sd(a)], filter_wise="yes")
    with pytest.raises(ValueError, match="parameters.filter_wise must be true or false"):
        parse_config({"merge_method": "model_stock", "base_model": "/b", "models": [{"model": "/m"}],
                      "parameters": {"filter_wise": 1}})
