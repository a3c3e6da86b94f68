"""The chain supernet, its shared-parameter lists and sub-supernet encodings (GM-NAS, arXiv:2203.15207)."""

import itertools

import numpy as np
import pytest
import torch

from diversa.systems.nas import OPS_TINY, ChainSupernet, all_architectures, in_subnet, split_encoding, unsplit_edges

TWIN_OPS = ("skip", "lin_relu", "lin_relu_dup", "lin_tanh", "bottleneck")


def _ids(params):
    return {id(p) for p in params}


def test_single_path_forward_reaches_only_its_operations(one_thread):
    net = ChainSupernet(6, 3, width=5, n_edges=3)
    x = torch.randn(7, 6)
    out = net(x, (1, 0, 3))
    assert out.shape == (7, 3)
    out.sum().backward()
    touched = {id(p) for p in net.parameters() if p.grad is not None}
    path = [*net.stem.parameters(), *net.edges[0][1].parameters(), *net.edges[2][3].parameters(), *net.head.parameters()]
    assert touched == _ids(path)


def test_the_all_skip_path_is_a_one_hidden_layer_mlp(one_thread):
    net = ChainSupernet(4, 2, width=3, n_edges=2)
    x = torch.randn(5, 4)
    expected = net.head(torch.relu(net.stem(x)))
    assert torch.allclose(net(x, (0, 0)), expected)


def test_shared_parameters_exclude_exactly_the_split_edge():
    net = ChainSupernet(4, 2, width=3, n_edges=3, ops=TWIN_OPS)
    every = _ids(net.parameters())
    for e in range(3):
        own = _ids(net.edge_parameters(e))
        assert _ids(net.shared_parameters(e)) == every - own
        others = _ids(p for f in range(3) if f != e for p in net.edge_parameters(f))
        assert _ids(net.shared_parameters(e, mode="other_edges")) == others
        assert not own & _ids(net.shared_parameters(e, mode="other_edges"))


def test_shared_parameters_of_a_path_are_the_ones_it_reaches():
    net = ChainSupernet(4, 2, width=3, n_edges=3)
    got = _ids(net.shared_parameters(1, mode="other_edges", arch=(2, 1, 0)))
    assert got == _ids(net.edges[0][2].parameters())           # edge 2 runs skip: nothing there
    assert net.shared_parameters(1, mode="other_edges", arch=(0, 3, 0)) == []
    assert _ids(net.shared_parameters(1, arch=(0, 3, 0))) == _ids([*net.stem.parameters(), *net.head.parameters()])


def test_a_twin_is_the_same_module_and_counts_once(one_thread):
    net = ChainSupernet(4, 2, width=3, n_edges=2, ops=TWIN_OPS)
    for edge in net.edges:
        assert edge[1] is edge[2] and edge[1] is not edge[3]
    x = torch.randn(6, 4)
    assert torch.equal(net(x, (1, 0)), net(x, (2, 0)))
    assert len(net.edge_parameters(0)) == 2 + 2 + 4   # lin_relu (twin once), lin_tanh, bottleneck
    plain = ChainSupernet(4, 2, width=3, n_edges=2, ops=OPS_TINY)
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in plain.parameters())


def test_reset_parameters_is_reproducible_and_fresh():
    a = ChainSupernet(4, 2, width=3).reset_parameters(torch.Generator().manual_seed(1))
    b = ChainSupernet(4, 2, width=3).reset_parameters(torch.Generator().manual_seed(1))
    c = ChainSupernet(4, 2, width=3).reset_parameters(torch.Generator().manual_seed(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not any(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    bound = 1 / np.sqrt(3)
    assert all(p.abs().max() <= bound for p in a.edges[0][1].parameters())


@pytest.mark.parametrize("ops, error", [(("skip", "conv"), ValueError), (("lin_relu_dup", "lin_relu"), ValueError),
                                        (("skip", "skip"), ValueError), ("skip", TypeError), ((), ValueError)])
def test_bad_operations_are_refused(ops, error):
    with pytest.raises(error, match="ops"):
        ChainSupernet(4, 2, ops=ops)


def test_bad_sizes_and_architectures_are_refused():
    with pytest.raises(ValueError, match="width"):
        ChainSupernet(4, 2, width=0)
    net = ChainSupernet(4, 2, n_edges=2)
    with pytest.raises(ValueError, match="arch"):
        net.check_arch((0, 4))
    with pytest.raises(ValueError, match="arch"):
        net.shared_parameters(0, arch=(0,))
    with pytest.raises(ValueError, match="shared"):
        net.shared_parameters(0, mode="everything")
    with pytest.raises(ValueError, match="edge"):
        net.edge_parameters(2)


def test_all_architectures_enumerates_the_space_once():
    archs = all_architectures(3, 4)
    assert archs.shape == (64, 3)
    assert len({tuple(a) for a in archs}) == 64
    assert [tuple(a) for a in archs] == sorted(itertools.product(range(4), repeat=3))


def test_children_of_a_split_partition_their_parent():
    archs = all_architectures(3, 4)
    parent = np.ones((3, 4), dtype=int)
    parent[0] = (1, 1, 0, 0)
    assert unsplit_edges(parent) == [1, 2]
    children = split_encoding(parent, 2, [[0, 3], [1], [2]])
    members = np.stack([in_subnet(c, archs) for c in children])
    assert (members.sum(0) == in_subnet(parent, archs)).all()         # disjoint, and the union is the parent
    assert members.sum() == in_subnet(parent, archs).sum() == 32
    assert unsplit_edges(children[0]) == [1]


@pytest.mark.parametrize("groups", [[[0, 1], [2]], [[0, 1], [1, 2, 3]], [[0, 1, 2, 3], []], [[0, 1], [2, 3, 4]]])
def test_groups_that_do_not_partition_the_edge_are_refused(groups):
    with pytest.raises(ValueError, match="groups"):
        split_encoding(np.ones((2, 4), dtype=int), 0, groups)


def test_bad_encodings_are_refused():
    with pytest.raises(ValueError, match="enc"):
        in_subnet(np.full((2, 3), 2), [[0, 0]])
    with pytest.raises(ValueError, match="enc"):
        in_subnet(np.array([[1, 1], [0, 0]]), [[0, 0]])
    with pytest.raises(ValueError, match="archs"):
        in_subnet(np.ones((2, 3)), [[0, 3]])
