"""Output folders of the checkpoint writers (``diversa merge``, ``merge-lora``, ``moe``).

A writer checks its output folder before any work, builds the result in a
hidden folder beside it, and swaps it into place only when complete, so a
failure leaves no half-written checkpoint and an overwritten folder is
replaced whole (the old one stays until the new one is in place).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from diversa.datasets.files import temporary_folder


def check_output_folder(out_dir: Path, overwrite: bool, inputs: Iterable = (), *, label: str = "OUT_DIR") -> None:
    """Refuse a file, a non-empty folder without ``overwrite``, or a folder that is, holds or lies inside an input."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"{label} {str(out_dir)!r} exists and is not a folder")
        if any(out_dir.iterdir()) and not overwrite:
            raise ValueError(f"{label} {str(out_dir)!r} exists and is not empty (pass overwrite=True / "
                             "--overwrite to replace it)")
    out = out_dir.resolve()
    for path in inputs:
        model = Path(path).resolve()
        if out == model or model in out.parents or out in model.parents:
            # Overwriting would destroy the input before it is read.
            raise ValueError(f"{label} {str(out_dir)!r} is, holds or lies inside the input model {str(path)!r}; "
                             "write to another folder")


@contextmanager
def staged_folder(out_dir: Path, prefix: str = "writing") -> Iterator[Path]:
    """A hidden folder beside ``out_dir`` to write into; moved to ``out_dir`` on success, removed on failure."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_folder(out_dir.parent, f".{out_dir.name}.{prefix}-")
    try:
        yield tmp
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = temporary_folder(out_dir.parent, f".{out_dir.name}.old-")
    os.rmdir(old)
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
