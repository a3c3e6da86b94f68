"""SPCostModel: FlexSP's compute, all-to-all and memory model (arXiv:2412.01523)."""

import math

import numpy as np
import pytest

from diversa.systems.seqpar import BANDWIDTH_GBS, GPT_PRESETS, SPCostModel


def test_one_device_has_no_communication(gpt16):
    for s in (1, 1000, 8000):
        assert gpt16.comm_time(s, 1) == 0
        assert gpt16.seq_time(s, 1) == pytest.approx(gpt16.alpha1 * s * s + gpt16.alpha2 * s)


def test_compute_scales_exactly_with_the_degree(gpt16):
    s = np.array([512, 4096, 70000])
    for d in (2, 4, 8, 16):
        np.testing.assert_allclose(gpt16.compute_time(s, d) * d, gpt16.compute_time(s, 1), rtol=1e-12)


def test_communication_uses_the_bandwidth_of_the_group(gpt16):
    s, layers, hidden = 32768, 32, 4096
    volume_mb = 4 * 2 * layers * hidden * s * 2 / 2**20
    for d in (2, 4, 8, 16):
        assert gpt16.comm_time(s, d) == pytest.approx(volume_mb / d / BANDWIDTH_GBS[d])
    # Crossing nodes (16) is much slower per token than staying inside one (8).
    assert gpt16.comm_time(s, 16) * 16 > 5 * gpt16.comm_time(s, 8) * 8


def test_token_capacity_follows_the_formula():
    cost = SPCostModel.gpt("7b", 16)
    states = 7.1174468994140625 * 16 / 16 * 1024
    assert cost.model_states_mb == pytest.approx(states)
    assert cost.token_capacity == math.floor((28 * 1024 - states) / 2.668764648) == 8012
    zero1 = SPCostModel.gpt("13b", 32, zero_stage=1, mem_limit_gb=80.0)
    assert zero1.model_states_mb == pytest.approx(13.11605453491211 * 16 * (6 / 8 / 32 + 2 / 8) * 1024)


def test_presets_carry_the_authors_constants():
    assert set(GPT_PRESETS) == {"7b", "13b", "30b"}
    assert SPCostModel.gpt("7b", 32).act_mb_per_token == GPT_PRESETS["7b"]["act_mb_per_token"]
    assert SPCostModel.gpt("gpt-30b", 64).layers == 60
    assert SPCostModel.gpt("7b", 16, beta=0.0).beta == 0.0


def test_min_degree_is_the_smallest_power_of_two_that_holds_the_sequence(gpt16):
    C = gpt16.token_capacity
    for s in (1, C, C + 1, 3 * C, 4 * C, 4 * C + 1, 16 * C):
        d = gpt16.min_degree(s)
        assert d & (d - 1) == 0 and s <= C * d
        assert d == 1 or s > C * d // 2


def test_a_sequence_longer_than_the_cluster_holds_is_refused(gpt16):
    with pytest.raises(ValueError, match="more than the 16 of the cluster"):
        gpt16.min_degree(16 * gpt16.token_capacity + 1)


def test_group_time_is_the_sum_plus_the_fixed_overhead(cost4):
    lens = [100, 300, 600]
    assert cost4.group_time(lens, 2) == pytest.approx(sum(cost4.seq_time(s, 2) for s in lens) + cost4.beta)
    assert cost4.group_time([], 2) == 0.0
    assert cost4.fits([1000, 1000], 2) and not cost4.fits([1000, 1001], 2)


@pytest.mark.parametrize("overrides, message", [
    (dict(n_devices=0), "n_devices"),
    (dict(mem_limit_gb=-1.0), "mem_limit_gb"),
    (dict(alpha1=float("nan")), "alpha1"),
    (dict(zero_stage=4), "zero_stage"),
    (dict(bandwidth_gbs={2: 0.0}), "bandwidth_gbs"),
    (dict(params_b=100.0), "does not hold the model states"),
])
def test_bad_parameters_name_the_argument(overrides, message, make_cost):
    with pytest.raises(ValueError, match=message):
        make_cost(**overrides)


def test_unknown_size_and_bandwidth_are_errors(cost4):
    with pytest.raises(ValueError, match="size must be one of"):
        SPCostModel.gpt("70b")
    with pytest.raises(ValueError, match="no all-to-all bandwidth for a group of 128"):
        cost4.seq_time(100, 128)
