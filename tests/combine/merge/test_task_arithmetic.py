"""Task Arithmetic: identities, equivalence with peft."""

import pytest
import torch
from merge_helpers import assert_unchanged, peft_merge_utils, snapshot

from diversa.combine.merge import task_arithmetic, task_vectors, weight_average


def test_one_model_scaling_one_returns_it(sds):
    base, models = sds
    out = task_arithmetic(base, [models[0]], scaling=1.0)
    for k in models[0]:
        torch.testing.assert_close(out[k], models[0][k])


def test_equals_average_with_lambda_one_over_t(sds):
    base, models = sds
    before = snapshot(base, models)
    ta = task_arithmetic(base, models, scaling=1 / 3)
    avg = weight_average(models)
    for k in avg:
        torch.testing.assert_close(ta[k], avg[k])
    assert_unchanged(before, snapshot(base, models))


def test_order_symmetric_and_per_model_scaling(sds):
    base, models = sds
    a = task_arithmetic(base, models, scaling=[0.1, 0.2, 0.3])
    b = task_arithmetic(base, models[::-1], scaling=[0.3, 0.2, 0.1])
    torch.testing.assert_close(a["l1.weight"], b["l1.weight"])


def test_matches_peft(sds):
    merge_utils = peft_merge_utils()
    base, models = sds
    w = torch.tensor([0.3, -0.5, 1.2])
    out = task_arithmetic(base, models, scaling=w.tolist())
    tvs = task_vectors(base, models)
    for k in tvs[0]:
        expected = base[k] + merge_utils.task_arithmetic([tv[k] for tv in tvs], w)
        torch.testing.assert_close(out[k], expected, atol=1e-6, rtol=1e-6)


def test_errors(sds):
    base, models = sds
    with pytest.raises(ValueError, match="base"):
        task_arithmetic(None, models)
    with pytest.raises(ValueError, match="scaling"):
        task_arithmetic(base, models, scaling=[1.0, 2.0])
    with pytest.raises(TypeError, match="scaling"):
        task_arithmetic(base, models, scaling="x")
