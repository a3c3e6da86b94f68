"""Merge configs: mergekit shape, parameter resolution, clear errors."""

import pytest

from diversa.combine.merge.config import METHODS, load_config, parse_config


def _data(**over):
    data = {"merge_method": "ties", "base_model": "/b",
            "models": [{"model": "/b"}, {"model": "/m1", "parameters": {"weight": 0.5, "density": 0.3}},
                       {"model": "/m2", "parameters": {"weight": [{"filter": "mlp", "value": 2.0},
                                                                 {"value": 1.0}]}}],
            "parameters": {"lambda": 1.5, "density": 0.7}, "dtype": "bfloat16"}
    data.update(over)
    return data


def test_resolves_per_model_global_and_filters():
    cfg = parse_config(_data())
    assert [m.model for m in cfg.fine_tuned()] == ["/m1", "/m2"]
    mlp = cfg.arguments_for("layers.0.mlp.w")
    attn = cfg.arguments_for("layers.0.attn.w")
    assert mlp["weights"] == [0.5, 2.0] and attn["weights"] == [0.5, 1.0]
    assert mlp["density"] == [0.3, 0.7] and mlp["scaling"] == 1.5
    assert mlp["convention"] == "mergekit" and mlp["scope"] == "tensor"
    assert str(cfg.out_dtype) == "torch.bfloat16"


def test_task_arithmetic_lambda_scales_weights_and_dare_density():
    cfg = parse_config({"merge_method": "task_arithmetic", "base_model": "/b",
                        "models": [{"model": "/m1", "parameters": {"weight": 0.5}}], "parameters": {"lambda": 2}})
    kw = cfg.arguments_for("w")
    assert kw["scaling"] == 2 and kw["weights"] == [0.5] and "normalize" not in kw  # the default, false
    dare = parse_config({"merge_method": "dare_linear", "base_model": "/b",
                         "models": [{"model": "/m1", "parameters": {"density": 0.25}}],
                         "parameters": {"rescale": False}})
    kw = dare.arguments_for("w")
    assert kw["drop_rate"] == [0.75] and kw["rescale"] == "none" and kw["combine"] == "task_arithmetic"


@pytest.mark.parametrize("over,match", [
    ({"merge_method": "slerpish"}, "unknown merge_method"),
    ({"parameters": {"scope": "global"}}, "unknown parameter 'scope'"),
    ({"parameters": {"bogus": 1}}, "unknown parameter 'bogus'"),
    ({"models": [{"model": "/m", "parameters": {"alpha": 1}}]}, "unknown per-model parameter 'alpha'"),
    ({"base_model": None}, "needs a base_model"),
    ({"dtype": "int8"}, "dtype must be one of"),
    ({"models": []}, "models"),
    ({"models": [{"model": "/b"}]}, "besides the base"),
    ({"extra": 1}, "unknown field"),
    ({"parameters": {"density": [0.1, 1.5]}}, "density must lie in"),  # a gradient's every value is checked
    ({"parameters": {"density": []}}, "empty list"),
])
def test_errors(over, match):
    data = _data(**over)
    with pytest.raises(ValueError, match=match):
        cfg = parse_config(data)
        cfg.arguments_for("w")


