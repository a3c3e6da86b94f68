"""Magnitude-prune merging: peft equivalence and identities."""

import pytest
import torch
from merge_helpers import peft_merge_utils

from diversa.combine.merge import magnitude_prune_merging, task_vectors


def test_matches_peft(sds):
    merge_utils = peft_merge_utils()
    base, models = sds
    w = torch.tensor([0.5, 1.0, -0.25])
    out = magnitude_prune_merging(base, models, density=0.3, weights=w.tolist())
    tvs = task_vectors(base, models)
    for k in tvs[0]:
        expected = base[k] + merge_utils.magnitude_prune([tv[k] for tv in tvs], w, density=0.3)
        torch.testing.assert_close(out[k], expected, atol=1e-6, rtol=1e-6)


def test_density_one_is_task_arithmetic_and_errors(sds):
    base, models = sds
    out = magnitude_prune_merging(base, [models[0]], density=1.0)
    torch.testing.assert_close(out["l1.weight"], models[0]["l1.weight"])
    with pytest.raises(ValueError, match="density"):
        magnitude_prune_merging(base, models, density=-0.1)
