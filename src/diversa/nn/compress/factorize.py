"""Low-rank factorisations of linear layers and embedding tables: AFM (output PCA) and weight SVD.

Atomic Feature Mimicking (Yu, Fu, Ding, Zhou, Wu, "Unified Low-rank Compression Framework for
Click-through Rate Prediction", arXiv:2405.18146, KDD 2024; spec ``tabular.md#afm-ctr``) replaces a
layer ``y = W x + b`` by the projection of its outputs onto their top-``k`` principal subspace:
with ``C = U diag(lambda) U^T`` the output covariance over a calibration set and ``mu`` its mean,

    y ~ U_k U_k^T (y - mu) + mu = B(A(x)),   A: W_A = U_k^T W, b_A = U_k^T b,
                                              B: W_B = U_k,     b_B = (I - U_k U_k^T) mu.

Among all rank-``k`` affine reconstructions of ``y`` this minimises the mean squared output error,
which equals the sum of the dropped eigenvalues. An embedding table ``E`` (V, d) becomes
``E' = (E - mu) U_k`` (V, k) with the up-projection ``e ~ U_k e' + mu``, applied to every row, seen
in calibration or not. The weight-SVD baseline truncates ``W = U S V^T`` instead (same shapes, same
parameter count). All functions are pure: tensors in, new tensors out; factors are float64-exact and
returned in the weight's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["afm_factorize_embedding", "afm_factorize_linear", "check_rank", "fuse_embeddings_into_linear",
           "low_rank_linear_parameters", "output_reconstruction_error", "principal_subspace",
           "svd_factorize_embedding", "svd_factorize_linear"]


def check_rank(rank, width: int, what: str = "rank", width_name: str = "the layer width") -> int:
    """``rank`` as an int in ``[1, width]``, else a ValueError naming ``what`` and the width."""
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise TypeError(f"{what} must be an integer, got {type(rank).__name__}.")
    if rank < 1:
        raise ValueError(f"{what} must be >= 1, got {rank}.")
    if rank > width:
        raise ValueError(f"{what} = {rank} exceeds {width_name} ({width}).")
    return rank


def principal_subspace(cov: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``rank`` eigenvectors (d, rank) of a symmetric PSD ``cov`` (d, d) and all eigenvalues (d,),
    both in descending order of eigenvalue (float64)."""
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"cov must be a square matrix, got shape {tuple(cov.shape)}.")
    check_rank(rank, cov.shape[0], width_name="the output dimension")
    eigenvalues, eigenvectors = torch.linalg.eigh(cov.to(torch.float64))
    order = torch.argsort(eigenvalues, descending=True)
    return eigenvectors[:, order[:rank]], eigenvalues[order]


def output_reconstruction_error(cov: torch.Tensor, rank: int) -> float:
    """Mean squared output error of the rank-``rank`` AFM reconstruction on the calibration set:
    the sum of the dropped eigenvalues of ``cov`` (negative round-off clipped to 0)."""
    _, eigenvalues = principal_subspace(cov, rank)
    return float(eigenvalues[rank:].clamp(min=0).sum())


def low_rank_linear_parameters(d_in: int, d_out: int, rank: int) -> int:
    """Parameters of the factorised layer, ``rank (d_in + d_out) + rank + d_out`` (both biases)."""
    return rank * (d_in + d_out) + rank + d_out


def _bias_or_zeros(bias, d_out):
    return torch.zeros(d_out, dtype=torch.float64) if bias is None else bias.to(torch.float64)


def afm_factorize_linear(weight: torch.Tensor, bias: torch.Tensor | None, mean: torch.Tensor, cov: torch.Tensor,
                         rank: int) -> dict[str, torch.Tensor]:
    """AFM factors of ``y = weight x + bias`` (weight (d_out, d_in)) from the output ``mean`` (d_out,)
    and ``cov`` (d_out, d_out): ``{"A.weight" (k, d_in), "A.bias" (k,), "B.weight" (d_out, k),
    "B.bias" (d_out,)}`` with ``B(A(x)) = U_k U_k^T (y - mean) + mean``."""
    d_out, _ = weight.shape
    check_rank(rank, d_out, width_name="the layer's output width d_out")
    if mean.shape != (d_out,) or cov.shape != (d_out, d_out):
        raise ValueError(f"mean and cov must have shapes ({d_out},) and ({d_out}, {d_out}), "
                         f"got {tuple(mean.shape)} and {tuple(cov.shape)}.")
    U, _ = principal_subspace(cov, rank)
    W, b, mu = weight.to(torch.float64), _bias_or_zeros(bias, d_out), mean.to(torch.float64)
    factors = {"A.weight": U.T @ W, "A.bias": U.T @ b, "B.weight": U, "B.bias": mu - U @ (U.T @ mu)}
    return {key: value.to(weight.dtype) for key, value in factors.items()}


