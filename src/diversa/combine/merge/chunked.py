"""Merging one large tensor in row chunks, so that memory is bounded whatever the tensor's size.

The streaming engine (:mod:`diversa.combine.merge.engine`) calls these
functions when a tensor does not fit its memory budget. Each yields the merged
tensor as consecutive row blocks, equal to what the method's pure function
returns on the whole tensor:

* element-wise methods (``weight_average``, ``task_arithmetic``, NearSwap,
  RAM, passthrough) run their pure function on each block of rows;
* TIES-Merging (Yadav et al., arXiv:2306.01708) and magnitude pruning need the
  k-th largest magnitude of each task vector over the whole tensor: it is found
  exactly by a two-pass radix selection over the blocks (a histogram of the top
  16 bits of the float32 magnitudes, then of the low 16 bits inside the chosen
  bin), then trimming, sign election and the disjoint merge run per block, the
  entries tied with the threshold being kept in index order as the pure
  function keeps them; the results are bit-identical;
* DARE (Yu et al., arXiv:2311.03099) draws each model's mask block after block
  from the same seeded generator, which draws the same numbers as one draw of
  the whole tensor; mergekit's L1 rescaling needs the norms of each task vector
  before and after dropping, taken in a first pass over the blocks (so the
  rescaling factor can differ from the whole-tensor one by float32 rounding).

A ``Rows`` reader returns rows ``[start, stop)`` of one input tensor in its
stored dtype. Methods whose statistics are not separable by rows (PCB-Merging,
TIES' ``zero_sign="majority"``, the global-RNG DARE, and the methods whose
angles, variances or norms span the tensor: SLERP and its variants, the
Karcher mean, Model Stock, SCE, DELLA, Model Breadcrumbs, Arcee Fusion's
quartiles, RAM+'s overlap ratios) are not chunked:
:func:`chunkable` says which are.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence

import torch

from diversa.combine.merge.averaging import weight_average
from diversa.combine.merge.dare import _generator, dare_merging
from diversa.combine.merge.keys import _f32, _fraction, _weights
from diversa.combine.merge.magnitude_prune import magnitude_prune_merging
from diversa.combine.merge.nearswap import nearswap
from diversa.combine.merge.passthrough import passthrough
from diversa.combine.merge.ram import ram_merging
from diversa.combine.merge.task_arithmetic import task_arithmetic
from diversa.combine.merge.ties import _merge_stacked, ties_merging

__all__ = ["chunkable", "kth_largest", "merge_rows", "working_bytes_per_element"]

Rows = Callable[[int, int], torch.Tensor]

_ELEMENTWISE = (weight_average, task_arithmetic, nearswap, ram_merging, passthrough)
_NO_BASE = (weight_average, passthrough)


def chunkable(function: Callable, kwargs: dict) -> bool:
    """Whether ``function`` with these arguments can be merged in row chunks."""
    if function in _ELEMENTWISE or function is magnitude_prune_merging:
        return True
    if function is ties_merging:
        return kwargs.get("zero_sign", "positive") == "positive" and kwargs.get("scope", "tensor") == "tensor"
    if function is dare_merging:
        ties_ok = kwargs.get("combine") != "ties" or kwargs.get("zero_sign", "positive") == "positive"
        return ties_ok and kwargs.get("random_state") is not None
    return False


def working_bytes_per_element(function: Callable, n_models: int) -> int:
    """Float32 working memory per tensor entry of a chunked merge, besides the inputs' own blocks.

    Counted from the temporaries the computations hold at once (stacked task
    vectors, masks, accumulators) with a margin; measured peak memory stays
    below it (``benchmarks/bench_merge.py``).
    """
    if function is ram_merging:  # n task vectors, their kept copies and products, masks, an int64 count
        return 20 * n_models + 48
    if function in _ELEMENTWISE:
        return 32
    if function is magnitude_prune_merging:
        return 40
    return 5 * n_models + 56  # TIES / DARE: the stack of n task vectors, the agreement mask, temporaries


def kth_largest(blocks: Callable[[], Iterator[torch.Tensor]], k: int) -> tuple[torch.Tensor, int]:
    """The k-th largest of non-negative float32 values given as blocks, and how many values exceed it.

    ``blocks()`` must yield the same values (in any blocking) each time it is
    called; it is called twice. The bit pattern of a non-negative float32 is
    ordered like its value, so a 16-bit radix histogram of the high half
    finds the bin holding the k-th largest and a second one of the low half
    inside that bin finds the value itself. Exact; memory is two histograms.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    high = torch.zeros(1 << 16, dtype=torch.int64)
    for block in blocks():
        high += torch.bincount(block.reshape(-1).view(torch.int32) >> 16, minlength=1 << 16)
    top_down = high.flip(0).cumsum(0)
    if int(top_down[-1]) < k:
        raise ValueError(f"k={k} exceeds the number of values {int(top_down[-1])}")
    j = int(torch.searchsorted(top_down, k))
    bin_high = (1 << 16) - 1 - j
    above = int(top_down[j - 1]) if j else 0
    low = torch.zeros(1 << 16, dtype=torch.int64)
    for block in blocks():
        bits = block.reshape(-1).view(torch.int32)
        low += torch.bincount(bits[(bits >> 16) == bin_high] & 0xFFFF, minlength=1 << 16)
    top_down = low.flip(0).cumsum(0)
    j = int(torch.searchsorted(top_down, k - above))
    bin_low = (1 << 16) - 1 - j
    greater = above + (int(top_down[j - 1]) if j else 0)
    threshold = torch.tensor([(bin_high << 16) | bin_low], dtype=torch.int32).view(torch.float32)[0]
    return threshold, greater


