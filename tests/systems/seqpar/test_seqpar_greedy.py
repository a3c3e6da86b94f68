"""Longest-first assignment over groups (FlexSP's greedy warm starts, arXiv:2412.01523)."""

import numpy as np

from diversa.systems.seqpar import best_homogeneous, greedy_micro_batch, lpt_assign, sample_lengths
from diversa.systems.seqpar.greedy import two_degree_configs
from diversa.systems.seqpar.plan import micro_batch_time


def test_lpt_assigns_every_sequence_once_within_memory(make_cost):
    cost = make_cost(8, 1000)
    lens = np.array([1900, 1500, 900, 800, 400, 300, 100])
    groups = lpt_assign(cost, lens, range(7), [4, 2, 1, 1])
    assert sorted(i for _, g in groups for i in g) == list(range(7))
    assert all(cost.fits(lens[g], d) for d, g in groups)
    assert lpt_assign(cost, lens, range(7), [1, 1]) is None   # 1900 fits no group of one device


def test_the_heap_for_one_degree_equals_the_general_rule(gpt16):
    from diversa.systems.seqpar.greedy import _lpt_general, _lpt_one_degree

    for seed in range(30):
        lens = sample_lengths(int(seed * 3 + 1), seed, max_len=60_000, pad_to=32)
        ids = np.arange(len(lens))
        for d in (1, 2, 4, 8, 16):
            assert _lpt_one_degree(gpt16, lens, ids, d, 16 // d) == \
                _lpt_general(gpt16, lens, ids, np.full(16 // d, d))


def test_two_degree_layouts_use_every_device():
    layouts = list(two_degree_configs(16, (1, 2, 4, 8, 16), min_degree=4, n_sequences=6))
    assert layouts and all(sum(c) == 16 and len(set(c)) <= 2 and max(c) >= 4 and len(c) <= 6 for c in layouts)
    assert [16] in layouts and [8, 4, 4] in layouts and [4] * 4 in layouts


def test_the_greedy_is_never_slower_than_the_best_single_degree(make_cost):
    cost = make_cost(8, 2000)
    rng = np.random.default_rng(0)
    for _ in range(5):
        lens = rng.integers(50, 3000, size=5)
        need = min(d for d in (1, 2, 4, 8) if lens.max() <= 2000 * d)
        greedy = greedy_micro_batch(cost, lens, range(5), (1, 2, 4, 8), need)
        homogeneous = best_homogeneous(cost, lens, range(5), (1, 2, 4, 8))
        assert micro_batch_time(cost, lens, greedy) <= micro_batch_time(cost, lens, homogeneous) + 1e-9
