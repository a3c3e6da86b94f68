"""Online batch selection baselines and the shared interface (uniform, MaxLoss, RHO-Loss)."""

import pytest
import torch

from diversa.data.online import (
    MaxLossSelector,
    OnlineSelector,
    RHOLossSelector,
    UDSSelector,
    UniformSelector,
    per_sample_loss,
    resolve_k,
)


def test_every_selector_shares_the_interface():
    for cls in (UniformSelector, MaxLossSelector, RHOLossSelector, UDSSelector):
        assert issubclass(cls, OnlineSelector)


def test_uniform_is_seeded_distinct_and_covers_the_batch(one_thread):
    a = [UniformSelector(k=3, random_state=5).select(losses=torch.zeros(10)).tolist() for _ in range(2)]
    assert a[0] == a[1] and len(set(a[0])) == 3
    sel = UniformSelector(k=2, random_state=0)
    seen = set()
    for _ in range(60):
        seen.update(sel.select(logits=torch.zeros(6, 2, 3)).tolist())
    assert seen == set(range(6))


def test_max_loss_and_rho_loss_pick_what_they_say(one_thread):
    losses = torch.tensor([0.5, 4.0, 1.0, 3.0, 0.1])
    assert MaxLossSelector(k=2).select(losses=losses).tolist() == [1, 3]
    ref = torch.tensor([0.0, 3.9, 0.0, 0.2, 0.0])  # sample 1 is irreducible (noise)
    assert RHOLossSelector(k=2).select(losses=losses, reference_losses=ref).tolist() == [2, 3]
    # ties go to the lower index
    assert MaxLossSelector(k=2).select(losses=torch.ones(4)).tolist() == [0, 1]


def test_baselines_name_bad_inputs(one_thread):
    with pytest.raises(ValueError, match="losses is required"):
        MaxLossSelector(k=1).select(torch.randn(3, 2, 4))
    with pytest.raises(ValueError, match="reference_losses is required"):
        RHOLossSelector(k=1).select(losses=torch.ones(3))
    with pytest.raises(ValueError, match="disagree on the batch size"):
        RHOLossSelector(k=1).select(losses=torch.ones(3), reference_losses=torch.ones(4))
    with pytest.raises(ValueError, match="losses contains NaN"):
        MaxLossSelector(k=1).select(losses=torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="losses is an empty batch"):
        MaxLossSelector(k=1).select(losses=torch.ones(0))
    with pytest.raises(ValueError, match="needs the candidate batch"):
        UniformSelector(k=1).select()
    with pytest.raises(ValueError, match="batch_size"):
        resolve_k(2, 0)


def test_kept_batch_is_never_empty_and_sorted(one_thread):
    for n in (1, 2, 5):
        for k in (1, 3, 0.01, 1.0):
            idx = MaxLossSelector(k=k).select(losses=torch.rand(n))
            assert 1 <= len(idx) <= n and torch.all(idx[1:] > idx[:-1])
            assert idx.dtype == torch.int64


def test_per_sample_loss_masks_positions_and_keeps_the_graph(one_thread):
    logits = torch.randn(3, 4, 5, requires_grad=True)
    targets = torch.randint(0, 5, (3, 4))
    mask = torch.tensor([[1, 1, 0, 0]] * 3)
    full = torch.nn.functional.cross_entropy(logits[:, :2].reshape(-1, 5), targets[:, :2].reshape(-1),
                                             reduction="none").view(3, 2).mean(1)
    out = per_sample_loss(logits, targets, mask)
    assert torch.allclose(out, full)
    out.mean().backward()
    assert logits.grad is not None and logits.grad[:, 2:].abs().sum() == 0
    with pytest.raises(ValueError, match="targets must have shape"):
        per_sample_loss(logits, targets[:, :3])
