"""Twin-Merging: a shared expert plus routed, SVD-compressed exclusive knowledge.

Lu, Fan, Wei, Qu, Chen, Cheng, "Twin-Merging: Dynamic Integration of Modular
Expertise in Model Merging", NeurIPS 2024, arXiv:2406.15479 (official code:
``LZY-the-boys/Twin-Merging``). Spec ``merge.md`` section 3.

1. Shared expert ``theta*`` = a conventional merge (Task Arithmetic, lambda 0.3).
2. Exclusive knowledge ``v_t = theta_t - theta*`` per merged key, compressed:
   each 2-D tensor by truncated SVD to rank ``r = floor(density * min(m, n))``
   (``density=0.1`` is the code's ``mask_rate 0.9``), or magnitude top-k, or
   not at all; 1-D tensors are kept exactly.
3. A router MLP (Linear(d, 2d)-BN-LeakyReLU-Dropout(0.5), twice, then
   Linear(2d, T)) reads features of the input under ``theta*`` and is trained
   with cross-entropy (AdamW, lr 5e-4, batch 1024, 50 epochs) to predict the
   task; the epoch with the best held-out accuracy is kept.
4. For an input x: ``w = softmax(router(phi(x)) / temperature)`` and the model is
   ``theta* + sum_t w_t v^_t``; task heads stay task-specific.

Resolutions (spec): biases are merged like every other tensor (the official
evaluation takes excluded parameters from the true task's model, an oracle
leak); the router's checkpoint is chosen on held-out *training-distribution*
data, not on test data; inference uses the exact factored, batched form
``y = W* x + b* + sum_t w_t(x) (P_t (Q_t^T x) + db_t)`` per Linear layer instead
of materializing weights per example. ``TwinMerging`` follows scikit-learn's
conventions (constructor stores hyper-parameters, learned state ends in
``_``) but ``fit`` takes state dicts, so scikit-learn's estimator checks do not
apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diversa.combine.merge.averaging import weight_average
from diversa.combine.merge.dare import dare_merging
from diversa.combine.merge.keys import _f32, _fraction, merge_keys
from diversa.combine.merge.task_arithmetic import task_arithmetic
from diversa.combine.merge.ties import magnitude_trim, ties_merging

__all__ = ["TwinMerging", "TwinRouter", "compress_svd"]

_SHARED = {"task_arithmetic": task_arithmetic, "ties": ties_merging, "dare": dare_merging}


def compress_svd(delta: torch.Tensor, density: float = 0.1, rank: int | None = None):
    """Truncated SVD of a 2-D ``delta`` (m x n): factors ``(P, Q)`` with ``P @ Q.T`` the rank-r part.

    ``P = U_r diag(S_r)`` (m x r), ``Q = V_r`` (n x r), ``r = rank`` or
    ``floor(density * min(m, n))``. A 1-D tensor is returned unchanged (float32).
    """
    delta = _f32(delta)
    if delta.dim() <= 1:
        return delta.clone()
    if delta.dim() != 2:
        raise ValueError(f"delta must be 1-D or 2-D, got shape {tuple(delta.shape)}")
    density = _fraction(density, "density")
    m, n = delta.shape
    r = int(density * min(m, n)) if rank is None else int(rank)
    if r < 0:
        raise ValueError(f"rank must be >= 0, got {rank}")
    r = min(r, min(m, n))
    U, S, Vh = torch.linalg.svd(delta, full_matrices=False)
    return U[:, :r] * S[:r], Vh[:r].T.contiguous()


class TwinRouter(nn.Module):
    """The official router: two (Linear, BatchNorm1d, LeakyReLU, Dropout) blocks, then Linear to T logits."""

    def __init__(self, in_features: int, n_tasks: int, hidden_mult: int = 2, dropout: float = 0.5):
        super().__init__()
        h = hidden_mult * in_features
        self.net = nn.Sequential(
            nn.Linear(in_features, h), nn.BatchNorm1d(h), nn.LeakyReLU(), nn.Dropout(dropout),
            nn.Linear(h, h), nn.BatchNorm1d(h), nn.LeakyReLU(), nn.Dropout(dropout),
            nn.Linear(h, n_tasks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _TwinLinear(nn.Module):
    """A Linear layer ``shared + sum_t w_t (P_t Q_t^T x + db_t)`` mixed per example.

    The exclusive parts of task t are buffers (moved by ``.to()``, saved in
    ``state_dict``): ``p_t``/``q_t`` (low-rank factors) or ``dense_t``, and
    ``bias_t``; a task without a part has a ``None`` buffer.
    """

    def __init__(self, linear: nn.Linear, weight_parts, bias_parts, owner):
        super().__init__()
        self.linear = linear
        self.n_tasks = len(weight_parts)
        for t, (part, bias) in enumerate(zip(weight_parts, bias_parts)):
            low_rank = isinstance(part, tuple)
            self.register_buffer(f"p_{t}", part[0].detach().clone() if low_rank else None)
            self.register_buffer(f"q_{t}", part[1].detach().clone() if low_rank else None)
            self.register_buffer(f"dense_{t}", part.detach().clone() if part is not None and not low_rank else None)
            self.register_buffer(f"bias_{t}", bias.detach().clone() if bias is not None else None)
        self._owner = [owner]  # a list, so the owner is not registered as a submodule

    def forward(self, x):
        y = self.linear(x)
        w = self._owner[0].mix_weights
        for t in range(self.n_tasks):
            p, q, dense, bias = (getattr(self, f"{name}_{t}") for name in ("p", "q", "dense", "bias"))
            extra = 0
            if p is not None:
                extra = (x @ q) @ p.T
            elif dense is not None:
                extra = x @ dense.T
            if bias is not None:
                extra = extra + bias
            if isinstance(extra, torch.Tensor):
                wt = w[:, t].reshape((-1,) + (1,) * (y.dim() - 1))
                y = y + wt * extra
        return y


class TwinMergedModule(nn.Module):
    """A body with every merged Linear layer mixing its tasks' exclusive parts per example.

    ``forward(x, weights)``: ``weights`` is (batch, T) and selects, row by row,
    ``theta* + sum_t weights[i, t] v^_t``.
    """

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body
        self.mix_weights = None

    def forward(self, x, weights):
        self.mix_weights = weights
        try:
            return self.body(x)
        finally:
            self.mix_weights = None


class TwinMerging(BaseEstimator):
    """Twin-Merging (arXiv:2406.15479): shared expert + routed low-rank exclusive knowledge.

    ``shared_method`` is ``"task_arithmetic"`` (default, lambda 0.3), ``"ties"``
    or ``"dare"`` with ``shared_params``, or a callable ``(base, experts) ->
    state dict``. ``compression`` is ``"svd"`` (rank ``floor(density *
    min(m, n))`` or ``rank``), ``"magnitude"`` (top-density entries) or
    ``"none"``.
    """

    def __init__(self, shared_method="task_arithmetic", shared_params=None, compression="svd", density=0.1,
                 rank=None, router_hidden_mult=2, router_dropout=0.5, router_lr=5e-4, router_epochs=50,
                 router_batch_size=1024, max_router_samples=5500, temperature=1.0, exclude=None,
                 random_state=None):
        self.shared_method = shared_method
        self.shared_params = shared_params
        self.compression = compression
        self.density = density
        self.rank = rank
        self.router_hidden_mult = router_hidden_mult
        self.router_dropout = router_dropout
        self.router_lr = router_lr
        self.router_epochs = router_epochs
        self.router_batch_size = router_batch_size
        self.max_router_samples = max_router_samples
        self.temperature = temperature
        self.exclude = exclude
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, base: Mapping[str, torch.Tensor], experts: Sequence[Mapping[str, torch.Tensor]],
            router_inputs: Sequence[torch.Tensor] | None = None,
            feature_fn: Callable[[Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor] | None = None,
            val_fraction: float = 0.1, body_factory: Callable[[], nn.Module] | None = None,
            router_val_inputs: Sequence[torch.Tensor] | None = None) -> TwinMerging:
        """Build the shared expert, the compressed exclusive vectors and (given inputs) the router.

        ``router_inputs[t]``: unlabeled inputs of task t; ``feature_fn(state,
        X)`` maps inputs to router features under a body state (the shared
        expert). Without ``router_inputs`` only :meth:`merged_state` and
        explicit routing weights are available. ``body_factory`` builds the
        body module for :meth:`as_module`/:meth:`predict_logits`. The router's
        best epoch is chosen on ``router_val_inputs`` (one tensor per task) when
        given, else on a random ``val_fraction`` of ``router_inputs``.
        """
        if self.compression not in ("svd", "magnitude", "none"):
            raise ValueError(f"compression must be 'svd', 'magnitude' or 'none', got {self.compression!r}")
        _fraction(self.density, "density")
        if len(experts) < 1:
            raise ValueError("experts must hold at least one state dict")
        if router_inputs is not None and len(router_inputs) != len(experts):
            raise ValueError(f"router_inputs has {len(router_inputs)} entries for {len(experts)} experts")
        if router_val_inputs is not None and len(router_val_inputs) != len(experts):
            raise ValueError(f"router_val_inputs has {len(router_val_inputs)} entries for {len(experts)} experts")
        key_sets = [{k for k, v in e.items() if v.is_floating_point()} for e in experts]
        for i, ks in enumerate(key_sets[1:], start=1):
            if ks != key_sets[0]:
                raise ValueError(f"experts[{i}] has different tensors than experts[0]: "
                                 f"{sorted(ks ^ key_sets[0])[:5]}")
        keys = merge_keys(base, experts, exclude=self.exclude)
        self.keys_ = keys
        self.n_tasks_ = len(experts)
        self.shared_state_ = self._shared(base, experts, keys)
        self.exclusive_ = {}
        for key in keys:
            parts = []
            for e in experts:
                v = _f32(e[key]) - _f32(self.shared_state_[key])
                if v.dim() <= 1 or self.compression == "none":
                    parts.append(v)
                elif self.compression == "svd":
                    parts.append(compress_svd(v.reshape(v.shape[0], -1), self.density, self.rank))
                else:
                    parts.append(magnitude_trim(v, self.density))
            self.exclusive_[key] = parts
        self.body_factory_ = body_factory
        self.feature_fn_ = feature_fn
        if router_inputs is not None:
            if feature_fn is None:
                raise ValueError("feature_fn must be given with router_inputs")
            self._fit_router(router_inputs, val_fraction, router_val_inputs)
        return self

    def _shared(self, base, experts, keys):
        params = dict(self.shared_params if self.shared_params is not None else
                      ({"scaling": 0.3} if self.shared_method == "task_arithmetic" else {}))
        if callable(self.shared_method):
            return self.shared_method(base, experts, **params)
        if self.shared_method == "average":
            return weight_average(experts, keys=keys, **params)
        if self.shared_method not in _SHARED:
            raise ValueError(f"shared_method must be one of {sorted(_SHARED) + ['average']} or a callable, "
                             f"got {self.shared_method!r}")
        return _SHARED[self.shared_method](base, experts, keys=keys, **params)

    def _features(self, inputs, rng):
        feats, labels = [], []
        for t, X in enumerate(inputs):
            X = torch.as_tensor(X, dtype=torch.float32)
            if len(X) > self.max_router_samples:
                X = X[torch.as_tensor(rng.choice(len(X), self.max_router_samples, replace=False))]
            with torch.no_grad():
                feats.append(_f32(self.feature_fn_(self.shared_state_, X)))
            labels.append(torch.full((len(X),), t, dtype=torch.long))
        return torch.cat(feats), torch.cat(labels)

    def _fit_router(self, router_inputs, val_fraction: float, router_val_inputs=None) -> None:
        rng = np.random.RandomState(self.random_state)
        seed = int(rng.randint(0, 2**31 - 1))
        F, y = self._features(router_inputs, rng)
        if router_val_inputs is not None:
            F_val, y_val = self._features(router_val_inputs, rng)
            val_idx = torch.arange(len(F), len(F) + len(F_val))
            train_idx = torch.arange(len(F))
            F, y = torch.cat([F, F_val]), torch.cat([y, y_val])
            n_val = len(val_idx)
        else:
            order = torch.as_tensor(rng.permutation(len(F)))
            n_val = round(_fraction(val_fraction, "val_fraction", high_open=True) * len(F))
            val_idx, train_idx = order[:n_val], order[n_val:]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            router = TwinRouter(F.shape[1], self.n_tasks_, self.router_hidden_mult, self.router_dropout)
            opt = torch.optim.AdamW(router.parameters(), lr=self.router_lr)
            gen = torch.Generator().manual_seed(seed)
            best_acc, best_state = -1.0, None
            for _ in range(self.router_epochs):
                router.train()
                perm = train_idx[torch.randperm(len(train_idx), generator=gen)]
                for start in range(0, len(perm), self.router_batch_size):
                    batch = perm[start:start + self.router_batch_size]
                    if len(batch) < 2:  # BatchNorm needs two rows
                        continue
                    loss = nn.functional.cross_entropy(router(F[batch]), y[batch])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                router.eval()
                with torch.no_grad():
                    idx = val_idx if n_val > 0 else train_idx
                    acc = float((router(F[idx]).argmax(1) == y[idx]).float().mean())
                if acc > best_acc:
                    best_acc, best_state = acc, {k: v.clone() for k, v in router.state_dict().items()}
            router.load_state_dict(best_state)
        router.eval()
        self.router_ = router
        self.router_val_acc_ = best_acc

    # -- inference -----------------------------------------------------------------------------
    def route(self, X: torch.Tensor) -> torch.Tensor:
        """Routing weights (n, T): softmax of the router's logits on features of ``X`` under ``theta*``."""
        check_is_fitted(self, "router_")
        with torch.no_grad():
            feats = _f32(self.feature_fn_(self.shared_state_, torch.as_tensor(X, dtype=torch.float32)))
            return torch.softmax(self.router_(feats) / self.temperature, dim=1)

    def _dense(self, part, shape):
        if isinstance(part, tuple):
            return (part[0] @ part[1].T).reshape(shape)
        return part

    def merged_state(self, weights) -> dict[str, torch.Tensor]:
        """``theta* + sum_t weights[t] v^_t`` for one weight vector (length T), cast to the shared dtypes."""
        check_is_fitted(self, "shared_state_")
        w = torch.as_tensor(weights, dtype=torch.float32).reshape(-1)
        if len(w) != self.n_tasks_:
            raise ValueError(f"weights has {len(w)} entries for {self.n_tasks_} tasks")
        out = {k: v.detach().clone() for k, v in self.shared_state_.items()}
        for key, parts in self.exclusive_.items():
            shared = _f32(self.shared_state_[key])
            acc = shared.clone()
            for wt, part in zip(w, parts):
                acc += wt * self._dense(part, shared.shape)
            out[key] = acc.to(self.shared_state_[key].dtype)
        return out

    def as_module(self, body_factory: Callable[[], nn.Module] | None = None) -> TwinMergedModule:
        """The shared body with per-example mixing in every merged Linear layer (exact, batched).

        Only Linear layers may carry exclusive parts; ``forward(x, weights)``.
        """
        check_is_fitted(self, "shared_state_")
        factory = body_factory or self.body_factory_
        if factory is None:
            raise ValueError("body_factory must be given (here or to fit)")
        body = factory()
        body.load_state_dict(self.shared_state_)
        module = TwinMergedModule(body)
        handled = set()
        for name, sub in list(body.named_modules()):
            if not isinstance(sub, nn.Linear):
                continue
            wk, bk = f"{name}.weight", f"{name}.bias"
            if wk not in self.exclusive_ and bk not in self.exclusive_:
                continue
            w_parts = self.exclusive_.get(wk, [None] * self.n_tasks_)
            b_parts = self.exclusive_.get(bk, [None] * self.n_tasks_)
            wrapped = _TwinLinear(sub, w_parts, b_parts, module)
            parent = body.get_submodule(name.rpartition(".")[0]) if "." in name else body
            setattr(parent, name.rpartition(".")[2], wrapped)
            handled |= {wk, bk}
        rest = sorted(set(self.exclusive_) - handled)
        if rest:
            raise ValueError(f"as_module mixes Linear layers only; cannot mix tensor(s) {rest}")
        module.eval()
        return module

    def predict_logits(self, X, head: nn.Module, weights=None, body_factory=None) -> torch.Tensor:
        """``head(body_{theta(x)}(x))`` for every row of ``X``; ``weights=None`` routes with the router."""
        X = torch.as_tensor(X, dtype=torch.float32)
        w = self.route(X) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if w.dim() == 1:
            w = w.reshape(1, -1).expand(len(X), -1)
        module = self.as_module(body_factory)
        with torch.no_grad():
            return head(module(X, w))
