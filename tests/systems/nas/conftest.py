"""Small data shared by the NAS tests: a standardised slice of sklearn's digits."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_small():
    """(X_train (240, 64) float32, y_train, X_val (120, 64), y_val), standardised on the training rows."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:360].astype(np.float32), y[:360]
    mean, std = X[:240].mean(0), X[:240].std(0) + 1.0
    X = (X - mean) / std
    return X[:240], y[:240], X[240:], y[240:]
