"""Reproduction of influence-score pruning: pruning the VoG-easiest 45% beats random pruning.

Anand, Tan, Minakova, "Influence Scores at Scale for Efficient Language Data
Sampling", EMNLP 2023, arXiv:2311.16298.

Design fixed from the paper and the spec before any result was seen (spec
``data.md#influence``; the issue's equal-compute and convergence rules). One
unit = one seed (fresh pool, noise, validation and test sets, scoring runs
and model initialisations): the spec's "noisy"
SynthText-MD pool of 3000 documents (no junk, 10% label noise, 30%
heavy-tailed duplicates, imbalanced domains), token-id view. Scores, with
:mod:`diversa.data.score`, from one reference run of the TinyTextClassifier
on the whole pool (10 epochs, a :class:`~diversa.data.score.Checkpoints`
snapshot at every epoch end, Nc = 10): class-normalised VoG w.r.t. the
embedding output over non-padding positions; forgetting events at the spec's
cadence (every ``steps_per_epoch // 20`` steps in epochs 1-2), AUM over the
epoch checkpoints and TracIn self-influence on the hidden layer (diagnostics).
EL2N from R = 3 runs of 2 epochs; PVI from the same runs against R = 3 null
models trained 2 epochs on inputs replaced by one ``<bos>`` token.

Arms, all pruning 45% of the pool (the paper's headline fraction) with the
hard cut-off: Random, VoG-easy (remove the lowest VoG), VoG-hard, EL2N-easy,
EL2N-hard; Full (no pruning); and the oracle ``noise-free-random`` (a random
55% of the rows whose label is correct, by ground truth).

Equal compute: every arm, Full included, back-propagates the same number of
samples, ``STEPS`` = 1200 Adam steps of batch 64 (lr 3e-3, the spec's
learner). Trained to convergence per arm: with label noise the classifier
first learns and then memorises the wrong labels (validation accuracy falls
after a few hundred steps), so each arm is evaluated every ``EVAL_EVERY`` =
100 steps on a clean validation set (seed 20_000 + s) and reported on the
test set (seed 10_000 + s) at its best validation step: the same search,
within the same budget, for every arm. The budget was fixed from the Random
arm of seed 0 alone (validation macro accuracy at 100/200/400/800/1600/3200
steps: .898/.947/.952/.930/.889/.879; training accuracy 0.93 at 400 steps),
before any arm was compared; the regime check ``converged-within-budget``
verifies that every arm's best validation step lies before the end of the
budget.

Headline: VoG-easy pruning beats random pruning at 45% (the paper's chosen
score: on SNLI class-normalised VoG-easy keeps 85.04% at 45% pruned against
85.52% with all data; on noisy SNLI it beats random at large fractions; in
production it halves the data with half the error increase of random).
Secondary claims: pruning the easy end beats pruning the hard end (VoG and
EL2N), and VoG-easy stays within 1.5 points of full data (non-inferiority).
Mechanisms: mislabelled rows get higher EL2N and lower PVI than clean ones.
Regime: the noise-free oracle beats Random (which rows are kept matters),
Full is off the ceiling (< 0.99), every arm converges within the budget.

Deviations, stated: a 3-class synthetic task and a 10k-parameter model
instead of SNLI and BERT-small; EL2N/PVI from 3 runs instead of 10; TracIn
uses lr = 1 (constant rate, so only a scale); forgetting from one run
instead of three; one pruning fraction in quick mode and in full mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.text_classifier import macro_accuracy, tiny_text_classifier

#: Equal training budget of every arm (Adam steps of batch 64) and the validation cadence inside it.
STEPS, EVAL_EVERY = 1200, 100
#: Regime: Full must stay below this test macro accuracy (else there is nothing for pruning to lose or win).
CEILING = 0.99
#: Non-inferiority margin of VoG-easy against Full (macro accuracy; the spec's 1.5 points).
NEAR_FULL_MARGIN = 0.015
BOS = 1


@dataclass(frozen=True)
class Sizes:
    """The experiment's scale."""

    pool: int = 3000
    fraction: float = 0.45
    steps: int = STEPS
    eval_every: int = EVAL_EVERY
    ref_epochs: int = 10
    early_epochs: int = 2
    runs: int = 3
    eval_per_domain: int = 200
    batch_size: int = 64


