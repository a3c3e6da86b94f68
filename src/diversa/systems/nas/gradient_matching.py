"""Gradient matching between the candidate operations of one supernet edge.

Hu, Wang, Hong, Li, Hsieh, Feng, "Generalizing Few-Shot NAS with Gradient
Matching" (GM-NAS), arXiv:2203.15207, ICLR 2022: two operations of an edge
may keep sharing the supernet's other weights when those weights receive
similar gradients whichever of the two the edge runs. For each mini-batch a
single path is sampled on the other edges (random single-path, one-hot
architecture weights: the ``hard=1`` setting of the official code), the edge
takes each candidate operation in turn on that same path and batch, and the
gradients ``g_i`` of the shared parameters are compared:

* ``"cos"`` (the official scripts' default): ``1 - <g_i, g_j> / (|g_i| |g_j|)``
  on the concatenated gradient, in ``[0, 2]``;
* ``"per-filter-cos"``: the sum over matrix parameters and their output rows
  of ``1 - cos`` (vector parameters skipped), as the official ``distance_wb``;
* ``"mse"``: ``|g_i - g_j|^2``.

The official code adds 1e-6 to the denominator of the cosine. With the small
gradients of a tiny supernet that offset is not negligible (identical
gradients of squared norm 0.1 would be 1e-5 apart, and an all-zero filter
row, e.g. of a dead ReLU unit, 1 apart from its identical twin), so here the
cosine is exact: two zero vectors are at distance 0, a zero vector and any
other at 1.

The distance matrix is averaged over the mini-batches; ``1 - D`` (for
``"cos"``) is the paper's gradient-matching score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from diversa.systems.nas.space import SHARED_MODES, ChainSupernet, _check_enc

__all__ = ["METRICS", "gradient_matching_distance", "pairwise_gradient_distance"]

METRICS = ("cos", "per-filter-cos", "mse")
_TINY = 1e-30


def _cosine_distance(dot: torch.Tensor, norm_a: torch.Tensor, norm_b: torch.Tensor) -> torch.Tensor:
    """``1 - cos``; two zero vectors are identical (0), one zero vector is orthogonal to anything (1)."""
    dist = 1.0 - dot / torch.clamp(norm_a * norm_b, min=_TINY)
    return torch.where((norm_a == 0) & (norm_b == 0), torch.zeros_like(dist), dist)


def pairwise_gradient_distance(grads: list[list[torch.Tensor]], metric: str = "cos") -> np.ndarray:
    """Distances ``(n, n)`` between ``n`` gradients, each a list of per-parameter tensors of equal shapes.

    ``metric`` is one of :data:`METRICS` (see the module docstring).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    n = len(grads)
    if metric in ("cos", "mse"):
        g = torch.stack([torch.cat([t.reshape(-1) for t in gi]) for gi in grads]).double()   # (n, P)
        if metric == "mse":
            return torch.cdist(g, g).pow(2).numpy()
        dist = _cosine_distance(g @ g.T, g.norm(dim=1)[:, None], g.norm(dim=1)[None, :])
    else:
        dist = torch.zeros(n, n, dtype=torch.float64)
        for k in range(len(grads[0])):
            if grads[0][k].dim() < 2:
                continue   # biases: the official distance counts filters of weight tensors only
            w = torch.stack([gi[k].reshape(gi[k].shape[0], -1) for gi in grads]).double()   # (n, out, in)
            norms = w.norm(dim=2)                                                          # (n, out)
            dist += _cosine_distance(torch.einsum("iod,jod->ijo", w, w), norms[:, None, :], norms[None, :, :]).sum(2)
    dist = dist.numpy()
    np.fill_diagonal(dist, 0.0)
    return np.clip((dist + dist.T) / 2, 0.0, None)


def _gm_distance(model: ChainSupernet, edge: int, enc, batches, metric: str, shared: str,
                 rng: np.random.Generator, loss_fn: Callable) -> tuple[np.ndarray, int]:
    """:func:`gradient_matching_distance` and the number of forward+backward passes it spent."""
    if not isinstance(model, ChainSupernet):
        raise TypeError(f"model must be a ChainSupernet, got {type(model).__name__}.")
    if not 0 <= int(edge) < model.n_edges:
        raise ValueError(f"edge must be in [0, {model.n_edges}), got {edge!r}.")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    if shared not in SHARED_MODES:
        raise ValueError(f"shared must be one of {SHARED_MODES}, got {shared!r}.")
    enc = _check_enc(enc)
    if enc.shape != (model.n_edges, model.n_ops):
        raise ValueError(f"enc must have shape {(model.n_edges, model.n_ops)}, got {enc.shape}.")
    edge = int(edge)
    candidates = np.flatnonzero(enc[edge])
    allowed = [np.flatnonzero(row) for row in enc]
    total = np.zeros((len(candidates), len(candidates)))
    used = passes = 0
    for x, y in batches:
        path = [int(rng.choice(ops)) for ops in allowed]   # one single path per batch, shared by every op i
        params = model.shared_parameters(edge, shared, arch=path)
        if not params:
            continue   # nothing shared on this path (all other edges skip, mode "other_edges")
        grads = []
        for op in candidates:
            path[edge] = int(op)
            loss = loss_fn(model(x, path), y)
            grads.append(list(torch.autograd.grad(loss, params)))
            passes += 1
        total += pairwise_gradient_distance(grads, metric)
        used += 1
    if used == 0:
        raise RuntimeError("no shared parameters received gradient: every sampled path had no weights shared "
                           "with the split edge (use shared='all_but_edge' or more batches).")
    dist = np.full((model.n_ops, model.n_ops), np.nan)
    dist[np.ix_(candidates, candidates)] = total / used
    return dist, passes


def gradient_matching_distance(model: ChainSupernet, edge: int, enc, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                               metric: str = "cos", shared: str = "all_but_edge",
                               rng: np.random.Generator | int | None = None,
                               loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> np.ndarray:
    """Gradient-matching distance ``D`` ``(n_ops, n_ops)`` between the operations of ``edge``.

    ``model`` is a :class:`~diversa.systems.nas.space.ChainSupernet`; ``enc``
    ``(n_edges, n_ops)`` the sub-supernet whose weights it holds (paths on the
    other edges are sampled among the operations it allows, uniformly, with
    ``rng``); ``batches`` yields mini-batches ``(x (B, in_dim), y (B,))``, one
    repeat each (use independent batches, not one batch repeated); ``shared``
    chooses the compared parameters (see
    :meth:`~diversa.systems.nas.space.ChainSupernet.shared_parameters`);
    ``loss_fn(logits, y)`` defaults to cross-entropy.

    Returns ``D``, symmetric with a zero diagonal (``[0, 2]`` for ``"cos"``),
    averaged over the repeats. Rows and columns of operations that ``enc``
    excludes on ``edge`` are NaN (the sub-supernet has no such paths). A
    repeat whose sampled path reaches no shared parameter is skipped; if all
    are, ``RuntimeError`` rather than a 0/0 distance.

    >>> import torch
    >>> net = ChainSupernet(4, 3, width=8, n_edges=2, ops=("skip", "lin_relu", "lin_relu_dup"))
    >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> D = gradient_matching_distance(net, 0, np.ones((2, 3)), [(x, y)] * 2, rng=0)
    >>> bool(D[1, 2] < 1e-6), D.shape
    (True, (3, 3))
    """
    rng = np.random.default_rng(rng)
    return _gm_distance(model, edge, enc, batches, metric, shared, rng, loss_fn or F.cross_entropy)[0]
