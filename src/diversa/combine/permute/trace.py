"""Derive a model's permutation spec automatically by tracing its module graph.

Weight matching and activation matching (Ainsworth, Hayase, Srinivasa, "Git
Re-Basin", ICLR 2023, arXiv:2209.04836) need to know which tensors share a
permutation. Git re-basin writes this spec by hand for each architecture; its
users asked for it to come from an arbitrary PyTorch model (samuela/git-re-basin
#1) and for multi-head attention (#6). :func:`permutation_spec` traces the model
with ``torch.fx``, runs it once on ``example_inputs`` to learn every value's
shape, and follows the *feature space* of each value's channel axis through the
graph with a union-find:

* a ``Linear``, ``Conv``, ``Embedding`` or attention output projection opens a
  new space (its output units may be reordered); its weight's input axis takes
  the space of its input;
* norms (BatchNorm with its running statistics, LayerNorm, RMSNorm, GroupNorm
  with 1 or C groups), element-wise activations, dropout, pooling and
  reductions over other axes keep the space; their per-channel tensors carry it;
* adding or multiplying two values (residual connections, gates) unites their
  spaces, so a residual stream shares one permutation across every block;
* ``flatten``/``view`` of a convolution's channels into a linear layer's input
  makes each channel a block of ``H * W`` entries; permuting and transposing
  axes moves the channel axis;
* ``nn.MultiheadAttention`` permutes its heads as units: one permutation of
  ``num_heads`` reorders the heads of the query, key and value projections
  (``in_proj_weight`` rows read as ``(3, heads, head_dim)``) and the matching
  columns of ``out_proj`` (heads are the units the attention mixes within);
* the model's inputs and outputs are observed, so their spaces are never
  permuted.

Anything the tracer does not understand is refused with a ``ValueError``
naming the node or layer (a recurrent layer, a grouped convolution, an
operation that mixes channels such as a cumulative sum over them), rather than
producing a spec that silently changes the model's function. Custom modules
can be given a rule (``rules={MyAttention: my_rule}``; see :class:`RuleContext`)
and are then treated as single nodes. Models whose forward pass has
data-dependent control flow cannot be traced by ``torch.fx``.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from diversa.combine.permute.spec import AxisPerm, PermutationSpec, apply_permutation

__all__ = ["FIXED", "RULES", "Feature", "RuleContext", "capture_activations", "permutation_spec", "permute_model"]

_FIXED = 0  # the class of observed spaces (model inputs and outputs): never permuted


@dataclass(frozen=True)
class Feature:
    """The permutable channel axis of a traced value: its space, axis, and ``(repeat, n, block)`` layout.

    ``dim`` is the channel axis among the value's ``ndim`` axes. A rule may
    return ``dim=-1`` (the last axis) with ``ndim=None``; the tracer fills in
    both from the output's shape.
    """

    space: int
    dim: int
    block: int = 1
    repeat: int = 1
    ndim: int | None = None

    @property
    def last(self) -> bool:
        """The channels are the value's last axis."""
        return self.ndim is not None and self.dim == self.ndim - 1


class _Fixed:
    """A value whose axes are observed (a model input, or computed from inputs only)."""

    def __repr__(self) -> str:
        return "FIXED"


FIXED = _Fixed()


@dataclass(frozen=True)
class _Param:
    """A parameter or buffer read directly by the forward pass (``get_attr``)."""

    key: str
    shape: tuple[int, ...]


