"""A tabular NAS benchmark: every architecture of a small chain space trained stand-alone.

Weight-sharing NAS methods, GM-NAS among them (Hu, Wang, Hong, Li, Hsieh,
Feng, "Generalizing Few-Shot NAS with Gradient Matching", arXiv:2203.15207,
ICLR 2022), are judged on tabular benchmarks such as NAS-Bench-201 (Dong and
Yang, arXiv:2001.00326): the test accuracy of every architecture of the
space trained on its own. :func:`train_standalone` builds such a table for
the :class:`~diversa.systems.nas.space.ChainSupernet` space.

Each architecture gets its own private copy of the operations it uses
(torch's default initialisation, seeded by the run seed and the
architecture's index in the space, so its weights do not depend on which
other architectures are trained beside it) and its own Adam state; all of
them see the same mini-batch order. They are trained together as one
population, each operation applied to the architectures that use it with a
batched matrix product, which takes one process a few seconds for 64
architectures instead of a minute one by one; the arithmetic of every
architecture is that of training it alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_array, check_consistent_length

from diversa._params import check_int, check_real
from diversa.systems.nas.space import _DUP, OPS_TINY, check_ops

__all__ = ["StandalonePopulation", "arch_index", "train_standalone"]


def arch_index(arch: Sequence[int], n_ops: int) -> int:
    """The position of ``arch`` in :func:`~diversa.systems.nas.space.all_architectures` (base-``n_ops`` digits)."""
    index = 0
    for a in arch:
        index = index * n_ops + int(a)
    return index


def _uniform(shape, fan_in: int, generator: torch.Generator) -> torch.Tensor:
    bound = 1.0 / math.sqrt(fan_in)
    return torch.empty(shape).uniform_(-bound, bound, generator=generator)


def _op_shapes(name: str, width: int, bottleneck: int) -> list[tuple[tuple[int, ...], int]]:
    """Parameter shapes of operation ``name`` with their fan-in, in :class:`ChainSupernet`'s order."""
    base = _DUP.match(name)["base"] if _DUP.match(name) else name
    if base == "skip":
        return []
    if base in ("lin_relu", "lin_tanh"):
        return [((width, width), width), ((width,), width)]
    return [((bottleneck, width), width), ((bottleneck,), width), ((width, bottleneck), bottleneck), ((width,), bottleneck)]


