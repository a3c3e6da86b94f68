"""Training the mask network: per-pixel sigmoid cross-entropy (or MSE), Adam, best-validation weights.

Lin, Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278. The paper's loss is the mean sigmoid cross-entropy over
every pixel of a patch against the (smoothed) ideal binary mask, optimised by
Adam, keeping the weights of the epoch with the lowest validation loss; the
same loop first pretrains the network as an autoencoder of voice
spectrograms. The regression baseline the paper argues against uses the
same network with a sigmoid output and mean squared error against the ideal
ratio mask.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LOSSES", "mask_loss", "train_mask_network"]

#: ``"bce"``: sigmoid cross-entropy on the logits (the paper); ``"mse"``: squared error of sigmoid(logits).
LOSSES = ("bce", "mse")


def mask_loss(logits: Tensor, target: Tensor, loss: str = "bce") -> Tensor:
    """Mean per-pixel loss of ``logits`` against ``target`` in [0, 1] (same shape)."""
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if loss == "mse":
        return F.mse_loss(torch.sigmoid(logits), target)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")


@torch.no_grad()
def _mean_loss(model: nn.Module, inputs: Tensor, targets: Tensor, loss: str, batch_size: int) -> float:
    model.eval()
    total = 0.0
    for start in range(0, len(inputs), batch_size):
        xb, yb = inputs[start:start + batch_size], targets[start:start + batch_size]
        total += float(mask_loss(model(xb), yb, loss)) * len(xb)
    return total / len(inputs)


def train_mask_network(model: nn.Module, inputs: Tensor, targets: Tensor, *, loss: str = "bce", epochs: int = 12,
                       lr: float = 1e-3, batch_size: int = 64, generator: torch.Generator | None = None,
                       val: tuple[Tensor, Tensor] | None = None) -> dict:
    """Train ``model`` in place on patches ``inputs (N, context, F)`` -> ``targets (N, context, F)``.

    Adam at ``lr``, shuffled mini-batches of ``batch_size`` (order drawn from ``generator``),
    ``epochs`` passes. With ``val = (inputs, targets)`` the weights of the epoch with the lowest
    validation loss are restored at the end. Returns ``{"loss": [per-epoch mean training loss],
    "val_loss": [...], "best_epoch": int or None}``; the model is left in eval mode.
    """
    if inputs.shape != targets.shape or inputs.ndim != 3 or len(inputs) == 0:
        raise ValueError(f"inputs and targets must be matching (N, context, F) tensors with N >= 1, "
                         f"got {tuple(inputs.shape)} and {tuple(targets.shape)}.")
    mask_loss(inputs[:1], targets[:1], loss)   # the loss name is checked before any step
    # foreach: one fused update over all tensors, the same numbers as the per-tensor loop but faster on CPU
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    history = {"loss": [], "val_loss": [], "best_epoch": None}
    best, best_state = float("inf"), None
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for idx in order.split(batch_size):
            value = mask_loss(model(inputs[idx]), targets[idx], loss)
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
            total += float(value.detach()) * len(idx)
        history["loss"].append(total / len(inputs))
        if val is not None:
            current = _mean_loss(model, val[0], val[1], loss, 4 * batch_size)
            history["val_loss"].append(current)
            if current < best:
                best, best_state, history["best_epoch"] = current, copy.deepcopy(model.state_dict()), epoch
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
