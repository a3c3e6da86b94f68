"""``report.html``: the reproduction report as one self-contained web page.

Beside ``report.md`` it gives the same content in a form that is easier to
browse when there are many papers: a summary table of headline verdicts that
sorts (click a column head) and filters (paper, area, verdict), then one
section per paper with its claims, the paper's number beside ours, the
mechanism and regime diagnostics, the per-unit diagnostics and the plot. The
plots are embedded as ``data:`` URIs and the script and style are inline, so
the file opens offline and can be sent as it is.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence

from diversa.reproduce.report import check_rows, summary_rows
from diversa.reproduce.runner import ReproductionResult

#: The research area of each of diversa's reproductions (the summary's area filter).
AREAS = {
    **dict.fromkeys(("aioli", "influence", "kmq", "odis", "quadmix", "qtuning", "uds"), "data selection"),
    **dict.fromkeys(("smote", "dice-loss", "mdcs", "sade"), "imbalance and long tails"),
    **dict.fromkeys(("adamoe", "lora-mixer", "mc-smoe", "scmoe", "sigma-moe-tiny", "smora", "sub-moe"),
                    "mixture of experts"),
    **dict.fromkeys(("lmc-weight-matching", "merge-baselines", "pcb-merging", "rmm", "twin-merging", "xcross"),
                    "model merging"),
    **dict.fromkeys(("aware-net", "pathologies", "weaver", "llmonade"), "ensembles and inference"),
    **dict.fromkeys(("crossvid", "posthoc-mia", "raschka-eval", "swiss-csd"), "evaluation"),
    **dict.fromkeys(("afm-ctr", "dcov-fairness", "fold-se", "gmnas", "practical-ncd", "r-mtgb", "recut", "slws"),
                    "learning and training"),
    **dict.fromkeys(("flexsp", "ibmsvs", "mccd"), "systems and applications"),
}

#: Order of the verdicts when the summary is sorted by verdict.
VERDICT_ORDER = ("supported", "inconclusive", "out of regime", "contradicted")

_COLOURS = {"supported": "#1a7f37", "contradicted": "#cf222e", "inconclusive": "#9a6700",
            "out of regime": "#8250df", "pass": "#1a7f37", "fail": "#cf222e"}

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 78rem; padding: 0 1rem; color: #1f2328; }
table { border-collapse: collapse; margin: .5rem 0 1rem; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
#summary th[data-key] { cursor: pointer; user-select: none; white-space: nowrap; }
#summary th[aria-sort=ascending]::after { content: " \\25B2"; }
#summary th[aria-sort=descending]::after { content: " \\25BC"; }
.verdict { font-weight: 600; }
.filters { display: flex; gap: 1rem; flex-wrap: wrap; align-items: center; margin: .5rem 0; }
section { border-top: 2px solid #d0d7de; margin-top: 2rem; }
img { max-width: 100%; }
details { margin: .5rem 0; }
.muted { color: #59636e; }
""" + "".join(f'[data-outcome="{v}"] {{ color: {c}; }}\n' for v, c in _COLOURS.items())

_SCRIPT = """
(function () {
  const table = document.getElementById("summary");
  const body = table.tBodies[0];
  const order = JSON.parse(table.dataset.verdictOrder);
  function key(row, name) {
    const v = row.dataset[name];
    if (name === "verdict") return order.indexOf(v);
    if (name === "p" || name === "mde") { const x = parseFloat(v); return isNaN(x) ? Infinity : x; }
    return v;
  }
  function sortBy(th) {
    const name = th.dataset.key;
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    for (const other of table.querySelectorAll("th[data-key]")) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = key(a, name), y = key(b, name);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? c : -c;
    });
    for (const row of rows) body.appendChild(row);
  }
  for (const th of table.querySelectorAll("th[data-key]")) th.addEventListener("click", function () { sortBy(th); });
  const paper = document.getElementById("filter-paper");
  const area = document.getElementById("filter-area");
  const verdict = document.getElementById("filter-verdict");
  const shown = document.getElementById("shown");
  function filter() {
    const text = paper.value.trim().toLowerCase();
    let n = 0;
    for (const row of body.rows) {
      const keep = (!text || row.dataset.paper.includes(text) || row.dataset.title.includes(text))
        && (!area.value || row.dataset.area === area.value)
        && (!verdict.value || row.dataset.verdict === verdict.value);
      row.hidden = !keep;
      n += keep ? 1 : 0;
    }
    shown.textContent = n + " of " + body.rows.length + " papers";
  }
  for (const control of [paper, area, verdict]) for (const event of ["input", "change"]) control.addEventListener(event, filter);
  filter();
})();
"""

#: Summary columns: (heading, key of :func:`summary_rows`, data attribute the column sorts by or None).
_SUMMARY_COLUMNS = (("paper", "paper", "paper"), ("area", None, "area"), ("headline claim", "headline claim", None),
                    ("paper's number", "paper's number", None), ("ours", "ours", None), ("p", "p", "p"),
                    ("MDE", "MDE", "mde"), ("verdict", "verdict", "verdict"), ("secondary", "secondary", None),
                    ("diagnostics passed", "diagnostics passed", None))


def area_of(reproduction_id: str) -> str:
    """The research area of a reproduction ("other" for one registered from outside diversa)."""
    return AREAS.get(reproduction_id, "other")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _cell(key: str, value: str) -> str:
    if key in ("verdict", "outcome"):
        return f'<td class="verdict" data-outcome="{_e(value)}">{_e(value)}</td>'
    return f"<td>{_e(value)}</td>"


