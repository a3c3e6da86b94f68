"""Ideal masks, label smoothing, thresholding and masking, frequency prior; patches and centre frames."""

import numpy as np
import pytest

from diversa.apps.separation import (
    apply_masks,
    centre_frames,
    compress_magnitude,
    context_patches,
    frequency_prior,
    ideal_binary_mask,
    ideal_ratio_mask,
    smooth_labels,
    threshold_mask,
)


def test_ibm_is_binary_and_strict():
    v = np.array([[1.0, 2.0, 0.5, 0.0]])
    a = np.array([[1.0, 1.0, 0.6, 0.0]])
    assert np.array_equal(ideal_binary_mask(v, a), [[0.0, 1.0, 0.0, 0.0]])   # ties are accompaniment
    assert np.allclose(ideal_ratio_mask(v, a), [[0.5, 2 / 3, 0.5 / 1.1, 0.5]])


def test_smoothing_maps_binary_labels_to_0_02_and_0_98():
    assert np.allclose(smooth_labels(np.array([0.0, 1.0, 1.0])), [0.02, 0.98, 0.98])
    with pytest.raises(ValueError, match="smoothing"):
        smooth_labels(np.zeros(2), 0.9, 0.1)
    with pytest.raises(ValueError, match="mask"):
        smooth_labels(np.array([1.5]))


def test_threshold_zeroes_below_tau_keeps_the_rest_and_copies():
    p = np.array([0.1, 0.35, 0.5, 0.34])
    out = threshold_mask(p, 0.35)
    assert np.array_equal(out, [0.0, 0.35, 0.5, 0.0])
    assert np.array_equal(p, [0.1, 0.35, 0.5, 0.34])   # input untouched
    for tau in (-0.1, 1.0, True, "0.3"):
        with pytest.raises(ValueError, match="tau"):
            threshold_mask(p, tau)


def test_voice_and_accompaniment_are_thresholded_independently():
    spec = np.full((1, 3), 2.0 + 2.0j)
    p = np.array([[0.2, 0.5, 0.9]])
    voice, acc = apply_masks(spec, p, 0.35)
    assert np.allclose(voice, [[0, 1 + 1j, 1.8 + 1.8j]])
    assert np.allclose(acc, [[1.6 + 1.6j, 1 + 1j, 0]])            # Q = 0.8, 0.5, 0.1 -> 0
    assert np.allclose(np.angle(voice[0, 1:]), np.angle(spec[0, 1:]))   # the mixture's phase
    with pytest.raises(ValueError, match="voice_prob"):
        apply_masks(spec, np.array([[0.2, 1.5, 0.1]]))


def test_masks_reject_mismatched_or_negative_magnitudes():
    with pytest.raises(ValueError, match="same shape"):
        ideal_binary_mask(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="magnitudes"):
        ideal_ratio_mask(-np.ones(2), np.ones(2))


def test_frequency_prior_is_the_mean_over_all_frames():
    prior = frequency_prior([np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0], [1.0]])])
    assert np.allclose(prior, [1 / 3, 1.0])
    with pytest.raises(ValueError, match="masks"):
        frequency_prior([np.zeros((2, 2)), np.zeros((3, 2))])


def test_patches_count_padding_and_centre_rows():
    frames = np.arange(1.0, 11.0)[:, None] * np.ones((1, 3))        # T=10, F=3, minimum 1
    patches = context_patches(frames, context=5, hop=3)
    assert patches.shape == (4, 5, 3)                                # ceil(10 / 3)
    for i, patch in enumerate(patches):
        assert np.array_equal(patch[2], frames[3 * i])               # row context // 2 is frame i * hop
    assert np.array_equal(patches[0][:2], np.ones((2, 3)))           # padded with the clip minimum
    assert np.array_equal(context_patches(frames, 5, 1, pad_value=0.0)[-1][3:], np.zeros((2, 3)))
    assert np.array_equal(centre_frames(context_patches(frames, 5, 1)), frames.T)
    with pytest.raises(ValueError, match="odd"):
        context_patches(frames, context=4)


def test_log1p_compression_maps_0_1_onto_0_1():
    m = np.array([0.0, 1e-3, 1.0])
    out = compress_magnitude(m)
    assert out[0] == 0 and out[-1] == pytest.approx(1.0) and 0 < out[1] < 0.2
    assert np.array_equal(compress_magnitude(m, "linear"), m)
    with pytest.raises(ValueError, match="transform"):
        compress_magnitude(m, "db")
