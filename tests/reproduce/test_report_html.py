"""report.html: one self-contained page, a sortable and filterable summary row per paper."""

from html.parser import HTMLParser

import numpy as np
import pytest

from diversa.reproduce import Check, Reproduction, TrialResult
from diversa.reproduce.report import write_report
from diversa.reproduce.report_html import VERDICT_ORDER, area_of
from diversa.reproduce.runner import summarize


def _reproduction(rid: str, effect: float, noise: float) -> Reproduction:
    def trial(seed, quick):
        rng = np.random.default_rng(seed)
        base = float(rng.normal())
        return TrialResult(pairs={"gain": (base, base + effect + noise * float(rng.normal())),
                                  "internal": (0.0, 1.0)}, diagnostics={"note": f"<seed {seed}>"})

    return Reproduction(
        id=rid, title=f"The {rid} paper <b>", arxiv="0000.00000", claim="ours beats base", paper_result="+1",
        run_trial=trial, quick_trials=8, full_trials=20, headline="gain",
        checks=(Check("gain", "score", "base", "ours", "greater", "ours scores higher", "+1.0 in the paper"),
                Check("internal", "divergence", "none", "ours", "greater", "routes differ", kind="mechanism")))


def toy_results():
    """Three papers: supported (smote's area), contradicted and inconclusive (an unknown area)."""
    results = []
    for rid, effect, noise in (("smote", 0.5, 0.01), ("rmm", -0.5, 0.01), ("outside", 0.0, 1.0)):
        reproduction = _reproduction(rid, effect, noise)
        trials = {seed: reproduction.run_trial(seed, True) for seed in range(8)}
        results.append(summarize(reproduction, True, trials))
    return results


class _Page(HTMLParser):
    """Collects what the structure test asks about: summary rows, URLs, images, scripts."""

    def __init__(self):
        super().__init__()
        self.rows, self.urls, self.images, self.sections, self.headers = [], [], [], [], []
        self._in_summary = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "summary":
            self._in_summary = True
        elif tag == "tr" and self._in_summary and "data-verdict" in a:
            self.rows.append(a)
        elif tag == "th" and self._in_summary and "data-key" in a:
            self.headers.append(a["data-key"])
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "img":
            self.images.append(a.get("src", ""))
        for name in ("src", "href"):
            if name in a and not a[name].startswith(("#", "data:")):
                self.urls.append(a[name])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_summary = False


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    write_report(toy_results(), out, command="diversa reproduce smote rmm outside")
    return (out / "report.html").read_text()


def test_one_sortable_summary_row_per_paper(page):
    parsed = _Page()
    parsed.feed(page)
    assert [r["data-paper"] for r in parsed.rows] == ["smote", "rmm", "outside"]
    assert [r["data-verdict"] for r in parsed.rows] == ["supported", "contradicted", "inconclusive"]
    assert [r["data-area"] for r in parsed.rows] == ["imbalance and long tails", "model merging", "other"]
    assert all(float(r["data-p"]) >= 0 for r in parsed.rows)
    assert {"paper", "area", "verdict", "p", "mde"} <= set(parsed.headers)
    assert parsed.sections == ["paper-smote", "paper-rmm", "paper-outside"]


def test_the_page_is_self_contained(page):
    parsed = _Page()
    parsed.feed(page)
    assert parsed.urls == []  # no link, script or image fetched from anywhere
    assert "http://" not in page and "https://" not in page
    assert len(parsed.images) == 3 and all(src.startswith("data:image/png;base64,") for src in parsed.images)
    assert all(len(src) > 2000 for src in parsed.images)


def test_text_is_escaped_and_the_paper_number_sits_beside_ours(page):
    assert "The smote paper &lt;b&gt;" in page and "<b>" not in page
    assert "&lt;seed 3&gt;" in page            # per-unit diagnostics, escaped
    assert "+1.0 in the paper" in page


def test_verdict_order_and_areas():
    assert set(VERDICT_ORDER) == {"supported", "contradicted", "inconclusive", "out of regime"}
    assert area_of("smote") == "imbalance and long tails" and area_of("not-a-paper") == "other"


def test_every_reproduction_has_an_area():
    from diversa.reproduce.registry import _discover

    # diversa's own reproductions only: other tests register toy ones in the same process
    assert [rid for rid in _discover() if area_of(rid) == "other"] == []
