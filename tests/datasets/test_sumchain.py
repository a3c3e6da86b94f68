import numpy as np
import pytest

from diversa.datasets.sumchain import (
    BOS,
    EOS,
    EQ,
    MAX_LEN,
    NEUTRAL,
    PLUS,
    SEP,
    SumChainFormat,
    gold_reasoning,
    make_problems,
    prompt,
    sft_examples,
)

FMT = SumChainFormat()


def _check_running_sums(digits, reasoning):
    """Every step's last token is the running sum of the digits consumed so far; the answer is the total."""
    consumed, total = 0, 0
    for step in FMT.split_steps(reasoning):
        if FMT.is_answer_step(step):
            assert step == [EQ, total, EOS]
            return consumed
        body = step[1:]
        if len(body) == 1:  # redundant re-check
            assert body == [total]
            continue
        operands, result = body[:-1], body[-1]
        assert operands == digits[consumed: consumed + len(operands)]
        total = (total + sum(operands)) % 10
        consumed += len(operands)
        assert result == total
    raise AssertionError("no answer step")


def test_problems_are_reproducible_and_answered():
    a, b = make_problems(50, seed=3), make_problems(50, seed=3)
    assert a == b and a != make_problems(50, seed=4)
    assert all(ans == sum(d) % 10 and 3 <= len(d) <= 5 for d, ans in zip(a.digits, a.answers))
    assert prompt([4, 7, 1]) == [BOS, NEUTRAL, 4, 7, 1, SEP]


@pytest.mark.parametrize("mode", ["long", "short", "neutral"])
def test_gold_reasoning_is_correct_step_by_step(mode):
    rng = np.random.default_rng(0)
    problems = make_problems(200, seed=1)
    for digits, answer in zip(problems.digits, problems.answers):
        reasoning = gold_reasoning(digits, mode, rng)
        assert _check_running_sums(digits, reasoning) == len(digits)
        assert FMT.final_answer(reasoning) == answer


def test_short_style_is_shortest_and_long_style_longest():
    rng = np.random.default_rng(0)
    problems = make_problems(400, seed=2)
    mean = {mode: np.mean([len(gold_reasoning(d, mode, rng)) for d in problems.digits])
            for mode in ("short", "neutral", "long")}
    assert mean["short"] + 2 < mean["neutral"] < mean["long"]


def test_sft_examples_mix_styles_and_train_on_continuations_only():
    rng = np.random.default_rng(5)
    examples = sft_examples(300, rng)
    mixed = 0
    for tokens, start in examples:
        sep = tokens.index(SEP)
        digits = tokens[2:sep]
        assert start >= sep + 1 and len(tokens) <= MAX_LEN
        assert _check_running_sums(digits, tokens[sep + 1:]) == len(digits)
        mixed += start > sep + 1
    assert 0.2 < mixed / len(examples) < 0.5  # half are mixed, some with an empty prefix


def test_steps_and_answers_of_a_hand_written_continuation():
    tokens = [PLUS, 3, 3, PLUS, 3, PLUS, 4, 5, 2, EQ, 2, EOS]
    assert FMT.split_steps(tokens) == [[PLUS, 3, 3], [PLUS, 3], [PLUS, 4, 5, 2], [EQ, 2, EOS]]
    assert FMT.final_answer(tokens) == 2 and FMT.length(tokens) == 12
    assert FMT.final_answer([PLUS, 3, 3]) is None and FMT.final_answer([PLUS, 3, EQ]) is None
    assert FMT.split_steps([EQ, 5, EOS]) == [[EQ, 5, EOS]]


def test_bad_input():
    with pytest.raises(ValueError, match="mode"):
        prompt([1, 2], "terse")
    with pytest.raises(ValueError, match="k_range"):
        make_problems(3, seed=0, k_range=(4, 2))
