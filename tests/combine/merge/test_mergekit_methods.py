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
from merge_helpers import single_tensor_sd

api = pytest.importorskip("mergekit.merge_methods.api")

TOL = {"atol": 1e-6, "rtol": 1e-6}



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
    ours = slerp(single_tensor_sd(a), [single_tensor_sd(b)], t=t)["w"]
    torch.testing.assert_close(ours, out, **TOL)


@pytest.mark.parametrize("other", ["collinear", "antipodal", "zero"])
def test_slerp_degenerate_pairs(other):
    from diversa.combine.merge.slerp import slerp

    a = torch.randn(6, 5, generator=torch.Generator().manual_seed(2))
    b = {"collinear": 3 * a, "antipodal": -a, "zero": torch.zeros_like(a)}[other]
    out = _mergekit([a, b], "slerp", t=0.3)
    ours = slerp(single_tensor_sd(a), [single_tensor_sd(b)], t=0.3)["w"]
    torch.testing.assert_close(ours, out, **TOL)
    assert torch.isfinite(ours).all()


def test_slerp_bad_input():
    from diversa.combine.merge.slerp import slerp, slerp_tensor

    a = torch.randn(3, 3)
    with pytest.raises(ValueError, match="exactly one model"):
        slerp(single_tensor_sd(a), [single_tensor_sd(a), single_tensor_sd(a)], t=0.5)
    with pytest.raises(ValueError, match="base"):
        slerp(None, [single_tensor_sd(a)], t=0.5)
    with pytest.raises(ValueError, match="t must be"):
        slerp(single_tensor_sd(a), [single_tensor_sd(a)], t=float("nan"))
    with pytest.raises(ValueError, match="t must be"):
        slerp(single_tensor_sd(a), [single_tensor_sd(a)], t="0.5")
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
    ours = model_stock(single_tensor_sd(base), [single_tensor_sd(m) for m in models], filter_wise=filter_wise)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_model_stock_singular_and_equal_models_keep_the_base_or_the_model():
    from diversa.combine.merge.model_stock import model_stock

    base = torch.randn(4, 6, generator=torch.Generator().manual_seed(4))
    d = torch.randn(4, 6, generator=torch.Generator().manual_seed(5))
    opposite = [single_tensor_sd(base + d), single_tensor_sd(base - d)]  # cos = -1, 1 + (N - 1) cos = 0: the base
    out = _mergekit([base, base + d, base - d], "model_stock")
    ours = model_stock(single_tensor_sd(base), opposite)["w"]
    torch.testing.assert_close(ours, out, **TOL)
    torch.testing.assert_close(ours, base)
    same = model_stock(single_tensor_sd(base), [single_tensor_sd(base + d), single_tensor_sd(base + d)])["w"]  # cos = 1, t = 1: the model
    torch.testing.assert_close(same, base + d, **TOL)


def test_model_stock_bad_input():
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.model_stock import model_stock

    a = torch.randn(3, 3)
    with pytest.raises(ValueError, match="at least two"):
        model_stock(single_tensor_sd(a), [single_tensor_sd(a)])
    with pytest.raises(ValueError, match="base"):
        model_stock(None, [single_tensor_sd(a), single_tensor_sd(a)])
    with pytest.raises(TypeError, match="filter_wise"):
        model_stock(single_tensor_sd(a), [single_tensor_sd(a), single_tensor_sd(a)], filter_wise="yes")
    with pytest.raises(ValueError, match="parameters.filter_wise must be true or false"):
        parse_config({"merge_method": "model_stock", "base_model": "/b", "models": [{"model": "/m"}],
                      "parameters": {"filter_wise": 1}})


# --- Model Breadcrumbs and DELLA --------------------------------------------------------------------------------

W = {1: 0.5, 2: 1.0, 3: 1.5}
DENSITY = {1: 0.3, 2: 0.6, 3: 0.9}