SIZES = Sizes()


class Testbed(NamedTuple):
    ids: np.ndarray
    y: np.ndarray
    is_noisy: np.ndarray
    domain: np.ndarray
    val: tuple
    test: tuple


def testbed(seed: int, sizes: Sizes = SIZES) -> Testbed:
    """The noisy pool (no junk, 10% label noise, 30% duplicates), clean validation and test sets."""
    from diversa.datasets import synthtext as st

    pool = st.make_multidomain_text(sizes.pool, seed=seed, junk_rate=0.0, label_noise=0.10, dup_rate=0.30)

    def view(docs):
        return st.token_ids(docs), np.array([d.y for d in docs]), np.array([d.domain for d in docs])

    return Testbed(st.token_ids(pool), np.array([d.y for d in pool]), np.array([d.is_noisy for d in pool]),
                   np.array([d.domain for d in pool]),
                   view(st.make_eval_set(sizes.eval_per_domain, seed=20_000 + seed)),
                   view(st.make_eval_set(sizes.eval_per_domain, seed=10_000 + seed)))


def train(ids, y, *, seed: int, n_steps: int, batch_size: int = 64, callback=None):
    """The spec's learner (Adam 3e-3, shuffled batches, reshuffled each pass) for ``n_steps``.

    ``callback(step, model)`` runs after every optimisation step. Returns the model.
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = tiny_text_classifier()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    X, Y = torch.as_tensor(ids, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    step = 0
    while step < n_steps:
        for batch in torch.randperm(len(X), generator=gen).split(batch_size):
            if step == n_steps:
                break
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[batch]), Y[batch]).backward()
            opt.step()
            step += 1
            if callback is not None:
                callback(step, model)
    model.eval()
    return model


def proba(model, ids) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(ids, dtype=torch.long)), -1).numpy()


def fit_arm(ids, y, val, test, *, seed: int, sizes: Sizes = SIZES) -> dict:
    """Train ``sizes.steps`` steps, validate every ``eval_every``; test accuracy at the best validation step."""
    best = {"val": -1.0}

    def validate(step, model):
        if step % sizes.eval_every == 0:
            model.eval()
            acc = macro_accuracy(proba(model, val[0]), val[1], val[2])
            if acc > best["val"]:
                best.update(val=acc, step=step, test=macro_accuracy(proba(model, test[0]), test[1], test[2]))
            model.train()

    train(ids, y, seed=seed, n_steps=sizes.steps, batch_size=sizes.batch_size, callback=validate)
    return best


def influence_scores(tb: Testbed, seed: int, sizes: Sizes = SIZES) -> dict[str, np.ndarray]:
    """VoG, EL2N, PVI, forgetting, AUM and TracIn of every pool row (see the module docstring)."""
    import torch

    from diversa.data import score

    n = len(tb.y)
    per_epoch = math.ceil(n / sizes.batch_size)
    early = score.Checkpoints(every=max(1, per_epoch // 20))
    epochs = score.Checkpoints()

    def record(step, model):
        early.model = epochs.model = model
        if step <= sizes.early_epochs * per_epoch:
            early.step()
        if step % per_epoch == 0:
            epochs.save()

    model = train(tb.ids, tb.y, seed=seed, n_steps=sizes.ref_epochs * per_epoch, batch_size=sizes.batch_size,
                  callback=record)
    X, mask = torch.as_tensor(tb.ids, dtype=torch.long), tb.ids != 0
    out = {"vog": score.vog_from_checkpoints(model, epochs, X, tb.y, layer=model.emb, mask=mask, normalize="class")}
    out["forgetting"] = score.forgetting_scores(score.logits_over_checkpoints(model, early, X).argmax(-1) == tb.y)
    out["aum"] = score.aum_scores(score.logits_over_checkpoints(model, epochs, X), tb.y)
    out["tracin"] = score.tracin_self_influence(model, epochs, X, tb.y, params=model.head[0])
    steps = sizes.early_epochs * per_epoch
    p_x = [proba(train(tb.ids, tb.y, seed=100 * seed + 1 + r, n_steps=steps), tb.ids) for r in range(sizes.runs)]
    null_ids = np.full((n, 1), BOS)
    p_null = [proba(train(null_ids, tb.y, seed=100 * seed + 51 + r, n_steps=steps), null_ids)
              for r in range(sizes.runs)]
    out["el2n"] = score.el2n_scores(np.stack(p_x), tb.y)
    out["pvi"] = score.pvi_scores(np.stack(p_x), np.stack(p_null), tb.y)
    return out


def select_arms(tb: Testbed, scores: dict, seed: int, sizes: Sizes = SIZES) -> dict[str, np.ndarray]:
    """Every arm's kept rows (Full keeps all)."""
    from diversa.data.score import EASY_IS_LOW, prune

    n, f = len(tb.y), sizes.fraction
    keep = n - math.floor(f * n)
    rng = np.random.default_rng(seed)
    arms = {"Full": np.arange(n), "Random": np.sort(rng.choice(n, keep, replace=False))}
    for name, label in (("vog", "VoG"), ("el2n", "EL2N")):
        for end in ("easy", "hard"):
            arms[f"{label}-{end}"] = prune(scores[name], f, end=end, easy_is_low=EASY_IS_LOW[name], random_state=seed)
    clean_rows = np.flatnonzero(~tb.is_noisy)
    arms["noise-free-random"] = np.sort(np.random.default_rng(seed + 1).choice(clean_rows, keep, replace=False))
    return arms


