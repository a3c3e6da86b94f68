"""Multi-expert long-tailed classifiers: SADE's skill-diverse experts, MDCS, and their baselines.

One scikit-learn estimator, :class:`LongTailExpertsClassifier`, trains a shared-trunk
multi-expert network (:class:`~diversa.nn.multi_expert.MultiExpertMLP`) on a long-tailed
training set with one of four objectives (``loss``):

* ``"ce"``: every expert on softmax cross-entropy (a multi-head softmax baseline);
* ``"balanced_softmax"``: every expert on balanced softmax ``CE(v + log pi, y)`` (the logit-adjusted
  loss with tau = 1);
* ``"sade"``: SADE's skill-diverse experts (Zhang, Hooi, Hong, Feng, arXiv:2107.09249, spec
  ``ensemble.md#sade``): forward (softmax), uniform (balanced softmax) and backward
  (inverse-prior) experts, :class:`~diversa.nn.losses.longtail.SkillDiverseExpertLoss`;
* ``"mdcs"``: MDCS (Zhao, Wen et al., arXiv:2308.09922, spec ``ensemble.md#mdcs``): the
  diversity loss over experts with prior powers ``lambdas`` on a weak and a strong view, plus
  consistency self-distillation with confident instance sampling,
  :class:`~diversa.nn.losses.longtail.MDCSLoss` (``kd_weight=0`` is the diversity loss alone).

Prediction is the mean of the raw expert logits (both papers' inference without test-time
adaptation). :meth:`LongTailExpertsClassifier.adapt` runs SADE's test-time self-supervised
aggregation on an unlabelled test set (:class:`~diversa.nn.aggregation.PredictionStabilityAggregator`);
afterwards predictions use the learned expert weights, exposed as ``aggregation_weights_`` with
the aggregator's diagnostics in ``aggregator_``.

Optimisation (spec section 0.2, LT-Digits defaults): SGD with Nesterov momentum 0.9, weight
decay 5e-4, lr 0.05, batch 64, one augmented view per step (two for MDCS). The learning rate
warms up linearly over the first ``lr_warmup_epochs`` epochs (5, as SADE's official schedule)
and then stays constant: without the warm-up, the large early losses of scale-30 cosine
classifiers kill most ReLUs of this small MLP and training can stall at predicting the head
class (seen on LT-Digits, where the spec's constant rate left some seeds at 41 % training
accuracy after 80 epochs).

Randomness comes from local generators seeded by ``random_state``; torch's global random state is
neither read nor changed. Training runs on the CPU with the caller's torch thread settings.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from diversa._params import torch_seed
from diversa.datasets.longtail import augment_strong, augment_view, augment_weak
from diversa.nn.aggregation import PredictionStabilityAggregator
from diversa.nn.losses.longtail import DiversityLoss, MDCSLoss, SkillDiverseExpertLoss, prior_adjusted_cross_entropy
from diversa.nn.multi_expert import MultiExpertMLP

__all__ = ["LongTailExpertsClassifier", "LOSSES", "AUGMENTS"]

LOSSES = ("ce", "balanced_softmax", "sade", "mdcs")
AUGMENTS = ("noise", "digits", "none")
#: Views an augmentation callable is asked for: training, test-time (SADE) and strong (MDCS student).
VIEWS = ("weak", "test", "strong")




def _noise_views(scale: torch.Tensor):
    """Generic views for any features: Gaussian noise relative to each feature's training spread.

    weak / test: ``N(0, (0.05 s_j)^2)``; strong: ``N(0, (0.15 s_j)^2)`` and a random 10 % of the
    features zeroed (a stand-in for cutout).
    """
    def augment(x, generator, view):
        sd = 0.15 if view == "strong" else 0.05
        out = x + sd * scale * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        if view == "strong":
            out = out.masked_fill(torch.rand(x.shape, generator=generator) < 0.1, 0.0)
        return out
    return augment


def _digit_views(strength: str):
    def augment(x, generator, view):
        if view == "weak":
            return augment_weak(x, generator)
        if view == "test":
            return augment_view(x, generator)
        return augment_strong(x, generator, strength)
    return augment


class LongTailExpertsClassifier(ClassifierMixin, BaseEstimator):
    """Shared-trunk multi-expert classifier for long-tailed training data (SADE, MDCS, baselines).

    Parameters
    ----------
    loss : "ce", "balanced_softmax", "sade" or "mdcs" (see the module docstring).
    n_experts : int, experts on the shared trunk ("sade" needs 3; "mdcs" one per ``lambdas``).
    lam : SADE's inverse-prior strength (``tau``; 2 in every SADE config).
    lambdas : MDCS's prior power per expert (``(-0.5, 1, 2.5)``: head-, balanced-, tail-focused).
    kd_weight, warmup_epochs, temperature, confident_sampling : MDCS's distillation weight, its
        linear warm-up, the distillation temperature and confident instance sampling.
    ce_on_strong : MDCS's diversity loss also on the strong view (official); False is an ablation.
    trunk, branch : hidden widths of the shared trunk and of every expert branch.
    scale : cosine-classifier scale (30 in both papers).
    epochs, lr, batch_size, weight_decay, momentum : SGD (Nesterov) training settings.
    lr_warmup_epochs : epochs of linear learning-rate warm-up (0: constant from the start).
    augment : "noise" (Gaussian noise scaled to each feature's spread), "digits" (the 8x8 digit
        shifts of :mod:`diversa.datasets.longtail`), "none", or a callable ``augment(x, generator,
        view) -> x'`` with ``view`` in ("weak", "test", "strong").
    strong_strength : "default" or "mild" strong digit view (MDCS with ``augment="digits"``).
    aggregator : a :class:`~diversa.nn.aggregation.PredictionStabilityAggregator` (cloned by
        :meth:`adapt`) or None for its defaults.
    random_state : int, RandomState or None.

    Attributes
    ----------
    classes_ (C,), n_features_in_, class_counts_ (C,) training counts, model_ (the trained
    ``MultiExpertMLP``), loss_curve_ (mean objective per epoch), selection_curve_ (epochs, E): the
    fraction of training images MDCS's confident instance sampling selected per expert and epoch
    (0 when no distillation ran), feature_scale_ (d,) the training features' standard deviations
    (the scale of ``augment="noise"``). After :meth:`adapt`:
    aggregation_weights_ (E,) and aggregator_ (the fitted aggregator, with its diagnostics).

    Examples
    --------
    >>> from diversa.datasets.longtail import make_longtail_digits
    >>> lt = make_longtail_digits(imbalance_ratio=10, random_state=0)
    >>> clf = LongTailExpertsClassifier(loss="sade", epochs=20, augment="digits", random_state=0)
    >>> clf.fit(lt.X_train, lt.y_train).expert_logits(lt.test_pool_X[:4]).shape
    (3, 4, 10)
    """

    def __init__(self, loss="sade", n_experts=3, lam=2.0, lambdas=(-0.5, 1.0, 2.5), kd_weight=0.6,
                 warmup_epochs=8, temperature=1.0, confident_sampling=True, ce_on_strong=True, trunk=(128,),
                 branch=(64,), scale=30.0, epochs=150, lr=0.05, lr_warmup_epochs=5, batch_size=64,
                 weight_decay=5e-4, momentum=0.9, augment="noise", strong_strength="default", aggregator=None, random_state=None):
        self.loss = loss
        self.n_experts = n_experts
        self.lam = lam
        self.lambdas = lambdas
        self.kd_weight = kd_weight
        self.warmup_epochs = warmup_epochs
        self.temperature = temperature
        self.confident_sampling = confident_sampling
        self.ce_on_strong = ce_on_strong
        self.trunk = trunk
        self.branch = branch
        self.scale = scale
        self.epochs = epochs
        self.lr = lr
        self.lr_warmup_epochs = lr_warmup_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.augment = augment
        self.strong_strength = strong_strength
        self.aggregator = aggregator
        self.random_state = random_state

    # -- validation -------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        for name, low in (("n_experts", 1), ("epochs", 0), ("batch_size", 1), ("lr_warmup_epochs", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}.")
        for name in ("lr", "weight_decay", "momentum"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0 or (
                    name == "lr" and v == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'lr' else 'non-negative'} float, "
                                 f"got {v!r}.")
        if self.loss == "sade" and self.n_experts != 3:
            raise ValueError(f"loss='sade' trains three experts (forward, uniform, backward); n_experts must be 3, "
                             f"got {self.n_experts!r}.")
        if self.loss == "mdcs" and len(tuple(self.lambdas)) != self.n_experts:
            raise ValueError(f"lambdas must hold one prior power per expert: got {len(tuple(self.lambdas))} for "
                             f"n_experts={self.n_experts}.")
        if not (callable(self.augment) or self.augment in AUGMENTS):
            raise ValueError(f"augment must be one of {AUGMENTS} or a callable, got {self.augment!r}.")
        if self.strong_strength not in ("default", "mild"):
            raise ValueError(f"strong_strength must be 'default' or 'mild', got {self.strong_strength!r}.")
        if self.aggregator is not None and not isinstance(self.aggregator, PredictionStabilityAggregator):
            raise TypeError(f"aggregator must be None or a PredictionStabilityAggregator, got "
                            f"{type(self.aggregator).__name__}.")

    def _objective(self, counts: np.ndarray):
        if self.loss == "sade":
            return SkillDiverseExpertLoss(counts, self.lam)
        if self.loss == "mdcs":
            return MDCSLoss(counts, self.lambdas, self.kd_weight, self.warmup_epochs, self.temperature,
                            self.confident_sampling, self.ce_on_strong)
        return DiversityLoss(counts, (0.0 if self.loss == "ce" else 1.0,) * self.n_experts)

    def _augmenter(self, X: np.ndarray):
        if callable(self.augment):
            return self.augment
        if self.augment == "digits":
            if X.shape[1] != 64:
                raise ValueError(f"augment='digits' needs 8x8 images (64 features), got {X.shape[1]} features.")
            return _digit_views(self.strong_strength)
        if self.augment == "noise":
            return _noise_views(torch.as_tensor(self.feature_scale_, dtype=torch.float32))
        return None

    # -- training ---------------------------------------------------------------------------------

    def fit(self, X, y):
        """Train the experts on ``X (n, d)`` and labels ``y (n,)`` (every class needs an example)."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError("y must contain at least two classes; got one class.")
        self.classes_ = encoder.classes_
        target = torch.as_tensor(encoder.transform(y), dtype=torch.long)
        self.class_counts_ = np.bincount(target.numpy(), minlength=len(self.classes_))
        self.feature_scale_ = X.std(axis=0)
        objective = self._objective(self.class_counts_)
        augment = self._augmenter(X)
        generator = torch.Generator().manual_seed(torch_seed(self.random_state))
        model = MultiExpertMLP(X.shape[1], len(self.classes_), self.n_experts, self.trunk, self.branch,
                               scale=self.scale, generator=generator)
        opt = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum, nesterov=self.momentum > 0,
                              weight_decay=self.weight_decay)
        Xt = torch.from_numpy(X)
        curve, selection = [], []
        for epoch in range(self.epochs):
            # linear warm-up, as both papers' schedules: lr * (epoch + 1) / warmup in the first epochs
            for group in opt.param_groups:
                group["lr"] = self.lr * min(1.0, (epoch + 1) / max(self.lr_warmup_epochs, 1))
            total, picked = 0.0, np.zeros(self.n_experts)
            batches = torch.randperm(len(Xt), generator=generator).split(int(self.batch_size))
            for idx in batches:
                loss, selected = self._batch_loss(model, objective, Xt[idx], target[idx], augment, generator, epoch)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach())
                picked += selected
            curve.append(total / len(batches))
            selection.append(picked / len(Xt))
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        # predictions run in float64: float32 matrix products round differently with the batch size
        self.model_, self.loss_curve_ = model.double(), curve
        self.selection_curve_ = np.array(selection).reshape(len(selection), self.n_experts)
        for stale in ("aggregation_weights_", "aggregator_"):
            self.__dict__.pop(stale, None)
        return self

    def _batch_loss(self, model, objective, xb, yb, augment, generator, epoch: int):
        """The objective on one batch and the per-expert count of MDCS's confidently sampled rows."""
        weak = xb if augment is None else augment(xb, generator, "weak")
        if self.loss != "mdcs":
            return objective(model(weak), yb), 0
        if not (self.ce_on_strong or self.kd_weight > 0):
            # no term reads the strong view: skip its forward pass (the diversity loss on one view)
            return prior_adjusted_cross_entropy(model(weak), yb, objective.diversity.offsets), 0
        strong = xb if augment is None else augment(xb, generator, "strong")
        # the official trainer counts epochs from 1, so the warm-up ramp starts at 1 / warmup
        loss = objective(model(torch.cat([weak, strong])), yb, epoch + 1)
        return loss, objective.last_terms["n_selected"].numpy()

    # -- test-time aggregation ----------------------------------------------------------------------

    def adapt(self, X_unlabeled):
        """SADE's test-time self-supervised aggregation on unlabelled ``X_unlabeled (n, d)``; returns self.

        Learns expert weights that maximise the stability of the aggregated prediction across two
        random test-time views; later predictions use them (``aggregation_weights_``). Each call
        starts again from uniform weights. Needs a random augmentation (not ``augment="none"``)
        and at least ``aggregator.min_samples`` samples.
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X_unlabeled, dtype=np.float32, reset=False)
        if self.augment == "none":
            raise ValueError("adapt needs random views of the test samples; augment='none' gives identical views.")
        augment = self._augmenter(X)
        aggregator = clone(self.aggregator) if self.aggregator is not None else PredictionStabilityAggregator()
        if aggregator.random_state is None and self.random_state is not None:
            aggregator.set_params(random_state=torch_seed(self.random_state))
        aggregator.fit(lambda x: self.model_(x.double()), X, lambda x, g: augment(x, g, "test"))
        self.aggregator_, self.aggregation_weights_ = aggregator, aggregator.weights_.copy()
        return self

    # -- prediction ---------------------------------------------------------------------------------

    def expert_logits(self, X) -> np.ndarray:
        """Raw expert logits ``(E, n, C)`` (float64)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with torch.no_grad():
            return self.model_(torch.from_numpy(X)).numpy()

    def aggregated_logits(self, X) -> np.ndarray:
        """Aggregated logits ``(n, C)``: learned weights after :meth:`adapt`, else the mean over experts."""
        logits = self.expert_logits(X)
        E = logits.shape[0]
        weights = getattr(self, "aggregation_weights_", np.full(E, 1.0 / E))
        return np.einsum("e,enc->nc", weights, logits)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, C)``: the softmax of :meth:`aggregated_logits`."""
        z = self.aggregated_logits(X)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Class with the largest aggregated logit."""
        logits = self.aggregated_logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on ``(X, y)``; a label the model never saw in training is an error, not a silent miss."""
        check_is_fitted(self, "model_")
        unseen = np.setdiff1d(np.asarray(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y holds labels {unseen.tolist()} absent from training (classes_ = "
                             f"{self.classes_.tolist()}); the model cannot predict them.")
        return super().score(X, y, sample_weight=sample_weight)
