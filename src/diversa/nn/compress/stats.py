"""Output statistics of layers over a calibration set: the input of Atomic Feature Mimicking.

AFM (Yu, Fu, Ding, Zhou, Wu, arXiv:2405.18146, KDD 2024; spec ``tabular.md#afm-ctr``) compresses a
layer by the principal subspace of its OUTPUTS, so the only thing it needs from the data is each
layer's output mean and covariance. :class:`OutputStats` accumulates count, sum and second moment in
float64 (``M / n - mu mu^T`` loses precision in float32 over 1e5 rows); :func:`collect_output_stats`
fills one per layer with forward hooks while the model runs in eval mode over the calibration data.
A ``nn.Linear`` contributes its output before any activation (the module's own output); an
``nn.Embedding`` contributes the rows it looked up, so frequent ids weigh as often as they occur.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

__all__ = ["OutputStats", "collect_output_stats", "iter_batches"]


class OutputStats:
    """Running count, mean and population covariance of ``d``-dimensional outputs (float64).

    ``update(y)`` takes any tensor whose last axis has size ``d`` (leading axes are rows).
    """

    def __init__(self, dim: int):
        if not (isinstance(dim, int) and dim >= 1):
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}.")
        self.dim = dim
        self.count = 0
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.second_moment = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, y: torch.Tensor) -> "OutputStats":
        """Add the rows of ``y`` (shape (..., d)); returns self."""
        if y.shape[-1] != self.dim:
            raise ValueError(f"y must have last dimension {self.dim}, got shape {tuple(y.shape)}.")
        rows = y.detach().reshape(-1, self.dim).to(torch.float64)
        self.count += rows.shape[0]
        self.sum += rows.sum(0)
        self.second_moment += rows.T @ rows
        return self

    def _check_count(self):
        if self.count < 2:
            raise ValueError(f"calibration must provide at least 2 rows per layer, got {self.count}.")

    @property
    def mean(self) -> torch.Tensor:
        """Mean output, shape (d,)."""
        self._check_count()
        return self.sum / self.count

    @property
    def cov(self) -> torch.Tensor:
        """Population covariance ``M / n - mu mu^T``, shape (d, d), symmetrised."""
        mu = self.mean
        cov = self.second_moment / self.count - torch.outer(mu, mu)
        return 0.5 * (cov + cov.T)


def iter_batches(calibration, batch_size: int = 4096) -> Iterator:
    """Batches of a calibration set: a tensor or a tuple/list of same-length tensors is cut into
    ``batch_size`` rows (a tuple stays a tuple); anything else is iterated as given (a DataLoader)."""
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    if isinstance(calibration, torch.Tensor):
        yield from torch.split(calibration, batch_size)
        return
    if isinstance(calibration, (tuple, list)) and calibration and all(
            isinstance(t, torch.Tensor) for t in calibration):
        lengths = {len(t) for t in calibration}
        if len(lengths) != 1:
            raise ValueError(f"calibration tensors must have the same number of rows, got {sorted(lengths)}.")
        for start in range(0, lengths.pop(), batch_size):
            yield tuple(t[start:start + batch_size] for t in calibration)
        return
    if not isinstance(calibration, Iterable):
        raise TypeError(f"calibration must be a tensor, a tuple of tensors or an iterable of batches, "
                        f"got {type(calibration).__name__}.")
    yield from calibration


def call_model(model: nn.Module, batch):
    """``model(*batch)`` for a tuple/list batch, ``model(batch)`` otherwise."""
    return model(*batch) if isinstance(batch, (tuple, list)) else model(batch)


def _output_dim(module: nn.Module, name: str) -> int:
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, nn.Embedding):
        return module.embedding_dim
    raise TypeError(f"layer {name!r} must be an nn.Linear or nn.Embedding, got {type(module).__name__}.")


def _recorder(stats: OutputStats):
    def record(_module, _inputs, output):
        stats.update(output)  # returns None: the module's output passes through unchanged

    return record


def collect_output_stats(model: nn.Module, calibration, layer_names: Sequence[str], *, batch_size: int = 4096,
                         forward: Callable | None = None) -> dict[str, OutputStats]:
    """Run ``model`` in eval mode over ``calibration`` and accumulate the outputs of ``layer_names``.

    ``calibration``: see :func:`iter_batches`; each batch goes through ``forward(model, batch)``
    (default :func:`call_model`). Returns ``{name: OutputStats}``; the model's mode is restored.
    """
    modules = dict(model.named_modules())
    unknown = [name for name in layer_names if name not in modules]
    if unknown:
        raise ValueError(f"layer_names: no module named {unknown} in the model.")
    stats = {name: OutputStats(_output_dim(modules[name], name)) for name in layer_names}
    handles = [modules[name].register_forward_hook(_recorder(stats[name])) for name in layer_names]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in iter_batches(calibration, batch_size):
                (forward or call_model)(model, batch)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    for s in stats.values():
        s._check_count()
    return stats
