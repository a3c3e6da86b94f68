"""Write reproduction results: a console table, ``results.json``, ``report.md``, ``report.html`` and plots.

The report opens with one row per paper (its headline claim, the paper's
number beside ours, the verdict and the minimum detectable effect), then
gives each paper's secondary claims with raw and adjusted p-values, its
mechanism and regime diagnostics, and a plot of the per-unit pairs.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import diversa
from diversa.datasets.files import atomic_write_text
from diversa.reproduce.runner import CheckResult, ReproductionResult
from diversa.reproduce.verdict import RULE

STYLE = {"supported": "green", "contradicted": "red", "inconclusive": "yellow", "out of regime": "magenta",
         "pass": "green", "fail": "red"}
PLOT_COLOUR = {"supported": "tab:green", "contradicted": "tab:red", "inconclusive": "darkgoldenrod",
               "out of regime": "tab:purple", "pass": "tab:green", "fail": "tab:red"}


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def diff_with_ci(check: CheckResult) -> str:
    """Mean oriented difference with its 95% CI, e.g. ``+0.012 [0.004, 0.020]``."""
    e = check.evidence
    return f"{e.mean_diff:+.3g} [{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]"


def _means(check: CheckResult) -> str:
    c = check.check
    return (f"{c.method} {_fmt(float(np.mean(check.method_values)))} vs "
            f"{c.baseline} {_fmt(float(np.mean(check.baseline_values)))}")


def _statement(check: CheckResult) -> str:
    c = check.check
    if c.direction == "equivalent":
        return f"{c.claim} (within +-{_fmt(c.margin)})"
    return f"{c.claim} (margin {_fmt(c.margin)})" if c.margin else c.claim


def summary_rows(results: Sequence[ReproductionResult]) -> list[dict[str, str]]:
    """One row per paper: its headline claim and verdict (the first table of the report)."""
    rows = []
    for result in results:
        head = result.headline
        others = [c.outcome for c in result.of_kind("claim") if not c.headline]
        diagnostics = [c for c in result.checks if c.check.kind != "claim"]
        rows.append({
            "paper": result.reproduction.id,
            "headline claim": _statement(head),
            "paper's number": head.check.paper,
            "ours": f"{_means(head)}; diff {diff_with_ci(head)}",
            "p": _fmt(head.evidence.pvalue),
            "MDE": _fmt(head.evidence.mde),
            "verdict": result.verdict,
            "secondary": ", ".join(f"{others.count(v)} {v}" for v in dict.fromkeys(others)) or "-",
            "diagnostics passed": (f"{sum(c.outcome == 'pass' for c in diagnostics)}/{len(diagnostics)}"
                                   if diagnostics else "-"),
        })
    return rows


def check_rows(result: ReproductionResult, kind: str) -> list[dict[str, str]]:
    """The checks of one kind of one paper; claims carry raw and adjusted p and the MDE."""
    rows = []
    for check in sorted(result.of_kind(kind), key=lambda c: not c.headline):
        row = {
            "check": check.check.name + (" (headline)" if check.headline else ""),
            "statement": _statement(check),
            "metric": check.check.metric,
            "ours": _means(check),
            "diff [95% CI]": diff_with_ci(check),
            "p": _fmt(check.evidence.pvalue),
        }
        if kind == "claim":
            row.update({"p adj": _fmt(check.judgement.pvalue_adjusted), "MDE": _fmt(check.evidence.mde),
                        "paper": check.check.paper})
        row["verdict" if kind == "claim" else "outcome"] = check.outcome
        rows.append(row)
    return rows


def print_table(results: Sequence[ReproductionResult], console) -> None:
    """Print one row per paper with rich."""
    from rich.table import Table

    table = Table(title="diversa reproduce", show_lines=False)
    rows = summary_rows(results)
    for column in rows[0] if rows else []:
        table.add_column(column, overflow="fold",
                         max_width=40 if column in ("headline claim", "paper's number", "ours") else None)
    for row in rows:
        table.add_row(*[f"[{STYLE[v]}]{v}[/]" if k == "verdict" else v for k, v in row.items()])
    console.print(table)
    console.print("diff is oriented so that positive favours the claim; p: one-sided, sign-flip test "
                  "(independent units) or corrected resampled t-test; MDE: smallest effect detected "
                  "with 80% power. Secondary claims and diagnostics: see report.md.")


def write_report(results: Sequence[ReproductionResult], out_dir, *, command: str = "") -> Path:
    """Write ``results.json``, ``report.md``, ``report.html`` and one PNG per reproduction into ``out_dir``.

    Files are written to a temporary name and renamed into place, so a failed
    run never leaves a half-written report. Returns the report path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "diversa_version": diversa.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "command": command,
        "verdict_rule": RULE,
        "reproductions": [r.to_dict() for r in results],
    }
    for result in results:
        plot_reproduction(result, out / f"{result.reproduction.id}.png")
    atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    report = out / "report.md"
    atomic_write_text(report, render_markdown(results, payload))
    from diversa.reproduce.report_html import render_html

    plots = {r.reproduction.id: (out / f"{r.reproduction.id}.png").read_bytes() for r in results}
    atomic_write_text(out / "report.html", render_html(results, payload, plots))
    return report


