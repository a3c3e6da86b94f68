"""Weak-supervision label-model fit time: diversa's label models vs snorkel's LabelModel.

Weaver (Saad-Falcon et al., arXiv:2506.18203) fits a binary label model on the verifier votes of
every (query, response) pair; labelling functions in general vote among k classes and abstain
(Ratner et al., arXiv:1810.02840). Two rows, each giving both sides the same conditionally
independent vote matrix and the same settings (500 epochs, SGD lr 0.01, momentum 0.9, l2 0,
seed 0; diversa uses closed-form numpy gradients, snorkel torch autograd):

* ``BinaryLabelModel``, 0/1 votes without abstains, 10k items x 20 verifiers (2k in quick mode),
  class balance 0.35 (diversa's ``normalization_weight=0`` gives snorkel's exact objective);
* ``LabelModel``, k = 3 with abstains (coverage 0.2-0.9 per source), 100k items x 20 sources
  (20k in quick mode), class balance (0.5, 0.3, 0.2); fit plus ``predict_proba`` on all rows.

Each row also reports the largest posterior difference between the two (expected < 0.01) and,
for k = 3, the share of rows with the same prediction. Runs are interleaved and the median wall
time is reported.

Usage: ``python benchmarks/bench_label_model.py [--quick]`` or ``python -m benchmarks label_model``.
"""

from __future__ import annotations

import argparse

import numpy as np

from diversa.combine.verifiers import BinaryLabelModel, LabelModel

try:
    from benchmarks.timing import compare_timings
except ModuleNotFoundError:  # run as a script
    from timing import compare_timings


def make_votes(n: int, m: int, class_balance: float = 0.35, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tpr, tnr = rng.uniform(0.55, 0.9, m), rng.uniform(0.55, 0.9, m)
    y = rng.random(n) < class_balance
    u = rng.random((n, m))
    return np.where(y[:, None], u < tpr, u >= tnr).astype(int)


def make_multiclass_votes(n: int, m: int, class_balance=(0.5, 0.3, 0.2), seed: int = 0) -> np.ndarray:
    """Votes in {-1, 0..k-1}: right with a per-source accuracy, else uniform; abstain at random."""
    rng = np.random.default_rng(seed)
    k = len(class_balance)
    y = rng.choice(k, size=n, p=class_balance)
    accuracy, coverage = rng.uniform(0.45, 0.85, m), rng.uniform(0.2, 0.9, m)
    L = np.where(rng.random((n, m)) < accuracy, y[:, None], rng.integers(0, k, (n, m)))
    return np.where(rng.random((n, m)) < coverage, L, -1)


def run_multiclass(quick: bool = False) -> dict:
    """k = 3 with abstains: fit + predict_proba of LabelModel vs snorkel (snorkel required)."""
    from snorkel.labeling.model import LabelModel as SnorkelLabelModel

    n, m, repeats = (20_000, 20, 3) if quick else (100_000, 20, 3)
    cb = [0.5, 0.3, 0.2]
    L = make_multiclass_votes(n, m, cb)

    def ours():
        lm = LabelModel(cardinality=3, class_balance=cb, n_epochs=500, random_state=0).fit(L)
        return lm, lm.predict_proba(L)

    def anchor():
        lm = SnorkelLabelModel(cardinality=3, verbose=False)
        lm.fit(L, class_balance=cb, n_epochs=500, lr=0.01, l2=0.0, seed=0, progress_bar=False)
        return lm, lm.predict_proba(L)

    ours(), anchor()  # warm-up
    row, (o, po), (a, pa) = compare_timings(f"label model k=3 abstains {n // 1000}k x {m}", ours, anchor,
                                            "snorkel.labeling.model.LabelModel", repeats)
    row["max_posterior_diff"] = float(np.abs(po - pa).max())
    row["same_prediction"] = float(np.mean(o.predict(L) == a.predict(L)))
    return row


def run(quick: bool = False) -> list[dict]:
    """Two rows: binary and k = 3 with abstains, both label models on the same votes (snorkel required)."""
    from snorkel.labeling.model import LabelModel

    n, m, repeats = (2_000, 20, 3) if quick else (10_000, 20, 5)
    L = make_votes(n, m)

    def ours():
        return BinaryLabelModel(class_balance=0.35, normalization_weight=0.0, random_state=0).fit(L)

    def anchor():
        lm = LabelModel(cardinality=2, verbose=False)
        lm.fit(L, class_balance=[0.65, 0.35], n_epochs=500, lr=0.01, l2=0.0, seed=0, progress_bar=False)
        return lm

    ours(), anchor()  # warm-up
    row, o, a = compare_timings(f"label model fit {n // 1000}k x {m}", ours, anchor,
                                "snorkel.labeling.model.LabelModel", repeats)
    row["max_posterior_diff"] = float(np.abs(o.predict_proba(L)[:, 1] - a.predict_proba(L)[:, 1]).max())
    return [row, run_multiclass(quick)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k x 20 binary and 20k x 20 k=3 only")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        same = f"  same prediction {row['same_prediction']:.4f}" if "same_prediction" in row else ""
        print(f"{row['name']:36s} diversa {row['diversa_s']:.3f} s  snorkel {row['anchor_s']:.3f} s  "
              f"ratio {row['ratio']:.3f}  max |dp| {row['max_posterior_diff']:.2e}{same}")


if __name__ == "__main__":
    main()
