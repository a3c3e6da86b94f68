"""Output statistics: float64 accumulation, hooks on Linear (pre-activation) and Embedding (lookups)."""

import numpy as np
import pytest
import torch
from torch import nn

from diversa.nn.compress import OutputStats, collect_output_stats
from diversa.nn.compress.stats import iter_batches


def test_running_statistics_match_numpy_population_moments():
    y = torch.randn(1000, 4) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + 1e3
    s = OutputStats(4)
    for chunk in torch.split(y, 137):
        s.update(chunk)
    assert s.count == 1000 and s.cov.dtype == torch.float64
    np.testing.assert_allclose(s.mean.numpy(), y.double().numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.cov.numpy(), np.cov(y.double().numpy().T, bias=True), atol=1e-6)


def test_hooks_see_linear_outputs_before_the_activation_and_leave_outputs_unchanged(one_thread):
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 2))
    x = torch.randn(300, 5)
    before = model(x)
    stats = collect_output_stats(model, x, ["0"], batch_size=64)
    pre = model[0](x).detach().double()
    assert (pre < 0).any()  # the ReLU would have cut these
    torch.testing.assert_close(stats["0"].mean, pre.mean(0))
    torch.testing.assert_close(model(x), before)
    assert not model[0]._forward_hooks


def test_embedding_statistics_are_weighted_by_lookup_frequency(one_thread):
    emb = nn.Embedding(10, 3)
    ids = torch.tensor([[0, 0], [0, 4], [9, 0]])
    model = nn.Sequential(emb)
    stats = collect_output_stats(model, ids, ["0"], batch_size=2)
    rows = emb.weight.detach()[ids.reshape(-1)].double()
    torch.testing.assert_close(stats["0"].mean, rows.mean(0))
    assert stats["0"].count == 6


def test_tuples_and_loaders_are_fed_as_positional_inputs(one_thread):
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 2)

        def forward(self, x, z):
            return self.a(x) + z

    model, x, z = Two(), torch.randn(40, 3), torch.randn(40, 2)
    from_tuple = collect_output_stats(model, (x, z), ["a"], batch_size=7)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, z), batch_size=9)
    from_loader = collect_output_stats(model, loader, ["a"])
    torch.testing.assert_close(from_tuple["a"].cov, from_loader["a"].cov)


def test_bad_input_is_refused():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with pytest.raises(ValueError, match="calibration must provide at least 2 rows"):
        collect_output_stats(model, torch.randn(1, 3), ["0"])
    with pytest.raises(ValueError, match="layer_names"):
        collect_output_stats(model, torch.randn(4, 3), ["9"])
    with pytest.raises(TypeError, match="nn.Linear or nn.Embedding"):
        collect_output_stats(model, torch.randn(4, 3), ["1"])
    with pytest.raises(ValueError, match="same number of rows"):
        list(iter_batches((torch.randn(3, 2), torch.randn(4, 2))))
    with pytest.raises(TypeError, match="calibration"):
        list(iter_batches(3.0))
    with pytest.raises(ValueError, match="y must have last dimension 2"):
        OutputStats(2).update(torch.randn(3, 3))