class RuleContext:
    """What a layer rule may do while the tracer walks the graph.

    A rule is ``rule(ctx, module, name, args, kwargs) -> value``: ``args`` and
    ``kwargs`` hold the traced values of the call's inputs (a :class:`Feature`,
    :data:`FIXED`, or None for a value without a permuted axis); it returns the
    value of the module's output (a tuple for tuple outputs). It opens spaces
    with :meth:`new_space`, ties parameter axes to spaces with :meth:`assign`
    and unites spaces with :meth:`unite`.
    """

    def __init__(self):
        self._parent = [_FIXED]
        self._size: list[int | None] = [None]
        self._name: list[str] = ["<fixed>"]
        self._assigned: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._sites: list[tuple[int, str, int, int, int]] = []

    # --- spaces -------------------------------------------------------------------------------------
    def new_space(self, size: int, name: str) -> int:
        """A new permutable space of ``size`` units, named after the layer that opens it."""
        self._parent.append(len(self._parent))
        self._size.append(int(size))
        self._name.append(name)
        return len(self._parent) - 1

    def find(self, space: int) -> int:
        while self._parent[space] != space:
            self._parent[space] = self._parent[self._parent[space]]
            space = self._parent[space]
        return space

    def unite(self, a: int, b: int, where: str) -> int:
        """Make spaces ``a`` and ``b`` one (their sizes must agree unless one is fixed)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if _FIXED in (ra, rb):
            self._parent[rb if ra == _FIXED else ra] = _FIXED
            return _FIXED
        if self._size[ra] != self._size[rb]:
            raise ValueError(f"{where}: joins feature spaces of {self._size[ra]} and {self._size[rb]} units")
        low, high = min(ra, rb), max(ra, rb)  # the earliest space names the union
        self._parent[high] = low
        return low

    def fix(self, value, where: str) -> None:
        """Mark every space in ``value`` as observed (never permuted)."""
        for f in _features(value):
            self.unite(f.space, _FIXED, where)

    # --- parameters ---------------------------------------------------------------------------------
    def assign(self, key: str, axis: int, value, block: int | None = None, repeat: int | None = None) -> None:
        """Axis ``axis`` of state-dict tensor ``key`` carries ``value``'s space (a Feature or a space id).

        ``block``/``repeat`` default to the feature's layout. None or FIXED
        leaves the axis unpermuted. Assigning one axis twice (a layer called
        twice) unites the two spaces.
        """
        if value is None or value is FIXED:
            return
        if isinstance(value, Feature):
            space, block, repeat = value.space, block or value.block, repeat or value.repeat
        else:
            space, block, repeat = int(value), block or 1, repeat or 1
        previous = self._assigned.get((key, axis))
        if previous is not None:
            if previous[1:] != (block, repeat):
                raise ValueError(f"tensor {key!r} axis {axis} is read with two different layouts")
            self.unite(previous[0], space, f"tensor {key!r}")
            return
        self._assigned[(key, axis)] = (space, block, repeat)

    def site(self, node_name: str, value) -> None:
        """Record that node ``node_name``'s output carries ``value``'s space (for activation matching)."""
        if isinstance(value, Feature):
            self._sites.append((value.space, node_name, value.dim, value.block, value.repeat))

    # --- result -------------------------------------------------------------------------------------
    def spec(self, shapes: Mapping[str, tuple[int, ...]]) -> PermutationSpec:
        roots = sorted({self.find(s) for s, *_ in self._assigned.values()} - {_FIXED})
        names, used = {}, set()
        for root in roots:
            name = f"P_{self._name[root]}"
            while name in used:
                name += "'"
            used.add(name)
            names[root] = name
        axes: dict[str, list] = {}
        for (key, axis), (space, block, repeat) in sorted(self._assigned.items()):
            root = self.find(space)
            if root == _FIXED:
                continue
            if key not in shapes:
                raise ValueError(f"tensor {key!r} carries permuted channels but is not in the state dict")
            axes.setdefault(key, [None] * len(shapes[key]))[axis] = AxisPerm(names[root], block, repeat)
        sites: dict[str, list] = {}
        for space, node, dim, block, repeat in self._sites:
            root = self.find(space)
            if root in names and block == 1 and repeat == 1:
                sites.setdefault(names[root], []).append((node, dim))
        return PermutationSpec({k: tuple(v) for k, v in axes.items()}, {names[r]: self._size[r] for r in roots},
                               {k: tuple(v) for k, v in sites.items()})


def _features(value) -> list[Feature]:
    """Every feature inside a traced value (nested tuples, lists, dicts)."""
    if isinstance(value, Feature):
        return [value]
    if isinstance(value, (tuple, list)):
        return [f for v in value for f in _features(v)]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _features(v)]
    return []


# ---------------------------------------------------------------------------------------------------
# Layer rules
# ---------------------------------------------------------------------------------------------------

def _channel_last(value, name: str, layer: str) -> None:
    if isinstance(value, Feature) and not value.last:
        raise ValueError(f"layer {name!r} ({layer}) reads a value whose permuted channels are on axis "
                         f"{value.dim} of {value.ndim}, not the last axis")


def _linear(ctx: RuleContext, m: nn.Linear, name: str, args, kwargs):
    x = args[0]
    _channel_last(x, name, "Linear")
    ctx.assign(f"{name}.weight", 1, x)
    out = ctx.new_space(m.out_features, name)
    ctx.assign(f"{name}.weight", 0, out)
    if m.bias is not None:
        ctx.assign(f"{name}.bias", 0, out)
    return Feature(out, -1)


def _conv(ctx: RuleContext, m, name: str, args, kwargs):
    x = args[0]
    if isinstance(x, Feature) and (x.dim != 1 or x.block != 1 or x.repeat != 1):
        raise ValueError(f"layer {name!r} ({type(m).__name__}) reads a value whose permuted channels are "
                         "not its axis 1")
    transposed = isinstance(m, nn.modules.conv._ConvTransposeNd)
    in_axis, out_axis = (0, 1) if transposed else (1, 0)
    if m.groups == 1:
        ctx.assign(f"{name}.weight", in_axis, x)
        out = ctx.new_space(m.out_channels, name)
    elif m.groups == m.in_channels == m.out_channels and not transposed:
        # depthwise: each channel keeps its own filter, so output channels follow input channels
        out = x.space if isinstance(x, Feature) else ctx.new_space(m.out_channels, name)
        if x is FIXED:
            return FIXED
    else:
        raise ValueError(f"layer {name!r}: {type(m).__name__} with groups={m.groups} is not supported (only "
                         "groups=1 and depthwise convolutions keep a per-channel permutation symmetry)")
    ctx.assign(f"{name}.weight", out_axis, out)
    if m.bias is not None:
        ctx.assign(f"{name}.bias", 0, out)
    return Feature(out, 1)


def _per_channel(ctx: RuleContext, name: str, x, tensors: Sequence[str], layer: str, dim: int | None):
    """Tensors of one value per channel, on channel axis ``dim`` (None: the last axis)."""
    if isinstance(x, Feature):
        axis_ok = x.last if dim is None else x.dim == dim
        if not axis_ok or x.block != 1 or x.repeat != 1:
            raise ValueError(f"layer {name!r} ({layer}) acts per channel on an axis that is not the permuted "
                             "channel axis of its input")
        for t in tensors:
            ctx.assign(f"{name}.{t}", 0, x)
    return x


def _batch_norm(ctx: RuleContext, m, name: str, args, kwargs):
    tensors = [t for t in ("weight", "bias", "running_mean", "running_var") if getattr(m, t) is not None]
    return _per_channel(ctx, name, args[0], tensors, type(m).__name__, 1)


def _group_norm(ctx: RuleContext, m: nn.GroupNorm, name: str, args, kwargs):
    if m.num_groups not in (1, m.num_channels):
        raise ValueError(f"layer {name!r}: GroupNorm with {m.num_groups} groups of {m.num_channels} channels ties "
                         "channels into groups; only 1 or num_channels groups are supported")
    return _per_channel(ctx, name, args[0], ["weight", "bias"] if m.affine else [], "GroupNorm", 1)


def _layer_norm(ctx: RuleContext, m, name: str, args, kwargs):
    if len(tuple(m.normalized_shape)) != 1 and isinstance(args[0], Feature):
        raise ValueError(f"layer {name!r} ({type(m).__name__}) normalizes {len(m.normalized_shape)} axes; only "
                         "a norm over the permuted last axis is supported")
    tensors = [t for t in ("weight", "bias") if getattr(m, t, None) is not None]
    return _per_channel(ctx, name, args[0], tensors, type(m).__name__, None)


def _embedding(ctx: RuleContext, m: nn.Embedding, name: str, args, kwargs):
    out = ctx.new_space(m.embedding_dim, name)
    ctx.assign(f"{name}.weight", 1, out)
    return Feature(out, -1)


def _prelu(ctx: RuleContext, m: nn.PReLU, name: str, args, kwargs):
    if m.num_parameters == 1:
        return args[0]
    return _per_channel(ctx, name, args[0], ["weight"], "PReLU", 1)


def _multihead_attention(ctx: RuleContext, m: nn.MultiheadAttention, name: str, args, kwargs):
    if not m._qkv_same_embed_dim or m.bias_k is not None:
        raise ValueError(f"layer {name!r}: MultiheadAttention with separate kdim/vdim or add_bias_kv is not "
                         "supported")
    q = args[0]
    k = args[1] if len(args) > 1 else kwargs.get("key")
    v = args[2] if len(args) > 2 else kwargs.get("value")
    space = None
    for x in (q, k, v):
        if isinstance(x, Feature):
            _channel_last(x, name, "MultiheadAttention")
            if x.block != 1 or x.repeat != 1:
                raise ValueError(f"layer {name!r}: MultiheadAttention reads a flattened block layout")
            space = x.space if space is None else ctx.unite(space, x.space, f"layer {name!r}")
    if space is not None and any(x is FIXED for x in (q, k, v)):
        space = ctx.unite(space, _FIXED, f"layer {name!r}")  # one in_proj_weight reads query, key and value
    ctx.assign(f"{name}.in_proj_weight", 1, space)
    heads = ctx.new_space(m.num_heads, f"{name}.heads")
    ctx.assign(f"{name}.in_proj_weight", 0, heads, block=m.head_dim, repeat=3)
    if m.in_proj_bias is not None:
        ctx.assign(f"{name}.in_proj_bias", 0, heads, block=m.head_dim, repeat=3)
    ctx.assign(f"{name}.out_proj.weight", 1, heads, block=m.head_dim)
    out = ctx.new_space(m.embed_dim, name)
    ctx.assign(f"{name}.out_proj.weight", 0, out)
    if m.out_proj.bias is not None:
        ctx.assign(f"{name}.out_proj.bias", 0, out)
    return (Feature(out, -1), None)


def _passthrough(ctx, m, name, args, kwargs):
    return args[0]


_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.Softplus,
    nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Tanhshrink, nn.Softsign, nn.LogSigmoid,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity,
    nn.Softmax, nn.LogSoftmax,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)

#: Module type -> rule (see :class:`RuleContext`). Softmax and pooling keep the channels: they act per
#: channel or commute with reordering them.
RULES: dict[type, Callable] = {
    nn.Linear: _linear,
    nn.Conv1d: _conv, nn.Conv2d: _conv, nn.Conv3d: _conv,
    nn.ConvTranspose1d: _conv, nn.ConvTranspose2d: _conv, nn.ConvTranspose3d: _conv,
    nn.BatchNorm1d: _batch_norm, nn.BatchNorm2d: _batch_norm, nn.BatchNorm3d: _batch_norm,
    nn.GroupNorm: _group_norm, nn.LayerNorm: _layer_norm, nn.RMSNorm: _layer_norm,
    nn.Embedding: _embedding, nn.PReLU: _prelu, nn.MultiheadAttention: _multihead_attention,
    **{t: _passthrough for t in _ELEMENTWISE_MODULES},
}

#: Layers whose output repeats their input (no new activation site).
_NON_SITE_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)

# ---------------------------------------------------------------------------------------------------
# Functions and tensor methods
# ---------------------------------------------------------------------------------------------------

_UNARY_FUNCTIONS = {
    torch.relu, F.relu, F.relu6, F.gelu, F.silu, F.elu, F.selu, F.celu, F.leaky_relu, F.softplus, F.mish,
    F.hardswish, F.hardtanh, torch.tanh, F.tanh, torch.sigmoid, F.sigmoid, F.logsigmoid, F.dropout,
    torch.exp, torch.abs, torch.neg, operator.neg, torch.square, torch.sqrt, torch.rsqrt, torch.clamp, torch.clip,
    F.softmax, F.log_softmax, torch.softmax, torch.log_softmax, F.max_pool1d, F.max_pool2d, F.max_pool3d,
    F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d,
    F.adaptive_avg_pool3d, F.adaptive_max_pool1d, F.adaptive_max_pool2d,
}
#: Methods that change no value (no new activation site); a parameter may pass through them.
_SHAPE_ONLY = {"contiguous", "clone", "float", "double", "half", "to", "type_as", "detach", "expand", "expand_as"}
_UNARY_METHODS = {"relu", "sigmoid", "tanh", "exp", "abs", "neg", "square", "sqrt", "rsqrt", "clamp", "clip",
                  "softmax", "log_softmax", "relu_", "sigmoid_", "tanh_"} | _SHAPE_ONLY
_BINARY_FUNCTIONS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub,
                     operator.imul, operator.itruediv, torch.add, torch.sub, torch.mul, torch.div, torch.maximum,
                     torch.minimum}
_BINARY_METHODS = {"add", "sub", "mul", "div", "add_", "sub_", "mul_", "div_", "maximum", "minimum"}
_REDUCTION_FUNCTIONS = {torch.mean, torch.sum, torch.amax, torch.amin, torch.logsumexp}
_REDUCTION_METHODS = {"mean", "sum", "amax", "amin", "logsumexp"}
_AXIS_FUNCTIONS = {torch.permute: "permute", torch.transpose: "transpose", torch.unsqueeze: "unsqueeze",
                   torch.squeeze: "squeeze"}


def _shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if hasattr(meta, "shape") else None


def _target_name(node: fx.Node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _at(x: Feature, dim: int, ndim: int) -> Feature:
    """``x`` with its channels on axis ``dim`` of ``ndim``."""
    return Feature(x.space, dim, x.block, x.repeat, ndim)


def _resolve(out, meta):
    """Fill in the axis count of the features a rule returned (``dim=-1``: the last axis)."""
    if isinstance(out, Feature):
        if not hasattr(meta, "shape"):
            raise ValueError("a layer rule returned a feature for an output that is not a tensor")
        ndim = len(meta.shape)
        return Feature(out.space, out.dim % ndim, out.block, out.repeat, ndim)
    if isinstance(out, (tuple, list)) and isinstance(meta, (tuple, list)) and len(meta) == len(out):
        return type(out)(_resolve(o, m) for o, m in zip(out, meta))
    return out


def _call_arg(node: fx.Node, index: int, name: str, default=None):
    """A literal argument of a call, by position or keyword."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


