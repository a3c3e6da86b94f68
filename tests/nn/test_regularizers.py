"""Stochastic layer-wise shuffle and drop path: schedules, order restoration, equivariance, randomness, bad input."""

import math

import pytest
import torch
from torch import nn

from diversa.nn.regularizers import (
    DropPath,
    LayerwiseShuffle,
    drop_path,
    drop_path_rates,
    layer_shuffle_probs,
    shuffle_forward,
)


class CumSum(nn.Module):
    """Order-dependent: each token sees the ones before it."""

    def forward(self, x):
        return torch.cumsum(x, dim=1)


class PositionwiseMLP(nn.Module):
    def __init__(self, d=6):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 12), nn.GELU(), nn.Linear(12, d))

    def forward(self, x):
        return self.net(x)


class AttentionBlock(nn.Module):
    """Pre-LN full bidirectional attention + MLP with no position information: permutation-equivariant."""

    def __init__(self, d=8, heads=2):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 16), nn.GELU(), nn.Linear(16, d))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class WithResidual(nn.Module):
    """A Mamba-style block returning (hidden, residual), position-wise."""

    def __init__(self, d=6):
        super().__init__()
        self.mlp = PositionwiseMLP(d)

    def forward(self, x, residual):
        residual = x + residual
        return self.mlp(residual), residual


# ----------------------------------------------------------------------------- schedules

def test_linear_schedule_is_the_official_linspace():
    probs = layer_shuffle_probs(8, 0.3)
    assert len(probs) == 8 and probs[0] == 0.0 and probs[-1] == pytest.approx(0.3, abs=0)
    steps = [b - a for a, b in zip(probs, probs[1:])]
    assert all(s >= 0 for s in steps) and max(steps) - min(steps) < 1e-12
    assert probs == pytest.approx(torch.linspace(0, 0.3, 8).tolist(), abs=1e-7)


def test_other_schedules_and_one_layer():
    assert layer_shuffle_probs(1, 0.7) == [0.0]                     # linspace of one point is its start
    assert layer_shuffle_probs(4, 0.6, "constant") == [0.0, 0.6, 0.6, 0.6]
    assert layer_shuffle_probs(4, 0.4, "paper") == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert layer_shuffle_probs(3, 0.9, "none") == [0.0, 0.0, 0.0]
    assert drop_path_rates(5, 0.2) == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_layers=4, max_prob=1.5), "max_prob"), (dict(n_layers=4, max_prob=-0.1), "max_prob"),
    (dict(n_layers=4, max_prob=float("nan")), "max_prob"), (dict(n_layers=4, max_prob=True), "max_prob"),
    (dict(n_layers=0, max_prob=0.5), "n_layers"), (dict(n_layers=2.0, max_prob=0.5), "n_layers"),
    (dict(n_layers=4, max_prob=0.5, schedule="cosine"), "schedule"),
])
def test_bad_schedule_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layer_shuffle_probs(**kwargs)


# ----------------------------------------------------------------------------- order restoration

def test_identity_layer_with_certain_shuffle_returns_its_input_exactly():
    x = torch.randn(3, 11, 4)
    stack = LayerwiseShuffle([nn.Identity() for _ in range(3)], max_prob=1.0, schedule="constant").train()
    assert torch.equal(stack(x), x)
    assert stack.last_shuffled == [False, True, True]


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("layer_cls", [PositionwiseMLP, AttentionBlock])
def test_equivariant_layers_are_unchanged_in_values_and_gradients(layer_cls, per_sample, one_thread):
    d = 6 if layer_cls is PositionwiseMLP else 8
    layer = layer_cls(d)
    x = torch.randn(4, 9, d, requires_grad=True)
    plain = layer(x)
    (g_plain,) = torch.autograd.grad(plain.square().sum(), x)
    shuffled = shuffle_forward(layer, x, prob=1.0, training=True, per_sample=per_sample)
    (g_shuffled,) = torch.autograd.grad(shuffled.square().sum(), x)
    torch.testing.assert_close(shuffled, plain, atol=1e-6, rtol=0)
    torch.testing.assert_close(g_shuffled, g_plain, atol=1e-6, rtol=0)


def test_order_dependent_layer_changes_only_when_shuffled():
    x = torch.randn(2, 10, 3)
    torch.manual_seed(1)
    assert not torch.allclose(shuffle_forward(CumSum(), x, prob=1.0, training=True), x.cumsum(1))
    assert torch.equal(shuffle_forward(CumSum(), x, prob=0.0, training=True), x.cumsum(1))
    assert torch.equal(shuffle_forward(CumSum(), x, prob=1.0, training=False), x.cumsum(1))


