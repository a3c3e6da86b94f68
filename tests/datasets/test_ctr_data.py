"""make_ctr: shapes, ranges, base CTR, long tail, determinism, bad input."""

import numpy as np
import pytest

from diversa.datasets.ctr import DEFAULT_FIELD_DIMS, make_ctr


def test_shapes_ranges_and_base_rate():
    data = make_ctr(20_000, random_state=0)
    assert data.X_cat.shape == (20_000, len(DEFAULT_FIELD_DIMS)) and data.X_cat.dtype == np.int64
    assert data.X_dense.shape == (20_000, 3) and data.y.shape == (20_000,)
    assert (data.X_cat >= 0).all() and (data.X_cat < np.array(DEFAULT_FIELD_DIMS)).all()
    assert set(np.unique(data.y)) == {0, 1}
    assert abs(data.y.mean() - 0.15) < 0.015  # b0 fixes the mean probability; y is Bernoulli noise around it


def test_ids_are_long_tailed():
    ids = make_ctr(20_000, random_state=1).X_cat[:, 0]
    counts = np.sort(np.bincount(ids, minlength=DEFAULT_FIELD_DIMS[0]))[::-1]
    assert counts[:20].sum() > 0.3 * len(ids)  # a few head ids carry much of the traffic
    assert (counts == 0).sum() > 100  # and many ids never occur


def test_same_seed_same_data_and_different_seeds_differ():
    a, b, c = make_ctr(500, random_state=3), make_ctr(500, random_state=3), make_ctr(500, random_state=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a.X_cat, c.X_cat)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "n must be"), ({"n": 10, "field_dims": (5,)}, "field_dims"),
    ({"n": 10, "base_ctr": 1.0}, "base_ctr"), ({"n": 10, "latent_dim": 0}, "latent_dim"),
    ({"n": 10, "n_dense": -1}, "n_dense"), ({"n": 10, "zipf_a": 0}, "zipf_a"),
])
def test_bad_input_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_ctr(**kwargs)
