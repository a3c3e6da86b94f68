"""The online batch selector interface: score a candidate batch, keep the top ``k`` to back-propagate.

An online selector sees one candidate batch per training step (after a
no-grad forward pass) and returns the indices of the samples the step trains
on. Every selector shares one call, ``select(logits=None, *, mask=None,
losses=None, reference_losses=None, step=None)``, and takes from it what it
needs: UDS the logits, MaxLoss the per-sample losses, RHO-Loss the losses and
a reference model's losses, Uniform only the batch size. Nothing here touches
the model or the optimiser, so any torch loop uses a selector in three lines (score and select, then step on the kept samples):

>>> import torch
>>> from diversa.data.online import UDSSelector, per_sample_loss
>>> torch.manual_seed(0) and None
>>> model = torch.nn.Sequential(torch.nn.Embedding(12, 8), torch.nn.Linear(8, 12))
>>> optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
>>> selector = UDSSelector(k=4, alpha_mode="auto", d_time=2, d_vocab=8)
>>> for step in range(3):
...     x = torch.randint(1, 12, (16, 6))                  # a candidate batch; targets = next tokens
...     with torch.no_grad():
...         idx = selector.select(model(x[:, :-1]))          # 1. score the batch, keep the top k
...     loss = per_sample_loss(model(x[idx, :-1]), x[idx, 1:]).mean()   # 2. forward the kept samples
...     optimiser.zero_grad(); loss.backward(); optimiser.step()        # 3. step
>>> idx.tolist(), selector.n_steps_
([...], 3)

``k`` is a count (an int >= 1) or a fraction of the batch (a float in
(0, 1]); a batch with at most ``k`` samples is kept whole, so a loop never
receives an empty batch. Inputs are validated: an empty batch, a NaN or
infinite value, or arrays that disagree on the batch size raise a
``ValueError`` naming the argument.
"""

from __future__ import annotations

import abc
import numbers

import torch
from sklearn.base import BaseEstimator

__all__ = ["OnlineSelector", "per_sample_loss", "resolve_k"]


