"""Write reproduction results: a console table, ``results.json``, ``report.md`` and plots."""

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

VERDICT_STYLE = {"supported": "green", "not supported": "red", "inconclusive": "yellow"}


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def diff_with_ci(check: CheckResult) -> str:
    """Mean claim-oriented difference with its 95% CI, e.g. ``+0.012 [0.004, 0.020]``."""
    v = check.verdict
    return f"{v.mean_diff:+.3g} [{_fmt(v.ci_low)}, {_fmt(v.ci_high)}]"


def summary_rows(results: Sequence[ReproductionResult]) -> list[dict[str, str]]:
    """One row per check: the columns of the console table and of report.md."""
    rows = []
    for result in results:
        for check in result.checks:
            c = check.check
            rows.append({
                "id": result.reproduction.id,
                "check": c.name,
                "metric": c.metric,
                "baseline": f"{c.baseline} {_fmt(float(np.mean(check.baseline_values)))}",
                "method": f"{c.method} {_fmt(float(np.mean(check.method_values)))}",
                "diff [95% CI]": diff_with_ci(check),
                "p": _fmt(check.verdict.pvalue),
                "verdict": check.verdict.verdict,
                "paper": c.paper,
            })
    return rows


def print_table(results: Sequence[ReproductionResult], console) -> None:
    """Print the summary table with rich."""
    from rich.table import Table

    table = Table(title="diversa reproduce", show_lines=False)
    rows = summary_rows(results)
    for column in rows[0] if rows else []:
        table.add_column(column, overflow="fold", max_width=36 if column in ("paper", "metric") else None)
    for row in rows:
        style = VERDICT_STYLE[row["verdict"]]
        table.add_row(*[f"[{style}]{v}[/]" if k == "verdict" else v for k, v in row.items()])
    console.print(table)
    console.print("diff is oriented so that positive favours the paper's claim; "
                  "p: one-sided Wilcoxon signed-rank over seeds/folds.")


def write_report(results: Sequence[ReproductionResult], out_dir, *, command: str = "") -> Path:
    """Write ``results.json``, ``report.md`` and one PNG per reproduction into ``out_dir``.

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
        "verdict_rule": ("supported: one-sided Wilcoxon p < 0.05 and 95% paired-bootstrap CI of the "
                         "mean difference above 0; not supported: CI below 0, or mean difference <= 0; "
                         "otherwise inconclusive"),
        "reproductions": [r.to_dict() for r in results],
    }
    for result in results:
        plot_reproduction(result, out / f"{result.reproduction.id}.png")
    atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    report = out / "report.md"
    atomic_write_text(report, render_markdown(results, payload))
    return report


def render_markdown(results: Sequence[ReproductionResult], payload: dict) -> str:
    """The human report: summary table, then one section per paper with its plot."""
    rows = summary_rows(results)
    lines = ["# diversa reproduce", "",
             f"diversa {payload['diversa_version']}, {payload['created']}, "
             f"{'quick' if results and results[0].quick else 'full'} mode.", "",
             f"Verdict rule: {payload['verdict_rule']}.", ""]
    if rows:
        header = list(rows[0])
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row[h].replace("|", "/") for h in header) + " |" for row in rows]
    for result in results:
        r = result.reproduction
        lines += ["", f"## {r.id}: {r.title}", "",
                  f"arXiv {r.arxiv}. Claim: {r.claim}", "",
                  f"Paper's result: {r.paper_result}", ""]
        if r.setup:
            lines += [f"Our setup: {r.setup}", ""]
        lines += [f"{len(result.checks[0].seeds)} seeds/folds, {result.seconds:.1f} s of compute.", ""]
        for check in result.checks:
            lines.append(f"- **{check.check.name}** ({check.check.claim}): "
                         f"{check.check.method} vs {check.check.baseline}, diff {diff_with_ci(check)}, "
                         f"p = {_fmt(check.verdict.pvalue)} -> **{check.verdict.verdict}**")
        lines += ["", f"![{r.id}]({r.id}.png)"]
    return "\n".join(lines) + "\n"


def plot_reproduction(result: ReproductionResult, path: Path) -> None:
    """Per-seed paired values of every check (one panel each), with the verdict in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.checks)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    for ax, check in zip(axes[0], result.checks):
        base, meth = np.asarray(check.baseline_values), np.asarray(check.method_values)
        for b, m in zip(base, meth):
            ax.plot([0, 1], [b, m], color="0.7", lw=0.8, zorder=1)
        ax.scatter(np.zeros_like(base), base, color="tab:blue", s=14, zorder=2)
        ax.scatter(np.ones_like(meth), meth, color="tab:orange", s=14, zorder=2)
        ax.errorbar([0, 1], [base.mean(), meth.mean()], fmt="k_", markersize=18, zorder=3)
        ax.set_xticks([0, 1], [check.check.baseline, check.check.method], fontsize=8)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel(check.check.metric, fontsize=8)
        ax.set_title(f"{check.check.name}: {check.verdict.verdict}\n"
                     f"diff {diff_with_ci(check)}, p={_fmt(check.verdict.pvalue)}", fontsize=8,
                     color=VERDICT_STYLE[check.verdict.verdict].replace("yellow", "darkgoldenrod"))
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{result.reproduction.id} ({'quick' if result.quick else 'full'})", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