class _Walker:
    """Visits the traced graph in order, giving every value its feature (see the module docstring)."""

    def __init__(self, gm: fx.GraphModule, rules: Mapping[type, Callable], state_shapes: Mapping[str, tuple]):
        self.gm, self.rules, self.shapes = gm, rules, state_shapes
        self.ctx = RuleContext()
        self.values: dict[fx.Node, Any] = {}
        self.modules = dict(gm.named_modules())

    def value(self, arg):
        if isinstance(arg, fx.Node):
            return self.values[arg]
        if isinstance(arg, (tuple, list)):
            return type(arg)(self.value(a) for a in arg)
        if isinstance(arg, dict):
            return {k: self.value(v) for k, v in arg.items()}
        return None

    def walk(self) -> PermutationSpec:
        for node in self.gm.graph.nodes:
            self.values[node] = self.visit(node)
        return self.ctx.spec(self.shapes)

    def visit(self, node: fx.Node):
        if node.op == "placeholder":
            return FIXED
        if node.op == "output":
            self.ctx.fix(self.value(node.args), "the model's output")
            return None
        if node.op == "get_attr":
            shape = _shape(node)
            return _Param(str(node.target), shape) if shape is not None else None
        args = [self.value(a) for a in node.args]
        kwargs = {k: self.value(v) for k, v in node.kwargs.items()}
        if node.op == "call_module":
            module = self.modules[str(node.target)]
            out = self.call_module(node, module, args, kwargs)
            site = not isinstance(module, _NON_SITE_MODULES)
        else:
            out = self.call(node, args, kwargs)
            site = not (node.op == "call_method" and node.target in _SHAPE_ONLY)
        if site:
            self.ctx.site(node.name, out)
        return out

    # --- modules ------------------------------------------------------------------------------------
    def call_module(self, node: fx.Node, module: nn.Module, args, kwargs):
        name = str(node.target)
        rule = self.rules.get(type(module))
        if rule is None and isinstance(module, nn.Flatten):
            return self.flatten(node, args[0], module.start_dim, module.end_dim, f"module {name!r} (Flatten)")
        if rule is None:
            if any(True for _ in module.parameters()) or any(True for _ in module.buffers()):
                raise ValueError(f"unsupported layer {name!r} ({type(module).__module__}.{type(module).__name__}): "
                                 "no permutation rule is known for it; pass rules={type: rule} or align without it")
            return self.generic(args, kwargs, f"module {name!r} ({type(module).__name__})")
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, _Param):
                raise ValueError(f"layer {name!r} takes parameter {a.key!r} as an input, which is not supported")
        return _resolve(rule(self.ctx, module, name, args, kwargs), node.meta.get("tensor_meta"))

    # --- functions and methods ----------------------------------------------------------------------
    def call(self, node: fx.Node, args, kwargs):
        target = node.target
        where = f"node {node.name!r} ({_target_name(node)})"
        method = node.op == "call_method"
        x = args[0] if args else None
        if target is operator.getitem:
            return self.getitem(node, x, node.args[1], where)
        if _shape(node) is None and not isinstance(node.meta.get("tensor_meta"), (tuple, list)):
            return None  # shapes, sizes, devices: unchanged by reordering channels
        if (method and target in _UNARY_METHODS) or (not method and target in _UNARY_FUNCTIONS):
            return self.unary(node, x, args[1:], kwargs, where)
        if (method and target in _BINARY_METHODS) or (not method and target in _BINARY_FUNCTIONS):
            raw = list(node.args[:2]) + ([node.kwargs["other"]] if len(node.args) < 2 and "other" in node.kwargs
                                         else [])
            return self.binary(node, raw, where)
        if (method and target in _REDUCTION_METHODS) or (not method and target in _REDUCTION_FUNCTIONS):
            return self.reduce(node, x, _call_arg(node, 1, "dim"), _call_arg(node, 2, "keepdim", False), where)
        if (method and target == "flatten") or target is torch.flatten:
            return self.flatten(node, x, _call_arg(node, 1, "start_dim", 0), _call_arg(node, 2, "end_dim", -1),
                                where)
        if (method and target in ("view", "reshape")) or target is torch.reshape:
            return self.reshape(node, x, where)
        if method and target in ("permute", "transpose", "unsqueeze", "squeeze"):
            return self.move_axes(node, x, target, where)
        if not method and target in _AXIS_FUNCTIONS:
            return self.move_axes(node, x, _AXIS_FUNCTIONS[target], where)
        if target in (torch.cat, torch.concat):
            return self.cat(node, where)
        return self.generic(args, kwargs, where)

    def generic(self, args, kwargs, where: str):
        """An operation of unknown channel behaviour: fine on observed values, refused on permuted ones."""
        flat = list(args) + list(kwargs.values())
        if _features(flat):
            raise ValueError(f"unsupported operation on permuted features at {where}: the tracer does not know "
                             "how it treats channels; give the enclosing module a rule (rules={type: rule}) or "
                             "rewrite it with supported layers")
        params = [a for a in flat if isinstance(a, _Param)]
        if params:
            raise ValueError(f"unsupported use of parameter {params[0].key!r} at {where}")
        if any(a is FIXED or (isinstance(a, (tuple, list)) and FIXED in a) for a in flat):
            return FIXED
        return None

    def unary(self, node, x, rest, kwargs, where):
        if isinstance(x, _Param):
            return x if _target_name(node) in _SHAPE_ONLY else self.generic([x], {}, where)
        if _features(list(rest) + list(kwargs.values())):
            raise ValueError(f"unsupported operation at {where}: a permuted value is used as an argument")
        return x

    def binary(self, node, raw, where):
        """Element-wise: operands' channels must move together (a residual connection unites spaces)."""
        out_shape = _shape(node)
        out_ndim = len(out_shape)
        operands = [self.value(r) for r in raw]
        features = [o for o in operands if isinstance(o, Feature)]
        if not features:
            if any(isinstance(o, _Param) for o in operands) and not any(o is FIXED for o in operands):
                return None
            return FIXED if any(o is FIXED for o in operands) else None
        first = features[0]
        channel = first.dim + out_ndim - first.ndim
        space = first.space
        for f in features[1:]:
            if (f.block, f.repeat) != (first.block, first.repeat) or f.dim + out_ndim - f.ndim != channel:
                raise ValueError(f"unsupported operation at {where}: its operands hold permuted channels on "
                                 "different axes or layouts")
            space = self.ctx.unite(space, f.space, where)
        fixed = False
        for r, o in zip(raw, operands):
            if isinstance(o, Feature):
                continue
            shape = o.shape if isinstance(o, _Param) else _shape(r)
            if shape is None:
                continue  # a Python number
            axis = channel - (out_ndim - len(shape))
            if axis < 0 or shape[axis] == 1:
                continue  # broadcast over the channels
            if isinstance(o, _Param):
                self.ctx.assign(o.key, axis, Feature(space, channel, first.block, first.repeat, out_ndim))
            else:
                fixed = True  # an unpermuted tensor meets the channels entry by entry: they cannot move
        if fixed:
            self.ctx.unite(space, _FIXED, where)
            return FIXED
        return Feature(space, channel, first.block, first.repeat, out_ndim)

    def _not_feature(self, x, where):
        if isinstance(x, _Param):
            return self.generic([x], {}, where)
        return x

    def reduce(self, node, x, dim, keepdim, where):
        if not isinstance(x, Feature):
            return self._not_feature(x, where)
        dims = range(x.ndim) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
        dims = sorted(d % x.ndim for d in dims)
        if x.dim in dims:
            if x.block != 1 or x.repeat != 1:
                raise ValueError(f"unsupported operation at {where}: reduces over a block-structured channel axis")
            return None  # a reduction over all channels does not depend on their order
        if keepdim:
            return x
        return _at(x, x.dim - sum(d < x.dim for d in dims), x.ndim - len(dims))

    def flatten(self, node, x, start, end, where):
        if not isinstance(x, Feature):
            return self._not_feature(x, where)
        shape = _shape(node.args[0])
        start, end = start % x.ndim, end % x.ndim
        out_ndim = x.ndim - (end - start)
        if x.dim < start:
            return _at(x, x.dim, out_ndim)
        if x.dim > end:
            return _at(x, x.dim - (end - start), out_ndim)
        repeat = x.repeat * math.prod(shape[start:x.dim])
        block = x.block * math.prod(shape[x.dim + 1:end + 1])
        return Feature(x.space, start, block, repeat, out_ndim)

    def reshape(self, node, x, where):
        if not isinstance(x, Feature):
            return self._not_feature(x, where)
        shape, out = _shape(node.args[0]), _shape(node)
        for start in range(x.ndim):
            for end in range(start, x.ndim):
                if shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:] == out:
                    return self.flatten(node, x, start, end, where)
        tail = shape[x.dim:]
        if len(out) >= len(tail) and tuple(out[len(out) - len(tail):]) == tuple(tail):
            return _at(x, len(out) - len(tail), len(out))  # only the leading (batch) axes change
        raise ValueError(f"unsupported reshape at {where}: {list(shape)} -> {list(out)} splits or mixes the permuted "
                         f"channel axis {x.dim}")

    def move_axes(self, node, x, name, where):
        if not isinstance(x, Feature):
            return self._not_feature(x, where)
        shape, out = _shape(node.args[0]), _shape(node)
        ndim, rest = x.ndim, list(node.args[1:])
        if name == "permute":
            dims = rest[0] if len(rest) == 1 and isinstance(rest[0], (tuple, list)) else rest
            dims = list(node.kwargs.get("dims", dims))
            return _at(x, [d % ndim for d in dims].index(x.dim), len(out))
        if name == "transpose":
            a, b = (d % ndim for d in (rest + [node.kwargs.get("dim0"), node.kwargs.get("dim1")])[:2])
            return _at(x, b if x.dim == a else a if x.dim == b else x.dim, len(out))
        if name == "unsqueeze":
            d = (rest[0] if rest else node.kwargs["dim"]) % len(out)
            return _at(x, x.dim + (d <= x.dim), len(out))
        if rest or "dim" in node.kwargs:
            d = rest[0] if rest else node.kwargs["dim"]
            removed = [i % ndim for i in (d if isinstance(d, (tuple, list)) else [d]) if shape[i % ndim] == 1]
        else:
            removed = [i for i in range(ndim) if shape[i] == 1]
        if x.dim in removed:
            raise ValueError(f"unsupported operation at {where}: squeezes the permuted channel axis")
        return _at(x, x.dim - sum(i < x.dim for i in removed), len(out))

    def cat(self, node, where):
        tensors = node.args[0] if node.args else node.kwargs["tensors"]
        dim = _call_arg(node, 1, "dim", 0)
        out_ndim = len(_shape(node))
        values = [self.values[t] for t in tensors]
        features = [v for v in values if isinstance(v, Feature)]
        if not features:
            return self.generic(values, {}, where)
        first = features[0]
        if first.dim == dim % out_ndim:
            raise ValueError(f"unsupported operation at {where}: concatenates along the permuted channel axis")
        space = first.space
        for f in features[1:]:
            if (f.dim, f.block, f.repeat) != (first.dim, first.block, first.repeat):
                raise ValueError(f"unsupported operation at {where}: concatenates different channel layouts")
            space = self.ctx.unite(space, f.space, where)
        result = Feature(space, first.dim, first.block, first.repeat, out_ndim)
        for v in values:
            if isinstance(v, _Param):
                self.ctx.assign(v.key, first.dim - (out_ndim - len(v.shape)), result)
            elif not isinstance(v, Feature):
                self.ctx.unite(space, _FIXED, where)  # unpermuted rows next to permuted ones
                return FIXED
        return result

    def getitem(self, node, x, index, where):
        if isinstance(x, (tuple, list)):
            return x[index] if isinstance(index, int) and index < len(x) else None
        if not isinstance(x, Feature):
            return self._not_feature(x, where) if _shape(node) is not None else None
        index = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, (fx.Node, list, torch.Tensor)) for i in index):
            raise ValueError(f"unsupported indexing at {where}: advanced indexing of a value with permuted channels")
        consumed = sum(1 for i in index if i is not None and i is not Ellipsis)
        expanded = []
        for i in index:
            expanded.extend([slice(None)] * (x.ndim - consumed) if i is Ellipsis else [i])
        expanded += [slice(None)] * (x.ndim - sum(1 for i in expanded if i is not None))
        in_axis, out_axis = 0, 0
        for i in expanded:
            if i is None:
                out_axis += 1
                continue
            if in_axis == x.dim:
                if i != slice(None):
                    raise ValueError(f"unsupported indexing at {where}: it selects among the permuted channels")
                return _at(x, out_axis, len(_shape(node)))
            out_axis += isinstance(i, slice)
            in_axis += 1
        raise ValueError(f"unsupported indexing at {where}")


