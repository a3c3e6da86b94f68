"""The testbed cache builds a missing entry once, even when workers ask for it together."""

import multiprocessing
import os
import time

import torch

from diversa.reproduce.testbeds.cache import cache_root, load_or_build


def _slow_build(counter_dir):
    # Each call leaves a file behind, so the test can count builds across processes.
    open(os.path.join(counter_dir, f"build-{os.getpid()}-{time.time_ns()}"), "w").close()
    time.sleep(0.5)
    return {"weights": torch.arange(3.0)}


def _worker(path, counter_dir, queue):
    payload = load_or_build(path, lambda: _slow_build(counter_dir))
    queue.put(payload["weights"].tolist())


def test_parallel_workers_build_a_missing_testbed_once(tmp_path):
    path = tmp_path / "cache" / "bed.pt"
    counter = tmp_path / "builds"
    counter.mkdir()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(path, str(counter), queue)) for _ in range(3)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert results == [[0.0, 1.0, 2.0]] * 3
    assert len(list(counter.iterdir())) == 1


def test_corrupt_or_stale_entries_are_rebuilt(tmp_path):
    path = tmp_path / "bed.pt"
    path.write_bytes(b"not a torch file")
    assert load_or_build(path, lambda: {"v": 2})["v"] == 2
    assert load_or_build(path, lambda: {"v": 3}, is_valid=lambda p: p["v"] == 3)["v"] == 3
    assert load_or_build(path, lambda: {"v": 4})["v"] == 3  # a valid entry is reused


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.setenv("DIVERSA_CACHE", "0")
    assert cache_root() is None
    assert load_or_build(None, lambda: {"fresh": True}) == {"fresh": True}