@pytest.mark.parametrize("method,combine", [("breadcrumbs", "task_arithmetic"), ("breadcrumbs_ties", "ties")])
@pytest.mark.parametrize("gamma", [0.01, [0.05, 0.2, 0.1], 0.5])
@pytest.mark.parametrize("normalize,rescale,lam", [(False, False, 1.0), (True, True, 0.7)])
def test_breadcrumbs(tensors, method, combine, gamma, normalize, rescale, lam):
    from diversa.combine.merge.breadcrumbs import breadcrumbs_merging

    gammas = gamma if isinstance(gamma, list) else [gamma] * 3
    out = _mergekit(tensors, method, weight=W, density=DENSITY, gamma=dict(zip(W, gammas)), normalize=normalize,
                    rescale=rescale, **{"lambda": lam})
    ours = breadcrumbs_merging(single_tensor_sd(tensors[0]), [single_tensor_sd(t) for t in tensors[1:]], density=list(DENSITY.values()),
                               gamma=gammas, combine=combine, weights=list(W.values()), normalize=normalize,
                               rescale="l1" if rescale else "none", scaling=lam)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_breadcrumbs_cuts_outliers_and_noise():
    from diversa.combine.merge.breadcrumbs import breadcrumbs_tensor

    tau = torch.arange(1.0, 101.0) * torch.tensor([1.0, -1.0]).repeat(50)
    kept = breadcrumbs_tensor(tau, density=0.3, gamma=0.1)
    assert torch.equal(kept.abs().nonzero().reshape(-1), torch.arange(60, 90))  # ranks 61..90 of 100
    assert torch.equal(breadcrumbs_tensor(tau, 1.0, 0.1), tau)
    assert int(breadcrumbs_tensor(tau, 0.95, 0.1).count_nonzero()) == 95  # the outlier cut shrinks to 5


@pytest.mark.parametrize("method,combine,normalize", [("della", "ties", True), ("della_linear", "task_arithmetic",
                                                                                False)])
@pytest.mark.parametrize("shape", [(12, 7), (40,), (3, 5, 4)])
@pytest.mark.parametrize("rescale,lam", [(True, 1.0), (False, 1.3)])
def test_della_with_same_global_seed(method, combine, normalize, shape, rescale, lam):
    from diversa.combine.merge.della import della_merging

    g = torch.Generator().manual_seed(6)
    base = torch.randn(shape, generator=g)
    models = [base + 0.2 * torch.randn(shape, generator=g) for _ in range(3)]
    density, epsilon = {1: 0.3, 2: 0.6, 3: 0.5}, {1: 0.1, 2: 0.2, 3: 0.15}
    torch.manual_seed(7)
    out = _mergekit([base] + models, method, weight=W, density=density, epsilon=epsilon, rescale=rescale,
                    **{"lambda": lam})
    torch.manual_seed(7)
    ours = della_merging(single_tensor_sd(base), [single_tensor_sd(m) for m in models], density=list(density.values()),
                         epsilon=list(epsilon.values()), combine=combine, weights=list(W.values()),
                         normalize=normalize, rescale="l1" if rescale else "none", scaling=lam)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_della_keep_probabilities_and_paper_rescaling():
    from diversa.combine.merge.della import della_tensor, magprune_probabilities

    tau = torch.tensor([[0.1, -3.0, 2.0, 0.5, -1.0]])
    p = magprune_probabilities(tau, density=0.5, epsilon=0.2)
    torch.testing.assert_close(p, torch.tensor([[0.3, 0.7, 0.6, 0.4, 0.5]]))  # ranked by magnitude in the row
    big = torch.randn(200, 300, generator=torch.Generator().manual_seed(8))
    g = torch.Generator().manual_seed(0)
    draws = [della_tensor(big, 0.4, 0.1, "inverse", g) for _ in range(20)]
    assert abs(float(torch.stack(draws).ne(0).float().mean()) - 0.4) < 0.01  # mean keep rate = density
    # unbiased: the mean of 1.2M draws is within ~5 standard deviations (0.0012) of the tensor's mean
    torch.testing.assert_close(torch.stack(draws).mean(), big.mean(), atol=0.006, rtol=0)
    a = della_tensor(big, 0.4, 0.1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, della_tensor(big, 0.4, 0.1, generator=torch.Generator().manual_seed(1)))


