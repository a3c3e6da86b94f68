import numpy as np
import pytest

from diversa.datasets.tagging import TaggingData, make_tagging_data


def test_shapes_padding_and_determinism():
    data = make_tagging_data(200, L=30, seed=3)
    assert isinstance(data, TaggingData)
    tokens, labels, mask = data
    assert tokens.shape == labels.shape == mask.shape == (200, 30)
    assert tokens.dtype == labels.dtype == np.int64 and mask.dtype == bool
    lengths = mask.sum(1)
    assert lengths.min() >= 15 and lengths.max() <= 30
    assert np.all(mask == (np.arange(30)[None, :] < lengths[:, None]))   # padding only at the end
    assert np.all(tokens[~mask] == 0) and np.all(tokens[mask] > 0) and not labels[~mask].any()
    again = make_tagging_data(200, L=30, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(data, again))
    assert not np.array_equal(tokens, make_tagging_data(200, L=30, seed=4).tokens)


def test_labels_follow_the_entity_trigger_rule_and_the_rate_is_a_few_percent():
    tokens, labels, mask = make_tagging_data(3000, flip=0.0, seed=0)
    entity, strong = (tokens >= 1) & (tokens <= 30), (tokens >= 1) & (tokens <= 15)
    trigger = (tokens >= 31) & (tokens <= 40)
    after_trigger = np.zeros_like(trigger)
    after_trigger[:, 1:] = trigger[:, :-1]
    assert np.array_equal(labels.astype(bool), entity & (strong | after_trigger))
    # context matters: weak entities are positive only after a trigger
    weak = entity & ~strong
    assert labels[weak & after_trigger].all() and not labels[weak & ~after_trigger].any()
    assert (weak & after_trigger).sum() > 0
    assert 0.03 < labels[mask].mean() < 0.06
    assert entity[mask].mean() == pytest.approx(0.08, abs=0.005)


def test_flip_turns_a_fraction_of_positives_negative():
    clean = make_tagging_data(3000, flip=0.0, seed=1).labels
    noisy = make_tagging_data(3000, flip=0.2, seed=1).labels
    assert not np.any(noisy & ~clean)                      # flips only remove positives
    assert (clean.sum() - noisy.sum()) / clean.sum() == pytest.approx(0.2, abs=0.03)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="n_seq"):
        make_tagging_data(0)
    with pytest.raises(TypeError, match="L"):
        make_tagging_data(5, L=4.0)
    with pytest.raises(ValueError, match="vocab"):
        make_tagging_data(5, vocab=35)
    with pytest.raises(ValueError, match="flip"):
        make_tagging_data(5, flip=1.5)
    with pytest.raises(ValueError, match="entity_rate"):
        make_tagging_data(5, entity_rate=-0.1)
    with pytest.raises(ValueError, match="ambiguity"):
        make_tagging_data(5, ambiguity=1.2)


def test_ambiguous_weak_entities_are_positive_at_their_declared_rates():
    tokens, labels, mask = make_tagging_data(6000, flip=0.0, seed=2, ambiguity=0.5)
    trigger = (tokens >= 31) & (tokens <= 40)
    after_trigger = np.zeros_like(trigger)
    after_trigger[:, 1:] = trigger[:, :-1]
    assert labels[(tokens >= 1) & (tokens <= 15)].all()  # strong entities stay positive
    rates = [labels[(tokens == k) & ~after_trigger & mask].mean() for k in range(16, 31)]
    expected = 0.5 * (np.arange(15) + 0.5) / 15
    np.testing.assert_allclose(rates, expected, atol=0.05)
    assert np.corrcoef(rates, expected)[0, 1] > 0.9


def test_ambiguity_puts_positives_below_a_half_posterior():
    # The Bayes decision at 0.5 (strong entities and weak ones after a trigger) misses the
    # ambiguous positives: its recall falls well below its precision, unlike the clean task.
    def recall_and_precision(ambiguity):
        tokens, labels, mask = make_tagging_data(4000, seed=3, ambiguity=ambiguity)
        trigger = (tokens >= 31) & (tokens <= 40)
        after_trigger = np.zeros_like(trigger)
        after_trigger[:, 1:] = trigger[:, :-1]
        decided = (((tokens >= 1) & (tokens <= 15)) | ((tokens >= 16) & (tokens <= 30) & after_trigger)) & mask
        hits = (decided & (labels == 1)).sum()
        return hits / labels[mask].sum(), hits / decided.sum()

    recall, precision = recall_and_precision(0.5)
    assert recall < precision - 0.1
    recall, precision = recall_and_precision(0.0)
    assert abs(recall - precision) < 0.03
    # the default keeps the deterministic rule's data exactly
    assert all(np.array_equal(a, b) for a, b in zip(make_tagging_data(50, seed=1),
                                                    make_tagging_data(50, seed=1, ambiguity=0.0)))
