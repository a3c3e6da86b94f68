"""A singing-voice separator: a CNN classifies every spectrogram pixel as voice or accompaniment.

Lin, Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278. :class:`SingingVoiceSeparator` trains
:class:`~diversa.apps.separation.model.IBMMaskCNN` on patches of mixture
spectrograms with the Ideal Binary Mask as per-pixel labels (smoothed to
0.02 / 0.98) and sigmoid cross-entropy, optionally after pretraining it as an
autoencoder of voice spectrograms (``|mixture| * mask``, the same loss).
Separation slides a 9-frame window one frame at a time, keeps the centre row
of the sigmoid map as the voice probability ``P``, thresholds ``P`` and
``1 - P`` at ``threshold`` (0.35, the authors' iKala value) and masks the
mixture's magnitude, keeping its phase, before the inverse STFT.
``target="irm"`` is the regression baseline: the same network and loop, the
ideal ratio mask as target and mean squared error on the sigmoid output, with
plain (unthresholded) ratio masking.

Deviations from the authors' code (the spec's small scale): one sample rate
end to end (8 kHz by default, no resampling), a 32 ms window with 2x zero
padding rather than 46 ms at 22.05 kHz with 4x, log-compressed input by
default (:mod:`~diversa.apps.separation.patches`), and training patches
shuffled across clips rather than within each clip.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from diversa._params import check_int, check_real, torch_seed
from diversa.apps.separation.masks import apply_masks, ideal_binary_mask, ideal_ratio_mask, smooth_labels
from diversa.apps.separation.model import IBMMaskCNN
from diversa.apps.separation.patches import INPUT_TRANSFORMS, centre_frames, compress_magnitude, context_patches
from diversa.apps.separation.stft import STFT
from diversa.apps.separation.train import train_mask_network

__all__ = ["TARGETS", "SingingVoiceSeparator", "is_separator_payload", "load_separator", "save_separator",
           "separate_with_mask", "separator_from_payload", "separator_payload"]

#: ``"ibm"``: ideal binary mask + sigmoid cross-entropy (the paper); ``"irm"``: ideal ratio mask + MSE.
TARGETS = ("ibm", "irm")
PRETRAIN = ("ae", None)
#: The authors' threshold for iKala.
PAPER_THRESHOLD = 0.35
#: Patches per forward pass at inference (memory, not results: the network is in eval mode).
INFERENCE_BATCH = 512
_FORMAT = "diversa-singing-voice-separator-1"


def _signal(x, name: str, min_length: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-d signal (n,), got shape {a.shape}.")
    if a.size < min_length:
        raise ValueError(f"{name} must hold at least {min_length} samples (one window), got {a.size}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite samples.")
    return a


class SingingVoiceSeparator(BaseEstimator):
    """Mask-based voice / accompaniment separation with a CNN (see the module docstring).

    Audio is mono float at ``fs`` Hz. ``target``: ``"ibm"`` (paper) or ``"irm"`` (baseline);
    ``win_length``, ``n_fft``, ``hop``: the STFT; ``context``: frames per patch (odd);
    ``train_hop``: frames between training patches; ``input_transform``: ``"log1p"`` or
    ``"linear"`` magnitudes; ``label_smoothing``: ``(low, high)`` of the binary labels (``None``: none;
    the ratio target is never smoothed); ``channels``, ``kernel``, ``pool``, ``fc``, ``dropout``:
    the network; ``pretrain``: ``"ae"`` (autoencoder pretraining, ``ae_epochs`` epochs) or ``None``;
    ``epochs``, ``lr``, ``batch_size``: Adam fine-tuning; ``threshold``: tau in [0, 1) for both masks
    (``None``: 0.35 for ``"ibm"``, 0 for ``"irm"``).

    Learned: ``model_`` (the network, eval mode), ``stft_``, ``loss_curve_``, ``ae_loss_curve_``,
    ``val_loss_curve_``, ``best_epoch_``, ``n_patches_``.
    """

    def __init__(self, target="ibm", fs=8000, win_length=256, n_fft=512, hop=64, context=9, train_hop=2,
                 input_transform="log1p", label_smoothing=(0.02, 0.98), channels=(16, 8, 16, 8), kernel=(3, 5),
                 pool=4, fc=(256, 128), dropout=0.5, pretrain="ae", ae_epochs=3, epochs=12, lr=1e-3,
                 batch_size=64, threshold=None, random_state=None):
        self.target = target
        self.fs = fs
        self.win_length = win_length
        self.n_fft = n_fft
        self.hop = hop
        self.context = context
        self.train_hop = train_hop
        self.input_transform = input_transform
        self.label_smoothing = label_smoothing
        self.channels = channels
        self.kernel = kernel
        self.pool = pool
        self.fc = fc
        self.dropout = dropout
        self.pretrain = pretrain
        self.ae_epochs = ae_epochs
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.threshold = threshold
        self.random_state = random_state

    # -- checks -------------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}.")
        if self.input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f"input_transform must be one of {INPUT_TRANSFORMS}, got {self.input_transform!r}.")
        if self.pretrain not in PRETRAIN:
            raise ValueError(f"pretrain must be 'ae' or None, got {self.pretrain!r}.")
        check_int(self.fs, "fs", 1)
        for name in ("train_hop", "batch_size", "context"):
            check_int(getattr(self, name), name, 1)
        if self.context % 2 == 0:
            raise ValueError(f"context must be odd (a centre frame), got {self.context}.")
        check_int(self.epochs, "epochs", 0)
        check_int(self.ae_epochs, "ae_epochs", 0)
        check_real(self.lr, "lr", 0.0, strict=True)
        if self.label_smoothing is not None:
            try:
                low, high = self.label_smoothing
            except (TypeError, ValueError):
                raise ValueError(f"label_smoothing must be a (low, high) pair or None, "
                                 f"got {self.label_smoothing!r}.") from None
            smooth_labels(np.zeros(1), low, high)
        self._resolved_threshold(self.threshold)
        STFT(self.win_length, self.n_fft, self.hop)

    def _resolved_threshold(self, threshold) -> float:
        if threshold is None:
            threshold = self.threshold
        if threshold is None:
            return PAPER_THRESHOLD if self.target == "ibm" else 0.0
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 <= threshold < 1:
            raise ValueError(f"threshold must be a number in [0, 1) or None, got {threshold!r}.")
        return float(threshold)

    def _network(self, n_bins: int) -> IBMMaskCNN:
        return IBMMaskCNN(n_bins=n_bins, n_frames=self.context, channels=self.channels, kernel=self.kernel,
                          pool=self.pool, fc=self.fc, dropout=self.dropout)

    # -- data ---------------------------------------------------------------------------------------

    def _clip_patches(self, stft: STFT, voice: np.ndarray, acc: np.ndarray):
        """Input, target and autoencoder patches of one clip, every ``train_hop`` frames."""
        v_mag, a_mag = np.abs(stft(voice)), np.abs(stft(acc))
        m_mag = np.abs(stft(voice + acc))
        if self.target == "ibm":
            mask = ideal_binary_mask(v_mag, a_mag)
            label = mask if self.label_smoothing is None else smooth_labels(mask, *self.label_smoothing)
        else:
            mask = label = ideal_ratio_mask(v_mag, a_mag)
        features = compress_magnitude(m_mag, self.input_transform).T
        voice_view = np.clip(compress_magnitude(m_mag * mask, self.input_transform).T, 0.0, 1.0)
        return (context_patches(features, self.context, self.train_hop),
                context_patches(label.T, self.context, self.train_hop, pad_value=0.0),
                context_patches(voice_view, self.context, self.train_hop))

    def _tensors(self, stft: STFT, voices, accompaniments, name: str):
        if isinstance(voices, np.ndarray) and voices.ndim == 1:
            raise TypeError(f"{name}: voices must be a list of 1-d signals, not one signal.")
        voices, accompaniments = list(voices), list(accompaniments)
        if not voices or len(voices) != len(accompaniments):
            raise ValueError(f"{name}: voices and accompaniments must be non-empty lists of equal length, "
                             f"got {len(voices)} and {len(accompaniments)}.")
        parts = []
        for i, (v, a) in enumerate(zip(voices, accompaniments)):
            v = _signal(v, f"voices[{i}]", stft.win_length)
            a = _signal(a, f"accompaniments[{i}]", stft.win_length)
            if v.shape != a.shape:
                raise ValueError(f"{name}: voices[{i}] and accompaniments[{i}] differ in length "
                                 f"({v.size} and {a.size}).")
            parts.append(self._clip_patches(stft, v, a))
        return [torch.from_numpy(np.concatenate(p).astype(np.float32)) for p in zip(*parts)]

    # -- training -----------------------------------------------------------------------------------

    def fit(self, voices, accompaniments, val=None) -> "SingingVoiceSeparator":
        """Train on clips ``voices[i]``, ``accompaniments[i]`` (1-d arrays, same length per pair).

        ``val = (voices, accompaniments)`` of validation clips: keep the weights of the epoch with
        the lowest validation loss (pretraining and fine-tuning alike). Returns self.
        """
        self._check_params()
        stft = STFT(self.win_length, self.n_fft, self.hop)
        inputs, targets, voice_views = self._tensors(stft, voices, accompaniments, "fit")
        val_sets = None
        if val is not None:
            try:
                val_voices, val_accs = val
            except (TypeError, ValueError):
                raise TypeError("val must be a (voices, accompaniments) pair of lists.") from None
            val_sets = self._tensors(stft, val_voices, val_accs, "val")
        loss = "bce" if self.target == "ibm" else "mse"
        seed = torch_seed(self.random_state)
        # A private RNG stream: initialisation, dropout and batch order are reproducible and the
        # caller's global torch RNG is left as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            model = self._network(stft.n_bins)
            ae = {"loss": []}
            if self.pretrain == "ae" and self.ae_epochs > 0:
                ae_val = None if val_sets is None else (val_sets[2], val_sets[2])
                ae = train_mask_network(model, voice_views, voice_views, loss=loss, epochs=self.ae_epochs,
                                        lr=self.lr, batch_size=self.batch_size, generator=generator, val=ae_val)
            fine = train_mask_network(model, inputs, targets, loss=loss, epochs=self.epochs, lr=self.lr,
                                      batch_size=self.batch_size, generator=generator,
                                      val=None if val_sets is None else (val_sets[0], val_sets[1]))
        for p in model.parameters():
            p.requires_grad_(False)
        self.model_, self.stft_ = model.eval(), stft
        self.loss_curve_, self.ae_loss_curve_ = fine["loss"], ae["loss"]
        self.val_loss_curve_, self.best_epoch_ = fine["val_loss"], fine["best_epoch"]
        self.n_patches_ = len(inputs)
        return self

    # -- separation ---------------------------------------------------------------------------------

    def predict_mask(self, mixture) -> np.ndarray:
        """Voice probability ``P (n_bins, n_frames)`` of a mixture ``(n,)``, before thresholding."""
        check_is_fitted(self, "model_")
        x = _signal(mixture, "mixture", self.stft_.win_length)
        mag = np.abs(self.stft_(x))
        features = compress_magnitude(mag, self.input_transform).T
        patches = torch.from_numpy(context_patches(features, self.context, 1).astype(np.float32))
        with torch.no_grad():
            rows = [torch.sigmoid(self.model_(chunk)) for chunk in patches.split(INFERENCE_BATCH)]
        return centre_frames(torch.cat(rows).numpy()).astype(np.float64)

    def separate(self, mixture, threshold=None) -> tuple[np.ndarray, np.ndarray]:
        """``(voice, accompaniment)``, each shaped like ``mixture (n,)``.

        ``threshold`` overrides the estimator's tau for this call (``None``: the estimator's).
        """
        tau = self._resolved_threshold(threshold)
        x = _signal(mixture, "mixture", getattr(getattr(self, "stft_", None), "win_length", 1))
        prob = self.predict_mask(x)
        return separate_with_mask(self.stft_, x, prob, tau)


def separate_with_mask(stft: STFT, mixture, voice_prob, tau: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Voice and accompaniment signals of ``mixture (n,)`` from a voice probability
    ``(n_bins, n_frames)`` (thresholded at ``tau``; mixture phase, no Wiener filter)."""
    x = np.asarray(mixture, dtype=np.float64)
    voice_spec, acc_spec = apply_masks(stft(x), voice_prob, tau)
    return stft.inverse(voice_spec, x.size), stft.inverse(acc_spec, x.size)


