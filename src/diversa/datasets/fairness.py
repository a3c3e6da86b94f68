"""Synthetic data with "fairness gerrymandering": an effect of a combination of protected attributes.

Testbed of the small-scale reproduction of Lee, Antonio, Avanzi, Marchi, Zhou, "Machine Learning
with Multitype Protected Attributes: Intersectional Fairness through Regularisation",
arXiv:2509.08163 (spec ``tabular.md#dcov-fairness``). Three independent protected attributes of
mixed types: age ~ U(18, 80) (continuous; ``z`` its standardised value), gender g ~ Bernoulli(0.5)
and ethnicity e in {0, 1, 2, 3} with probabilities (0.4, 0.3, 0.2, 0.1). The intersectional code
``s_int = +1`` if (g = 1 and e in {0, 3}) or (g = 0 and e in {1, 2}), else -1, so
``P(s_int = 1 | g) = P(s_int = 1 | e) = 0.5``: ``s_int`` is independent of g and of e, yet
determined by the pair. Features: x1 = 0.5 z + N(0, 1), x2 = g + N(0, 1), x3 = w_e + N(0, 1) with
w = (0.8, -0.4, 0.4, -0.8), x4 = s_int + N(0, 0.5^2) (a proxy of the intersection), x5, x6 ~ N(0, 1).
Target y = x1 + 0.5 x2 + sin(x5) + 0.5 x6 + 0.8 s_int + 0.3 z + N(0, 0.5^2); the classification
label is ``1[y > median(y)]`` over the drawn sample.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["GerrymanderedData", "make_gerrymandered"]

AGE_RANGE = (18.0, 80.0)
ETHNICITY_PROBS = (0.4, 0.3, 0.2, 0.1)
ETHNICITY_SHIFT = (0.8, -0.4, 0.4, -0.8)


class GerrymanderedData(NamedTuple):
    """``X (n, 6)``, ``y (n,)``, ``sensitive`` (DataFrame age, gender, ethnicity) and ``intersection (n,)`` = s_int."""

    X: np.ndarray
    y: np.ndarray
    sensitive: pd.DataFrame
    intersection: np.ndarray


def make_gerrymandered(n_samples: int = 3000, task: str = "classification", random_state=None) -> GerrymanderedData:
    """Draw the gerrymandering testbed of arXiv:2509.08163's small-scale reproduction (see the module doc).

    ``task``: "classification" (0/1 label at the sample median of y) or "regression" (y itself).
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}.")
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}.")
    rng = check_random_state(random_state)
    n = int(n_samples)
    low, high = AGE_RANGE
    age = rng.uniform(low, high, n)
    z = (age - (low + high) / 2) / ((high - low) / np.sqrt(12.0))
    gender = rng.binomial(1, 0.5, n)
    ethnicity = rng.choice(len(ETHNICITY_PROBS), size=n, p=ETHNICITY_PROBS)
    in_pair = ((gender == 1) & np.isin(ethnicity, (0, 3))) | ((gender == 0) & np.isin(ethnicity, (1, 2)))
    s_int = np.where(in_pair, 1.0, -1.0)
    noise = rng.normal(size=(n, 6))
    X = np.column_stack([
        0.5 * z + noise[:, 0],
        gender + noise[:, 1],
        np.asarray(ETHNICITY_SHIFT)[ethnicity] + noise[:, 2],
        s_int + 0.5 * noise[:, 3],
        noise[:, 4],
        noise[:, 5],
    ])
    y = (X[:, 0] + 0.5 * X[:, 1] + np.sin(X[:, 4]) + 0.5 * X[:, 5] + 0.8 * s_int + 0.3 * z
         + 0.5 * rng.normal(size=n))
    if task == "classification":
        y = (y > np.median(y)).astype(int)
    sensitive = pd.DataFrame({"age": age, "gender": gender, "ethnicity": ethnicity})
    return GerrymanderedData(X, y, sensitive, s_int)
