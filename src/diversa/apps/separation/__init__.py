"""Singing-voice separation by time-frequency masks predicted by a CNN.

Lin, Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278. The pieces, one idea each:

* :mod:`~diversa.apps.separation.stft`: the STFT front end (torch.stft) and its inverse;
* :mod:`~diversa.apps.separation.masks`: ideal binary and ratio masks, label smoothing, thresholding;
* :mod:`~diversa.apps.separation.patches`: input compression and context windows of frames;
* :mod:`~diversa.apps.separation.model`: :class:`IBMMaskCNN`, the mask-predicting network;
* :mod:`~diversa.apps.separation.train`: per-pixel cross-entropy (or MSE) training;
* :mod:`~diversa.apps.separation.separator`: :class:`SingingVoiceSeparator`, fit / separate / save / load;
* :mod:`~diversa.apps.separation.wav`: WAV files in and out, mono downmix, resampling.

Metrics (SDR, SIR, SAR, NSDR, SI-SDR) live in :mod:`diversa.evaluate.bss`; synthetic songs with
known stems in :mod:`diversa.datasets.songs`.
"""

from diversa.apps.separation.masks import (
    apply_masks,
    frequency_prior,
    ideal_binary_mask,
    ideal_ratio_mask,
    smooth_labels,
    threshold_mask,
)
from diversa.apps.separation.model import IBMMaskCNN
from diversa.apps.separation.patches import centre_frames, compress_magnitude, context_patches
from diversa.apps.separation.separator import (
    SingingVoiceSeparator,
    is_separator_payload,
    load_separator,
    save_separator,
    separate_with_mask,
    separator_from_payload,
    separator_payload,
)
from diversa.apps.separation.stft import STFT
from diversa.apps.separation.train import mask_loss, train_mask_network
from diversa.apps.separation.wav import read_wav, resample, to_mono, wav_bytes

__all__ = ["STFT", "IBMMaskCNN", "SingingVoiceSeparator", "apply_masks", "centre_frames", "compress_magnitude",
           "context_patches", "frequency_prior", "ideal_binary_mask", "ideal_ratio_mask", "is_separator_payload",
           "load_separator", "mask_loss", "read_wav", "resample", "save_separator", "separate_with_mask",
           "separator_from_payload", "separator_payload", "smooth_labels", "threshold_mask", "to_mono",
           "train_mask_network", "wav_bytes"]
