"""SumChain: a stepwise arithmetic task whose reasoning can be long, short or redundant.

diversa's small stand-in (spec ``merge.md`` 7) for the math problems of ReCUT
(Jin et al., "ReCUT: Balancing Reasoning Length and Accuracy in LLMs via
Stepwise Trials and Preference Optimization", arXiv:2506.10822): problems
have a gold answer, and a trajectory of reasoning steps leads to it more or
less concisely, with a trade-off between short and reliable steps.

A problem is k in {3, 4, 5} digits ``a_i`` in 0..9; the answer is ``(sum a_i)
mod 10``. Vocabulary (19 ids): digits 0-9, ``PAD`` 10, ``BOS`` 11, the
instruction tokens ``LONG`` 12, ``SHORT`` 13, ``NEUTRAL`` 14 (think deeply /
be concise / plain question), ``SEP`` 15, ``PLUS`` 16, ``EQ`` 17, ``EOS`` 18.
Prompt: ``[BOS, mode, a_1..a_k, SEP]``. Reasoning steps keep a running sum s
(starting at 0):

- fine step ``PLUS a s'`` consumes one digit (3 tokens, easy);
- coarse step ``PLUS a b s'`` consumes two digits at once (4 tokens, harder);
- redundant re-check ``PLUS s`` repeats s (2 tokens, useless: "overthinking");
- answer step ``EQ s EOS``.

The reasoning length is the number of generated tokens. Gold trajectories
for supervised training draw, per step, a fine or a coarse step (coarse only
with >= 2 digits left) and, after it, a redundant step, with the mode's
probabilities ``STYLES[mode] = (P(fine), P(coarse), P(redundant))``: long
(0.9, 0.1, 0.5), short (0.1, 0.9, 0.05), neutral (0.7, 0.3, 0.4), so the
plain prompt overthinks. ReCUT samples continuations from arbitrary prefixes,
so :func:`sft_examples` mixes styles: half of the examples start with a prefix
in another mode's style, and only the continuation (in the prompt's mode) is
trained on. Sequences are at most ``MAX_LEN = 48`` tokens.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["BOS", "EOS", "EQ", "LONG", "MAX_LEN", "MODES", "NEUTRAL", "PAD", "PLUS", "SEP", "SHORT", "STYLES",
           "SumChainFormat", "SumChainProblems", "VOCAB_SIZE", "gold_reasoning", "make_problems", "prompt",
           "sft_examples"]

PAD, BOS, LONG, SHORT, NEUTRAL, SEP, PLUS, EQ, EOS = range(10, 19)
VOCAB_SIZE = 19
MAX_LEN = 48
#: Instruction token of each mode.
MODES = {"long": LONG, "short": SHORT, "neutral": NEUTRAL}
#: Per-step probabilities of a fine step, a coarse step and a redundant re-check after a step.
STYLES = {"long": (0.9, 0.1, 0.5), "short": (0.1, 0.9, 0.05), "neutral": (0.7, 0.3, 0.4)}
#: Share of supervised examples whose reasoning starts with a prefix in another mode's style.
MIXED_SHARE = 0.5


class SumChainProblems(NamedTuple):
    """Problems (``digits[i]``: list of k digits) and their answers (``(sum digits[i]) mod 10``)."""

    digits: list[list[int]]
    answers: list[int]

    def __len__(self) -> int:
        return len(self.answers)


def make_problems(n: int, seed: int, k_range: tuple[int, int] = (3, 5)) -> SumChainProblems:
    """``n`` random problems with k uniform in ``k_range`` (inclusive), reproducible from ``seed``."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}.")
    low, high = k_range
    if not 1 <= low <= high:
        raise ValueError(f"k_range must be (low, high) with 1 <= low <= high, got {k_range!r}.")
    rng = np.random.default_rng(seed)
    digits = [rng.integers(0, 10, size=int(rng.integers(low, high + 1))).tolist() for _ in range(n)]
    return SumChainProblems(digits, [sum(d) % 10 for d in digits])