def resolve_k(k, batch_size: int) -> int:
    """The number of samples to keep out of ``batch_size``: ``min(k, batch_size)`` for an int ``k >= 1``,
    ``max(1, round(k * batch_size))`` for a float ``k`` in (0, 1].

    >>> resolve_k(4, 16), resolve_k(0.25, 16), resolve_k(4, 3), resolve_k(0.01, 16)
    (4, 4, 3, 1)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int (an empty batch cannot be selected from), "
                         f"got {batch_size!r}")
    if isinstance(k, bool) or not isinstance(k, numbers.Real):
        raise TypeError(f"k must be an int count or a float fraction, got {k!r}")
    if isinstance(k, numbers.Integral):
        if k < 1:
            raise ValueError(f"k must be at least 1 (a step needs one sample to train on), got {k}")
        return int(min(k, batch_size))
    if not 0.0 < float(k) <= 1.0:
        raise ValueError(f"k as a fraction of the batch must lie in (0, 1], got {k}")
    return max(1, round(float(k) * batch_size))


def _as_tensor(values, name: str, ndim: int) -> torch.Tensor:
    if values is None:
        raise ValueError(f"{name} is required by this selector")
    t = torch.as_tensor(values).detach()
    if t.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (0 samples)")
    if not torch.is_floating_point(t):
        t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def _check_mask(mask, shape: tuple[int, int]) -> torch.Tensor | None:
    if mask is None:
        return None
    m = torch.as_tensor(mask).detach()
    if tuple(m.shape) != shape:
        raise ValueError(f"mask must have shape {shape} (batch, positions), got {tuple(m.shape)}")
    return m.bool()


def per_sample_loss(logits, targets, mask=None) -> torch.Tensor:
    """Mean token cross-entropy of each sample: ``logits`` (B, N, V) predicting ``targets`` (B, N).

    ``logits[:, t]`` is the prediction for ``targets[:, t]`` (shift before calling for a causal LM);
    ``mask`` (B, N) marks the positions that count (all when None). Keeps the graph, so its mean over
    the kept samples is the training loss. Returns (B,).

    >>> logits = torch.zeros(2, 3, 4)
    >>> per_sample_loss(logits, torch.zeros(2, 3, dtype=torch.long)).round(decimals=4)
    tensor([1.3863, 1.3863])
    """
    if logits.ndim != 3:
        raise ValueError(f"logits must be (batch, positions, vocab), got shape {tuple(logits.shape)}")
    if tuple(targets.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"targets must have shape {tuple(logits.shape[:2])}, got {tuple(targets.shape)}")
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    if mask is None:
        return nll.mean(1)
    m = _check_mask(mask, tuple(targets.shape)).to(nll.dtype)
    return (nll * m).sum(1) / m.sum(1).clamp(min=1.0)


class OnlineSelector(BaseEstimator, abc.ABC):
    """Base of the online batch selectors: ``select(...)`` returns the kept indices of one candidate batch.

    Subclasses implement ``_score(batch) -> (B,)`` (higher = keep) from the validated inputs and may
    override ``_observe(batch, idx)`` to update their state with the kept samples. ``select`` keeps the
    top ``k`` scores (ties go to the lower index), counts steps in ``n_steps_`` and returns the kept
    indices in increasing order as an int64 tensor. Before ``start_step`` it keeps the whole batch.
    """

    _needs = ()

    def __init__(self, k=0.25, *, start_step: int = 0):
        self.k = k
        self.start_step = start_step

    def _inputs(self, logits, mask, losses, reference_losses) -> dict:
        given = {"logits": (logits, 3), "losses": (losses, 1), "reference_losses": (reference_losses, 1)}
        batch = {}
        for name, (value, ndim) in given.items():
            if value is None and name not in self._needs:
                continue
            batch[name] = _as_tensor(value, name, ndim)
        if not batch:
            raise ValueError(f"{type(self).__name__}.select needs the candidate batch: pass logits= or losses=")
        sizes = {name: t.shape[0] for name, t in batch.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"logits, losses and reference_losses disagree on the batch size: {sizes}")
        if "logits" in batch:
            batch["mask"] = _check_mask(mask, tuple(batch["logits"].shape[:2]))
        batch["batch_size"] = next(iter(sizes.values()))
        return batch

    def score(self, logits=None, *, mask=None, losses=None, reference_losses=None) -> torch.Tensor:
        """Per-sample selection scores (B,), higher = more worth training on; changes no state."""
        return self._score(self._inputs(logits, mask, losses, reference_losses))

    def select(self, logits=None, *, mask=None, losses=None, reference_losses=None, step=None) -> torch.Tensor:
        """Indices (int64, increasing) of the samples of this candidate batch to back-propagate.

        ``logits`` (B, N, V) from a no-grad forward pass, ``mask`` (B, N) the positions that count,
        ``losses`` (B,) per-sample training losses, ``reference_losses`` (B,) a reference model's;
        ``step`` the training step (default: the number of earlier ``select`` calls).
        """
        if isinstance(self.start_step, bool) or not isinstance(self.start_step, numbers.Integral) \
                or self.start_step < 0:
            raise ValueError(f"start_step must be a non-negative int, got {self.start_step!r}")
        batch = self._inputs(logits, mask, losses, reference_losses)
        n = batch["batch_size"]
        kk = resolve_k(self.k, n)
        step = getattr(self, "n_steps_", 0) if step is None else int(step)
        if step < self.start_step:
            idx = torch.arange(n)
        else:
            scores = self._score(batch)
            order = torch.sort(-scores.double(), stable=True).indices
            idx = torch.sort(order[:kk]).values
            self._observe(batch, idx)
        self.n_steps_ = getattr(self, "n_steps_", 0) + 1
        return idx

    @abc.abstractmethod
    def _score(self, batch: dict) -> torch.Tensor:
        """One score per sample of ``batch``; the ``k`` highest are kept."""

    def _observe(self, batch: dict, idx: torch.Tensor) -> None:
        """Update internal state with the kept samples (default: nothing)."""