def test_restored_order_is_the_inverse_of_the_shuffle():
    # a layer that records what it saw: the restore must undo exactly the permutation it was given
    seen = {}

    def spy(t):
        seen["x"] = t
        return t * 2

    x = torch.arange(7.0).reshape(1, 7, 1).repeat(2, 1, 1)
    torch.manual_seed(3)
    out = shuffle_forward(spy, x, prob=1.0, training=True)
    perm = seen["x"][0, :, 0].long()
    assert sorted(perm.tolist()) == list(range(7)) and perm.tolist() != list(range(7))
    assert torch.equal(seen["x"][0], seen["x"][1])                 # one permutation for the whole batch
    assert torch.equal(out, 2 * x)


def test_companion_tensors_travel_with_the_same_permutation():
    torch.manual_seed(0)
    block = WithResidual()
    x, r = torch.randn(3, 8, 6), torch.randn(3, 8, 6)
    plain = block(x, r)
    for per_sample in (False, True):
        out = shuffle_forward(block, x, r, prob=1.0, training=True, per_sample=per_sample)
        assert isinstance(out, tuple) and len(out) == 2
        for a, b in zip(out, plain):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_stack_threads_tuples_through_its_layers():
    torch.manual_seed(0)
    blocks = [WithResidual() for _ in range(3)]
    x, r = torch.randn(2, 5, 6), torch.zeros(2, 5, 6)
    h, res = x, r
    for b in blocks:
        h, res = b(h, res)
    out = LayerwiseShuffle(blocks, max_prob=1.0, schedule="constant").train()(x, r)
    torch.testing.assert_close(out[0], h, atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1], res, atol=1e-6, rtol=0)


def test_per_sample_permutations_differ_between_samples():
    seen = {}

    def spy(t):
        seen["x"] = t
        return t

    x = torch.arange(12.0).reshape(1, 12, 1).repeat(6, 1, 1)
    torch.manual_seed(0)
    assert torch.equal(shuffle_forward(spy, x, prob=1.0, training=True, per_sample=True), x)
    orders = {tuple(seen["x"][i, :, 0].tolist()) for i in range(6)}
    assert len(orders) > 1


# ----------------------------------------------------------------------------- randomness

def test_eval_mode_draws_no_random_number_and_is_the_plain_stack():
    layers = [CumSum(), PositionwiseMLP(3), CumSum()]
    gen = torch.Generator().manual_seed(5)
    stack = LayerwiseShuffle(layers, max_prob=1.0, generator=gen).eval()
    x = torch.randn(2, 6, 3)
    global_state, gen_state = torch.get_rng_state(), gen.get_state()
    out = stack(x)
    assert torch.equal(torch.get_rng_state(), global_state) and torch.equal(gen.get_state(), gen_state)
    assert torch.equal(out, layers[2](layers[1](layers[0](x))))
    assert stack.last_shuffled == [False, False, False]


def test_training_with_a_generator_leaves_the_global_state_alone():
    stack = LayerwiseShuffle([CumSum() for _ in range(4)], max_prob=0.9,
                             generator=torch.Generator().manual_seed(0)).train()
    x = torch.randn(2, 5, 3)
    state = torch.get_rng_state()
    stack(x)
    assert torch.equal(torch.get_rng_state(), state)


def test_seeded_generator_reproduces_the_shuffles():
    x = torch.randn(2, 9, 3)
    runs = []
    for _ in range(2):
        stack = LayerwiseShuffle([CumSum() for _ in range(5)], max_prob=0.6,
                                 generator=torch.Generator().manual_seed(7)).train()
        runs.append([(stack(x), tuple(stack.last_shuffled)) for _ in range(10)])
    for (a, sa), (b, sb) in zip(*runs):
        assert sa == sb and torch.equal(a, b)


def test_shuffle_frequencies_follow_the_schedule():
    # 2,000 training forwards: layer 0 (p = 0) never shuffles; the others within a 99.9% binomial interval
    n, probs = 2000, layer_shuffle_probs(4, 0.6)
    stack = LayerwiseShuffle([nn.Identity() for _ in range(4)], max_prob=0.6,
                             generator=torch.Generator().manual_seed(0)).train()
    counts = [0] * 4
    x = torch.zeros(1, 3, 1)
    for _ in range(n):
        stack(x)
        counts = [c + s for c, s in zip(counts, stack.last_shuffled)]
    assert counts[0] == 0
    for c, p in zip(counts[1:], probs[1:]):
        half_width = 3.29 * math.sqrt(p * (1 - p) / n)
        assert abs(c / n - p) < half_width, (c / n, p)


