"""One-shot, Few-Shot and gradient-matching supernet search (GM-NAS, arXiv:2203.15207)."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from diversa.systems.nas import FewShotSupernetNAS, all_architectures, in_subnet, split_encoding

SMALL = dict(width=8, n_grad_batches=3, batch_size=64, random_state=0)


def fitted(data, **params):
    X, y, _, _ = data
    return FewShotSupernetNAS(**{**SMALL, **params}).fit(X, y)


def _states_equal(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("params, n_subnets", [
    (dict(split="none", split_epochs=(), final_epochs=2), 1),
    (dict(split="exhaustive", edge_criterion="random", split_epochs=(1,), final_epochs=1), 4),
    (dict(split="gm", split_epochs=(1, 2), final_epochs=1), 4),
    (dict(split="gm", split_epochs=(1, 2, 3), final_epochs=0), 8),
])
def test_every_architecture_is_in_exactly_one_final_subnet(digits_small, one_thread, params, n_subnets):
    model = fitted(digits_small, **params)
    archs = all_architectures(3, 4)
    member = np.stack([in_subnet(enc, archs) for enc in model.encodings_])
    assert len(model.encodings_) == len(model.supernets_) == n_subnets
    assert (member.sum(0) == 1).all()
    assert (model.subnet_index(archs) == member.argmax(0)).all()


def test_each_split_partitions_its_parent(digits_small, one_thread):
    model = fitted(digits_small, split="gm", split_epochs=(1, 2), final_epochs=0)
    archs = all_architectures(3, 4)
    assert [d["level"] for d in model.split_log_] == [0, 1, 1]
    for d in model.split_log_:
        assert [len(g) for g in d["groups"]] == [2, 2]
        children = split_encoding(d["parent"], d["edge"], d["groups"])
        member = np.stack([in_subnet(c, archs) for c in children])
        assert (member.sum(0) == in_subnet(d["parent"], archs)).all()
    first = model.split_log_[0]
    assert {d["edge"] for d in model.split_log_[1:]}.isdisjoint({first["edge"]})   # level 2 splits another edge


def test_gm_picks_the_edge_with_the_highest_score(digits_small, one_thread):
    model = fitted(digits_small, split="gm", split_epochs=(1,), final_epochs=0)
    d = model.split_log_[0]
    assert sorted(d["candidates"]) == [0, 1, 2]
    scores = {e: c["score"] for e, c in d["candidates"].items()}
    assert d["edge"] == max(scores, key=scores.get) and d["score"] == scores[d["edge"]]
    for c in d["candidates"].values():
        D = c["dist"]
        assert np.allclose(D, D.T) and (D >= 0).all() and (D <= 2).all()
    within = fitted(digits_small, split="gm", split_epochs=(1,), final_epochs=0, edge_score="within").split_log_[0]
    w = {e: -c["score"] for e, c in within["candidates"].items()}
    assert within["edge"] == min(w, key=w.get)


def test_exhaustive_split_gives_one_operation_per_child(digits_small, one_thread):
    # Few-Shot NAS (the official random_split_201 with split_num = n): each child keeps one op of the edge
    model = fitted(digits_small, split="exhaustive", edge_criterion="predefined", split_edges=(1,),
                   split_epochs=(1,), final_epochs=0)
    assert [enc[1].tolist() for enc in model.encodings_] == np.eye(4, dtype=int).tolist()
    assert all((np.delete(enc, 1, axis=0) == 1).all() for enc in model.encodings_)
    assert model.n_gradient_matching_ == 0


def test_restart_none_copies_the_parent_and_final_reinitialises(digits_small, one_thread):
    oneshot = fitted(digits_small, split="none", split_epochs=(1,), final_epochs=0).supernets_[0]
    split = dict(split="exhaustive", edge_criterion="random", split_epochs=(1,), final_epochs=0)
    copied = fitted(digits_small, restart="none", **split).supernets_
    fresh = fitted(digits_small, restart="final", **split).supernets_
    assert all(_states_equal(child, oneshot) for child in copied)
    assert not any(_states_equal(child, oneshot) for child in fresh)
    assert not _states_equal(fresh[0], fresh[1])


def test_restart_none_children_keep_training_apart(digits_small, one_thread):
    # siblings inherit one momentum buffer each; training them further must not move each other
    model = fitted(digits_small, split="exhaustive", edge_criterion="random", split_epochs=(1,), final_epochs=1,
                   restart="none")
    assert not _states_equal(model.supernets_[0], model.supernets_[1])


def test_compute_is_counted(digits_small, one_thread):
    steps = -(-240 // 64)
    none = fitted(digits_small, split="none", split_epochs=(2,), final_epochs=3)
    assert none.n_train_steps_ == 5 * steps and none.n_forward_backward_ == none.n_train_steps_
    gm = fitted(digits_small, split="gm", split_epochs=(1, 2), final_epochs=1)
    assert gm.n_train_steps_ == (1 + 2 * 1 + 4 * 1) * steps
    assert gm.n_gradient_matching_ == 3 * 3 * 4 + 2 * 2 * 3 * 4   # edges x batches x ops, per split
    assert gm.n_forward_backward_ == gm.n_train_steps_ + gm.n_gradient_matching_
    few = fitted(digits_small, split="exhaustive", edge_criterion="random", split_epochs=(2,), final_epochs=3)
    assert few.n_train_steps_ == (2 + 4 * 3) * steps


def test_a_planted_twin_is_at_distance_zero(digits_small, one_thread):
    ops = ("skip", "lin_relu", "lin_relu_dup", "lin_tanh", "bottleneck")
    model = fitted(digits_small, split="gm", ops=ops, split_epochs=(1,), final_epochs=0)
    for c in model.split_log_[0]["candidates"].values():
        assert c["dist"][1, 2] < 1e-6 < c["dist"][1, 3]
        assert sorted(len(g) for g in c["groups"]) == [2, 3]


def test_search_is_reproducible_and_scores_every_architecture(digits_small, one_thread):
    _, _, X_val, y_val = digits_small
    params = dict(split="gm", split_epochs=(1, 2), final_epochs=1)
    a, b = fitted(digits_small, **params), fitted(digits_small, **params)
    assert all(_states_equal(p, q) for p, q in zip(a.supernets_, b.supernets_))
    scores = a.score_architectures(X_val, y_val)
    assert scores == b.score_architectures(X_val, y_val)
    assert len(scores) == 64 and all(0 <= s <= 1 for s in scores.values())
    assert a.best_architecture(X_val, y_val) == max(scores, key=scores.get)
    assert clone(a).get_params() == a.get_params()


def test_random_single_path_training_learns(digits_small, one_thread):
    _, _, X_val, y_val = digits_small
    untrained = fitted(digits_small, split="none", split_epochs=(), final_epochs=0, width=16)
    trained = fitted(digits_small, split="none", split_epochs=(), final_epochs=25, width=16, lr=0.2, batch_size=32)
    before, after = (np.mean(list(m.score_architectures(X_val, y_val).values())) for m in (untrained, trained))
    assert before < 0.2 < after


@pytest.mark.parametrize("params, match", [
    (dict(split="random"), "split"), (dict(edge_criterion="best"), "edge_criterion"), (dict(restart="some"), "restart"),
    (dict(metric="l1"), "metric"), (dict(shared="stem"), "shared"), (dict(edge_score="max"), "edge_score"),
    (dict(split_epochs=(2, 1)), "split_epochs"), (dict(split_epochs=(0,)), "split_epochs"),
    (dict(split_epochs=(1, 2, 3, 4)), "split levels"), (dict(n_groups=5), "n_groups"), (dict(n_groups=1), "n_groups"),
    (dict(edge_criterion="predefined", split_edges=None), "split_edges"),
    (dict(edge_criterion="predefined", split_edges=(0, 0)), "split_edges"),
    (dict(final_epochs=-1), "final_epochs"), (dict(lr=0.0), "lr"), (dict(ops=("skip", "conv")), "ops"),
])
def test_bad_hyper_parameters_are_refused(digits_small, params, match):
    X, y, _, _ = digits_small
    with pytest.raises(ValueError, match=match):
        FewShotSupernetNAS(**{**SMALL, **params}).fit(X, y)


def test_unfitted_and_mismatched_inputs_are_refused(digits_small, one_thread):
    X, y, X_val, y_val = digits_small
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FewShotSupernetNAS().score_architectures(X_val, y_val)
    model = fitted(digits_small, split="none", split_epochs=(), final_epochs=1)
    with pytest.raises(ValueError, match="features"):
        model.score_architectures(X_val[:, :10], y_val)
