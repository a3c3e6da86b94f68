"""Shared machinery of the NCD learners that cluster novel rows in a learnt latent space.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data",
arXiv:2311.05440, spec ``tabular.md#practical-ncd``. A subclass trains a
:class:`~diversa.nn.models.pbn.PBNNetwork` (:class:`~diversa.learners.ncd.pbn.PBN`, the
:class:`~diversa.learners.ncd.baseline_encoder.NCDBaselineEncoder`); this base then, as the
official notebooks do, estimates the number of novel classes on the L2-normalised latent of the
unlabelled rows and clusters them with k-means (k-means++, ``n_init``) in the latent named by
``cluster_on`` ("raw": the encoder output before normalisation, the official
``predict_new_data``; "normalized": after). Features are standardised with the mean and
standard deviation of all training rows (known and unlabelled) when ``standardize``.

Randomness: initialisation, dropout and the one shuffle of the rows come from torch's generator
seeded by ``random_state`` inside :func:`torch.random.fork_rng`, so the caller's global random
state is neither read nor changed. Training runs on the CPU with the caller's thread settings.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from diversa.learners.ncd._data import check_n_clusters, check_n_rows, class_ids, split_known_unlabelled
from diversa.learners.ncd.n_clusters import KEstimate, check_k_range, estimate_n_clusters

__all__ = ["LatentNCD"]

CLUSTER_ON = ("raw", "normalized")


def _check_real(value, name: str, low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name} must be a number in {'(' if low_open else '['}{low}, {high}"
                         f"{')' if high_open else ']'}, got {value!r}.")


def _check_int(value, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")


class LatentNCD(ClusterMixin, TransformerMixin, BaseEstimator):
    """Base of the latent-space NCD learners: train a network, estimate k, cluster the novel rows.

    Subclasses set ``_decoder`` and implement ``_train(net, X, target, torch)``, returning the
    per-epoch history. Common attributes: ``known_classes_``, ``n_novel_classes_``,
    ``k_estimate_``, ``labels_`` (novel cluster of every unlabelled row), ``cluster_centers_``
    (in the clustering latent), ``network_``, ``scaler_`` (or None), ``history_``.
    """

    _decoder = True

    def _check_common(self) -> tuple[int, ...] | None:
        check_n_clusters(self.n_clusters)
        check_k_range(self.k_range)
        _check_int(self.latent_dim, "latent_dim", 1)
        _check_int(self.epochs, "epochs", 0)
        _check_int(self.batch_size, "batch_size", 2)
        _check_int(self.n_init, "n_init", 1)
        _check_real(self.lr, "lr", 0, np.inf, low_open=True, high_open=True)
        _check_real(self.p_dropout, "p_dropout", 0, 1, high_open=True)
        if self.use_norm not in (None, "l2"):
            raise ValueError(f"use_norm must be None or 'l2', got {self.use_norm!r}.")
        if self.cluster_on not in CLUSTER_ON:
            raise ValueError(f"cluster_on must be one of {CLUSTER_ON}, got {self.cluster_on!r}.")
        if isinstance(self.hidden_dims, str):
            if self.hidden_dims != "auto":
                raise ValueError(f"hidden_dims must be 'auto' or a sequence of ints, got {self.hidden_dims!r}.")
            return None
        try:
            dims = tuple(self.hidden_dims)
        except TypeError:
            raise ValueError(f"hidden_dims must be 'auto' or a sequence of ints, got {self.hidden_dims!r}.") from None
        for h in dims:
            _check_int(h, "hidden_dims", 1)
        return dims

    def fit(self, X, y=None, X_unlabelled=None):
        """Train on known rows ``X (n_k, d)``, ``y (n_k,)`` and ``X_unlabelled (n_u, d)`` (or ``fit(X, y)``
        with ``y == unknown_label`` on the unlabelled rows, or ``fit(X)``), estimate the number of
        novel classes and cluster the unlabelled rows."""
        import torch

        from diversa.nn.models.pbn import PBNNetwork, paper_hidden_dims

        dims = self._check_common()
        self._check_own_params()
        X_known, y_known, X_u = split_known_unlabelled(self, X, y, X_unlabelled, unknown_label=self.unknown_label)
        check_n_rows(X_u, 2 if self.n_clusters == "auto" else self.n_clusters)
        rng = check_random_state(self.random_state)
        self.known_classes_, ids = class_ids(y_known)
        X_all = np.vstack([X_known, X_u])
        self.scaler_ = StandardScaler().fit(X_all) if self.standardize else None
        dims = paper_hidden_dims(X_all.shape[1]) if dims is None else dims
        target = np.concatenate([ids, np.full(X_u.shape[0], -1)])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.randint(2**31 - 1)))
            net = PBNNetwork(X_all.shape[1], dims, self.latent_dim, self.known_classes_.size,
                             p_dropout=self.p_dropout, use_norm=self.use_norm, decoder=self._decoder)
            self.history_ = self._train(net, self._scaled(X_all), target, torch)
        net.eval()
        self.network_ = net
        self._cluster_unlabelled(X_u, rng)
        return self

    def _check_own_params(self) -> None:
        """Validate the subclass's own hyper-parameters."""

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return X if self.scaler_ is None else self.scaler_.transform(X)

    def _cluster_unlabelled(self, X_u: np.ndarray, rng: np.random.RandomState) -> None:
        self.k_estimate_ = None
        k = self.n_clusters
        if k == "auto":
            self.k_estimate_ = self._estimate(X_u, rng.randint(2**31 - 1))
            k = self.k_estimate_.n_clusters
        self.n_novel_classes_ = int(k)
        self.kmeans_ = KMeans(n_clusters=int(k), n_init=self.n_init,
                              random_state=rng.randint(2**31 - 1)).fit(self._latent(X_u, self.cluster_on))
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.labels_ = self.kmeans_.labels_

    def _estimate(self, X: np.ndarray, seed: int) -> KEstimate:
        return estimate_n_clusters(self._latent(X, "normalized"), self.k_range, index=self.k_index,
                                   n_repeats=self.k_repeats, n_init=self.n_init, random_state=seed)

    def _latent(self, X: np.ndarray, space: str) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.as_tensor(self._scaled(X), dtype=torch.float32)
            z = self.network_.encode(x, normalised=space == "normalized")
        return z.double().numpy()

    def _validated(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        return validate_data(self, X, reset=False, dtype=np.float64)

    def transform(self, X):
        """Latent ``(n, latent_dim)`` of ``X (n, d)`` in the space the clusters live in (``cluster_on``)."""
        return self._latent(self._validated(X), self.cluster_on)

    def predict(self, X):
        """Nearest novel cluster centre (in the latent) of every row of ``X (n, d)``."""
        check_is_fitted(self, "kmeans_")
        return self.kmeans_.predict(self.transform(X))

    def fit_predict(self, X, y=None, X_unlabelled=None):
        """Fit and return the novel cluster of every unlabelled row ``(n_u,)``."""
        return self.fit(X, y, X_unlabelled).labels_

    def estimate_n_clusters(self, X_novel, random_state=None) -> KEstimate:
        """Number of novel classes among the rows ``X_novel (n, d)``, estimated in the normalised latent."""
        seed = check_random_state(self.random_state if random_state is None else random_state).randint(2**31 - 1)
        return self._estimate(self._validated(X_novel), seed)

    def cluster_novel(self, X_novel, n_clusters=None):
        """Cluster the rows ``X_novel (n, d)`` afresh in the latent (transductive, as the official
        notebooks cluster the novel test rows); ``n_clusters`` defaults to ``n_novel_classes_``."""
        Z = self.transform(X_novel)
        k = self.n_novel_classes_ if n_clusters is None else n_clusters
        _check_int(k, "n_clusters", 1)
        check_n_rows(Z, k, "X_novel")
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        return KMeans(n_clusters=int(k), n_init=self.n_init, random_state=seed).fit_predict(Z)

    def _batches(self, n: int, torch):
        """One fixed shuffle of the rows, then consecutive batches; batches of one row are skipped (BatchNorm)."""
        order = torch.randperm(n)
        return [b for b in order.split(self.batch_size) if b.numel() >= 2]

    @staticmethod
    def _warn_untrained(reason: str) -> None:
        warnings.warn(f"{reason}: the encoder keeps its initial weights.", UserWarning, stacklevel=4)
