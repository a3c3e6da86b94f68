"""Checkpoint recording and scores replayed from checkpoints (diversa.data.score.checkpoints)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from diversa.data.score import (  # noqa: E402
    Checkpoints,
    el2n_scores,
    forgetting_scores,
    grand_from_checkpoints,
    logits_over_checkpoints,
    per_example_grad_sq_norms,
    tracin_self_influence,
    vog_from_checkpoints,
    vog_scores,
)


class EmbedMLP(nn.Module):
    """Embedding -> masked mean -> MLP: the shape of diversa's tiny text classifier."""

    def __init__(self, vocab=20, dim=6, classes=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=0)
        self.head = nn.Sequential(nn.Linear(dim, 8), nn.ReLU(), nn.Linear(8, classes))

    def forward(self, x):
        mask = (x != 0).unsqueeze(-1).float()
        return self.head((self.emb(x) * mask).sum(1) / mask.sum(1).clamp(min=1.0))


def _trained(one_thread_seed=0, steps=30, every=10, folder=None):
    torch.manual_seed(one_thread_seed)
    X = torch.randint(1, 20, (40, 5))
    X[:10, 3:] = 0  # padding
    y = torch.randint(0, 3, (40,))
    model = EmbedMLP()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    ckpts = Checkpoints(model, every=every, folder=folder)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        ckpts.step(lr=0.5)
    return model, ckpts, X, y


def _explicit_grads(model, x, t, params):
    model.zero_grad()
    nn.functional.cross_entropy(model(x[None]), t[None]).backward()
    return torch.cat([p.grad.flatten() for name, p in model.named_parameters() if name in params])


def test_tracin_equals_an_explicit_gradient_dot_product_summed_over_checkpoints(one_thread):
    model, ckpts, X, y = _trained()
    params = ["head.2.weight", "head.2.bias"]
    expected = np.zeros(len(X))
    for state, lr in zip(ckpts, ckpts.lrs):
        model.load_state_dict(state)
        for i in range(len(X)):
            g = _explicit_grads(model, X[i], y[i], params)
            expected[i] += lr * float(g @ g)
    np.testing.assert_allclose(tracin_self_influence(model, ckpts, X, y, params=params), expected, rtol=1e-5)
    # a sub-module selects its parameters; lrs rescale linearly
    np.testing.assert_allclose(tracin_self_influence(model, ckpts, X, y, params=model.head[2], lrs=[1.0] * 3),
                               expected / 0.5, rtol=1e-5)


def test_grand_is_the_mean_gradient_norm_over_checkpoints(one_thread):
    model, ckpts, X, y = _trained()
    names = [n for n, _ in model.named_parameters()]
    norms = []
    for state in ckpts:
        model.load_state_dict(state)
        norms.append([float(_explicit_grads(model, X[i], y[i], names).norm()) for i in range(len(X))])
    np.testing.assert_allclose(grand_from_checkpoints(model, ckpts, X, y), np.mean(norms, 0), rtol=1e-5)


def test_scoring_restores_the_model_and_checkpoints_differ(one_thread):
    model, ckpts, X, y = _trained()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert len(ckpts) == 3 and ckpts.steps == [10, 20, 30]
    assert not torch.equal(ckpts[0]["head.2.weight"], ckpts[2]["head.2.weight"])
    tracin_self_influence(model, ckpts, X, y)
    vog_from_checkpoints(model, ckpts, X, y, layer=model.emb)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training


def test_vog_from_checkpoints_matches_vog_scores_on_explicit_embedding_gradients(one_thread):
    model, ckpts, X, y = _trained()
    grads = []
    for state in ckpts:
        model.load_state_dict(state)
        emb = model.emb(X).detach().requires_grad_(True)
        mask = (X != 0).unsqueeze(-1).float()
        logits = model.head((emb * mask).sum(1) / mask.sum(1))
        grads.append(torch.autograd.grad(logits.gather(1, y[:, None]).sum(), emb)[0].numpy())
    mask = (X != 0).numpy()
    for normalize in ("class", "dataset", None):
        np.testing.assert_allclose(
            vog_from_checkpoints(model, ckpts, X, y, layer=model.emb, mask=mask, normalize=normalize),
            vog_scores(np.stack(grads), y.numpy(), normalize=normalize, mask=mask), rtol=1e-6, atol=1e-12)


def test_logits_give_el2n_and_forgetting_and_folder_round_trip(one_thread, tmp_path):
    model, ckpts, X, y = _trained(folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"checkpoint_{i:05d}.pt" for i in range(3)]
    logits = logits_over_checkpoints(model, ckpts, X)
    assert logits.shape == (3, 40, 3)
    with torch.no_grad():
        np.testing.assert_allclose(logits[-1], model(X).numpy(), rtol=1e-6)  # last checkpoint = final model
    loaded = Checkpoints.from_folder(tmp_path)
    assert loaded.steps == [10, 20, 30] and loaded.lrs == [0.5] * 3
    np.testing.assert_allclose(logits_over_checkpoints(model, loaded, X), logits)
    np.testing.assert_allclose(tracin_self_influence(model, loaded, X, y), tracin_self_influence(model, ckpts, X, y))
    probs = torch.softmax(torch.tensor(logits), -1).numpy()
    assert el2n_scores(probs[0], y.numpy()).shape == (40,)
    assert forgetting_scores(logits.argmax(-1) == y.numpy()).shape == (40,)
    # plain state dicts saved by torch.save load too
    plain = tmp_path / "plain"
    plain.mkdir()
    torch.save(model.state_dict(), plain / "a.pt")
    assert len(Checkpoints.from_folder(plain)) == 1


