"""twin-merging: one shortened trial returns a sane pair for every check."""

import math

import pytest

from diversa.reproduce import twin_merging


@pytest.fixture
def short(short_merge_testbed, monkeypatch):
    """Shortened MergeDigits-8 training (see conftest) and router training."""
    monkeypatch.setattr(twin_merging, "QUICK_ROUTER_EPOCHS", 3)


def test_trial_pairs(short):
    result = twin_merging.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in twin_merging.REPRODUCTION.checks}
    for name, pair in result.pairs.items():
        assert all(math.isfinite(v) and 0 < v < 1.5 for v in pair), name
    d = result.diagnostics
    assert 0 <= d["router_test_accuracy"] <= 1
    # oracle routing with the no-compression variant would be exact; with SVD it is close to the experts
    assert d["twin_oracle"] > d["twin_uniform_routing"]
