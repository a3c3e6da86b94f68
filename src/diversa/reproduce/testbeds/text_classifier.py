"""The tiny SynthText-MD text classifier that the data-selection reproductions train on each subset.

The downstream learner of spec ``data`` section 0.5 ("TinyTextClassifier"), shared by the
reproductions of kMQ (arXiv:2409.11378), ODiS (arXiv:2510.18909) and QuaDMix
(arXiv:2504.16511): a selection is judged by the macro accuracy (over domains) of this model
trained on the selected documents.

``nn.Embedding(V, 32, padding_idx=0)`` -> masked mean over positions -> ``Linear(32, 64)`` ->
ReLU -> ``Linear(64, 3)``, trained with Adam (lr 3e-3, batch 64) for a fixed number of epochs
(default 10, whatever the subset size, as the pruning papers do) or a fixed number of steps
(``n_steps``, for equal compute across subsets of different sizes).

``sample_weight`` weighs each example's cross-entropy; weights are rescaled to mean 1 over the
training set, so a weight of 2 counts like a second copy of the row in every batch that holds it,
uniform weights train exactly as no weights, and a zero weight removes the row from the loss.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from diversa.datasets.synthtext import VOCAB

__all__ = ["EPOCHS", "macro_accuracy", "random_selection_fit", "tiny_text_classifier", "train_tiny_classifier"]

EPOCHS = 10


@functools.cache
def _module_class():
    # torch is imported on first use: the reproduction registry imports this module eagerly
    from torch import nn

    class TinyTextClassifier(nn.Module):
        """Masked mean of token embeddings -> one hidden layer -> class logits ``(B, n_classes)``."""

        def __init__(self, vocab_size: int, emb_dim: int, hidden: int, n_classes: int):
            super().__init__()
            self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
            self.head = nn.Sequential(nn.Linear(emb_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

        def forward(self, x):
            mask = (x != 0).unsqueeze(-1).float()
            pooled = (self.emb(x) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled)

    return TinyTextClassifier


def tiny_text_classifier(vocab_size: int = len(VOCAB), emb_dim: int = 32, hidden: int = 64, n_classes: int = 3):
    """A fresh, untrained TinyTextClassifier ``torch.nn.Module``: token ids ``(B, L)`` -> logits ``(B, n_classes)``.

    Position id 0 (``<pad>``) is masked out of the mean.
    """
    return _module_class()(vocab_size, emb_dim, hidden, n_classes)


def _check_weights(sample_weight, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return w / w.mean()


def _batches(n: int, batch_size: int, epochs: int, n_steps: int | None, gen):
    """Shuffled index batches: ``epochs`` passes, or exactly ``n_steps`` batches over as many passes as needed."""
    import torch

    if n_steps is None:
        for _ in range(epochs):
            yield from torch.randperm(n, generator=gen).split(batch_size)
        return
    taken = 0
    while taken < n_steps:
        for batch in torch.randperm(n, generator=gen).split(batch_size):
            if taken == n_steps:
                return
            taken += 1
            yield batch


def train_tiny_classifier(ids, y, *, seed: int, epochs: int = EPOCHS, sample_weight=None,
                          n_steps: int | None = None, lr: float = 3e-3,
                          batch_size: int = 64) -> Callable[[np.ndarray], np.ndarray]:
    """Train a :func:`tiny_text_classifier` on token ids ``(n, L)`` and labels ``(n,)`` in {0, 1, 2}.

    ``epochs`` passes over shuffled batches, or exactly ``n_steps`` batch steps when given
    (reshuffling at each pass). ``sample_weight`` (n,) weighs the per-example loss (see the
    module docstring). Seeded by ``seed`` (initialisation and batch order, on a local generator
    for the order). Returns ``predict_proba``: token ids ``(m, L)`` -> class probabilities
    ``(m, 3)``.
    """
    import torch
    from torch import nn

    ids, y = np.asarray(ids), np.asarray(y)
    if ids.ndim != 2 or ids.shape[0] == 0:
        raise ValueError(f"ids must be a non-empty 2-D array of token ids, got shape {ids.shape}")
    if y.shape != (ids.shape[0],):
        raise ValueError(f"y must have shape ({ids.shape[0]},), got {y.shape}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if n_steps is not None and (isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer))
                                or n_steps < 0):
        raise ValueError(f"n_steps must be None or a non-negative int, got {n_steps!r}")
    w = _check_weights(sample_weight, ids.shape[0])

    torch.manual_seed(seed)
    model = tiny_text_classifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    X = torch.as_tensor(ids, dtype=torch.long)
    Y = torch.as_tensor(y, dtype=torch.long)
    W = None if w is None else torch.as_tensor(w, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    for batch in _batches(len(X), batch_size, epochs, n_steps, gen):
        opt.zero_grad()
        logits = model(X[batch])
        if W is None:
            loss = nn.functional.cross_entropy(logits, Y[batch])
        else:
            loss = (nn.functional.cross_entropy(logits, Y[batch], reduction="none") * W[batch]).mean()
        loss.backward()
        opt.step()
    model.eval()

    def predict_proba(new_ids):
        with torch.no_grad():
            return torch.softmax(model(torch.as_tensor(np.asarray(new_ids), dtype=torch.long)), -1).numpy()

    return predict_proba


def macro_accuracy(proba, y, domains) -> float:
    """Mean over domains of the accuracy of ``argmax proba`` against ``y`` (each domain counts once).

    ``proba`` (n, C), ``y`` (n,), ``domains`` (n,).
    """
    proba, y, domains = np.asarray(proba), np.asarray(y), np.asarray(domains)
    if proba.ndim != 2 or y.shape != (proba.shape[0],) or domains.shape != y.shape:
        raise ValueError(f"proba (n, C), y (n,) and domains (n,) must agree, got {proba.shape}, {y.shape}, "
                         f"{domains.shape}")
    hit = proba.argmax(axis=1) == y
    return float(np.mean([hit[domains == d].mean() for d in np.unique(domains)]))


def random_selection_fit(pool_size: int, budget: int, n_steps: int, seed: int = 0) -> tuple[float, float]:
    """(training cross-entropy, training accuracy) after ``n_steps`` on a random ``budget`` of a fresh pool.

    The convergence rule the selection reproductions fix their step budget by: on the Random arm of a pool of
    ``pool_size`` SynthText-MD documents (seed ``seed``), the classifier must fit its own selection.
    """
    from diversa.data.select import RandomSelector
    from diversa.datasets import synthtext as st

    pool = st.make_multidomain_text(pool_size, seed=seed)
    ids, y = st.token_ids(pool), np.array([d.y for d in pool])
    idx = RandomSelector(random_state=seed).fit(np.zeros((pool_size, 1))).select(budget)
    proba = train_tiny_classifier(ids[idx], y[idx], seed=seed, n_steps=n_steps)(ids[idx])
    return float(-np.log(proba[np.arange(budget), y[idx]]).mean()), float((proba.argmax(1) == y[idx]).mean())
