"""The modules a compressed model is built from: a factorised linear layer and a low-rank embedding.

:class:`LowRankLinear` is ``B(A(x))`` with ``A: d_in -> k`` and ``B: k -> d_out``; with
``activation=None`` it is exactly the AFM (or SVD) reconstruction, with ``activation="relu"`` it is
the paper's "Act" variant ``B(relu(A x))`` (official ``DNN_Ada_Act``; the model's own activation
after the layer then gives ``act(B(act(A x)))``), which is no longer exact and is meant to be
fine-tuned. :class:`LowRankEmbedding` stores a (V, k) table of codes and a per-field up-projection
``e = P c + m`` back to the original width; a model that fuses the up-projection into its next
dense layer reads :meth:`LowRankEmbedding.codes` directly. Yu, Fu, Ding, Zhou, Wu, arXiv:2405.18146.
"""

from __future__ import annotations

import torch
from torch import nn

from diversa.nn.compress.factorize import check_rank

__all__ = ["ACTIVATIONS", "LowRankEmbedding", "LowRankLinear"]

#: Activations allowed between the two factors.
ACTIVATIONS = {None: nn.Identity, "relu": nn.ReLU}


class LowRankLinear(nn.Module):
    """``B(act(A x))``: a rank-``rank`` replacement of ``nn.Linear(in_features, out_features)``.

    Parameters: ``rank (in_features + out_features) + rank + out_features``. Input (..., d_in),
    output (..., d_out). State-dict keys ``A.weight``, ``A.bias``, ``B.weight``, ``B.bias``.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, activation: str | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}.")
        check_rank(rank, out_features, width_name="out_features")
        self.in_features, self.out_features, self.rank, self.activation = in_features, out_features, rank, activation
        self.A = nn.Linear(in_features, rank)
        self.act = ACTIVATIONS[activation]()
        self.B = nn.Linear(rank, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.B(self.act(self.A(x)))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, " \
               f"activation={self.activation}"


class LowRankEmbedding(nn.Module):
    """A (num_embeddings, rank) code table with an up-projection to ``embedding_dim``.

    ``forward(ids)`` returns ``up(table(ids))`` of shape (..., embedding_dim), a drop-in for
    ``nn.Embedding(num_embeddings, embedding_dim)``; ``codes(ids)`` returns the (..., rank) codes.
    State-dict keys ``table.weight``, ``up.weight`` (embedding_dim, rank), ``up.bias``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rank: int):
        super().__init__()
        check_rank(rank, embedding_dim, width_name="embedding_dim")
        self.num_embeddings, self.embedding_dim, self.rank = num_embeddings, embedding_dim, rank
        self.table = nn.Embedding(num_embeddings, rank)
        self.up = nn.Linear(rank, embedding_dim)

    def codes(self, ids: torch.Tensor) -> torch.Tensor:
        """The stored rank-``rank`` codes of ``ids``."""
        return self.table(ids)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.up(self.table(ids))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, rank={self.rank}"
