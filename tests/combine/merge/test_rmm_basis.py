"""Reversible Model Merging: golden example, exactness, PCA anchor, storage formula."""

import itertools

import numpy as np
import pytest
import torch

from diversa.combine.merge import factors_from_lora, factors_from_svd, rmm_fit, storage_ratio


def _factors(n=4, m=7, r=3, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"l1": (torch.randn(m, r, generator=g), torch.randn(r, d, generator=g)),
             "l2": (torch.randn(2, r, generator=g), torch.randn(r, 4, generator=g))} for _ in range(n)]


def test_golden_example():
    f = [{"l": (torch.tensor([[1.0, 0.0]]), torch.zeros(2, 1))},
         {"l": (torch.tensor([[0.0, 1.0]]), torch.zeros(2, 1))},
         {"l": (torch.tensor([[1.0, 1.0]]), torch.zeros(2, 1))}]
    basis = rmm_fit(f, n_components=1)
    expected = [[7 / 6, 1 / 6], [1 / 6, 7 / 6], [2 / 3, 2 / 3]]
    for i in range(3):
        torch.testing.assert_close(basis.reconstruct(i)["l"][0], torch.tensor([expected[i]]))


def test_exact_when_p_is_n_minus_1_and_identical_tasks():
    f = _factors(n=3)
    basis = rmm_fit(f, n_components=2)
    for i in range(3):
        for layer in f[i]:
            torch.testing.assert_close(basis.reconstruct(i)[layer][0], f[i][layer][0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(basis.delta(i)[layer], f[i][layer][0] @ f[i][layer][1], atol=1e-4,
                                       rtol=1e-4)
    same = rmm_fit([f[0]] * 3, n_components=1)
    assert all(c.abs().max() < 1e-5 for pair in same.coeffs.values() for c in pair)
    torch.testing.assert_close(same.delta(2)["l1"], f[0]["l1"][0] @ f[0]["l1"][1], atol=1e-5, rtol=1e-5)


def test_matches_sklearn_pca_and_error_decreases():
    from sklearn.decomposition import PCA
    f = _factors(n=6, r=4)
    basis = rmm_fit(f, n_components=2)
    X = np.stack([fi["l1"][0][0].numpy() for fi in f])  # position: row 0 of A, (n x r)
    pca = PCA(n_components=2, svd_solver="full").fit(X)
    recon = pca.inverse_transform(pca.transform(X))
    ours = np.stack([basis.reconstruct(i)["l1"][0][0].numpy() for i in range(6)])
    np.testing.assert_allclose(ours, recon, atol=1e-5)
    errors = []
    for p in range(5):
        b = rmm_fit(f, n_components=p)
        errors.append(sum(float((b.reconstruct(i)["l1"][0] - f[i]["l1"][0]).square().sum()) for i in range(6)))
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(errors))


def test_storage_ratio_and_budget():
    assert storage_ratio(16, 8, 1) == pytest.approx(0.3125)
    assert storage_ratio(16, 8, 3) == pytest.approx(0.6875)
    assert storage_ratio(16, 8, 1, center=False) == pytest.approx(24 / 128)
    f = _factors(n=8, r=4)
    assert rmm_fit(f, storage_budget=0.6).n_components == 1  # (4 + 12) / 32 = 0.5; p=2 -> 0.875
    merged = rmm_fit(f, n_components=0).merged_delta()["l1"]
    mean_a = torch.stack([fi["l1"][0] for fi in f]).mean(0)
    mean_b = torch.stack([fi["l1"][1] for fi in f]).mean(0)
    torch.testing.assert_close(merged, mean_a @ mean_b)


def test_factor_sources():
    g = torch.Generator().manual_seed(1)
    base = {"w": torch.randn(6, 5, generator=g)}
    low = torch.randn(6, 2, generator=g) @ torch.randn(2, 5, generator=g)
    A, B = factors_from_svd(base, {"w": base["w"] + low}, rank=2)["w"]
    torch.testing.assert_close(A @ B, low, atol=1e-5, rtol=1e-5)
    state = {"l1.lora_A.t1.weight": torch.ones(2, 5), "l1.lora_B.t1.weight": torch.ones(6, 2)}
    a, b = factors_from_lora(state, "t1", scaling=0.5)["l1.weight"]
    assert a.shape == (6, 2) and b.shape == (2, 5) and float(a[0, 0]) == 0.5


def test_errors():
    f = _factors(n=3)
    with pytest.raises(ValueError, match="at least 2"):
        rmm_fit(f[:1])
    with pytest.raises(ValueError, match="n_components"):
        rmm_fit(f, n_components=4)
    bad = [dict(fi) for fi in f]
    bad[1]["l1"] = (torch.zeros(7, 2), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="inconsistent"):
        rmm_fit(bad)
    with pytest.raises(ValueError, match="LoRA"):
        factors_from_lora({"w": torch.zeros(1)})