class _Tracer(fx.Tracer):
    def __init__(self, rules: Mapping[type, Callable]):
        super().__init__()
        self.rules = rules

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m) in self.rules or super().is_leaf_module(m, qualname)


def _trace(model: nn.Module, rules: Mapping[type, Callable]) -> fx.GraphModule:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    tracer = _Tracer(rules)
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # noqa: BLE001 (fx raises many types for untraceable code)
        raise ValueError(f"model {type(model).__name__} cannot be traced by torch.fx ({type(exc).__name__}: "
                         f"{exc}); give its untraceable modules a rule") from None
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


def _as_tuple(example_inputs) -> tuple:
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def _propagate(gm: fx.GraphModule, model: nn.Module, example_inputs: tuple) -> None:
    modes = {m: m.training for m in model.modules()}
    model.eval()  # no side effects (BatchNorm statistics) while shapes are learnt
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*example_inputs)
    finally:
        for m, mode in modes.items():
            m.training = mode


def permutation_spec(model: nn.Module, example_inputs, rules: Mapping[type, Callable] | None = None
                     ) -> PermutationSpec:
    """The permutation symmetries of ``model``, derived from its traced graph.

    ``example_inputs``: a tensor or a tuple of tensors the model's forward
    takes (run once, in eval mode and without gradients, to learn shapes).
    ``rules``: extra ``{module type: rule}`` (see :class:`RuleContext`); such
    modules are not traced into. Returns a :class:`PermutationSpec` over
    ``model.state_dict()`` keys, with activation sites (graph node names) for
    activation matching. Raises ``ValueError`` naming the layer or node for
    anything whose behaviour under reordered channels is unknown.
    """
    all_rules = {**RULES, **(rules or {})}
    gm = _trace(model, all_rules)
    _propagate(gm, model, _as_tuple(example_inputs))
    state = model.state_dict()
    spec = _Walker(gm, all_rules, {k: tuple(v.shape) for k, v in state.items()}).walk()
    spec.check(state, "model")
    return spec