def test_checkpoint_argument_errors(one_thread, tmp_path):
    model, ckpts, X, y = _trained()
    with pytest.raises(ValueError, match="every"):
        Checkpoints(model, every=0)
    with pytest.raises(ValueError, match="at least 2"):
        vog_from_checkpoints(model, [ckpts[0]], X, y, layer=model.emb)
    with pytest.raises(ValueError, match="y must be 1-D with 40"):
        tracin_self_influence(model, ckpts, X, y[:5])
    with pytest.raises(ValueError, match="lrs must be 3"):
        tracin_self_influence(model, ckpts, X, y, lrs=[1.0])
    with pytest.raises(ValueError, match="params: unknown"):
        per_example_grad_sq_norms(model, X, y, params=["nope"])
    with pytest.raises(ValueError, match="no checkpoint files"):
        Checkpoints.from_folder(tmp_path)
    with pytest.raises(ValueError, match="is not a directory"):
        Checkpoints.from_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="layer must be a module"):
        vog_from_checkpoints(model, ckpts, X, y, layer=nn.Linear(2, 2))


def test_vog_is_high_near_the_decision_boundary_on_the_original_toy_problem(one_thread):
    # the VoG authors' toy script (chirag126/VOG): 2-D blobs, a linear 2-layer network (N(0, 1) weights),
    # full-batch SGD lr 1e-3 for 15 epochs, a checkpoint per epoch, gradients of the label's softmax
    # probability w.r.t. the input, sqrt=True, class-normalised; VoG falls with the distance to the boundary
    from scipy.stats import spearmanr
    from sklearn.datasets import make_blobs

    Xn, yn = make_blobs(500, n_features=2, cluster_std=2.0, random_state=212)
    yn = (yn > 0).astype(int)  # as the script: blob 0 vs the rest
    X, y = torch.tensor(Xn, dtype=torch.float32), torch.tensor(yn)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Identity(), nn.Linear(2, 10), nn.Linear(10, 2))
    for layer in model[1:]:
        nn.init.normal_(layer.weight, 0.0, 1.0)
        nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    ckpts = Checkpoints(model)
    for _ in range(15):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        ckpts.save()
    vog = vog_from_checkpoints(model, ckpts, X, y, layer=model[0], sqrt=True, target="probability")
    with torch.no_grad():
        w = model[2].weight @ model[1].weight
        b = model[2].weight @ model[1].bias + model[2].bias
    normal = (w[1] - w[0]).numpy()
    distance = np.abs(Xn @ normal + float(b[1] - b[0])) / np.linalg.norm(normal)  # exact: the model is linear
    assert spearmanr(vog, distance).statistic < -0.3


def test_an_outputs_folder_gives_the_same_scores_as_the_checkpoints(one_thread, tmp_path):
    from diversa.data.score import scores_from_outputs, write_outputs

    model, ckpts, X, y = _trained()
    mask = (X != 0).numpy()
    paths = write_outputs(model, ckpts, X, tmp_path, y=y, layer=model.emb, mask=mask)
    assert [p.name for p in paths] == [f"outputs_{i:05d}.npz" for i in range(3)]
    logits = logits_over_checkpoints(model, ckpts, X)
    probs = torch.softmax(torch.tensor(logits), -1).numpy()
    np.testing.assert_allclose(scores_from_outputs(tmp_path, y.numpy(), "el2n"), el2n_scores(probs, y.numpy()),
                               rtol=1e-6)
    np.testing.assert_array_equal(scores_from_outputs(tmp_path, y.numpy(), "forgetting"),
                                  forgetting_scores(logits.argmax(-1) == y.numpy()))
    np.testing.assert_allclose(scores_from_outputs(tmp_path, y.numpy(), "vog"),
                               vog_from_checkpoints(model, ckpts, X, y, layer=model.emb, mask=mask), rtol=1e-6)
    with pytest.raises(ValueError, match="labels must be 1-D with 40"):
        scores_from_outputs(tmp_path, y.numpy()[:3], "el2n")
    with pytest.raises(ValueError, match="method must be one of"):
        scores_from_outputs(tmp_path, y.numpy(), "aum")
    bare = tmp_path / "bare"
    write_outputs(model, ckpts, X, bare)
    with pytest.raises(ValueError, match="no 'input_grad'"):
        scores_from_outputs(bare, y.numpy(), "vog")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no outputs"):
        scores_from_outputs(tmp_path / "empty", y.numpy(), "el2n")
    with pytest.raises(ValueError, match="is not a directory"):
        scores_from_outputs(tmp_path / "missing", y.numpy(), "el2n")
