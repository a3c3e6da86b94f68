"""The README's Python examples run, and print what their comments say."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def expected_prints(block: str) -> list[str]:
    """The ``# value`` comments written beside ``print(...)`` lines."""
    return [m.group(1).strip() for m in re.finditer(r"^print\(.*\)\s+#\s*(.+)$", block, flags=re.M)]


def test_readme_has_examples():
    assert len(python_blocks()) >= 2


def test_readme_examples_run_and_match_their_comments():
    namespace: dict = {}
    for block in python_blocks():
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(block, str(README), "exec"), namespace)
        printed = buffer.getvalue().splitlines()
        for expected in expected_prints(block):
            assert expected in printed, f"README says {expected!r}; the code printed {printed}"
