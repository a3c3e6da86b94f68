import numpy as np
import pandas as pd
import pytest

from diversa.datasets import BUNDLED_NAMES, load_bundled


@pytest.mark.parametrize("name,shape", [("breast_cancer", (569, 30)), ("digits", (1797, 64)),
                                        ("iris", (150, 4)), ("wine", (178, 13)), ("diabetes", (442, 10))])
def test_shapes(name, shape):
    X, y = load_bundled(name)
    assert X.shape == shape and y.shape == (shape[0],)


def test_digit_vs_rest_is_binary_with_the_digit_positive():
    X, y = load_bundled("digits_9_vs_rest")
    _, digits = load_bundled("digits")
    assert set(np.unique(y)) == {0, 1}
    np.testing.assert_array_equal(y, (digits == 9).astype(int))
    assert 0.09 < y.mean() < 0.11


def test_as_frame_returns_pandas():
    X, y = load_bundled("digits_3_vs_rest", as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert y.name == "is_3" and int(y.sum()) == 183


def test_every_listed_name_loads():
    for name in BUNDLED_NAMES:
        X, y = load_bundled(name)
        assert len(X) == len(y) > 0


@pytest.mark.parametrize("name", ["mnist", "digits_12_vs_rest", "digits_x_vs_rest"])
def test_unknown_names_are_rejected(name):
    with pytest.raises(ValueError, match="name"):
        load_bundled(name)
