"""DARE: unbiasedness, rescaling rules, reproducibility, peft equivalence."""

import pytest
import torch
from merge_helpers import assert_unchanged, peft_merge_utils, snapshot

from diversa.combine.merge import dare, dare_merging, dare_tensor, task_vectors


def test_unbiased_and_keep_fraction():
    tau = torch.randn(50, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    draws = torch.stack([dare_tensor(tau, 0.3, generator=g) for _ in range(2000)])
    sigma = (tau.abs() * ((1 - 0.3) / 0.3) ** 0.5)
    assert ((draws.mean(0) - tau).abs() < 5 * sigma / 2000 ** 0.5 + 1e-6).all()
    assert abs(float((draws != 0).float().mean()) - 0.3) < 0.01


def test_l1_rescale_preserves_norm():
    tau = torch.randn(400, generator=torch.Generator().manual_seed(2))
    out = dare_tensor(tau, 0.2, rescale="l1", generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(out.abs().sum(), tau.abs().sum())
    assert float((out != 0).float().mean()) < 0.35


def test_seeded_reproducible_and_skip_1d(sds):
    base, models = sds
    tv = task_vectors(base, models)[0]
    a = dare(tv, drop_rate=0.5, random_state=4, skip_1d=True)
    b = dare(tv, drop_rate=0.5, random_state=4, skip_1d=True)
    for k in tv:
        assert torch.equal(a[k], b[k])
    assert torch.equal(a["l1.bias"], tv["l1.bias"])
    assert int((a["l1.weight"] == 0).sum()) > 0


def test_streaming_one_key_equals_whole_dict(sds):
    base, models = sds
    whole = dare_merging(base, models, drop_rate=0.5, random_state=9)
    for k in ("l1.weight", "l2.weight"):
        part = dare_merging({k: base[k]}, [{k: m[k]} for m in models], drop_rate=0.5, random_state=9)
        assert torch.equal(part[k], whole[k])


def test_identities(sds):
    base, models = sds
    before = snapshot(base, models)
    one = dare_merging(base, [models[0]], drop_rate=0.0, scaling=1.0)
    for k in models[0]:
        torch.testing.assert_close(one[k], models[0][k])
    assert_unchanged(before, snapshot(base, models))


@pytest.mark.parametrize("combine,peft_fn", [("task_arithmetic", "dare_linear"), ("ties", "dare_ties")])
def test_matches_peft_with_global_rng(sds, combine, peft_fn):
    merge_utils = peft_merge_utils()
    base, models = sds
    w = torch.tensor([0.7, 1.0, 1.3])
    torch.manual_seed(11)
    ours = dare_merging(base, models, drop_rate=0.6, combine=combine, weights=w.tolist())
    tvs = task_vectors(base, models)
    torch.manual_seed(11)
    for k in sorted(tvs[0]):
        expected = base[k] + getattr(merge_utils, peft_fn)([tv[k] for tv in tvs], w, density=0.4)
        torch.testing.assert_close(ours[k], expected, atol=1e-6, rtol=1e-6)


def test_mergekit_formula_l1_linear():
    """mergekit ``dare_linear`` (rescale: true, normalize: false) written out with the same seed."""
    base = {"w": torch.zeros(300)}
    g = torch.Generator().manual_seed(0)
    models = [{"w": torch.randn(300, generator=g)} for _ in range(2)]
    torch.manual_seed(5)
    ours = dare_merging(base, models, drop_rate=0.7, rescale="l1", weights=[0.4, 0.9], convention="mergekit")
    torch.manual_seed(5)
    expected = torch.zeros(300)
    for w, m in zip([0.4, 0.9], models):
        mask = torch.bernoulli(torch.full_like(m["w"], 0.3))
        masked = m["w"] * mask
        expected += w * masked * (m["w"].abs().sum() / masked.abs().sum())
    torch.testing.assert_close(ours["w"], expected)


@pytest.mark.parametrize("kwargs,match", [({"drop_rate": 1.0}, "drop_rate"), ({"combine": "x"}, "combine"),
                                          ({"rescale": "l2"}, "rescale")])
def test_errors(sds, kwargs, match):
    base, models = sds
    with pytest.raises(ValueError, match=match):
        dare_merging(base, models, **kwargs)
    with pytest.raises(TypeError, match="random_state"):
        dare_merging(base, models, random_state=1.5)
