"""AWARE-NET two-tier ensemble: uniform averaging within families, learned softmax weights across.

"AWARE-NET: Adaptive Weighted Averaging for Robust Ensemble Network in
Deepfake Detection", arXiv:2505.00312 (spec ``ensemble.md#aware_net``), generalised to any set of
model families and any classification task.

Tier 1 averages the member probabilities of each family uniformly (``tier1_space="prob"``,
official) or averages logits then applies softmax (``"logit"``). Tier 2 mixes the F family
averages with ``w = softmax(alpha)``, ``alpha`` initialised to ``1/F`` (uniform weights, as the
official ``nn.Parameter(ones(F)/F)``). The weights are trained by backpropagation on the proper
negative log-likelihood of the mixture, computed in log space. RESOLUTION (spec): the official
code applies ``CrossEntropyLoss`` to already-softmaxed probabilities (a double softmax);
``loss="official_double_softmax"`` reproduces it for comparison only. RESOLUTION (spec): members
are frozen and only ``alpha`` is learned (full-batch Adam, lr 0.05, 200 steps, no weight decay);
the official regime of fine-tuning every member jointly is not offered here.

Tier-2 weights must be fitted on held-out validation data that the members were not trained on:
fitted on the members' own training data they drift to the most overfit family, and the library
cannot detect such reuse.

* :class:`TwoTierWeightedAverage` -- the torch head over a list of member logits.
* :class:`TwoTierEnsemble` -- scikit-learn meta-estimator over prefit members (any estimator with
  ``predict_proba``, or torch modules mapping a float tensor to logits).
* :func:`fit_members` -- fit ``n_instances`` seeded copies per family.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn

__all__ = ["TwoTierEnsemble", "TwoTierWeightedAverage", "fit_members"]

_LOSSES = ("nll", "official_double_softmax")


def _family_log_probs(member_logits: Sequence[torch.Tensor], family_sizes: Sequence[int], tier1_space: str):
    out, start = [], 0
    for size in family_sizes:
        group = torch.stack([torch.as_tensor(g) for g in member_logits[start:start + size]])  # (n_f, B, C)
        start += size
        if tier1_space == "prob":
            lp = torch.logsumexp(torch.log_softmax(group, dim=-1), dim=0) - np.log(size)
        else:
            lp = torch.log_softmax(group.mean(dim=0), dim=-1)
        out.append(lp)
    return torch.stack(out)  # (F, B, C)


class TwoTierWeightedAverage(nn.Module):
    """Torch head: ``p(x) = sum_f softmax(alpha)_f mean_{i in f} softmax(g_{f,i}(x))``.

    ``forward(member_logits)`` takes the members' logits ``(B, C)`` listed family by family (the
    first ``family_sizes[0]`` belong to family 0, ...) and returns probabilities ``(B, C)``;
    ``log_forward`` returns their logarithm (computed with logsumexp).
    """

    def __init__(self, family_sizes: Sequence[int], tier1_space: str = "prob"):
        super().__init__()
        sizes = [int(s) for s in family_sizes]
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"family_sizes must be a non-empty list of positive ints, got {family_sizes!r}.")
        if tier1_space not in ("prob", "logit"):
            raise ValueError(f"tier1_space must be 'prob' or 'logit', got {tier1_space!r}.")
        self.family_sizes = sizes
        self.tier1_space = tier1_space
        self.alpha = nn.Parameter(torch.ones(len(sizes)) / len(sizes))

    @property
    def weights(self) -> torch.Tensor:
        return torch.softmax(self.alpha, dim=0)

    def log_forward(self, member_logits: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(member_logits) != sum(self.family_sizes):
            raise ValueError(f"member_logits must hold {sum(self.family_sizes)} tensors, got {len(member_logits)}.")
        lp = _family_log_probs(member_logits, self.family_sizes, self.tier1_space)
        return torch.logsumexp(torch.log_softmax(self.alpha, dim=0)[:, None, None] + lp, dim=0)

    def forward(self, member_logits: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.exp(self.log_forward(member_logits))


def _tier2_loss(log_p: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "nll":
        return nn.functional.nll_loss(torch.clamp(log_p, min=np.log(1e-12)), target)
    return nn.functional.cross_entropy(torch.exp(log_p), target)  # official double softmax


def _member_logits(member, X: np.ndarray, family: str) -> np.ndarray:
    if isinstance(member, nn.Module):
        with torch.no_grad():
            was = member.training
            member.eval()
            out = member(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
            member.train(was)
        return out
    try:
        check_is_fitted(member)
    except NotFittedError as err:
        raise NotFittedError(f"A member of family {family!r} is not fitted: fit members before the ensemble.") from err
    if not hasattr(member, "predict_proba"):
        raise TypeError(f"Members of family {family!r} need predict_proba (or be torch modules).")
    return np.log(np.clip(member.predict_proba(X), 1e-12, 1.0))


class TwoTierEnsemble(ClassifierMixin, BaseEstimator):
    """AWARE-NET over prefit members grouped in families; ``fit`` learns only the family weights.

    Parameters
    ----------
    families : dict[str, list]
        Family name -> fitted members (scikit-learn classifiers with ``predict_proba`` sharing
        ``classes_``, or torch modules returning logits over ``n_classes`` classes, then the
        classes are ``0..C-1``).
    tier1_space : "prob" (official) or "logit".
    n_steps, lr, weight_decay : full-batch Adam settings of the tier-2 fit.
    init : "uniform" or an array of F positive initial weights.
    loss : "nll" (default) or "official_double_softmax".
    random_state : int or None; unused by the deterministic full-batch fit (kept for the
        scikit-learn signature). ``fit`` neither reads nor changes torch's global random state.

    Attributes: ``weights_`` (F,), ``family_names_``, ``classes_``, ``loss_curve_``,
    ``family_val_nll_`` (F,), ``family_val_accuracy_`` (F,).
    """

    def __init__(self, families=None, tier1_space="prob", n_steps=200, lr=0.05, weight_decay=0.0, init="uniform",
                 loss="nll", random_state=None):
        self.families = families
        self.tier1_space = tier1_space
        self.n_steps = n_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.init = init
        self.loss = loss
        self.random_state = random_state

    def _check_families(self):
        fam = self.families
        if not isinstance(fam, Mapping) or len(fam) == 0:
            raise ValueError("families must be a non-empty dict of family name -> list of fitted members.")
        for name, members in fam.items():
            if not isinstance(members, (list, tuple)) or len(members) == 0:
                raise ValueError(f"families[{name!r}] must be a non-empty list of members.")
        return list(fam), [len(m) for m in fam.values()]

    def _classes(self):
        classes = None
        for name, members in self.families.items():
            for m in members:
                if isinstance(m, nn.Module):
                    continue
                try:
                    check_is_fitted(m)
                except NotFittedError as err:
                    raise NotFittedError(f"A member of family {name!r} is not fitted.") from err
                c = np.asarray(getattr(m, "classes_", None))
                if classes is None:
                    classes = c
                elif c.shape != classes.shape or np.any(c != classes):
                    raise ValueError(f"families: members of family {name!r} have classes {c.tolist()}, "
                                     f"expected {classes.tolist()}.")
        return classes

    def family_log_proba(self, X) -> np.ndarray:
        """Tier-1 log probabilities ``(F, n, C)``."""
        names, sizes = self._check_families()
        X = check_array(X, input_name="X")
        logits = [_member_logits(m, X, name) for name in names for m in self.families[name]]
        C = {g.shape[1] for g in logits}
        if len(C) != 1:
            raise ValueError(f"families: members disagree on the number of classes {sorted(C)}.")
        return _family_log_probs([torch.from_numpy(g) for g in logits], sizes, self.tier1_space).numpy()

    def family_proba(self, X) -> np.ndarray:
        return np.exp(self.family_log_proba(X))

    def fit(self, X_val, y_val):
        names, _sizes = self._check_families()
        if self.tier1_space not in ("prob", "logit"):
            raise ValueError(f"tier1_space must be 'prob' or 'logit', got {self.tier1_space!r}.")
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {self.loss!r}.")
        if isinstance(self.n_steps, bool) or not isinstance(self.n_steps, numbers.Integral) or self.n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative int, got {self.n_steps!r}.")
        classes = self._classes()
        X_val = check_array(X_val, input_name="X_val")
        y_val = np.asarray(y_val)
        if y_val.shape != (X_val.shape[0],):
            raise ValueError(f"y_val must have shape ({X_val.shape[0]},), got {y_val.shape}.")
        lp = self.family_log_proba(X_val)
        if classes is None:
            classes = np.arange(lp.shape[2])
        if len(classes) != lp.shape[2]:
            raise ValueError("families: torch and scikit-learn members disagree on the number of classes.")
        unseen = np.setdiff1d(np.unique(y_val), classes)
        if unseen.size:
            raise ValueError(f"y_val has classes {unseen.tolist()} unseen by the members.")
        target = torch.from_numpy(np.searchsorted(classes, y_val)).long()
        F = len(names)
        if isinstance(self.init, str):
            if self.init != "uniform":
                raise ValueError(f"init must be 'uniform' or an array of weights, got {self.init!r}.")
            alpha0 = torch.ones(F, dtype=torch.float64) / F
        else:
            w0 = np.asarray(self.init, dtype=float)
            if w0.shape != (F,) or np.any(w0 <= 0):
                raise ValueError(f"init must hold {F} positive weights, got {self.init!r}.")
            alpha0 = torch.log(torch.from_numpy(w0 / w0.sum()))
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            # full batch from a fixed initialisation: nothing is random, so torch's global random
            # state is left alone (it used to be reseeded here, silently, for every caller)
            alpha = nn.Parameter(alpha0.clone())
            opt = torch.optim.Adam([alpha], lr=self.lr, weight_decay=self.weight_decay)
            LP = torch.from_numpy(lp)
            curve = []
            for _ in range(self.n_steps):
                log_p = torch.logsumexp(torch.log_softmax(alpha, 0)[:, None, None] + LP, dim=0)
                loss = _tier2_loss(log_p, target, self.loss)
                opt.zero_grad()
                loss.backward()
                opt.step()
                curve.append(float(loss.detach()))
        finally:
            torch.set_num_threads(old)
        self.weights_ = torch.softmax(alpha.detach(), 0).numpy()
        self.family_names_ = names
        self.classes_ = classes
        self.loss_curve_ = curve
        ll = lp[:, np.arange(len(target)), target.numpy()]
        self.family_val_nll_ = -np.maximum(ll, np.log(1e-12)).mean(axis=1)
        self.family_val_accuracy_ = (lp.argmax(axis=2) == target.numpy()[None]).mean(axis=1)
        self.n_features_in_ = X_val.shape[1]
        return self

    def predict_log_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "weights_")
        lp = self.family_log_proba(X)
        z = np.log(np.clip(self.weights_, 1e-300, None))[:, None, None] + lp
        m = z.max(axis=0)
        return m + np.log(np.exp(z - m).sum(axis=0))

    def predict_proba(self, X) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_log_proba(X), axis=1)]


def fit_members(family_factories: Mapping[str, object], X, y, n_instances: int = 3, random_state=None) -> dict:
    """Fit ``n_instances`` copies per family with seeds ``random_state + i``.

    A factory is an unfitted estimator (cloned; its ``random_state`` set when it has one) or a
    callable ``seed -> unfitted estimator``.
    """
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral) or n_instances < 1:
        raise ValueError(f"n_instances must be a positive int, got {n_instances!r}.")
    if not isinstance(family_factories, Mapping) or not family_factories:
        raise ValueError("family_factories must be a non-empty dict.")
    base = 0 if random_state is None else int(random_state)
    out = {}
    for name, factory in family_factories.items():
        members = []
        for i in range(n_instances):
            if isinstance(factory, BaseEstimator):
                est = clone(factory)
                if "random_state" in est.get_params():
                    est.set_params(random_state=base + i)
            elif isinstance(factory, Callable):
                est = factory(base + i)
            else:
                raise TypeError(f"family_factories[{name!r}] must be an estimator or a callable seed -> estimator.")
            members.append(est.fit(X, y))
        out[name] = members
    return out
