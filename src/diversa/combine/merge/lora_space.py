"""Merging LoRA adapters in LoRA space: merge the low-rank updates, refactorise by an exact SVD.

Several PEFT LoRA adapters trained on one base model each add, to every
target module, the update ``delta_i = s_i B_i A_i`` (``s_i = lora_alpha / r``,
or ``lora_alpha / sqrt(r)`` with rank-stabilised LoRA, Kalajdzievski 2023,
arXiv:2312.03732). Since the base is shared, a merge of the full models is a
merge of these updates with a zero base: the existing pure merge functions
(Task Arithmetic, TIES-Merging, DARE, DELLA, Model Breadcrumbs, SCE,
magnitude pruning, PCB-Merging) run unchanged on the deltas, TIES and DARE
trimming and electing signs on the full delta as mergekit does on full weights.

The merged delta ``M`` is written back as one adapter of rank ``r_out`` by
its singular value decomposition ``M = U S V^T``: ``B = U_r sqrt(S_r / s)``,
``A = sqrt(S_r / s) V_r^T`` with ``s`` the output adapter's scaling, so that
``s B A`` is the best rank-``r_out`` approximation of ``M`` (Eckart-Young). The
relative Frobenius error ``sqrt(sum_{j > r_out} S_j^2) / ||M||_F`` is reported
per module and over the whole adapter; it is zero (up to rounding) whenever
``rank(M) <= r_out``, e.g. for Task Arithmetic with ``r_out >= sum_i r_i``.

Linear merges (``"linear"``, ``"task_arithmetic"``) also have a path that never
forms ``M``: ``M = sum_i c_i s_i B_i A_i = B_cat A_cat`` with the ``B``'s side by
side and the ``A``'s stacked; thin QR factorisations ``B_cat = Q_B R_B`` and
``A_cat^T = Q_A R_A`` leave a small ``R x R`` core ``R_B R_A^T`` (``R = sum_i r_i``)
whose SVD gives ``M``'s exact singular triplets in ``O((out + in) R^2)``.

PEFT's ``add_weighted_adapter(combination_type="svd")`` differs in ways the
documentation of :func:`merge_lora` lists.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from diversa.combine.merge.averaging import weight_average
from diversa.combine.merge.breadcrumbs import breadcrumbs_merging
from diversa.combine.merge.dare import dare_merging
from diversa.combine.merge.della import della_merging
from diversa.combine.merge.magnitude_prune import magnitude_prune_merging
from diversa.combine.merge.pcb import pcb_merging
from diversa.combine.merge.sce import sce_merging
from diversa.combine.merge.task_arithmetic import task_arithmetic
from diversa.combine.merge.ties import ties_merging
from diversa.nn.lora.inject import match_pattern
from diversa.nn.lora.linear import lora_scaling
from diversa.nn.lora.peft_format import CONFIG_NAME, PEFT_PREFIX, WEIGHTS_NAME, PeftAdapter, read_adapter

__all__ = ["LORA_METHODS", "LoRAMerge", "adapter_deltas", "lowrank_svd", "merge_lora", "save_merged_adapter",
           "truncate_svd"]

#: Merge methods that apply to LoRA deltas: name -> (pure function, defaults that differ from the function's).
#: Task Arithmetic adds the updates at full strength unless told otherwise (its function's 0.3 suits full
#: fine-tunes); methods on whole weights (SLERP, Model Stock, Karcher, ...) do not act on deltas alone.
LORA_METHODS: dict[str, tuple[Callable[..., dict], dict]] = {
    "linear": (weight_average, {}),
    "task_arithmetic": (task_arithmetic, {"scaling": 1.0}),
    "ties": (ties_merging, {}),
    "dare": (dare_merging, {}),
    "della": (della_merging, {}),
    "breadcrumbs": (breadcrumbs_merging, {}),
    "magnitude_prune": (magnitude_prune_merging, {}),
    "sce": (sce_merging, {}),
    "pcb": (pcb_merging, {}),
}
_LINEAR = ("linear", "task_arithmetic")
_PATHS = ("auto", "full", "lowrank")


class LoRAMerge(NamedTuple):
    """A merged adapter: ``config`` (``adapter_config.json``), ``weights`` keyed
    ``"<module>.lora_A.weight"``/``"<module>.lora_B.weight"`` (module paths relative to the base
    model), the relative Frobenius truncation ``errors`` per module and ``total_error`` over all
    modules, the output ``ranks`` per module and the ``path`` taken (``"full"`` or ``"lowrank"``)."""

    config: dict
    weights: dict[str, torch.Tensor]
    errors: dict[str, float]
    total_error: float
    ranks: dict[str, int]
    path: str


def adapter_deltas(adapter: PeftAdapter) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{module: (s * B, A)}`` of a PEFT adapter, ``s`` its scaling for that module (float32).

    The rank and alpha of each module follow PEFT: ``rank_pattern`` and
    ``alpha_pattern`` entries override ``r`` and ``lora_alpha``.
    """
    config = adapter.config
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in adapter.weights.items():
        module, which, _ = key.rsplit(".", 2)
        pairs.setdefault(module, {})[which] = tensor
    out = {}
    for module in sorted(pairs):
        pair = pairs[module]
        if set(pair) != {"lora_A", "lora_B"}:
            raise ValueError(f"adapter module {module!r} has only {sorted(pair)}; LoRA needs lora_A and lora_B")
        A, B = pair["lora_A"].float(), pair["lora_B"].float()
        if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[1]:
            raise ValueError(f"adapter module {module!r}: lora_A {tuple(A.shape)} and lora_B {tuple(B.shape)} "
                             "do not form a rank-r pair (A is r x in, B is out x r)")
        r = match_pattern(module, config.get("rank_pattern"), config.get("r", 8))
        alpha = match_pattern(module, config.get("alpha_pattern"), config.get("lora_alpha", 8))
        if r != A.shape[0]:
            raise ValueError(f"adapter module {module!r}: the config gives r={r} but lora_A has rank {A.shape[0]}")
        out[module] = (lora_scaling(r, alpha, bool(config.get("use_rslora", False))) * B, A)
    return out


