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
    assert cfg.arguments_for("w")["scaling"] == [1.0]
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
    ({"dtype": "int8"}, "unknown dtype"),
    ({"models": []}, "models"),
    ({"models": [{"model": "/b"}]}, "besides the base"),
    ({"extra": 1}, "unknown field"),
    ({"parameters": {"density": [0.1, 0.2]}}, "gradients"),
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