# -- files ----------------------------------------------------------------------------------------------

def separator_payload(separator: SingingVoiceSeparator) -> dict:
    """A fitted separator as plain data (settings, weights, loss curve), loadable by
    ``torch.load(weights_only=True)`` and by :func:`separator_from_payload`."""
    check_is_fitted(separator, "model_")
    params = separator.get_params()
    if not (params["random_state"] is None or isinstance(params["random_state"], numbers.Integral)):
        params["random_state"] = None
    return {"format": _FORMAT, "params": params,
            "state_dict": {k: v.clone() for k, v in separator.model_.state_dict().items()},
            "loss_curve": [float(v) for v in separator.loss_curve_]}


def is_separator_payload(payload) -> bool:
    """True for a dict written by :func:`separator_payload`."""
    return isinstance(payload, dict) and payload.get("format") == _FORMAT


def separator_from_payload(payload, where: str = "model") -> SingingVoiceSeparator:
    """The fitted separator a :func:`separator_payload` dict describes; ValueError otherwise."""
    if not is_separator_payload(payload):
        raise ValueError(f"{where} is not a separator model written by diversa.")
    try:
        separator = SingingVoiceSeparator(**payload["params"])
        separator._check_params()
        stft = STFT(separator.win_length, separator.n_fft, separator.hop)
        model = separator._network(stft.n_bins)
        model.load_state_dict(payload["state_dict"])
    except (TypeError, ValueError, KeyError, RuntimeError):
        raise ValueError(f"{where}: its weights or settings do not describe a separator network.") from None
    for p in model.parameters():
        p.requires_grad_(False)
    separator.model_, separator.stft_ = model.eval(), stft
    separator.loss_curve_ = list(payload.get("loss_curve", []))
    separator.ae_loss_curve_, separator.val_loss_curve_, separator.best_epoch_ = [], [], None
    separator.n_patches_ = 0
    return separator


def save_separator(separator: SingingVoiceSeparator, path) -> None:
    """Write a fitted separator to ``path`` (a torch file readable with ``weights_only=True``),
    atomically: a failed write leaves no partial file."""
    import io

    from diversa.datasets.files import atomic_write_bytes

    buffer = io.BytesIO()
    torch.save(separator_payload(separator), buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_separator(path, *, argument: str = "model") -> SingingVoiceSeparator:
    """A separator written by :func:`save_separator`; ValueError (naming ``argument``) for any other file."""
    import io

    from diversa.datasets.files import describe, read_bytes

    where = describe(path, argument)
    data = read_bytes(path, argument=argument)
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:   # noqa: BLE001 - any unreadable bytes are the same mistake: not our model file
        raise ValueError(f"{where} is not a separator model file written by diversa.") from None
    return separator_from_payload(payload, where)
