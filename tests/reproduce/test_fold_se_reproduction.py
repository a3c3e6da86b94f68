"""Tests of diversa.reproduce.fold_se (FOLD-SE, arXiv:2208.07912): a reduced trial and the headline's verdict path."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from diversa.learners.rules import FOLDRPPClassifier, FOLDSEClassifier
from diversa.reproduce import fold_se
from diversa.reproduce.fold_se import REPRODUCTION, make_mixed_classification, run_trial
from diversa.reproduce.verdict import judge, oriented_differences


def test_mixed_synthetic_data_has_eight_numeric_and_four_noisy_string_columns():
    X, y = make_mixed_classification(500, random_state=1)
    assert X.shape == (500, 12) and set(np.unique(y)) == {0, 1}
    assert all(X[f"cat{j}"].isin(list("abcde")).all() for j in range(4))
    # the string columns follow their numeric source, up to the 10% relabelling
    rank = X["num0"].rank(pct=True)
    agree = ((rank <= 0.2) == (X["cat0"] == "a")).mean()
    assert 0.85 < agree < 1.0


def test_declared_design():
    checks = {c.name: c for c in REPRODUCTION.checks}
    assert REPRODUCTION.headline == "rules-vs-foldrpp" and REPRODUCTION.unit.kind == "resampled"
    assert checks["accuracy-vs-histgb"].margin == 0.03 and checks["accuracy-vs-foldrpp"].margin == 0.02
    assert checks["ripper-tens-of-rules"].kind == "regime"
    assert checks["ripper-tens-of-rules"].applies_to == ("rules-vs-ripper",)


def test_reduced_quick_trial(monkeypatch):
    pytest.importorskip("wittgenstein")
    pytest.importorskip("palmerpenguins")
    pytest.importorskip("vega_datasets")
    monkeypatch.setattr(fold_se, "SYNTHETIC_SIZES_QUICK", (300, 600, 1200))
    monkeypatch.setattr(fold_se, "RIPPER_MAX_ROWS_QUICK", 300)
    monkeypatch.setattr(fold_se, "MLP_MAX_ROWS_QUICK", 0)
    with threadpool_limits(limits=1):
        result = run_trial(0, quick=True)
    assert set(result.pairs) == {check.name for check in REPRODUCTION.checks}
    per_dataset = result.diagnostics["per_dataset"]
    assert "RIPPER" in per_dataset["penguins"] and "RIPPER" not in per_dataset["synthetic_1200"]
    # what the experiment could get wrong even here: FOLD-SE's pruning leaves fewer rules on the largest set
    assert per_dataset["synthetic_1200"]["FOLD-SE"]["n_rules"] < per_dataset["synthetic_1200"]["FOLD-R++"]["n_rules"]
    # margins live in the checks, not in the baseline values
    assert result.pairs["accuracy-vs-histgb"][0] == pytest.approx(
        np.mean([per_dataset[d]["HistGB"]["accuracy"] for d in per_dataset]))
    assert result.pairs["speed-vs-foldrpp"][0] == per_dataset["synthetic_1200"]["FOLD-R++"]["fit_cpu_s"]


def _headline_verdict(make_method) -> str:
    """Headline through the real verdict rule: rules of a method vs FOLD-R++ on 8 fresh synthetic sets of 5000 rows."""
    pairs = []
    with threadpool_limits(limits=1):
        for seed in range(8):
            X, y = make_mixed_classification(5000, random_state=seed)
            X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
            pairs.append([FOLDRPPClassifier(ratio=0.5).fit(X_train, y_train).n_rules_,
                          make_method().fit(X_train, y_train).n_rules_])
    pairs = np.array(pairs, dtype=float)
    check = REPRODUCTION.headline_check
    differences = {check.name: oriented_differences(pairs[:, 0], pairs[:, 1], check.direction)}
    return judge([check], differences, headline=check.name, unit=REPRODUCTION.unit)[check.name].outcome


def test_headline_separates_fold_se_from_fold_rpp_in_disguise():
    assert _headline_verdict(lambda: FOLDSEClassifier(ratio=0.5, tail=0.005)) == "supported"
    # FOLD-SE with FOLD-R++'s heuristic and no tail pruning is FOLD-R++: it must not pass
    assert _headline_verdict(lambda: FOLDSEClassifier(ratio=0.5, tail=0.0, heuristic="info_gain")) != "supported"