def test_della_and_breadcrumbs_bad_input():
    from diversa.combine.merge.breadcrumbs import breadcrumbs_merging
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.della import della_merging

    a = {"w": torch.randn(3, 3)}
    with pytest.raises(ValueError, match="epsilon must leave density"):
        della_merging(a, [a], density=0.1, epsilon=0.15)
    with pytest.raises(ValueError, match="epsilon must lie in"):
        della_merging(a, [a], density=0.5, epsilon=-0.1)
    with pytest.raises(ValueError, match="gamma must lie in"):
        breadcrumbs_merging(a, [a], density=0.5, gamma=1.5)
    with pytest.raises(ValueError, match="density must lie in"):
        breadcrumbs_merging(a, [a], density=2.0)
    with pytest.raises(ValueError, match="rescale must be one of"):
        della_merging(a, [a], rescale="l2")
    with pytest.raises(ValueError, match="density has 2 entries for 1 models"):
        della_merging(a, [a], density=[0.5, 0.5])
    for method, name in (("della", "epsilon"), ("breadcrumbs_ties", "gamma")):
        with pytest.raises(ValueError, match=rf"models\[0\].parameters.{name} must be a number"):
            parse_config({"merge_method": method, "base_model": "/b",
                          "models": [{"model": "/m", "parameters": {name: "x"}}]})


def test_yaml_defaults_are_mergekits():
    from diversa.combine.merge.config import parse_config

    def args(method):
        cfg = parse_config({"merge_method": method, "base_model": "/b", "models": [{"model": "/m"}]})
        return cfg.arguments_for("w")

    della = args("della")
    assert {k: della[k] for k in ("density", "epsilon", "rescale", "normalize", "combine")} == {
        "density": [1.0], "epsilon": [0.15], "rescale": "l1", "normalize": True, "combine": "ties"}
    assert args("della_linear")["normalize"] is False and args("della_linear")["combine"] == "task_arithmetic"
    b = args("breadcrumbs")
    assert b["gamma"] == [0.01] and b["density"] == [1.0] and b["rescale"] == "none" and b["normalize"] is False
    assert args("breadcrumbs_ties")["combine"] == "ties"


# --- the same YAML through mergekit and diversa -----------------------------------------------------------------

GENERIC_YAML = """\
merge_method: {method}
base_model: {root}/base
models:
  - model: {root}/base
  - model: {root}/m1
    parameters: {{{model1}}}
  - model: {root}/m2
    parameters: {{{model2}}}
parameters: {{{params}}}
dtype: float32
"""

CASES = {
    "model_stock": ("", "", "filter_wise: false"),
    "breadcrumbs": ("weight: 0.7, density: 0.5, gamma: 0.05", "weight: 1.2, density: [0.3, 0.8]",
                    "lambda: 0.9"),
    "breadcrumbs_ties": ("weight: 0.7, density: 0.5", "weight: 1.2, density: 0.8, gamma: 0.1",
                         "normalize: true, rescale: true"),
    "sce": ("", "", "select_topk: [0.2, 0.9]"),
    "nuslerp": ("weight: 0.4", "weight: [0.2, 1.0]", "nuslerp_flatten: false"),
    "multislerp": ("weight: 0.4", "weight: 1.1", "normalize_weights: true"),
    "nearswap": ("", None, "t: [0.001, 0.01]"),
    "arcee_fusion": ("", None, ""),
    "ram": ("", "", "epsilon: 0.01"),
    "ramplus_tl": ("", "", "r: 0.5, alpha: [0.1, 2.0], epsilon: 0.01"),
    "task_arithmetic": ("weight: 0.7", "weight: [0.2, 1.3]", "normalize: true, lambda: 0.8"),
}


