"""TemporalTextWorld: determinism, entity births, smooth topic drift, validation."""

import numpy as np
import pytest

from diversa.datasets.timestamped_text import TemporalTextWorld, entity_tokens


@pytest.fixture(scope="module")
def world():
    return TemporalTextWorld(seed=0)


def test_vocabulary_layout(world):
    assert len(world.vocabulary) == 40 + 12 * 25 + 150
    assert world.vocabulary[0] == "f0" and world.vocabulary[world.topic_offset] == "t0_0"
    assert world.vocabulary[world.entity_offset] == "e0"
    assert np.all(np.diff(world.entity_births) >= 0)


def test_same_seed_same_documents(world):
    times = np.linspace(0, 1, 50)
    assert world.sample(times, 3) == TemporalTextWorld(seed=0).sample(times, 3)
    assert world.sample(times, 3) != world.sample(times, 4)
    assert not np.array_equal(TemporalTextWorld(seed=1).entity_births, world.entity_births)


def test_documents_have_the_right_length_and_words(world):
    texts = world.sample(np.random.default_rng(0).uniform(0, 1, 30), 0)
    vocabulary = set(world.vocabulary)
    assert all(len(t.split()) == 40 and set(t.split()) <= vocabulary for t in texts)


def test_no_entity_before_its_birth(world):
    texts, times = world.sample_window(2000, 0.0, 1.0, 0)
    mentions = [(world.entity_birth(e), t) for text, t in zip(texts, times) for e in entity_tokens(text)]
    assert mentions and all(birth <= t for birth, t in mentions)


def test_no_entity_exists_at_time_zero(world):
    texts = world.sample(np.zeros(200), 0)
    assert not any(entity_tokens(t) for t in texts)


def _topic_histogram(world, texts):
    counts = np.zeros(world.n_topics)
    for text in texts:
        for word in text.split():
            if word.startswith("t"):
                counts[int(word[1:].split("_")[0])] += 1
    return counts / counts.sum()


def test_documents_at_equal_times_share_topic_statistics(world):
    first = _topic_histogram(world, world.sample(np.full(1500, 0.3), 1))
    second = _topic_histogram(world, world.sample(np.full(1500, 0.3), 2))
    later = _topic_histogram(world, world.sample(np.full(1500, 0.9), 3))
    assert 0.5 * np.abs(first - second).sum() < 0.05
    assert 0.5 * np.abs(first - later).sum() > 0.5  # topics drift with time


def test_token_kind_shares(world):
    tokens = world.sample_tokens(np.full(2000, 0.7), 0)
    shares = [(tokens < world.topic_offset).mean(), (tokens >= world.entity_offset).mean()]
    assert shares[0] == pytest.approx(0.5, abs=0.02) and shares[1] == pytest.approx(0.15, abs=0.02)


@pytest.mark.parametrize("kwargs", [{"p_func": 0.5, "p_topic": 0.5, "p_entity": 0.5}, {"n_topics": 0},
                                    {"topic_width": 0.0}, {"doc_length": True}])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        TemporalTextWorld(**kwargs)


def test_bad_times(world):
    with pytest.raises(ValueError, match="times"):
        world.sample([0.1, np.nan])
    with pytest.raises(ValueError, match="low < high"):
        world.sample_window(3, 0.5, 0.5)
