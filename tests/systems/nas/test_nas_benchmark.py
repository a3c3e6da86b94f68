"""The stand-alone tabular benchmark of the chain space (ground truth for GM-NAS, arXiv:2203.15207)."""

import numpy as np
import pytest
import torch

from diversa.systems.nas import ChainSupernet, StandalonePopulation, all_architectures, arch_index, train_standalone


def test_arch_index_is_the_position_in_the_enumeration():
    archs = all_architectures(3, 4)
    assert [arch_index(a, 4) for a in archs] == list(range(64))


def test_the_population_computes_each_architecture_s_own_network(one_thread):
    archs = np.array([[0, 1, 2], [3, 3, 0], [1, 2, 3], [2, 0, 1]])
    pop = StandalonePopulation(archs, 6, 4, width=5, bottleneck=2, seed=3)
    x = torch.randn(9, 6)
    logits = pop(x)
    assert logits.shape == (4, 9, 4)
    for p, arch in enumerate(archs):
        net = ChainSupernet(6, 4, width=5, n_edges=3, bottleneck=2)
        with torch.no_grad():
            net.stem.weight.copy_(pop.params["stem_0"][p])
            net.stem.bias.copy_(pop.params["stem_1"][p])
            net.head.weight.copy_(pop.params["head_0"][p])
            net.head.bias.copy_(pop.params["head_1"][p])
            for e, a in enumerate(arch):
                row = int(np.flatnonzero(archs[:, e] == a).tolist().index(p))   # rows stack the users of an op
                layers = [m for m in net.edges[e][a].modules() if isinstance(m, torch.nn.Linear)]
                for k, layer in enumerate(layers):
                    key = f"e{e}_{net.ops[a]}_"
                    layer.weight.copy_(pop.params[key + str(2 * k)][row])
                    layer.bias.copy_(pop.params[key + str(2 * k + 1)][row])
        assert torch.allclose(logits[p], net(x, arch.tolist()), atol=1e-5)


def test_an_architecture_s_result_does_not_depend_on_its_neighbours(digits_small, one_thread):
    X, y, X_val, y_val = digits_small
    archs = all_architectures(3, 4)[[5, 17, 40, 63]]
    together = train_standalone(archs, X, y, X_val, y_val, width=8, epochs=3, seed=2)
    alone = train_standalone(archs[2:3], X, y, X_val, y_val, width=8, epochs=3, seed=2)
    assert together.shape == (4,) and alone.shape == (1,)
    assert alone[0] == together[2]
    other_seed = train_standalone(archs, X, y, X_val, y_val, width=8, epochs=3, seed=3)
    assert not np.array_equal(together, other_seed)


def test_training_beats_chance(digits_small, one_thread):
    X, y, X_val, y_val = digits_small
    archs = np.array([[0, 0, 0], [1, 2, 3]])
    untrained = train_standalone(archs, X, y, X_val, y_val, width=16, epochs=0)
    trained = train_standalone(archs, X, y, X_val, y_val, width=16, epochs=10)
    assert untrained.max() < 0.3 and trained.min() > 0.5


def test_bad_inputs_are_refused(digits_small):
    X, y, X_val, y_val = digits_small
    with pytest.raises(ValueError, match="archs"):
        train_standalone([[0, 4, 0]], X, y, X_val, y_val)
    with pytest.raises(ValueError, match="inconsistent"):
        train_standalone([[0, 0, 0]], X, y[:-1], X_val, y_val)
    with pytest.raises(ValueError, match="features"):
        train_standalone([[0, 0, 0]], X, y, X_val[:, :5], y_val)
    with pytest.raises(ValueError, match="y"):
        train_standalone([[0, 0, 0]], X, y - 1, X_val, y_val)
    with pytest.raises(ValueError, match="epochs"):
        train_standalone([[0, 0, 0]], X, y, X_val, y_val, epochs=-1)