def _run_both(tmp_path, text):
    from safetensors.torch import load_file
    from test_mergekit_equivalence import _llama_zoo

    from diversa.combine.merge.config import load_config
    from diversa.combine.merge.engine import merge_checkpoints

    merge = pytest.importorskip("mergekit.merge")
    mk_config = pytest.importorskip("mergekit.config")
    mk_options = pytest.importorskip("mergekit.options")
    import yaml

    _llama_zoo(tmp_path, layers=3)
    (tmp_path / "merge.yaml").write_text(text)
    merge.run_merge(mk_config.MergeConfiguration.model_validate(yaml.safe_load(text)), str(tmp_path / "mk"),
                    options=mk_options.MergeOptions(copy_tokenizer=False, lazy_unpickle=False))
    merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "dv")
    theirs = {}
    for shard in (tmp_path / "mk").glob("*.safetensors"):
        theirs.update(load_file(shard))
    return load_file(tmp_path / "dv" / "model.safetensors"), theirs


@pytest.mark.parametrize("method", sorted(CASES))
def test_yaml_configs_give_mergekits_result(tmp_path, method):
    model1, model2, params = CASES[method]
    text = GENERIC_YAML.format(method=method, root=tmp_path, model1=model1, model2=model2, params=params)
    if model2 is None:  # one model besides the base
        text = "\n".join(line for line in text.splitlines() if "/m2" not in line and "{None}" not in line) + "\n"
    ours, theirs = _run_both(tmp_path, text)
    assert set(ours) == set(theirs)
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], **TOL, msg=key)


# --- SCE --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("select_topk", [1.0, 0.5, 0.1, 0.0])
@pytest.mark.parametrize("shape", [(12, 7), (30,), (3, 4, 5)])
def test_sce(select_topk, shape):
    from diversa.combine.merge.sce import sce_merging

    g = torch.Generator().manual_seed(9)
    base = torch.randn(shape, generator=g)
    models = [base + s * torch.randn(shape, generator=g) for s in (0.1, 0.2, 0.4)]
    out = _mergekit([base] + models, "sce", select_topk=select_topk)
    ours = sce_merging(single_tensor_sd(base), [single_tensor_sd(m) for m in models], select_topk=select_topk)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_sce_weights_follow_energy_and_signs():
    from diversa.combine.merge.sce import sce_tensor

    taus = [torch.tensor([1.0, 1.0, -1.0]), torch.tensor([3.0, -3.0, 0.0])]  # energies 1 and 6: eta 1/7, 6/7
    out = sce_tensor(taus)
    # entry 0: both agree -> (1/7 * 1 + 6/7 * 3) / 1; entry 1: sum -2 < 0, only task 1 -> -3;
    # entry 2: sum -1 < 0, only task 0 (a zero has no sign) -> -1
    torch.testing.assert_close(out, torch.tensor([19 / 7, -3.0, -1.0]))
    torch.testing.assert_close(sce_tensor([torch.zeros(3), torch.zeros(3)]), torch.zeros(3))


def test_sce_bad_input():
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.sce import sce_merging

    a = {"w": torch.randn(3, 3)}
    with pytest.raises(ValueError, match="select_topk must lie in"):
        sce_merging(a, [a], select_topk=1.5)
    with pytest.raises(TypeError, match="select_topk must be a number"):
        sce_merging(a, [a], select_topk="all")
    with pytest.raises(ValueError, match="base"):
        sce_merging(None, [a])
    with pytest.raises(ValueError, match=r"parameters.select_topk must lie in \[0, 1\], got -0.5"):
        parse_config({"merge_method": "sce", "base_model": "/b", "models": [{"model": "/m"}],
                      "parameters": {"select_topk": -0.5}})


