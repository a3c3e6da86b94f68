"""Permutation specs from checkpoint tensor names and shapes, for models with no code at hand.

A safetensors checkpoint holds only named tensors, so its permutation spec
(Ainsworth et al., "Git Re-Basin", arXiv:2209.04836) must come from a naming
convention. Two are recognised; anything else is refused with an error naming
the first tensor that fits neither, since a guessed spec would silently change
the merged model's function.

``"mlp"``: a plain stack of linear layers. Every tensor is ``PREFIX.weight``
(2-D) or ``PREFIX.bias`` (1-D, with a weight of the same prefix); the layers
are ordered by their prefixes in natural order (``layer2`` before
``layer10``) and each layer's input width must equal the previous layer's
output width. Between consecutive layers lies one hidden permutation; the
first layer's inputs and the last layer's outputs are never permuted. The
convention cannot see activations or skip connections: a model whose tensors
look like a stack but whose forward adds a skip connection around layers is
not a stack, and must be aligned in Python with a traced spec instead
(:func:`diversa.combine.permute.permutation_spec`).

``"llama"``: Hugging Face Llama-style decoders (Llama, Mistral, Qwen2 names):
``[model.]embed_tokens``, ``layers.N.self_attn.{q,k,v,o}_proj``,
``layers.N.mlp.{gate,up,down}_proj``, ``layers.N.{input,post_attention}_layernorm``,
``[model.]norm`` and ``lm_head`` (optional when tied). Permutations: one for
the residual stream shared by every layer (RMSNorm commutes with reordering
channels), one for each layer's MLP hidden units, and -- when ``config``
(the model's ``config.json``) gives ``num_attention_heads`` -- one for each
layer's key/value heads, each moving as a unit with the group of query heads
that share it (rotary embeddings act within a head, so whole heads may move).
Without head counts the attention's inner dimensions stay in place.

``"auto"``: ``"llama"`` when a tensor is named like a Llama attention
projection, else ``"mlp"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from diversa.combine.permute.spec import AxisPerm, PermutationSpec

__all__ = ["ARCHITECTURES", "checkpoint_spec"]

ARCHITECTURES = ("auto", "mlp", "llama")

_LLAMA_LAYER = re.compile(
    r"^(?P<prefix>(?:model\.)?)layers\.(?P<i>\d+)\.(?P<part>self_attn\.(?:q|k|v|o)_proj|mlp\.(?:gate|up|down)_proj|"
    r"input_layernorm|post_attention_layernorm)\.(?P<kind>weight|bias)$")
_LLAMA_GLOBAL = re.compile(r"^(?:model\.)?(?P<part>embed_tokens|norm)\.weight$|^(?P<head>lm_head)\.weight$")


def _natural(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def checkpoint_spec(shapes: Mapping[str, Sequence[int]], architecture: str = "auto",
                    config: Mapping | None = None) -> PermutationSpec:
    """A :class:`PermutationSpec` for a checkpoint with tensors ``{name: shape}`` (see the module docstring).

    ``architecture``: ``"auto"``, ``"mlp"`` or ``"llama"``; ``config``: the
    parsed ``config.json`` (head counts for ``"llama"``). Raises
    ``ValueError`` naming the first tensor the convention cannot place.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    shapes = {k: tuple(int(d) for d in v) for k, v in shapes.items()}
    if not shapes:
        raise ValueError("the checkpoint holds no tensors")
    if architecture == "auto":
        llama = any(_LLAMA_LAYER.match(k) and ".self_attn." in k for k in shapes)
        architecture = "llama" if llama else "mlp"
    return _llama_spec(shapes, config or {}) if architecture == "llama" else _mlp_spec(shapes)


def _mlp_spec(shapes: dict[str, tuple[int, ...]]) -> PermutationSpec:
    layers: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, shape in shapes.items():
        prefix, _, kind = key.rpartition(".")
        if kind not in ("weight", "bias") or not prefix or len(shape) != (2 if kind == "weight" else 1):
            raise ValueError(f"permute (mlp): tensor {key!r} with shape {list(shape)} is not the weight (2-D) or "
                             "bias (1-D) of a linear layer; this checkpoint is not a plain stack of linear layers "
                             "(declare permute: llama for Llama-style models, or align it in Python with a traced "
                             "spec)")
        layers.setdefault(prefix, {})[kind] = shape
    order = sorted(layers, key=_natural)
    for prefix in order:
        if "weight" not in layers[prefix]:
            raise ValueError(f"permute (mlp): tensor {prefix + '.bias'!r} has no weight {prefix + '.weight'!r}")
        out = layers[prefix]["weight"][0]
        if "bias" in layers[prefix] and layers[prefix]["bias"][0] != out:
            raise ValueError(f"permute (mlp): tensor {prefix + '.bias'!r} has {layers[prefix]['bias'][0]} entries "
                             f"for {out} outputs")
    if len(order) < 2:
        raise ValueError("permute (mlp): a single linear layer has no hidden units to permute")
    axes: dict[str, tuple] = {}
    sizes: dict[str, int] = {}
    previous = None
    for i, prefix in enumerate(order):
        out, inp = layers[prefix]["weight"]
        if previous is not None and inp != layers[previous]["weight"][0]:
            raise ValueError(f"permute (mlp): layer {prefix!r} takes {inp} inputs but the previous layer "
                             f"{previous!r} has {layers[previous]['weight'][0]} outputs; the tensors do not form "
                             "a stack of linear layers")
        p_out = f"P_{prefix}" if i < len(order) - 1 else None
        p_in = f"P_{previous}" if previous is not None else None
        if p_out:
            sizes[p_out] = out
        axes[f"{prefix}.weight"] = (p_out, p_in)
        if "bias" in layers[prefix] and p_out:
            axes[f"{prefix}.bias"] = (p_out,)
        previous = prefix
    return PermutationSpec(axes, sizes)


