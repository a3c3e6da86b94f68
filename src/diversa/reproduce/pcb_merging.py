"""Reproduction of PCB-Merging: balancing parameter competition beats TIES-style trimming.

Du et al., "Parameter Competition Balancing for Model Merging", NeurIPS 2024,
arXiv:2410.02396. Spec ``merge.md`` section 4.

Three parts per trial (trial s = testbed seed s = synthetic seed s):

1. MergeDigits-8 (mode ``"full"``): PCB (r in {0.05, 0.1, 0.2}, c = 0.01,
   lambda in {0.5, ..., 2.2}) against TIES with the official whole-model
   trimming (k in {0.05, 0.1, 0.2}) and Task Arithmetic, all chosen on
   validation; DARE-TIES is reported alongside. Deviation from the spec, for
   fairness: TIES gets PCB's lambda grid (0.5-2.2) rather than the official
   0.8-2.2, because at this scale TIES' best lambda sits at 0.8, the official
   grid's lower edge (the verdict was the same with either grid).
   The spec's prototype found PCB only about tied with TIES (+0.3 to +1 point)
   and below Task Arithmetic at this scale; the verdicts say what happened.
2. Mechanism: with the selected r, the fraction of a task's entries PCB drops
   where its sign disagrees with the summed update, against where it agrees.
3. Two synthetic quadratic problems (d = 2000, 4 task vectors, best lambda and
   k/r per method from the spec's grids): "sign-conflict" (shared signal,
   noise, task spikes, and a block of alternating-sign conflicts), where PCB's
   soft coefficients should beat TIES, and "disjoint-support" (each task
   owns 10% of the coordinates), where hard trimming is expected to win.
"""

from __future__ import annotations

import numpy as np
import torch

from diversa.combine.merge import dare_merging, pcb_merging, pcb_scores, task_arithmetic, ties_merging, ties_tensor
from diversa.combine.merge.pcb import _pcb_delta
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.merge_digits import build_merge_testbed, evaluate_merge

PCB_RATIOS = (0.05, 0.1, 0.2)
PCB_LAMBDAS = tuple(np.round(np.arange(0.5, 2.21, 0.1), 2))
TIES_DENSITIES = (0.05, 0.1, 0.2)
QUICK_PCB_LAMBDAS = tuple(np.round(np.arange(0.5, 2.21, 0.3), 2))
TA_LAMBDAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
SYN_D, SYN_N, SYN_ROWS = 2000, 4, 500
SYN_LAMBDAS = np.linspace(0.5, 2.0, 16)
SYN_SPARSITY = (0.05, 0.1, 0.2, 0.5)


def _synthetic(kind: str, seed: int):
    """Task vectors (n x d) and per-task coordinate weights of the loss."""
    rng = np.random.RandomState(seed)
    d, n = SYN_D, SYN_N
    if kind == "sign-conflict":
        shared = np.zeros(d)
        idx = rng.choice(d, int(0.3 * d), replace=False)
        shared[idx] = rng.normal(0, 1, len(idx))
        block = rng.choice(d, int(0.05 * d), replace=False)
        taus = []
        for t in range(n):
            tau = shared.copy()
            noise_idx = rng.choice(d, int(0.5 * d), replace=False)
            tau[noise_idx] += rng.normal(0, 0.3, len(noise_idx))
            spike_idx = rng.choice(d, int(0.05 * d), replace=False)
            tau[spike_idx] += rng.normal(0, 3, len(spike_idx))
            tau[block] += 3.0 if t % 2 == 0 else -3.0
            taus.append(tau)
        weights = np.ones((n, d))
    else:
        order = rng.permutation(d)
        size = int(0.1 * d)
        taus, weights = [], []
        for t in range(n):
            support = order[t * size:(t + 1) * size]
            tau = rng.normal(0, 0.2, d)
            tau[support] = rng.normal(0, 2, size)
            w = np.full(d, 0.05)
            w[support] = 1.0
            taus.append(tau)
            weights.append(w)
        weights = np.array(weights)
    X = rng.normal(0, 1, (SYN_ROWS, d)) / np.sqrt(d)
    return (torch.tensor(np.array(taus), dtype=torch.float32), torch.tensor(weights, dtype=torch.float32),
            torch.tensor(X, dtype=torch.float32))


def _loss(tau_m, taus, weights, X) -> float:
    diff = (tau_m.unsqueeze(0) - taus) * weights.sqrt()
    return float((diff @ X.T).square().sum() / X.shape[0])


def synthetic_losses(kind: str, seed: int) -> dict[str, float]:
    """Best (over the spec's grids) quadratic loss of TA, TIES and PCB on one synthetic problem."""
    taus, weights, X = _synthetic(kind, seed)
    best = {}
    best["task_arithmetic"] = min(_loss(lam * taus.mean(0), taus, weights, X) for lam in SYN_LAMBDAS)
    ties_deltas = [ties_tensor(list(taus), density=k) for k in SYN_SPARSITY]
    best["ties"] = min(_loss(lam * dm, taus, weights, X) for dm in ties_deltas for lam in SYN_LAMBDAS)
    pcb_deltas = [_pcb_delta(taus, r, 0.01, "raw", [1.0] * len(taus)) for r in SYN_SPARSITY]
    best["pcb"] = min(_loss(lam * dm, taus, weights, X) for dm in pcb_deltas for lam in SYN_LAMBDAS)
    return best


