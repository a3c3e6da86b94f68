"""AlgoTasks: a synthetic multi-task token dataset for tiny language models.

The shared data of the "experts" papers reproduced in diversa: Unchosen Experts
Can Contribute Too (SCMoE, arXiv:2405.14507), AdaMoE (arXiv:2406.13233),
Sigma-MoE-Tiny (arXiv:2512.16248), LoRA-Mixer (arXiv:2507.00029), SMoRA
(arXiv:2501.15103) and X-Cross (arXiv:2504.20859). None of these papers uses
it; it is diversa's own small stand-in (spec ``experts.md`` section 0.1) whose
answers are computable exactly, so that a 2-layer d=64 transformer learns it on
a CPU in about a minute.

Vocabulary (20 ids): digits 0-9, ``<pad>`` 10, ``<bos>`` 11, ``<sep>`` 12,
``<eos>`` 13, ``<key>`` 14 and one task token per task (15-19). Tasks, with
``x`` = n uniform digits, n ~ UniformInt[n_min, n_max]:

- ``copy``    ``<bos> <copy> x <sep>`` -> ``x <eos>``
- ``reverse`` ``<bos> <rev> x <sep>`` -> ``reversed(x) <eos>``
- ``sort``    ``<bos> <sort> x <sep>`` -> ``sorted(x) <eos>``
- ``modadd``  ``<bos> <add> c <key> x <sep>`` -> ``(x + c) % 10 <eos>``, c ~ UniformInt[1, key_max]
- ``shift``   ``<bos> <shift> x <sep>`` -> ``(x + 1) % 10 <eos>`` (held out of the default mix)

RESOLUTION (spec): the key of ``modadd`` is drawn from 1..key_max with
``key_max=3`` by default; with keys on 0..9 the task is grokking-hard (each
digit alone tells nothing about the answer) and is not learned in the tiny
budget. ``key_max=9`` is the "hard" variant.

Every sequence is right-padded with ``<pad>`` to ``MAX_LEN = 24``.
``loss_mask[i, t]`` is true exactly at the ``n + 1`` positions whose NEXT token
is an answer token (the last one being ``<eos>``). Seeds: training stream
``s``, validation ``20_000 + s``, test ``10_000 + s`` (see
:func:`make_test_set`). Train and test sequences may overlap (short copy
strings repeat); :func:`overlap_fraction` reports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, NamedTuple

import numpy as np
import torch

__all__ = ["AlgoBatch", "AlgoTasks", "make_test_set", "make_validation_set", "overlap_fraction"]


class AlgoBatch(NamedTuple):
    """A batch of AlgoTasks sequences.

    ``input_ids`` LongTensor[N, 24]; ``loss_mask`` BoolTensor[N, 24] (positions
    whose next token is an answer token); ``task_id`` LongTensor[N] (index into
    the generator's ``tasks``); ``prompt_len`` LongTensor[N] (index of the
    first answer token); ``answer_len`` LongTensor[N] (n + 1, with ``<eos>``).
    """

    input_ids: torch.Tensor
    loss_mask: torch.Tensor
    task_id: torch.Tensor
    prompt_len: torch.Tensor
    answer_len: torch.Tensor

    @property
    def n_examples(self) -> int:
        """Number of sequences (``len(batch)`` is the number of fields, as for any NamedTuple)."""
        return int(self.input_ids.shape[0])

    def subset(self, index) -> AlgoBatch:
        """The rows selected by ``index`` (a slice, a boolean mask or integer indices)."""
        return AlgoBatch(*(field[index] for field in self))


_TOKENS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "<pad>", "<bos>", "<sep>", "<eos>", "<key>",
           "<copy>", "<rev>", "<sort>", "<add>", "<shift>"]


class AlgoTasks:
    """Seeded generator of AlgoTasks batches (spec ``experts.md`` 0.1).

    Parameters
    ----------
    tasks : sequence of str
        Task names drawn from ``TASK_TOKENS``; default the four core tasks.
    task_weights : sequence of float or None
        Sampling probabilities of the tasks (uniform by default).
    n_range : (int, int)
        Inclusive range of the number of digits n, within [1, 10].
    key_max : int
        Largest ``modadd`` key (keys are uniform on 1..key_max), in [1, 9].
    seed : int
        Seed of the internal ``numpy.random.Generator`` stream.
    """

    VOCAB_SIZE = 20
    MAX_LEN = 24
    PAD, BOS, SEP, EOS, KEY = 10, 11, 12, 13, 14
    TASK_TOKENS: ClassVar[dict[str, int]] = {"copy": 15, "reverse": 16, "sort": 17, "modadd": 18, "shift": 19}
    CORE_TASKS = ("copy", "reverse", "sort", "modadd")

    def __init__(self, tasks: Sequence[str] = CORE_TASKS, task_weights=None, n_range=(4, 8), key_max: int = 3,
                 seed: int = 0):
        if isinstance(tasks, str):
            tasks = (tasks,)
        tasks = tuple(tasks)
        unknown = [t for t in tasks if t not in self.TASK_TOKENS]
        if unknown or not tasks:
            raise ValueError(f"tasks: unknown task(s) {unknown or tasks}; valid names are "
                             f"{sorted(self.TASK_TOKENS)}.")
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"tasks: duplicate names in {tasks}.")
        n_min, n_max = (int(v) for v in n_range)
        if not 1 <= n_min <= n_max <= 10:
            raise ValueError(f"n_range must satisfy 1 <= n_min <= n_max <= 10, got {tuple(n_range)}.")
        if not 1 <= int(key_max) <= 9:
            raise ValueError(f"key_max must be in [1, 9], got {key_max}.")
        if task_weights is None:
            weights = np.full(len(tasks), 1.0 / len(tasks))
        else:
            weights = np.asarray(task_weights, dtype=float)
            if weights.shape != (len(tasks),) or np.any(weights < 0) or weights.sum() <= 0:
                raise ValueError(f"task_weights must be {len(tasks)} non-negative numbers with a positive sum, "
                                 f"got {task_weights}.")
            weights = weights / weights.sum()
        self.tasks = tasks
        self.task_weights = weights
        self.n_range = (n_min, n_max)
        self.key_max = int(key_max)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def sample(self, n_examples: int) -> AlgoBatch:
        """Draw ``n_examples`` sequences from the generator's stream.

        Draw order (vectorised over examples): task, n, digits, key.
        """
        if int(n_examples) < 1:
            raise ValueError(f"n_examples must be >= 1, got {n_examples}.")
        size = int(n_examples)
        rng = self._rng
        task_idx = rng.choice(len(self.tasks), size=size, p=self.task_weights)
        n = rng.integers(self.n_range[0], self.n_range[1] + 1, size=size)
        digits = rng.integers(0, 10, size=(size, 10))
        keys = rng.integers(1, self.key_max + 1, size=size)
        ids = np.full((size, self.MAX_LEN), self.PAD, dtype=np.int64)
        prompt_len = np.empty(size, dtype=np.int64)
        for i in range(size):
            name = self.tasks[task_idx[i]]
            x = digits[i, : n[i]]
            prompt = [self.BOS, self.TASK_TOKENS[name]]
            if name == "modadd":
                prompt += [int(keys[i]), self.KEY]
            prompt += x.tolist() + [self.SEP]
            answer = answer_digits(name, x, int(keys[i])).tolist() + [self.EOS]
            sequence = prompt + answer
            ids[i, : len(sequence)] = sequence
            prompt_len[i] = len(prompt)
        answer_len = n + 1
        positions = np.arange(self.MAX_LEN)
        mask = (positions >= prompt_len[:, None] - 1) & (positions < (prompt_len + answer_len)[:, None] - 1)
        return AlgoBatch(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(task_idx.astype(np.int64)),
                         torch.from_numpy(prompt_len), torch.from_numpy(answer_len.astype(np.int64)))

    def batches(self, batch_size: int) -> Iterator[AlgoBatch]:
        """An infinite stream of training batches of ``batch_size`` sequences."""
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        while True:
            yield self.sample(batch_size)

    @staticmethod
    def decode(ids) -> list[str]:
        """Token strings of a 1-d sequence of ids."""
        return [_TOKENS[int(i)] for i in ids]


def answer_digits(task: str, x: np.ndarray, key: int = 0) -> np.ndarray:
    """The answer digits (without ``<eos>``) of ``task`` for prompt digits ``x``."""
    if task == "copy":
        return x.copy()
    if task == "reverse":
        return x[::-1].copy()
    if task == "sort":
        return np.sort(x)
    if task == "modadd":
        return (x + key) % 10
    if task == "shift":
        return (x + 1) % 10
    raise ValueError(f"task: unknown task {task!r}; valid names are {sorted(AlgoTasks.TASK_TOKENS)}.")


def _balanced(tasks: Sequence[str], n_per_task: int, seed: int, **kwargs) -> AlgoBatch:
    if int(n_per_task) < 1:
        raise ValueError(f"n_per_task must be >= 1, got {n_per_task}.")
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    parts = []
    for j, task in enumerate(tasks):
        # One stream per task, so the set is equal-count and does not depend on the other tasks.
        part = AlgoTasks((task,), seed=seed + 1000 * j, **kwargs).sample(n_per_task)
        parts.append(part._replace(task_id=torch.full_like(part.task_id, j)))
    return AlgoBatch(*(torch.cat(fields) for fields in zip(*parts)))


def make_test_set(tasks: Sequence[str] = AlgoTasks.CORE_TASKS, n_per_task: int = 256, seed: int = 0,
                  **kwargs) -> AlgoBatch:
    """Equal-count test set, stream seed ``10_000 + seed``; ``task_id`` indexes ``tasks``."""
    return _balanced(tasks, n_per_task, 10_000 + seed, **kwargs)


def make_validation_set(tasks: Sequence[str] = AlgoTasks.CORE_TASKS, n_per_task: int = 128, seed: int = 0,
                        **kwargs) -> AlgoBatch:
    """Equal-count validation set, stream seed ``20_000 + seed``; ``task_id`` indexes ``tasks``."""
    return _balanced(tasks, n_per_task, 20_000 + seed, **kwargs)


def overlap_fraction(train: AlgoBatch, test: AlgoBatch) -> float:
    """Fraction of test sequences that also occur verbatim in ``train``."""
    seen = {tuple(row) for row in train.input_ids.tolist()}
    return float(np.mean([tuple(row) in seen for row in test.input_ids.tolist()]))
