import math

import torch

from diversa.reproduce import pathologies


def test_trial_pairs_and_bounds(monkeypatch):
    old = torch.get_num_threads()
    monkeypatch.setattr(pathologies, "EPOCHS", 5)
    monkeypatch.setattr(pathologies, "N_TRAIN", 100)
    try:
        res = pathologies.run_trial(0, quick=True)
    finally:
        torch.set_num_threads(old)
    assert set(res.pairs) == {c.name for c in pathologies.REPRODUCTION.checks}
    assert res.pairs["identity-exact"][1] < 1e-9
    for base, meth in res.pairs.values():
        assert math.isfinite(base) and math.isfinite(meth)
    assert all(r["nll"] > 0 and 0 <= r["acc"] <= 1 for r in res.diagnostics["results"].values())
