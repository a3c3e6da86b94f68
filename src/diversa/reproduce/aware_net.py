"""Reproduction of AWARE-NET: learned family weights over a two-tier ensemble.

"AWARE-NET: Adaptive Weighted Averaging for Robust Ensemble Network in Deepfake Detection",
arXiv:2505.00312 (spec ``ensemble.md#aware_net``, small-scale reproduction).

A trial is one seed: digits (pixels / 16) split stratified 60 / 20 / 20 into train / validation /
test. Three torch families (MLP 64-64-10; CNN conv3x3(16) + maxpool + linear; softmax regression
on 256 random Fourier features, sigma = 4), 3 instances each with different init seeds, trained
with Adam lr 1e-2, 60 epochs, batch 128 (the spec's 64, doubled to halve the steps for the time budget) and
weak augmentation (N(0, 0.05^2) pixel noise), one thread. Methods: best single member (validation
accuracy), flat average of the 9 members (= uniform tier 2, as every family has 3 instances),
AWARE-NET (``TwoTierEnsemble``: tier-2 weights learned on the validation split by mixture NLL),
and stacking (logistic regression on concatenated family probabilities, fit on validation). A
shifted test set (N(0, 0.3^2) pixel noise + 1-pixel shift) stands in for the cross-dataset
evaluation. Stress test: a fourth, weak family (softmax regression on 4 random pixels, 3
instances).

Checks. Headline: AWARE-NET > flat average (clean test accuracy; the spec expects a difference
within noise). Secondary claims: AWARE-NET > flat average on the shifted test set (the learned
weights, not ensembling, must make the difference: before the audit this compared against the
best single member, which a flat average beats as well); with the weak family AWARE-NET > uniform
tier 2, and stays within 0.5 points of AWARE-NET without it (non-inferiority margin 0.005).
Mechanism: the weak family gets weight < 0.1. Regime: an oracle weighting (the best point of a
0.05 grid on the weight simplex, chosen on the test set itself) beats the flat average, on the
clean and on the shifted test set, a necessary condition for learned weights to matter there
(lenient: the grid's best point is optimistic); and the weak family lowers the accuracy of
uniform tier-2 weights (the stress test's premise).

The weak family changed during the audit, AFTER the new regime check showed that the spec's
family (8 random pixels) does not lower uniform-weight accuracy: it reaches about 75 % test
accuracy, above the spec's intended 40-60 %. The pixel count was then set by a rule on the weak
family alone, fixed before any ensemble was run with it: the largest of 8, 6, 4, 3, 2 pixels
whose mean test accuracy on four seeds outside the reproduction's lies in 40-60 % (0.747, 0.685,
0.596, 0.472, 0.352: 4 pixels).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from torch import nn

from diversa.combine.ensemble import TwoTierEnsemble
from diversa.reproduce.registry import Check, Reproduction, TrialResult

EPOCHS, BATCH, LR, N_INSTANCES = 60, 128, 1e-2, 3
#: Pixels seen by the weak family: the spec's 8 gave 75 % accuracy, above its intended 40-60 % (see docstring).
WEAK_PIXELS = 4
#: Oracle weighting grid: weights on the simplex in steps of 1 / GRID_STEPS (plus the exact uniform point).
GRID_STEPS = 20


def make_aware(families, seed: int) -> TwoTierEnsemble:
    """The method under test: AWARE-NET's learned tier-2 weights (library defaults)."""
    return TwoTierEnsemble(families, random_state=seed)


def _simplex_grid(n_families: int, steps: int) -> np.ndarray:
    grid = [np.array(c) / steps for c in itertools.product(range(steps + 1), repeat=n_families)
            if sum(c) == steps]
    return np.vstack([*grid, np.full(n_families, 1.0 / n_families)])


def oracle_weighting_accuracy(family_probs: np.ndarray, y: np.ndarray, steps: int = GRID_STEPS) -> float:
    """Best accuracy of ``sum_f w_f p_f`` over a simplex grid of weights, chosen on ``(family_probs, y)``."""
    W = _simplex_grid(family_probs.shape[0], steps)
    mixed = np.einsum("gf,fnc->gnc", W, family_probs)
    return float(np.max(np.mean(mixed.argmax(axis=2) == y[None], axis=1)))



class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.head = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        h = torch.max_pool2d(torch.relu(self.conv(x.view(-1, 1, 8, 8))), 2)
        return self.head(h.flatten(1))


