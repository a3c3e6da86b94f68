"""Reproduction of MDCS: more diverse experts with consistency self-distillation for long-tailed recognition.

Zhao, Wen et al., "MDCS: More Diverse Experts with Consistency Self-distillation for Long-tailed
Recognition", arXiv:2308.09922 (ICCV 2023); spec ``ensemble.md#mdcs``, small-scale reproduction,
on the LT-Digits testbed of section 0.2 (shared with ``sade``).

A trial is one seed: a fresh LT-Digits draw (random class order, split and initialisation),
training imbalance ratio 100 (304 images), evaluated on the balanced (uniform) test set of 500
images, the benchmark setting of the paper; forward-25 and backward-25 accuracies are reported
as diagnostics. Every arm is a :class:`~diversa.learners.longtail.LongTailExpertsClassifier` with
the same backbone (trunk 64-128 shared, three 128-64 expert branches, cosine classifiers with
scale 30), optimiser (SGD, Nesterov momentum 0.9, lr 0.05, weight decay 5e-4, batch 64, 5
warm-up epochs then constant), epochs and seed (same initialisation and batch order), and predicts
with the mean of the raw expert logits:

* uniform expert averaging of SADE's skill-diverse experts (forward, uniform, backward; lam = 2),
  the multi-expert state of the art MDCS compares with, without test-time adaptation (MDCS has none);
* DL only: MDCS's diversity loss (prior powers lambda = -0.5, 1, 2.5) on the weak view;
* MDCS: the diversity loss on a weak and a strong view plus consistency self-distillation
  (weight 0.6, linear ramp over the first 5 % of epochs, temperature 1) restricted to confidently
  sampled instances (the weak-view teacher is correct). The strong view is the spec's default
  stand-in for AutoAugment + Cutout on 8x8 digits (two-pixel shift, contrast 0.6-1.4, N(0, 0.15^2)
  noise, one 3x3 cutout).

Budget: equal epochs and steps for every arm; MDCS forwards two views per step (twice the
compute of the others), as in the paper. No arm's hyper-parameters are tuned: all are the spec's
defaults (no validation split needed). Quick mode trains 80 epochs (the spec's 150 halved for the
time budget, as in ``sade``), full mode 150; full mode adds, as diagnostics only, MDCS with the
spec's "mild" strong view and MDCS without the cross-entropy on the strong view (the spec's
labelled ablation). The 5-epoch learning-rate warm-up deviates from the spec's constant rate
(see :mod:`diversa.learners.longtail`).

Checks (decided from the paper and the spec before the runs; the spec's prototype predicts that
the strong view is destructive at 8x8, so the headline may well be contradicted: that is a
result, not a reason to change the view).

* Headline (claim): MDCS beats uniform averaging of SADE's experts on uniform-test accuracy
  (paper: CIFAR-100-LT IR 100, about 56 % vs SADE's 49.8 %, from memory, unverified).
* Secondary claims (Holm, gated by the headline): DL alone beats SADE's experts (the diversity
  loss is a better multi-expert objective); MDCS beats DL alone (consistency self-distillation
  helps, the paper's ablation).
* Mechanism: DL's experts disagree more than SADE's (mean pairwise disagreement of their
  predictions on the uniform test set; the paper's "more diverse experts"); the fraction of
  instances confident sampling selects for distillation grows from the first to the last epoch
  (fails if the teacher never improves, so distillation never switches on).
* Regime: SADE's softmax-CE (forward) expert has a few-shot uniform-test accuracy more than 20
  points below its many-shot accuracy: the tail is neglected by plain training.
"""

from __future__ import annotations

import numpy as np
import torch

from diversa.combine.diversity import pairwise_disagreement
from diversa.datasets.longtail import TEST_KINDS, make_longtail_digits, make_test_distribution
from diversa.evaluate.shot_accuracy import shot_accuracy
from diversa.learners.longtail import LongTailExpertsClassifier
from diversa.reproduce.registry import Check, Reproduction, TrialResult

IMBALANCE, TEST_IMBALANCE, N_TEST_PER_CLASS = 100, 25, 50
QUICK_EPOCHS, FULL_EPOCHS = 80, 150
#: The distillation ramp lasts 5 % of training, as MDCS's 20 of 400 epochs.
WARMUP_SHARE = 0.05
TAIL_GAP = 0.2
#: The arms of every mode: loss and its options.
ARMS = {"sade": dict(loss="sade"),
        "dl": dict(loss="mdcs", kd_weight=0.0, ce_on_strong=False),
        "mdcs": dict(loss="mdcs")}
#: Diagnostic arms of full mode only.
FULL_ONLY = {"mdcs_mild": dict(loss="mdcs", strong_strength="mild"),
             "mdcs_no_strong_ce": dict(loss="mdcs", ce_on_strong=False)}


def train(arm: dict, data, epochs: int, seed: int) -> LongTailExpertsClassifier:
    """One arm's three-expert model: identical settings except the arm's loss options."""
    warmup = max(1, round(WARMUP_SHARE * epochs))
    return LongTailExpertsClassifier(epochs=epochs, warmup_epochs=warmup, augment="digits", random_state=seed,
                                     **arm).fit(data.X_train, data.y_train)


