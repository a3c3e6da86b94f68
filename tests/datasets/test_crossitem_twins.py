"""Twin questions: the same evidence, question and answer in one item or spread over four."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from diversa.datasets.crossitem import observe
from diversa.datasets.crossitem.twins import (
    CROSS_ITEM,
    KINDS,
    SINGLE_ITEM,
    generate_twins,
    reason_twin,
    source_views,
)
from diversa.evaluate.crossitem import question_frames


@pytest.fixture(scope="module")
def pairs():
    return generate_twins(60, seed=2, split="test")


def _views(question, total_frames):
    return [observe(item.duration, frames) for item, frames in zip(question.items, question_frames(question, total_frames))]


def _rounded(views):
    return [{key: (round(a, 9), round(b, 9)) for key, (a, b) in v.facts.items()} for v in views]


@pytest.mark.parametrize("total_frames", [8, 32, 128])
def test_both_twins_show_the_same_facts_at_the_same_times(pairs, total_frames):
    # Fails if the procedures had different durations (the one long video would sample them at other
    # relative times) or if the cooks' turns were out of the videos' order.
    for pair in pairs:
        single = source_views(pair.single, _views(pair.single, total_frames))
        cross = source_views(pair.cross, _views(pair.cross, total_frames))
        assert _rounded(single) == _rounded(cross)


def test_exact_reasoning_scores_the_same_on_both_twins(pairs):
    for total_frames in (16, 128):
        right = {layout: [reason_twin(q.public(), _views(q, total_frames), np.random.default_rng(0)) == q.answer
                          for q in (getattr(p, layout) for p in pairs)] for layout in ("single", "cross")}
        assert right["single"] == right["cross"]
    assert np.mean(right["cross"]) > 0.95  # at the official 128 frames the evidence is all visible


def test_twins_differ_only_in_where_the_facts_live(pairs):
    for pair in pairs:
        single, cross = pair
        assert (single.task, cross.task) == (SINGLE_ITEM, CROSS_ITEM)
        assert (len(single.items), len(cross.items)) == (1, 4)
        assert single.answer == cross.answer
        assert single.params["option_values"] == cross.params["option_values"]
        assert single.question.replace("cook", "video") == cross.question
        assert cross.options == tuple(f"Video {v + 1}" for v in cross.params["option_values"])
        assert single.options == tuple(single.params["cooks"][v] for v in single.params["option_values"])


def test_answers_are_uniform_over_letters_and_kinds():
    pairs = generate_twins(800, seed=0, split="train")
    letters = [sum(p.cross.answer == letter for p in pairs) for letter in "ABCD"]
    kinds = [sum(p.cross.params["kind"] == kind for p in pairs) for kind in KINDS]
    assert stats.chisquare(letters).pvalue > 0.001 and stats.chisquare(kinds).pvalue > 0.001


def test_splits_and_seeds_are_separate_streams():
    train = generate_twins(30, seed=0, split="train")
    test = generate_twins(30, seed=0, split="test")
    again = generate_twins(30, seed=0, split="test")
    worlds = lambda pairs: [tuple(f.key for item in p.cross.items for f in item.facts) for p in pairs]  # noqa: E731
    assert worlds(test) == worlds(again)
    assert not set(worlds(train)) & set(worlds(test))


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        generate_twins(2, split="dev")
    with pytest.raises(ValueError, match="n must be"):
        generate_twins(0)
    not_a_twin = dataclasses.replace(generate_twins(1, seed=0)[0].cross, task="CC")
    with pytest.raises(ValueError, match="twin"):
        source_views(not_a_twin, [])