def prompt(digits, mode: str = "neutral") -> list[int]:
    """``[BOS, mode token, a_1..a_k, SEP]``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}.")
    return [BOS, MODES[mode], *[int(a) for a in digits], SEP]


def _steps(digits, start: int, total: int, mode: str, rng: np.random.Generator,
           max_steps: int | None = None) -> tuple[list[int], int, int]:
    """Reasoning tokens from digit ``start`` with running sum ``total``; stops after ``max_steps`` digit steps.

    Returns (tokens, next digit index, running sum).
    """
    _, p_coarse, p_redundant = STYLES[mode]
    tokens: list[int] = []
    i, steps = start, 0
    while i < len(digits) and (max_steps is None or steps < max_steps):
        if len(digits) - i >= 2 and rng.random() < p_coarse:
            total = (total + digits[i] + digits[i + 1]) % 10
            tokens += [PLUS, digits[i], digits[i + 1], total]
            i += 2
        else:
            total = (total + digits[i]) % 10
            tokens += [PLUS, digits[i], total]
            i += 1
        steps += 1
        if rng.random() < p_redundant:
            tokens += [PLUS, total]
    return tokens, i, total


def gold_reasoning(digits, mode: str, rng: np.random.Generator) -> list[int]:
    """A correct trajectory in ``mode``'s style, ending with ``EQ answer EOS``."""
    tokens, _, total = _steps(list(digits), 0, 0, mode, rng)
    return tokens + [EQ, total, EOS]


def sft_examples(n: int, rng: np.random.Generator, k_range: tuple[int, int] = (3, 5)) -> list[tuple[list[int], int]]:
    """``n`` supervised examples ``(tokens, first_trained_position)``.

    Prompt mode uniform over the three modes; with probability
    ``MIXED_SHARE`` the reasoning starts with a prefix of random length in a
    random mode's style (not trained on), then continues in the prompt's mode.
    The loss covers tokens from ``first_trained_position`` on.
    """
    modes = list(MODES)
    out = []
    for _ in range(n):
        k = int(rng.integers(k_range[0], k_range[1] + 1))
        digits = rng.integers(0, 10, size=k).tolist()
        mode = modes[int(rng.integers(len(modes)))]
        head = prompt(digits, mode)
        prefix, start, total = [], 0, 0
        if rng.random() < MIXED_SHARE:
            prefix, start, total = _steps(digits, 0, 0, modes[int(rng.integers(len(modes)))], rng,
                                          max_steps=int(rng.integers(0, k)))
        rest, _, total = _steps(digits, start, total, mode, rng)
        out.append((head + prefix + rest + [EQ, total, EOS], len(head) + len(prefix)))
    return out


class SumChainFormat:
    """How ReCUT reads a SumChain continuation (spec's ``TrajectoryFormat``).

    A step runs from a ``PLUS`` up to (not including) the next ``PLUS`` or
    ``EQ``; the answer step is ``EQ s EOS`` (everything from ``EQ`` on). The
    final answer is the digit after the first ``EQ`` (None when missing); the
    length is the number of tokens. ``eos_id`` and ``max_len`` tell a
    generator when to stop.
    """

    eos_id = EOS
    max_len = MAX_LEN

    @staticmethod
    def split_steps(tokens) -> list[list[int]]:
        """The steps of a continuation, in order (leading tokens before any marker form a step of their own)."""
        steps: list[list[int]] = []
        current: list[int] = []
        for i, t in enumerate(tokens):
            if t == EQ:
                if current:
                    steps.append(current)
                steps.append(list(tokens[i:]))
                return steps
            if t == PLUS and current:
                steps.append(current)
                current = []
            current.append(int(t))
        if current:
            steps.append(current)
        return steps

    @staticmethod
    def final_answer(tokens) -> int | None:
        """The digit after the first ``EQ``, or None."""
        tokens = list(tokens)
        if EQ not in tokens:
            return None
        i = tokens.index(EQ)
        return int(tokens[i + 1]) if i + 1 < len(tokens) and 0 <= tokens[i + 1] <= 9 else None

    @staticmethod
    def is_answer_step(step) -> bool:
        """Whether a step is the final-answer step."""
        return bool(step) and step[0] == EQ

    @staticmethod
    def length(tokens) -> int:
        return len(tokens)
