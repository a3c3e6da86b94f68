"""Linear interpolation."""

import pytest
import torch

from diversa.combine.merge import linear_interpolation


def test_endpoints_and_midpoint(sds):
    _, (a, b, _) = sds
    assert torch.equal(linear_interpolation(a, b, 1.0)["l1.weight"], a["l1.weight"])
    torch.testing.assert_close(linear_interpolation(a, b, 0.0)["l1.weight"], b["l1.weight"])
    mid = linear_interpolation(a, b, 0.25)
    torch.testing.assert_close(mid["l2.weight"], 0.25 * a["l2.weight"] + 0.75 * b["l2.weight"])
    assert torch.equal(mid["bn.num_batches_tracked"], a["bn.num_batches_tracked"])


def test_alpha_type():
    with pytest.raises(TypeError, match="alpha"):
        linear_interpolation({"w": torch.zeros(1)}, {"w": torch.zeros(1)}, alpha=None)
