"""Online and static data-mixing controllers with one framework-agnostic protocol.

Chen, Hu, Lourie, Cho, Ré, "Aioli: A Unified Optimization Framework for
Language Model Data Mixing", ICLR 2025, arXiv:2411.05735 (Algorithms 1-2);
DoReMi: Xie et al., "DoReMi: Optimizing Data Mixtures Speeds Up Language
Model Pretraining", NeurIPS 2023, arXiv:2305.10429.

A mixer hands out phases (``next_phase() -> MixPhase | None``): train
``n_steps`` on batches drawn with ``proportions``; when ``evaluate_after`` is
set, report the per-group validation losses with ``report_val_losses``
before asking for the next phase. :func:`run_schedule` drives any loop given
two callables, so the mixers work with any torch (or other) trainer that
samples by group (:class:`~diversa.data.mix.GroupSampler`).

>>> import numpy as np
>>> losses = np.array([2.0, 2.0, 2.0])
>>> def train(p, n):                    # a toy "model": group j's loss falls with its share
...     losses[:] = losses - 0.01 * n * np.asarray(p) * np.array([1.0, 0.5, 0.0])
>>> mixer = AioliMixer(3, total_steps=60, update_steps=30, lp_rounds=1, lp_steps=2,
...                    one_hot_factor=0.5, eta=1.0, random_state=0)
>>> run_schedule(mixer, train, lambda: losses.copy())
60
>>> bool(mixer.proportions_history_[-1][2] < 1 / 3)   # the group that never improves is down-weighted
True
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from diversa.data.mix._checks import (
    check_finite,
    check_matrix,
    check_positive_int,
    check_proportions,
)
from diversa.data.mix.lmo import (
    exponentiated_gradient_step,
    normalize_mixing_matrix,
    smoothed_onehot,
    solve_smoothed_onehot,
)

__all__ = ["AioliMixer", "DoReMiMixer", "MixPhase", "StaticMixer", "run_schedule"]


@dataclass(frozen=True)
class MixPhase:
    """Train ``n_steps`` steps on ``proportions``; ``kind`` is "prior", "learn" or "train";
    ``group`` is the emphasised group of a "learn" phase; report validation losses after it when
    ``evaluate_after``."""

    kind: str
    proportions: np.ndarray
    n_steps: int
    group: int | None = None
    evaluate_after: bool = False


class _PhaseMixer(abc.ABC):
    """Shared protocol: a generator of phases that pauses for reported losses."""

    needs_initial_losses = False

    def __init__(self, n_groups: int, total_steps: int):
        self.n_groups = check_positive_int(n_groups, "n_groups")
        self.total_steps = check_positive_int(total_steps, "total_steps")
        self._gen: Iterator[MixPhase] | None = None
        self._pending = self.needs_initial_losses
        self._losses: np.ndarray | None = None
        self.steps_done_ = 0
        self.n_evaluations_ = 0

    @abc.abstractmethod
    def _schedule(self) -> Iterator[MixPhase]:
        """The phases of this mixer, pausing (yielding) wherever it needs reported losses."""

    def report_val_losses(self, losses) -> None:
        """Per-group validation losses (length ``n_groups``) after a phase with ``evaluate_after``."""
        self._losses = check_matrix(losses, "losses", shape=(self.n_groups,), ndim=1)
        self._pending = False
        self.n_evaluations_ += 1

    def _latest_losses(self) -> np.ndarray:
        return self._losses.copy()

    def next_phase(self) -> MixPhase | None:
        """The next phase, or None when ``total_steps`` have been handed out."""
        if self._pending:
            what = "before the first phase" if self._gen is None else "after a phase with evaluate_after=True"
            raise RuntimeError(f"call report_val_losses(losses) {what}.")
        if self._gen is None:
            self._gen = self._schedule()
        phase = next(self._gen, None)
        if phase is not None:
            self.steps_done_ += phase.n_steps
            self._pending = phase.evaluate_after
        return phase


class StaticMixer(_PhaseMixer):
    """One fixed mixture for the whole run (stratified sampling when ``proportions=None``: ``1/m`` each)."""

    def __init__(self, n_groups: int, total_steps: int, proportions=None):
        super().__init__(n_groups, total_steps)
        self.proportions = (np.full(self.n_groups, 1.0 / self.n_groups) if proportions is None
                            else check_proportions(proportions, "proportions", self.n_groups))
        self.proportions_history_ = [self.proportions]

    def _schedule(self):
        yield MixPhase("train", self.proportions.copy(), self.total_steps)


class AioliMixer(_PhaseMixer):
    """Aioli: estimate the linear dynamic mixing law's ``A^t`` online and update ``p`` by EG.

    Every round of ``update_steps`` steps starts with LearnParams: ``lp_rounds``
    random sweeps over the groups, each training ``lp_steps`` steps on the
    smoothed one-hot mixture of one group (``one_hot_factor`` on it) and
    recording the drop of every group's validation loss; the drops ``beta``
    give ``A`` (:func:`solve_smoothed_onehot`, or ``diag(beta_ii / f)`` with
    ``diagonal=True``), normalised to sum to 1, and ``p`` moves by
    ``exp(eta * colsum(A))`` (cumulative; with ``ema=gamma`` the
    non-cumulative update on an EMA of ``A``). The rest of the round trains on
    ``p``. LearnParams steps count towards ``total_steps``; a final round too
    short for the sweeps plus one step only trains. ``update_steps >=
    total_steps`` is Aioli-static (one estimate). ``prior``/``prior_steps``: the
    restricted setting, where a given mixture is trained first and is the
    starting point of the updates.

    Report the initial validation losses before the first phase
    (``needs_initial_losses``). ``n_evaluations_`` counts the validation passes
    (the method's extra forward cost).
    """

    def __init__(self, n_groups: int, total_steps: int, update_steps: int, *, lp_rounds: int = 4,
                 lp_steps: int = 4, one_hot_factor: float = 0.625, eta: float = 0.2, ema: float | None = None,
                 diagonal: bool = False, prior=None, prior_steps: int = 0, random_state=None):
        self.update_steps = check_positive_int(update_steps, "update_steps")
        self.lp_rounds = check_positive_int(lp_rounds, "lp_rounds")
        self.lp_steps = check_positive_int(lp_steps, "lp_steps")
        self.one_hot_factor = check_finite(one_hot_factor, "one_hot_factor", low=0.0, high=1.0)
        self.eta = check_finite(eta, "eta", low=0.0)
        self.ema = None if ema is None else check_finite(ema, "ema", low=0.0, high=1.0)
        self.diagonal = bool(diagonal)
        self.prior_steps = check_positive_int(prior_steps, "prior_steps", minimum=0)
        self.needs_initial_losses = self.prior_steps == 0
        super().__init__(n_groups, total_steps)
        m = self.n_groups
        if m > 1 and abs(self.one_hot_factor - 1.0 / m) < 1e-9:
            raise ValueError(f"one_hot_factor must differ from 1/m = {1.0 / m:.4g}.")
        self.prior = None if prior is None else check_proportions(prior, "prior", m)
        if self.prior_steps and self.prior is None:
            raise ValueError("prior_steps > 0 needs a prior mixture (prior=None).")
        if self.prior_steps >= self.total_steps:
            raise ValueError(f"prior_steps must be below total_steps ({self.total_steps}), got {self.prior_steps}.")
        self.random_state = random_state
        self.proportions_history_: list[np.ndarray] = []
        self.A_history_: list[np.ndarray] = []
        self.beta_history_: list[np.ndarray] = []

    @property
    def learn_steps_per_round(self) -> int:
        return self.lp_rounds * self.n_groups * self.lp_steps

    def _estimate(self, beta: np.ndarray) -> np.ndarray:
        if self.diagonal:
            return np.diag(np.diag(beta) / self.one_hot_factor)
        return solve_smoothed_onehot(beta, self.one_hot_factor)

    def _schedule(self):
        m, rng = self.n_groups, np.random.default_rng(self.random_state)
        base = np.full(m, 1.0 / m) if self.prior is None else self.prior.copy()
        p, A_bar, done = base.copy(), None, 0
        if self.prior_steps:
            yield MixPhase("prior", p.copy(), self.prior_steps, evaluate_after=True)
            done = self.prior_steps
        while done < self.total_steps:
            length = min(self.update_steps, self.total_steps - done)
            rest = length
            if length > self.learn_steps_per_round:
                L_prev, beta = self._latest_losses(), np.zeros((m, m))
                order = np.concatenate([rng.permutation(m) for _ in range(self.lp_rounds)])
                for j in order:
                    yield MixPhase("learn", smoothed_onehot(m, int(j), self.one_hot_factor), self.lp_steps,
                                   group=int(j), evaluate_after=True)
                    L_new = self._latest_losses()
                    beta[:, j] += L_prev - L_new
                    L_prev = L_new
                beta /= self.lp_rounds
                A = normalize_mixing_matrix(self._estimate(beta))
                if self.ema is None:
                    p = exponentiated_gradient_step(p, A, self.eta)
                else:
                    A_bar = A if A_bar is None else (1 - self.ema) * A + self.ema * A_bar
                    p = exponentiated_gradient_step(p, A_bar, self.eta, base=base)
                self.beta_history_.append(beta)
                self.A_history_.append(A)
                rest = length - self.learn_steps_per_round
            self.proportions_history_.append(p.copy())
            done += length
            yield MixPhase("train", p.copy(), rest, evaluate_after=done < self.total_steps)

    @property
    def proportions_(self) -> np.ndarray:
        """The current (latest) mixture."""
        if not self.proportions_history_:
            return np.full(self.n_groups, 1.0 / self.n_groups) if self.prior is None else self.prior.copy()
        return self.proportions_history_[-1].copy()


class DoReMiMixer(_PhaseMixer):
    """DoReMi-style proxy run (sampling variant): weights move towards groups with excess loss.

    Every ``update_every`` steps report the proxy model's per-group losses with
    :meth:`report_val_losses` and the reference model's (trained on the
    stratified mixture) on the same data with ``reference_losses`` at
    construction or :meth:`set_reference_losses`. Update: ``log w += eta *
    max(L - L_ref, 0)``, softmax, smoothed ``(1 - smoothing) w + smoothing / m``.
    The mixture for the final fresh run is :attr:`average_proportions_`, the mean
    of ``w`` over the proxy run (as DoReMi prescribes). Unlike DoReMi, which
    reweights the loss, this proxy samples batches by ``w``.
    """

    def __init__(self, n_groups: int, total_steps: int, update_every: int = 10, *, eta: float = 1.0,
                 smoothing: float = 1e-3, reference_losses=None):
        super().__init__(n_groups, total_steps)
        self.update_every = check_positive_int(update_every, "update_every")
        self.eta = check_finite(eta, "eta", low=0.0)
        self.smoothing = check_finite(smoothing, "smoothing", low=0.0, high=1.0)
        self.reference_losses = None
        if reference_losses is not None:
            self.set_reference_losses(reference_losses)
        self.proportions_history_: list[np.ndarray] = []

    def set_reference_losses(self, losses) -> None:
        """Per-group losses of the reference model (fixed, or refreshed before each report)."""
        self.reference_losses = check_matrix(losses, "reference_losses", shape=(self.n_groups,), ndim=1)

    def _schedule(self):
        m = self.n_groups
        log_w, done = np.zeros(m), 0
        w = np.full(m, 1.0 / m)
        while done < self.total_steps:
            n = min(self.update_every, self.total_steps - done)
            self.proportions_history_.append(w.copy())
            done += n
            last = done >= self.total_steps
            yield MixPhase("train", w.copy(), n, evaluate_after=not last)
            if last:
                break
            if self.reference_losses is None:
                raise RuntimeError("DoReMiMixer needs reference_losses (set_reference_losses) before updating.")
            log_w = log_w + self.eta * np.maximum(self._latest_losses() - self.reference_losses, 0.0)
            z = np.exp(log_w - log_w.max())
            w = (1 - self.smoothing) * z / z.sum() + self.smoothing / m

    @property
    def average_proportions_(self) -> np.ndarray:
        """Mean mixture over the proxy run, weighted by steps: DoReMi's output."""
        if not self.proportions_history_:
            raise RuntimeError("run the proxy schedule before reading average_proportions_.")
        steps = [min(self.update_every, self.total_steps - i * self.update_every)
                 for i in range(len(self.proportions_history_))]
        avg = np.average(np.stack(self.proportions_history_), axis=0, weights=steps)
        return avg / avg.sum()


def run_schedule(mixer, train: Callable[[np.ndarray, int], object],
                 val_losses: Callable[[], object]) -> int:
    """Drive ``mixer`` with ``train(proportions, n_steps)`` and ``val_losses() -> (m,)``; returns steps trained."""
    if getattr(mixer, "needs_initial_losses", False) and mixer._gen is None:
        mixer.report_val_losses(val_losses())
    steps = 0
    while (phase := mixer.next_phase()) is not None:
        if phase.n_steps:
            train(phase.proportions, phase.n_steps)
        steps += phase.n_steps
        if phase.evaluate_after:
            mixer.report_val_losses(val_losses())
    return steps
