"""ReCUT: stepwise long/short trials, two preference-optimised models, one merged model.

Jin, Li, Ji, Peng, Liu, Shi, Yan, Wang, Peng, Yu, "ReCUT: Balancing Reasoning
Length and Accuracy in LLMs via Stepwise Trials and Preference Optimization",
Findings of EMNLP 2025, arXiv:2506.10822 (official code ``NEUIR/ReCUT``; spec
``merge.md`` 7).

1. **Stepwise exploration** (:func:`stepwise_explore`). Per problem, starting
   from an empty prefix Y*, for up to ``max_steps`` steps: sample one "long"
   and one "short" continuation of Y* (each to a final answer); every
   continuation with an extractable answer joins the correct or incorrect pool
   (as prefix + continuation); score each by ``R(Y) = [alpha I(Y) - beta (1 -
   I(Y))] / L(Y)`` (I correctness, L the continuation's length; empty ->
   -inf), keep the better (ties to the short one) and append its first step
   to Y*; stop once that step is the answer. The optimal trajectory is the
   shortest correct one.
2. **Preference pairs** (:func:`build_preference_pairs`): accuracy pairs
   (optimal vs a random incorrect trajectory) and length pairs (optimal vs a
   random strictly longer correct one), with the plain prompt.
3. **Two DPO models** from the same policy, the policy itself frozen as the
   reference (:func:`train_dpo`, loss :func:`~diversa.nn.losses.dpo_loss`).
4. **Merge**: linear interpolation ``alpha theta_acc + (1 - alpha) theta_len``
   (the paper's words) or DARE-TIES on the base (the released mergekit config:
   density 0.25, weight 0.25 each, normalised), with
   :mod:`diversa.combine.merge`.

Resolutions (spec): a continuation without an extractable answer counts as
incorrect in the reward and joins no pool; pool lengths count prefix +
continuation, the reward only the continuation; ties of the optimal
trajectory's length go to the first found.

A policy is a ``torch.nn.Module`` with ``generate(prompts, max_new_tokens,
eos_id, greedy, temperature, top_p, generator)`` and
``sequence_logprob(prompts, responses)`` (e.g.
:class:`~diversa.nn.models.GRULM`); a format tells how to split steps and read
answers (e.g. :class:`~diversa.datasets.sumchain.SumChainFormat`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diversa.combine.merge import dare_merging, linear_interpolation
from diversa.nn.losses import dpo_loss
from diversa.nn.models.gru_lm import pad_batch

__all__ = ["ExplorationResult", "Pair", "ReCUT", "Trajectory", "build_preference_pairs", "stepwise_explore",
           "supervised_finetune", "train_dpo", "trial_reward"]


class Trajectory(NamedTuple):
    """A complete reasoning trajectory (response tokens after the prompt) and whether its answer is correct."""

    tokens: tuple[int, ...]
    correct: bool

    @property
    def length(self) -> int:
        return len(self.tokens)


class Pair(NamedTuple):
    """A preference pair: prompt tokens, chosen and rejected responses."""

    prompt: tuple[int, ...]
    chosen: tuple[int, ...]
    rejected: tuple[int, ...]


@dataclass
class ExplorationResult:
    """Pools and optimal trajectories of :func:`stepwise_explore`, one entry per problem."""

    correct: list[list[Trajectory]]
    incorrect: list[list[Trajectory]]
    optimal: list[Trajectory | None]
    prefixes: list[tuple[int, ...]]
    steps_taken: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Counts and mean lengths (plain numbers, for reports)."""
        found = [t for t in self.optimal if t is not None]
        return {"problems": len(self.optimal), "with_optimal": len(found),
                "mean_optimal_length": float(np.mean([t.length for t in found])) if found else math.nan,
                "correct_trajectories": sum(map(len, self.correct)),
                "incorrect_trajectories": sum(map(len, self.incorrect)),
                "mean_steps": float(np.mean(self.steps_taken)) if self.steps_taken else math.nan}


def trial_reward(correct: bool, length: int, alpha: float = 1.0, beta: float = 1.0) -> float:
    """ReCUT's reward of a continuation: ``[alpha I - beta (1 - I)] / L``; ``-inf`` for an empty one."""
    if length <= 0:
        return -math.inf
    return (alpha * float(correct) - beta * (1.0 - float(correct))) / length


