import numpy as np

from diversa.reproduce import kmq




def test_trial_returns_every_check_with_sane_values(one_thread, monkeypatch):
    monkeypatch.setattr(kmq, "N_POOL", 900)
    monkeypatch.setattr(kmq, "BUDGET", 120)
    monkeypatch.setattr(kmq, "K", 12)
    result = kmq.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in kmq.REPRODUCTION.checks}
    for baseline, method in result.pairs.values():
        assert np.isfinite(baseline) and np.isfinite(method)
    for name in ("kmq-vs-random", "kmq-vs-quality-top"):
        assert all(0.2 <= v <= 1.0 for v in result.pairs[name])
    assert all(0 < v <= 120 for v in result.pairs["dup-groups-vs-random"])
    assert 0 <= result.pairs["domain-entropy-vs-quality-top"][1] <= np.log(6) + 1e-9
    assert result.diagnostics["junk_share"]["Quality-top"] <= result.diagnostics["junk_share"]["Random"]
