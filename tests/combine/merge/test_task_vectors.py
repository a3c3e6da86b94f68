"""Task vectors and adding them back."""

import pytest
import torch
from merge_helpers import assert_unchanged, snapshot

from diversa.combine.merge import add_task_vector, task_vectors


def test_round_trip(sds):
    base, models = sds
    before = snapshot(base, models)
    tvs = task_vectors(base, models)
    assert tvs[0].keys() == {"l1.weight", "l1.bias", "l2.weight"}
    back = add_task_vector(base, tvs[1])
    for k in tvs[1]:
        torch.testing.assert_close(back[k], models[1][k])
    assert torch.equal(back["bn.num_batches_tracked"], base["bn.num_batches_tracked"])
    assert_unchanged(before, snapshot(base, models))


def test_negation_and_dtype():
    base = {"w": torch.zeros(3, dtype=torch.bfloat16)}
    model = {"w": torch.ones(3, dtype=torch.bfloat16)}
    tv = task_vectors(base, [model])[0]
    assert tv["w"].dtype == torch.float32
    out = add_task_vector(base, tv, scale=-1.0)
    assert out["w"].dtype == torch.bfloat16 and torch.equal(out["w"], -torch.ones(3, dtype=torch.bfloat16))


def test_errors():
    with pytest.raises(ValueError, match="base"):
        task_vectors(None, [{"w": torch.zeros(1)}])
    with pytest.raises(ValueError, match="'v'"):
        add_task_vector({"w": torch.zeros(1)}, {"v": torch.zeros(1)})
    with pytest.raises(TypeError, match="scale"):
        add_task_vector({"w": torch.zeros(1)}, {"w": torch.zeros(1)}, scale="1")