class StandalonePopulation(torch.nn.Module):
    """``P`` independent networks of the chain space, one per architecture, run as one batched model.

    ``params[k]`` holds, stacked over the ``P`` architectures, the parameters
    of: ``"stem"`` (weight ``(P, width, in_dim)``, bias), ``"head"``, and
    ``"e{edge}.{op}"`` for each operation used by some architecture on that
    edge (stacked over those architectures only, in population order).
    """

    def __init__(self, archs: np.ndarray, in_dim: int, n_classes: int, width: int = 32, ops: Sequence[str] = OPS_TINY,
                 bottleneck: int = 8, seed: int = 0):
        super().__init__()
        self.ops, self.width, self.bottleneck = check_ops(ops), width, bottleneck
        self.archs = np.asarray(archs, dtype=np.int64)
        n_edges = self.archs.shape[1]
        shapes = {"stem": [((width, in_dim), in_dim), ((width,), in_dim)],
                  "head": [((n_classes, width), width), ((n_classes,), width)]}
        values: dict[str, list[list[torch.Tensor]]] = {}
        for arch in self.archs:
            # one generator per architecture: its initialisation is the same whatever else is in the population
            gen = torch.Generator().manual_seed(int(seed) * len(self.ops) ** n_edges + arch_index(arch, len(self.ops)))
            keys = ["stem", *(f"e{e}.{self.ops[a]}" for e, a in enumerate(arch)), "head"]
            for key in keys:
                op_shapes = shapes.get(key) or _op_shapes(key.split(".", 1)[1], width, bottleneck)
                tensors = [_uniform(shape, fan_in, gen) for shape, fan_in in op_shapes]
                values.setdefault(key, []).append(tensors)
        self.params = torch.nn.ParameterDict({
            f"{key}.{k}".replace(".", "_"): torch.nn.Parameter(torch.stack([t[k] for t in per_arch]))
            for key, per_arch in values.items() for k in range(len(per_arch[0]))})
        self._keys = {key: [f"{key}.{k}".replace(".", "_") for k in range(len(per_arch[0]))]
                      for key, per_arch in values.items()}
        # rows of the population that take each operation on each edge, and how to put them back in order
        self._rows = [{o: torch.from_numpy(np.flatnonzero(self.archs[:, e] == o)) for o in np.unique(self.archs[:, e])}
                      for e in range(n_edges)]
        self._inverse = [torch.from_numpy(np.argsort(np.concatenate([r.numpy() for r in rows.values()]), kind="stable"))
                         for rows in self._rows]

    def _get(self, key: str) -> list[torch.Tensor]:
        return [self.params[k] for k in self._keys[key]]

    def _apply(self, name: str, h: torch.Tensor, p: list[torch.Tensor]) -> torch.Tensor:
        base = _DUP.match(name)["base"] if _DUP.match(name) else name
        if base == "skip":
            return h
        if base in ("lin_relu", "lin_tanh"):
            z = torch.baddbmm(p[1][:, None, :], h, p[0].transpose(1, 2))
            return torch.relu(z) if base == "lin_relu" else torch.tanh(z)
        z = torch.relu(torch.baddbmm(p[1][:, None, :], h, p[0].transpose(1, 2)))
        return torch.baddbmm(p[3][:, None, :], z, p[2].transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(P, B, n_classes)`` of every architecture on ``x`` ``(B, in_dim)``."""
        w, b = self._get("stem")
        h = torch.relu(torch.einsum("bi,pwi->pbw", x, w) + b[:, None, :])
        for e, rows in enumerate(self._rows):
            outs = [self._apply(self.ops[o], h[r], self._get(f"e{e}.{self.ops[o]}")) for o, r in rows.items()]
            h = torch.cat(outs)[self._inverse[e]]
        w, b = self._get("head")
        return torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))


def train_standalone(archs, X, y, X_test, y_test, *, ops: Sequence[str] = OPS_TINY, width: int = 32,
                     bottleneck: int = 8, epochs: int = 30, lr: float = 1e-2, batch_size: int = 64,
                     seed: int = 0) -> np.ndarray:
    """Test accuracy ``(A,)`` of each architecture of ``archs`` ``(A, n_edges)`` trained alone from scratch.

    ``X`` ``(n, d)`` and integer labels ``y`` ``(n,)`` in ``[0, C)`` train, ``X_test``,
    ``y_test`` measure; Adam with learning rate ``lr``, mini-batches of
    ``batch_size`` in one shuffled order per epoch (drawn from ``seed``, the
    same for every architecture), ``epochs`` epochs. An architecture's result
    depends only on it, ``seed`` and the data, not on the rest of ``archs``.
    """
    archs = np.atleast_2d(np.asarray(archs, dtype=np.int64))
    ops = check_ops(ops)
    if archs.size == 0 or archs.min() < 0 or archs.max() >= len(ops):
        raise ValueError(f"archs must be a non-empty (A, n_edges) array of op indices in [0, {len(ops)}).")
    X = check_array(X, dtype=np.float32)
    X_test = check_array(X_test, dtype=np.float32)
    y, y_test = np.asarray(y), np.asarray(y_test)
    check_consistent_length(X, y)
    check_consistent_length(X_test, y_test)
    if X.shape[1] != X_test.shape[1]:
        raise ValueError(f"X_test must have {X.shape[1]} features, got {X_test.shape[1]}.")
    if not (np.issubdtype(y.dtype, np.integer) and y.min() >= 0):
        raise ValueError("y must hold integer class labels >= 0.")
    epochs, batch_size = check_int(epochs, "epochs", 0), check_int(batch_size, "batch_size", 1)
    check_real(lr, "lr", 0.0, strict=True)
    n_classes = int(max(y.max(), y_test.max())) + 1
    model = StandalonePopulation(archs, X.shape[1], n_classes, width=width, ops=ops, bottleneck=bottleneck, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    x_all, y_all = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    order_gen = torch.Generator().manual_seed(int(seed))
    n_arch = len(archs)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=order_gen)
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            logits = model(x_all[rows])                                  # (P, B, C)
            # the sum of the per-architecture mean losses: each architecture's gradient is its own loss's
            loss = F.cross_entropy(logits.reshape(-1, n_classes), y_all[rows].repeat(n_arch), reduction="sum")
            optimizer.zero_grad(set_to_none=True)
            (loss / len(rows)).backward()
            optimizer.step()
    with torch.no_grad():
        pred = model(torch.from_numpy(X_test)).argmax(dim=2).numpy()    # (P, n_test)
    return (pred == y_test[None, :]).mean(axis=1)
