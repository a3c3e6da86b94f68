import dataclasses
import json

import numpy as np
import pytest

from diversa.reproduce import Check, Reproduction, TrialResult, Units, available_ids, get, register, run_reproductions
from diversa.reproduce.report import summary_rows, write_report
from diversa.reproduce.runner import schedule, single_threaded


def toy_trial(seed: int, quick: bool) -> TrialResult:
    rng = np.random.default_rng(seed)
    base = float(rng.normal())
    return TrialResult(
        pairs={"gain": (base, base + 0.5 + 0.1 * float(rng.random())),
               "loss": (base, base + 0.5),          # claimed "less" but the method is higher
               "noise": (base, base + float(rng.normal())),
               "internal": (0.0, 1.0 + float(rng.random())),
               "headroom": (0.1, 0.6)},
        diagnostics={"quick": quick},
    )


REPRODUCTION = Reproduction(
    id="toy", title="A toy claim", arxiv="0000.00000", claim="method beats baseline",
    paper_result="+0.5", run_trial=toy_trial, quick_trials=8, full_trials=20, headline="gain",
    checks=(Check("gain", "score", "base", "ours", "greater", "ours scores higher", "+0.5"),
            Check("loss", "error", "base", "ours", "less", "ours errs less"),
            Check("noise", "score", "base", "ours", "greater", "a coin flip"),
            Check("internal", "divergence", "none", "ours", "greater", "routes differ", kind="mechanism"),
            Check("headroom", "accuracy", "floor", "oracle", "greater", "oracle off floor", kind="regime")),
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
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["gain"] == "supported" and result.verdict == "supported"
    assert outcomes["loss"] == "contradicted"
    assert outcomes["internal"] == "pass" and outcomes["headroom"] == "pass"
    assert len(result.checks[0].seeds) == 8
    assert result.headline.check.name == "gain"
    assert result.checks[0].evidence.mean_diff == pytest.approx(
        np.mean(result.checks[0].method_values) - np.mean(result.checks[0].baseline_values))


def regime_failing_trial(seed, quick):
    result = toy_trial(seed, quick)
    return TrialResult(pairs={**result.pairs, "headroom": (0.6, 0.1)})


def test_a_failed_regime_check_makes_the_paper_out_of_regime(monkeypatch):
    broken = dataclasses.replace(REPRODUCTION, run_trial=regime_failing_trial)
    monkeypatch.setattr(f"{__name__}.REPRODUCTION", broken)
    (result,) = run_reproductions(["toy"], n_jobs=1)
    assert result.verdict == "out of regime"
    assert {c.outcome for c in result.of_kind("claim")} == {"out of regime"}


def test_seed_count_override_and_full_mode():
    (quick,) = run_reproductions(["toy"], quick=True, n_seeds=3)
    (full,) = run_reproductions(["toy"], quick=False)
    assert quick.checks[0].seeds == [0, 1, 2]
    assert len(full.checks[0].seeds) == 20
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
    assert toy["verdict"] == "supported" and toy["headline"] == "gain"
    assert toy["unit"]["kind"] == "independent" and toy["n_units"] == 8
    assert toy["cpu_seconds"] >= 0 and toy["slowest_trial_seconds"] <= toy["seconds"]
    checks = {c["name"]: c for c in toy["checks"]}
    assert [c["headline"] for c in toy["checks"]].count(True) == 1 and checks["gain"]["headline"]
    assert [checks[n]["verdict"] for n in ("gain", "loss")] == ["supported", "contradicted"]
    assert checks["internal"]["outcome"] == "pass" and checks["headroom"]["kind"] == "regime"
    for c in checks.values():
        assert {"kind", "pvalue", "pvalue_adjusted", "mde", "test"} <= set(c)
    assert checks["noise"]["pvalue_adjusted"] >= checks["noise"]["pvalue"]
    assert len(checks["gain"]["per_seed"]) == 8
    text = report.read_text()
    assert text.index("## Summary") < text.index("## toy: A toy claim")
    assert "### Mechanism checks" in text and "### Regime checks" in text and "![toy](toy.png)" in text
    assert "not supported" not in text
    assert (tmp_path / "toy.png").stat().st_size > 1000
    (row,) = summary_rows(results)
    assert row["verdict"] == "supported" and row["diagnostics passed"] == "2/2"


def bad_trial(seed, quick):
    return TrialResult(pairs={"gain": (1.0, float("nan"))})


def test_trials_must_answer_every_check_with_finite_values(monkeypatch):
    broken = dataclasses.replace(REPRODUCTION, run_trial=bad_trial)
    monkeypatch.setattr(f"{__name__}.REPRODUCTION", broken)
    with pytest.raises(RuntimeError, match="pair"):
        run_reproductions(["toy"], n_jobs=1)


def test_reproduction_declaration_is_validated():
    def declare(**changes):
        return dataclasses.replace(REPRODUCTION, **changes)

    with pytest.raises(ValueError, match="no checks"):
        declare(checks=())
    with pytest.raises(ValueError, match="headline"):
        declare(headline="internal")  # a mechanism cannot be the headline
    with pytest.raises(ValueError, match="at least 8 quick"):
        declare(quick_trials=5)
    with pytest.raises(ValueError, match="20 full"):
        declare(full_trials=12)
    with pytest.raises(ValueError, match="direction"):
        Check("c", "m", "b", "m", "higher", "claim")
    with pytest.raises(ValueError, match="kind"):
        Check("c", "m", "b", "m", "greater", "claim", kind="belief")
    with pytest.raises(ValueError, match="margin"):
        Check("c", "m", "b", "m", "equivalent", "claim")
    with pytest.raises(ValueError, match="unknown claims"):
        declare(checks=(*REPRODUCTION.checks,
                        Check("r", "m", "b", "m", "greater", "regime", kind="regime", applies_to=("nope",))))
    with pytest.raises(ValueError, match="test_over_train"):
        Units("resampled")


def test_longest_trials_are_scheduled_first(monkeypatch, tmp_path):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    short = dataclasses.replace(REPRODUCTION, id="short", trial_seconds=1.0)
    long = dataclasses.replace(REPRODUCTION, id="long", trial_seconds=50.0)
    tasks = schedule([short, long], quick=True, n_seeds=2)
    assert tasks == [("long", 0), ("long", 1), ("short", 0), ("short", 1)]
    # Measured times from an earlier run on this machine override the hints.
    (tmp_path / "reproduce_trial_seconds.json").write_text('{"short:quick": 99.0}')
    assert schedule([short, long], quick=True, n_seeds=1)[0] == ("short", 0)


def test_a_run_records_trial_times_for_the_next_schedule(monkeypatch, tmp_path):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    run_reproductions(["toy"], n_seeds=8)
    history = json.loads((tmp_path / "reproduce_trial_seconds.json").read_text())
    assert set(history) == {"toy:quick"} and history["toy:quick"] >= 0


def test_single_threaded_restores_torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
