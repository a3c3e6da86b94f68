"""Reversible Model Merging (RMM): a compact basis from which every low-rank task model is recovered.

Alipour, Mohammadi Amiri, "Towards Reversible Model Merging for Low-rank
Weights", arXiv:2510.14163 (2025). No official code was found; the closed form
below is the spec's **reconstruction** (``merge.md`` section 5, UNVERIFIED), which
reproduces the paper's storage formula ``(p(r + n) + r) / (r n)`` exactly.

Each task i's update of a layer is low rank, ``Delta_i = A_i B_i`` with
``A_i`` (m x r) and ``B_i`` (r x d). Every *position* -- a row of A or a column
of B -- holds n vectors ``x_{i,j}`` in R^r, one per task. Per position RMM
stores the mean ``mu_j``, the top-p principal directions ``Phi_j`` (r x p) of
the centred vectors and each task's coefficients ``c_{i,j} = Phi_j^T (x_{i,j} -
mu_j)``; task i is recovered as ``mu_j + Phi_j c_{i,j}``. This is the optimal
p-dimensional affine approximation of the n points (PCA / Eckart-Young),
data-free, and exact when ``p >= n - 1``. The single "merged" model is the
means (``mu_A mu_B``, the p = 0 case). ``center=False`` drops the mean
(storage ``p(r + n)``).

Factor sources: LoRA (peft names ``lora_A`` r x in, ``lora_B`` out x r:
``A = scaling * lora_B``, ``B = lora_A``) or post-training SVD of a full
fine-tune (``A = U_r S_r^(1/2)``, ``B = S_r^(1/2) V_r^T``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from diversa.combine.merge.keys import _f32, merge_keys

__all__ = ["RMMBasis", "factors_from_lora", "factors_from_svd", "rmm_fit", "storage_ratio"]

Factors = dict[str, tuple[torch.Tensor, torch.Tensor]]


def storage_ratio(rank: int, n_tasks: int, n_components: int, center: bool = True) -> float:
    """Stored numbers per position relative to keeping all n tasks' factors: ``(p(r+n) + r)/(r n)``."""
    return (n_components * (rank + n_tasks) + (rank if center else 0)) / (rank * n_tasks)


@dataclass
class RMMBasis:
    """Per-layer means, bases and coefficients, for the A rows and the B columns of every layer.

    ``mean[layer] = (mu_A (m x r), mu_B (r x d))``; ``basis[layer] = (Phi_A
    (m x r x p), Phi_B (d x r x p))``; ``coeffs[layer] = (C_A (m x p x n), C_B
    (d x p x n))``.
    """

    mean: dict[str, tuple[torch.Tensor, torch.Tensor]]
    basis: dict[str, tuple[torch.Tensor, torch.Tensor]]
    coeffs: dict[str, tuple[torch.Tensor, torch.Tensor]]
    n_tasks: int
    rank: int
    n_components: int
    center: bool = True

    def reconstruct(self, task: int) -> Factors:
        """``(A^_i, B^_i)`` per layer for task ``task``."""
        if not 0 <= task < self.n_tasks:
            raise ValueError(f"task must lie in [0, {self.n_tasks}), got {task}")
        out = {}
        for layer, (mu_a, mu_b) in self.mean.items():
            (phi_a, phi_b), (c_a, c_b) = self.basis[layer], self.coeffs[layer]
            rows = mu_a + (phi_a @ c_a[:, :, task:task + 1]).squeeze(-1)  # (m, r)
            cols = mu_b.T + (phi_b @ c_b[:, :, task:task + 1]).squeeze(-1)  # (d, r)
            out[layer] = (rows, cols.T.contiguous())
        return out

    def delta(self, task: int) -> dict[str, torch.Tensor]:
        """``A^_i @ B^_i`` per layer: the recovered weight update of task ``task``."""
        return {layer: a @ b for layer, (a, b) in self.reconstruct(task).items()}

    def merged_delta(self) -> dict[str, torch.Tensor]:
        """``mu_A @ mu_B`` per layer: the single merged model (averaged factors)."""
        return {layer: a @ b for layer, (a, b) in self.mean.items()}

    def storage_ratio(self) -> float:
        """Stored numbers relative to storing every task's factors."""
        return storage_ratio(self.rank, self.n_tasks, self.n_components, self.center)


def _fit_positions(X: torch.Tensor, p: int, center: bool):
    """X: (P, r, n) -> mean (P, r), basis (P, r, p), coefficients (P, p, n)."""
    mu = X.mean(dim=2, keepdim=True) if center else torch.zeros_like(X[:, :, :1])
    Xc = X - mu
    U, _, _ = torch.linalg.svd(Xc, full_matrices=False)
    phi = U[:, :, :p]
    return mu.squeeze(-1), phi, phi.transpose(1, 2) @ Xc


