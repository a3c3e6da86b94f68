"""Synthetic click-through-rate data: Zipf-distributed categorical ids with latent pairwise interactions.

The testbed of the AFM reproduction (Yu, Fu, Ding, Zhou, Wu, "Unified Low-rank Compression Framework
for Click-through Rate Prediction", arXiv:2405.18146, KDD 2024; spec ``tabular.md#afm-ctr``). It has
the two properties the paper's argument leans on: a few ids of each field carry most of the traffic
(long-tailed, like Criteo/Avazu), and clicks depend on pairwise field interactions through
low-dimensional latent vectors, so the features a CTR model learns are close to low-rank.

Generation, per call (one "world" and ``n`` rows drawn from it):

* field ``f`` has ``field_dims[f]`` ids; ids are drawn from a truncated Zipf law
  ``p(rank r) ~ (r + 1)^-zipf_a`` with the rank-to-id order randomly permuted;
* each id has a first-order effect ``w ~ N(0, 0.3^2)`` and a latent vector ``z ~ N(0, 0.5^2 I)``,
  centred by default under the field's id distribution (``center_latent``): otherwise the few head
  ids make ``<z_f, z_g>`` mostly a first-order effect of each id, which a linear model absorbs, and
  the interactions a CTR model is for barely matter (the spec draws ``z`` uncentred);
* ``n_dense`` standard-normal dense features enter through ``0.5 tanh(x . a)``, ``a ~ N(0, I)``;
* ``logit = b0 + sum_f w_f + 0.5 sum_{f<g} <z_f, z_g> + 0.5 tanh(x . a)``, with ``b0`` found by
  root finding so that the mean click probability over the drawn rows is ``base_ctr``;
* ``y ~ Bernoulli(sigmoid(logit))``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.utils import check_random_state

#: Ids per field in the spec's testbed: a few large fields and a tail of small ones.
DEFAULT_FIELD_DIMS = (2000, 1000, 500, 200, 100, 50, 20, 10, 5, 3)


class CTRData(NamedTuple):
    """Rows of a CTR data set: ids ``X_cat`` (n, F) int64, ``X_dense`` (n, n_dense) float32, ``y`` (n,) 0/1."""

    X_cat: np.ndarray
    X_dense: np.ndarray
    y: np.ndarray


def zipf_probabilities(n_ids: int, a: float, rng: np.random.RandomState) -> np.ndarray:
    """Truncated Zipf probabilities over ``n_ids`` ids, the popularity order shuffled (shape (n_ids,))."""
    weights = (np.arange(n_ids) + 1.0) ** -a
    return (weights / weights.sum())[rng.permutation(n_ids)]


def _validate(n, field_dims, n_dense, latent_dim, base_ctr, zipf_a):
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}.")
    if len(field_dims) < 2 or any(int(v) < 1 for v in field_dims):
        raise ValueError(f"field_dims must list at least 2 fields with >= 1 id each, got {field_dims!r}.")
    if not (isinstance(n_dense, (int, np.integer)) and n_dense >= 0):
        raise ValueError(f"n_dense must be an integer >= 0, got {n_dense!r}.")
    if not (isinstance(latent_dim, (int, np.integer)) and latent_dim >= 1):
        raise ValueError(f"latent_dim must be an integer >= 1, got {latent_dim!r}.")
    if not 0 < base_ctr < 1:
        raise ValueError(f"base_ctr must lie in (0, 1), got {base_ctr!r}.")
    if not zipf_a > 0:
        raise ValueError(f"zipf_a must be > 0, got {zipf_a!r}.")


def make_ctr(n: int, field_dims=DEFAULT_FIELD_DIMS, *, n_dense: int = 3, latent_dim: int = 4,
             base_ctr: float = 0.15, zipf_a: float = 1.2, center_latent: bool = True,
             random_state=None) -> CTRData:
    """Draw ``n`` rows of synthetic CTR data (see the module docstring for the model).

    Split the rows yourself for training, validation and test: they share one world (the same
    id effects and latent vectors), as a log split by time would. ``center_latent=False`` draws the
    latent vectors uncentred, exactly as the spec writes them.

    Returns
    -------
    CTRData
        ``X_cat`` (n, F) int64 ids with ``0 <= X_cat[:, f] < field_dims[f]``, ``X_dense``
        (n, n_dense) float32, ``y`` (n,) int64 clicks.
    """
    field_dims = tuple(int(v) for v in field_dims)
    _validate(n, field_dims, n_dense, latent_dim, base_ctr, zipf_a)
    rng = check_random_state(random_state)
    ids = np.empty((n, len(field_dims)), dtype=np.int64)
    first_order = np.zeros(n)
    latent_sum = np.zeros((n, latent_dim))
    latent_sq = np.zeros(n)
    for f, n_ids in enumerate(field_dims):
        p = zipf_probabilities(n_ids, zipf_a, rng)
        ids[:, f] = rng.choice(n_ids, size=n, p=p)
        w = rng.normal(0.0, 0.3, size=n_ids)
        z = rng.normal(0.0, 0.5, size=(n_ids, latent_dim))
        if center_latent:
            z -= p @ z
        first_order += w[ids[:, f]]
        latent_sum += z[ids[:, f]]
        latent_sq += np.sum(z[ids[:, f]] ** 2, axis=1)
    # sum_{f<g} <z_f, z_g> = (||sum_f z_f||^2 - sum_f ||z_f||^2) / 2
    pairwise = 0.5 * (np.sum(latent_sum ** 2, axis=1) - latent_sq)
    dense = rng.normal(size=(n, n_dense))
    dense_effect = 0.5 * np.tanh(dense @ rng.normal(size=n_dense)) if n_dense else np.zeros(n)
    logit = first_order + 0.5 * pairwise + dense_effect
    b0 = brentq(lambda b: expit(logit + b).mean() - base_ctr, -60.0, 60.0, xtol=1e-10)
    y = (rng.uniform(size=n) < expit(logit + b0)).astype(np.int64)
    return CTRData(ids, dense.astype(np.float32), y)