def stepwise_explore(policy: nn.Module, problems: Sequence, answers: Sequence, fmt,
                     make_prompt: Callable[[object, str], list[int]], max_steps: int = 8, temperature: float = 0.7,
                     top_p: float = 0.95, alpha: float = 1.0, beta: float = 1.0,
                     random_state: int | None = None) -> ExplorationResult:
    """ReCUT's stepwise long/short trials for every problem (batched over problems).

    ``make_prompt(problem, mode)`` gives the prompt tokens for ``mode`` in
    ("long", "short"); ``fmt`` provides ``split_steps``, ``final_answer``,
    ``is_answer_step``, ``eos_id`` and ``max_len`` (the context length).
    """
    if len(problems) != len(answers):
        raise ValueError(f"problems and answers must pair up, got {len(problems)} and {len(answers)}.")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}.")
    generator = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
    n = len(problems)
    prefixes: list[list[int]] = [[] for _ in range(n)]
    correct: list[list[Trajectory]] = [[] for _ in range(n)]
    incorrect: list[list[Trajectory]] = [[] for _ in range(n)]
    steps_taken = [0] * n
    active = list(range(n))
    for _ in range(max_steps):
        prompts = {mode: {q: make_prompt(problems[q], mode) + prefixes[q] for q in active} for mode in ("long", "short")}
        active = [q for q in active if fmt.max_len - max(len(prompts["long"][q]), len(prompts["short"][q])) > 0]
        if not active:
            break
        continuations = {}
        for mode in ("long", "short"):
            batch = [prompts[mode][q] for q in active]
            continuations[mode] = policy.generate(batch, [fmt.max_len - len(p) for p in batch], fmt.eos_id,
                                                  greedy=False, temperature=temperature, top_p=top_p,
                                                  generator=generator)
        still = []
        for j, q in enumerate(active):
            rewards = []
            for mode in ("long", "short"):
                y = continuations[mode][j]
                answer = fmt.final_answer(y)
                right = answer is not None and answer == answers[q]
                if answer is not None:
                    (correct if right else incorrect)[q].append(Trajectory(tuple(prefixes[q] + y), right))
                rewards.append(trial_reward(right, len(y), alpha, beta))
            chosen = continuations["long"][j] if rewards[0] > rewards[1] else continuations["short"][j]
            steps = fmt.split_steps(chosen)
            if not steps:
                continue
            prefixes[q] += steps[0]
            steps_taken[q] += 1
            if not fmt.is_answer_step(steps[0]):
                still.append(q)
        active = still
    optimal: list[Trajectory | None] = []
    for q in range(n):
        candidates = list(correct[q])
        if fmt.final_answer(prefixes[q]) == answers[q]:
            candidates.append(Trajectory(tuple(prefixes[q]), True))
        optimal.append(min(candidates, key=lambda t: t.length) if candidates else None)
    return ExplorationResult(correct, incorrect, optimal, [tuple(p) for p in prefixes], steps_taken)


def build_preference_pairs(result: ExplorationResult, prompts: Sequence[Sequence[int]], acc_chosen: str = "shortest",
                           len_rejected: str = "random", random_state: int | None = None) -> tuple[list[Pair], list[Pair]]:
    """ReCUT's accuracy pairs and length pairs from the exploration pools.

    ``prompts[q]``: the plain prompt of problem q. Accuracy pairs: chosen = the
    optimal trajectory (``acc_chosen="random_correct"``: a random correct
    one), rejected = a random incorrect trajectory. Length pairs: chosen =
    the optimal trajectory, rejected = a random (``len_rejected="longest"``:
    the longest) correct trajectory strictly longer than it. Problems without
    the needed trajectories give no pair.
    """
    if acc_chosen not in ("shortest", "random_correct"):
        raise ValueError(f"acc_chosen must be 'shortest' or 'random_correct', got {acc_chosen!r}.")
    if len_rejected not in ("random", "longest"):
        raise ValueError(f"len_rejected must be 'random' or 'longest', got {len_rejected!r}.")
    if len(prompts) != len(result.optimal):
        raise ValueError(f"prompts must give one prompt per problem ({len(result.optimal)}), got {len(prompts)}.")
    rng = np.random.default_rng(random_state)
    acc, length = [], []
    for q, best in enumerate(result.optimal):
        if best is None:
            continue
        prompt = tuple(prompts[q])
        if result.incorrect[q]:
            chosen = best
            if acc_chosen == "random_correct" and result.correct[q]:
                chosen = result.correct[q][int(rng.integers(len(result.correct[q])))]
            rejected = result.incorrect[q][int(rng.integers(len(result.incorrect[q])))]
            acc.append(Pair(prompt, chosen.tokens, rejected.tokens))
        longer = [t for t in result.correct[q] if t.length > best.length]
        if longer:
            rejected = max(longer, key=lambda t: t.length) if len_rejected == "longest" \
                else longer[int(rng.integers(len(longer)))]
            length.append(Pair(prompt, best.tokens, rejected.tokens))
    return acc, length


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterable[np.ndarray]:
    order = rng.permutation(n)
    return (order[i: i + batch_size] for i in range(0, n, batch_size))


