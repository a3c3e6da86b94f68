"""Fixtures shared by the reproduction tests."""

import pytest


@pytest.fixture
def short_merge_testbed(monkeypatch, tmp_path, one_thread):
    """MergeDigits-8 with 2-epoch training in a private cache, torch on one thread."""
    from diversa.reproduce.testbeds import merge_digits

    monkeypatch.setattr(merge_digits, "PRETRAIN_EPOCHS", 2)
    monkeypatch.setattr(merge_digits, "FINETUNE_EPOCHS", 2)
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
