import numpy as np
import pandas as pd
import pytest

import fairlearn.metrics as flm
from diversa.evaluate.fairness import demographic_parity_difference, equalized_odds_difference, intersectional_groups


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"gender": rng.choice(["f", "m"], n), "ethnicity": rng.integers(0, 4, n),
                          "region": rng.choice(["n", "s", "e"], n)})
    y_true = rng.integers(0, 2, n)
    shift = (frame["gender"] == "m") * 0.2 + frame["ethnicity"] * 0.05
    y_pred = (rng.random(n) < 0.4 + shift + 0.2 * y_true).astype(int)
    return y_true, y_pred, frame


@pytest.mark.parametrize("columns", [["gender"], ["gender", "ethnicity"], ["gender", "ethnicity", "region"]])
def test_differences_equal_fairlearn_over_intersections(predictions, columns):
    y_true, y_pred, frame = predictions
    sensitive = frame[columns]
    ours = demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive)
    assert ours == pytest.approx(flm.demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive),
                                 abs=1e-12)
    for agg in ("worst_case", "mean"):
        ours = equalized_odds_difference(y_true, y_pred, sensitive_features=sensitive, agg=agg)
        theirs = flm.equalized_odds_difference(y_true, y_pred, sensitive_features=sensitive, agg=agg)
        assert ours == pytest.approx(theirs, abs=1e-12)
    # the same through a MetricFrame of selection rates
    frame_rates = flm.MetricFrame(metrics=flm.selection_rate, y_true=y_true, y_pred=y_pred,
                                  sensitive_features=sensitive)
    assert demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive) == pytest.approx(
        frame_rates.difference(), abs=1e-12)


def test_groups_without_positives_follow_fairlearn():
    y_true = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    y_pred = np.array([1, 0, 0, 1, 0, 1, 1, 0])
    groups = np.array(["a", "a", "a", "b", "b", "b", "c", "c"])
    assert equalized_odds_difference(y_true, y_pred, sensitive_features=groups) == pytest.approx(
        flm.equalized_odds_difference(y_true, y_pred, sensitive_features=groups), abs=1e-12)


def test_continuous_attributes_are_binned():
    frame = pd.DataFrame({"age": [18.0, 25.0, 40.0, 61.0, 79.0, 90.0], "gender": [0, 1, 0, 1, 0, 1]})
    labels = intersectional_groups(frame, bins={"age": (18, 38.67, 59.33, 80)})
    assert list(labels[:3]) == ["age=[18, 38.67)|gender=0", "age=[18, 38.67)|gender=1", "age=[38.67, 59.33)|gender=0"]
    assert labels[5] == "age=[59.33, 80]|gender=1"  # beyond the outer edge: the last band
    many = pd.DataFrame({"income": np.linspace(0, 1, 90)})
    assert len(set(intersectional_groups(many))) == 3  # auto: terciles
    assert len(set(intersectional_groups(many, n_bins=5))) == 5
    assert len(set(intersectional_groups(np.arange(6) % 2))) == 2


def test_bad_input():
    with pytest.raises(ValueError, match="sensitive_features contains NaN"):
        intersectional_groups(pd.DataFrame({"g": [0, np.nan, 1]}))
    with pytest.raises(ValueError, match="bins names unknown columns"):
        intersectional_groups(pd.DataFrame({"g": [0, 1]}), bins={"age": 3})
    with pytest.raises(ValueError, match="increasing"):
        intersectional_groups(pd.DataFrame({"age": [1.0, 2.0]}), bins={"age": (3, 1)})
    with pytest.raises(ValueError, match="one row per prediction"):
        demographic_parity_difference([0, 1], [0, 1], sensitive_features=[0, 1, 1])
    with pytest.raises(ValueError, match="agg"):
        equalized_odds_difference([0, 1], [0, 1], sensitive_features=[0, 1], agg="max")