def train_dpo(policy: nn.Module, pairs: Sequence[Pair], reference: nn.Module | None = None, beta: float = 0.1,
              lr: float = 1e-4, epochs: int = 4, batch_size: int = 32,
              random_state: int | None = None) -> tuple[nn.Module, list[dict[str, float]]]:
    """A copy of ``policy`` trained with DPO on ``pairs`` (AdamW, no weight decay); returns (model, history).

    ``reference`` defaults to ``policy`` itself (frozen). The history has one
    entry per epoch: mean loss and the mean chosen / rejected sequence
    log-probabilities (DPO on tiny models can lower both; watch the chosen one).
    """
    if not pairs:
        raise ValueError("pairs is empty: there is nothing to train on.")
    if not isinstance(epochs, int) or epochs < 1 or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive ints, got {epochs!r} and {batch_size!r}.")
    reference = policy if reference is None else reference
    model = copy.deepcopy(policy).train()
    prompts = [p.prompt for p in pairs]
    with torch.no_grad():
        ref_chosen = reference.sequence_logprob(prompts, [p.chosen for p in pairs])
        ref_rejected = reference.sequence_logprob(prompts, [p.rejected for p in pairs])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = np.random.default_rng(random_state)
    history = []
    for _ in range(epochs):
        losses, chosen_lp, rejected_lp = [], [], []
        for idx in _batches(len(pairs), batch_size, rng):
            batch = [pairs[i] for i in idx]
            pc = model.sequence_logprob([p.prompt for p in batch], [p.chosen for p in batch])
            pr = model.sequence_logprob([p.prompt for p in batch], [p.rejected for p in batch])
            loss = dpo_loss(pc, pr, ref_chosen[idx], ref_rejected[idx], beta=beta)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            chosen_lp.append(pc.detach().mean().item())
            rejected_lp.append(pr.detach().mean().item())
        history.append({"loss": float(np.mean(losses)), "chosen_logprob": float(np.mean(chosen_lp)),
                        "rejected_logprob": float(np.mean(rejected_lp))})
    return model.eval(), history


def supervised_finetune(policy: nn.Module, batches: Iterable[Sequence[tuple[Sequence[int], int]]], lr: float = 3e-3,
                        max_grad_norm: float = 1.0) -> list[float]:
    """Train ``policy`` in place with next-token cross-entropy; returns the loss of each batch.

    Each batch lists ``(tokens, first_trained_position)``: tokens from that
    position on are the targets (the prompt and any untrained prefix are
    context only). AdamW (no weight decay), gradient norm clipped.
    """
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    policy.train()
    losses = []
    for batch in batches:
        tokens, _ = pad_batch([list(t) for t, _ in batch], policy.pad_id)
        targets = tokens[:, 1:].clone()
        mask = torch.zeros_like(targets, dtype=torch.bool)
        for i, (seq, start) in enumerate(batch):
            mask[i, max(start, 1) - 1: len(seq) - 1] = True
        logits = policy(tokens[:, :-1])
        loss = F.cross_entropy(logits[mask], targets[mask])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(loss.item())
    policy.eval()
    return losses


