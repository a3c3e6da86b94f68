"""A deep ensemble of MLPs trained jointly on the diversity-weighted (gamma) objective.

Abe, Buchanan, Pleiss, Cunningham, "Pathologies of Predictive Diversity in Deep Ensembles",
arXiv:2302.00704 (TMLR 2024), spec ``ensemble.md#pathologies``: the members of a
:class:`~diversa.nn.models.parallel_mlp.ParallelMLPEnsemble` minimise
``L_gamma = mean_m loss(f_m) - gamma DIV``
(:func:`~diversa.nn.losses.ensemble.diversity_regularized_loss`) on shared batches with Adam.
``gamma = 0`` is a standard deep ensemble of independently trained members, ``gamma = 1`` trains
the ensemble's own loss, ``gamma > 0`` encourages predictive diversity and ``gamma < 0``
discourages it (the authors' code uses ``gamma_code = 1 - gamma``). The ensemble predicts the
mean of the member softmaxes.

Randomness: the initialisation and the batch order come from a local ``torch.Generator`` seeded
by ``random_state``; torch's global random state is neither read nor changed. Training runs on
the CPU with the caller's torch thread settings.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data
from diversa._params import check_hidden

__all__ = ["DiverseEnsembleClassifier"]




class DiverseEnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Jointly trained MLP ensemble with a diversity weight ``gamma``.

    Parameters
    ----------
    n_members : int, number of members ``M``.
    hidden : int or tuple of ints, hidden widths of every member (ReLU).
    gamma : float, diversity weight (0 independent members, 1 joint ensemble loss).
    loss : "ce" or "brier"; measure : "jensen_gap", "js_uniform" or "variance".
    epochs : int, passes over the data; batch_size : int or None (full batch).
    lr, weight_decay : Adam settings.
    random_state : int, RandomState or None.

    Attributes
    ----------
    classes_ (C,), n_features_in_, model_ (the trained ``ParallelMLPEnsemble``), loss_curve_
    (objective per epoch, mean over batches).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = DiverseEnsembleClassifier(n_members=3, hidden=16, gamma=0.5, epochs=60, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> clf.member_proba(X[:2]).shape
    (3, 2, 3)
    """

    def __init__(self, n_members=4, hidden=(64,), gamma=0.0, loss="ce", measure="jensen_gap", epochs=300,
                 lr=1e-2, weight_decay=1e-4, batch_size=None, random_state=None):
        self.n_members = n_members
        self.hidden = hidden
        self.gamma = gamma
        self.loss = loss
        self.measure = measure
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.random_state = random_state

    def _check_params(self) -> tuple[int, ...]:
        for name in ("n_members", "epochs"):
            v = getattr(self, name)
            low = 1 if name == "n_members" else 0
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}.")
        if self.batch_size is not None and (isinstance(self.batch_size, bool)
                                            or not isinstance(self.batch_size, numbers.Integral)
                                            or self.batch_size < 1):
            raise ValueError(f"batch_size must be None or a positive int, got {self.batch_size!r}.")
        for name in ("lr", "weight_decay"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or v < 0 or (name == "lr" and v == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'lr' else 'non-negative'} float, got {v!r}.")
        return check_hidden(self.hidden)

    def fit(self, X, y):
        """Train the ensemble on ``X (n, d)`` and class labels ``y (n,)``."""
        import torch

        from diversa.nn.losses.ensemble import DiversityRegularizedEnsembleLoss
        from diversa.nn.models.parallel_mlp import ParallelMLPEnsemble

        hidden = self._check_params()
        objective = DiversityRegularizedEnsembleLoss(self.gamma, self.loss, self.measure)
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError("y must contain at least two classes; got one class.")
        self.classes_ = encoder.classes_
        target = torch.as_tensor(encoder.transform(y), dtype=torch.long)
        # an int seeds the generator as torch.manual_seed would seed the global one
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) and not isinstance(
            self.random_state, bool) else int(check_random_state(self.random_state).randint(2**31 - 1))
        generator = torch.Generator().manual_seed(int(seed))
        model = ParallelMLPEnsemble(self.n_members, X.shape[1], hidden, len(self.classes_), generator=generator)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        Xt = torch.tensor(X, dtype=torch.float32)
        n = Xt.shape[0]
        curve = []
        for _ in range(self.epochs):
            batches = [None] if self.batch_size is None or self.batch_size >= n else \
                torch.randperm(n, generator=generator).split(int(self.batch_size))
            total = 0.0
            for batch in batches:
                xb, yb = (Xt, target) if batch is None else (Xt[batch], target[batch])
                loss = objective(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach())
            curve.append(total / len(batches))
        model.eval()
        self.model_ = model
        self.loss_curve_ = curve
        return self

    def member_proba(self, X) -> np.ndarray:
        """Member class probabilities ``(M, n, C)`` (float32 softmaxes, renormalised in float64)."""
        import torch

        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with torch.no_grad():
            logits = self.model_(torch.tensor(X, dtype=torch.float32))
            probs = torch.softmax(logits, -1).double().numpy()
        return probs / probs.sum(axis=2, keepdims=True)

    def predict_proba(self, X) -> np.ndarray:
        """Ensemble probabilities ``(n, C)``: the mean of the member softmaxes."""
        return self.member_proba(X).mean(axis=0)

    def predict(self, X) -> np.ndarray:
        """Class with the largest ensemble probability."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
