"""Errors the command line reports as one line, and the parser that raises them."""

from __future__ import annotations

import argparse
import textwrap


class UserError(Exception):
    """A mistake in what the user asked for, reported as one line."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, plus the default of each option that takes a value, and indented lines
    (examples) kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (not action.option_strings or action.nargs == 0 or default is None or default == argparse.SUPPRESS
                or "default" in text.lower()):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"

    def _fill_text(self, text, width, indent):
        lines = []
        for line in text.splitlines():
            if line.startswith("  "):
                lines.append(indent + line)
            else:
                lines.append(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
                             if line.strip() else "")
        return "\n".join(lines)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr rather than usage plus message."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UserError(f"{message} (see `{self.prog} --help`)")