class ReCUT(BaseEstimator):
    """The ReCUT pipeline: exploration, preference pairs, two DPO models, merge.

    ``fit(policy, problems, answers, fmt, make_prompt)`` with
    ``make_prompt(problem, mode)`` for modes "long", "short" (exploration) and
    "neutral" (pairs). Learned: ``exploration_``, ``pairs_acc_``,
    ``pairs_len_``, ``acc_policy_``, ``len_policy_``, ``acc_history_``,
    ``len_history_`` and ``policy_`` (the merged model); :meth:`merge` gives
    other merges of the two models.
    """

    def __init__(self, max_steps: int = 8, temperature: float = 0.7, top_p: float = 0.95, alpha: float = 1.0,
                 beta: float = 1.0, dpo_beta: float = 0.1, dpo_lr: float = 1e-4, dpo_epochs: int = 4,
                 dpo_batch_size: int = 32, merge_method: str = "linear", merge_alpha: float = 0.5,
                 dare_density: float = 0.25, dare_weight: float = 0.25, random_state: int | None = None):
        self.max_steps = max_steps
        self.temperature = temperature
        self.top_p = top_p
        self.alpha = alpha
        self.beta = beta
        self.dpo_beta = dpo_beta
        self.dpo_lr = dpo_lr
        self.dpo_epochs = dpo_epochs
        self.dpo_batch_size = dpo_batch_size
        self.merge_method = merge_method
        self.merge_alpha = merge_alpha
        self.dare_density = dare_density
        self.dare_weight = dare_weight
        self.random_state = random_state

    def fit(self, policy: nn.Module, problems: Sequence, answers: Sequence, fmt, make_prompt) -> ReCUT:
        """Explore, build the pairs, train both DPO models from ``policy`` and merge them."""
        if self.merge_method not in ("linear", "dare_ties"):
            raise ValueError(f"merge_method must be 'linear' or 'dare_ties', got {self.merge_method!r}.")
        seed = 0 if self.random_state is None else int(self.random_state)
        self.base_ = copy.deepcopy(policy).eval()
        self.exploration_ = stepwise_explore(policy, problems, answers, fmt, make_prompt, self.max_steps,
                                             self.temperature, self.top_p, self.alpha, self.beta, seed)
        plain = [make_prompt(p, "neutral") for p in problems]
        self.pairs_acc_, self.pairs_len_ = build_preference_pairs(self.exploration_, plain, random_state=seed)
        for name, pairs in (("accuracy", self.pairs_acc_), ("length", self.pairs_len_)):
            if not pairs:
                raise ValueError(f"the exploration gave no {name} pairs: the policy must solve some problems and "
                                 f"fail or ramble on others; train it further or give more problems.")
        self.acc_policy_, self.acc_history_ = train_dpo(policy, self.pairs_acc_, beta=self.dpo_beta, lr=self.dpo_lr,
                                                        epochs=self.dpo_epochs, batch_size=self.dpo_batch_size,
                                                        random_state=seed)
        self.len_policy_, self.len_history_ = train_dpo(policy, self.pairs_len_, beta=self.dpo_beta, lr=self.dpo_lr,
                                                        epochs=self.dpo_epochs, batch_size=self.dpo_batch_size,
                                                        random_state=seed + 1)
        self.policy_ = self.merge(self.merge_method, self.merge_alpha)
        return self

    def merge(self, method: str = "linear", alpha: float = 0.5) -> nn.Module:
        """A merge of the fitted accuracy and length models.

        ``"linear"``: ``alpha theta_acc + (1 - alpha) theta_len``;
        ``"dare_ties"``: DARE-TIES on the base policy with ``dare_density`` and
        ``dare_weight`` for both models, normalised by the agreeing weights.
        """
        check_is_fitted(self, "acc_policy_")
        acc, length = self.acc_policy_.state_dict(), self.len_policy_.state_dict()
        if method == "linear":
            state = linear_interpolation(acc, length, alpha)
        elif method == "dare_ties":
            state = dare_merging(self.base_.state_dict(), [acc, length], drop_rate=1.0 - self.dare_density,
                                 combine="ties", weights=[self.dare_weight, self.dare_weight], rescale="l1",
                                 convention="mergekit", normalize=True,
                                 random_state=0 if self.random_state is None else int(self.random_state))
        else:
            raise ValueError(f"method must be 'linear' or 'dare_ties', got {method!r}.")
        merged = copy.deepcopy(self.base_)
        merged.load_state_dict(state)
        return merged.eval()
