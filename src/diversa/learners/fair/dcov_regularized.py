"""MLP classifier and regressor trained with a distance-covariance fairness penalty on several protected attributes.

Lee, Antonio, Avanzi, Marchi, Zhou, "Machine Learning with Multitype Protected Attributes:
Intersectional Fairness through Regularisation", arXiv:2509.08163, spec ``tabular.md#dcov-fairness``.
A small ReLU MLP minimises, on every mini-batch,

    mean_i w_i loss(y_i, f(x_i)) / mean_i w_i  +  lam * D(yhat_batch, s_batch),

with ``D`` from :class:`~diversa.nn.losses.distance_covariance.DistanceCovariancePenalty`
(``penalty`` = "ccdcov", "jdcov", "sum" or "dcov") on the protected attributes passed to ``fit`` as
``sensitive_features`` (fairlearn's keyword; continuous, binary and categorical columns together,
encoded by :class:`~diversa.learners.fair.encoding.ProtectedAttributeEncoder`). The penalised
prediction ``yhat`` is the predicted probability of the positive class (binary), the probability
vector (multiclass), or the prediction on the standardised target scale (regression: the target is
standardised for training, so ``lam`` does not depend on its units). Without
``sensitive_features`` (or with ``lam = 0``) the model is a plain MLP. The protected attributes are
used in training only; ``predict`` needs ``X`` alone.

Choices not fixed by the paper: the features are standardised with the training mean and SD; the
batches are the rows of a random permutation cut into ``ceil(n / batch_size)`` nearly equal parts
(never fewer than 4 rows while a penalty is active, as the estimators need ``n >= 4``); the penalty
is computed in float32 like the network (the attribute distances exactly, in float64, first) and is
unweighted by ``sample_weight``.

Randomness: the initialisation and batch order come from a local ``torch.Generator`` seeded by
``random_state``; torch's global random state is neither read nor changed.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from diversa._params import check_hidden, check_int, check_real, check_sample_weight, torch_seed
from diversa.learners.fair.encoding import ProtectedAttributeEncoder, as_attribute_frame

__all__ = ["FairClassifier", "FairRegressor"]

PENALTIES = ("ccdcov", "jdcov", "sum", "dcov")










def _batches(n: int, batch_size: int, penalised: bool, generator):
    import torch

    parts = math.ceil(n / batch_size)
    if penalised:
        parts = max(1, min(parts, n // 4))  # every batch keeps >= 4 rows for the estimator
    return torch.tensor_split(torch.randperm(n, generator=generator), parts)


class _FairMLP(BaseEstimator):
    """Shared training loop of :class:`FairClassifier` and :class:`FairRegressor`."""

    def __init__(self, hidden=(32, 32), penalty="ccdcov", lam=1.0, c=1.0, unbiased=True, sensitive_types="auto",
                 epochs=60, batch_size=256, lr=1e-3, weight_decay=0.0, random_state=None):
        self.hidden = hidden
        self.penalty = penalty
        self.lam = lam
        self.c = c
        self.unbiased = unbiased
        self.sensitive_types = sensitive_types
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state

    def _check_params(self) -> tuple[int, ...]:
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {self.penalty!r}.")
        check_real(self.lam, "lam", 0.0)
        check_real(self.c, "c", 0.0, strict=True)
        check_real(self.lr, "lr", 0.0, strict=True)
        check_real(self.weight_decay, "weight_decay", 0.0)
        check_int(self.epochs, "epochs", 0)
        check_int(self.batch_size, "batch_size", 1)
        return check_hidden(self.hidden)

    def _encode_sensitive(self, sensitive_features, n: int):
        """Encoded attribute blocks as float64 tensors, or None when there is nothing to penalise."""
        import torch

        self.sensitive_encoder_ = None
        if sensitive_features is None:
            return None
        frame = as_attribute_frame(sensitive_features, name="sensitive_features", n_samples=n)
        try:
            encoder = ProtectedAttributeEncoder(types=self.sensitive_types).fit(frame)
        except ValueError as error:
            raise ValueError(f"sensitive_features: {error}") from None
        self.sensitive_encoder_ = encoder
        if self.lam == 0:
            return None
        if self.penalty == "dcov" and len(encoder.types_) != 1:
            raise ValueError(f"penalty 'dcov' takes one protected attribute, sensitive_features has "
                             f"{len(encoder.types_)}; use 'ccdcov', 'jdcov' or 'sum'.")
        if n < 4:
            raise ValueError(f"sensitive_features: the distance-covariance penalty needs at least 4 samples, got {n}.")
        if self.batch_size < 4:
            raise ValueError(f"batch_size must be >= 4 while a penalty is active (the estimator needs 4 rows), "
                             f"got {self.batch_size}.")
        return _AttributeDistances([torch.as_tensor(b, dtype=torch.float64) for b in encoder.transform_blocks(frame)])

    def _train(self, X, target, n_outputs: int, sample_weight, attrs) -> None:
        import torch

        from diversa.nn.losses.distance_covariance import DistanceCovariancePenalty

        hidden = self._check_params()
        generator = torch.Generator().manual_seed(torch_seed(self.random_state))
        self.x_mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.x_scale_ = np.where(scale > 0, scale, 1.0)
        Xt = torch.tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        weights = torch.tensor(sample_weight, dtype=torch.float32)
        model = _make_mlp(X.shape[1], hidden, n_outputs, generator)
        # the fused kernel: about a third faster than the default on models this small
        optimiser = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay, fused=True)
        penalty = DistanceCovariancePenalty(self.penalty, c=self.c, unbiased=bool(self.unbiased))
        self.loss_curve_, self.penalty_curve_ = [], []
        for _ in range(self.epochs):
            total_loss = total_penalty = 0.0
            batches = _batches(len(Xt), self.batch_size, attrs is not None, generator)
            for rows in batches:
                output = model(Xt[rows])
                w = weights[rows]
                loss = (self._sample_loss(output, target[rows]) * w).sum() / w.sum().clamp_min(1e-12)
                objective = loss
                if attrs is not None:
                    value = penalty(self._penalised(output), attr_distances=attrs.batch(rows))
                    objective = loss + self.lam * value
                    total_penalty += float(value.detach())
                optimiser.zero_grad()
                objective.backward()
                optimiser.step()
                total_loss += float(loss.detach())
            self.loss_curve_.append(total_loss / len(batches))
            self.penalty_curve_.append(total_penalty / len(batches) if attrs is not None else 0.0)
        # float64 for prediction: the same rows give the same outputs whatever the batch around them
        self.model_ = model.double().eval()

    def _forward(self, X) -> np.ndarray:
        import torch

        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with torch.no_grad():
            return self.model_(torch.tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float64))


class _AttributeDistances:
    """Each encoded attribute's Euclidean distances on a batch, computed the cheap exact way.

    A one-column block gives ``|s_i - s_j|``; a one-hot block scaled by ``1/sqrt(2)`` gives 1 where
    the levels differ and 0 where they agree; any other block its full row distances.
    """

    def __init__(self, blocks):
        self.blocks = []
        for block in blocks:
            nonzero = block != 0
            one_hot = block.shape[1] > 1 and bool((nonzero.sum(dim=1) == 1).all()) and \
                _all_close_to(block[nonzero], 2 ** -0.5)
            self.blocks.append(("levels", block.argmax(dim=1)) if one_hot else ("values", block))

    def batch(self, rows):
        from diversa.nn.losses.distance_covariance import distance_matrix

        out = []
        for kind, data in self.blocks:
            part = data[rows]
            if kind == "levels":
                out.append((part[:, None] != part[None, :]).float())
            elif part.shape[1] == 1:
                out.append((part - part.T).abs().float())
            else:
                out.append(distance_matrix(part).float())
        return out


def _all_close_to(values, target: float) -> bool:
    return bool(((values - target).abs() <= 1e-12).all())


def _make_mlp(n_in: int, hidden: tuple[int, ...], n_out: int, generator):
    import torch
    from torch import nn

    # skip_init: the layers are built without drawing from torch's global generator
    layers, width = [], n_in
    for h in hidden:
        layers += [nn.utils.skip_init(nn.Linear, width, h), nn.ReLU()]
        width = h
    layers.append(nn.utils.skip_init(nn.Linear, width, n_out))
    model = nn.Sequential(*layers)
    with torch.no_grad():  # PyTorch's default init, drawn from the local generator
        for layer in model:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return model


class FairClassifier(ClassifierMixin, _FairMLP):
    """MLP classifier with a distance-covariance penalty for demographic parity on mixed-type attributes.

    Lee et al., arXiv:2509.08163. The penalty ``lam * D(p, s)`` acts on the predicted probability
    of the positive class (binary) or the probability vector (multiclass) and the protected
    attributes given as ``fit(X, y, sensitive_features=...)``.

    Parameters
    ----------
    hidden : int or tuple of ints, hidden widths (ReLU); the spec's 6-32-32-1 network is the default.
    penalty : "ccdcov" (the paper's concatenated dCov), "jdcov" (joint dCov, constant ``c``), "sum"
        (sum of marginal dCov2) or "dcov" (one attribute).
    lam : float >= 0, penalty weight lambda. c : float > 0, JdCov constant.
    unbiased : bool, U-statistic (authors' default; can be negative) or V-statistic estimators.
    sensitive_types : "auto", dict or sequence of attribute types (see ``ProtectedAttributeEncoder``).
    epochs, batch_size, lr, weight_decay : Adam training settings. random_state : int, RandomState or None.

    Attributes
    ----------
    classes_, n_features_in_, model_ (torch ``nn.Sequential``), sensitive_encoder_ (fitted
    ``ProtectedAttributeEncoder`` or None), loss_curve_ and penalty_curve_ (per-epoch means).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> S = pd.DataFrame({"age": rng.uniform(18, 80, 400), "sex": rng.integers(0, 2, 400)})
    >>> X = np.c_[rng.normal(size=(400, 2)), S["sex"] + rng.normal(size=400)]
    >>> y = (X[:, 0] + X[:, 2] > 0.5).astype(int)
    >>> clf = FairClassifier(lam=5.0, epochs=20, random_state=0).fit(X, y, sensitive_features=S)
    >>> clf.predict_proba(X).shape
    (400, 2)
    """

    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        """Train on ``X (n, d)``, labels ``y (n,)``, protected attributes ``(n, k)`` and optional weights ``(n,)``."""
        import torch

        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError("y must contain at least two classes; got one class.")
        self.classes_ = encoder.classes_
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        attrs = self._encode_sensitive(sensitive_features, X.shape[0])
        codes = encoder.transform(y)
        binary = len(self.classes_) == 2
        target = torch.as_tensor(codes, dtype=torch.float32 if binary else torch.long)
        self._train(X, target, 1 if binary else len(self.classes_), sample_weight, attrs)
        return self

    def _sample_loss(self, output, target):
        import torch.nn.functional as F

        if output.shape[1] == 1:
            return F.binary_cross_entropy_with_logits(output[:, 0], target, reduction="none")
        return F.cross_entropy(output, target, reduction="none")

    def _penalised(self, output):
        import torch

        return torch.sigmoid(output[:, 0]) if output.shape[1] == 1 else torch.softmax(output, dim=1)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, C)`` (float64, rows sum to 1; two columns for binary)."""
        import torch

        output = self._forward(X)
        if output.shape[1] == 1:
            p = torch.sigmoid(output[:, 0]).double().numpy()
            return np.column_stack([1.0 - p, p])
        probs = torch.softmax(output, dim=1).double().numpy()
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Most probable class ``(n,)``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class FairRegressor(RegressorMixin, _FairMLP):
    """MLP regressor with a distance-covariance penalty for demographic parity on mixed-type attributes.

    Lee et al., arXiv:2509.08163. Squared error on the standardised target plus ``lam * D(yhat, s)``
    with ``yhat`` the prediction on that standardised scale; ``predict`` returns the original units.
    Parameters and attributes as :class:`FairClassifier` (``y_mean_``, ``y_scale_`` instead of
    ``classes_``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 3, 300)
    >>> X = np.c_[rng.normal(size=300), s + rng.normal(size=300)]
    >>> y = X[:, 0] + X[:, 1]
    >>> reg = FairRegressor(penalty="dcov", lam=2.0, epochs=20, random_state=0).fit(X, y, sensitive_features=s)
    >>> reg.predict(X).shape
    (300,)
    """

    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        """Train on ``X (n, d)``, targets ``y (n,)``, protected attributes ``(n, k)`` and optional weights ``(n,)``."""
        import torch

        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        attrs = self._encode_sensitive(sensitive_features, X.shape[0])
        self.y_mean_ = float(y.mean())
        scale = float(y.std())
        self.y_scale_ = scale if scale > 0 else 1.0
        target = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        self._train(X, target, 1, sample_weight, attrs)
        return self

    def _sample_loss(self, output, target):
        return (output[:, 0] - target) ** 2

    def _penalised(self, output):
        return output[:, 0]

    def predict(self, X) -> np.ndarray:
        """Predictions ``(n,)`` in the units of ``y``."""
        return self._forward(X)[:, 0].double().numpy() * self.y_scale_ + self.y_mean_
