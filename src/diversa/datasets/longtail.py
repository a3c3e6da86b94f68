"""Long-tailed training sets with test-agnostic test distributions (LT-Digits), and digit augmentations.

The testbed of two multi-expert long-tail papers: Zhang, Hooi, Hong, Feng, "Self-Supervised
Aggregation of Diverse Experts for Test-Agnostic Long-Tailed Recognition", arXiv:2107.09249
(SADE), and Zhao, Wen et al., "MDCS: More Diverse Experts with Consistency Self-distillation for
Long-tailed Recognition", arXiv:2308.09922; spec ``ensemble.md`` section 0.2.

scikit-learn's 8x8 digits (pixels / 16, float32) are split per class into a test pool and a
training pool; the training set keeps an exponentially falling number of images per class
(``n_max * IR^(-j / (C - 1))`` for the class of frequency rank ``j``, the CIFAR-LT profile of
LDAM/SADE). The class ranking is a random permutation per seed, so "tail" never means "the
digits that happen to be hard". Test sets follow SADE's test-agnostic protocol: ``uniform``
(every class equally often), ``forward`` (long-tailed like training) or ``backward`` (the training
head is the test tail). Optionally a balanced validation pool is held out before the training
pool (as ImageNet-LT's balanced validation set).

The augmentations are batched torch functions with per-sample randomness from a
``torch.Generator``: random shifts (zero padding then a random 8x8 crop), pixel noise, contrast
and cutout; ``augment_weak`` is the training view, ``augment_view`` the test-time view of SADE's
self-supervised aggregation and ``augment_strong`` the student view of MDCS's consistency
self-distillation (a stand-in for AutoAugment + Cutout on 32x32 images).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import Tensor

__all__ = ["LongTailData", "augment_strong", "augment_view", "augment_weak", "distribution_counts", "longtail_counts",
           "make_longtail_digits", "make_test_distribution", "shift_images", "shot_groups", "TEST_KINDS"]

#: The test-agnostic protocol's class distributions.
TEST_KINDS = ("forward", "uniform", "backward")
#: Image side of the digits.
SIDE = 8


@dataclass(frozen=True)
class LongTailData:
    """A long-tailed training set and the pools its test (and validation) sets are drawn from.

    ``class_counts[c]`` training images of class ``c``; ``class_order[j]`` is the ``j``-th most
    frequent class; ``n_max`` the head class's count; ``shot_group[c]`` is "many", "medium" or
    "few". ``test_pool_X (n_test_per_class * C, d)`` holds ``n_test_per_class`` images per class
    (shuffled once), the source of :func:`make_test_distribution`; ``X_val, y_val`` a balanced
    validation set (empty unless asked for).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    class_counts: np.ndarray
    class_order: np.ndarray
    n_max: int
    imbalance_ratio: float
    test_pool_X: np.ndarray
    test_pool_y: np.ndarray
    shot_group: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.class_counts.shape[0])