def _config_int(config: Mapping, name: str, default=None):
    value = config.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"permute (llama): config.json {name} must be a positive int, got {value!r}")
    return value


def _llama_spec(shapes: dict[str, tuple[int, ...]], config: Mapping) -> PermutationSpec:
    layers: dict[int, dict[str, tuple[int, ...]]] = {}
    globals_: dict[str, str] = {}
    for key, shape in shapes.items():
        m = _LLAMA_LAYER.match(key)
        if m:
            layers.setdefault(int(m["i"]), {})[f"{m['part']}.{m['kind']}"] = key
            continue
        g = _LLAMA_GLOBAL.match(key)
        if g:
            globals_[g["part"] or g["head"]] = key
            continue
        raise ValueError(f"permute (llama): tensor {key!r} is not part of a Llama-style decoder (embed_tokens, "
                         "layers.N.self_attn.{q,k,v,o}_proj, layers.N.mlp.{gate,up,down}_proj, layer norms, norm, "
                         "lm_head); this checkpoint's permutation symmetries are unknown")
    if "embed_tokens" not in globals_:
        raise ValueError("permute (llama): the checkpoint has no embed_tokens.weight")
    hidden = shapes[globals_["embed_tokens"]][1]
    heads = _config_int(config, "num_attention_heads")
    kv_heads = _config_int(config, "num_key_value_heads", heads)
    head_dim = _config_int(config, "head_dim", hidden // heads if heads else None)
    axes: dict[str, tuple] = {}
    sizes = {"P_residual": hidden}
    res = AxisPerm("P_residual")
    axes[globals_["embed_tokens"]] = (None, res)
    if "norm" in globals_:
        axes[globals_["norm"]] = (res,)
    if "lm_head" in globals_:
        axes[globals_["lm_head"]] = (None, res)
    for i, parts in sorted(layers.items()):
        def need(part, i=i, parts=parts):
            if part not in parts:
                raise ValueError(f"permute (llama): layer {i} has no {part}")
            return parts[part]
        mlp = f"P_mlp.{i}"
        sizes[mlp] = shapes[need("mlp.up_proj.weight")][0]
        heads_perm = None
        if heads is not None:
            q_rows, k_rows = shapes[need("self_attn.q_proj.weight")][0], shapes[need("self_attn.k_proj.weight")][0]
            if q_rows != heads * head_dim or k_rows != kv_heads * head_dim or heads % kv_heads:
                raise ValueError(f"permute (llama): layer {i}: q_proj has {q_rows} rows and k_proj {k_rows}, which "
                                 f"do not fit {heads} heads, {kv_heads} key/value heads of size {head_dim} "
                                 "(config.json)")
            heads_perm = f"P_heads.{i}"
            sizes[heads_perm] = kv_heads
        group = heads // kv_heads if heads is not None else 1
        kv_axis = AxisPerm(heads_perm, head_dim) if heads_perm else None
        q_axis = AxisPerm(heads_perm, head_dim * group) if heads_perm else None
        for proj, rows in (("q", q_axis), ("k", kv_axis), ("v", kv_axis)):
            axes[need(f"self_attn.{proj}_proj.weight")] = (rows, res)
            if f"self_attn.{proj}_proj.bias" in parts:
                axes[parts[f"self_attn.{proj}_proj.bias"]] = (rows,)
        axes[need("self_attn.o_proj.weight")] = (res, q_axis)
        for gate in ("gate", "up"):
            axes[need(f"mlp.{gate}_proj.weight")] = (AxisPerm(mlp), res)
            if f"mlp.{gate}_proj.bias" in parts:
                axes[parts[f"mlp.{gate}_proj.bias"]] = (AxisPerm(mlp),)
        axes[need("mlp.down_proj.weight")] = (res, AxisPerm(mlp))
        for bias in ("self_attn.o_proj.bias", "mlp.down_proj.bias"):
            if bias in parts:
                axes[parts[bias]] = (res,)
        for norm in ("input_layernorm.weight", "post_attention_layernorm.weight"):
            axes[need(norm)] = (res,)
        unknown = set(parts) - {k for k in parts if parts[k] in axes}
        if unknown:
            raise ValueError(f"permute (llama): layer {i}: tensors {sorted(unknown)} are not understood")
    return PermutationSpec(axes, sizes)
