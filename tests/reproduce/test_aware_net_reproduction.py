import math

import torch

from diversa.reproduce import aware_net


def test_trial_pairs_and_bounds(monkeypatch):
    old = torch.get_num_threads()
    monkeypatch.setattr(aware_net, "EPOCHS", 2)
    monkeypatch.setattr(aware_net, "N_INSTANCES", 1)
    try:
        res = aware_net.run_trial(0, quick=True)
    finally:
        torch.set_num_threads(old)
    assert set(res.pairs) == {c.name for c in aware_net.REPRODUCTION.checks}
    for base, meth in res.pairs.values():
        assert 0 <= meth <= 1 and math.isfinite(base)
    w = res.diagnostics["weights_stress"]
    assert abs(sum(w.values()) - 1) < 1e-9
