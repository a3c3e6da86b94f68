"""Test-time self-supervised aggregation of frozen experts by prediction stability (SADE).

Zhang, Hooi, Hong, Feng, "Self-Supervised Aggregation of Diverse Experts for Test-Agnostic
Long-Tailed Recognition", arXiv:2107.09249 (NeurIPS 2022), spec ``ensemble.md#sade``, step 3.

Given frozen experts (logits ``v_k(x)``, shape ``(E, B, C)``) and an unlabelled test set, learn
weights ``w = softmax(a)`` (``a`` starts at ``1/E`` everywhere, so ``w`` starts uniform) that
maximise the stability of the aggregated prediction under augmentation: for two random views
``x', x''`` of each test sample, ``p = softmax(sum_k w_k v_k(x))`` (aggregation in logit space)
and the loss is ``-mean_b cos(p'_b, p''_b)``. SGD with Nesterov momentum 0.9 and weight decay
5e-4 on ``a``; after every epoch (one pass in shuffled batches) training stops early once any
weight falls below ``stop_below``. The paper argues that the experts whose skill matches the
unknown test class distribution give the most stable predictions, so the weights drift toward
them: toward the forward expert on long-tailed test sets, toward the backward expert on
inversely long-tailed ones.

RESOLUTION for small test sets (spec): the official budget is 5 epochs of a 10 000-image test
set (about 390 steps); a test set of a few hundred images gives a few batches per epoch, so the
number of steps is ``max(epochs * n_batches, min_steps)``.

Small test sets: below ``min_samples`` unlabelled samples (default 40) the weights are mostly
noise, so :meth:`PredictionStabilityAggregator.fit` refuses them (lower ``min_samples``
deliberately to override). A user report (SADE-AgnosticLT#9) saw 5 test images put 0.73 on the
backward expert and cost 35 points of accuracy. On LT-Digits (IR 100, two seeds, 12 random
subsets per size of the forward-25 and backward-25 test sets) weights learned on 5, 10 or 20
samples lay 0.34-0.53 (L1) from those learned on the whole set and sometimes lost accuracy
against plain expert averaging (worst: -9 points at 5 samples, -3.5 at 20); from 40 samples on
they lay within 0.25 and never lost against averaging.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import Tensor
from diversa._params import check_int, check_real, torch_seed

__all__ = ["PredictionStabilityAggregator", "prediction_stability"]


def prediction_stability(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Cosine similarity of ``softmax(logits_a)`` and ``softmax(logits_b)`` per row: ``(..., B, C) -> (..., B)``."""
    return torch.nn.functional.cosine_similarity(torch.softmax(logits_a, -1), torch.softmax(logits_b, -1),
                                                 dim=-1, eps=1e-6)








