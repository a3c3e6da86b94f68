"""The on-disk cache of trained testbeds, shared safely by parallel workers.

Testbeds live under ``$DIVERSA_CACHE`` (default ``~/.cache/diversa``;
``DIVERSA_CACHE=0`` turns caching off). When several worker processes ask for
the same missing testbed, one builds it under an exclusive file lock while the
others wait and then load it, so a run builds each testbed once instead of
once per worker. Files are written to a temporary name and renamed into
place, so a crash never leaves a half-written entry; an unreadable or stale
entry is rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from diversa.datasets.files import atomic_write_bytes

__all__ = ["cache_root", "load_or_build"]


def cache_root() -> Path | None:
    """``$DIVERSA_CACHE`` or ``~/.cache/diversa``; None when ``DIVERSA_CACHE=0``."""
    root = os.environ.get("DIVERSA_CACHE", "")
    if root == "0":
        return None
    return Path(root) if root else Path.home() / ".cache" / "diversa"


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load(path: Path, is_valid: Callable[[Any], bool]) -> Any | None:
    if not path.is_file():
        return None
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        return None  # corrupt or foreign: rebuild
    return payload if is_valid(payload) else None


def _save(payload: Any, path: Path) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_or_build(path: Path | None, build: Callable[[], Any], *,
                  is_valid: Callable[[Any], bool] = lambda payload: True) -> Any:
    """The cached payload at ``path``, built by ``build()`` (once across processes) when missing.

    ``path=None`` means no caching: ``build()`` is called. The payload must be
    loadable with ``torch.load(weights_only=True)`` (tensors, numbers,
    strings, lists and dicts of them).
    """
    if path is None:
        return build()
    payload = _load(path, is_valid)
    if payload is not None:
        return payload
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(path.with_name(path.name + ".lock")):
        payload = _load(path, is_valid)  # built by another worker while this one waited
        if payload is None:
            payload = build()
            _save(payload, path)
    return payload
