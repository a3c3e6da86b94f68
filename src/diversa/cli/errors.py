"""Errors the command line reports as one line, and the parser that raises them."""

from __future__ import annotations

import argparse


class UserError(Exception):
    """A mistake in what the user asked for, reported as one line."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr rather than usage plus message."""

    def error(self, message: str):
        raise UserError(f"{message} (see `{self.prog} --help`)")
