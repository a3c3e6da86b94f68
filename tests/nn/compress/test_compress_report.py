"""AUC-vs-size sweep and per-layer output errors on held-out rows."""

import matplotlib
import pytest
import torch
from torch import nn

from diversa.nn.compress import compress, layer_output_errors, plot_size_report, size_report

matplotlib.use("Agg")


def _data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).long()
    return x, y


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 1))


def test_size_report_sweeps_ranks_per_method(one_thread):
    x, y = _data()
    table = size_report(_model(), x, x, y.numpy(), ["2"], [1, 4, 12, 99])
    assert list(table.columns) == ["method", "rank", "params", "auc"]
    assert table["method"].tolist() == ["original"] + ["afm"] * 4 + ["svd"] * 4
    assert table["params"].iloc[1] < table["params"].iloc[2]
    full_afm = table[(table["method"] == "afm") & (table["rank"] == 12)]["auc"].item()
    assert full_afm == pytest.approx(table["auc"].iloc[0], abs=1e-6)
    ax = plot_size_report(table)
    assert ax.get_xlabel() == "parameters"


def test_layer_errors_are_zero_at_full_rank_and_smaller_for_afm(one_thread):
    model = _model()
    x, _ = _data()
    x_val, _ = _data(seed=1)
    exact = layer_output_errors(model, compress(model, x, {"2": 12}), x_val, ["2"])
    assert exact["2"] == pytest.approx(0.0, abs=1e-10)
    afm = layer_output_errors(model, compress(model, x, {"2": 3}), x_val, ["2"])["2"]
    svd = layer_output_errors(model, compress(model, x, {"2": 3}, method="svd"), x_val, ["2"])["2"]
    assert 0 < afm < svd


def test_bad_report_input_is_refused(one_thread):
    x, y = _data(50)
    with pytest.raises(ValueError, match="ranks"):
        size_report(_model(), x, x, y.numpy(), ["2"], [0])
    with pytest.raises(ValueError, match="layers"):
        size_report(_model(), x, x, y.numpy(), ["5"], [2])
    with pytest.raises(ValueError, match="methods"):
        size_report(_model(), x, x, y.numpy(), ["2"], [2], methods=("pca",))
    with pytest.raises(ValueError, match="layer_names"):
        layer_output_errors(_model(), _model(), x, ["9"])
