"""Reproductions: each paper's claim, a small experiment, a computed verdict.

One module per paper (named after its idea) declares a
:class:`~diversa.reproduce.registry.Reproduction`: the paper, its claims as
paired :class:`~diversa.reproduce.registry.Check` s, and a function that runs
one seed/fold. :func:`run_reproductions` runs the trials in parallel and
decides each check with the rule in :mod:`diversa.reproduce.verdict`;
:func:`write_report` writes ``results.json``, ``report.md`` and plots.
``reproduce/testbeds/`` holds the trained-model fixtures the experiments share.
"""

from diversa.reproduce.registry import Check, Reproduction, TrialResult, available_ids, get, register
from diversa.reproduce.report import write_report
from diversa.reproduce.runner import run_reproductions

__all__ = ["Check", "Reproduction", "TrialResult", "available_ids", "get", "register",
           "run_reproductions", "write_report"]
