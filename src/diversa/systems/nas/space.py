"""A tiny chain search space, its weight-sharing supernet, and sub-supernet encodings.

Hu, Wang, Hong, Li, Hsieh, Feng, "Generalizing Few-Shot NAS with Gradient
Matching" (GM-NAS), arXiv:2203.15207, ICLR 2022, split a weight-sharing
supernet into sub-supernets by the candidate operations of one edge at a
time. This module holds the objects those splits act on:

* :class:`ChainSupernet`: a stem, ``n_edges`` searchable edges in sequence
  (each a list of candidate operations, width -> width) and a head; an
  architecture is one operation index per edge and runs as a single path;
* encodings ``enc`` of shape ``(n_edges, n_ops)`` with ``enc[e, o] = 1``
  when operation ``o`` is still allowed on edge ``e``; the one-shot supernet
  is all ones, and an architecture belongs to a sub-supernet iff each of its
  operations is allowed (:func:`in_subnet`);
* :func:`split_encoding`: the children of a split of one edge into groups.

The supernet has no BatchNorm on purpose: running statistics shared by every
path make inherited-weight evaluation noisy (a pitfall the spec names).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from diversa._params import check_int

__all__ = ["OPS_TINY", "ChainSupernet", "all_architectures", "in_subnet", "split_encoding", "unsplit_edges"]

#: The candidate operations of TinyChain: identity, Linear+ReLU, Linear+tanh, Linear(w->b)-ReLU-Linear(b->w).
OPS_TINY = ("skip", "lin_relu", "lin_tanh", "bottleneck")
_BASE_OPS = ("skip", "lin_relu", "lin_tanh", "bottleneck")
_DUP = re.compile(r"^(?P<base>.+)_dup\d*$")
SHARED_MODES = ("all_but_edge", "other_edges")


def make_op(name: str, width: int, bottleneck: int) -> nn.Module:
    """One candidate operation ``(B, width) -> (B, width)`` by name (one of :data:`OPS_TINY`)."""
    if name == "skip":
        return nn.Identity()
    if name == "lin_relu":
        return nn.Sequential(nn.Linear(width, width), nn.ReLU())
    if name == "lin_tanh":
        return nn.Sequential(nn.Linear(width, width), nn.Tanh())
    if name == "bottleneck":
        return nn.Sequential(nn.Linear(width, bottleneck), nn.ReLU(), nn.Linear(bottleneck, width))
    raise ValueError(f"ops: unknown operation {name!r}; known: {_BASE_OPS} (or '<op>_dup' for a weight-tied twin).")


def check_ops(ops) -> tuple[str, ...]:
    """The operation names as a tuple; a ``'<op>_dup'`` name must follow its twin ``<op>``."""
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise TypeError(f"ops must be a sequence of operation names, got {ops!r}.")
    ops = tuple(ops)
    if len(ops) < 1 or len(set(ops)) != len(ops):
        raise ValueError(f"ops must hold at least one distinct name, got {ops!r}.")
    for i, name in enumerate(ops):
        if not isinstance(name, str):
            raise TypeError(f"ops must hold strings, got {name!r}.")
        match = _DUP.match(name)
        if match and match["base"] not in ops[:i]:
            raise ValueError(f"ops: the twin {name!r} needs its operation {match['base']!r} earlier in ops.")
        if not match and name not in _BASE_OPS:
            raise ValueError(f"ops: unknown operation {name!r}; known: {_BASE_OPS} (or '<op>_dup').")
    return ops


def _init_linear(layer: nn.Linear, generator: torch.Generator | None) -> None:
    # torch's default Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from a private generator
    bound = 1.0 / math.sqrt(layer.in_features)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)


class ChainSupernet(nn.Module):
    """Weight-sharing supernet of the chain space: ``stem -> edge_0 -> ... -> edge_{E-1} -> head``.

    The stem is ``Linear(in_dim, width) + ReLU``, every edge holds one module
    per name of ``ops`` (width -> width) and the head is ``Linear(width,
    n_classes)``. A name ``'<op>_dup'`` is the module of ``<op>`` on the same
    edge again (a weight-tied twin: same function, same parameters), which
    the gradient-matching tests plant. :meth:`forward` runs one architecture
    (one operation per edge) as a single path, as random single-path
    training (RSPS) does.
    """

    def __init__(self, in_dim: int, n_classes: int, width: int = 32, n_edges: int = 3,
                 ops: Sequence[str] = OPS_TINY, bottleneck: int = 8):
        super().__init__()
        in_dim, n_classes = check_int(in_dim, "in_dim", 1), check_int(n_classes, "n_classes", 1)
        width, n_edges = check_int(width, "width", 1), check_int(n_edges, "n_edges", 1)
        bottleneck = check_int(bottleneck, "bottleneck", 1)
        self.ops = check_ops(ops)
        self.width, self.n_edges, self.bottleneck = width, n_edges, bottleneck
        self.stem = nn.Linear(in_dim, width)
        self.edges = nn.ModuleList()
        for _ in range(n_edges):
            modules: dict[str, nn.Module] = {}
            for name in self.ops:
                match = _DUP.match(name)
                modules[name] = modules[match["base"]] if match else make_op(name, width, bottleneck)
            self.edges.append(nn.ModuleList([modules[name] for name in self.ops]))
        self.head = nn.Linear(width, n_classes)

    @property
    def n_ops(self) -> int:
        """Candidate operations per edge."""
        return len(self.ops)

    def reset_parameters(self, generator: torch.Generator | None = None) -> ChainSupernet:
        """Fresh weights (torch's default Linear distribution), drawn from ``generator``; returns self."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                _init_linear(module, generator)
        return self

    def check_arch(self, arch) -> tuple[int, ...]:
        """``arch`` as a tuple of ``n_edges`` operation indices in ``[0, n_ops)``."""
        arch = tuple(int(a) for a in np.asarray(arch).reshape(-1))
        if len(arch) != self.n_edges or not all(0 <= a < self.n_ops for a in arch):
            raise ValueError(f"arch must be {self.n_edges} operation indices in [0, {self.n_ops}), got {arch!r}.")
        return arch

    def forward(self, x: torch.Tensor, arch: Sequence[int]) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of architecture ``arch`` (one op index per edge) on ``x`` ``(B, in_dim)``."""
        h = torch.relu(self.stem(x))
        for edge, op in zip(self.edges, arch):
            h = edge[op](h)
        return self.head(h)

    def edge_parameters(self, e: int) -> list[nn.Parameter]:
        """The parameters of edge ``e``'s candidate operations (each once, twins included once)."""
        if not 0 <= int(e) < self.n_edges:
            raise ValueError(f"edge must be in [0, {self.n_edges}), got {e!r}.")
        return _unique(p for op in self.edges[int(e)] for p in op.parameters())

    def shared_parameters(self, exclude_edge: int, mode: str = "all_but_edge",
                          arch: Sequence[int] | None = None) -> list[nn.Parameter]:
        """The parameters that the operations of edge ``exclude_edge`` share with each other.

        ``mode="other_edges"`` (the official NAS-Bench-201 code): the operations of
        every other edge; ``"all_but_edge"`` (diversa's default): also the stem
        and head, so a path whose other edges are all ``skip`` still has shared
        weights. With ``arch``, only the operations on that single path (the
        parameters a forward pass of ``arch`` reaches).
        """
        if mode not in SHARED_MODES:
            raise ValueError(f"shared must be one of {SHARED_MODES}, got {mode!r}.")
        excluded = {id(p) for p in self.edge_parameters(exclude_edge)}
        if arch is None:
            others = [p for e in range(self.n_edges) if e != exclude_edge for p in self.edge_parameters(e)]
        else:
            arch = self.check_arch(arch)
            others = [p for e, op in enumerate(arch) if e != exclude_edge for p in self.edges[e][op].parameters()]
        outer = [*self.stem.parameters(), *self.head.parameters()] if mode == "all_but_edge" else []
        return [p for p in _unique([*outer, *others]) if id(p) not in excluded]


def _unique(params) -> list[nn.Parameter]:
    seen, out = set(), []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def all_architectures(n_edges: int, n_ops: int) -> np.ndarray:
    """Every architecture of the chain space, ``(n_ops ** n_edges, n_edges)`` ints in lexicographic order."""
    if n_edges < 1 or n_ops < 1:
        raise ValueError(f"n_edges and n_ops must be >= 1, got {n_edges} and {n_ops}.")
    return np.array(list(itertools.product(range(n_ops), repeat=n_edges)), dtype=np.int64).reshape(-1, n_edges)


def _check_enc(enc) -> np.ndarray:
    enc = np.asarray(enc)
    if enc.ndim != 2 or not np.isin(enc, (0, 1)).all():
        raise ValueError(f"enc must be a 0/1 matrix (n_edges, n_ops), got shape {enc.shape}.")
    if not enc.any(axis=1).all():
        raise ValueError("enc: every edge must allow at least one operation.")
    return enc.astype(np.int64)


def in_subnet(enc, archs) -> np.ndarray:
    """Which architectures ``archs`` ``(A, n_edges)`` belong to the sub-supernet ``enc`` ``(n_edges, n_ops)``: ``(A,)`` bool."""
    enc = _check_enc(enc)
    archs = np.atleast_2d(np.asarray(archs, dtype=np.int64))
    if archs.shape[1] != enc.shape[0] or archs.min(initial=0) < 0 or archs.max(initial=0) >= enc.shape[1]:
        raise ValueError(f"archs must be (A, {enc.shape[0]}) op indices in [0, {enc.shape[1]}), got {archs.shape}.")
    return enc[np.arange(enc.shape[0]), archs].all(axis=1).astype(bool)


def unsplit_edges(enc) -> list[int]:
    """Edges on which every operation is still allowed (the candidates of the next split)."""
    enc = _check_enc(enc)
    return [int(e) for e in np.flatnonzero(enc.all(axis=1))]


def split_encoding(enc, edge: int, groups: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """The children of sub-supernet ``enc`` split on ``edge``: row ``edge`` replaced by each group's indicator.

    ``groups`` must partition the operations ``enc`` allows on ``edge``, so the
    children's architecture sets are disjoint and their union is the parent's.
    """
    enc = _check_enc(enc)
    if not 0 <= int(edge) < enc.shape[0]:
        raise ValueError(f"edge must be in [0, {enc.shape[0]}), got {edge!r}.")
    members = [int(o) for g in groups for o in g]
    allowed = sorted(int(o) for o in np.flatnonzero(enc[edge]))
    if sorted(members) != allowed or any(len(g) == 0 for g in groups):
        raise ValueError(f"groups must partition the allowed operations {allowed} of edge {edge}, got {groups!r}.")
    children = []
    for group in groups:
        child = enc.copy()
        child[edge] = 0
        child[edge, list(group)] = 1
        children.append(child)
    return children
