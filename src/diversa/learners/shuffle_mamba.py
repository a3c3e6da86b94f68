"""ShuffleMamba for small images: a tiny Vision Mamba classifier trained with stochastic layer-wise shuffle.

Huang, Chen, Li, Lan, Zhu, Wang, Wang, "Stochastic Layer-Wise Shuffle: A Good Practice to Improve
Vision Mamba Training" (ICML 2025: "Stochastic Layer-Wise Shuffle for Improving Vision Mamba
Training"), arXiv:2408.17081; spec ``training.md#slws``. The estimator trains a
:class:`~diversa.nn.ssm.TinyVisionMamba` (bidirectional selective-SSM blocks) with AdamW on
cross-entropy; during training, layer ``l`` sees a randomly permuted token order with
probability ``p_l`` (linear in depth up to ``shuffle_rate``), optionally together with
stochastic depth (``drop_path_rate``). Prediction uses the plain model: the shuffle is off in
evaluation mode.

Randomness: ``random_state`` gives one seed. The initialisation is drawn from torch's global
generator under that seed inside ``torch.random.fork_rng`` (the caller's global state is left
as it was), the batch order from a local generator seeded with it, and the shuffles and
drop-path masks from a second local generator; so models that differ only in
``shuffle_rate``/``drop_path_rate`` start from the same weights and see the same batches.
Training runs on the CPU with the caller's torch thread settings.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from diversa._params import check_int, check_real, torch_seed

__all__ = ["ShuffleMambaClassifier"]

#: Rows per forward pass at prediction time.
PREDICT_CHUNK = 512


class ShuffleMambaClassifier(ClassifierMixin, BaseEstimator):
    """A tiny Vision Mamba classifier for flattened square images, trained with stochastic layer-wise shuffle.

    Parameters
    ----------
    shuffle_rate : float in [0, 1], ``P_L``: the last layer's shuffle probability (0 turns SLWS off).
    shuffle_schedule : "linear" (official), "constant", "paper" or "none"; see
        :func:`~diversa.nn.regularizers.layer_shuffle_probs`.
    drop_path_rate : float in [0, 1], stochastic depth of the last block (linear in depth from 0).
    depth, embed_dim, d_state, d_conv, expand, patch_size : the model (see
        :class:`~diversa.nn.ssm.TinyVisionMamba`).
    cls_position : "start" (the official ShuffleMamba code) or "middle" (Vision Mamba's middle class
        token, which learns markedly faster on short schedules).
    image_shape : (channels, side, side) or None; None reads each row as one square single-channel
        image (``n_features`` must be a perfect square). Pixel values are used as given (scale them).
    epochs, batch_size, lr, weight_decay : AdamW training.
    scan : "sequential" or "parallel", the form of the selective scan (same result).
    random_state : int, RandomState or None.

    Attributes
    ----------
    classes_ (C,), n_features_in_, model_ (the trained ``TinyVisionMamba``, in eval mode),
    history_ (mean training loss of each epoch, a list of ``epochs`` floats).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ShuffleMambaClassifier(depth=2, embed_dim=8, epochs=2, random_state=0).fit(X[:200] / 16, y[:200])
    >>> clf.predict_proba(X[:3] / 16).shape, len(clf.history_)
    ((3, 10), 2)
    """

    def __init__(self, shuffle_rate=0.3, shuffle_schedule="linear", drop_path_rate=0.0, depth=8, embed_dim=24,
                 d_state=1, d_conv=3, expand=2, patch_size=2, cls_position="start", image_shape=None, epochs=60,
                 batch_size=64, lr=3e-3, weight_decay=0.0, scan="sequential", random_state=None):
        self.shuffle_rate = shuffle_rate
        self.shuffle_schedule = shuffle_schedule
        self.drop_path_rate = drop_path_rate
        self.depth = depth
        self.embed_dim = embed_dim
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.patch_size = patch_size
        self.cls_position = cls_position
        self.image_shape = image_shape
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.scan = scan
        self.random_state = random_state

    def _image_shape(self, n_features: int) -> tuple[int, int]:
        """``(channels, side)`` of the images in rows of ``n_features`` values."""
        if self.image_shape is None:
            side = math.isqrt(n_features)
            if side * side != n_features:
                raise ValueError(f"X must hold square images: {n_features} features is not a perfect square; "
                                 "give image_shape=(channels, side, side).")
            return 1, side
        try:
            shape = tuple(int(v) for v in self.image_shape)
        except (TypeError, ValueError):
            raise TypeError(f"image_shape must be None or (channels, side, side), got {self.image_shape!r}.") from None
        if len(shape) != 3 or shape[1] != shape[2] or min(shape) < 1 or math.prod(shape) != n_features:
            raise ValueError(f"image_shape must be (channels, side, side) with channels * side**2 = {n_features} "
                             f"features, got {self.image_shape!r}.")
        return shape[0], shape[1]

    def _check_params(self):
        check_int(self.epochs, "epochs", 0)
        check_int(self.batch_size, "batch_size", 1)
        check_real(self.lr, "lr", 0.0, strict=True)
        check_real(self.weight_decay, "weight_decay", 0.0)
        for name in ("shuffle_rate", "drop_path_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}.")

    def _build(self, in_chans: int, side: int, n_classes: int, generator):
        from diversa.nn.ssm import TinyVisionMamba

        return TinyVisionMamba(img_size=side, patch_size=self.patch_size, in_chans=in_chans,
                               embed_dim=self.embed_dim, depth=self.depth, d_state=self.d_state,
                               d_conv=self.d_conv, expand=self.expand, num_classes=n_classes,
                               shuffle_rate=self.shuffle_rate, shuffle_schedule=self.shuffle_schedule,
                               drop_path_rate=self.drop_path_rate, cls_position=self.cls_position, scan=self.scan,
                               generator=generator)

    def fit(self, X, y):
        """Train on ``X (n, channels * side**2)`` (flattened images) and class labels ``y (n,)``."""
        import torch
        import torch.nn.functional as F

        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        in_chans, side = self._image_shape(X.shape[1])
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError("y must contain at least two classes; got one class.")
        self.classes_ = encoder.classes_
        seed = torch_seed(self.random_state)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build(in_chans, side, len(self.classes_),
                                torch.Generator().manual_seed((seed + 1) % 2**63))
        batches = torch.Generator().manual_seed(seed)
        images = torch.from_numpy(X).reshape(-1, in_chans, side, side)
        target = torch.as_tensor(encoder.transform(y), dtype=torch.long)
        # fused AdamW: one kernel over all parameters, markedly cheaper per step for a model this small
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay, fused=True)
        n, history = images.shape[0], []
        model.train()
        for _ in range(self.epochs):
            total = 0.0
            for batch in torch.randperm(n, generator=batches).split(int(self.batch_size)):
                loss = F.cross_entropy(model(images[batch]), target[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(batch)
            history.append(total / n)
        self.model_ = model.eval()
        self.history_ = history
        return self

    def decision_function(self, X) -> np.ndarray:
        """Logits ``(n, C)`` of the trained model in evaluation mode (no shuffle, no drop path)."""
        import torch

        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        in_chans, side = self._image_shape(X.shape[1])
        images = torch.from_numpy(X).reshape(-1, in_chans, side, side)
        self.model_.eval()
        with torch.no_grad():
            logits = [self.model_(chunk) for chunk in images.split(PREDICT_CHUNK)]
        return torch.cat(logits).double().numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, C)``: the softmax of the logits."""
        logits = self.decision_function(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The class with the largest logit."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