def permute_model(model: nn.Module, spec: PermutationSpec, perm: Mapping[str, torch.Tensor]) -> nn.Module:
    """A copy of ``model`` with ``perm`` applied to its weights (the same function for a spec of this model)."""
    clone = copy.deepcopy(model)
    clone.load_state_dict(apply_permutation(spec, perm, model.state_dict()))
    return clone


def capture_activations(model: nn.Module, inputs, nodes: Sequence[str],
                        rules: Mapping[type, Callable] | None = None) -> dict[str, torch.Tensor]:
    """Outputs of the named graph nodes of ``model`` on ``inputs`` (a tensor or tuple), without gradients.

    Node names are those of :func:`permutation_spec`'s sites (the same
    ``torch.fx`` trace); the model runs in its current mode.
    """
    gm = _trace(model, {**RULES, **(rules or {})})
    wanted = set(nodes)
    missing = wanted - {n.name for n in gm.graph.nodes}
    if missing:
        raise ValueError(f"nodes {sorted(missing)} are not in the traced graph of {type(model).__name__}")
    captured: dict[str, torch.Tensor] = {}

    class _Recorder(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if n.name in wanted:
                captured[n.name] = result.detach()
            return result

    with torch.no_grad():
        _Recorder(gm).run(*_as_tuple(inputs))
    return captured
