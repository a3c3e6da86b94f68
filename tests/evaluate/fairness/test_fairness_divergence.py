import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KernelDensity

from diversa.evaluate.fairness import generalized_jsd, uf_ratio
from diversa.evaluate.fairness.divergence import _grid_density


def test_grid_density_is_sklearns_kernel_density_normalised():
    values = np.random.default_rng(0).random(37)
    grid = np.linspace(values.min(), values.max(), 1000)
    log_density = KernelDensity(kernel="gaussian", bandwidth=0.15).fit(values[:, None]).score_samples(grid[:, None])
    expected = np.exp(log_density) / np.exp(log_density).sum()
    np.testing.assert_allclose(_grid_density(values, grid, 0.15), expected, rtol=1e-10, atol=1e-14)


def test_identical_groups_give_zero_and_disjoint_ones_log2_g():
    rng = np.random.default_rng(0)
    same = rng.random(400)
    assert generalized_jsd(np.tile(same, 3), np.repeat(["a", "b", "c"], 400)) == pytest.approx(0.0, abs=1e-12)
    # four groups far apart relative to the bandwidth: the divergence reaches its bound log2(G)
    far = np.concatenate([rng.normal(loc, 0.01, 200) for loc in (0, 10, 20, 30)])
    assert generalized_jsd(far, np.repeat(np.arange(4), 200)) == pytest.approx(2.0, abs=1e-3)
    assert generalized_jsd(np.ones(10), np.arange(10) % 2) == 0.0


def test_weights_and_small_groups():
    rng = np.random.default_rng(1)
    y = np.r_[rng.normal(0, 0.1, 300), rng.normal(3, 0.1, 100), rng.normal(6, 0.1, 3)]
    groups = np.repeat(["big", "small", "tiny"], [300, 100, 3])
    kept = generalized_jsd(y, groups, min_group_size=10)
    assert kept == pytest.approx(generalized_jsd(y[:400], groups[:400]), abs=1e-12)
    # proportion weights pi = (0.75, 0.25): H(0.75, 0.25) bits for two separated groups
    assert generalized_jsd(y[:400], groups[:400]) == pytest.approx(0.8113, abs=1e-3)
    assert generalized_jsd(y[:400], groups[:400], weights="equal") == pytest.approx(1.0, abs=1e-3)
    assert generalized_jsd(y, groups) > kept


def test_groups_from_a_frame_and_standardize():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"g": rng.integers(0, 2, 500), "e": rng.integers(0, 3, 500)})
    y = frame["g"].to_numpy() * 0.5 + rng.normal(0, 0.1, 500)
    labels = frame["g"].astype(str) + "|" + frame["e"].astype(str)
    assert generalized_jsd(y, frame) == pytest.approx(generalized_jsd(y, labels.to_numpy()), abs=1e-12)
    assert generalized_jsd(100 * y, frame, standardize=True) == pytest.approx(
        generalized_jsd(y, frame, standardize=True), abs=1e-12)


def test_uf_ratio():
    rng = np.random.default_rng(3)
    groups = np.repeat([0, 1, 2, 3], 250)
    assert 0.0 <= uf_ratio(rng.normal(size=1000), groups) < 0.01
    # group means explain everything; with ddof = 1 over 4 groups the ratio is 4/3 * 999/1000
    shifted = groups + rng.normal(0, 0.01, 1000)
    assert uf_ratio(shifted, groups) == pytest.approx(4 / 3 * 999 / 1000, abs=0.01)
    y = rng.normal(size=1000)
    means = [y[groups == g].mean() for g in range(4)]
    assert uf_ratio(y, groups) == pytest.approx(np.var(means, ddof=1) / np.var(y, ddof=1))


def test_bad_input():
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        generalized_jsd([0.1, np.nan, 0.3], [0, 1, 1])
    with pytest.raises(ValueError, match="groups must give one group per prediction"):
        generalized_jsd([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="at least two groups"):
        generalized_jsd([0.1, 0.2, 0.3], [0, 0, 1], min_group_size=2)
    with pytest.raises(ValueError, match="weights"):
        generalized_jsd([0.1, 0.2], [0, 1], weights="size")
    with pytest.raises(ValueError, match="bandwidth"):
        generalized_jsd([0.1, 0.2], [0, 1], bandwidth=0.0)