def run_trial(seed: int, quick: bool) -> TrialResult:
    torch.set_num_threads(1)
    data = make_longtail_digits(IMBALANCE, N_TEST_PER_CLASS, random_state=seed)
    epochs = QUICK_EPOCHS if quick else FULL_EPOCHS
    arms = ARMS if quick else {**ARMS, **FULL_ONLY}
    models = {name: train(arm, data, epochs, seed) for name, arm in arms.items()}
    acc = {name: {} for name in models}
    for kind in TEST_KINDS:
        X, y = make_test_distribution(data, kind, TEST_IMBALANCE)
        for name, model in models.items():
            acc[name][kind] = float(np.mean(model.predict(X) == y))
    X_u, y_u = make_test_distribution(data, "uniform")
    disagreement = {name: pairwise_disagreement(model.expert_logits(X_u).argmax(axis=2)) for name, model in models.items()}
    forward_expert = models["sade"].expert_logits(X_u)[0].argmax(1)
    shots = shot_accuracy(y_u, forward_expert, data.class_counts, data.n_max)
    selection = models["mdcs"].selection_curve_.mean(axis=1)
    uniform = {name: a["uniform"] for name, a in acc.items()}
    return TrialResult(
        pairs={
            "mdcs-beats-sade": (uniform["sade"], uniform["mdcs"]),
            "dl-beats-sade": (uniform["sade"], uniform["dl"]),
            "cs-improves-dl": (uniform["dl"], uniform["mdcs"]),
            "dl-more-diverse": (disagreement["sade"], disagreement["dl"]),
            "cis-selection-grows": (float(selection[0]), float(selection[-1])),
            "softmax-tail-below-head": (shots.few + TAIL_GAP, shots.many),
        },
        diagnostics={"accuracy": acc, "expert_disagreement": disagreement,
                     "cis_selected_fraction": selection.tolist(),
                     "softmax_expert_shot_accuracy": {"many": shots.many, "medium": shots.medium, "few": shots.few},
                     "epochs": epochs},
    )


_UNIFORM = "uniform-test accuracy (500 images)"

REPRODUCTION = Reproduction(
    id="mdcs",
    title="MDCS: More Diverse Experts with Consistency Self-distillation for Long-tailed Recognition",
    arxiv="2308.09922",
    claim=("A diversity loss that gives each expert a different class-prior power, plus consistency "
           "self-distillation from weak to strong views on confidently sampled instances, makes a multi-expert "
           "long-tailed learner more accurate than the state of the art (SADE)."),
    paper_result=("CIFAR-100-LT IR 100 (ResNet-32) about 56.1 % vs SADE 49.8 %; ImageNet-LT about 61.8 %; "
                  "iNaturalist 2018 about 75.6 % (from memory of the paper's tables: UNVERIFIED); abstract: "
                  "+1-2 % over the state of the art on five benchmarks."),
    setup=(f"LT-Digits (sklearn digits, IR {IMBALANCE}, 304 training images, random class order per seed), "
           "uniform test set of 500; every arm a 3-expert MLP (64-128 shared, 3 x 128-64, cosine heads s = 30), "
           "SGD lr 0.05 Nesterov wd 5e-4 batch 64, 5 warm-up epochs, "
           f"{QUICK_EPOCHS} epochs quick / {FULL_EPOCHS} full, same seed; SADE lam = 2 (mean of experts); "
           "DL lambdas (-0.5, 1, 2.5) on one-pixel-shift views; MDCS adds a strong view (2-pixel shift, "
           "contrast, noise, 3x3 cutout) and KL self-distillation (weight 0.6, 5 % ramp) on confident "
           "instances; a unit = one seed (class order, split, init)."),
    checks=(
        Check("mdcs-beats-sade", _UNIFORM, "SADE experts, uniform mean", "MDCS", "greater",
              "MDCS beats the multi-expert state of the art (SADE's skill-diverse experts)", "MDCS > SADE"),
        Check("dl-beats-sade", _UNIFORM, "SADE experts, uniform mean", "DL only", "greater",
              "the diversity loss alone trains a better expert ensemble than SADE's loss", "DL > SADE (ablation)"),
        Check("cs-improves-dl", _UNIFORM, "DL only", "MDCS (DL + CS + CIS)", "greater",
              "consistency self-distillation with confident sampling improves on the diversity loss alone",
              "CS helps (ablation)"),
        Check("dl-more-diverse", "mean pairwise disagreement of expert predictions, uniform test",
              "SADE experts", "DL experts", "greater", "the diversity loss makes the experts more diverse",
              "DL increases diversity", kind="mechanism"),
        Check("cis-selection-grows", "fraction of training instances selected for distillation",
              "first epoch", "last epoch", "greater",
              "confident instance sampling admits more instances as the teacher improves", "CIS", kind="mechanism"),
        Check("softmax-tail-below-head", "SADE's softmax expert per-class accuracy, uniform test",
              f"few-shot + {TAIL_GAP}", "many-shot", "greater",
              "plain training neglects the tail classes (digits are not too easy)", "long-tailed regime",
              kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="mdcs-beats-sade",
    trial_seconds=7.0,
)