class PredictionStabilityAggregator(BaseEstimator):
    """SADE's test-time aggregation weights, learned on unlabelled data by prediction stability.

    Parameters
    ----------
    lr, momentum, weight_decay : SGD (Nesterov) settings for the aggregation parameters
        (SADE's CIFAR values: 0.1, 0.9, 5e-4).
    epochs : passes over the test set (SADE: 5); min_steps : the fewest optimisation steps
        (the small-test-set resolution); batch_size : test samples per step.
    stop_below : stop after an epoch in which some weight fell below it (SADE: 0.05; 0 never stops).
    min_samples : the fewest unlabelled samples accepted (see the module docstring).
    n_views : None draws two fresh views per sample at every step (SADE's loop); an int ``K >= 2``
        computes the experts' logits for ``K`` random views of every sample once and lets every
        step pick two distinct ones per sample (the same objective with ``K (K - 1) / 2`` pairs per
        sample; far cheaper on small test sets, memory ``K * E * n * C`` floats).
    random_state : seeds the batch order and the augmentations.

    Attributes (after :meth:`fit`)
    ------------------------------
    weights_ (E,) : the learned aggregation weights (sum to 1).
    history_ (n_steps_ + 1, E) : the weights before every step and after the last.
    n_steps_, stopped_early_ : optimisation steps run, and whether the weight floor ended them.
    expert_stability_ (E,) : each expert's own mean prediction stability on the test set.
    initial_stability_, stability_ : the aggregate's stability with uniform and with learned weights.
    expert_class_prior_ (E, C) : each expert's mean predicted class distribution on the
        (unaugmented) test set; class_prior_ (C,) : the same for the learned aggregate.
    The diagnostics use one fixed pair of views of the whole set.

    Examples
    --------
    >>> import torch
    >>> experts = lambda x: torch.stack([x, -x, 0 * x])          # three "experts" on 2 classes
    >>> views = lambda x, g: x + 0.1 * torch.randn(x.shape, generator=g)
    >>> X = torch.randn(64, 2)
    >>> agg = PredictionStabilityAggregator(min_steps=20, random_state=0).fit(experts, X, views)
    >>> float(agg.weights_.sum())
    1.0
    """

    def __init__(self, lr=0.1, momentum=0.9, weight_decay=5e-4, epochs=5, min_steps=300, batch_size=128,
                 stop_below=0.05, min_samples=40, n_views=None, random_state=None):
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.stop_below = stop_below
        self.min_samples = min_samples
        self.n_views = n_views
        self.random_state = random_state

    def _check_params(self) -> None:
        check_real(self.lr, "lr", 0.0, strict=True)
        check_real(self.momentum, "momentum", 0.0)
        check_real(self.weight_decay, "weight_decay", 0.0)
        check_int(self.epochs, "epochs", 0)
        check_int(self.min_steps, "min_steps", 0)
        check_int(self.batch_size, "batch_size", 1)
        check_int(self.min_samples, "min_samples", 2)
        if self.n_views is not None:
            check_int(self.n_views, "n_views", 2)
        if check_real(self.stop_below, "stop_below", 0.0) >= 1:
            raise ValueError(f"stop_below must lie in [0, 1), got {self.stop_below!r}.")

    def fit(self, expert_fn: Callable[[Tensor], Tensor], X_unlabeled, augment: Callable[[Tensor, torch.Generator],
                                                                                         Tensor]):
        """Learn the weights on unlabelled ``X_unlabeled (n, d)``.

        ``expert_fn(x (B, d)) -> (E, B, C)`` gives the frozen experts' logits (called without
        gradients); ``augment(x (B, d), generator) -> (B, d)`` draws one random view per row.
        """
        self._check_params()
        if not callable(expert_fn):
            raise TypeError("expert_fn must be callable: x (B, d) -> expert logits (E, B, C).")
        if not callable(augment):
            raise TypeError("augment must be callable: (x (B, d), torch.Generator) -> a random view (B, d).")
        X = torch.as_tensor(np.asarray(X_unlabeled, dtype=np.float32))
        if X.ndim != 2:
            raise ValueError(f"X_unlabeled must be 2-d (n, d), got shape {tuple(X.shape)}.")
        if not torch.isfinite(X).all():
            raise ValueError("X_unlabeled contains NaN or infinity.")
        n = X.shape[0]
        if n < self.min_samples:
            raise ValueError(f"X_unlabeled has {n} samples; test-time aggregation needs at least min_samples="
                             f"{self.min_samples} (fewer make the weights mostly noise).")
        generator = torch.Generator().manual_seed(torch_seed(self.random_state))
        with torch.no_grad():
            E = self._expert_logits(expert_fn, X[:1]).shape[0]
            cache = None if self.n_views is None else self._cached_views(expert_fn, X, augment, generator)

        def views_of(idx):
            if cache is None:
                return self._view_logits(expert_fn, X[idx], augment, generator)
            return self._pick_views(cache, idx, generator)
        history, step, stopped = self._learn_weights(E, n, views_of, generator)
        self.weights_ = history[-1].double().numpy()
        self.weights_ /= self.weights_.sum()
        self.history_ = torch.stack(history).double().numpy()
        self.n_steps_, self.stopped_early_ = step, stopped
        self._diagnose(expert_fn, X, augment, generator)
        return self

    def _learn_weights(self, E: int, n: int, views_of, generator) -> tuple[list[Tensor], int, bool]:
        """SGD on ``a`` (``w = softmax(a)``) over shuffled batches; returns the weight history, steps, early stop."""
        a = torch.full((E,), 1.0 / E, requires_grad=True)
        opt = torch.optim.SGD([a], lr=self.lr, momentum=self.momentum, nesterov=self.momentum > 0,
                              weight_decay=self.weight_decay)
        batch = min(self.batch_size, n)
        total = max(self.epochs * math.ceil(n / batch), self.min_steps)
        history, step, stopped = [torch.softmax(a.detach(), 0)], 0, False
        while step < total and not stopped:
            for idx in torch.randperm(n, generator=generator).split(batch)[:total - step]:
                with torch.no_grad():
                    views = views_of(idx)
                loss = -self._stability(torch.softmax(a, 0), views).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                history.append(torch.softmax(a.detach(), 0))
            # the early-stopping rule is checked once per epoch, as in SADE
            stopped = self.stop_below > 0 and bool((history[-1] < self.stop_below).any())
        return history, step, stopped

    @staticmethod
    def _expert_logits(expert_fn, x: Tensor) -> Tensor:
        logits = torch.as_tensor(expert_fn(x))
        if logits.ndim != 3 or logits.shape[1] != x.shape[0]:
            raise ValueError(f"expert_fn must return expert logits (E, B, C) for B = {x.shape[0]} rows, "
                             f"got shape {tuple(logits.shape)}.")
        if not torch.isfinite(logits).all():
            raise ValueError("expert_fn returned NaN or infinite logits.")
        return logits.float()

    def _view_logits(self, expert_fn, x: Tensor, augment, generator) -> Tensor:
        """Expert logits of two random views, stacked: ``(2, E, B, C)``."""
        both = torch.cat([augment(x, generator), augment(x, generator)])
        logits = self._expert_logits(expert_fn, both)
        return logits.reshape(logits.shape[0], 2, x.shape[0], -1).transpose(0, 1)

    def _cached_views(self, expert_fn, X: Tensor, augment, generator) -> Tensor:
        """Expert logits of ``n_views`` random views of every sample: ``(K, E, n, C)``."""
        views = torch.cat([augment(X, generator) for _ in range(self.n_views)])
        logits = self._expert_logits(expert_fn, views)
        return logits.reshape(logits.shape[0], self.n_views, X.shape[0], -1).transpose(0, 1)

    @staticmethod
    def _pick_views(cache: Tensor, idx: Tensor, generator) -> Tensor:
        """Two distinct cached views of every sample in ``idx``: ``(2, E, B, C)``."""
        K = cache.shape[0]
        first = torch.randint(0, K, (len(idx),), generator=generator)
        second = (first + torch.randint(1, K, (len(idx),), generator=generator)) % K
        return torch.stack([cache[first, :, idx], cache[second, :, idx]]).transpose(1, 2)

    @staticmethod
    def _stability(w: Tensor, views: Tensor) -> Tensor:
        mixed = torch.einsum("e,vebc->vbc", w, views)
        return prediction_stability(mixed[0], mixed[1])

    def _diagnose(self, expert_fn, X: Tensor, augment, generator) -> None:
        with torch.no_grad():
            views = self._view_logits(expert_fn, X, augment, generator)
            E = views.shape[1]
            self.expert_stability_ = prediction_stability(views[0], views[1]).mean(-1).double().numpy()
            self.initial_stability_ = float(self._stability(torch.full((E,), 1.0 / E), views).mean())
            self.stability_ = float(self._stability(torch.as_tensor(self.weights_, dtype=torch.float32), views).mean())
            clean = self._expert_logits(expert_fn, X)
            self.expert_class_prior_ = torch.softmax(clean, -1).mean(1).double().numpy()
            self.class_prior_ = torch.softmax(self.transform(clean), -1).mean(0).double().numpy()

    def transform(self, expert_logits) -> Tensor:
        """Aggregated logits ``sum_k w_k v_k``: ``(E, n, C) -> (n, C)`` (a tensor of ``expert_logits``' dtype)."""
        check_is_fitted(self, "weights_")
        logits = torch.as_tensor(expert_logits)
        if logits.ndim != 3 or logits.shape[0] != self.weights_.shape[0]:
            raise ValueError(f"expert_logits must have shape (E={self.weights_.shape[0]}, n, C), "
                             f"got {tuple(logits.shape)}.")
        return torch.einsum("e,enc->nc", torch.as_tensor(self.weights_, dtype=logits.dtype), logits)
