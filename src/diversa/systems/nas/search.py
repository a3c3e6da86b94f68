"""Few-shot supernet search: split a weight-sharing supernet by gradient matching, exhaustively, or not at all.

Hu, Wang, Hong, Li, Hsieh, Feng, "Generalizing Few-Shot NAS with Gradient
Matching" (GM-NAS), arXiv:2203.15207, ICLR 2022, generalise Few-Shot NAS
(Zhao, Wang, Tian, Fonseca, Guo, "Few-shot Neural Architecture Search",
arXiv:2006.06863, ICML 2021). :class:`FewShotSupernetNAS` runs all three:

* ``split="none"``: one-shot NAS, one supernet trained by random single-path
  sampling (RSPS; Li and Talwalkar, arXiv:1902.07638) for the whole horizon;
* ``split="exhaustive"``: Few-Shot NAS, each split gives one child per
  operation of the split edge;
* ``split="gm"``: GM-NAS, each split partitions the edge's operations into
  ``n_groups`` balanced groups of least within-group gradient-matching
  distance (:func:`~diversa.systems.nas.partition.partition_ops`).

Schedule (the official ``split_eids`` loop): every current sub-supernet is
trained up to each epoch of ``split_epochs`` and then split on one of its
unsplit edges (``edge_criterion="gm"``: the edge with the highest
:func:`~diversa.systems.nas.partition.edge_split_score`; ``"random"``; or the
``"predefined"`` ``split_edges``), then every final sub-supernet is trained
``final_epochs`` more. Weights are private to each sub-supernet. Children
inherit their parent's weights, momentum and schedule (``restart="none"``),
or start from fresh weights and a fresh cosine schedule at the last split
(``"final"``, the official scripts) or at every split (``"all"``).
Architectures are scored with the weights of the one final sub-supernet that
contains them (exhaustive evaluation of a small space rather than the
official projection or successive halving).

Optimiser (the official NAS-Bench-201 RSPS settings, learning rate scaled to
the tiny space): SGD, momentum 0.9, weight decay on the sampled path,
gradient-norm clipping at 5, per-epoch cosine decay from ``lr`` to ``lr_min``.
DARTS-style mixed-operation training (and so GM on soft architecture
weights) is not implemented. The compute spent is counted in
``n_forward_backward_`` (training steps plus gradient-matching passes), since
GM-NAS buys its splits with extra gradient passes and Few-Shot NAS with more
sub-supernet epochs.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from diversa._params import check_int, check_real, torch_seed
from diversa.systems.nas.gradient_matching import METRICS, _gm_distance
from diversa.systems.nas.partition import EDGE_SCORES, edge_split_score, partition_ops
from diversa.systems.nas.space import (
    OPS_TINY,
    SHARED_MODES,
    ChainSupernet,
    all_architectures,
    check_ops,
    in_subnet,
    split_encoding,
    unsplit_edges,
)

__all__ = ["FewShotSupernetNAS"]

SPLITS = ("gm", "exhaustive", "none")
EDGE_CRITERIA = ("gm", "random", "predefined")
RESTARTS = ("none", "final", "all")


@dataclass
class _Node:
    """One sub-supernet during the search: its encoding, weights, optimiser and cosine schedule."""

    enc: np.ndarray
    model: ChainSupernet
    optimizer: torch.optim.SGD
    epoch: int            # epochs trained so far (the search's clock)
    schedule_start: int   # the epoch its cosine schedule began
    schedule_end: int     # the epoch it reaches lr_min


class FewShotSupernetNAS(BaseEstimator):
    """One-shot, Few-Shot and gradient-matching few-shot NAS on the :class:`ChainSupernet` space.

    Parameters
    ----------
    split : "gm" | "exhaustive" | "none"
        GM-NAS partitions, Few-Shot NAS's one child per operation, or one-shot.
    split_epochs : sequence of int
        Increasing epochs at which every current sub-supernet is split once
        (one split level each; ignored by ``split="none"`` except for the horizon).
    final_epochs : int
        Epochs after the last split; the horizon is ``max(split_epochs, default=0) + final_epochs``
        for every ``split``, so one-shot trains as long as the others' paths.
    n_groups : int
        Groups per GM split (2 in the paper).
    min_group_size : int or None
        None: balanced groups; else the DARTS-space rule (every group at least this big).
    edge_criterion : "gm" | "random" | "predefined"
        Which unsplit edge a sub-supernet splits next.
    split_edges : sequence of int or None
        The edge of each split level for ``"predefined"``.
    edge_score : "cross" | "within"
        Ranking of edges under ``edge_criterion="gm"``.
    n_grad_batches : int
        Mini-batches (repeats) averaged in each gradient-matching distance.
    metric : "cos" | "per-filter-cos" | "mse"
        Gradient distance.
    shared : "all_but_edge" | "other_edges"
        Which weights' gradients are matched.
    restart : "none" | "final" | "all"
        Whether children inherit the parent's weights (see the module docstring).
    width, n_edges, ops, bottleneck : the search space (see :class:`ChainSupernet`).
    lr, lr_min, momentum, weight_decay, batch_size, grad_clip : RSPS training.
    random_state : int, RandomState, Generator or None
        Seeds initialisation, path sampling, mini-batches and random edges.

    Attributes
    ----------
    encodings_ : list of (n_edges, n_ops) int arrays, the final sub-supernets.
    supernets_ : list of ChainSupernet, their trained weights.
    split_log_ : list of dict, one per split: level, parent encoding, edge, groups, score and, for
        every edge it weighed, the distance matrix ``D``, best groups and score.
    architectures_ : (n_ops ** n_edges, n_edges) int array, the whole space.
    n_train_steps_, n_gradient_matching_, n_forward_backward_ : int, compute spent (mini-batch
        forward+backward passes of training, of gradient matching, and both).
    """

    def __init__(self, split: str = "gm", split_epochs: Sequence[int] = (10, 20), final_epochs: int = 30,
                 n_groups: int = 2, min_group_size: int | None = None, edge_criterion: str = "gm",
                 split_edges: Sequence[int] | None = None, edge_score: str = "cross", n_grad_batches: int = 20,
                 metric: str = "cos", shared: str = "all_but_edge", restart: str = "final", width: int = 32,
                 n_edges: int = 3, ops: Sequence[str] = OPS_TINY, bottleneck: int = 8, lr: float = 0.05,
                 lr_min: float = 1e-3, momentum: float = 0.9, weight_decay: float = 1e-4, batch_size: int = 64,
                 grad_clip: float | None = 5.0, random_state=None):
        self.split = split
        self.split_epochs = split_epochs
        self.final_epochs = final_epochs
        self.n_groups = n_groups
        self.min_group_size = min_group_size
        self.edge_criterion = edge_criterion
        self.split_edges = split_edges
        self.edge_score = edge_score
        self.n_grad_batches = n_grad_batches
        self.metric = metric
        self.shared = shared
        self.restart = restart
        self.width = width
        self.n_edges = n_edges
        self.ops = ops
        self.bottleneck = bottleneck
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.grad_clip = grad_clip
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> tuple[int, ...]:
        for name, value, options in (("split", self.split, SPLITS), ("edge_criterion", self.edge_criterion, EDGE_CRITERIA),
                                     ("edge_score", self.edge_score, EDGE_SCORES), ("metric", self.metric, METRICS),
                                     ("shared", self.shared, SHARED_MODES), ("restart", self.restart, RESTARTS)):
            if value not in options:
                raise ValueError(f"{name} must be one of {options}, got {value!r}.")
        try:
            epochs = tuple(self.split_epochs)
        except TypeError:
            raise TypeError(f"split_epochs must be a sequence of ints, got {self.split_epochs!r}.") from None
        if any(isinstance(e, bool) or not isinstance(e, numbers.Integral) for e in epochs) \
                or any(b <= a for a, b in zip((0, *epochs), epochs)):
            raise ValueError(f"split_epochs must be strictly increasing positive ints, got {self.split_epochs!r}.")
        check_int(self.final_epochs, "final_epochs", 0)
        check_int(self.n_groups, "n_groups", 2)
        check_int(self.n_grad_batches, "n_grad_batches", 1)
        check_int(self.batch_size, "batch_size", 1)
        n_edges = check_int(self.n_edges, "n_edges", 1)
        ops = check_ops(self.ops)
        check_real(self.lr, "lr", 0.0, strict=True)
        check_real(self.lr_min, "lr_min", 0.0)
        check_real(self.momentum, "momentum", 0.0)
        check_real(self.weight_decay, "weight_decay", 0.0)
        if self.grad_clip is not None:
            check_real(self.grad_clip, "grad_clip", 0.0, strict=True)
        if self.split != "none":
            if len(epochs) > n_edges:
                raise ValueError(f"split_epochs asks for {len(epochs)} split levels but there are only "
                                 f"n_edges={n_edges} edges to split.")
            if self.split == "gm" and self.n_groups > len(ops):
                raise ValueError(f"n_groups={self.n_groups} exceeds the {len(ops)} operations of an edge.")
            if self.edge_criterion == "predefined":
                edges = self.split_edges
                if edges is None or len(edges) != len(epochs) or len(set(edges)) != len(edges) \
                        or not all(isinstance(e, numbers.Integral) and 0 <= e < n_edges for e in edges):
                    raise ValueError(f"split_edges must give {len(epochs)} distinct edges in [0, {n_edges}) "
                                     f"for edge_criterion='predefined', got {edges!r}.")
        return epochs

    # ------------------------------------------------------------------ training
    def _new_model(self, in_dim: int, n_classes: int) -> ChainSupernet:
        model = ChainSupernet(in_dim, n_classes, width=self.width, n_edges=self.n_edges, ops=self.ops,
                              bottleneck=self.bottleneck)
        return model.reset_parameters(self._torch_gen)

    def _optimizer(self, model: ChainSupernet) -> torch.optim.SGD:
        return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay, foreach=True)

    def _rate(self, node: _Node) -> float:
        span = max(node.schedule_end - node.schedule_start, 1)
        t = (node.epoch - node.schedule_start) / span
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1 + math.cos(math.pi * t))

    def _train_until(self, node: _Node, epoch: int) -> None:
        """Random single-path training of ``node`` until the search clock reads ``epoch``."""
        model, optimizer = node.model, node.optimizer
        allowed = [np.flatnonzero(row) for row in node.enc]
        n = len(self._X)
        while node.epoch < epoch:
            for group in optimizer.param_groups:
                group["lr"] = self._rate(node)
            order = self._rng.permutation(n)
            paths = np.stack([self._rng.choice(ops, size=-(-n // self.batch_size)) for ops in allowed], axis=1)
            for step, start in enumerate(range(0, n, self.batch_size)):
                rows = torch.from_numpy(order[start:start + self.batch_size])
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(self._X[rows], paths[step].tolist()), self._y[rows])
                loss.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None],
                                                   self.grad_clip, foreach=True)
                optimizer.step()
                self.n_train_steps_ += 1
            node.epoch += 1

    def _grad_batches(self):
        n = len(self._X)
        for _ in range(self.n_grad_batches):
            rows = torch.from_numpy(self._rng.choice(n, size=min(self.batch_size, n), replace=False))
            yield self._X[rows], self._y[rows]

    # ------------------------------------------------------------------ splitting
    def _choose_split(self, node: _Node, level: int) -> dict:
        """The edge and groups of ``node``'s next split, with the evidence behind them."""
        edges = unsplit_edges(node.enc)
        if self.edge_criterion == "predefined":
            edge = int(self.split_edges[level])
            if edge not in edges:
                raise ValueError(f"split_edges[{level}]={edge} is already split in this sub-supernet.")
            weighed = [edge] if self.split == "gm" else []
        elif self.edge_criterion == "random":
            edge = int(self._rng.choice(edges))
            weighed = [edge] if self.split == "gm" else []
        else:
            edge, weighed = None, edges
        candidates = {}
        for e in weighed:
            dist, passes = _gm_distance(node.model, e, node.enc, self._grad_batches(), self.metric, self.shared,
                                        self._rng, F.cross_entropy)
            self.n_gradient_matching_ += passes
            ops = np.flatnonzero(node.enc[e])
            if self.split == "gm":
                groups, _ = partition_ops(dist, self.n_groups, self.min_group_size, candidates=ops)
            else:
                groups = [np.array([o]) for o in ops]
            candidates[e] = {"dist": dist, "groups": groups, "score": edge_split_score(dist, groups, self.edge_score)}
        if edge is None:
            edge = max(candidates, key=lambda e: candidates[e]["score"])   # ties: the lowest edge
        if edge in candidates:
            groups, score = candidates[edge]["groups"], candidates[edge]["score"]
        else:   # exhaustive split of a random or predefined edge: nothing to weigh
            groups, score = [np.array([o]) for o in np.flatnonzero(node.enc[edge])], float("nan")
        return {"level": level, "parent": node.enc.copy(), "edge": int(edge),
                "groups": [g.astype(int).tolist() for g in groups], "score": score,
                "candidates": {int(e): {"dist": c["dist"], "groups": [g.astype(int).tolist() for g in c["groups"]],
                                        "score": c["score"]} for e, c in candidates.items()}}

    def _children(self, node: _Node, decision: dict, fresh: bool, horizon: int) -> list[_Node]:
        children = []
        for enc in split_encoding(node.enc, decision["edge"], decision["groups"]):
            if fresh:
                model = self._new_model(*self._shape)
                children.append(_Node(enc, model, self._optimizer(model), node.epoch, node.epoch, horizon))
            else:
                model = copy.deepcopy(node.model)
                optimizer = self._optimizer(model)
                # a deep copy: siblings must not share (and update) one momentum buffer
                optimizer.load_state_dict(copy.deepcopy(node.optimizer.state_dict()))
                children.append(_Node(enc, model, optimizer, node.epoch, node.schedule_start, node.schedule_end))
        return children

    # ------------------------------------------------------------------ public API
    def fit(self, X, y) -> FewShotSupernetNAS:
        """Train the supernet(s) on ``X`` ``(n, d)``, labels ``y`` ``(n,)``, splitting as configured."""
        epochs = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self._X, self._y = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y_index.astype(np.int64))
        self._shape = (X.shape[1], len(self.classes_))
        seed = torch_seed(self.random_state)
        self._rng = np.random.default_rng(seed)
        self._torch_gen = torch.Generator().manual_seed(seed)
        self.n_train_steps_ = self.n_gradient_matching_ = 0
        self.split_log_ = []
        levels = () if self.split == "none" else epochs
        horizon = max(epochs, default=0) + int(self.final_epochs)
        model = self._new_model(*self._shape)
        n_ops = len(check_ops(self.ops))
        nodes = [_Node(np.ones((self.n_edges, n_ops), dtype=np.int64), model, self._optimizer(model), 0, 0, horizon)]
        for level, split_at in enumerate(levels):
            last = level == len(levels) - 1
            fresh = self.restart == "all" or (self.restart == "final" and last)
            next_nodes = []
            for node in nodes:
                self._train_until(node, split_at)
                decision = self._choose_split(node, level)
                self.split_log_.append(decision)
                next_nodes += self._children(node, decision, fresh, horizon)
            nodes = next_nodes
        for node in nodes:
            self._train_until(node, horizon)
        self.encodings_ = [node.enc for node in nodes]
        self.supernets_ = [node.model.eval() for node in nodes]
        self.architectures_ = all_architectures(self.n_edges, n_ops)
        self.n_forward_backward_ = self.n_train_steps_ + self.n_gradient_matching_
        del self._X, self._y, self._rng, self._torch_gen, self._shape
        return self

    def subnet_index(self, archs) -> np.ndarray:
        """For each architecture ``(A, n_edges)``, the index of the one final sub-supernet that holds it: ``(A,)``."""
        check_is_fitted(self, "encodings_")
        member = np.stack([in_subnet(enc, archs) for enc in self.encodings_], axis=1)   # (A, n_subnets)
        if not (member.sum(axis=1) == 1).all():
            raise RuntimeError("an architecture is not in exactly one sub-supernet (a bug in the splits).")
        return member.argmax(axis=1)

    def score_architectures(self, X, y) -> dict[tuple[int, ...], float]:
        """Accuracy on ``(X, y)`` of every architecture with the weights it inherits from its sub-supernet."""
        check_is_fitted(self, "encodings_")
        X, y = validate_data(self, X, y, dtype=np.float32, reset=False)
        target = torch.from_numpy(np.searchsorted(self.classes_, y))
        known = np.isin(y, self.classes_)
        x = torch.from_numpy(np.ascontiguousarray(X))
        owner = self.subnet_index(self.architectures_)
        scores = {}
        with torch.no_grad():
            for arch, k in zip(self.architectures_, owner):
                pred = self.supernets_[k](x, arch.tolist()).argmax(dim=1)
                scores[tuple(int(a) for a in arch)] = float(((pred == target).numpy() & known).mean())
        return scores

    def best_architecture(self, X, y) -> tuple[int, ...]:
        """The architecture with the highest inherited-weight accuracy on ``(X, y)`` (ties: the first)."""
        scores = self.score_architectures(X, y)
        return max(scores, key=scores.get)
