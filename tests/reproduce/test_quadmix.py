import numpy as np

from diversa.reproduce import quadmix




def test_trial_returns_every_check_with_sane_values(one_thread, monkeypatch):
    monkeypatch.setattr(quadmix, "N_POOL", 600)
    monkeypatch.setattr(quadmix, "QUOTA", 180)
    monkeypatch.setattr(quadmix, "QUICK_PROXIES", 40)
    monkeypatch.setattr(quadmix, "QUICK_CANDIDATES", 500)
    result = quadmix.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in quadmix.REPRODUCTION.checks}
    for baseline, method in result.pairs.values():
        assert np.isfinite(baseline) and np.isfinite(method)
    assert all(0 < v < 5 for v in result.pairs["oh-vs-random-val-loss"])
    assert -1 <= result.pairs["regressor-spearman"][1] <= 1
    assert all(0 <= v <= 1 for v in result.pairs["bmk-vs-oh-target-accuracy"])
    mix = result.diagnostics["domain_mix"]["QuaDMix-OH"]
    assert abs(sum(mix) - 1) < 1e-3