class _Fixed(nn.Module):
    """Fixed feature map (random Fourier features or a pixel subset) followed by a linear layer."""

    def __init__(self, kind: str, seed: int, d: int = 64):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.kind = kind
        if kind == "rff":
            self.register_buffer("W", torch.randn(d, 256, generator=g) / (4.0 * np.sqrt(d)))
            self.register_buffer("b", torch.rand(256, generator=g) * 2 * np.pi)
            self.head = nn.Linear(256, 10)
        else:
            self.register_buffer("idx", torch.randperm(d, generator=g)[:WEAK_PIXELS])
            self.head = nn.Linear(WEAK_PIXELS, 10)

    def forward(self, x):
        f = torch.cos(x @ self.W + self.b) if self.kind == "rff" else x[:, self.idx]
        return self.head(f)


def _make(family: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if family == "mlp":
        return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    if family == "cnn":
        return _CNN()
    return _Fixed("rff" if family == "rff" else "pixels", seed)


def _train(model: nn.Module, X: np.ndarray, y: np.ndarray, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        perm = torch.randperm(len(yt), generator=g)
        for s in range(0, len(yt), BATCH):
            b = perm[s:s + BATCH]
            xb = Xt[b] + 0.05 * torch.randn(len(b), Xt.shape[1], generator=g)
            loss = nn.functional.cross_entropy(model(xb), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def _shift(X: np.ndarray, rng) -> np.ndarray:
    img = X.reshape(-1, 8, 8)
    out = np.empty_like(img)
    for i, im in enumerate(img):
        dy, dx = rng.integers(-1, 2, size=2)
        out[i] = np.roll(np.roll(im, dy, axis=0), dx, axis=1)
    return out.reshape(len(X), 64) + rng.normal(0, 0.3, size=X.shape)


def _acc(P, y):
    return float(np.mean(P.argmax(1) == y))


def _nll(P, y):
    return float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], 1e-12, 1))))


def run_trial(seed: int, quick: bool) -> TrialResult:
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, train_size=0.6, stratify=y, random_state=seed)
    X_va, X_te, y_va, y_te = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)
    X_sh = _shift(X_te, np.random.default_rng(seed))
    fams = {f: [_train(_make(f, 1000 * seed + 10 * k + i), X_tr, y_tr, 1000 * seed + 10 * k + i)
                for i in range(N_INSTANCES)] for k, f in enumerate(("mlp", "cnn", "rff", "weak"))}
    main = {f: fams[f] for f in ("mlp", "cnn", "rff")}

    def member_probs(Xs):
        with torch.no_grad():
            return {f: [torch.softmax(m(torch.tensor(Xs, dtype=torch.float32)), -1).double().numpy() for m in ms]
                    for f, ms in fams.items()}

    pv, pt, ps = member_probs(X_va), member_probs(X_te), member_probs(X_sh)
    aware = make_aware(main, seed).fit(X_va, y_va)
    uniform = TwoTierEnsemble(main, n_steps=0).fit(X_va, y_va)
    aware4 = make_aware(fams, seed).fit(X_va, y_va)
    uniform4 = TwoTierEnsemble(fams, n_steps=0).fit(X_va, y_va)
    flat_t = np.mean([p for f in main for p in pt[f]], axis=0)
    flat_s = np.mean([p for f in main for p in ps[f]], axis=0)
    # best single member by validation accuracy
    members = [(f, i) for f in main for i in range(N_INSTANCES)]
    best = max(members, key=lambda fi: _acc(pv[fi[0]][fi[1]], y_va))
    stack = LogisticRegression(max_iter=2000).fit(aware.family_proba(X_va).transpose(1, 0, 2).reshape(len(y_va), -1),
                                                  y_va)
    P_stack = stack.predict_proba(aware.family_proba(X_te).transpose(1, 0, 2).reshape(len(y_te), -1))
    P_aware, P_aware_sh = aware.predict_proba(X_te), aware.predict_proba(X_sh)
    acc = {"aware": _acc(P_aware, y_te), "flat": _acc(flat_t, y_te), "uniform": _acc(uniform.predict_proba(X_te), y_te),
           "best_single": _acc(pt[best[0]][best[1]], y_te), "stacking": _acc(P_stack, y_te),
           "aware_weak": _acc(aware4.predict_proba(X_te), y_te),
           "uniform_weak": _acc(uniform4.predict_proba(X_te), y_te),
           "weak_family": _acc(np.mean(pt["weak"], axis=0), y_te),
           "aware_shift": _acc(P_aware_sh, y_te), "flat_shift": _acc(flat_s, y_te),
           "best_single_shift": _acc(ps[best[0]][best[1]], y_te),
           "oracle_weighting": oracle_weighting_accuracy(uniform.family_proba(X_te), y_te),
           "oracle_weighting_shift": oracle_weighting_accuracy(uniform.family_proba(X_sh), y_te)}
    weights4 = dict(zip(aware4.family_names_, aware4.weights_.tolist()))
    rho = spearmanr(aware4.weights_, -aware4.family_val_nll_).statistic if np.ptp(aware4.weights_) > 0 else np.nan
    return TrialResult(
        pairs={
            "aware-vs-flat": (acc["flat"], acc["aware"]),
            "shift-aware-vs-flat": (acc["flat_shift"], acc["aware_shift"]),
            "stress-aware-vs-uniform": (acc["uniform_weak"], acc["aware_weak"]),
            "stress-within-0.5": (acc["aware"], acc["aware_weak"]),
            "stress-weak-weight": (0.1, weights4["weak"]),
            "weighting-headroom": (acc["flat"], acc["oracle_weighting"]),
            "weighting-headroom-shift": (acc["flat_shift"], acc["oracle_weighting_shift"]),
            "weak-family-hurts-uniform": (acc["uniform_weak"], acc["uniform"]),
        },
        diagnostics={"accuracy": acc, "nll_aware": _nll(P_aware, y_te), "nll_flat": _nll(flat_t, y_te),
                     "weights": dict(zip(aware.family_names_, aware.weights_.tolist())), "weights_stress": weights4,
                     "family_val_nll_stress": aware4.family_val_nll_.tolist(),
                     "spearman_weight_vs_val_nll": float(rho), "best_single": f"{best[0]}#{best[1]}"},
    )