# --- Karcher mean -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("max_iter,tol", [(10, 1e-5), (1, 1e-5), (50, 1e-7)])
def test_karcher(n, max_iter, tol):
    from diversa.combine.merge.karcher import karcher_mean

    g = torch.Generator().manual_seed(10)
    common = torch.randn(8, 9, generator=g)
    models = [common + 0.7 * torch.randn(8, 9, generator=g) for _ in range(n)]
    out = api.merge_tensors(models, "karcher", parameters={"max_iter": max_iter, "tol": tol})
    ours = karcher_mean([single_tensor_sd(m) for m in models], max_iter=max_iter, tol=tol)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_karcher_properties():
    from diversa.combine.merge.karcher import karcher_tensor

    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(11))
    torch.testing.assert_close(karcher_tensor([x, 3 * x]), 2 * x)  # one direction, mean norm
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    torch.testing.assert_close(karcher_tensor([a, b]), 1.5 * torch.tensor([0.5 ** 0.5, 0.5 ** 0.5]))
    zero = torch.zeros(3)
    out = api.merge_tensors([zero, torch.tensor([1.0, 2.0, 2.0])], "karcher")
    torch.testing.assert_close(karcher_tensor([zero, torch.tensor([1.0, 2.0, 2.0])]), out)  # half the norm
    torch.testing.assert_close(karcher_tensor([zero, zero]), zero)


def test_karcher_bad_input():
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.karcher import karcher_mean

    a = {"w": torch.randn(3, 3)}
    with pytest.raises(ValueError, match="max_iter must be a non-negative integer"):
        karcher_mean([a, a], max_iter=-1)
    with pytest.raises(ValueError, match="tol must be a positive number"):
        karcher_mean([a, a], tol=0.0)
    with pytest.raises(ValueError, match="parameters.max_iter must be an integer"):
        parse_config({"merge_method": "karcher", "models": [{"model": "/a"}, {"model": "/b"}],
                      "parameters": {"max_iter": 2.5}})


# --- nuslerp and multislerp -------------------------------------------------------------------------------------

@pytest.mark.parametrize("with_base", [True, False])
@pytest.mark.parametrize("row_wise,flatten", [(False, True), (False, False), (True, False), (True, True)])
@pytest.mark.parametrize("weights", [[0.3, 0.9], [1.0, -1.0]])
@pytest.mark.parametrize("shape", [(12, 7), (10,), (3, 4, 5)])
def test_nuslerp(tensors, with_base, row_wise, flatten, weights, shape):
    from diversa.combine.merge.slerp import nuslerp

    g = torch.Generator().manual_seed(12)
    base = torch.randn(shape, generator=g)
    models = [base + 0.5 * torch.randn(shape, generator=g) for _ in range(2)]
    parameters = {"nuslerp_row_wise": row_wise, "nuslerp_flatten": flatten}
    if with_base:
        out = _mergekit([base] + models, "nuslerp", weight={1: weights[0], 2: weights[1]}, **parameters)
    else:
        out = api.merge_tensors(models, "nuslerp", parameters={"weight": weights, **parameters})
    ours = nuslerp(single_tensor_sd(base) if with_base else None, [single_tensor_sd(m) for m in models], weights, row_wise, flatten)["w"]
    torch.testing.assert_close(ours, out, **TOL)


