"""What every command checks about its inputs and outputs before it starts the work.

The conventions, the same for every subcommand:

* ``-`` is standard input for an input and standard output for an output;
  at most one input of a command can be ``-``.
* An output is never the same file as an input (paths are resolved, links
  followed), nor a folder that is or lies inside an input folder, not even
  with ``--overwrite``: writing it would destroy the input.
* An existing output file is replaced only with ``--overwrite``.
* The output's folder must be creatable and writable, checked up front so
  that a long run does not fail at its very end.

All of these are usage mistakes (:class:`~diversa.cli.errors.UserError`, exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from diversa.cli.errors import UserError
from diversa.datasets.files import is_stdio, table_format

OVERWRITE_HELP = "replace existing output files (an input is never replaced)"


def add_overwrite(parser) -> None:
    """The ``--overwrite`` flag, spelled the same in every command."""
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def check_inputs(inputs: Iterable[tuple[str, object]]) -> None:
    """At most one of the ``(argument, path)`` inputs reads standard input."""
    stdin = [argument for argument, path in inputs if is_stdio(path)]
    if len(stdin) > 1:
        raise UserError(f"only one input can be '-' (standard input); {', '.join(stdin)} all are.")


def same_file(a, b) -> bool:
    """True when paths ``a`` and ``b`` name the same file (after resolving links and ``..``)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _check_not_an_input(path: Path, argument: str, inputs) -> None:
    for input_argument, input_path in inputs:
        if input_path is None or is_stdio(input_path):
            continue
        input_path = Path(input_path)
        if same_file(path, input_path) or (input_path.is_dir() and _inside(path, input_path)):
            raise UserError(f"{argument} {str(path)!r} is the input {input_argument} {str(input_path)!r}; "
                            "writing it would destroy the input. Choose another output.")


def _check_writable_folder(folder: Path, argument: str, shown) -> None:
    """The nearest existing ancestor of ``folder`` is a folder we can write into."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{argument} {str(shown)!r}: {str(existing)!r} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{argument} {str(shown)!r}: the folder {str(existing)!r} is not writable.")


def check_output_file(path, *, argument: str, inputs=(), overwrite: bool = False, table: bool = False) -> None:
    """Refuse an output file that is an input, a folder, exists without ``overwrite``, has an
    unsupported table extension (with ``table=True``) or cannot be created."""
    if path is None or is_stdio(path):
        return
    if table:
        try:
            table_format(path, argument=argument)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    path = Path(path)
    _check_not_an_input(path, argument, inputs)
    if path.is_dir():
        raise UserError(f"{argument} {str(path)!r} is a folder; give a file name.")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise UserError(f"{argument} {str(path)!r} exists; pass --overwrite to replace it.")
    _check_writable_folder(path.parent, argument, path)


def check_output_folder(folder, *, argument: str, files: Iterable[str], inputs=(), overwrite: bool = False) -> None:
    """Refuse an output folder that is ``-``, a file, an input folder or inside one, or that holds
    any of ``files`` already (without ``overwrite``); the folder itself may exist."""
    if is_stdio(folder):
        raise UserError(f"{argument} must be a folder; '-' (standard output) cannot hold several files.")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{argument} {str(folder)!r} is a file, not a folder.")
    _check_not_an_input(folder, argument, [(a, p) for a, p in inputs if p is not None and Path(p).is_dir()])
    for name in files:
        check_output_file(folder / name, argument=argument, inputs=inputs, overwrite=overwrite)
    _check_writable_folder(folder, argument, folder)


def json_text(payload) -> str:
    """``payload`` as valid JSON text: NaN and infinities become null, numpy values plain numbers."""
    import json
    import math

    import numpy as np

    def safe(value):
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): safe(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [safe(v) for v in value]
        return value

    return json.dumps(safe(payload), indent=2, allow_nan=False) + "\n"
