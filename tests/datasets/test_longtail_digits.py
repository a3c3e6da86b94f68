import numpy as np
import pytest
import torch

from diversa.datasets.longtail import (
    TEST_KINDS,
    augment_strong,
    augment_view,
    augment_weak,
    distribution_counts,
    longtail_counts,
    make_longtail_digits,
    make_test_distribution,
    shift_images,
    shot_groups,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_counts_follow_the_exponential_profile_pinned_by_the_spec():
    assert longtail_counts(124, 10, 100).tolist() == [124, 74, 44, 26, 16, 9, 5, 3, 2, 1]
    assert longtail_counts(124, 10, 10).tolist() == [124, 96, 74, 57, 44, 34, 26, 20, 16, 12]
    assert longtail_counts(124, 10, 1).tolist() == [124] * 10


@pytest.mark.parametrize("ratio, n_train", [(100, 304), (10, 503)])
def test_training_set_has_the_ranked_counts_and_disjoint_pools(ratio, n_train):
    lt = make_longtail_digits(ratio, random_state=3)
    assert lt.n_max == 124 and len(lt.y_train) == n_train
    assert np.array_equal(np.bincount(lt.y_train, minlength=10), lt.class_counts)
    assert lt.class_counts[lt.class_order].tolist() == longtail_counts(124, 10, ratio).tolist()
    assert np.bincount(lt.test_pool_y).tolist() == [50] * 10
    assert lt.X_train.dtype == np.float32 and 0 <= lt.X_train.min() and lt.X_train.max() <= 1
    # no test image is a training image (rows of digits are unique up to a few duplicates)
    train_rows = {row.tobytes() for row in lt.X_train}
    assert sum(row.tobytes() in train_rows for row in lt.test_pool_X) <= 2


def test_class_order_is_random_per_seed_and_reproducible():
    a, b = make_longtail_digits(random_state=0), make_longtail_digits(random_state=0)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.test_pool_y, b.test_pool_y)
    orders = {tuple(make_longtail_digits(random_state=s).class_order) for s in range(5)}
    assert len(orders) == 5
    assert make_longtail_digits(class_order="fixed").class_order.tolist() == list(range(10))


def test_shot_groups_scale_sades_thresholds():
    lt = make_longtail_digits(100, random_state=0)
    ranked = lt.shot_group[lt.class_order].tolist()
    assert ranked == ["many"] * 4 + ["medium"] * 3 + ["few"] * 3
    assert "few" not in shot_groups(longtail_counts(124, 10, 10))


def test_test_distributions_are_forward_uniform_and_backward():
    lt = make_longtail_digits(100, random_state=1)
    counts = {}
    for kind in TEST_KINDS:
        X, y = make_test_distribution(lt, kind, test_imbalance=25)
        counts[kind] = np.bincount(y, minlength=10)[lt.class_order]
        assert np.array_equal(counts[kind], distribution_counts(lt, kind, 25)[lt.class_order])
        assert X.shape == (len(y), 64)
    assert counts["uniform"].tolist() == [50] * 10
    assert counts["forward"].tolist() == [50, 34, 24, 17, 11, 8, 5, 4, 2, 2]
    assert counts["backward"].tolist() == counts["forward"][::-1].tolist()


def test_validation_pool_is_balanced_and_held_out_before_training():
    lt = make_longtail_digits(10, n_val_per_class=20, random_state=0)
    assert np.bincount(lt.y_val).tolist() == [20] * 10 and lt.n_max == 104
    assert make_longtail_digits(random_state=0).X_val.shape == (0, 64)


def test_shift_moves_each_image_by_its_own_offset():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(200, 64)
    x[:, 3 * 8 + 4] = 1.0                                   # one lit pixel at row 3, column 4
    out = shift_images(x, 1, g).reshape(200, 8, 8)
    rows, cols = out.nonzero(as_tuple=True)[1:]
    assert out.sum() == 200                                 # nothing falls off the 8x8 frame for a 1-pixel shift
    assert set(rows.tolist()) == {2, 3, 4} and set(cols.tolist()) == {3, 4, 5}
    assert torch.equal(shift_images(x, 0, g), x)


def test_augmentations_keep_shape_and_range_and_are_reproducible():
    x = torch.from_numpy(make_longtail_digits(random_state=0).X_train[:32])
    for fn in (augment_weak, augment_view, augment_strong, lambda v, g: augment_strong(v, g, "mild")):
        a = fn(x, torch.Generator().manual_seed(1))
        b = fn(x, torch.Generator().manual_seed(1))
        assert a.shape == x.shape and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    strong = augment_strong(x, torch.Generator().manual_seed(2))
    weak = augment_weak(x, torch.Generator().manual_seed(2))
    assert (strong - x).abs().mean() > (weak - x).abs().mean()


def test_bad_input():
    with pytest.raises(ValueError, match="imbalance_ratio"):
        make_longtail_digits(0.5)
    with pytest.raises(ValueError, match="n_test_per_class"):
        make_longtail_digits(n_test_per_class=0)
    with pytest.raises(ValueError, match="no training images"):
        make_longtail_digits(n_test_per_class=100, n_val_per_class=74)
    with pytest.raises(ValueError, match="class_order"):
        make_longtail_digits(class_order="sorted")
    lt = make_longtail_digits(random_state=0)
    with pytest.raises(ValueError, match="kind"):
        make_test_distribution(lt, "sideways")
    with pytest.raises(ValueError, match="test_imbalance"):
        make_test_distribution(lt, "forward", test_imbalance=float("nan"))
    with pytest.raises(ValueError, match="x must"):
        augment_weak(torch.zeros(3, 10), torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        augment_weak(torch.zeros(3, 64), 0)
    with pytest.raises(ValueError, match="strength"):
        augment_strong(torch.zeros(3, 64), torch.Generator(), "wild")