@pytest.mark.parametrize("with_base", [True, False])
@pytest.mark.parametrize("normalize_weights", [True, False])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_multislerp(with_base, normalize_weights, n):
    from diversa.combine.merge.slerp import multislerp

    g = torch.Generator().manual_seed(13)
    base = torch.randn(9, 6, generator=g)
    models = [base + 0.5 * torch.randn(9, 6, generator=g) for _ in range(n)]
    weights = [0.3, 0.9, 0.5, 1.2][:n]
    if with_base:
        out = _mergekit([base] + models, "multislerp", weight=dict(enumerate(weights, 1)),
                        normalize_weights=normalize_weights)
    else:
        out = api.merge_tensors(models, "multislerp",
                                parameters={"weight": weights, "normalize_weights": normalize_weights})
    ours = multislerp(single_tensor_sd(base) if with_base else None, [single_tensor_sd(m) for m in models], weights,
                      normalize_weights=normalize_weights)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_multislerp_antipodal_and_bad_input():
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.slerp import multislerp, multislerp_tensor, nuslerp

    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(14))
    out = api.merge_tensors([x, -x], "multislerp", parameters={"weight": [1.0, 1.0]})
    torch.testing.assert_close(multislerp_tensor([x, -x], [1.0, 1.0]), out, **TOL)  # linear fallback
    with pytest.raises(ValueError, match="weighted mean direction"):
        multislerp_tensor([x, -x, x, -x], [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="weights sum to"):
        multislerp_tensor([x, 2 * x], [1.0, -1.0])
    a = {"w": x}
    with pytest.raises(ValueError, match="exactly two models"):
        nuslerp(a, [a, a, a])
    with pytest.raises(ValueError, match="weights has 3 entries for 2 models"):
        multislerp(None, [a, a], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="nuslerp_row_wise|row_wise must be"):
        nuslerp(None, [a, a], nuslerp_row_wise="yes")
    cfg = parse_config({"merge_method": "multislerp", "models": [{"model": "/a"}, {"model": "/b"}]})
    assert cfg.base_model is None and cfg.arguments_for("w")["weights"] == [1.0, 1.0]
    with pytest.raises(ValueError, match="parameters.normalize_weights must be true or false"):
        parse_config({"merge_method": "multislerp", "models": [{"model": "/a"}],
                      "parameters": {"normalize_weights": 1}})


@pytest.mark.parametrize("method,model1,model2,params", [
    ("multislerp", "weight: 0.4", "weight: 1.1", "normalize_weights: true"),
    ("nuslerp", "weight: 0.4", "weight: 1.1", "nuslerp_row_wise: true, nuslerp_flatten: false"),
    ("karcher", "", "", "max_iter: 20"),
    ("passthrough", "scale: [{filter: mlp, value: 0.5}, {value: 1.0}]", None, ""),
])
def test_yaml_without_base_gives_mergekits_result(tmp_path, method, model1, model2, params):
    text = GENERIC_YAML.format(method=method, root=tmp_path, model1=model1, model2=model2, params=params)
    drop = ("/base", "/m2", "{None}") if model2 is None else ("/base",)
    text = "\n".join(line for line in text.splitlines() if not any(d in line for d in drop)) + "\n"
    ours, theirs = _run_both(tmp_path, text)
    assert set(ours) == set(theirs)
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], **TOL, msg=key)


# --- NearSwap and passthrough -----------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [0.0, 1e-4, 0.05, 0.3, 10.0])
def test_nearswap(tensors, t):
    from diversa.combine.merge.nearswap import nearswap

    out = _mergekit(tensors[:2], "nearswap", t=t)
    ours = nearswap(single_tensor_sd(tensors[0]), [single_tensor_sd(tensors[1])], t=t)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_nearswap_swaps_near_values_and_moves_far_ones_by_t():
    from diversa.combine.merge.nearswap import nearswap_tensor

    a, b = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.05, 1.0, 1.0])
    torch.testing.assert_close(nearswap_tensor(0.1, a, b), torch.tensor([0.05, 0.1, 1.0]))


@pytest.mark.parametrize("scale", [None, 0.5])
def test_passthrough(tensors, scale):
    from diversa.combine.merge.passthrough import passthrough

    out = api.merge_tensors(tensors[1:2], "passthrough", parameters={"scale": [scale]})
    ours = passthrough([single_tensor_sd(tensors[1])], 1.0 if scale is None else scale)["w"]
    torch.testing.assert_close(ours, out, atol=0, rtol=0)
    assert ours.data_ptr() != tensors[1].data_ptr()  # a new tensor, never the input