def conflict_drop_rates(base, models, pcb_ratio: float) -> tuple[float, float]:
    """Fractions of dropped entries (s = 0) where a task's sign disagrees / agrees with the summed update."""
    keys = sorted(base)
    T = torch.stack([torch.cat([(m[k].float() - base[k].float()).reshape(-1) for k in keys]) for m in models])
    _, s = pcb_scores(T, pcb_ratio=pcb_ratio, clamp_ratio=0.01)
    conflict = T.sign() != T.sum(0, keepdim=True).sign()
    dropped = s == 0
    return float(dropped[conflict].float().mean()), float(dropped[~conflict].float().mean())


def run_trial(seed: int, quick: bool) -> TrialResult:
    tb = build_merge_testbed(seed, "full")
    base = tb.base_body
    models = [tb.task_bodies[t] for t in tb.tasks]
    pcb_lams = QUICK_PCB_LAMBDAS if quick else PCB_LAMBDAS
    ties_lams = pcb_lams  # the same lambda grid for both (see the module docstring)
    pcb = evaluate_merge(tb, lambda pcb_ratio, scaling: pcb_merging(base, models, pcb_ratio=pcb_ratio,
                                                                    scaling=scaling),
                         [{"pcb_ratio": r, "scaling": float(lam)} for r in PCB_RATIOS for lam in pcb_lams])
    ties = evaluate_merge(tb, lambda density, scaling: ties_merging(base, models, density=density, scaling=scaling,
                                                                    scope="global"),
                          [{"density": k, "scaling": float(lam)} for k in TIES_DENSITIES for lam in ties_lams])
    ta = evaluate_merge(tb, lambda scaling: task_arithmetic(base, models, scaling=scaling),
                        [{"scaling": lam} for lam in TA_LAMBDAS])
    dare_ties = evaluate_merge(
        tb, lambda drop_rate, scaling: dare_merging(base, models, drop_rate=drop_rate, combine="ties",
                                                    scaling=scaling, random_state=seed),
        [{"drop_rate": p, "scaling": lam} for p in (0.5, 0.7, 0.9) for lam in (0.5, 1.0, 1.5)])
    conflict, agree = conflict_drop_rates(base, models, pcb.params["pcb_ratio"])
    conflict_loss = synthetic_losses("sign-conflict", seed)
    disjoint_loss = synthetic_losses("disjoint-support", seed)
    return TrialResult(
        pairs={
            "pcb-vs-ties": (ties.test, pcb.test),
            "pcb-vs-ta": (ta.test, pcb.test),
            "drops-conflicts": (agree, conflict),
            "sign-conflict-loss": (conflict_loss["ties"], conflict_loss["pcb"]),
            "disjoint-support-loss": (disjoint_loss["ties"], disjoint_loss["pcb"]),
        },
        diagnostics={
            "pcb_test": pcb.test, "ties_test": ties.test, "ta_test": ta.test, "dare_ties_test": dare_ties.test,
            "pcb_params": pcb.params, "ties_params": ties.params, "ta_params": ta.params,
            "pcb_per_task": pcb.per_task, "ties_per_task": ties.per_task,
            "sign_conflict_losses": conflict_loss, "disjoint_support_losses": disjoint_loss,
        },
    )


REPRODUCTION = Reproduction(
    id="pcb-merging",
    title="Parameter Competition Balancing for Model Merging (PCB-Merging)",
    arxiv="2410.02396",
    claim=("Weighting every parameter of every task by intra-task importance and inter-task agreement, "
           "dropping the low-scoring ones and rescaling the rest, merges models better than TIES-Merging "
           "and Task Arithmetic."),
    paper_result=("Consistent gains over TIES and Task Arithmetic across T5, IA3/T0, ViT and LLaMA-2 merges; "
                  "the table values could not be read (spec: roughly +1 to +4 points over TIES, unverified)."),
    setup=("MergeDigits-8 (mode full), whole-model (global) scope for PCB and TIES as the official code, "
           "one lambda grid 0.5-2.2 for both (TIES' official grid starts at 0.8, its best value here), "
           "c = 0.01, r/k and lambda chosen on validation; mechanism: PCB's drop rate at sign-conflicting vs "
           "agreeing entries; synthetic quadratic problems (d = 2000, 4 tasks, best grid point per method); "
           "a trial = one seed."),
    checks=(
        Check("pcb-vs-ties", "normalized accuracy", "TIES (global)", "PCB", "greater",
              "PCB-Merging beats TIES-Merging", "gains over TIES in every table (values unverified)"),
        Check("pcb-vs-ta", "normalized accuracy", "Task Arithmetic", "PCB", "greater",
              "PCB-Merging beats Task Arithmetic", "gains over Task Arithmetic in every table"),
        Check("drops-conflicts", "fraction of entries dropped", "sign-agreeing entries", "sign-conflicting entries",
              "greater", "PCB drops the entries where a task fights the consensus",
              "inter-balancing penalizes conflicting parameters (mechanism)", kind="mechanism"),
        Check("sign-conflict-loss", "quadratic loss (sign-conflict)", "TIES", "PCB", "less",
              "soft PCB coefficients beat hard TIES trimming under shared signal with sign conflicts",
              "spec prototype: PCB < TIES in 10/10 seeds (TA best)", kind="mechanism"),
        Check("disjoint-support-loss", "quadratic loss (disjoint-support)", "TIES", "PCB", "less",
              "PCB beats TIES when each task owns its own coordinates",
              "spec prototype: PCB < TIES in only 2/10 seeds", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="pcb-vs-ties",
    trial_seconds=12.0,
)
