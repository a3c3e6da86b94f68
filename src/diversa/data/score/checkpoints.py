"""Record checkpoints of any torch classifier and compute influence / difficulty scores from them.

Anand, Tan and Minakova, "Influence Scores at Scale for Efficient Language Data Sampling",
EMNLP 2023 (arXiv:2311.16298) score a training set from the artifacts of training runs. Here a
:class:`Checkpoints` recorder snapshots a model's parameters inside the user's own training loop
(every ``every`` calls of :meth:`Checkpoints.step`, or on :meth:`Checkpoints.save`, e.g. at each
epoch end; optionally to a folder), and these functions replay the snapshots on the training
examples:

* :func:`logits_over_checkpoints` -> EL2N, AUM, forgetting events (``correct`` matrix);
* :func:`vog_from_checkpoints`: VoG, gradients of the true-label logit with respect to the
  output of an input layer (the embedding), accumulated online (Welford) over checkpoints;
* :func:`grand_from_checkpoints`: GraNd, the mean over checkpoints of the per-example loss
  gradient norm (Paul et al., NeurIPS 2021);
* :func:`tracin_self_influence`: TracIn self-influence (Pruthi et al., NeurIPS 2020),
  ``sum_c lr_c ||grad_w loss(w_c, z)||^2`` with ``w`` optionally one layer's parameters.

The model must treat the examples of a batch independently (no batch norm in training mode);
it is put in ``eval()`` mode while scoring and its own parameters are restored afterwards.

>>> import torch
>>> from torch import nn
>>> from diversa.data.score import Checkpoints, tracin_self_influence
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
>>> X, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
>>> ckpts = Checkpoints(model, every=5)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> for _ in range(10):
...     opt.zero_grad(); nn.functional.cross_entropy(model(X), y).backward(); opt.step()
...     ckpts.step(lr=0.1)
>>> len(ckpts), tracin_self_influence(model, ckpts, X, y).shape
(2, (8,))
"""

from __future__ import annotations

import contextlib
import numbers
from pathlib import Path

import numpy as np

from diversa.data.score._checks import check_choice, check_labels
from diversa.data.score.dynamics import normalize_vog, reduce_variance

__all__ = ["Checkpoints", "grand_from_checkpoints", "logits_over_checkpoints", "per_example_grad_sq_norms",
           "scores_from_outputs", "tracin_self_influence", "vog_from_checkpoints", "write_outputs"]

_FILE = "checkpoint_{:05d}.pt"


class Checkpoints:
    """Snapshots of a model's parameters during training, in memory or in a folder.

    ``model``: the ``torch.nn.Module`` being trained. ``every``: take a snapshot at every
    ``every``-th call of :meth:`step` (None: only explicit :meth:`save` calls). ``folder``: write
    each snapshot there as ``checkpoint_NNNNN.pt`` (``{"state": state_dict, "step": int, "lr":
    float | None}``) instead of keeping it in memory. Iterating yields the state dicts in order;
    :attr:`steps` and :attr:`lrs` give each snapshot's step and learning rate.
    """

    def __init__(self, model=None, *, every: int | None = None, folder=None):
        if every is not None and (isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1):
            raise ValueError(f"every must be None or an int >= 1, got {every!r}")
        self.model, self.every = model, every
        self.folder = None if folder is None else Path(folder)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self._entries: list = []
        self.steps: list[int] = []
        self.lrs: list[float | None] = []
        self.n_steps = 0

    def step(self, lr: float | None = None) -> None:
        """Count one optimisation step; snapshot the model when the count reaches a multiple of ``every``."""
        self.n_steps += 1
        if self.every is not None and self.n_steps % self.every == 0:
            self.save(lr=lr)

    def save(self, lr: float | None = None) -> None:
        """Snapshot the model now (``lr``: the learning rate in use, for TracIn)."""
        if self.model is None:
            raise ValueError("these checkpoints were loaded from a folder: there is no model to snapshot")
        import torch

        state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        if self.folder is None:
            self._entries.append(state)
        else:
            path = self.folder / _FILE.format(len(self._entries))
            torch.save({"state": state, "step": self.n_steps, "lr": lr}, path)
            self._entries.append(path)
        self.steps.append(self.n_steps)
        self.lrs.append(None if lr is None else float(lr))

    @classmethod
    def from_folder(cls, folder) -> Checkpoints:
        """The checkpoints a recorder wrote to ``folder`` (or any ``*.pt`` state dicts there, in name order)."""
        import torch

        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"folder {str(folder)!r} is not a directory")
        files = sorted(folder.glob("*.pt"))
        if not files:
            raise ValueError(f"folder {str(folder)!r} holds no checkpoint files (*.pt)")
        out = cls()
        for path in files:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            wrapped = isinstance(blob, dict) and "state" in blob
            out._entries.append(path)
            out.steps.append(int(blob.get("step", len(out.steps))) if wrapped else len(out.steps))
            lr = blob.get("lr") if wrapped else None
            out.lrs.append(None if lr is None else float(lr))
        return out

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, i: int) -> dict:
        entry = self._entries[i]
        if isinstance(entry, dict):
            return entry
        import torch

        blob = torch.load(entry, map_location="cpu", weights_only=True)
        return blob["state"] if isinstance(blob, dict) and "state" in blob else blob

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _check_checkpoints(checkpoints, minimum: int = 1) -> list:
    if isinstance(checkpoints, Checkpoints):
        states = list(range(len(checkpoints)))
    else:
        checkpoints = list(checkpoints)
        states = list(range(len(checkpoints)))
    if len(states) < minimum:
        raise ValueError(f"checkpoints must hold at least {minimum} snapshot(s), got {len(states)}")
    return checkpoints


