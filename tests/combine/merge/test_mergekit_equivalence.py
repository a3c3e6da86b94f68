"""Equivalence with mergekit (>= 0.1.5, in the ``test`` extra) for every method both implement.

Shared methods: ``linear``, ``task_arithmetic``, ``ties``, ``dare_ties`` and
``dare_linear``. Tensor level: diversa's pure functions against mergekit's
in-memory ``merge_tensors`` over the parameters each method takes
(per-model weight and density, ``normalize``, ``lambda``, ``rescale``), DARE
under the same global seed. Config level: the same YAML file through
``mergekit.merge.run_merge`` and through diversa's engine on tiny Llama
checkpoints, with per-model, global and filtered parameters (including a filter
list that matches no tensor, which falls back to the next level).
"""

import warnings

import pytest
import torch

from diversa.combine.merge import dare_merging, task_arithmetic, ties_merging, weight_average
from merge_helpers import single_tensor_sd

api = pytest.importorskip("mergekit.merge_methods.api")



W = {1: 0.5, 2: 1.0, 3: 1.5}


def _mergekit(tensors, method, **parameters):
    """mergekit's merge of ``tensors[1:]`` onto ``tensors[0]`` (per-input parameters keyed by index)."""
    return api.merge_tensors(tensors, method, parameters=parameters, base_index=0)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("lam", [1.0, 0.7])
@pytest.mark.parametrize("density", [0.4, [0.2, 0.5, 0.9]])
def test_ties(tensors, normalize, lam, density):
    dens = density if isinstance(density, list) else [density] * 3
    out = _mergekit(tensors, "ties", weight=W, density=dict(zip(W, dens)), normalize=normalize,
                    **{"lambda": lam})
    ours = ties_merging(single_tensor_sd(tensors[0]), [single_tensor_sd(t) for t in tensors[1:]], density=dens, weights=list(W.values()),
                        scaling=lam, normalize=normalize, convention="mergekit")["w"]
    torch.testing.assert_close(ours, out, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("density", [0.005, 0.0])
def test_ties_kept_count_rounding_to_zero(tensors, density):
    # mergekit's sparsify.magnitude: k = max(1, int(density * numel)) when density > 0, nothing when density <= 0
    out = _mergekit(tensors, "ties", weight=W, density={i: density for i in W})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = ties_merging(single_tensor_sd(tensors[0]), [single_tensor_sd(t) for t in tensors[1:]], density=density,
                            weights=list(W.values()), convention="mergekit")["w"]
    torch.testing.assert_close(ours, out, atol=1e-6, rtol=1e-6)
    assert bool(caught) == (density > 0)  # keeping one entry where the density asked for none is reported
    changed = int((ours != tensors[0]).sum())  # one kept entry per model, none at density 0
    assert changed == 0 if density == 0 else 1 <= changed <= 3


@pytest.mark.parametrize("method,combine", [("dare_linear", "task_arithmetic"), ("dare_ties", "ties")])
@pytest.mark.parametrize("rescale", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_dare_with_same_global_seed(tensors, method, combine, rescale, normalize):
    torch.manual_seed(4)
    out = _mergekit(tensors, method, weight=W, density={1: 0.3, 2: 0.6, 3: 0.9}, rescale=rescale,
                    normalize=normalize, **{"lambda": 1.3})
    torch.manual_seed(4)
    ours = dare_merging(single_tensor_sd(tensors[0]), [single_tensor_sd(t) for t in tensors[1:]], drop_rate=[0.7, 0.4, 0.1], combine=combine,
                        weights=list(W.values()), rescale="l1" if rescale else "none", scaling=1.3,
                        normalize=normalize, convention="mergekit")["w"]
    torch.testing.assert_close(ours, out, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
def test_linear(tensors, normalize):
    out = api.merge_tensors(tensors, "linear", parameters={"weight": [1.0, 2.0, 3.0, 4.0], "normalize": normalize})
    ours = weight_average([single_tensor_sd(t) for t in tensors], [1.0, 2.0, 3.0, 4.0], normalize=normalize)["w"]
    torch.testing.assert_close(ours, out)


@pytest.mark.parametrize("lam", [1.0, 0.6])
def test_task_arithmetic(tensors, lam):
    out = _mergekit(tensors, "task_arithmetic", weight=W, **{"lambda": lam})
    ours = task_arithmetic(single_tensor_sd(tensors[0]), [single_tensor_sd(t) for t in tensors[1:]], scaling=[lam * w for w in W.values()])["w"]
    torch.testing.assert_close(ours, out, atol=1e-6, rtol=1e-6)


YAML = """\
merge_method: {method}
base_model: {root}/base
models:
  - model: {root}/base
  - model: {root}/m1
    parameters:
      weight: [{{filter: mlp, value: 0.3}}, {{filter: self_attn, value: 1.4}}]
      density: 0.6
  - model: {root}/m2
    parameters:
      weight: 0.8
      density: [{{filter: no_such_tensor, value: 0.1}}]
parameters:
  weight: 0.5
  density: [{{filter: embed, value: 0.3}}, {{filter: "*", value: 0.7}}]
  {extra}
dtype: float32
"""


def _llama_zoo(root, layers=2):
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(hidden_size=16, intermediate_size=24, num_hidden_layers=layers,
                                      num_attention_heads=2, num_key_value_heads=2, vocab_size=32,
                                      max_position_embeddings=16, tie_word_embeddings=False)
    torch.manual_seed(0)
    base = transformers.LlamaForCausalLM(config)
    base.save_pretrained(root / "base")
    for i, name in enumerate(("m1", "m2")):
        model = transformers.LlamaForCausalLM(config)
        g = torch.Generator().manual_seed(i + 1)
        with torch.no_grad():
            for p, q in zip(model.parameters(), base.parameters()):
                p.copy_(q + 0.05 * torch.randn(q.shape, generator=g))
        model.save_pretrained(root / name)


@pytest.mark.parametrize("method,extra", [
    ("ties", "lambda: [{filter: mlp, value: 1.5}, {filter: attn, value: 0.9}]\n  normalize: true"),
    ("ties", "normalize: false"),
    ("task_arithmetic", "lambda: 0.8"),
    ("linear", "normalize: true"),
])
def test_yaml_configs_give_mergekits_result(tmp_path, method, extra):
    """The same YAML through mergekit's run_merge and diversa's engine (filters, fallbacks, defaults)."""
    from safetensors.torch import load_file

    from diversa.combine.merge.config import load_config
    from diversa.combine.merge.engine import merge_checkpoints

    merge = pytest.importorskip("mergekit.merge")
    mk_config = pytest.importorskip("mergekit.config")
    mk_options = pytest.importorskip("mergekit.options")
    import yaml

    _llama_zoo(tmp_path)
    text = YAML.format(method=method, root=tmp_path, extra=extra)
    if method != "ties":  # no density
        text = "\n".join(line for line in text.splitlines() if "density" not in line) + "\n"
    if method == "linear":
        text = text.replace(f"base_model: {tmp_path}/base\n", "")
    (tmp_path / "merge.yaml").write_text(text)
    merge.run_merge(mk_config.MergeConfiguration.model_validate(yaml.safe_load(text)), str(tmp_path / "mk"),
                    options=mk_options.MergeOptions(copy_tokenizer=False, lazy_unpickle=False))
    merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "dv")
    theirs = {}
    for shard in (tmp_path / "mk").glob("*.safetensors"):
        theirs.update(load_file(shard))
    ours = load_file(tmp_path / "dv" / "model.safetensors")
    assert set(ours) == set(theirs)
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], atol=1e-6, rtol=1e-6, msg=key)