def test_matches_the_official_shuffle_forward_draw_for_draw():
    # The authors' README function, restated: with torch's global generator it draws rand(1), then randperm(L),
    # permutes x and the residual with one permutation for the batch and restores with argsort.
    def official(x, residual, layer, prob, training):
        B, L, _ = x.shape
        if training and torch.rand(1).item() < prob:
            idx = torch.randperm(L).repeat(B, 1)
            inv = torch.argsort(idx, dim=1)
            take = lambda t, i: t.gather(1, i.unsqueeze(-1).expand(-1, -1, t.size(2)))  # noqa: E731
            out, res = layer(take(x, idx), take(residual, idx))
            return take(out, inv), take(res, inv)
        return layer(x, residual)

    def order_dependent(x, residual):
        return x.cumsum(1) + residual, residual.flip(1)

    x, r = torch.randn(3, 7, 2), torch.randn(3, 7, 2)
    for seed in range(20):
        torch.manual_seed(seed)
        expected = official(x, r, order_dependent, 0.5, True)
        torch.manual_seed(seed)
        got = shuffle_forward(order_dependent, x, r, prob=0.5, training=True)
        assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_shuffle_is_a_no_op_for_an_equivariant_model_in_training(one_thread):
    # Twenty training steps of a model of equivariant blocks (no position information) give the same losses
    # with every layer shuffled as with none: the shuffle has its own generator, so nothing else changes.
    def losses(max_prob):
        torch.manual_seed(0)
        blocks = [AttentionBlock(8) for _ in range(3)]
        model = nn.ModuleDict({"blocks": LayerwiseShuffle(blocks, max_prob, "constant",
                                                          generator=torch.Generator().manual_seed(1)),
                               "head": nn.Linear(8, 3)})
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        data = torch.Generator().manual_seed(2)
        out = []
        for _ in range(20):
            x = torch.randn(8, 6, 8, generator=data)
            y = torch.randint(0, 3, (8,), generator=data)
            loss = nn.functional.cross_entropy(model["head"](model["blocks"](x).mean(1)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        return out, model["blocks"]

    plain, _ = losses(0.0)
    shuffled, stack = losses(1.0)
    assert stack.last_shuffled == [False, True, True]
    assert max(abs(a - b) for a, b in zip(plain, shuffled)) < 1e-4


# ----------------------------------------------------------------------------- bad input

def test_bad_sequences_and_outputs_are_refused():
    x = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match="x must have shape"):
        shuffle_forward(nn.Identity(), torch.randn(2, 5), prob=0.5, training=True)
    with pytest.raises(ValueError, match="companion 0"):
        shuffle_forward(lambda a, b: (a, b), x, torch.randn(2, 4, 3), prob=0.5, training=True)
    with pytest.raises(ValueError, match="layer output 0"):
        shuffle_forward(lambda a: a[:, :-1], x, prob=1.0, training=True)
    with pytest.raises(ValueError, match="layer output 0"):       # also when no shuffle happens
        shuffle_forward(lambda a: a[:, :-1], x, prob=0.0, training=True)
    with pytest.raises(TypeError, match="layer output 1"):
        shuffle_forward(lambda a: (a, "aux"), x, prob=1.0, training=True)
    with pytest.raises(ValueError, match="prob"):
        shuffle_forward(nn.Identity(), x, prob=1.2, training=True)
    with pytest.raises(TypeError, match="generator"):
        shuffle_forward(nn.Identity(), x, prob=0.5, training=True, generator=0)


def test_bad_stacks_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        LayerwiseShuffle([])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        LayerwiseShuffle([nn.Identity(), lambda x: x])
    with pytest.raises(TypeError, match="sequence"):
        LayerwiseShuffle(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="max_prob"):
        LayerwiseShuffle([nn.Identity()], max_prob=2.0)


def test_probs_is_a_read_only_copy():
    stack = LayerwiseShuffle([nn.Identity()] * 3, max_prob=0.4)
    stack.probs[2] = 1.0
    assert stack.probs == pytest.approx([0.0, 0.2, 0.4])


# ----------------------------------------------------------------------------- drop path

def test_drop_path_keeps_or_drops_whole_samples_and_keeps_the_mean():
    gen = torch.Generator().manual_seed(0)
    x = torch.ones(4000, 3, 2)
    out = drop_path(x, 0.25, training=True, generator=gen)
    per_sample = out.reshape(4000, -1)
    kept = per_sample[:, 0] != 0
    assert torch.all(per_sample[kept] == 1 / 0.75) and torch.all(per_sample[~kept] == 0)
    assert abs(out.mean().item() - 1.0) < 0.05


def test_drop_path_identity_cases_use_no_randomness():
    x = torch.randn(5, 3)
    state = torch.get_rng_state()
    assert torch.equal(DropPath(0.5).eval()(x), x)
    assert torch.equal(DropPath(0.0).train()(x), x)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(drop_path(x, 1.0, training=True), torch.zeros_like(x))
    with pytest.raises(ValueError, match="p must"):
        DropPath(1.5)


def test_named_tuple_outputs_keep_their_type():
    from collections import namedtuple

    Out = namedtuple("Out", "hidden residual")
    x = torch.randn(2, 6, 3)
    torch.manual_seed(0)
    out = shuffle_forward(lambda a: Out(a * 2, a), x, prob=1.0, training=True)
    assert isinstance(out, Out) and torch.equal(out.hidden, 2 * x) and torch.equal(out.residual, x)