def _jaccard(a, b) -> float:
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / max(1, len(a | b))


def run_trial(seed: int, quick: bool, sizes: Sizes | None = None) -> TrialResult:
    sizes = SIZES if sizes is None else sizes
    tb = testbed(seed, sizes)
    scores = influence_scores(tb, seed, sizes)
    arms = select_arms(tb, scores, seed, sizes)
    fits = {name: fit_arm(tb.ids[idx], tb.y[idx], tb.val, tb.test, seed=seed, sizes=sizes)
            for name, idx in arms.items()}
    acc = {name: fit["test"] for name, fit in fits.items()}
    noisy = tb.is_noisy

    def by_noise(s):
        return float(s[~noisy].mean()), float(s[noisy].mean())

    # does a score's hardest 10% find the mislabelled rows? (the paper: VoG does not, ~ random)
    top = max(1, int(0.1 * len(noisy)))
    hardest = {name: np.argsort(s if name not in ("aum", "pvi") else -s, kind="stable")[-top:]
               for name, s in scores.items()}
    noisy_rows = np.flatnonzero(noisy)
    pairs = {
        "vog-easy-vs-random": (acc["Random"], acc["VoG-easy"]),
        "vog-easy-vs-hard": (acc["VoG-hard"], acc["VoG-easy"]),
        "el2n-easy-vs-hard": (acc["EL2N-hard"], acc["EL2N-easy"]),
        "vog-easy-near-full": (acc["Full"], acc["VoG-easy"]),
        "el2n-flags-mislabels": by_noise(scores["el2n"]),
        "pvi-flags-mislabels": by_noise(scores["pvi"]),
        "noise-free-random-headroom": (acc["Random"], acc["noise-free-random"]),
        "full-off-ceiling": (CEILING, acc["Full"]),
        "converged-within-budget": (float(sizes.steps), float(max(fit["step"] for fit in fits.values()))),
    }
    return TrialResult(pairs=pairs, diagnostics={
        "accuracy": acc, "best_step": {k: f["step"] for k, f in fits.items()},
        "best_val": {k: f["val"] for k, f in fits.items()},
        "noisy_share_kept": {k: float(noisy[idx].mean()) for k, idx in arms.items()},
        "score_mean_clean_vs_noisy": {k: by_noise(s) for k, s in scores.items()},
        "hardest10_jaccard_with_mislabelled": {k: _jaccard(h, noisy_rows) for k, h in hardest.items()},
        "random10_jaccard_with_mislabelled": _jaccard(np.random.default_rng(seed).choice(len(noisy), top, False),
                                                      noisy_rows),
        "steps": sizes.steps, "fraction_pruned": sizes.fraction})


