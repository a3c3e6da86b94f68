import pytest
import torch
from torch import nn

from diversa.nn.models.pbn import PBNNetwork, paper_hidden_dims


def _types(block):
    return [type(m).__name__ for m in block]


def test_layer_order_puts_activation_between_linears_only():
    net = PBNNetwork(8, (6, 4), 3, n_classes=2, p_dropout=0.2)
    assert _types(net.encoder) == ["Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear",
                                   "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert _types(net.decoder) == ["Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear",
                                   "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    widths = [(m.in_features, m.out_features) for m in net.encoder if isinstance(m, nn.Linear)]
    assert widths == [(8, 6), (6, 4), (4, 3)]
    widths = [(m.in_features, m.out_features) for m in net.decoder if isinstance(m, nn.Linear)]
    assert widths == [(3, 4), (4, 6), (6, 8)]
    assert [m.num_features for m in net.decoder if isinstance(m, nn.BatchNorm1d)] == [4, 6]
    assert net.classifier.in_features == 3 and net.classifier.out_features == 2


def test_forward_shapes_norm_and_optional_heads(one_thread):
    x = torch.randn(5, 8)
    net = PBNNetwork(8, (6,), 3, n_classes=2, p_dropout=0.0).eval()
    z, logits, x_hat = net(x)
    assert z.shape == (5, 3) and logits.shape == (5, 2) and x_hat.shape == (5, 8)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))
    assert not torch.allclose(net.encode(x, normalised=False).norm(dim=1), torch.ones(5))
    bare = PBNNetwork(8, (), 3, n_classes=0, use_norm=None, decoder=False)
    z, logits, x_hat = bare(x)
    assert logits is None and x_hat is None and _types(bare.encoder) == ["Linear"]
    assert "Dropout" not in _types(PBNNetwork(8, (6,), 3, 2, p_dropout=0.0).encoder)


def test_paper_hidden_dims():
    assert paper_hidden_dims(61) == (45, 30)
    assert paper_hidden_dims(1) == ()


@pytest.mark.parametrize("kwargs, name", [({"latent_dim": 0}, "latent_dim"), ({"p_dropout": 1.0}, "p_dropout"),
                                          ({"use_norm": "l1"}, "use_norm"), ({"n_classes": -1}, "n_classes"),
                                          ({"hidden_dims": (4, 0)}, "hidden_dims")])
def test_bad_arguments(kwargs, name):
    args = {"n_features": 8, "hidden_dims": (4,), "latent_dim": 3, "n_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        PBNNetwork(**args)
