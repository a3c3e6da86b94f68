"""DeepFM: the FM term against brute-force pairwise products, training, bad input."""

import pytest
import torch

from diversa.datasets.ctr import make_ctr
from diversa.nn.models.ctr import DeepFM, train_ctr

FIELDS = (6, 4, 3)


def test_logit_is_first_order_plus_pairwise_fm_plus_mlp(one_thread):
    model = DeepFM(FIELDS, embed_dim=5, dense_dim=2, hidden=(4,))
    x_cat, x_dense = torch.tensor([[5, 0, 2], [1, 3, 0]]), torch.randn(2, 2)
    e = [model.embeddings[f](x_cat[:, f]) for f in range(3)]
    pairwise = sum((e[f] * e[g]).sum(1) for f in range(3) for g in range(f + 1, 3))
    first = model.bias + sum(model.first_order(x_cat[:, f] + int(model.offsets[f]))[:, 0] for f in range(3))
    first = first + model.dense_linear(x_dense)[:, 0]
    h = torch.relu(model.dnn[0](torch.cat(e + [x_dense], 1)))
    torch.testing.assert_close(model(x_cat, x_dense), first + pairwise + model.head(h)[:, 0])


def test_training_lowers_the_loss(one_thread):
    data = make_ctr(3000, (20, 10, 5), random_state=0)
    torch.manual_seed(0)
    model = DeepFM((20, 10, 5), embed_dim=4, hidden=(8,))
    x_cat, x_dense = torch.as_tensor(data.X_cat), torch.as_tensor(data.X_dense)
    y = torch.as_tensor(data.y, dtype=torch.float32)

    def loss():
        with torch.no_grad():
            return float(torch.nn.functional.binary_cross_entropy_with_logits(model(x_cat, x_dense), y))

    before = loss()
    train_ctr(model, data.X_cat, data.X_dense, data.y, epochs=3, lr=1e-2, batch_size=256, seed=0)
    assert loss() < before - 0.02


def test_without_dense_features(one_thread):
    model = DeepFM(FIELDS, embed_dim=3, dense_dim=0, hidden=(4,))
    assert model(torch.tensor([[0, 0, 0]])).shape == (1,)
    train_ctr(model, [[0, 1, 2], [1, 2, 0]], None, [0, 1], epochs=1)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="field_dims"):
        DeepFM(())
    with pytest.raises(ValueError, match="hidden"):
        DeepFM(FIELDS, hidden=())
    with pytest.raises(ValueError, match="embed_dim"):
        DeepFM(FIELDS, embed_dim=0)
    model = DeepFM(FIELDS, dense_dim=2, hidden=(4,))
    with pytest.raises(ValueError, match="x_cat"):
        model(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="x_dense"):
        model(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="epochs"):
        train_ctr(model, [[0, 0, 0]], [[0.0, 0.0]], [1], epochs=-1)