def rmm_fit(factors: Sequence[Mapping[str, tuple[torch.Tensor, torch.Tensor]]], n_components: int = 1,
            center: bool = True, storage_budget: float | None = None) -> RMMBasis:
    """Fit RMM's basis and coefficients from each task's ``{layer: (A_i, B_i)}``.

    ``n_components`` p (0 <= p <= min(r, n)), or ``storage_budget``: the largest
    p whose :func:`storage_ratio` does not exceed it.
    """
    n = len(factors)
    if n < 2:
        raise ValueError(f"factors must hold at least 2 tasks, got {n}")
    layers = list(factors[0])
    for i, f in enumerate(factors):
        if list(f) != layers and set(f) != set(layers):
            raise ValueError(f"factors[{i}] has layers {sorted(f)}, expected {sorted(layers)}")
    rank = None
    for layer in layers:
        shapes = {(tuple(f[layer][0].shape), tuple(f[layer][1].shape)) for f in factors}
        if len(shapes) > 1:
            raise ValueError(f"factors: layer {layer!r} has inconsistent shapes across tasks: {sorted(shapes)}")
        (a_shape, b_shape), = shapes
        if len(a_shape) != 2 or len(b_shape) != 2 or a_shape[1] != b_shape[0]:
            raise ValueError(f"factors: layer {layer!r} needs A (m x r) and B (r x d), got {a_shape}, {b_shape}")
        if rank is not None and a_shape[1] != rank:
            raise ValueError(f"factors: layer {layer!r} has rank {a_shape[1]}, other layers {rank}")
        rank = a_shape[1]
    if storage_budget is not None:
        p = -1
        for q in range(min(rank, n) + 1):
            if storage_ratio(rank, n, q, center) <= storage_budget:
                p = q
        if p < 0:
            raise ValueError(f"storage_budget {storage_budget} is below the cost of the mean alone")
        n_components = p
    if isinstance(n_components, bool) or not isinstance(n_components, int):
        raise TypeError(f"n_components must be an int, got {n_components!r}")
    if not 0 <= n_components <= min(rank, n):
        raise ValueError(f"n_components must lie in [0, min(r, n)] = [0, {min(rank, n)}], got {n_components}")
    mean, basis, coeffs = {}, {}, {}
    for layer in layers:
        XA = torch.stack([_f32(f[layer][0]) for f in factors], dim=2)  # (m, r, n): rows of A
        XB = torch.stack([_f32(f[layer][1]).T for f in factors], dim=2)  # (d, r, n): columns of B
        mu_a, phi_a, c_a = _fit_positions(XA, n_components, center)
        mu_b, phi_b, c_b = _fit_positions(XB, n_components, center)
        mean[layer] = (mu_a, mu_b.T.contiguous())
        basis[layer] = (phi_a, phi_b)
        coeffs[layer] = (c_a, c_b)
    return RMMBasis(mean, basis, coeffs, n, rank, n_components, center)


def factors_from_svd(base: Mapping[str, torch.Tensor], model: Mapping[str, torch.Tensor], rank: int,
                     keys: Sequence[str] | None = None) -> Factors:
    """Post-training SVD factors of each 2-D task update: ``A = U_r S_r^(1/2)``, ``B = S_r^(1/2) V_r^T``."""
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive int, got {rank!r}")
    keys = [k for k in (keys if keys is not None else merge_keys(base, [model])) if base[k].dim() == 2]
    out = {}
    for key in keys:
        U, S, Vh = torch.linalg.svd(_f32(model[key]) - _f32(base[key]), full_matrices=False)
        r = min(rank, len(S))
        root = S[:r].sqrt()
        out[key] = (U[:, :r] * root, root[:, None] * Vh[:r])
    return out


def factors_from_lora(peft_state: Mapping[str, torch.Tensor], adapter: str = "default",
                      scaling: float = 1.0) -> Factors:
    """``{layer weight key: (scaling * lora_B, lora_A)}`` from a peft LoRA state dict.

    peft stores ``lora_A.<adapter>.weight`` (r x in) and ``lora_B.<adapter>.weight``
    (out x r) with ``Delta W = scaling * B A``; RMM's ``A`` is the out x r factor.
    """
    out = {}
    suffix_a = f".lora_A.{adapter}.weight"
    for key, value in peft_state.items():
        if key.endswith(suffix_a):
            prefix = key[: -len(suffix_a)]
            key_b = f"{prefix}.lora_B.{adapter}.weight"
            if key_b not in peft_state:
                raise ValueError(f"peft_state has {key!r} but not {key_b!r}")
            out[f"{prefix}.weight"] = (float(scaling) * _f32(peft_state[key_b]), _f32(value))
    if not out:
        raise ValueError(f"peft_state holds no LoRA factors of adapter {adapter!r}")
    return out
