"""MergeDigits-8: eight digit tasks fine-tuned from one pre-trained MLP, for model-merging experiments.

The common testbed of spec ``merge.md`` section 1, used by the reproductions
of weight averaging / Task Arithmetic / TIES / DARE (Ilharco et al.,
arXiv:2212.04089; Yadav et al., arXiv:2306.01708; Yu et al., arXiv:2311.03099),
PCB-Merging (arXiv:2410.02396), Twin-Merging (arXiv:2406.15479) and
Reversible Model Merging (arXiv:2510.14163).

Data: scikit-learn's 8x8 digits scaled to [0, 1]. With
``rng = RandomState(seed)`` the rows are permuted; the first 700 form the
pre-training pool (upright digits, 10 classes), the other 1,097 the task pool.
Each of the eight tasks transforms the whole task pool differently (so a router
can tell tasks apart) and splits it stratified 60/10/30 into train/val/test:
rot90, mirror, invert, a fixed pixel permutation, rot180 with parity labels,
transpose with ``y >= 5`` labels, a 2-pixel roll with ``y mod 3`` labels, and
Gaussian noise (sigma 0.25, drawn once).

Model: body ``l1 = Linear(64, 128) -> GELU -> l2 = Linear(128, 128) -> GELU``
(24,832 parameters, the part that is merged) and one head ``Linear(128, C_t)``
per task. Pre-training (body + 10-class head, Adam lr 1e-3, 40 epochs, batch
64) gives theta_0; each task is fine-tuned from theta_0 with a fresh head
(lr 1e-3, 20 epochs) in one of the modes:

* ``"full"``: all body parameters;
* ``"frozen_bias"``: body weights only;
* ``"lora"``: body frozen, LoRA rank 16 (alpha 16, scaling 1) on ``l1``, ``l2``
  with B zero-initialized and A Kaiming-uniform, all tasks starting from the
  same A (as from one shared adapter initialization), lr 3e-3;
* ``"lora_independent"``: as ``"lora"`` with an independent A per task.

Heads are never merged and never frozen. Results are cached as
``$DIVERSA_CACHE/merge_digits_seed{seed}_{mode}.pt`` (default
``~/.cache/diversa``), built once across parallel workers. Normalized accuracy divides a merged body's test
accuracy on each task by the fine-tuned body's (Twin-Merging Eq. 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from diversa.reproduce.testbeds.cache import cache_root, load_or_build

__all__ = ["MODES", "TASKS", "DigitBody", "MergeScore", "TaskData", "Testbed", "build_merge_testbed",
           "evaluate_merge", "make_digit_tasks"]

TASKS = ("rot90", "mirror", "invert", "permuted", "rot180_parity", "transpose_ge5", "shift_mod3", "noisy")
MODES = ("full", "frozen_bias", "lora", "lora_independent")
LORA_RANK = 16
#: Training schedule of spec section 1 (module-level so tests can shorten it).
PRETRAIN_EPOCHS, FINETUNE_EPOCHS = 40, 20
_VERSION = 1


@dataclass(frozen=True)
class TaskData:
    """One task's splits (float32 inputs of 64 features, int64 labels)."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")


class DigitBody(nn.Module):
    """``l1 = Linear(64, 128) -> GELU -> l2 = Linear(128, 128) -> GELU``."""

    def __init__(self, in_features: int = 64, hidden: int = 128):
        super().__init__()
        self.l1 = nn.Linear(in_features, hidden)
        self.l2 = nn.Linear(hidden, hidden)
        self.act = nn.GELU()

    def forward(self, x):
        return self.act(self.l2(self.act(self.l1(x))))


def _pools(seed: int):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(X))
    return X[order[:700]], y[order[:700]], X[order[700:]], y[order[700:]], rng


def _tensor(a, dtype) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)


def make_digit_tasks(seed: int) -> dict[str, TaskData]:
    """The eight transformed tasks of one seed (see the module docstring)."""
    _, _, X, y, rng = _pools(seed)
    im = X.reshape(-1, 8, 8)
    perm = rng.permutation(64)
    noise = rng.normal(0.0, 0.25, size=X.shape).astype(np.float32)
    specs = {
        "rot90": (np.rot90(im, 1, axes=(1, 2)), y, 10),
        "mirror": (im[:, :, ::-1], y, 10),
        "invert": (1.0 - im, y, 10),
        "permuted": (X[:, perm], y, 10),
        "rot180_parity": (np.rot90(im, 2, axes=(1, 2)), y % 2, 2),
        "transpose_ge5": (im.transpose(0, 2, 1), (y >= 5).astype(int), 2),
        "shift_mod3": (np.roll(im, 2, axis=2), y % 3, 3),
        "noisy": (np.clip(X + noise, 0.0, 1.0), y, 10),
    }
    tasks = {}
    for name, (Xt, yt, n_classes) in specs.items():
        Xt = np.ascontiguousarray(Xt.reshape(len(Xt), 64), dtype=np.float32)
        X_tr, X_rest, y_tr, y_rest = train_test_split(Xt, yt, test_size=0.4, stratify=yt, random_state=seed)
        X_va, X_te, y_va, y_te = train_test_split(X_rest, y_rest, test_size=0.75, stratify=y_rest,
                                                  random_state=seed)
        tasks[name] = TaskData(_tensor(X_tr, torch.float32), _tensor(y_tr, torch.long),
                               _tensor(X_va, torch.float32), _tensor(y_va, torch.long),
                               _tensor(X_te, torch.float32), _tensor(y_te, torch.long), n_classes)
    return tasks