def test_load_yaml(tmp_path):
    (tmp_path / "c.yaml").write_text("merge_method: linear\nmodels:\n  - model: a\n  - model: b\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.merge_method == "linear" and cfg.arguments_for("w")["weights"] == [1.0, 1.0]
    (tmp_path / "bad.yaml").write_text("merge_method: [\n")
    with pytest.raises(ValueError, match="YAML"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "none.yaml")
    assert {"linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "magnitude_prune"} <= set(METHODS)


@pytest.mark.parametrize("where,value,needle", [
    ("global", {"normalize": "yes"}, "parameters.normalize must be true or false, got 'yes'"),
    ("model", {"weight": True}, "models[1].parameters.weight must be a number, got True"),
    ("model", {"weight": "1.0"}, "models[1].parameters.weight must be a number, got '1.0'"),
    ("model", {"weight": float("nan")}, "weight must be finite"),
    ("model", {"density": [{"filter": "mlp", "value": "high"}]}, "density must be a number, got 'high'"),
    ("global", {"lambda": [1, "x"]}, "parameters.lambda must be a number, got 'x'"),
    ("global", {"lambda": [1, {"value": 2}]}, "each list entry must be a mapping"),
])
def test_parameter_types_come_from_the_signature(where, value, needle):
    data = _data()
    if where == "global":
        data["parameters"] = value
    else:
        data["models"][1]["parameters"] = value
    with pytest.raises(ValueError) as info:
        parse_config(data)
    assert needle in str(info.value)


@pytest.mark.parametrize("field,value", [("dtype", ["a"]), ("out_dtype", 3), ("merge_method", ["ties"]),
                                         ("base_model", 1)])
def test_top_level_field_types(field, value):
    with pytest.raises(ValueError, match=field):
        parse_config(_data(**{field: value}))


def test_rescale_accepts_mergekit_booleans_and_diversa_names():
    for value in (True, "inverse"):
        parse_config({"merge_method": "dare_ties", "base_model": "/b", "models": ["/m"],
                      "parameters": {"rescale": value}})
    with pytest.raises(ValueError, match="rescale must be"):
        parse_config({"merge_method": "dare_ties", "base_model": "/b", "models": ["/m"],
                      "parameters": {"rescale": 1.5}})


@pytest.mark.parametrize("method,density,bound", [("dare_ties", -0.5, "(0, 1]"), ("dare_linear", 0.0, "(0, 1]"),
                                                  ("ties", 1.5, "[0, 1]")])
def test_density_errors_name_the_users_parameter_and_value(method, density, bound):
    data = {"merge_method": method, "base_model": "/b", "models": [{"model": "/m", "parameters": {"density": density}}]}
    with pytest.raises(ValueError) as info:
        parse_config(data)
    message = str(info.value)
    assert f"models[0].parameters.density must lie in {bound}, got {density}" in message
    assert "drop_rate" not in message


def test_unmatched_filter_list_falls_back_like_mergekit():
    cfg = parse_config({
        "merge_method": "ties", "base_model": "/b",
        "models": [{"model": "/m1", "parameters": {"weight": [{"filter": "mlp", "value": 2.0}],
                                                   "density": [{"filter": "attn", "value": 0.1}]}},
                   {"model": "/m2", "parameters": {"weight": [{"filter": "*", "value": 3.0}]}}],
        "parameters": {"density": [{"filter": "mlp", "value": 0.6}], "lambda": [{"filter": "attn", "value": 2.0}]}})
    mlp, other = cfg.arguments_for("layers.0.mlp.w"), cfg.arguments_for("layers.0.norm")
    assert mlp["weights"] == [2.0, 3.0] and mlp["density"] == [0.6, 0.6] and "scaling" not in mlp
    # nothing matches: the model's own list, then the global one, then the method's default
    assert other["weights"] == [1.0, 3.0] and other["density"] == [1.0, 1.0]
    assert cfg.arguments_for("attn.w")["density"] == [0.1, 1.0] and cfg.arguments_for("attn.w")["scaling"] == 2.0


def test_yaml_reads_scientific_notation_as_numbers(tmp_path):
    (tmp_path / "c.yaml").write_text("merge_method: ties\nbase_model: b\nmodels:\n  - model: m\n"
                                     "    parameters: {density: 1e-3, weight: \"2\"}\n")
    with pytest.raises(ValueError, match="weight must be a number, got '2'"):
        load_config(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("merge_method: ties\nbase_model: b\nmodels:\n  - model: m\n"
                                     "    parameters: {density: 1e-3, weight: 2}\n")
    assert load_config(tmp_path / "c.yaml").arguments_for("w")["density"] == [0.001]
