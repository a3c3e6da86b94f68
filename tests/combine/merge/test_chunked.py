"""Row-block merging equals the pure functions on the whole tensor."""

import warnings

import pytest
import torch

from diversa.combine.merge import (
    dare_merging,
    magnitude_prune_merging,
    pcb_merging,
    task_arithmetic,
    ties_merging,
    weight_average,
)
from diversa.combine.merge.chunked import chunkable, kth_largest, merge_rows


@pytest.fixture
def tensors():
    """A base and three models whose task vectors have exact magnitude ties across rows."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(37, 5, generator=g)
    models = [base + 0.1 * torch.randn(37, 5, generator=g) for _ in range(3)]
    for m in models:  # equal |delta| in rows 3, 11 and 30: the trim must keep the first tied entries
        for row in (3, 11, 30):
            m[row] = base[row]
        m[3, 1], m[11, 4], m[30, 0] = base[3, 1] + 0.25, base[11, 4] - 0.25, base[30, 0] + 0.25
    return base, models


def _rows(t):
    return lambda start, stop: t[start:stop] if t.dim() else t


def _whole(function, kwargs, base, models):
    if function is weight_average:
        return function([{"w": m} for m in models], keys=["w"], **kwargs)["w"]
    return function({"w": base}, [{"w": m} for m in models], keys=["w"], **kwargs)["w"]


CASES = [
    (ties_merging, {"density": [0.3, 0.5, 0.01], "weights": [1.0, 0.5, 2.0], "convention": "mergekit"}),
    (ties_merging, {"density": 0.2, "convention": "peft", "scaling": 1.3, "sign_method": "count"}),
    (magnitude_prune_merging, {"density": [0.25, 0.1, 0.6], "weights": [1.0, 0.5, 0.2]}),
    (dare_merging, {"drop_rate": 0.7, "combine": "ties", "rescale": "l1", "convention": "mergekit",
                    "random_state": 3, "weights": [1.0, 0.5, 2.0]}),
    (dare_merging, {"drop_rate": [0.7, 0.2, 0.0], "rescale": "inverse", "random_state": 4}),
    (dare_merging, {"drop_rate": 0.5, "rescale": "l1", "random_state": 4, "normalize": True}),
    (weight_average, {"weights": [1.0, 2.0, 3.0]}),
    (task_arithmetic, {"scaling": [0.3, 0.5, 1.0]}),
]


@pytest.mark.parametrize("function,kwargs", CASES, ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("rows_per_chunk", [1, 4, 100])
def test_row_blocks_equal_the_whole_tensor(tensors, function, kwargs, rows_per_chunk):
    base, models = tensors
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # density 0.01 keeps 1 entry (mergekit) and says so
        expected = _whole(function, kwargs, base, models)
        blocks = list(merge_rows(function, kwargs, "w", _rows(base), [_rows(m) for m in models], base.shape,
                                 rows_per_chunk))
    assert len(blocks) == -(-37 // rows_per_chunk)
    out = torch.cat(blocks)
    if function is dare_merging and kwargs["rescale"] == "l1":
        # the L1 norms are summed block by block: the rescaling factor may differ in its last float32 bit
        torch.testing.assert_close(out, expected, atol=1e-7, rtol=1e-6)
    else:
        assert torch.equal(out, expected)


def test_one_dimensional_and_scalar_tensors(tensors):
    base, models = tensors
    kwargs = {"density": 0.4, "convention": "peft"}
    for b, ms in ((base[:, 0], [m[:, 0] for m in models]), (base[0, 0], [m[0, 0] for m in models])):
        expected = _whole(ties_merging, kwargs, b, ms)
        out = list(merge_rows(ties_merging, kwargs, "w", _rows(b), [_rows(m) for m in ms], b.shape, 3))
        assert torch.equal(torch.cat(out) if b.dim() else out[0], expected)


def test_kth_largest_matches_kthvalue_with_duplicates():
    g = torch.Generator().manual_seed(1)
    values = torch.randint(0, 40, (500,), generator=g).float() / 8  # many exact duplicates
    values[::7] = 0.0
    for k in (1, 2, 57, 250, 500):
        threshold, greater = kth_largest(lambda: iter(values.split(33)), k)
        expected = torch.kthvalue(values, 500 - k + 1).values
        assert threshold == expected and greater == int((values > expected).sum())
    with pytest.raises(ValueError, match="exceeds"):
        kth_largest(lambda: iter([values]), 501)


def test_which_methods_are_chunked():
    assert chunkable(ties_merging, {"zero_sign": "positive"})
    assert not chunkable(ties_merging, {"zero_sign": "majority"})  # majority is a sum over the whole tensor
    assert not chunkable(dare_merging, {"random_state": None})  # the global generator's order is per tensor
    assert not chunkable(pcb_merging, {})
    with pytest.raises(ValueError, match="cannot be merged in row chunks"):
        next(merge_rows(pcb_merging, {}, "w", _rows(torch.zeros(2)), [_rows(torch.zeros(2))] * 2, (2,), 1))


@pytest.mark.parametrize("epsilon", [1e-5, 0.08])
def test_ram_in_row_blocks(tensors, epsilon):
    from diversa.combine.merge import ram_merging

    base, models = tensors
    kwargs = {"epsilon": epsilon}
    expected = ram_merging({"w": base}, [{"w": m} for m in models], keys=["w"], **kwargs)["w"]
    assert chunkable(ram_merging, kwargs)
    blocks = list(merge_rows(ram_merging, kwargs, "w", _rows(base), [_rows(m) for m in models], base.shape, 4))
    assert len(blocks) > 1 and torch.equal(torch.cat(blocks), expected)


@pytest.mark.parametrize("method", ["nearswap", "passthrough"])
def test_elementwise_one_model_methods_in_row_blocks(tensors, method):
    from diversa.combine.merge import nearswap, passthrough

    base, models = tensors
    if method == "nearswap":
        function, kwargs = nearswap, {"t": 0.05}
        expected = nearswap({"w": base}, [{"w": models[0]}], keys=["w"], **kwargs)["w"]
    else:
        function, kwargs = passthrough, {"scale": 0.5}
        expected = passthrough([{"w": models[0]}], keys=["w"], **kwargs)["w"]
    assert chunkable(function, kwargs)
    blocks = list(merge_rows(function, kwargs, "w", _rows(base), [_rows(models[0])], base.shape, 4))
    assert torch.equal(torch.cat(blocks), expected)