def svd_factorize_linear(weight: torch.Tensor, bias: torch.Tensor | None, rank: int) -> dict[str, torch.Tensor]:
    """Truncated weight SVD ``W ~ U_k S_k V_k^T`` split as ``W_A = S_k^{1/2} V_k^T`` (k, d_in),
    ``b_A = 0``, ``W_B = U_k S_k^{1/2}`` (d_out, k), ``b_B = bias``: same keys and shapes as AFM."""
    d_out, d_in = weight.shape
    check_rank(rank, min(d_in, d_out), width_name="min(d_in, d_out) of the layer")
    U, S, Vh = torch.linalg.svd(weight.to(torch.float64), full_matrices=False)
    root = S[:rank].sqrt()
    factors = {"A.weight": root[:, None] * Vh[:rank], "A.bias": torch.zeros(rank, dtype=torch.float64),
               "B.weight": U[:, :rank] * root, "B.bias": _bias_or_zeros(bias, d_out)}
    return {key: value.to(weight.dtype) for key, value in factors.items()}


def afm_factorize_embedding(table: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor,
                            rank: int) -> dict[str, torch.Tensor]:
    """AFM factors of an embedding table (V, d) from the frequency-weighted lookup ``mean`` (d,) and
    ``cov`` (d, d): ``{"table.weight" (V, k) = (E - mean) U_k, "up.weight" (d, k) = U_k,
    "up.bias" (d,) = mean}``; every row is projected, including ids never looked up."""
    _, d = table.shape
    check_rank(rank, d, width_name="the embedding dimension")
    if mean.shape != (d,) or cov.shape != (d, d):
        raise ValueError(f"mean and cov must have shapes ({d},) and ({d}, {d}), "
                         f"got {tuple(mean.shape)} and {tuple(cov.shape)}.")
    U, _ = principal_subspace(cov, rank)
    mu = mean.to(torch.float64)
    factors = {"table.weight": (table.to(torch.float64) - mu) @ U, "up.weight": U, "up.bias": mu}
    return {key: value.to(table.dtype) for key, value in factors.items()}


def svd_factorize_embedding(table: torch.Tensor, rank: int) -> dict[str, torch.Tensor]:
    """Truncated SVD of the table, ``E ~ (U_k S_k) V_k^T`` without centring: same keys and shapes as
    :func:`afm_factorize_embedding` with ``up.bias = 0``. A table with fewer rows than ``rank`` is
    kept exactly, its factors padded with zero columns to the requested shapes."""
    V, d = table.shape
    check_rank(rank, d, width_name="the embedding dimension")
    U, S, Vh = torch.linalg.svd(table.to(torch.float64), full_matrices=False)
    kept = min(rank, S.numel())
    codes, up = torch.zeros(V, rank, dtype=torch.float64), torch.zeros(d, rank, dtype=torch.float64)
    codes[:, :kept], up[:, :kept] = U[:, :kept] * S[:kept], Vh[:kept].T
    factors = {"table.weight": codes, "up.weight": up, "up.bias": torch.zeros(d, dtype=torch.float64)}
    return {key: value.to(table.dtype) for key, value in factors.items()}


def fuse_embeddings_into_linear(weight: torch.Tensor, bias: torch.Tensor | None,
                                blocks: Sequence[tuple[int, int, torch.Tensor, torch.Tensor]]
                                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold up-projections ``e = P c + m`` of input blocks into the linear layer that reads them.

    ``weight`` (d_out, d_in) reads an input whose columns ``[start, stop)`` hold ``e`` for each block
    ``(start, stop, P (stop - start, k), m (stop - start,))``. Returns ``(W', b')`` reading the same
    input with each block replaced by its code ``c`` (k columns, blocks in order, other columns
    unchanged): ``W'_block = W_block P`` and ``b' = b + sum_block W_block m``. This is the paper's
    fusion of compressed embedding tables into the first dense layer.
    """
    d_out, d_in = weight.shape
    W = weight.to(torch.float64)
    b = _bias_or_zeros(bias, d_out).clone()
    pieces, cursor = [], 0
    for start, stop, P, m in sorted(blocks, key=lambda block: block[0]):
        if not (cursor <= start < stop <= d_in) or P.shape[0] != stop - start or m.shape != (stop - start,):
            raise ValueError(f"blocks must be ordered, non-overlapping column ranges within {d_in} columns "
                             f"with P of {stop - start} rows; got ({start}, {stop}) with P {tuple(P.shape)}.")
        pieces += [W[:, cursor:start], W[:, start:stop] @ P.to(torch.float64)]
        b += W[:, start:stop] @ m.to(torch.float64)
        cursor = stop
    pieces.append(W[:, cursor:])
    return torch.cat(pieces, dim=1).to(weight.dtype), b.to(weight.dtype)