def test_nearswap_and_passthrough_bad_input():
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.nearswap import nearswap
    from diversa.combine.merge.passthrough import passthrough

    a = {"w": torch.randn(3, 3)}
    with pytest.raises(ValueError, match="t must be a non-negative number"):
        nearswap(a, [a], t=-0.1)
    with pytest.raises(ValueError, match="exactly one model"):
        nearswap(a, [a, a], t=0.1)
    with pytest.raises(ValueError, match="exactly one model"):
        passthrough([a, a])
    with pytest.raises(ValueError, match="scale must be finite"):
        passthrough([a], scale=float("inf"))
    with pytest.raises(ValueError, match="needs parameter 't'"):
        parse_config({"merge_method": "nearswap", "base_model": "/b", "models": [{"model": "/m"}]})
    with pytest.raises(ValueError, match=r"models\[0\].parameters.scale must be a number"):
        parse_config({"merge_method": "passthrough", "models": [{"model": "/m", "parameters": {"scale": "x"}}]})


# --- Task Arithmetic with normalize -----------------------------------------------------------------------------

@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("lam", [1.0, 0.6])
def test_task_arithmetic_normalize(tensors, normalize, lam):
    from diversa.combine.merge import task_arithmetic

    out = _mergekit(tensors, "task_arithmetic", weight=W, normalize=normalize, **{"lambda": lam})
    ours = task_arithmetic(single_tensor_sd(tensors[0]), [single_tensor_sd(t) for t in tensors[1:]], scaling=lam, weights=list(W.values()),
                           normalize=normalize)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_task_arithmetic_normalize_bad_input():
    from diversa.combine.merge import task_arithmetic

    a = {"w": torch.randn(3, 3)}
    with pytest.raises(ValueError, match="weights sum to"):
        task_arithmetic(a, [a, a], weights=[1.0, -1.0], normalize=True)
    with pytest.raises(TypeError, match="normalize must be true or false"):
        task_arithmetic(a, [a], normalize="yes")


# --- the README's method table ----------------------------------------------------------------------------------

def test_readme_lists_every_mergekit_method_with_its_status():
    import re
    from pathlib import Path

    from mergekit.merge_methods.registry import registered_methods

    from diversa.combine.merge.config import METHODS

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", readme, flags=re.M))
    assert set(rows) == {m.spec.name for m in registered_methods()}
    for name, status in rows.items():
        assert status.strip().startswith("✔") == (name in METHODS), name


# --- the shared conventions -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["slerp", "nuslerp", "multislerp", "karcher", "model_stock", "breadcrumbs",
                                    "della", "sce", "nearswap", "arcee_fusion", "ram", "ramplus_tl",
                                    "passthrough"])
def test_inputs_untouched_outputs_new_and_in_the_base_dtype(sds, method):
    from merge_helpers import assert_unchanged, snapshot

    import diversa.combine.merge as dm

    base, models = sds
    base = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in base.items()}
    calls = {
        "slerp": lambda: dm.slerp(base, models[:1], t=0.3),
        "nuslerp": lambda: dm.nuslerp(base, models[:2]),
        "multislerp": lambda: dm.multislerp(base, models),
        "karcher": lambda: dm.karcher_mean([base] + models),
        "model_stock": lambda: dm.model_stock(base, models),
        "breadcrumbs": lambda: dm.breadcrumbs_merging(base, models, density=0.5, gamma=0.1, combine="ties"),
        "della": lambda: dm.della_merging(base, models, density=0.5, random_state=0),
        "sce": lambda: dm.sce_merging(base, models, select_topk=0.5),
        "nearswap": lambda: dm.nearswap(base, models[:1], t=0.05),
        "arcee_fusion": lambda: dm.arcee_fusion(base, models[:1]),
        "ram": lambda: dm.ram_merging(base, models),
        "ramplus_tl": lambda: dm.ramplus_tl_merging(base, models, r=0.5),
        "passthrough": lambda: dm.passthrough([base]),
    }
    before = snapshot(base, models)
    out = calls[method]()
    assert_unchanged(before, (base, models))
    assert set(out) == set(base)
    for key, value in out.items():
        assert value.dtype == base[key].dtype and value.data_ptr() != base[key].data_ptr(), key
