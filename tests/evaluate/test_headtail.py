"""Head/tail split within answer groups (MUSIC-AVQA-R's 1.2 mu rule) and head/tail accuracy."""

import numpy as np
import pytest

from diversa.evaluate.headtail import head_tail_accuracy, head_tail_split


def toy():
    y = np.array(["a"] * 10 + ["b"] * 2 + ["c"] * 3)
    return y, np.zeros(y.size, dtype=int)


def test_toy_counts_split_at_1_2_times_the_mean():
    y, groups = toy()           # mu = 5, threshold 6: a (10) head; b (2), c (3) tail
    tail = head_tail_split(y, groups)
    assert not tail[y == "a"].any() and tail[y != "a"].all()


def test_groups_are_split_independently():
    y, groups = toy()
    y2 = np.concatenate([y, ["a"] * 2 + ["b"] * 10 + ["c"] * 3])
    g2 = np.concatenate([groups, np.ones(15, dtype=int)])
    tail = head_tail_split(y2, g2)
    assert np.array_equal(tail[:15], head_tail_split(y, groups))
    assert not tail[15:][y2[15:] == "b"].any() and tail[15:][y2[15:] != "b"].all()


def test_a_single_answer_and_equal_counts_are_all_tail():
    # count == mu is not > 1.2 mu: the authors' "greater than" rule makes these tail
    assert head_tail_split(np.array([3, 3, 3]), np.zeros(3)).all()
    assert head_tail_split(np.array([1, 1, 2, 2, 3, 3]), np.zeros(6)).all()


def test_beta_moves_the_threshold():
    y = np.array([0] * 6 + [1] * 4)           # mu = 5
    assert not head_tail_split(y, np.zeros(10), beta=0.1)[0]   # 6 > 5.5: head
    assert head_tail_split(y, np.zeros(10), beta=0.2)[0]       # 6 > 6 is false: tail


def test_split_matches_pandas_groupby_counts():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    groups = rng.randint(4, size=500)
    y = groups * 10 + rng.geometric(0.4, size=500)
    df = pd.DataFrame({"g": groups, "y": y})
    counts = df.groupby(["g", "y"]).size().rename("n").reset_index()
    counts["mu"] = counts.groupby("g")["n"].transform("mean")
    counts["head"] = counts["n"] > 1.2 * counts["mu"]
    expected = ~df.merge(counts, on=["g", "y"], how="left")["head"].to_numpy()
    assert np.array_equal(head_tail_split(y, groups), expected)


def test_head_tail_accuracy_by_hand():
    y, groups = toy()
    pred = y.copy()
    pred[y == "b"] = "a"                   # both b wrong, one c wrong
    pred[np.flatnonzero(y == "c")[0]] = "a"
    acc = head_tail_accuracy(y, pred, groups)
    assert acc.head == 1.0 and acc.tail == pytest.approx(2 / 5)
    assert acc.overall == pytest.approx(12 / 15) and acc.n_head == 10 and acc.n_tail == 5
    assert acc.per_group == {0: pytest.approx(12 / 15)}


def test_a_given_split_is_used_and_missing_sides_are_nan():
    y = np.array([0, 1, 2])
    acc = head_tail_accuracy(y, y, np.zeros(3), tail=np.ones(3, dtype=bool))
    assert np.isnan(acc.head) and acc.tail == 1.0


def test_bad_input():
    y, groups = toy()
    with pytest.raises(ValueError, match="beta"):
        head_tail_split(y, groups, beta=-0.1)
    with pytest.raises(ValueError, match="groups"):
        head_tail_split(y, groups[:3])
    with pytest.raises(ValueError, match="empty"):
        head_tail_split(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="y_pred"):
        head_tail_accuracy(y, y[:4], groups)
    with pytest.raises(ValueError, match="tail"):
        head_tail_accuracy(y, y, groups, tail=np.zeros(15))