def _table(rows: list[dict[str, str]]) -> list[str]:
    if not rows:
        return []
    head = "".join(f"<th>{_e(h)}</th>" for h in rows[0])
    return (["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
            + ["<tr>" + "".join(_cell(k, v) for k, v in row.items()) + "</tr>" for row in rows]
            + ["</tbody>", "</table>"])


def _summary(results: Sequence[ReproductionResult]) -> list[str]:
    areas = sorted({area_of(r.reproduction.id) for r in results})
    verdicts = [v for v in VERDICT_ORDER if any(r.verdict == v for r in results)]
    lines = ['<div class="filters">',
             '<label>paper <input id="filter-paper" type="search" placeholder="id or title"></label>',
             '<label>area <select id="filter-area"><option value="">all</option>'
             + "".join(f'<option value="{_e(a)}">{_e(a)}</option>' for a in areas) + "</select></label>",
             '<label>verdict <select id="filter-verdict"><option value="">all</option>'
             + "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in verdicts) + "</select></label>",
             '<span id="shown" class="muted"></span>', "</div>",
             f'<table id="summary" data-verdict-order="{_e(json.dumps(VERDICT_ORDER))}">', "<thead><tr>"]
    lines += [f'<th data-key="{key}">{_e(h)}</th>' if key else f"<th>{_e(h)}</th>" for h, _, key in _SUMMARY_COLUMNS]
    lines += ["</tr></thead>", "<tbody>"]
    for result, row in zip(results, summary_rows(results)):
        rid = result.reproduction.id
        head = result.headline.evidence
        data = {"paper": rid, "title": result.reproduction.title.lower(), "area": area_of(rid),
                "verdict": result.verdict, "p": repr(float(head.pvalue)), "mde": repr(float(head.mde))}
        attributes = " ".join(f'data-{k}="{_e(v)}"' for k, v in data.items())
        cells = []
        for _, key, _ in _SUMMARY_COLUMNS:
            if key == "paper":
                cells.append(f'<td><a href="#paper-{_e(rid)}">{_e(rid)}</a></td>')
            elif key is None:
                cells.append(f"<td>{_e(area_of(rid))}</td>")
            else:
                cells.append(_cell(key, row[key]))
        lines.append(f"<tr {attributes}>" + "".join(cells) + "</tr>")
    return lines + ["</tbody>", "</table>"]


def _diagnostics(result: ReproductionResult) -> list[str]:
    """Per-unit diagnostics (what each trial reported beside its pairs), folded away."""
    if not result.diagnostics:
        return []
    keys = list(dict.fromkeys(k for d in result.diagnostics for k in d))
    rows = [{k: _compact(d.get(k, "")) for k in keys} for d in result.diagnostics]
    return ["<details>", f"<summary>per-unit diagnostics ({len(rows)} units)</summary>", *_table(rows), "</details>"]


def _compact(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _section(result: ReproductionResult, plot: bytes | None) -> list[str]:
    r = result.reproduction
    n = len(result.checks[0].seeds)
    lines = [f'<section id="paper-{_e(r.id)}">', f"<h2>{_e(r.id)}: {_e(r.title)}</h2>",
             f"<p>arXiv {_e(r.arxiv)} &middot; area: {_e(area_of(r.id))}. Claim: {_e(r.claim)}</p>",
             f"<p>Paper's result: {_e(r.paper_result)}</p>"]
    if r.setup:
        lines.append(f"<p>Our setup: {_e(r.setup)}</p>")
    lines.append(f'<p>Verdict: <span class="verdict" data-outcome="{_e(result.verdict)}">{_e(result.verdict)}</span>. '
                 f"{n} units ({_e(r.unit.kind)}: {_e(r.unit.description)}); {result.seconds:.1f} s wall and "
                 f"{result.cpu_seconds:.1f} s CPU summed over trials, slowest trial "
                 f"{result.slowest_trial_seconds:.1f} s.</p>")
    lines += ["<h3>Claims</h3>", *_table(check_rows(result, "claim"))]
    for kind, title in (("mechanism", "Mechanism checks"), ("regime", "Regime checks")):
        rows = check_rows(result, kind)
        if rows:
            lines += [f"<h3>{title}</h3>", *_table(rows)]
    lines += _diagnostics(result)
    if plot:
        data = base64.b64encode(plot).decode("ascii")
        lines.append(f'<img alt="per-unit pairs of {_e(r.id)}" src="data:image/png;base64,{data}">')
    return lines + ["</section>"]


def render_html(results: Sequence[ReproductionResult], payload: Mapping, plots: Mapping[str, bytes]) -> str:
    """The report page; ``plots`` maps a reproduction id to its PNG bytes (embedded in the page)."""
    mode = "quick" if results and results[0].quick else "full"
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>diversa reproduce</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             "<h1>diversa reproduce</h1>",
             f'<p class="muted">diversa {_e(payload["diversa_version"])}, {_e(payload["created"])}, {mode} mode'
             + (f", <code>{_e(payload['command'])}</code>" if payload.get("command") else "") + ".</p>",
             f"<p>Verdict rule: {_e(payload['verdict_rule'])}.</p>", "<h2>Summary</h2>",
             '<p class="muted">diff is oriented so that positive favours the claim; p: one-sided; MDE: smallest '
             "effect detected with 80% power. Click a column head to sort.</p>"]
    lines += _summary(results)
    for result in results:
        lines += _section(result, plots.get(result.reproduction.id))
    lines += [f"<script>{_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
