import math

from diversa.reproduce import weaver


def test_trial_pairs_and_bounds(monkeypatch):
    monkeypatch.setattr(weaver, "DISTILL_EPOCHS", 20)
    monkeypatch.setattr(weaver, "N_QUERIES", 120)
    res = weaver.run_trial(0, quick=True)
    assert set(res.pairs) == {c.name for c in weaver.REPRODUCTION.checks}
    for base, meth in res.pairs.values():
        assert math.isfinite(base) and math.isfinite(meth)
    d = res.diagnostics
    for k in ("naive", "weaver", "majority_vote", "supervised_lr_test", "distilled_test"):
        assert 0 <= d[k] <= 1
    assert d["weaver"] <= d["oracle"] and d["always_yes_filtered"]
    assert res.pairs["tpr-tnr-recovery"][1] < 0.1