def _blocks(n_rows: int, rows_per_chunk: int) -> list[tuple[int, int]]:
    step = max(1, int(rows_per_chunk))
    return [(start, min(start + step, n_rows)) for start in range(0, n_rows, step)] or [(0, 0)]


class _Trim:
    """Top-``density`` magnitude trim of one task vector, applied block by block in index order."""

    def __init__(self, delta_blocks: Callable[[], Iterator[torch.Tensor]], numel: int, density: float,
                 convention: str):
        self.keep_all = density >= 1.0
        k = int(density * numel)
        if k == 0 and density > 0 and numel > 0 and convention == "mergekit":
            warnings.warn(f"density {density} keeps no entry of a tensor of {numel} entries; keeping 1 "
                          "(mergekit convention)", RuntimeWarning, stacklevel=4)
            k = 1
        self.keep_none = not self.keep_all and k <= 0
        self.keep_all = self.keep_all or k >= numel
        if not (self.keep_all or self.keep_none):
            self.threshold, greater = kth_largest(lambda: (d.abs() for d in delta_blocks()), k)
            self.ties_left = k - greater

    def __call__(self, delta: torch.Tensor) -> torch.Tensor:
        if self.keep_all:
            return delta
        if self.keep_none:
            return torch.zeros_like(delta)
        magnitude = delta.abs()
        keep = magnitude > self.threshold
        tied = torch.nonzero((magnitude == self.threshold).reshape(-1)).reshape(-1)
        used = min(self.ties_left, tied.numel())
        keep.reshape(-1)[tied[:used]] = True
        self.ties_left -= used
        return torch.where(keep, delta, torch.zeros_like(delta))


