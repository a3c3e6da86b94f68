import numpy as np

from diversa.reproduce import odis




def test_trial_returns_every_check_with_sane_values(one_thread, monkeypatch):
    monkeypatch.setattr(odis, "N_POOL", 600)
    monkeypatch.setattr(odis, "BUDGET", 120)
    result = odis.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in odis.REPRODUCTION.checks}
    for baseline, method in result.pairs.values():
        assert np.isfinite(baseline) and np.isfinite(method)
    assert all(0 <= v <= 1 for v in result.pairs["overlap-vs-raw-dims"])
    assert all(0.2 <= v <= 1.0 for v in result.pairs["odis-vs-random"])
    assert result.pairs["scorer-r2-pc1"][0] == 0.5 and result.pairs["scorer-r2-pc1"][1] <= 1.0
    assert result.diagnostics["union_size"] <= 120