@contextlib.contextmanager
def _at_checkpoints(model, checkpoints):
    """Yield the model loaded with each checkpoint in turn (eval mode); restore it afterwards."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.eval()

    def states():
        for i in range(len(checkpoints)):
            model.load_state_dict(checkpoints[i])
            yield i

    try:
        yield states()
    finally:
        model.load_state_dict(saved)
        model.train(was_training)


def _as_inputs(X, y=None, n_classes: int | None = None):
    import torch

    X = torch.as_tensor(X)
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"X must hold at least one example along its first axis, got shape {tuple(X.shape)}")
    if y is None:
        return X, None
    labels = check_labels(np.asarray(y.cpu() if hasattr(y, "cpu") else y), X.shape[0], n_classes, name="y")
    return X, torch.as_tensor(labels, dtype=torch.long)


def _batches(n: int, batch_size: int):
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def logits_over_checkpoints(model, checkpoints, X, *, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs on ``X`` at every checkpoint: float ``(Nc, n, C)``.

    From them: ``softmax`` -> :func:`~diversa.data.score.el2n_scores`; the logits themselves ->
    :func:`~diversa.data.score.aum_scores`; ``argmax == y`` -> ``correct`` for
    :func:`~diversa.data.score.forgetting_scores`.
    """
    import torch

    checkpoints = _check_checkpoints(checkpoints)
    X, _ = _as_inputs(X)
    out = []
    with _at_checkpoints(model, checkpoints) as states, torch.no_grad():
        for _ in states:
            out.append(torch.cat([model(X[b]) for b in _batches(len(X), batch_size)]).double().numpy())
    return np.stack(out)


def vog_from_checkpoints(model, checkpoints, X, y, *, layer, mask=None, normalize: str | None = "class",
                         sqrt: bool = False, target: str = "logit", batch_size: int = 1024) -> np.ndarray:
    """VoG over checkpoints, with gradients taken w.r.t. the output of ``layer`` (the input embedding).

    At each checkpoint, the gradient of every example's logit at its label ``y`` with respect to
    ``layer``'s output ``(n, ...)``; element-wise variance over checkpoints accumulated online
    (Welford), then :func:`~diversa.data.score.vog_scores`'s reduction (``mask`` ``(n, L)``
    marks real positions, e.g. ``X != pad_id``) and normalisation. Needs >= 2 checkpoints.
    ``target="probability"`` differentiates the softmax probability of the label instead of its
    logit, as the VoG authors' toy script does (for a linear model the logit's input gradient is
    the same for every example). ``layer`` may be an ``nn.Identity`` in front of the model for
    gradients w.r.t. the raw input.
    """
    check_choice(target, ("logit", "probability"), "target")
    checkpoints = _check_checkpoints(checkpoints, minimum=2)
    _, Y = _as_inputs(X, y)
    variance = _welford_variance(_input_grads(model, checkpoints, X, y, layer, batch_size, target))
    return normalize_vog(reduce_variance(variance, mask, sqrt=sqrt), Y.numpy(), normalize)


def _welford_variance(arrays) -> np.ndarray:
    """Element-wise population variance of equally shaped arrays, accumulated one at a time (Welford)."""
    mean = m2 = None
    count = 0
    for count, g in enumerate(arrays, start=1):
        if mean is None:
            mean, m2 = np.zeros_like(g), np.zeros_like(g)
        elif g.shape != mean.shape:
            raise ValueError(f"gradient arrays differ in shape: {g.shape} after {mean.shape}")
        delta = g - mean
        mean += delta / count
        m2 += delta * (g - mean)
    return m2 / count


