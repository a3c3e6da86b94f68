"""Reproductions: each paper's claim, a small experiment, a computed verdict.

One module per paper (named after its idea) declares a
:class:`~diversa.reproduce.registry.Reproduction`: the paper, its checks
(claims, one of them the headline, plus mechanism and regime diagnostics) as
paired :class:`~diversa.reproduce.registry.Check` s, what a unit is, and a
function that runs one unit. :func:`run_reproductions` runs the trials in
parallel and judges every check with the rule in :mod:`diversa.reproduce.verdict`;
:func:`write_report` writes ``results.json``, ``report.md`` and plots.
``reproduce/testbeds/`` holds the trained-model fixtures the experiments share.
"""

from diversa.reproduce.registry import (
    Check,
    Reproduction,
    TrialResult,
    Units,
    available_ids,
    get,
    register,
    resampled_units,
)
from diversa.reproduce.report import write_report
from diversa.reproduce.runner import run_reproductions

__all__ = ["Check", "Reproduction", "TrialResult", "Units", "available_ids", "get", "register",
           "resampled_units", "run_reproductions", "write_report"]
