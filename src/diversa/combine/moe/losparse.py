"""MC-SMoE's compression: merged experts as low-rank plus structured-sparse matrices (LoSparse).

Li et al., "Merge, Then Compress", ICLR 2024, arXiv:2310.01334 (spec
``merge.md`` 8 step 8, ``mcsmoe/pruning/losparse.py``), after Li et al.,
"LoSparse: Structured Compression of Large Language Models based on Low-Rank
and Sparse Approximation", ICML 2023, arXiv:2306.11222.

Every expert matrix ``W`` (out x in) becomes ``L R + S``: ``L = U_r
Sigma_r^(1/2)``, ``R = Sigma_r^(1/2) V_r^T`` from the SVD, and the residual
``S = W - L R`` (exact at initialisation). The residual is then pruned row by
row: :class:`LoSparsePruner` keeps an exponential moving average of the
importance ``|S * dL/dS|``, scores each row by its mean, and keeps the rows
above a global threshold so that a fraction ``rho(t)`` of the residual entries
survives, with the cubic schedule ``rho(t) = rho_f + (1 - rho_f) (1 - (t -
t_i) / (T - t_i - t_f))^3`` between ``t_i = warmup`` and ``T - t_f`` (``t_f =
4 warmup``). Call :meth:`LoSparsePruner.step` after each optimiser step of a
(distillation) fine-tuning loop, or :meth:`LoSparsePruner.update_importance`
and :meth:`LoSparsePruner.prune` once for one-shot pruning without fine-tuning.

:func:`stable_rank` is the paper's diagnostic (merged experts are claimed to
have lower stable rank than the experts they merge).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from diversa.combine.moe.base import check_ratio
from diversa.combine.moe.compressed import CompressedExperts, ExpertMatrices, compressed_layer
from diversa.combine.moe.experts import find_moe_layers, read_experts
from diversa.combine.moe.msmoe import dense_experts

__all__ = ["LoSparsePruner", "compress_experts", "low_rank_sparse", "stable_rank"]


def stable_rank(weight: torch.Tensor) -> float:
    """``||W||_F^2 / ||W||_2^2`` of a 2-D matrix (between 1 and its rank; 0 for a zero matrix)."""
    if weight.dim() != 2:
        raise ValueError(f"weight must be a 2-D matrix, got shape {tuple(weight.shape)}.")
    s = torch.linalg.svdvals(weight.detach().double())
    return float((s.square().sum() / s[0].square()).item()) if float(s[0]) > 0 else 0.0


def _rank_for(shape: tuple[int, int], rank: int | None, rank_ratio: float | None) -> int:
    limit = min(shape)
    if (rank is None) == (rank_ratio is None):
        raise ValueError("give exactly one of rank and rank_ratio.")
    if rank_ratio is not None:
        return max(1, int(math.floor(check_ratio(rank_ratio, "rank_ratio") * limit)))
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= limit:
        raise ValueError(f"rank must be an int in 1..{limit} for {shape[0]} x {shape[1]} matrices, got {rank!r}.")
    return rank


def low_rank_sparse(weights: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(L [G, out, r], R [G, r, in], S [G, out, in])`` with ``L R`` the rank-r SVD part and ``S = W - L R``."""
    w = weights.detach().double()
    U, S, Vh = torch.linalg.svd(w, full_matrices=False)
    root = S[..., :rank].sqrt()
    left = U[..., :rank] * root[..., None, :]
    right = root[..., :, None] * Vh[..., :rank, :]
    return left.float(), right.float(), (w - left @ right).float()


def _factored(matrices: ExpertMatrices, rank: int | None, rank_ratio: float | None, residual: bool) -> ExpertMatrices:
    dense = torch.stack([matrices.weight(g) for g in range(matrices.count)])
    r = _rank_for(matrices.shape, rank, rank_ratio)
    left, right, sparse = low_rank_sparse(dense, r)
    return ExpertMatrices(left=left, right=right, sparse=sparse if residual else None)


def compress_experts(model: nn.Module, rank: int | None = None, rank_ratio: float | None = None,
                     residual: bool = True) -> nn.Module:
    """A copy of ``model`` whose experts are ``L R (+ S)`` (MC-SMoE's compression of merged experts).

    Applies to every :class:`CompressedExperts` (merged layers) and converts
    plain MoE layers (one physical expert per slot). ``rank`` (per matrix) or
    ``rank_ratio`` in (0, 1] (``floor(ratio * min(out, in))``, at least 1).
    ``residual=True`` keeps the dense residual ``S`` (the model computes
    exactly as before until :class:`LoSparsePruner` prunes it); ``False``
    keeps only the low-rank part.
    """
    if rank is None and rank_ratio is None:
        raise ValueError("give rank or rank_ratio.")
    if rank_ratio is not None:
        check_ratio(rank_ratio, "rank_ratio")
    out = copy.deepcopy(model)
    compressed = [m for m in out.modules() if isinstance(m, CompressedExperts)]
    plain = [name for name in find_moe_layers(out)
             if not any(isinstance(m, CompressedExperts) for m in out.get_submodule(name).modules())]
    if not compressed and not plain:
        raise ValueError("model contains no MoE layer to compress.")
    for experts in compressed:
        for name, matrices in list(experts.matrices().items()):
            setattr(experts, f"w_{name}", _factored(matrices, rank, rank_ratio, residual))
    for name in plain:
        layer = out.get_submodule(name) if name else out
        ex = read_experts(layer)
        identity = dense_experts(ex.matrices(), torch.arange(ex.num_experts), ex.activation)
        for wname, matrices in list(identity.matrices().items()):
            setattr(identity, f"w_{wname}", _factored(matrices, rank, rank_ratio, residual))
        new = compressed_layer(layer, identity)
        if not name:
            return new
        parent, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent) if parent else out, child, new)
    return out


