"""The mask CNN: shapes, the paper's parameter count, unbounded logits, init, loss, bad settings."""

import pytest
import torch

from diversa.apps.separation import IBMMaskCNN, mask_loss, train_mask_network


def test_output_shape_and_unbounded_logits(one_thread):
    net = IBMMaskCNN(n_bins=65, channels=(4, 4, 4, 4), fc=(32, 16))
    out = net(torch.randn(3, 9, 65) * 10)
    assert out.shape == (3, 9, 65)
    assert out.min() < 0 or out.max() > 1   # logits, not probabilities


def test_paper_network_has_19_489_049_parameters():
    with torch.device("meta"):
        net = IBMMaskCNN.paper()
    assert sum(p.numel() for p in net.parameters()) == 19_489_049


def test_biases_start_at_0_1():
    net = IBMMaskCNN(n_bins=33, channels=(2, 2, 2, 2), fc=(8, 8))
    assert all(torch.all(m.bias == 0.1) for m in net.modules() if hasattr(m, "bias") and m.bias is not None)


def test_loss_is_mean_bce_with_logits_or_mse_of_sigmoid():
    logits, target = torch.randn(2, 9, 5), torch.rand(2, 9, 5)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert torch.allclose(mask_loss(logits, target), bce)
    assert torch.allclose(mask_loss(logits, target, "mse"), ((torch.sigmoid(logits) - target) ** 2).mean())
    with pytest.raises(ValueError, match="loss"):
        mask_loss(logits, target, "l1")


def test_training_lowers_the_loss_and_keeps_the_best_validation_epoch(one_thread):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 17, generator=g)
    y = (x > 0.5).float()
    net = IBMMaskCNN(n_bins=17, n_frames=3, channels=(4, 4, 4, 4), fc=(32, 32), dropout=0.0)
    history = train_mask_network(net, x, y, epochs=15, lr=3e-3, batch_size=16, generator=g, val=(x, y))
    assert history["loss"][-1] < history["loss"][0]
    assert history["best_epoch"] == min(range(15), key=history["val_loss"].__getitem__)
    assert not net.training


@pytest.mark.parametrize("kwargs, match", [
    (dict(channels=(4, 4, 4)), "channels"), (dict(kernel=(3, 0)), "kernel"), (dict(dropout=1.0), "dropout"),
    (dict(n_bins=0), "n_bins"), (dict(fc=5), "fc"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        IBMMaskCNN(**kwargs)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="shape"):
        IBMMaskCNN(n_bins=33, channels=(2, 2, 2, 2), fc=(8, 8))(torch.zeros(2, 9, 32))
