"""The examples in diversa's docstrings run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest

import diversa

MODULES = sorted(info.name for info in pkgutil.walk_packages(diversa.__path__, prefix="diversa.")
                 if not info.name.endswith("__main__"))


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name, one_thread):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {module_name}"
