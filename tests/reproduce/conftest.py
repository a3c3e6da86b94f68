"""Fixtures shared by the reproduction tests."""

import pytest


#: Epochs of the shortened but trained MergeDigits-8 (pre-training, fine-tuning): merges behave as on the
#: real testbed (pre-trained body ~0.55 normalized, Task Arithmetic ~0.7), each build ~1 s.
TRAINED_MERGE_EPOCHS = (10, 4)


@pytest.fixture(scope="session")
def _trained_merge_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("merge_digits_trained")


@pytest.fixture
def trained_merge_testbed(monkeypatch, _trained_merge_cache, one_thread):
    """MergeDigits-8 with shortened training, built once per test session in a private cache."""
    from diversa.reproduce.testbeds import merge_digits

    monkeypatch.setattr(merge_digits, "PRETRAIN_EPOCHS", TRAINED_MERGE_EPOCHS[0])
    monkeypatch.setattr(merge_digits, "FINETUNE_EPOCHS", TRAINED_MERGE_EPOCHS[1])
    monkeypatch.setenv("DIVERSA_CACHE", str(_trained_merge_cache))


#: Training steps of the shortened base MoE of the compression tests (less accurate than the real one).
SHORT_MOE_STEPS = 150


@pytest.fixture(scope="session")
def _short_moe_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("moe_compression")


@pytest.fixture
def short_moe_compression(monkeypatch, _short_moe_cache, one_thread):
    """The MoE compression testbed with its base trained 150 steps (built once per test session).

    Returns ``share_one_model(module)``: it makes a reproduction module's units share seed 0's model while each
    draws its own calibration and test data, so many units cost one training run.
    """
    from diversa.reproduce.testbeds import moe_compression

    monkeypatch.setenv("DIVERSA_CACHE", str(_short_moe_cache))
    monkeypatch.setattr(moe_compression, "BASE_STEPS", SHORT_MOE_STEPS)
    monkeypatch.setattr(moe_compression, "OFF_FLOOR", 0.3)
    build = moe_compression.compression_testbed

    def shared_model(seed, **kwargs):
        tasks = moe_compression.BASE_TASKS
        calib = moe_compression.AlgoTasks(tasks, seed=100 + seed).sample(64)
        test = moe_compression.make_test_set(tasks, n_per_task=32, seed=200 + seed)
        return build(0, **kwargs)._replace(calib=calib, calib_mask=calib.input_ids != 10, test=test)

    def share_one_model(module):
        monkeypatch.setattr(module, "compression_testbed", shared_model)

    return share_one_model
