import torch

from diversa.reproduce.testbeds import moe_lm


def test_base_moe_is_cached_and_reloaded(monkeypatch, tmp_path):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = moe_lm.base_moe(1, steps=3, batch_size=4)
        files = list((tmp_path / "experts").glob("base_moe_1_3_*.pt"))
        assert len(files) == 1
        again = moe_lm.base_moe(1, steps=3, batch_size=4)
        ids = torch.randint(0, 10, (2, 24))
        assert torch.equal(first(ids).logits, again(ids).logits) and not again.training
        monkeypatch.setenv("DIVERSA_CACHE", "0")
        assert moe_lm.cache_dir() is None
    finally:
        torch.set_num_threads(previous)


def test_base_dense_is_dense_and_cached_apart_from_the_moe(monkeypatch, tmp_path, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    dense = moe_lm.base_dense(1, steps=3, batch_size=4)
    moe = moe_lm.base_moe(1, steps=3, batch_size=4)
    assert dense.config.moe is None and moe.config.moe is not None
    assert len(list((tmp_path / "experts").glob("base_dense_1_3_*.pt"))) == 1
    ids = torch.randint(0, 10, (2, 24))
    assert torch.equal(dense(ids).logits, moe_lm.base_dense(1, steps=3, batch_size=4)(ids).logits)
