"""Ito et al.'s diagnostics: singular values survive permutation, the WM objective's spectral form, retention."""

import pytest
import torch

from diversa.combine.permute import distance_ratio, normalized_distance, singular_component_retention


def test_permutations_keep_singular_values():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(7, 5, generator=g, dtype=torch.float64)
    p, q = torch.randperm(7, generator=g), torch.randperm(5, generator=g)
    torch.testing.assert_close(torch.linalg.svdvals(w[p][:, q]), torch.linalg.svdvals(w))


def test_weight_matching_objective_decomposes_over_singular_pairs():
    """<W_a, W_b> = sum_ij s_a,i s_b,j (u_a,i . u_b,j)(v_a,i . v_b,j)."""
    g = torch.Generator().manual_seed(1)
    wa, wb = (torch.randn(6, 4, generator=g, dtype=torch.float64) for _ in range(2))
    ua, sa, vha = torch.linalg.svd(wa, full_matrices=False)
    ub, sb, vhb = torch.linalg.svd(wb, full_matrices=False)
    spectral = (sa[:, None] * sb[None, :] * (ua.T @ ub) * (vha @ vhb.T)).sum()
    torch.testing.assert_close(spectral, (wa * wb).sum())


def test_retention_is_one_for_the_reference_and_one_half_for_an_unrelated_midpoint_direction():
    g = torch.Generator().manual_seed(2)
    w = torch.randn(8, 8, generator=g, dtype=torch.float64)
    torch.testing.assert_close(singular_component_retention(w, w), torch.ones(8, dtype=torch.float64))
    torch.testing.assert_close(singular_component_retention(w, w / 2, idx=[0, 3]),
                               torch.full((2,), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="2-D of one shape"):
        singular_component_retention(w, w[:4])


def test_distances():
    a = {"w": torch.tensor([3.0, 0.0])}
    b = {"w": torch.tensor([0.0, 4.0])}
    assert normalized_distance(a, a) == 0.0
    assert normalized_distance(a, b) == pytest.approx(1.0)  # orthogonal: |a-b|^2 = |a|^2 + |b|^2
    assert distance_ratio(a, b, {"w": torch.tensor([3.0, 4.0])}) == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="undefined"):
        distance_ratio(a, a, b)
