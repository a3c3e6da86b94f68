"""Training an audio-visual question answerer with or without MCCD debiasing (a scikit-learn-style estimator).

Ma, Hu, Wang, Sun, Song, Pei, Liu, Du, "Look, Listen, and Answer: Overcoming Biases for
Audio-Visual Question Answering", arXiv:2404.12020 (NeurIPS 2024); spec ``training.md#mccd``.
:class:`DebiasedAVQAClassifier` trains a model with the documented interface (by default
:class:`~diversa.apps.avqa.model.TinyAVQANet`) on an :class:`~diversa.datasets.avqa.AVQADataset`:

* ``method="plain"``: cross-entropy on the fused logits only (the undebiased AVQA model);
* ``method="mccd"``: the MCCD objective of :class:`~diversa.nn.losses.mccd.MCCDLoss` (official
  weights unless ``loss_kwargs`` says otherwise), for which the bias learners run every step.

Both methods build the same network from the same seed (the bias learners exist, untrained, in
the plain model too), see the same batches in the same order for the same number of steps, and
predict from the fused logits alone. Adam at a constant rate (the authors use Adam with a step
decay over 150 epochs and keep the best validation epoch; at the small scale of this library a
fixed number of epochs is used, the same for every method).

Randomness: the initialisation and dropout run under a forked torch random state seeded from
``random_state`` (torch's global state is left as it was); the batch order comes from a numpy
``RandomState`` of the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from diversa._params import check_int, check_real, torch_seed
from diversa.apps.avqa.model import TinyAVQANet
from diversa.nn.losses.mccd import MODALITIES, MCCDLoss, cycle_kl, fusion_distances

__all__ = ["DebiasedAVQAClassifier", "METHODS"]

METHODS = ("plain", "mccd")
_FIELDS = ("q_features", "audio", "video")


def _inputs(X) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The question vectors, audio and video of a data set as float32 tensors."""
    missing = [f for f in _FIELDS if not hasattr(X, f)]
    if missing:
        raise TypeError(f"X must be an AVQADataset (or have {_FIELDS}); {type(X).__name__} lacks {missing}.")
    q, a, v = (torch.as_tensor(np.asarray(getattr(X, f), dtype=np.float32)) for f in _FIELDS)
    if q.ndim != 2 or a.ndim != 3 or v.ndim != 3 or not q.shape[0] == a.shape[0] == v.shape[0]:
        raise ValueError(f"X must hold q_features (n, Dq), audio (n, Ta, Da) and video (n, Tv, Dv), got "
                         f"{tuple(q.shape)}, {tuple(a.shape)}, {tuple(v.shape)}.")
    if q.shape[0] == 0:
        raise ValueError("X is empty.")
    if not all(torch.isfinite(t).all() for t in (q, a, v)):
        raise ValueError("X holds non-finite features.")
    return q, a, v


