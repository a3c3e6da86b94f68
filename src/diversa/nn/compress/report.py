"""AUC against model size: sweep the compression rank and score every compressed model.

The deliverable the paper's tables stand for (Yu, Fu, Ding, Zhou, Wu, arXiv:2405.18146, KDD 2024):
for a trained binary classifier (a CTR model), how much ranking quality does each size keep, with
AFM and with weight SVD? :func:`size_report` collects the output statistics once, compresses at each
rank with each method, and returns a table of (method, rank, parameters, AUC) with the uncompressed
model as the first row; :func:`plot_size_report` draws it with matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from diversa.nn.compress.model import METHODS, compress_from_stats, count_parameters
from diversa.nn.compress.stats import call_model, collect_output_stats, iter_batches

__all__ = ["layer_output_errors", "plot_size_report", "predict_scores", "size_report"]


def predict_scores(model: nn.Module, inputs, *, batch_size: int = 4096, forward: Callable | None = None) -> np.ndarray:
    """One score per row (a logit or a probability; AUC only needs the order), shape (n,), eval mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = [(forward or call_model)(model, batch) for batch in iter_batches(inputs, batch_size)]
    finally:
        model.train(was_training)
    scores = torch.cat([out.reshape(len(out), -1) for out in outputs])
    if scores.shape[1] != 1:
        raise ValueError(f"model must give one score per row, got {scores.shape[1]} per row.")
    return scores[:, 0].double().numpy()


def _max_rank(module: nn.Module, method: str) -> int:
    if isinstance(module, nn.Embedding):
        return module.embedding_dim
    return module.out_features if method == "afm" else min(module.out_features, module.in_features)


def size_report(model: nn.Module, calibration, eval_inputs, y_eval, layers: Sequence[str], ranks: Sequence[int],
                methods: Sequence[str] = METHODS, *, activation: str | None = None, fuse: bool = True,
                batch_size: int = 4096, forward: Callable | None = None) -> pd.DataFrame:
    """Test AUC and parameter count of ``model`` compressed at each rank of ``ranks``, per method.

    Every layer in ``layers`` gets the same rank, clipped to what the layer allows (its output width
    for AFM, ``min(d_in, d_out)`` for SVD). ``eval_inputs``/``y_eval`` (n,) are the held-out rows.
    Returns a DataFrame with columns ``method``, ``rank``, ``params``, ``auc``; the first row is the
    original model (method ``"original"``, rank ``<NA>``).
    """
    if not layers:
        raise ValueError("layers must name at least one layer.")
    if not ranks or any(isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1 for r in ranks):
        raise ValueError(f"ranks must be a non-empty list of integers >= 1, got {ranks!r}.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods!r}.")
    y = np.asarray(y_eval)
    score = lambda m: float(roc_auc_score(y, predict_scores(m, eval_inputs, batch_size=batch_size, forward=forward)))  # noqa: E731
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise ValueError(f"layers: no module named {missing} in the model.")
    rows = [{"method": "original", "rank": pd.NA, "params": count_parameters(model), "auc": score(model)}]
    stats = None
    if "afm" in methods:
        stats = collect_output_stats(model, calibration, list(layers), batch_size=batch_size, forward=forward)
    for method in methods:
        for rank in ranks:
            plan = {name: min(int(rank), _max_rank(modules[name], method)) for name in layers}
            small = compress_from_stats(model, stats, plan, method, activation=activation, fuse=fuse)
            rows.append({"method": method, "rank": int(rank), "params": count_parameters(small), "auc": score(small)})
    return pd.DataFrame(rows).astype({"rank": "Int64"})


def plot_size_report(table: pd.DataFrame, ax=None):
    """Plot AUC against parameters, one line per method and a dashed line for the original model.

    Needs matplotlib; returns the axes.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - matplotlib is a dependency, but may be stripped
        raise ImportError("plot_size_report needs matplotlib (pip install matplotlib).") from error
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for method, rows in table[table["method"] != "original"].groupby("method", sort=False):
        rows = rows.sort_values("params")
        ax.plot(rows["params"], rows["auc"], marker="o", label=method)
    original = table[table["method"] == "original"]
    if len(original):
        ax.axhline(float(original["auc"].iloc[0]), color="grey", linestyle="--", label="original")
    ax.set_xlabel("parameters")
    ax.set_ylabel("AUC")
    ax.legend()
    return ax


def layer_output_errors(original: nn.Module, compressed: nn.Module, inputs, layer_names: Sequence[str], *,
                        batch_size: int = 4096, forward: Callable | None = None) -> dict[str, float]:
    """Relative output error of each compressed layer on its ORIGINAL inputs (held-out rows).

    For each name, the original model's layer input and output ``y`` are captured while
    ``original`` runs over ``inputs``; the compressed model's module of the same name is applied to
    the same input, giving ``y_hat``. Returns ``{name: sum ||y - y_hat||^2 / sum ||y - mean(y)||^2}``:
    0 is exact, 1 is no better than predicting the mean output. Compare layers whose input the
    compression leaves unchanged (not a first layer with fused embeddings, whose input shrinks).
    """
    modules, twins = dict(original.named_modules()), dict(compressed.named_modules())
    missing = [name for name in layer_names if name not in modules or name not in twins]
    if missing:
        raise ValueError(f"layer_names: {missing} are not modules of both models.")

    def hook(name):
        def capture(_module, args, output):
            y = output.detach().reshape(-1, output.shape[-1]).double()
            y_hat = twins[name](args[0]).detach().reshape(-1, output.shape[-1]).double()
            captured[name].append((y, y_hat))
        return capture

    captured = {name: [] for name in layer_names}
    handles = [modules[name].register_forward_hook(hook(name)) for name in layer_names]
    try:
        predict_scores(original, inputs, batch_size=batch_size, forward=forward)
    finally:
        for handle in handles:
            handle.remove()
    errors = {}
    for name in layer_names:
        y = torch.cat([pair[0] for pair in captured[name]])
        y_hat = torch.cat([pair[1] for pair in captured[name]])
        spread = float(((y - y.mean(0)) ** 2).sum())
        errors[name] = float(((y - y_hat) ** 2).sum()) / spread if spread > 0 else float(((y - y_hat) ** 2).sum())
    return errors
