import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from diversa.evaluate.compare import compare_outcomes, read_outcomes


def correctness(seed, n=300, rates=(0.8, 0.7, 0.72)):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"m{i}": (rng.random(n) < r).astype(int) for i, r in enumerate(rates)})


def test_binary_pair_uses_mcnemar_and_matches_scipy_binomtest():
    table = correctness(0, n=60, rates=(0.9, 0.85))
    result = compare_outcomes(table)
    (pair,) = result.pairs
    a, b = table["m0"].to_numpy(), table["m1"].to_numpy()
    only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    assert only_a + only_b < 25 and pair.test == "mcnemar-exact"
    assert pair.pvalue == pytest.approx(stats.binomtest(only_a, only_a + only_b).pvalue, abs=1e-12)
    assert pair.mean_diff == pytest.approx(a.mean() - b.mean())
    assert pair.pvalue_holm == pair.pvalue  # one comparison: nothing to correct
    assert result.omnibus is None


def test_many_discordant_items_use_corrected_chi_square():
    table = correctness(1, n=400, rates=(0.8, 0.6))
    (pair,) = compare_outcomes(table).pairs
    a, b = table["m0"].to_numpy(), table["m1"].to_numpy()
    n01, n10 = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    assert pair.test == "mcnemar-chi2"
    assert pair.statistic == pytest.approx((abs(n01 - n10) - 1) ** 2 / (n01 + n10))


def test_three_models_get_holm_and_cochrans_q():
    result = compare_outcomes(correctness(2))
    assert len(result.pairs) == 3 and result.omnibus["test"] == "cochrans-q"
    raw = np.array([p.pvalue for p in result.pairs])
    holm = np.array([p.pvalue_holm for p in result.pairs])
    assert np.all(holm >= raw - 1e-15) and np.all(holm <= 1)
    assert holm[np.argmin(raw)] == pytest.approx(min(1.0, 3 * raw.min()))


def test_accuracy_interval_contains_the_accuracy():
    for m in compare_outcomes(correctness(3)).models:
        assert 0 <= m.low <= m.mean <= m.high <= 1


def test_scores_use_wilcoxon():
    rng = np.random.default_rng(4)
    a = rng.normal(0.5, 0.1, 80)
    b = a - 0.05 + rng.normal(0, 0.02, 80)
    result = compare_outcomes({"a": a, "b": b})
    (pair,) = result.pairs
    assert result.kind == "scores" and pair.test == "wilcoxon"
    assert pair.pvalue == pytest.approx(stats.wilcoxon(a - b, alternative="two-sided").pvalue)
    assert pair.mean_diff > 0 and pair.ci_low > 0 and pair.pvalue < 1e-6


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=5, max_size=60), st.integers(0, 10))
def test_swapping_models_flips_the_difference_and_keeps_p(rows, seed):
    a, b = (np.array(col) for col in zip(*rows))
    ab = compare_outcomes({"a": a, "b": b}, kind="binary").pairs[0]
    ba = compare_outcomes({"b": b, "a": a}, kind="binary").pairs[0]
    assert 0 <= ab.pvalue <= 1
    assert ab.pvalue == pytest.approx(ba.pvalue) and ab.mean_diff == pytest.approx(-ba.mean_diff)
    order = np.random.default_rng(seed).permutation(len(a))
    shuffled = compare_outcomes({"a": a[order], "b": b[order]}, kind="binary").pairs[0]
    assert shuffled.pvalue == pytest.approx(ab.pvalue)


@pytest.mark.parametrize("outcomes,kind,message", [
    ({"a": [1, 0, 1]}, "auto", "at least 2 models"),
    ({"a": [1, 0.5, 1], "b": [1, 1, 0]}, "binary", "0/1"),
    ({"a": [1, np.nan, 1], "b": [1, 1, 0]}, "auto", "non-finite"),
    ({"a": ["x", "y"], "b": [1, 0]}, "auto", "not numeric"),
    ({"a": [1, 0], "b": [1, 0]}, "ordinal", "kind"),
])
def test_bad_outcomes(outcomes, kind, message):
    with pytest.raises(ValueError, match=message):
        compare_outcomes(outcomes, kind=kind)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_per_model_files_are_matched_by_doc_id(tmp_path):
    a = write_jsonl(tmp_path / "alpha.jsonl", [{"doc_id": i, "acc": i % 2} for i in range(10)])
    b = write_jsonl(tmp_path / "beta.jsonl", [{"doc_id": i, "acc": 1} for i in reversed(range(10))])
    table = read_outcomes([a, b], metric="acc")
    assert list(table.columns) == ["alpha", "beta"]
    assert table.loc[3, "alpha"] == 1 and table.loc[4, "alpha"] == 0 and table["beta"].sum() == 10


def test_unmatched_and_duplicate_ids_are_rejected(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"doc_id": i, "acc": 1} for i in range(5)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"doc_id": i, "acc": 1} for i in range(4)])
    with pytest.raises(ValueError, match="unmatched item ids: 1 id"):
        read_outcomes([a, b], metric="acc")
    dup = write_jsonl(tmp_path / "c.jsonl", [{"doc_id": 0, "acc": 1}, {"doc_id": 0, "acc": 0}])
    with pytest.raises(ValueError, match="more than once"):
        read_outcomes([a, dup], metric="acc")


def test_wide_table_with_id_column(tmp_path):
    path = tmp_path / "wide.csv"
    correctness(5, n=20).assign(id=range(20)).to_csv(path, index=False)
    assert list(read_outcomes([path]).columns) == ["m0", "m1", "m2"]
    assert list(read_outcomes([path], models=["m2", "m0"]).columns) == ["m2", "m0"]
    with pytest.raises(ValueError, match="not found"):
        read_outcomes([path], models=["m9"])


def test_scores_near_the_float64_limit_are_summarised_exactly():
    # The mean of 1e308 scores printed as inf, its interval as [nan, nan].
    result = compare_outcomes({"a": [1e308] * 10, "b": [1e308] * 5 + [5e307] * 5}, kind="scores")
    a, b = result.models
    assert (a.mean, a.low, a.high) == (1e308, 1e308, 1e308)
    assert b.mean == pytest.approx(7.5e307, rel=1e-12) and np.isfinite([b.low, b.high]).all()
    assert result.pairs[0].mean_diff == pytest.approx(2.5e307, rel=1e-12)


def test_a_result_beyond_float64_is_refused_not_printed_as_inf():
    with pytest.raises(ValueError, match="exceeds the float64 range"):
        compare_outcomes({"a": [1.7e308] * 6, "b": [-1.7e308] * 6}, kind="scores")


def test_a_yes_no_column_is_an_error_not_silently_dropped(tmp_path):
    # The column vanished and the error said "at least 2 models, got 1".
    path = tmp_path / "outcomes.csv"
    path.write_text("id,a,b\n" + "".join(f"{i},{i % 2},{'yes' if i % 3 else 'no'}\n" for i in range(12)))
    with pytest.raises(ValueError, match="model column 'b': row 1 holds 'no', not a number"):
        read_outcomes([path])
    assert list(read_outcomes([path], models=["a"]).columns) == ["a"]


def test_true_false_outcomes_count_as_one_and_zero(tmp_path):
    path = tmp_path / "outcomes.jsonl"
    path.write_text("".join(json.dumps({"id": i, "a": i % 2 == 0, "b": i % 3 == 0}) + "\n" for i in range(12)))
    table = read_outcomes([path])
    assert table["a"].tolist() == [1.0, 0.0] * 6