def _markdown_table(rows: list[dict[str, str]]) -> list[str]:
    if not rows:
        return []
    header = list(rows[0])
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row[h].replace("|", "/") for h in header) + " |" for row in rows])


def render_markdown(results: Sequence[ReproductionResult], payload: dict) -> str:
    """The human report: the per-paper summary, then one section per paper."""
    lines = ["# diversa reproduce", "",
             f"diversa {payload['diversa_version']}, {payload['created']}, "
             f"{'quick' if results and results[0].quick else 'full'} mode.", "",
             f"Verdict rule: {payload['verdict_rule']}.", "", "## Summary", ""]
    lines += _markdown_table(summary_rows(results))
    for result in results:
        r = result.reproduction
        n = len(result.checks[0].seeds)
        lines += ["", f"## {r.id}: {r.title}", "", f"arXiv {r.arxiv}. Claim: {r.claim}", "",
                  f"Paper's result: {r.paper_result}", ""]
        if r.setup:
            lines += [f"Our setup: {r.setup}", ""]
        lines += [f"Verdict: **{result.verdict}**. {n} units ({r.unit.kind}: {r.unit.description}); "
                  f"{result.seconds:.1f} s wall and {result.cpu_seconds:.1f} s CPU summed over trials, "
                  f"slowest trial {result.slowest_trial_seconds:.1f} s.", "", "### Claims", ""]
        lines += _markdown_table(check_rows(result, "claim"))
        for kind, title in (("mechanism", "Mechanism checks"), ("regime", "Regime checks")):
            rows = check_rows(result, kind)
            if rows:
                lines += ["", f"### {title}", ""] + _markdown_table(rows)
        lines += ["", f"![{r.id}]({r.id}.png)"]
    return "\n".join(lines) + "\n"


def plot_reproduction(result: ReproductionResult, path: Path) -> None:
    """Per-unit paired values of every check (one panel each), outcome in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    checks = sorted(result.checks, key=lambda c: ({"claim": 0, "mechanism": 1, "regime": 2}[c.check.kind],
                                                  not c.headline))
    columns = min(len(checks), 5)
    n_rows = -(-len(checks) // columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(3.4 * columns, 3.5 * n_rows), squeeze=False)
    for ax in axes.flat[len(checks):]:
        ax.set_visible(False)
    for ax, check in zip(axes.flat, checks):
        base, meth = np.asarray(check.baseline_values), np.asarray(check.method_values)
        for b, m in zip(base, meth):
            ax.plot([0, 1], [b, m], color="0.7", lw=0.8, zorder=1)
        ax.scatter(np.zeros_like(base), base, color="tab:blue", s=14, zorder=2)
        ax.scatter(np.ones_like(meth), meth, color="tab:orange", s=14, zorder=2)
        ax.errorbar([0, 1], [base.mean(), meth.mean()], fmt="k_", markersize=18, zorder=3)
        ax.set_xticks([0, 1], [check.check.baseline, check.check.method], fontsize=7)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel(check.check.metric, fontsize=7)
        label = "headline" if check.headline else check.check.kind
        ax.set_title(f"{check.check.name} ({label}): {check.outcome}\n"
                     f"diff {diff_with_ci(check)}, p={_fmt(check.evidence.pvalue)}", fontsize=7,
                     color=PLOT_COLOUR[check.outcome])
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{result.reproduction.id} ({'quick' if result.quick else 'full'}): {result.verdict}", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
