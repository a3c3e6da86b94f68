import json

import numpy as np
import pytest

from diversa.reproduce import Check, Reproduction, TrialResult, available_ids, get, register, run_reproductions
from diversa.reproduce.report import summary_rows, write_report
from diversa.reproduce.runner import single_threaded


def toy_trial(seed: int, quick: bool) -> TrialResult:
    rng = np.random.default_rng(seed)
    base = float(rng.normal())
    return TrialResult(
        pairs={"gain": (base, base + 0.5 + 0.1 * float(rng.random())),
               "loss": (base, base + 0.5),          # claimed "less" but the method is higher
               "noise": (base, base + float(rng.normal()))},
        diagnostics={"quick": quick},
    )


REPRODUCTION = Reproduction(
    id="toy", title="A toy claim", arxiv="0000.00000", claim="method beats baseline",
    paper_result="+0.5", run_trial=toy_trial, quick_trials=8, full_trials=12,
    checks=(Check("gain", "score", "base", "ours", "greater", "ours scores higher", "+0.5"),
            Check("loss", "error", "base", "ours", "less", "ours errs less"),
            Check("noise", "score", "base", "ours", "greater", "a coin flip")),
)


@pytest.fixture(autouse=True)
def toy_registered():
    register("toy", __name__)


def test_registry_lists_smote_and_registered_modules():
    assert "smote" in available_ids() and "toy" in available_ids()
    assert get("TOY") is REPRODUCTION
    with pytest.raises(ValueError, match="unknown reproduction"):
        get("no-such-paper")


def test_verdicts_are_computed_from_the_trials():
    (result,) = run_reproductions(["toy"], quick=True, n_jobs=1)
    verdicts = {c.check.name: c.verdict.verdict for c in result.checks}
    assert verdicts["gain"] == "supported"
    assert verdicts["loss"] == "not supported"
    assert len(result.checks[0].seeds) == 8
    assert result.checks[0].verdict.mean_diff == pytest.approx(
        np.mean(result.checks[0].method_values) - np.mean(result.checks[0].baseline_values))


def test_seed_count_override_and_full_mode():
    (quick,) = run_reproductions(["toy"], quick=True, n_seeds=3)
    (full,) = run_reproductions(["toy"], quick=False)
    assert quick.checks[0].seeds == [0, 1, 2]
    assert len(full.checks[0].seeds) == 12
    with pytest.raises(ValueError, match="seeds"):
        run_reproductions(["toy"], n_seeds=0)


def test_progress_callback_sees_every_trial():
    seen = []
    run_reproductions(["toy"], n_seeds=5, on_trial_done=seen.append)
    assert seen == ["toy"] * 5


def test_report_files(tmp_path):
    results = run_reproductions(["toy"], quick=True)
    report = write_report(results, tmp_path, command="diversa reproduce toy")
    payload = json.loads((tmp_path / "results.json").read_text())
    (toy,) = payload["reproductions"]
    assert [c["verdict"] for c in toy["checks"]][:2] == ["supported", "not supported"]
    assert len(toy["checks"][0]["per_seed"]) == 8
    text = report.read_text()
    assert "## toy: A toy claim" in text and "![toy](toy.png)" in text
    assert (tmp_path / "toy.png").stat().st_size > 1000
    assert len(summary_rows(results)) == 3


def bad_trial(seed, quick):
    return TrialResult(pairs={"gain": (1.0, float("nan"))})


def test_trials_must_answer_every_check_with_finite_values(monkeypatch):
    broken = Reproduction(id="toy", title="t", arxiv="x", claim="c", paper_result="p", run_trial=bad_trial,
                          quick_trials=2, full_trials=2, checks=REPRODUCTION.checks)
    monkeypatch.setattr(f"{__name__}.REPRODUCTION", broken)
    with pytest.raises(RuntimeError, match="pair"):
        run_reproductions(["toy"], n_jobs=1)


def test_reproduction_declaration_is_validated():
    with pytest.raises(ValueError, match="no checks"):
        Reproduction(id="x", title="t", arxiv="a", claim="c", paper_result="p", run_trial=toy_trial,
                     quick_trials=1, full_trials=1, checks=())
    with pytest.raises(ValueError, match="direction"):
        Check("c", "m", "b", "m", "higher", "claim")


def test_single_threaded_restores_torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