def merge_rows(function: Callable, kwargs: dict, key: str, base: Rows | None, models: Sequence[Rows],
               shape: Sequence[int], rows_per_chunk: int) -> Iterator[torch.Tensor]:
    """The merged tensor ``key`` (float32) as consecutive blocks of at most ``rows_per_chunk`` rows.

    ``function`` is the method's pure function and ``kwargs`` its arguments
    (see :func:`chunkable`); ``base`` and ``models`` read rows of the inputs;
    ``shape`` is the tensor's shape (a 0-d tensor is one block).
    """
    n_rows = shape[0] if len(shape) else 1
    blocks = _blocks(n_rows, rows_per_chunk)
    read = (lambda rows, a, b: rows(a, b)) if len(shape) else (lambda rows, a, b: rows(0, 1))

    def delta_blocks(t: int) -> Callable[[], Iterator[torch.Tensor]]:
        return lambda: (_f32(read(models[t], a, b)) - _f32(read(base, a, b)) for a, b in blocks)

    if function in _ELEMENTWISE:
        for a, b in blocks:
            model_sds = [{key: read(m, a, b)} for m in models]
            if function in _NO_BASE:
                chunk = function(model_sds, keys=[key], **kwargs)
            else:
                chunk = function({key: read(base, a, b)}, model_sds, keys=[key], **kwargs)
            yield _f32(chunk[key])
        return
    if function is ties_merging:
        yield from _ties_rows(kwargs, base, models, blocks, read, delta_blocks, _numel(shape))
        return
    if function is magnitude_prune_merging:
        dens = _weights(kwargs["density"], len(models), "density")
        w = _weights(kwargs.get("weights"), len(models), "weights")
        trims = [_Trim(delta_blocks(t), _numel(shape), _fraction(d, "density"), "peft") for t, d in enumerate(dens)]
        for a, b in blocks:
            acc = _f32(read(base, a, b)).clone()
            for t, wt in enumerate(w):
                acc += wt * trims[t](_f32(read(models[t], a, b)) - _f32(read(base, a, b)))
            yield acc
        return
    if function is dare_merging:
        yield from _dare_rows(kwargs, key, base, models, blocks, read, len(shape))
        return
    raise ValueError(f"{getattr(function, '__name__', function)!r} cannot be merged in row chunks")


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _ties_rows(kwargs, base, models, blocks, read, delta_blocks, numel):
    n = len(models)
    dens = _weights(kwargs.get("density", 0.2), n, "density")
    w = _weights(kwargs.get("weights"), n, "weights")
    convention = kwargs.get("convention", "peft")
    trims = [_Trim(delta_blocks(t), numel, _fraction(d, "density"), convention) for t, d in enumerate(dens)]
    scaling = float(kwargs.get("scaling", 1.0))
    for a, b in blocks:
        b_rows = _f32(read(base, a, b))
        stacked = torch.empty((n,) + tuple(b_rows.shape), dtype=torch.float32)
        for t in range(n):
            stacked[t] = trims[t](_f32(read(models[t], a, b)) - b_rows)
        tau_m = _merge_stacked(stacked, w, kwargs.get("sign_method", "sum"), "positive", convention,
                               kwargs.get("normalize", True))
        yield tau_m.mul_(scaling).add_(b_rows)


def _dare_rows(kwargs, key, base, models, blocks, read, ndim):
    n = len(models)
    drops = _weights(kwargs.get("drop_rate", 0.9), n, "drop_rate")
    w = _weights(kwargs.get("weights"), n, "weights")
    rescale = kwargs.get("rescale", "inverse")
    combine = kwargs.get("combine", "task_arithmetic")
    convention = kwargs.get("convention", "peft")
    normalize = kwargs.get("normalize")
    if normalize is None:
        normalize = combine == "ties" and convention == "peft"
    random_state = kwargs["random_state"]
    unmasked = kwargs.get("skip_1d", False) and ndim <= 1
    densities = [1.0 - _fraction(d, "drop_rate", high_open=True) for d in drops]

    def masks():  # fresh generators: each pass draws the same masks
        return [None if unmasked or d >= 1.0 else _generator(random_state, key, t) for t, d in enumerate(densities)]

    def dropped(t, tau, generators):
        if generators[t] is None:
            return tau
        return tau * torch.bernoulli(torch.full_like(tau, densities[t]), generator=generators[t])

    ratios: list[torch.Tensor | None] = [None] * n  # mergekit's L1 rescaling: ||tau||_1 / ||m * tau||_1
    if rescale == "l1":
        generators = masks()
        before, after = [0.0] * n, [0.0] * n
        for a, b in blocks:
            b_rows = _f32(read(base, a, b))
            for t in range(n):
                tau = _f32(read(models[t], a, b)) - b_rows
                before[t] += float(tau.abs().sum(dtype=torch.float64))
                after[t] += float(dropped(t, tau, generators).abs().sum(dtype=torch.float64))
        ratios = [None if x < 1e-7 or y < 1e-7 else torch.tensor(x, dtype=torch.float32) / y
                  for x, y in zip(before, after)]

    def rescaled(t, masked):
        if rescale == "inverse":
            return masked / densities[t]
        if rescale == "l1" and ratios[t] is not None:
            return masked * ratios[t]
        return masked

    generators = masks()
    scaling = float(kwargs.get("scaling", 1.0))
    for a, b in blocks:
        b_rows = _f32(read(base, a, b))
        taus = []
        for t in range(n):
            tau = _f32(read(models[t], a, b)) - b_rows
            taus.append(tau if generators[t] is None else rescaled(t, dropped(t, tau, generators)))
        if combine == "ties":
            tau_m = _merge_stacked(torch.stack(taus), w, kwargs.get("sign_method", "sum"), "positive", convention,
                                   normalize)
        else:
            tau_m = sum(wt * x for wt, x in zip(w, taus))
            if normalize:
                tau_m = tau_m / sum(w)
        yield b_rows + scaling * tau_m
