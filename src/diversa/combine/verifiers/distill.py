"""Distillation of an ensemble verifier score into a small cross-encoder-like model.

Weaver's last step (Saad-Falcon et al., "Shrinking the Generation-Verification Gap with Weak
Verifiers", arXiv:2506.18203, spec ``ensemble.md#weaver`` step 8): the official code regresses
Weaver scores with a 400M ModernBERT cross-encoder (MSE). Scaled down here: an MLP on the
features ``[x_i, r_ij, x_i * r_ij]`` of query and response embeddings -> 64 -> 64 -> 1 with a
sigmoid output, MSE to the target scores, Adam lr 1e-3, 200 epochs, batch 256. At test time a
candidate costs one forward pass instead of V verifier calls.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = ["CrossEncoderDistiller"]


def _features(query_emb, resp_emb):
    q = np.asarray(query_emb, dtype=np.float32)
    r = np.asarray(resp_emb, dtype=np.float32)
    if q.ndim != 2:
        raise ValueError(f"query_emb must be 2-D (Q, d), got shape {q.shape}.")
    if r.ndim != 3 or r.shape[0] != q.shape[0] or r.shape[2] != q.shape[1]:
        raise ValueError(f"resp_emb must have shape (Q, N, d) = ({q.shape[0]}, N, {q.shape[1]}), got {r.shape}.")
    qb = np.broadcast_to(q[:, None, :], r.shape)
    return np.concatenate([qb, r, qb * r], axis=2)


class CrossEncoderDistiller(BaseEstimator):
    """MLP regressor from ``(query, response)`` embeddings to a verifier-ensemble score in [0, 1]."""

    def __init__(self, hidden=(64, 64), epochs=200, lr=1e-3, batch_size=256, random_state=None):
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, query_emb, resp_emb, target_scores):
        F = _features(query_emb, resp_emb)
        T = np.asarray(target_scores, dtype=np.float32)
        if T.shape != F.shape[:2]:
            raise ValueError(f"target_scores must have shape {F.shape[:2]}, got {T.shape}.")
        ok = np.isfinite(T)
        if not np.all((T[ok] >= 0) & (T[ok] <= 1)):
            raise ValueError("target_scores must lie in [0, 1].")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
        X = torch.from_numpy(np.ascontiguousarray(F[ok]))
        y = torch.from_numpy(T[ok])
        seed = 0 if self.random_state is None else int(self.random_state)
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(seed)
            layers, width = [], X.shape[1]
            for h in self.hidden:
                layers += [nn.Linear(width, int(h)), nn.ReLU()]
                width = int(h)
            layers.append(nn.Linear(width, 1))
            net = nn.Sequential(*layers)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            gen = torch.Generator().manual_seed(seed)
            self.loss_curve_ = []
            for _ in range(self.epochs):
                perm = torch.randperm(X.shape[0], generator=gen)
                total = 0.0
                for s in range(0, X.shape[0], self.batch_size):
                    b = perm[s:s + self.batch_size]
                    loss = nn.functional.mse_loss(torch.sigmoid(net(X[b]).squeeze(1)), y[b])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * b.numel()
                self.loss_curve_.append(total / X.shape[0])
        finally:
            torch.set_num_threads(old)
        self.net_ = net.eval()
        self.n_features_in_ = int(X.shape[1])
        return self

    def predict(self, query_emb, resp_emb) -> np.ndarray:
        """Distilled score ``(Q, N)`` in [0, 1]."""
        check_is_fitted(self, "net_")
        F = _features(query_emb, resp_emb)
        if F.shape[2] != self.n_features_in_:
            raise ValueError(f"embeddings must have dimension {self.n_features_in_ // 3}, got {F.shape[2] // 3}.")
        with torch.no_grad():
            out = torch.sigmoid(self.net_(torch.from_numpy(np.ascontiguousarray(F)))).squeeze(-1)
        return out.numpy().astype(float)
