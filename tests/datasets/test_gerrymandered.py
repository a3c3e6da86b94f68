import numpy as np
import pytest
import torch

from diversa.datasets.fairness import make_gerrymandered
from diversa.nn.losses import dcor2


def test_shapes_types_and_determinism():
    a = make_gerrymandered(500, random_state=3)
    b = make_gerrymandered(500, random_state=3)
    assert a.X.shape == (500, 6) and a.y.shape == (500,) and list(a.sensitive.columns) == ["age", "gender", "ethnicity"]
    np.testing.assert_array_equal(a.X, b.X)
    assert set(np.unique(a.y)) == {0, 1} and abs(a.y.mean() - 0.5) < 0.01
    assert a.sensitive["age"].between(18, 80).all() and set(a.sensitive["ethnicity"]) == {0, 1, 2, 3}
    regression = make_gerrymandered(500, task="regression", random_state=3)
    assert regression.y.dtype == float and np.corrcoef(regression.y, regression.intersection)[0, 1] > 0.2


def test_the_intersection_is_marginally_invisible_but_jointly_determined():
    d = make_gerrymandered(1500, random_state=0)
    s_int = torch.as_tensor(d.intersection)
    gender = torch.as_tensor(d.sensitive["gender"].to_numpy(float))
    ethnicity = torch.as_tensor(np.eye(4)[d.sensitive["ethnicity"]] / np.sqrt(2))
    assert abs(float(dcor2(s_int, gender))) < 0.01
    assert abs(float(dcor2(s_int, ethnicity))) < 0.01
    assert float(dcor2(s_int, torch.cat([gender[:, None], ethnicity], dim=1))) > 0.15


def test_bad_input():
    with pytest.raises(ValueError, match="n_samples"):
        make_gerrymandered(0)
    with pytest.raises(ValueError, match="task"):
        make_gerrymandered(10, task="ranking")
