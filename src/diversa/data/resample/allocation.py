"""How many synthetic samples to make and from which base samples.

Two allocation schemes are offered:

* the paper's (Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority
  Over-sampling Technique", JAIR 16 (2002), arXiv:1106.1813): an amount of
  SMOTE ``N`` percent gives every minority sample ``floor(N/100)`` synthetic
  samples; for ``N < 100`` a random subset of ``round(N/100 * T)`` minority
  samples gets one each. We generalise both cases (the spec's resolution,
  which reduces to the paper's two cases for the paper's inputs): every base
  sample gets ``S // T`` synthetic samples and a random subset, drawn without
  replacement, of ``S % T`` base samples gets one more;
* imbalanced-learn's: ``S`` (base, neighbour) pairs drawn uniformly with
  replacement from the ``T * k`` pairs, exactly as
  ``imblearn.over_sampling.SMOTE`` draws them, so that the same
  ``random_state`` gives the same synthetic rows.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_percentage


def n_synthetic_from_percentage(n_class: int, percentage: float) -> int:
    """Number of synthetic samples ``S = round(N/100 * T)`` for ``N`` = percentage.

    Rounds halves up (not to even) so that, e.g., ``N = 50`` on ``T = 3`` gives
    2 samples; ``N * T`` is formed before dividing by 100 so that whole-number
    inputs such as ``N = 300, T = 40`` give exactly 120.
    """
    percentage = check_percentage(percentage)
    return int(math.floor(percentage * n_class / 100.0 + 0.5))


def allocate_per_base(
    n_class: int, n_synthetic: int, random_state: np.random.RandomState
) -> np.ndarray:
    """The paper's per-base-sample allocation, as base indices in ascending order.

    Every one of the ``n_class`` base samples is used ``n_synthetic // n_class``
    times, and a random subset (without replacement) of ``n_synthetic %
    n_class`` of them once more. Returns an int array of shape
    ``(n_synthetic,)`` sorted ascending, so synthetic rows come out grouped by
    base sample, as in the paper's pseudo-code. Draws one
    ``random_state.choice(n_class, extra, replace=False)`` when there are
    extras and nothing otherwise.
    """
    per_base, extra = divmod(int(n_synthetic), int(n_class))
    repeats = np.full(n_class, per_base, dtype=np.intp)
    if extra:
        repeats[random_state.choice(n_class, size=extra, replace=False)] += 1
    return np.repeat(np.arange(n_class, dtype=np.intp), repeats)


def draw_neighbour_columns(
    n_synthetic: int, k_neighbors: int, random_state: np.random.RandomState
) -> np.ndarray:
    """For each synthetic sample, which of its base sample's k neighbours to use.

    Uniform over ``0 .. k_neighbors - 1``, shape ``(n_synthetic,)``.
    """
    return random_state.randint(0, k_neighbors, size=n_synthetic)


def draw_uniform_pairs(
    n_class: int, k_neighbors: int, n_synthetic: int, random_state: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """imbalanced-learn's draw of (base, neighbour column) pairs.

    One ``random_state.randint(0, n_class * k_neighbors, size=n_synthetic)``
    call picks flat positions in the ``(n_class, k_neighbors)`` neighbour
    table; the row is the base sample and the column the neighbour slot.
    Returns ``(base, column)``, each of shape ``(n_synthetic,)``, in draw order.
    """
    flat = random_state.randint(low=0, high=n_class * k_neighbors, size=n_synthetic)
    return np.floor_divide(flat, k_neighbors), np.mod(flat, k_neighbors)


def draw_gaps(
    n_synthetic: int, n_features: int, per_feature: bool, random_state: np.random.RandomState
) -> np.ndarray:
    """Interpolation gaps ``U[0, 1)``: shape ``(S,)``, or ``(S, d)`` if ``per_feature``.

    One gap per synthetic sample puts it on the segment between base and
    neighbour (the paper's prose, imbalanced-learn); one gap per feature is
    the paper's literal pseudo-code and fills the axis-aligned box.
    """
    size = (n_synthetic, n_features) if per_feature else n_synthetic
    return random_state.uniform(size=size)