REPRODUCTION = Reproduction(
    id="aware-net",
    title="AWARE-NET: Adaptive Weighted Averaging for Robust Ensemble Network in Deepfake Detection",
    arxiv="2505.00312",
    claim=("A two-tier ensemble (instances averaged within each architecture family, learnable softmax "
           "weights across families) matches or beats flat averaging and single models, and its learned "
           "weights suppress unreliable families."),
    paper_result=("Intra-dataset AUC 99.22 % (FF++) / 100 % (CelebDF-v2); cross-dataset AUC 88.20 % / 72.52 %; "
                  "baselines: single architectures and fixed-weight ensembles."),
    setup=("sklearn digits, stratified 60/20/20 split per seed; families MLP, CNN, RFF softmax regression "
           "(3 instances each, Adam lr 1e-2, 60 epochs, batch 128, noise augmentation); tier-2 weights by "
           "full-batch Adam (lr 0.05, 200 steps) on validation NLL; stress family: softmax regression on 4 "
           "random pixels; shifted test = noise 0.3 + 1-px shift; a trial = one seed."),
    checks=(
        Check("aware-vs-flat", "test accuracy", "flat average", "AWARE-NET", "greater",
              "learned family weights beat a flat average of all members", "AWARE-NET beats fixed-weight ensembles"),
        Check("shift-aware-vs-flat", "shifted-test accuracy", "flat average", "AWARE-NET", "greater",
              "learned family weights make the ensemble more robust under shift than a flat average",
              "cross-dataset AUC 88.20 % / 72.52 %"),
        Check("stress-aware-vs-uniform", "test accuracy with weak family", "uniform tier 2", "AWARE-NET", "greater",
              "learned weights protect against an unreliable family", "adaptive weighting (spec stress test)"),
        Check("stress-within-0.5", "test accuracy", "AWARE-NET without weak family", "AWARE-NET with weak family",
              "greater", "with the weak family added AWARE-NET loses less than 0.5 points (non-inferiority)",
              "spec stress test", margin=0.005),
        Check("stress-weak-weight", "tier-2 weight of the weak family", "0.1", "AWARE-NET", "less",
              "the weak family gets weight < 0.1", "spec stress test", kind="mechanism"),
        Check("weighting-headroom", "test accuracy", "flat average", "oracle weighting (chosen on test)", "greater",
              "some family weighting beats the flat average on the test set", "",
              kind="regime", applies_to=("aware-vs-flat",)),
        Check("weighting-headroom-shift", "shifted-test accuracy", "flat average", "oracle weighting (chosen on test)",
              "greater", "some family weighting beats the flat average on the shifted test set", "",
              kind="regime", applies_to=("shift-aware-vs-flat",)),
        Check("weak-family-hurts-uniform", "test accuracy", "uniform tier 2 with weak family",
              "uniform tier 2 without it", "greater", "the weak family hurts an unweighted ensemble", "",
              kind="regime", applies_to=("stress-aware-vs-uniform", "stress-within-0.5")),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="aware-vs-flat",
    trial_seconds=10.0,
)
