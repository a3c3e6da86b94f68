import math

from diversa.reproduce import llmonade


def test_trial_pairs_and_bounds(monkeypatch):
    monkeypatch.setattr(llmonade, "N_QUERIES", 40)
    res = llmonade.run_trial(0, quick=True)
    assert set(res.pairs) == {c.name for c in llmonade.REPRODUCTION.checks}
    for name, (base, meth) in res.pairs.items():
        assert math.isfinite(base) and math.isfinite(meth)
        if name.startswith(("a2", "a3", "a4")):
            assert 0 <= base <= 1 and 0 <= meth <= 1
    d = res.diagnostics
    assert d["chops_calls_per_query"] == 1.0 and d["mbr_calls_per_query"] == 20
    assert max(d["xx_hedged07"].values()) <= d["oracle_xx_hedged07"] + 1e-12