class _LoRABody(nn.Module):
    """A frozen body with rank-r adapters ``W + B A`` on ``l1`` and ``l2`` (peft naming: A is r x in)."""

    def __init__(self, body: DigitBody, A_init: Mapping[str, torch.Tensor]):
        super().__init__()
        self.body = body
        for p in body.parameters():
            p.requires_grad_(False)
        self.lora_A = nn.ParameterDict({k: nn.Parameter(v.clone()) for k, v in A_init.items()})
        self.lora_B = nn.ParameterDict({k: nn.Parameter(torch.zeros(getattr(body, k).out_features, LORA_RANK))
                                        for k in A_init})

    def _lin(self, name, x):
        layer = getattr(self.body, name)
        return layer(x) + (x @ self.lora_A[name].T) @ self.lora_B[name].T

    def forward(self, x):
        act = self.body.act
        return act(self._lin("l2", act(self._lin("l1", x))))


def _lora_A(gen: torch.Generator) -> dict[str, torch.Tensor]:
    out = {}
    for name, fan_in in (("l1", 64), ("l2", 128)):
        A = torch.empty(LORA_RANK, fan_in)
        bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)), as peft initializes lora_A
        out[name] = A.uniform_(-bound, bound, generator=gen)
    return out


def _train(params, forward, X, y, lr: float, epochs: int, gen: torch.Generator) -> None:
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), 64):
            idx = order[start:start + 64]
            loss = nn.functional.cross_entropy(forward(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def _build(seed: int, mode: str) -> dict:
    X_pre, y_pre, _, _, _ = _pools(seed)
    tasks = make_digit_tasks(seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        body = DigitBody()
        head = nn.Linear(128, 10)
        Xp, yp = torch.as_tensor(X_pre), torch.as_tensor(y_pre, dtype=torch.long)
        _train(list(body.parameters()) + list(head.parameters()), lambda x: head(body(x)), Xp, yp, 1e-3,
               PRETRAIN_EPOCHS, gen)
        base = {k: v.detach().clone() for k, v in body.state_dict().items()}
        shared_A = _lora_A(gen)
        task_bodies, heads, factors = {}, {}, {}
        for name, data in tasks.items():
            b = DigitBody()
            b.load_state_dict(base)
            h = nn.Linear(128, data.n_classes)
            if mode in ("full", "frozen_bias"):
                params = [p for n, p in b.named_parameters() if mode == "full" or not n.endswith("bias")]
                _train(params + list(h.parameters()), lambda x, h=h, b=b: h(b(x)), data.X_train, data.y_train, 1e-3,
                       FINETUNE_EPOCHS, gen)
                task_bodies[name] = {k: v.detach().clone() for k, v in b.state_dict().items()}
            else:
                lora = _LoRABody(b, shared_A if mode == "lora" else _lora_A(gen))
                params = list(lora.lora_A.parameters()) + list(lora.lora_B.parameters()) + list(h.parameters())
                _train(params, lambda x, h=h, lora=lora: h(lora(x)), data.X_train, data.y_train, 3e-3,
                       FINETUNE_EPOCHS, gen)
                state = {k: v.detach().clone() for k, v in base.items()}
                factors[name] = {}
                for layer in ("l1", "l2"):
                    A_rmm = lora.lora_B[layer].detach().clone()  # out x r
                    B_rmm = lora.lora_A[layer].detach().clone()  # r x in
                    factors[name][f"{layer}.weight"] = (A_rmm, B_rmm)
                    state[f"{layer}.weight"] = base[f"{layer}.weight"] + A_rmm @ B_rmm
                task_bodies[name] = state
            heads[name] = {k: v.detach().clone() for k, v in h.state_dict().items()}
    return {"version": _VERSION, "base_body": base, "task_bodies": task_bodies, "heads": heads,
            "lora_factors": factors or None}


@dataclass
class Testbed:
    """A built MergeDigits-8 testbed: base and fine-tuned bodies, heads, data, and evaluation helpers.

    ``lora_factors[task][key] = (A, B)`` with ``A`` out x r and ``B`` r x in
    (``Delta W = A @ B``), in LoRA modes only.
    """

    base_body: dict[str, torch.Tensor]
    task_bodies: dict[str, dict[str, torch.Tensor]]
    heads: dict[str, nn.Module]
    lora_factors: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]] | None
    tasks: dict[str, TaskData]
    body_factory: Callable[[], nn.Module]
    seed: int
    mode: str

    def __post_init__(self):
        self._individual: dict[str, dict[str, float]] = {}

    def body(self, body_state: Mapping[str, torch.Tensor]) -> nn.Module:
        module = self.body_factory()
        module.load_state_dict(body_state)
        return module.eval()

    def features(self, body_state: Mapping[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
        """Body output (n x 128) of ``X`` under ``body_state`` (Twin-Merging's router input)."""
        with torch.no_grad():
            return self.body(body_state)(torch.as_tensor(X, dtype=torch.float32))

    def accuracy_from_logits(self, task: str, logits: torch.Tensor, split: str = "test") -> float:
        _, y = self.tasks[task].split(split)
        return float((logits.argmax(1) == y).float().mean())

    def accuracy(self, body_state: Mapping[str, torch.Tensor], task: str, split: str = "test") -> float:
        """Accuracy of ``body_state`` with task ``task``'s head on one split."""
        if task not in self.tasks:
            raise ValueError(f"task must be one of {list(self.tasks)}, got {task!r}")
        X, _ = self.tasks[task].split(split)
        with torch.no_grad():
            return self.accuracy_from_logits(task, self.heads[task](self.features(body_state, X)), split)

    def individual_accuracy(self, split: str = "test") -> dict[str, float]:
        """Each fine-tuned body's accuracy on its own task (the normalizer)."""
        if split not in self._individual:
            self._individual[split] = {t: self.accuracy(self.task_bodies[t], t, split) for t in self.tasks}
        return self._individual[split]

    def normalized_accuracy(self, body_state: Mapping[str, torch.Tensor],
                            split: str = "test") -> tuple[float, dict[str, float]]:
        """``(mean_t acc_t(merged) / acc_t(theta_t), per-task ratios)`` for one merged body."""
        return self.normalized_from_accuracies({t: self.accuracy(body_state, t, split) for t in self.tasks}, split)

    def normalized_accuracy_per_task(self, states: Mapping[str, Mapping[str, torch.Tensor]],
                                     split: str = "test") -> tuple[float, dict[str, float]]:
        """As :meth:`normalized_accuracy` with a different body per task (e.g. recovered models)."""
        return self.normalized_from_accuracies({t: self.accuracy(states[t], t, split) for t in self.tasks}, split)

    def normalized_from_accuracies(self, accs: Mapping[str, float],
                                   split: str = "test") -> tuple[float, dict[str, float]]:
        ind = self.individual_accuracy(split)
        ratios = {t: accs[t] / ind[t] for t in self.tasks}
        return float(np.mean(list(ratios.values()))), ratios


def _build_single_threaded(seed: int, mode: str) -> dict:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _build(seed, mode)
    finally:
        torch.set_num_threads(previous)


def build_merge_testbed(seed: int = 0, mode: str = "full", cache: bool = True) -> Testbed:
    """Build (or load from the cache) the MergeDigits-8 testbed for one seed and fine-tuning mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    root = cache_root() if cache else None
    path = None if root is None else root / f"merge_digits_seed{seed}_{mode}.pt"
    payload = load_or_build(path, lambda: _build_single_threaded(int(seed), mode),
                            is_valid=lambda payload: isinstance(payload, dict) and payload.get("version") == _VERSION)
    tasks = make_digit_tasks(int(seed))
    heads = {}
    for name, state in payload["heads"].items():
        head = nn.Linear(128, tasks[name].n_classes)
        head.load_state_dict(state)
        heads[name] = head.eval()
    return Testbed(payload["base_body"], payload["task_bodies"], heads, payload["lora_factors"], tasks,
                   DigitBody, int(seed), mode)


@dataclass(frozen=True)
class MergeScore:
    """A merge's validation-selected parameters and its normalized accuracies."""

    params: dict
    val: float
    test: float
    per_task: dict[str, float]


def evaluate_merge(testbed: Testbed, merge_fn: Callable[..., Mapping[str, torch.Tensor]],
                   grid: list[dict]) -> MergeScore:
    """Pick ``merge_fn``'s parameters on the val split (mean normalized accuracy), report test.

    Hyper-parameters are never chosen on test data (spec ``merge.md`` section 1).
    """
    from diversa.combine.merge.selection import select_by_validation

    best, table = select_by_validation(merge_fn, grid, lambda state: testbed.normalized_accuracy(state, "val")[0])
    val = max(row["score"] for row in table)
    test, per_task = testbed.normalized_accuracy(merge_fn(**best), "test")
    return MergeScore(best, val, test, per_task)