class LoSparsePruner:
    """Structured (row) pruning of the sparse residuals of a model's LoSparse experts.

    Parameters
    ----------
    model : the model whose :class:`ExpertMatrices` have sparse residuals.
    final_ratio : float in (0, 1]
        Fraction ``rho_f`` of residual entries kept at the end (README 0.10).
    total_steps, warmup_steps : int
        ``T`` and ``w`` of the schedule (``t_i = w``, ``t_f = 4 w``).
    beta1 : float
        EMA factor of the importance (0.85).
    """

    def __init__(self, model: nn.Module, final_ratio: float = 0.10, total_steps: int = 1, warmup_steps: int = 0,
                 beta1: float = 0.85):
        self.final_ratio = check_ratio(final_ratio, "final_ratio")
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive int, got {total_steps!r}.")
        if not isinstance(warmup_steps, int) or warmup_steps < 0 or 5 * warmup_steps > total_steps:
            raise ValueError(f"warmup_steps must be an int in 0..total_steps/5, got {warmup_steps!r}.")
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}.")
        self.targets = [m for m in model.modules() if isinstance(m, ExpertMatrices) and m.sparse is not None]
        if not self.targets:
            raise ValueError("model has no expert matrices with a sparse residual (see compress_experts).")
        self.total_steps, self.warmup_steps, self.beta1 = total_steps, warmup_steps, beta1
        self.importance = [torch.zeros_like(m.sparse) for m in self.targets]

    def remaining_ratio(self, step: int) -> float:
        """Fraction of residual entries kept after ``step`` (cubic schedule)."""
        t_i, t_f, total = self.warmup_steps, 4 * self.warmup_steps, self.total_steps
        if step <= t_i:
            return 1.0
        if step > total - t_f or total - t_i - t_f <= 0:
            return self.final_ratio
        progress = (step - t_i) / (total - t_i - t_f)
        return self.final_ratio + (1.0 - self.final_ratio) * (1.0 - progress) ** 3

    @torch.no_grad()
    def update_importance(self) -> None:
        """Fold ``|S * grad S|`` (gradients of the last backward pass) into the moving average."""
        for avg, m in zip(self.importance, self.targets):
            if m.sparse.grad is None:
                raise ValueError("no gradient on the sparse residuals: run a backward pass first.")
            avg.mul_(self.beta1).add_((m.sparse * m.sparse.grad).abs(), alpha=1.0 - self.beta1)

    @torch.no_grad()
    def prune(self, ratio: float) -> None:
        """Keep the residual rows of highest mean importance holding a fraction ``ratio`` of all entries."""
        ratio = check_ratio(ratio, "ratio")
        scores = torch.cat([avg.mean(dim=2).reshape(-1) for avg in self.importance])
        lengths = torch.cat([torch.full((avg.shape[0] * avg.shape[1],), avg.shape[2], dtype=torch.float64)
                             for avg in self.importance])
        n_drop = math.floor(float(lengths.sum()) * (1.0 - ratio))
        if n_drop <= 0:
            return
        order = torch.sort(scores.double(), stable=True).indices
        position = int(torch.searchsorted(lengths[order].cumsum(0), torch.tensor(float(n_drop), dtype=torch.float64)))
        threshold = float(scores[order[min(position, order.numel() - 1)]])
        start = 0
        for avg, m in zip(self.importance, self.targets):
            count = avg.shape[0] * avg.shape[1]
            keep = (scores[start: start + count] >= threshold).reshape(avg.shape[:2])
            start += count
            m.sparse_rows.copy_(m.sparse_rows & keep)
            m.sparse.mul_(m.sparse_rows[..., None].to(m.sparse.dtype))

    def step(self, global_step: int) -> float:
        """After an optimiser step: update the importance and prune to the schedule; returns the ratio kept."""
        self.update_importance()
        ratio = self.remaining_ratio(global_step)
        if global_step > self.warmup_steps:
            self.prune(ratio)
        return ratio

    def kept_fraction(self) -> float:
        """Fraction of residual entries currently kept."""
        kept = sum(int(m.sparse_rows.sum()) * m.sparse.shape[2] for m in self.targets)
        return kept / sum(m.sparse.numel() for m in self.targets)
