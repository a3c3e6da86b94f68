"""The shared hyper-parameter checks name the argument and convert the value."""

import numpy as np
import pytest

from diversa._params import check_hidden, check_int, check_real, check_sample_weight, torch_seed


def test_checks_accept_and_convert_valid_values():
    assert check_int(np.int64(3), "epochs", 0) == 3
    assert check_real(0, "lam", 0.0) == 0.0
    assert check_hidden(8) == (8,) and check_hidden([4, 2]) == (4, 2)
    assert check_sample_weight(None, 3).tolist() == [1.0, 1.0, 1.0]
    assert torch_seed(7) == 7 and torch_seed(np.random.RandomState(0)) == torch_seed(np.random.RandomState(0))


@pytest.mark.parametrize("call, name", [
    (lambda: check_int(True, "epochs", 0), "epochs"),
    (lambda: check_int(-1, "batch_size", 1), "batch_size"),
    (lambda: check_real(0.0, "lr", 0.0, strict=True), "lr"),
    (lambda: check_real(float("nan"), "lam", 0.0), "lam"),
    (lambda: check_hidden([3, 0]), "hidden"),
    (lambda: check_sample_weight([1.0, 2.0], 3), "sample_weight"),
    (lambda: check_sample_weight([0.0, 0.0], 2), "sample_weight"),
])
def test_bad_values_raise_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