def _check_ratio(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 1:
        raise ValueError(f"{name} must be a finite number >= 1, got {value!r}.")
    return float(value)


def _check_count(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    return int(value)


def longtail_counts(n_max: int, n_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Exponential long-tail profile ``max(1, floor(n_max * IR^(-j / (C - 1))))``, ``j = 0..C-1`` (shape ``(C,)``).

    The ``get_img_num_per_cls`` rule of CIFAR-LT (``imb_factor = 1 / IR``): ``n_max=124, C=10,
    IR=100`` gives ``[124, 74, 44, 26, 16, 9, 5, 3, 2, 1]``.
    """
    n_max = _check_count(n_max, "n_max", 1)
    n_classes = _check_count(n_classes, "n_classes", 2)
    ratio = _check_ratio(imbalance_ratio, "imbalance_ratio")
    j = np.arange(n_classes)
    # int() of each float, as the reference rule does (floor for positive values)
    return np.array([max(1, int(n_max * ratio ** (-k / (n_classes - 1)))) for k in j], dtype=np.int64)


def shot_groups(class_counts, n_max: int | None = None) -> np.ndarray:
    """"many" if ``n_c > n_max / 5``, "few" if ``n_c < n_max / 25``, else "medium" (shape ``(C,)``).

    SADE's CIFAR thresholds (many > 100, few < 20 of 500 images) scaled to ``n_max`` (default:
    the largest count).
    """
    counts = np.asarray(class_counts, dtype=float)
    n_max = float(counts.max()) if n_max is None else float(n_max)
    return np.where(counts > n_max / 5, "many", np.where(counts < n_max / 25, "few", "medium"))


def make_longtail_digits(imbalance_ratio: float = 100, n_test_per_class: int = 50, n_val_per_class: int = 0,
                         class_order: str = "random", random_state=0) -> LongTailData:
    """LT-Digits: a long-tailed training set from scikit-learn's digits and its balanced test pool.

    Per class, the shuffled images go first to the test pool (``n_test_per_class``), then to the
    validation pool (``n_val_per_class``), the rest to the training pool; ``n_max`` is the
    smallest training pool (124 with the defaults) and class ``class_order[j]`` keeps
    :func:`longtail_counts` ``[j]`` of its training pool. ``class_order="random"`` permutes the
    classes per seed, ``"fixed"`` ranks digit 0 first. Features are ``pixels / 16`` as float32
    ``(n, 64)``, labels int64. Deterministic given ``random_state`` (an int or a numpy Generator).
    """
    ratio = _check_ratio(imbalance_ratio, "imbalance_ratio")
    n_test = _check_count(n_test_per_class, "n_test_per_class", 1)
    n_val = _check_count(n_val_per_class, "n_val_per_class", 0)
    if class_order not in ("random", "fixed"):
        raise ValueError(f"class_order must be 'random' or 'fixed', got {class_order!r}.")
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(random_state)
    n_classes = 10
    order = rng.permutation(n_classes) if class_order == "random" else np.arange(n_classes)
    pools = {c: rng.permutation(np.flatnonzero(y == c)) for c in range(n_classes)}
    n_max = min(len(p) for p in pools.values()) - n_test - n_val
    if n_max < 1:
        raise ValueError(f"n_test_per_class + n_val_per_class = {n_test + n_val} leave no training images "
                         f"(the smallest digit class has {n_max + n_test + n_val}).")
    counts = np.zeros(n_classes, dtype=np.int64)
    counts[order] = longtail_counts(n_max, n_classes, ratio)
    test_idx = rng.permutation(np.concatenate([pools[c][:n_test] for c in range(n_classes)]))
    val_idx = np.concatenate([pools[c][n_test:n_test + n_val] for c in range(n_classes)])
    train_idx = np.concatenate([pools[c][n_test + n_val:n_test + n_val + counts[c]] for c in range(n_classes)])
    train_idx = rng.permutation(train_idx)
    return LongTailData(X[train_idx], y[train_idx].astype(np.int64), counts, order.astype(np.int64), int(n_max),
                        ratio, X[test_idx], y[test_idx].astype(np.int64), shot_groups(counts, n_max),
                        X[val_idx], y[val_idx].astype(np.int64))


def distribution_counts(data: LongTailData, kind: str = "uniform", test_imbalance: float = 25) -> np.ndarray:
    """Images per class ``(C,)`` of a test distribution (see :func:`make_test_distribution`)."""
    if kind not in TEST_KINDS:
        raise ValueError(f"kind must be one of {TEST_KINDS}, got {kind!r}.")
    rho = _check_ratio(test_imbalance, "test_imbalance")
    n_test = int(np.bincount(data.test_pool_y, minlength=data.n_classes).min())
    ranked = np.full(data.n_classes, n_test) if kind == "uniform" else longtail_counts(n_test, data.n_classes, rho)
    if kind == "backward":
        ranked = ranked[::-1]
    counts = np.zeros(data.n_classes, dtype=np.int64)
    counts[data.class_order] = ranked
    return counts


def make_test_distribution(data: LongTailData, kind: str = "uniform",
                           test_imbalance: float = 25) -> tuple[np.ndarray, np.ndarray]:
    """A test set ``(X (n, d), y (n,))`` with a forward, uniform or backward class distribution.

    ``uniform``: the whole test pool. ``forward``: the class of training rank ``j`` keeps
    ``max(1, floor(n_test * rho^(-j / (C - 1))))`` images (same head as training);
    ``backward``: the reverse profile (the training head is the test tail); ``rho =
    test_imbalance`` (SADE uses 2 to 50). Each class keeps the first images of its (already
    shuffled) pool, so the set is a deterministic function of ``data``.
    """
    counts = distribution_counts(data, kind, test_imbalance)
    keep = np.zeros(data.test_pool_y.shape[0], dtype=bool)
    for c, k in enumerate(counts):
        keep[np.flatnonzero(data.test_pool_y == c)[:k]] = True
    return data.test_pool_X[keep], data.test_pool_y[keep]


def _generator(generator) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}.")
    return generator


def _as_images(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != SIDE * SIDE:
        raise ValueError(f"x must be a tensor of shape (B, {SIDE * SIDE}), got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}.")
    return x.reshape(-1, SIDE, SIDE)


def shift_images(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift every image of ``x (B, 64)`` by its own random offset in ``[-max_shift, max_shift]^2``.

    Zero-pads ``max_shift`` pixels on each side and crops a random 8x8 window per sample (one
    gather, no loop over samples); returns ``(B, 64)``.
    """
    images = _as_images(x)
    s = _check_count(max_shift, "max_shift", 0)
    if s == 0:
        return x.clone()
    padded = torch.nn.functional.pad(images, (s, s, s, s))
    B = images.shape[0]
    offsets = torch.randint(0, 2 * s + 1, (2, B), generator=_generator(generator))
    grid = torch.arange(SIDE)
    rows = (offsets[0][:, None] + grid)[:, :, None]
    cols = (offsets[1][:, None] + grid)[:, None, :]
    return padded[torch.arange(B)[:, None, None], rows, cols].reshape(B, -1)


def _noise(x: Tensor, sd: float, generator: torch.Generator) -> Tensor:
    return x + sd * torch.randn(x.shape, generator=generator, dtype=x.dtype)


def _cutout(x: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Zero one ``size x size`` patch at a uniformly random position inside each image."""
    B = x.shape[0]
    corner = torch.randint(0, SIDE - size + 1, (2, B), generator=generator)
    grid = torch.arange(SIDE)
    inside_rows = (grid[None] >= corner[0][:, None]) & (grid[None] < corner[0][:, None] + size)
    inside_cols = (grid[None] >= corner[1][:, None]) & (grid[None] < corner[1][:, None] + size)
    mask = (inside_rows[:, :, None] & inside_cols[:, None, :]).reshape(B, -1)
    return x.masked_fill(mask, 0.0)


def augment_weak(x: Tensor, generator: torch.Generator) -> Tensor:
    """Training view: a random shift of up to one pixel, ``(B, 64) -> (B, 64)``."""
    return shift_images(x, 1, generator)


def augment_view(x: Tensor, generator: torch.Generator) -> Tensor:
    """SADE's test-time view: one-pixel shift plus ``N(0, 0.05^2)`` noise, clamped to ``[0, 1]``."""
    return _noise(shift_images(x, 1, generator), 0.05, generator).clamp(0.0, 1.0)


def augment_strong(x: Tensor, generator: torch.Generator, strength: str = "default") -> Tensor:
    """MDCS's strong (student) view of ``x (B, 64)``.

    ``"default"``: shift up to 2 pixels, contrast ``U(0.6, 1.4)`` per sample, ``N(0, 0.15^2)``
    noise, one 3x3 cutout; ``"mild"``: shift up to 1 pixel, ``N(0, 0.1^2)`` noise, one 2x2
    cutout. Clamped to ``[0, 1]``.
    """
    gen = _generator(generator)
    if strength == "default":
        out = shift_images(x, 2, gen)
        out = out * torch.empty(out.shape[0], 1, dtype=out.dtype).uniform_(0.6, 1.4, generator=gen)
        out = _cutout(_noise(out, 0.15, gen), 3, gen)
    elif strength == "mild":
        out = _cutout(_noise(shift_images(x, 1, gen), 0.1, gen), 2, gen)
    else:
        raise ValueError(f"strength must be 'default' or 'mild', got {strength!r}.")
    return out.clamp(0.0, 1.0)