def lowrank_svd(B: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exact thin SVD ``(U, S, Vh)`` of ``B @ A`` (``B``: out x R, ``A``: R x in) without forming it.

    Two thin QR factorisations and the SVD of an at most ``R x R`` core, in
    float64; ``len(S) == min(out, in, R)``.
    """
    Qb, Rb = torch.linalg.qr(B.double())
    Qa, Ra = torch.linalg.qr(A.double().T)
    Uc, S, Vhc = torch.linalg.svd(Rb @ Ra.T, full_matrices=False)
    return Qb @ Uc, S, Vhc @ Qa.T


def truncate_svd(U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, rank: int, scaling: float = 1.0
                 ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """LoRA factors ``(B, A)`` of rank ``rank`` with ``scaling * B @ A`` the best rank-``rank``
    approximation of ``U diag(S) Vh``, and its relative Frobenius error.

    The singular values are split evenly, ``B = U_r sqrt(S_r / scaling)`` and
    ``A = sqrt(S_r / scaling) V_r^T``; ranks beyond ``len(S)`` are zero columns
    of ``B`` and rows of ``A``. The error is ``sqrt(sum_{j >= rank} S_j^2) / ||S||``
    (0 for a zero matrix), the Eckart-Young optimum.
    """
    k = min(rank, len(S))
    root = (S[:k] / scaling).sqrt()
    B = torch.zeros(U.shape[0], rank, dtype=U.dtype)
    A = torch.zeros(rank, Vh.shape[1], dtype=Vh.dtype)
    B[:, :k] = U[:, :k] * root
    A[:k] = root[:, None] * Vh[:k]
    total = float(S.double().square().sum())
    discarded = float(S[k:].double().square().sum())
    return B, A, math.sqrt(discarded / total) if total > 0 else 0.0


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _read(adapters) -> tuple[list[PeftAdapter], list[str]]:
    """The adapters and the names errors call them by (their folder, else their index)."""
    if isinstance(adapters, (str, os.PathLike, PeftAdapter)) or len(adapters) == 0:
        raise ValueError("adapters must be a non-empty sequence of adapter folders or PeftAdapter objects")
    read = [a if isinstance(a, PeftAdapter) else read_adapter(a) for a in adapters]
    labels = [f"adapters[{i}]" if isinstance(a, PeftAdapter) else f"adapter {str(a)!r}" for i, a in enumerate(adapters)]
    return read, labels


def _labelled_deltas(adapter: PeftAdapter, label: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    try:
        deltas = adapter_deltas(adapter)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None
    for module, (B, A) in deltas.items():
        if not (torch.isfinite(B).all() and torch.isfinite(A).all()):
            raise ValueError(f"{label}: module {module!r} holds NaN or infinite LoRA weights")
    return deltas


def _check_compatible(adapters: Sequence[PeftAdapter], deltas: Sequence[dict], labels: Sequence[str]) -> None:
    """One base model: the same base_model_name_or_path (where given), modules and update shapes."""
    named = [(label, a.config.get("base_model_name_or_path")) for label, a in zip(labels, adapters)]
    named = [(label, n) for label, n in named if n]
    for label, name in named[1:]:
        if name != named[0][1]:
            raise ValueError(f"{label} has base_model_name_or_path {name!r} but {named[0][0]} has "
                             f"{named[0][1]!r}; LoRA adapters merge only on one base model")
    modules = set(deltas[0])
    for label, d in zip(labels[1:], deltas[1:]):
        if set(d) != modules:
            extra = sorted(set(d) ^ modules)[0]
            raise ValueError(f"{label} and {labels[0]} adapt different target_modules ({extra!r} is in only one "
                             "of them); merge adapters of the same modules")
        for module in sorted(modules):
            shape = (d[module][0].shape[0], d[module][1].shape[1])
            first = (deltas[0][module][0].shape[0], deltas[0][module][1].shape[1])
            if shape != first:
                raise ValueError(f"{label} updates {module!r} with shape {shape} but {labels[0]} with shape {first}:"
                                 " the adapters are for different base models")


def _method(method: str, params: Mapping) -> tuple[Callable[..., dict], dict]:
    if method not in LORA_METHODS:
        raise ValueError(f"method must be one of {sorted(LORA_METHODS)}, got {method!r}")
    function, defaults = LORA_METHODS[method]
    accepted = set(inspect.signature(function).parameters) - {"base", "models", "keys"}
    for name in params:
        if name not in accepted:
            raise ValueError(f"{method} takes no parameter {name!r}; it takes {sorted(accepted)}")
    return function, {**defaults, **params}


def _linear_coefficients(function, kwargs: dict, n: int) -> list[float]:
    """``c_i`` with ``merge(delta_1..n) = sum_i c_i delta_i``, read off by merging the unit vectors
    (so weights, scaling and normalisation mean exactly what the merge function says)."""
    units = [{"c": torch.eye(n)[i]} for i in range(n)]
    base = {"c": torch.zeros(n)}
    merged = function(units, **kwargs) if function is weight_average else function(base, units, **kwargs)
    return merged["c"].tolist()


def merge_lora(adapters: Sequence, method: str = "task_arithmetic", rank: int | None = None,
               lora_alpha: float | None = None, path: str = "auto",
               progress: Callable[[int, int, str], None] | None = None, **params) -> LoRAMerge:
    """Merge PEFT LoRA adapters of one base model into one adapter of rank ``rank``.

    ``adapters``: adapter folders (``PeftModel.save_pretrained``) or
    :class:`~diversa.nn.lora.PeftAdapter` objects. ``method``: a key of
    :data:`LORA_METHODS`; ``params`` go to its function (``weights``,
    ``density``, ``scaling``, ``drop_rate``, ``random_state``, ...) which merges
    each module's deltas ``s_i B_i A_i`` with a zero base. ``rank``: the output
    rank (default: the sum of the input ranks, exact for linear merges), capped
    per module at ``min(out, in)`` (recorded in ``rank_pattern``).
    ``lora_alpha``: the output's alpha (default ``rank``, scaling 1).
    ``path="lowrank"`` (linear methods only; ``"auto"`` picks it for them)
    never forms the full delta; ``"full"`` forms it and takes its SVD.

    Differences from PEFT's ``add_weighted_adapter(..., combination_type="svd")``
    (peft 0.21): its default ``svd_rank`` is the *largest* input rank, not the
    sum, so it truncates sums unless told otherwise; it puts all of ``S`` into
    ``B`` (``B = U S``, ``A = V^T``) where this splits ``sqrt(S)`` evenly (same
    product); it sets ``lora_alpha = r`` but keeps the first adapter's
    ``use_rslora``, so with rank-stabilised inputs its merged update is
    ``sqrt(r)`` times the intended one; and its non-SVD ``"linear"`` mode sums
    ``sqrt(w_i s_i) B_i`` and ``sqrt(w_i s_i) A_i`` separately, whose product
    carries cross terms ``B_i A_j``, so it is not the weighted sum of updates.
    """
    function, kwargs = _method(method, params)
    if rank is not None:
        _positive_int(rank, "rank")
    if lora_alpha is not None and (isinstance(lora_alpha, bool) or not isinstance(lora_alpha, (int, float))
                                   or not lora_alpha > 0 or not math.isfinite(lora_alpha)):
        raise ValueError(f"lora_alpha must be a positive number, got {lora_alpha!r}")
    if path not in _PATHS:
        raise ValueError(f"path must be one of {list(_PATHS)}, got {path!r}")
    if path == "lowrank" and method not in _LINEAR:
        raise ValueError(f"path='lowrank' needs a linear method ({', '.join(_LINEAR)}); {method!r} acts on the "
                         "full delta (use path='full' or 'auto')")
    read, labels = _read(adapters)
    deltas = [_labelled_deltas(a, label) for a, label in zip(read, labels)]
    _check_compatible(read, deltas, labels)
    use_lowrank = method in _LINEAR and path != "full"
    if rank is None:
        rank = max(sum(d[m][1].shape[0] for d in deltas) for m in deltas[0])
    alpha = float(rank if lora_alpha is None else lora_alpha)
    coefficients = _linear_coefficients(function, kwargs, len(deltas)) if use_lowrank else None
    dtype = next(iter(read[0].weights.values())).dtype
    weights, errors, ranks, discarded, total = {}, {}, {}, 0.0, 0.0
    modules = list(deltas[0])
    for done, module in enumerate(modules):
        if coefficients is not None:
            U, S, Vh = lowrank_svd(torch.cat([c * d[module][0] for c, d in zip(coefficients, deltas)], dim=1),
                                   torch.cat([d[module][1] for d in deltas], dim=0))
        else:
            merged = _merged_delta(function, kwargs, module, [d[module] for d in deltas])
            U, S, Vh = torch.linalg.svd(merged, full_matrices=False)
        r_module = min(rank, U.shape[0], Vh.shape[1])
        B, A, error = truncate_svd(U, S, Vh, r_module, lora_scaling(r_module, alpha))
        weights[f"{module}.lora_A.weight"] = A.to(dtype).contiguous()
        weights[f"{module}.lora_B.weight"] = B.to(dtype).contiguous()
        errors[module], ranks[module] = error, r_module
        energy = float(S.double().square().sum())
        total += energy
        discarded += error ** 2 * energy
        if progress is not None:
            progress(done + 1, len(modules), module)
    config = _merged_config(read[0].config, rank, alpha, ranks)
    return LoRAMerge(config, weights, errors, math.sqrt(discarded / total) if total > 0 else 0.0, ranks,
                     "lowrank" if use_lowrank else "full")


def _merged_delta(function, kwargs: dict, module: str, pairs) -> torch.Tensor:
    """The method's merged delta of one module, from the full deltas ``s_i B_i A_i`` and a zero base."""
    models = [{module: sB @ A} for sB, A in pairs]
    if function is weight_average:
        return function(models, **kwargs)[module].float()
    base = {module: torch.zeros_like(models[0][module])}
    return function(base, models, **kwargs)[module].float()


def _merged_config(first: dict, rank: int, alpha: float, ranks: Mapping[str, int]) -> dict:
    config = copy.deepcopy(first)
    config.update({
        "r": rank,
        "lora_alpha": int(alpha) if alpha.is_integer() else alpha,
        "use_rslora": False,
        "rank_pattern": {module: r for module, r in ranks.items() if r != rank},
        "alpha_pattern": {},
        "inference_mode": True,
    })
    return config


def save_merged_adapter(merge: LoRAMerge, out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``merge`` as a PEFT adapter folder (``adapter_config.json`` and
    ``adapter_model.safetensors`` with PEFT's key names) and return its path.

    The folder is assembled next to ``out_dir`` and renamed into place only
    when complete; an existing non-empty ``out_dir`` is replaced only with
    ``overwrite``.
    """
    import json

    from safetensors.torch import save_file

    from diversa.combine.merge.output_folder import check_output_folder, staged_folder

    out = Path(out_dir)
    check_output_folder(out, overwrite, label="out_dir")
    with staged_folder(out, "merging") as tmp:
        tensors = {f"{PEFT_PREFIX}{key}": value for key, value in merge.weights.items()}
        save_file(tensors, tmp / WEIGHTS_NAME, metadata={"format": "pt"})
        (tmp / CONFIG_NAME).write_text(json.dumps(merge.config, indent=2, sort_keys=True) + "\n")
    return out
