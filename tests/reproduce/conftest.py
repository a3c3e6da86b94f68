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
