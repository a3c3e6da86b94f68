"""Helpers shared by the merge tests."""

import copy

import torch


def make_sd(seed: int, scale: float = 1.0, dtype=torch.float32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "l1.weight": (scale * torch.randn(6, 5, generator=g)).to(dtype),
        "l1.bias": (scale * torch.randn(6, generator=g)).to(dtype),
        "l2.weight": (scale * torch.randn(3, 6, generator=g)).to(dtype),
        "bn.num_batches_tracked": torch.tensor(seed, dtype=torch.int64),
    }


def single_tensor_sd(tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """A state dict holding one tensor, to call the state-dict merges on bare tensors."""
    return {"w": tensor}


def snapshot(*sds):
    return copy.deepcopy(sds)


def assert_unchanged(before, after):
    for a, b in zip(before, after):
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for k in a:
                assert torch.equal(a[k], b[k]), k
        else:
            assert_unchanged(a, b)


def peft_merge_utils():
    """peft's ``peft/utils/merge_utils.py``, loaded on its own (skip the test when peft is absent).

    The file imports only torch; loading it directly skips ``import peft``,
    which pulls in transformers and costs ~10 s.
    """
    import importlib.util
    from pathlib import Path

    import pytest

    spec = importlib.util.find_spec("peft")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("peft is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "utils" / "merge_utils.py"
    module_spec = importlib.util.spec_from_file_location("_peft_merge_utils", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
