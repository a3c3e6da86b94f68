"""DeepFM, a small click-through-rate model, and its training loop.

DeepFM (Guo, Tang, Ye, Li, He, arXiv:1703.04247) adds three logits: a first-order term (one weight
per id and a linear term of the dense features), the factorisation machine's second-order term over
the field embeddings ``0.5 sum_k ((sum_f e_f)_k^2 - sum_f e_{f,k}^2)``, and an MLP over the
concatenated embeddings and dense features. It is the model the AFM paper compresses (Yu, Fu, Ding,
Zhou, Wu, arXiv:2405.18146, KDD 2024; official setting DeepFM 400-400-400, embeddings 16), so each
field has its own ``nn.Embedding`` (``embeddings.<f>``) and the MLP is a list of ``nn.Linear``
(``dnn.<i>``, ReLU after each) that :func:`diversa.nn.compress.compress` can replace one by one.

After compression, :meth:`DeepFM.fuse_low_rank_embeddings` folds each low-rank field's up-projection
into the first MLP layer (the MLP then reads the k-dimensional codes), while the FM term, an
interaction layer no linear map can be moved across, keeps the explicit per-field reconstruction
``e_f = P_f c_f + m_f`` (the official ``DeepFM_EMB`` keeps a (F, k, d) weight and a (1, F, d) bias).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from diversa.nn.compress.factorize import fuse_embeddings_into_linear

__all__ = ["DeepFM", "train_ctr"]


def _is_low_rank_embedding(module: nn.Module) -> bool:
    return hasattr(module, "codes") and hasattr(module, "up")


class DeepFM(nn.Module):
    """DeepFM over ``len(field_dims)`` categorical fields and ``dense_dim`` dense features.

    ``forward(x_cat (n, F) int64, x_dense (n, dense_dim) float)`` returns click logits (n,).
    """

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 16, dense_dim: int = 3,
                 hidden: Sequence[int] = (256, 256, 256), dropout: float = 0.0):
        super().__init__()
        field_dims = tuple(int(v) for v in field_dims)
        if len(field_dims) < 1 or min(field_dims) < 1:
            raise ValueError(f"field_dims must list at least one field with >= 1 id, got {field_dims!r}.")
        if not (isinstance(embed_dim, int) and embed_dim >= 1):
            raise ValueError(f"embed_dim must be an integer >= 1, got {embed_dim!r}.")
        if not (isinstance(dense_dim, int) and dense_dim >= 0):
            raise ValueError(f"dense_dim must be an integer >= 0, got {dense_dim!r}.")
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list at least one layer width >= 1, got {hidden!r}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}.")
        self.field_dims, self.embed_dim, self.dense_dim = field_dims, embed_dim, dense_dim
        # One table for all fields' first-order weights (row offset per field): it is never compressed.
        self.first_order = nn.Embedding(sum(field_dims), 1)
        self.register_buffer("offsets", torch.tensor(np.cumsum((0,) + field_dims[:-1]), dtype=torch.long),
                             persistent=False)
        self.embeddings = nn.ModuleList(nn.Embedding(v, embed_dim) for v in field_dims)
        self.dense_linear = nn.Linear(dense_dim, 1, bias=False) if dense_dim else None
        self.bias = nn.Parameter(torch.zeros(1))
        widths = [len(field_dims) * embed_dim + dense_dim, *(int(h) for h in hidden)]
        self.dnn = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.head = nn.Linear(widths[-1], 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        #: Fields whose codes the first MLP layer reads directly (set by fuse_low_rank_embeddings).
        self.fused_fields: tuple[int, ...] = ()
        for table in [self.first_order, *self.embeddings]:
            nn.init.normal_(table.weight, std=0.01)

    def _fields(self, x_cat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-field vectors for the FM term and per-field inputs of the MLP (codes where fused)."""
        vectors, dnn_inputs = [], []
        for f, table in enumerate(self.embeddings):
            if f in self.fused_fields:
                code = table.codes(x_cat[:, f])
                vectors.append(table.up(code))
                dnn_inputs.append(code)
            else:
                vectors.append(table(x_cat[:, f]))
                dnn_inputs.append(vectors[-1])
        return vectors, dnn_inputs

    def forward(self, x_cat: torch.Tensor, x_dense: torch.Tensor | None = None) -> torch.Tensor:
        if x_cat.ndim != 2 or x_cat.shape[1] != len(self.field_dims):
            raise ValueError(f"x_cat must have shape (n, {len(self.field_dims)}), got {tuple(x_cat.shape)}.")
        if self.dense_dim and (x_dense is None or x_dense.shape != (len(x_cat), self.dense_dim)):
            raise ValueError(f"x_dense must have shape ({len(x_cat)}, {self.dense_dim}).")
        logit = self.bias + self.first_order(x_cat + self.offsets).sum((1, 2))
        vectors, dnn_inputs = self._fields(x_cat)
        stacked = torch.stack(vectors, dim=1)
        logit = logit + 0.5 * (stacked.sum(1).square() - stacked.square().sum(1)).sum(1)
        if self.dense_dim:
            logit = logit + self.dense_linear(x_dense)[:, 0]
            dnn_inputs.append(x_dense)
        h = torch.cat(dnn_inputs, dim=1)
        for layer in self.dnn:
            h = self.dropout(F.relu(layer(h)))
        return logit + self.head(h)[:, 0]

    def fuse_low_rank_embeddings(self) -> "DeepFM":
        """Fold every low-rank field's up-projection into the first MLP layer (in place; returns self).

        The MLP's outputs are unchanged; its first layer then reads k-dimensional codes, so the
        model stores no up-projection for the MLP path (the FM term still reconstructs).
        """
        first = self.dnn[0]
        target = first.A if hasattr(first, "A") else first
        blocks, start, fused = [], 0, set(self.fused_fields)
        for f, table in enumerate(self.embeddings):
            width = table.rank if f in fused else self.embed_dim
            if f not in fused and _is_low_rank_embedding(table):
                blocks.append((start, start + width, table.up.weight.detach(), table.up.bias.detach()))
                fused.add(f)
            start += width
        if not blocks:
            return self
        weight, bias = fuse_embeddings_into_linear(target.weight.detach(), target.bias.detach(), blocks)
        layer = nn.Linear(weight.shape[1], weight.shape[0]).to(weight.device, weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        if target is first:
            self.dnn[0] = layer
        else:
            first.A = layer
            first.in_features = layer.in_features
        self.fused_fields = tuple(sorted(fused))
        return self


def _as_tensors(X_cat, X_dense, y=None):
    tensors = [torch.as_tensor(np.asarray(X_cat), dtype=torch.long)]
    tensors.append(torch.as_tensor(np.asarray(X_dense), dtype=torch.float32) if X_dense is not None
                   else torch.zeros(len(tensors[0]), 0))
    if y is not None:
        tensors.append(torch.as_tensor(np.asarray(y), dtype=torch.float32))
    return tensors


def train_ctr(model: nn.Module, X_cat, X_dense, y, *, epochs: int = 1, lr: float = 1e-3, batch_size: int = 2048,
              weight_decay: float = 0.0, seed: int = 0) -> nn.Module:
    """Train a CTR model in place with Adam on binary cross-entropy over shuffled mini-batches.

    ``model(x_cat, x_dense)`` must return logits (n,). ``X_cat`` (n, F) ids, ``X_dense`` (n, p),
    ``y`` (n,) 0/1. A fresh optimiser is made per call (fine-tuning starts from fresh moments);
    the shuffling is seeded by ``seed``. Returns the model (in train mode).
    """
    if not (isinstance(epochs, int) and epochs >= 0):
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}.")
    x_cat, x_dense, target = _as_tensors(X_cat, X_dense, y)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(target), generator=generator)
        for batch in torch.split(order, batch_size):
            xd = x_dense[batch] if x_dense.shape[1] else None
            loss = F.binary_cross_entropy_with_logits(model(x_cat[batch], xd), target[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model