_PAPER = "SNLI, BERT-small: class-norm VoG-easy 45% pruned 85.04 +- 0.20 vs full 85.52 +- 0.14"

REPRODUCTION = Reproduction(
    id="influence",
    title="Influence Scores at Scale for Efficient Language Data Sampling",
    arxiv="2311.16298",
    claim=("Training-dynamics influence scores rank a language classifier's training examples so that pruning the "
           "easiest ones (VoG, one-shot and untuned) keeps accuracy with about 45% of the data removed, better than "
           "random pruning, while pruning the hardest ones hurts more than pruning the easiest."),
    paper_result=(f"{_PAPER}; forgetting-easy 45% 84.58; pruning hard examples worse than easy for most scores; "
                  "noisy SNLI: VoG-easy beats random at large fractions; production NLU (-52% data): DCER +2.94% "
                  "(dataset-norm VoG) vs +6.04% random."),
    setup=("SynthText-MD pool of 3000 docs (no junk, 10% label noise, 30% duplicates), TinyTextClassifier; scores "
           "from one 10-epoch reference run (VoG over 10 epoch checkpoints, class-norm) and 3 two-epoch runs "
           "(EL2N, PVI vs a <bos>-only null model); arms prune 45% by cut-off (VoG/EL2N easy and hard ends), "
           "Random, Full and a noise-free random oracle; every arm 1200 Adam steps of 64 (equal back-propagated "
           "samples), test macro accuracy at the best of 12 validation checks (clean validation set)."),
    checks=(
        Check("vog-easy-vs-random", "macro test accuracy", "Random (45% pruned)", "VoG-easy (45% pruned)", "greater",
              "pruning the 45% lowest-VoG examples trains a better classifier than pruning a random 45%",
              "VoG-easy holds accuracy at 45% pruned and beats random on noisy SNLI and in production"),
        Check("vog-easy-vs-hard", "macro test accuracy", "VoG-hard", "VoG-easy", "greater",
              "pruning VoG-easy examples is better than pruning VoG-hard ones",
              "pruning hard examples is worse than easy for most scores (Fig. 2)"),
        Check("el2n-easy-vs-hard", "macro test accuracy", "EL2N-hard", "EL2N-easy", "greater",
              "pruning EL2N-easy examples is better than pruning EL2N-hard ones", "Fig. 2"),
        Check("vog-easy-near-full", "macro test accuracy", "Full", "VoG-easy (45% pruned)", "greater",
              f"VoG-easy pruning of 45% stays within {NEAR_FULL_MARGIN} of full-data accuracy (non-inferiority)",
              _PAPER, margin=NEAR_FULL_MARGIN),
        Check("el2n-flags-mislabels", "mean EL2N", "clean rows", "mislabelled rows", "greater",
              "mechanism: mislabelled examples get higher EL2N (they are scored hard)", "B.6, spec C3",
              kind="mechanism"),
        Check("pvi-flags-mislabels", "mean PVI (bits)", "clean rows", "mislabelled rows", "less",
              "mechanism: mislabelled examples get lower PVI", "PVI < 0 flags mislabels", kind="mechanism"),
        Check("noise-free-random-headroom", "macro test accuracy", "Random", "noise-free-random", "greater",
              "regime: keeping only correctly labelled rows (ground truth) beats a random draw of the same size, so "
              "which rows are pruned matters", "noisy SNLI setting", kind="regime"),
        Check("full-off-ceiling", "macro test accuracy", f"ceiling {CEILING}", "Full", "less",
              "regime: the learner is not at ceiling on the full data", kind="regime"),
        Check("converged-within-budget", "latest best-validation step over arms", f"budget {STEPS} steps",
              "arms", "less", "regime: every arm reaches its validation optimum before the equal step budget ends",
              kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="vog-easy-vs-random",
    trial_seconds=10.0,
)
