import numpy as np
import pytest

from diversa.datasets import imbalanced_class_counts, make_imbalanced


@pytest.mark.parametrize("n_samples,ratio,n_classes", [(1100, 10, 2), (5000, 50, 3), (999, 1, 4), (2000, 3.5, 2)])
def test_counts_are_exact_and_skewed_as_asked(n_samples, ratio, n_classes):
    X, y = make_imbalanced(n_samples, 6, imbalance_ratio=ratio, n_classes=n_classes, random_state=3)
    counts = np.bincount(y, minlength=n_classes)
    assert X.shape == (n_samples, 6) and y.shape == (n_samples,)
    assert counts.tolist() == imbalanced_class_counts(n_samples, n_classes, ratio).tolist()
    assert counts.sum() == n_samples
    assert np.all(np.diff(counts) <= 0)  # class 0 is the majority, the last class the minority
    assert counts[0] / counts[-1] == pytest.approx(ratio, rel=0.05)


def test_binary_minority_label_is_one():
    _, y = make_imbalanced(600, 4, imbalance_ratio=5, random_state=0)
    assert np.bincount(y).tolist() == [500, 100]


def test_deterministic_given_seed_and_different_across_seeds():
    a = make_imbalanced(300, 5, random_state=7)
    b = make_imbalanced(300, 5, random_state=7)
    c = make_imbalanced(300, 5, random_state=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_label_noise_keeps_counts_exact():
    _, y = make_imbalanced(2000, 5, imbalance_ratio=20, flip_y=0.2, random_state=1)
    assert np.bincount(y).tolist() == imbalanced_class_counts(2000, 2, 20).tolist()


@pytest.mark.parametrize("kwargs,argument", [
    ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
    ({"n_classes": 1}, "n_classes"),
    ({"n_samples": 10, "imbalance_ratio": 100}, "n_samples"),
    ({"n_features": 3, "n_informative": 3, "n_redundant": 2}, "n_informative"),
])
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        make_imbalanced(**kwargs)
