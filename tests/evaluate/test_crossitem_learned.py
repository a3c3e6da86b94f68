"""The learned CrossItem-Lite reader: what it reads, that it learns from frames, that it keeps its best epoch."""

import dataclasses

import numpy as np
import pytest
import torch

from diversa.datasets.crossitem import generate_questions
from diversa.datasets.crossitem.twins import generate_twins
from diversa.evaluate.crossitem import question_frames
from diversa.evaluate.crossitem.learned import RecurrentReaderSolver, question_tokens, token_features


def _frames(questions):
    return [question_frames(q, 128) for q in questions]


def _accuracy(reader, questions):
    return float(np.mean([a == q.answer for a, q in zip(reader.predict(questions, _frames(questions)), questions)]))


#: The two twin kinds the reader learns fastest (a lookup and a count), to keep the test short.
EASY = ("uses_ingredient", "most_heat")


def _easy(pairs):
    return [pair for pair in pairs if pair.single.params["kind"] in EASY]


@pytest.fixture(scope="module")
def twins():
    pool = _easy(generate_twins(520, seed=4, split="train"))
    train = [q for pair in pool[:220] for q in pair]
    validation = [q for pair in pool[220:] for q in pair]
    test = [pair.single for pair in _easy(generate_twins(200, seed=4, split="test"))]
    return train, validation, test


@pytest.fixture(scope="module")
def reader(twins):
    train, validation, _ = twins
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield RecurrentReaderSolver(epochs=10, batch_size=32, lr=1e-2, seed=0).fit(
            train, _frames(train), validation=(validation, _frames(validation)))
    finally:
        torch.set_num_threads(previous)


def test_reading_order_is_marker_then_the_items_facts():
    pair = generate_twins(1, seed=0)[0]
    tokens = question_tokens(pair.cross.public(), _frames([pair.cross])[0])
    kinds = [kind for kind, _, _, _ in tokens]
    assert kinds[0] == 0 and kinds.count(1) == 4  # the question, then one marker per video
    markers = [i for i, k in enumerate(kinds) if k == 1]
    facts_per_item = np.diff(markers + [len(tokens)]) - 1
    seen = [len(pair.cross.items[k].facts) for k in range(4)]
    assert list(facts_per_item) == seen  # 32 frames per 4-11 step procedure show every step


def test_an_option_is_mentioned_by_its_marker_or_by_its_cooks_facts():
    pair = generate_twins(1, seed=1)[0]
    for question in pair:
        features = token_features(question.public(), _frames([question])[0])
        tokens = question_tokens(question.public(), _frames([question])[0])
        for k, option in enumerate(question.options):
            mentioned = [i for i in range(len(tokens)) if features[k, i, 6] == 1]
            if question is pair.cross:  # "Video v" is named by its marker only
                assert [tokens[i][0] for i in mentioned] == [1]
            else:  # a cook is named by each of its steps, and only there
                cook = question.params["cooks"][question.params["option_values"][k]]
                assert {tokens[i][0] for i in mentioned} == {2}
                assert len(mentioned) == sum(1 for f in question.items[0].facts if f.key[-1] == cook)


def test_the_reader_learns_from_frames(reader, twins):
    *_, test = twins
    # A reader that ignores what it reads stays at 1/4; the trained one is well above it.
    assert _accuracy(reader, test) > 0.4


def test_the_answer_does_not_depend_on_where_an_option_is_listed(reader, twins):
    *_, test = twins
    question = test[0]
    shifted = dataclasses.replace(question, options=question.options[1:] + question.options[:1])
    first = reader.predict([question], _frames([question]))[0]
    second = reader.predict([shifted], _frames([shifted]))[0]
    assert question.options["ABCD".index(first)] == shifted.options["ABCD".index(second)]


def test_keeps_the_epoch_with_the_best_validation_accuracy(reader, twins):
    _, validation, _ = twins
    best = int(np.argmax(reader.validation_curve_))
    assert reader.best_epoch_ == best + 1
    assert _accuracy(reader, validation) == pytest.approx(reader.validation_curve_[best])


def test_bad_input():
    questions = generate_questions(["NC", "BU"], n_per_task=1, seed=0)
    frames = _frames(questions)
    with pytest.raises(ValueError, match="training: questions and frames"):
        RecurrentReaderSolver(epochs=1).fit(questions, frames[:1])
    with pytest.raises(ValueError, match="single_choice"):
        RecurrentReaderSolver(epochs=1).fit(questions, frames)
    single = [k for k, q in enumerate(questions) if q.task == "NC"]
    with pytest.raises(ValueError, match="validation: questions and frames"):
        RecurrentReaderSolver(epochs=1).fit([questions[k] for k in single], [frames[k] for k in single],
                                            validation=([questions[k] for k in single], []))