def _named_params(model, params) -> list[str]:
    names = [name for name, _ in model.named_parameters()]
    if params is None:
        return names
    if hasattr(params, "named_parameters"):  # a sub-module of the model
        ids = {id(p) for p in params.parameters()}
        chosen = [name for name, p in model.named_parameters() if id(p) in ids]
        if not chosen:
            raise ValueError("params: the given module holds none of the model's parameters")
        return chosen
    chosen = [params] if isinstance(params, str) else list(params)
    unknown = sorted(set(chosen) - set(names))
    if unknown or not chosen:
        raise ValueError(f"params: unknown parameter name(s) {unknown}; the model has {names}")
    return chosen


def per_example_grad_sq_norms(model, X, y, *, params=None, batch_size: int = 256) -> np.ndarray:
    """``||grad_w loss(w, (x_i, y_i))||^2`` for every example at the model's current weights: ``(n,)``.

    Cross-entropy of the logits; ``w`` = the parameters named in ``params`` (a list of names, a
    sub-module of ``model``, or None for all). Per-example gradients with ``torch.func`` (vmap).
    """
    import torch
    from torch.func import functional_call, grad, vmap

    X, Y = _as_inputs(X, y)
    chosen = _named_params(model, params)
    full = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    fixed = {k: v.detach() for k, v in full.items() if k not in chosen}
    free = {k: full[k].detach() for k in chosen}

    def loss_one(p, x, t):
        out = functional_call(model, {**fixed, **p}, (x.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(out, t.unsqueeze(0))

    per_example = vmap(grad(loss_one), in_dims=(None, 0, 0))
    out = []
    for b in _batches(len(X), batch_size):
        grads = per_example(free, X[b], Y[b])
        out.append(sum(g.reshape(g.shape[0], -1).double().pow(2).sum(1) for g in grads.values()).numpy())
    return np.concatenate(out)


def grand_from_checkpoints(model, checkpoints, X, y, *, params=None, batch_size: int = 256) -> np.ndarray:
    """GraNd: the mean over checkpoints of ``||grad_w loss||_2`` per example. Low = easy. ``(n,)``."""
    checkpoints = _check_checkpoints(checkpoints)
    with _at_checkpoints(model, checkpoints) as states:
        norms = [np.sqrt(per_example_grad_sq_norms(model, X, y, params=params, batch_size=batch_size))
                 for _ in states]
    return np.mean(norms, axis=0)


def tracin_self_influence(model, checkpoints, X, y, *, params=None, lrs=None, batch_size: int = 256) -> np.ndarray:
    """TracIn self-influence ``sum_c lr_c ||grad_w loss(w_c, z_i)||^2``. Low = easy. ``(n,)``.

    ``lrs``: one learning rate per checkpoint; default the rates the :class:`Checkpoints`
    recorded, or 1 for every checkpoint when none were (a constant rate only rescales the
    scores). ``params``: the weights ``w`` (names or a sub-module; the paper found the last
    encoder layer more useful than the classifier head).
    """
    checkpoints = _check_checkpoints(checkpoints)
    nc = len(checkpoints)
    if lrs is None:
        recorded = getattr(checkpoints, "lrs", [None] * nc)
        lrs = [1.0 if lr is None else lr for lr in recorded]
    lrs = np.asarray(lrs, dtype=np.float64)
    if lrs.shape != (nc,) or not np.isfinite(lrs).all() or np.any(lrs < 0):
        raise ValueError(f"lrs must be {nc} finite, non-negative learning rates (one per checkpoint), got {lrs}")
    total = None
    with _at_checkpoints(model, checkpoints) as states:
        for i in states:
            sq = lrs[i] * per_example_grad_sq_norms(model, X, y, params=params, batch_size=batch_size)
            total = sq if total is None else total + sq
    return total


_OUTPUTS = "outputs_{:05d}.npz"


def write_outputs(model, checkpoints, X, folder, *, y=None, layer=None, mask=None, batch_size: int = 1024) -> list[Path]:
    """Replay ``checkpoints`` on ``X`` and write each one's outputs to ``folder`` as ``outputs_NNNNN.npz``.

    Every file holds ``logits`` ``(n, C)``; with ``y`` and ``layer`` also ``input_grad``, the
    gradient of each example's label logit w.r.t. ``layer``'s output (for VoG), and ``mask``
    ``(n, L)`` when given. :func:`scores_from_outputs` (and ``diversa select --checkpoints``)
    computes EL2N, forgetting events and VoG from such a folder without the model; any framework
    can write the same files.
    """
    checkpoints = _check_checkpoints(checkpoints)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    logits = logits_over_checkpoints(model, checkpoints, X, batch_size=batch_size)
    grads = None
    if layer is not None:
        if y is None:
            raise ValueError("input gradients (layer=...) need the labels y")
        grads = list(_input_grads(model, checkpoints, X, y, layer, batch_size))
    paths = []
    for i in range(len(checkpoints)):
        arrays = {"logits": logits[i]}
        if grads is not None:
            arrays["input_grad"] = grads[i]
        if mask is not None:
            arrays["mask"] = np.asarray(mask, dtype=bool)
        paths.append(folder / _OUTPUTS.format(i))
        np.savez(paths[-1], **arrays)
    return paths


def _input_grads(model, checkpoints, X, y, layer, batch_size, target="logit"):
    """Yield, per checkpoint, the gradient ``(n, ...)`` of each label's logit (or probability) w.r.t. ``layer``."""
    import torch

    X, Y = _as_inputs(X, y)
    captured = []

    def hook(module, inputs, output):
        if torch.is_tensor(output) and not output.requires_grad:  # e.g. an Identity on the raw input
            output = output.detach().requires_grad_(True)
        captured.append(output)
        return output

    handle = layer.register_forward_hook(hook)
    try:
        with _at_checkpoints(model, checkpoints) as states:
            for _ in states:
                parts = []
                for b in _batches(len(X), batch_size):
                    captured.clear()
                    out = model(X[b])
                    if len(captured) != 1 or not torch.is_tensor(captured[0]):
                        raise ValueError("layer must be a module of the model called once per forward pass "
                                         "(e.g. the embedding), returning a tensor")
                    if target == "probability":
                        out = torch.softmax(out, dim=1)
                    picked = out.gather(1, Y[b, None]).sum()
                    parts.append(torch.autograd.grad(picked, captured[0])[0].double().numpy())
                yield np.concatenate(parts)
    finally:
        handle.remove()


def _output_files(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"checkpoints folder {str(folder)!r} is not a directory")
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise ValueError(f"checkpoints folder {str(folder)!r} holds no outputs_*.npz files (see write_outputs)")
    return files


def scores_from_outputs(folder, labels, method: str, *, normalize: str | None = "class") -> np.ndarray:
    """EL2N, forgetting events or VoG of every example from a folder written by :func:`write_outputs`.

    ``method``: ``"el2n"`` (mean over the files, e.g. early checkpoints of several runs),
    ``"forgetting"`` (the files in name order are the evaluations), ``"vog"`` (needs
    ``input_grad`` in every file and >= 2 files; ``normalize`` as in
    :func:`~diversa.data.score.vog_scores`; the files' ``mask`` if present). ``labels`` ``(n,)``.
    """
    from diversa.data.score.dynamics import el2n_scores, forgetting_scores

    check_choice(method, ("el2n", "forgetting", "vog"), "method")
    files = _output_files(folder)
    first = np.load(files[0])
    if "logits" not in first:
        raise ValueError(f"{files[0].name}: no 'logits' array")
    n = first["logits"].shape[0]
    y = check_labels(labels, n, first["logits"].shape[1], name="labels")
    if method == "vog":
        return _vog_from_files(files, y, normalize)
    logits = []
    for path in files:
        z = np.load(path)["logits"].astype(np.float64)
        if z.shape != first["logits"].shape:
            raise ValueError(f"{path.name}: logits of shape {z.shape}, but {files[0].name} has "
                             f"{first['logits'].shape}; every file must cover the same examples")
        logits.append(z)
    z = np.stack(logits)
    if method == "el2n":
        p = np.exp(z - z.max(axis=2, keepdims=True))
        return el2n_scores(p / p.sum(axis=2, keepdims=True), y)
    return forgetting_scores(z.argmax(axis=2) == y)


def _vog_from_files(files, y, normalize) -> np.ndarray:
    if len(files) < 2:
        raise ValueError("VoG needs at least 2 checkpoint files")

    def grads():
        for path in files:
            blob = np.load(path)
            if "input_grad" not in blob:
                raise ValueError(f"{path.name}: no 'input_grad' array (write_outputs with layer=... records it)")
            g = blob["input_grad"].astype(np.float64)
            if g.shape[0] != y.size:
                raise ValueError(f"{path.name}: input_grad covers {g.shape[0]} examples, labels {y.size}")
            yield g

    first = np.load(files[0])
    mask = first["mask"] if "mask" in first else None
    return normalize_vog(reduce_variance(_welford_variance(grads()), mask), y, normalize)
