"""A learned CrossItem-Lite solver: a small recurrent reader over the facts seen in the frames.

CrossVid (Li et al., "CrossVid: A Comprehensive Benchmark for Evaluating
Cross-Video Reasoning in Multimodal Large Language Models", arXiv:2511.12263)
evaluates video MLLMs, which read a query as one sequence: a "Video i:"
marker, that video's frames, the next marker, ..., then the question and
options. :class:`RecurrentReaderSolver` reads the same layout with the
smallest model that trains offline in seconds:

* the sequence is one token for the question, then per item a marker token
  ("Video i") followed by one token per fact its frames show, in order of
  first sighting (the facts and times a :class:`View` reconstructs from the
  frames, nothing else);
* every token is described by generic features: its type (question, marker,
  fact), the first and last time it was seen (fractions of the item), how
  many word stems it shares with the question, a fixed random projection of
  its word stems (which words it contains), and whether it mentions the
  option being scored (all of the option's words occur in it);
* a GRU reads the sequence once per option (weights shared by the options)
  and a linear layer scores the option from the last state; the answer is the
  best-scoring option.

Nothing tells the model which item a fact belongs to except the sequence
itself: a fact that names a cook mentions the option "Ada" directly, while a
fact of "Video 2" follows the marker that mentions the option "Video 2".
Whether the reader learns to carry that across the item is up to training.

Only single-choice questions are supported (options are scored against each
other); fit it on questions with known answers and the frames a solver sees.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from diversa.datasets.crossitem.items import Frame, observe
from diversa.datasets.crossitem.reasoning import LETTERS

QUESTION, MARKER, FACT = range(3)
_WORD = re.compile(r"[a-z0-9]+")
#: Width of the fixed random word projection.
WORD_FEATURES = 16
STEM_LENGTH = 4


def stems(text: str) -> set[str]:
    """Lower-case word stems (first four letters), so "heating" and "heat" meet."""
    return {word[:STEM_LENGTH] for word in _WORD.findall(text.lower())}


def question_tokens(question, frames_per_item: Sequence[Sequence[Frame]]) -> list[tuple[int, set[str], float, float]]:
    """The reading order of one question: (token type, word stems, first seen, last seen)."""
    tokens = [(QUESTION, stems(question.question), 0.0, 0.0)]
    for i, (duration, frames) in enumerate(zip(question.item_durations, frames_per_item)):
        tokens.append((MARKER, stems(f"Video {i + 1}"), 0.0, 0.0))
        view = observe(duration, list(frames))
        for key in sorted(view.facts, key=lambda k: (view.facts[k][0], repr(k))):
            start, end = view.facts[key]
            tokens.append((FACT, stems(" ".join(map(str, key))), start / duration, end / duration))
    return tokens


@functools.lru_cache(maxsize=4096)
def _word_vector(stem: str) -> np.ndarray:
    # A fixed pseudo-random vector per stem (crc32-seeded): the same word gets the same vector in every run.
    return np.random.default_rng(zlib.crc32(stem.encode())).standard_normal(WORD_FEATURES) / np.sqrt(WORD_FEATURES)


def token_features(question, frames_per_item) -> np.ndarray:
    """Features of every (option, token): shape (n_options, n_tokens, 7 + WORD_FEATURES)."""
    tokens = question_tokens(question, frames_per_item)
    asked = tokens[0][1]
    kinds = np.array([[float(kind == k) for k in (QUESTION, MARKER, FACT)] for kind, _, _, _ in tokens])
    seen = np.array([[start, end] for _, _, start, end in tokens])
    overlap = np.array([[len(words & asked) / max(1, len(asked))] for _, words, _, _ in tokens])
    words = np.array([np.sum([_word_vector(s) for s in sorted(w)], axis=0) if w else np.zeros(WORD_FEATURES)
                      for _, w, _, _ in tokens])
    per_option = []
    for option in question.options:
        wanted = stems(option)
        mentions = np.array([[float(kind != QUESTION and bool(wanted) and wanted <= w)] for kind, w, _, _ in tokens])
        per_option.append(np.hstack([kinds, seen, overlap, mentions, words]))
    return np.stack(per_option)


class _Reader(nn.Module):
    def __init__(self, n_features: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden, batch_first=True)
        self.score = nn.Linear(hidden, 1)

    def forward(self, features, lengths):
        """features (B, K, L, F), lengths (B,) -> option scores (B, K)."""
        b, k, length, f = features.shape
        states, _ = self.gru(features.reshape(b * k, length, f))
        last = states[torch.arange(b * k), lengths.repeat_interleave(k) - 1]
        return self.score(last).reshape(b, k)


class RecurrentReaderSolver:
    """A small GRU reader trained to answer single-choice CrossItem-Lite questions from their frames.

    Parameters
    ----------
    hidden : GRU state size.
    epochs, batch_size, lr : training budget (Adam, cross-entropy over the options).
    seed : initialisation and batch order.
    """

    name = "recurrent-reader"

    def __init__(self, hidden: int = 32, epochs: int = 20, batch_size: int = 32, lr: float = 3e-3, seed: int = 0):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed

    @staticmethod
    def _batch(questions, frames) -> tuple[torch.Tensor, torch.Tensor]:
        arrays = [token_features(q.public() if hasattr(q, "public") else q, f) for q, f in zip(questions, frames)]
        if len({a.shape[0] for a in arrays}) != 1:
            raise ValueError("every question must have the same number of options.")
        lengths = torch.tensor([a.shape[1] for a in arrays])
        padded = np.zeros((len(arrays), arrays[0].shape[0], int(lengths.max()), arrays[0].shape[2]), dtype=np.float32)
        for i, a in enumerate(arrays):
            padded[i, :, :a.shape[1]] = a
        return torch.from_numpy(padded), lengths

    @staticmethod
    def _checked(questions, frames, name: str) -> None:
        if len(questions) != len(frames) or not len(questions):
            raise ValueError(f"{name}: questions and frames must pair up and be non-empty, "
                             f"got {len(questions)} and {len(frames)}.")
        if any(q.format != "single_choice" for q in questions):
            raise ValueError(f"{name}: questions must all be single_choice (the solver scores options against each other).")

    def fit(self, questions: Sequence, frames: Sequence, validation: tuple[Sequence, Sequence] | None = None
            ) -> "RecurrentReaderSolver":
        """Train on questions with known answers (letters) and their frames.

        ``frames[k]`` holds the frames of every item of ``questions[k]``, rendered as the
        harness renders them for the budget the solver will be judged at. With
        ``validation=(questions, frames)`` the parameters of the epoch with the best
        validation accuracy are kept (the earliest among equals); ``best_epoch_`` says which.
        """
        self._checked(questions, frames, "training")
        features, lengths = self._batch(questions, frames)
        targets = torch.tensor([LETTERS.index(q.answer) for q in questions])
        if validation is not None:
            self._checked(*validation, "validation")
            held_out = self._batch(*validation)
            held_out_targets = torch.tensor([LETTERS.index(q.answer) for q in validation[0]])
        torch.manual_seed(self.seed)
        self.model_ = _Reader(features.shape[-1], self.hidden)
        optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        order = torch.Generator().manual_seed(self.seed)
        self.loss_curve_, self.validation_curve_ = [], []
        best: tuple = (-1.0, None, 0)
        for epoch in range(self.epochs):
            total = 0.0
            for rows in torch.randperm(len(questions), generator=order).split(self.batch_size):
                loss = nn.functional.cross_entropy(self.model_(features[rows], lengths[rows]), targets[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(rows)
            self.loss_curve_.append(total / len(questions))
            if validation is not None:
                with torch.no_grad():
                    accuracy = float((self.model_(*held_out).argmax(1) == held_out_targets).float().mean())
                self.validation_curve_.append(accuracy)
                if accuracy > best[0]:
                    best = (accuracy, {k: v.clone() for k, v in self.model_.state_dict().items()}, epoch + 1)
        if validation is not None:
            self.model_.load_state_dict(best[1])
            self.best_epoch_ = best[2]
        else:
            self.best_epoch_ = self.epochs
        return self

    def predict(self, questions: Sequence, frames: Sequence) -> list[str]:
        """Answer letters for many questions at once (public or full questions)."""
        features, lengths = self._batch(questions, frames)
        with torch.no_grad():
            scores = self.model_(features, lengths)
        return [LETTERS[int(i)] for i in scores.argmax(1)]

    def answer(self, question, frames_per_item) -> str:
        """The harness's solver protocol: one public question and its frames -> a letter."""
        return self.predict([question], [frames_per_item])[0]
