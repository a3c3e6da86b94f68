"""Small datasets shared by the evaluate tests (loaded once per session)."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_classification


def _synthetic():
    return make_classification(n_samples=200, n_features=8, n_informative=4, n_classes=3, random_state=0)


_LOADERS = {
    "iris": lambda: load_iris(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "synthetic": _synthetic,
}


@pytest.fixture(scope="session")
def datasets():
    """name -> (X, y) for iris, breast_cancer, wine and a 3-class synthetic problem."""
    return {name: load() for name, load in _LOADERS.items()}


@pytest.fixture(scope="session")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