class DebiasedAVQAClassifier(ClassifierMixin, BaseEstimator):
    """An AVQA model trained plainly or with MCCD; predicts from the fused logits only.

    Parameters: ``method`` ("plain" or "mccd"); the default network's ``d_model``, ``n_layers``,
    ``n_heads``, ``dim_feedforward``, ``dropout``; ``epochs``, ``lr`` (Adam), ``batch_size``;
    ``loss_kwargs`` for :class:`~diversa.nn.losses.mccd.MCCDLoss` (official weights when None);
    ``module``: a callable ``(question_dim, audio_dim, video_dim, n_answers) -> nn.Module``
    with the documented interface (None: :class:`TinyAVQANet` of the sizes above);
    ``random_state``.

    Fitted: ``model_`` (the network, in eval mode), ``classes_`` (answer indices
    ``0..C-1``), ``history_`` (per epoch, the mean of each loss component over its batches),
    ``init_diagnostics_`` (:meth:`bias_diagnostics` of the initial network on the training set),
    ``n_steps_``.
    """

    def __init__(self, method: str = "mccd", d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 dim_feedforward: int = 128, dropout: float = 0.1, epochs: int = 25, lr: float = 1e-3,
                 batch_size: int = 128, loss_kwargs: dict | None = None, module: Callable | None = None,
                 random_state=None):
        self.method = method
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.loss_kwargs = loss_kwargs
        self.module = module
        self.random_state = random_state

    def _build(self, question_dim: int, audio_dim: int, video_dim: int, n_answers: int) -> torch.nn.Module:
        if self.module is not None:
            if not callable(self.module):
                raise TypeError(f"module must be callable (question_dim, audio_dim, video_dim, n_answers) -> "
                                f"nn.Module, got {type(self.module).__name__}.")
            model = self.module(question_dim, audio_dim, video_dim, n_answers)
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"module must return an nn.Module, got {type(model).__name__}.")
            return model
        return TinyAVQANet(question_dim, audio_dim, video_dim, n_answers, d_model=self.d_model,
                           n_layers=self.n_layers, n_heads=self.n_heads, dim_feedforward=self.dim_feedforward,
                           dropout=self.dropout)

    def _loss(self) -> MCCDLoss:
        kwargs = {} if self.loss_kwargs is None else self.loss_kwargs
        if not isinstance(kwargs, dict):
            raise TypeError(f"loss_kwargs must be a dict or None, got {type(kwargs).__name__}.")
        return MCCDLoss(**kwargs)

    def fit(self, X, y=None):
        """Train on ``X`` (an :class:`~diversa.datasets.avqa.AVQADataset`), labels ``X.y`` or ``y (n,)``."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}.")
        epochs = check_int(self.epochs, "epochs", 0)
        batch_size = check_int(self.batch_size, "batch_size", 1)
        lr = check_real(self.lr, "lr", 0.0, strict=True)
        q, a, v = _inputs(X)
        target = np.asarray(X.y if y is None else y)
        if target.shape != (q.shape[0],) or not np.issubdtype(target.dtype, np.integer):
            raise ValueError(f"y must be ({q.shape[0]},) integer answer indices, got shape {target.shape} and dtype "
                             f"{target.dtype}.")
        n_answers = int(getattr(X, "n_answers", target.max() + 1))
        if target.min() < 0 or target.max() >= n_answers:
            raise ValueError(f"y must hold answer indices in 0..{n_answers - 1}.")
        target = torch.as_tensor(target, dtype=torch.long)
        criterion = self._loss() if self.method == "mccd" else None
        seed = torch_seed(self.random_state)
        order_rng = np.random.RandomState(seed % (2**32))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build(q.shape[1], a.shape[2], v.shape[2], n_answers)
            self.model_ = model
            self.classes_ = np.arange(n_answers)
            self.init_diagnostics_ = self.bias_diagnostics(X)
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            self.history_ = []
            steps = 0
            n = q.shape[0]
            for _ in range(epochs):
                model.train()
                sums: dict[str, float] = {}
                perm = torch.as_tensor(order_rng.permutation(n))
                n_batches = math.ceil(n / batch_size)
                for b in range(n_batches):
                    rows = perm[b * batch_size:(b + 1) * batch_size]
                    out = model(q[rows], a[rows], v[rows], with_bias=criterion is not None)
                    if criterion is None:
                        loss = F.cross_entropy(out["fusion"], target[rows])
                        parts = {"loss": float(loss.detach()), "ce": float(loss.detach())}
                    else:
                        loss = criterion(out["fusion"], {m: out[m] for m in MODALITIES}, target[rows])
                        parts = criterion.last_components
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    steps += 1
                    for key, value in parts.items():
                        sums[key] = sums.get(key, 0.0) + value / n_batches
                self.history_.append(sums)
            model.eval()
        self.n_steps_ = steps
        return self

    @torch.no_grad()
    def _outputs(self, X, with_bias: bool, batch_size: int = 1024) -> dict[str, torch.Tensor]:
        q, a, v = _inputs(X)
        model = self.model_
        was_training = model.training
        model.eval()
        try:
            chunks = [model(q[i:i + batch_size], a[i:i + batch_size], v[i:i + batch_size], with_bias=with_bias)
                      for i in range(0, q.shape[0], batch_size)]
        finally:
            model.train(was_training)
        return {key: torch.cat([c[key] for c in chunks]) for key in chunks[0]}

    def decision_function(self, X) -> np.ndarray:
        """Fused answer logits ``(n, C)`` (the bias learners are not run)."""
        check_is_fitted(self, "model_")
        return self._outputs(X, with_bias=False)["fusion"].numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Answer probabilities ``(n, C)``: softmax of the fused logits."""
        return torch.softmax(torch.as_tensor(self.decision_function(X)), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """The most probable answer ``(n,)`` from the fused logits."""
        return self.decision_function(X).argmax(1)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Accuracy on ``X`` (labels ``X.y`` unless ``y`` is given)."""
        return super().score(X, X.y if y is None else y, sample_weight=sample_weight)

    def bias_diagnostics(self, X) -> dict[str, float]:
        """What MCCD acts on, measured on ``X`` in eval mode (floats).

        ``dist_q``/``dist_a``/``dist_v``: mean ``||z_f - z_m||``; ``dist_mean`` their mean;
        ``cycle_kl``: ``KL(p_q||p_a) + KL(p_v||p_q) + KL(p_a||p_v)`` (unweighted); ``norm_f``,
        ``norm_q``, ``norm_a``, ``norm_v``: mean logit norms (an inverse-distance term can be
        lowered by inflating the bias learners' norms; this shows whether it was).
        """
        check_is_fitted(self, "model_")
        out = self._outputs(X, with_bias=True)
        bias = {m: out[m] for m in MODALITIES}
        dist = {f"dist_{m}": float(d) for m, d in fusion_distances(out["fusion"], bias).items()}
        norms = {f"norm_{k}": float(out[key].norm(dim=1).mean()) for k, key in
                 (("f", "fusion"), ("q", "q"), ("a", "a"), ("v", "v"))}
        return {**dist, "dist_mean": float(np.mean(list(dist.values()))),
                "cycle_kl": float(sum(cycle_kl(bias).values())), **norms}
