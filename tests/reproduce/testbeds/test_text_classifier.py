import numpy as np
import pytest

from diversa.datasets import synthtext as st
from diversa.reproduce.testbeds.text_classifier import macro_accuracy, tiny_text_classifier, train_tiny_classifier


@pytest.fixture(scope="module")
def data():
    train = st.make_multidomain_text(300, seed=0, junk_rate=0.0, label_noise=0.0, dup_rate=0.0)
    test = st.make_eval_set(60, seed=1)
    return (st.token_ids(train), np.array([d.y for d in train]),
            st.token_ids(test), np.array([d.y for d in test]), np.array([d.domain for d in test]))


def test_learns_the_subtopic_and_is_reproducible(data, one_thread):
    ids, y, test_ids, test_y, test_dom = data
    proba = train_tiny_classifier(ids, y, seed=0, epochs=20)(test_ids)
    assert macro_accuracy(proba, test_y, test_dom) > 0.8
    np.testing.assert_array_equal(proba, train_tiny_classifier(ids, y, seed=0, epochs=20)(test_ids))


def test_sample_weight_decides_between_conflicting_labels(data, one_thread):
    # Every document twice: once with its label, once with the label shifted by one class. The
    # weights alone decide which copy the model learns (they used to be ignored).
    ids, y, test_ids, test_y, _ = data
    both_ids, both_y = np.concatenate([ids, ids]), np.concatenate([y, (y + 1) % 3])
    first = np.r_[np.ones(len(y)), np.zeros(len(y))]
    follow_true = train_tiny_classifier(both_ids, both_y, seed=0, epochs=20, sample_weight=first)(test_ids)
    follow_shift = train_tiny_classifier(both_ids, both_y, seed=0, epochs=20, sample_weight=1 - first)(test_ids)
    assert np.mean(follow_true.argmax(1) == test_y) > 0.8
    assert np.mean(follow_shift.argmax(1) == (test_y + 1) % 3) > 0.8


def test_uniform_weights_and_step_budget_match_plain_training(data, one_thread):
    ids, y, test_ids, *_ = data
    plain = train_tiny_classifier(ids, y, seed=1, epochs=3)(test_ids)
    np.testing.assert_allclose(train_tiny_classifier(ids, y, seed=1, epochs=3, sample_weight=np.full(len(y), 5.0))(test_ids),
                               plain, atol=1e-6)
    steps = 3 * int(np.ceil(len(y) / 64))        # three passes of batch 64 are the same batches
    np.testing.assert_allclose(train_tiny_classifier(ids, y, seed=1, n_steps=steps)(test_ids), plain, atol=1e-6)
    untrained = train_tiny_classifier(ids, y, seed=1, n_steps=0)(test_ids)
    assert not np.allclose(untrained, plain)
    np.testing.assert_allclose(untrained, train_tiny_classifier(ids, y, seed=1, epochs=0)(test_ids))


def test_module_shape_and_padding_mask(one_thread):
    import torch

    model = tiny_text_classifier()
    x = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 0, 0]])
    padded_more = torch.tensor([[5, 6, 7, 0, 0, 0, 0], [5, 6, 7, 0, 0, 0, 0]])
    assert model(x).shape == (2, 3)
    torch.testing.assert_close(model(x), model(padded_more))


def test_macro_accuracy_weighs_domains_equally():
    proba = np.eye(3)[[0] * 9 + [1]]
    y = np.array([0] * 9 + [2])
    domains = np.array([0] * 9 + [1])
    assert macro_accuracy(proba, y, domains) == pytest.approx(0.5)   # row-averaged would be 0.9
    with pytest.raises(ValueError, match="domains"):
        macro_accuracy(proba, y, domains[:5])


def test_bad_input(data):
    ids, y, *_ = data
    with pytest.raises(ValueError, match="sample_weight"):
        train_tiny_classifier(ids, y, seed=0, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        train_tiny_classifier(ids, y, seed=0, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="ids"):
        train_tiny_classifier(ids[0], y, seed=0)
    with pytest.raises(ValueError, match="n_steps"):
        train_tiny_classifier(ids, y, seed=0, n_steps=-1)
