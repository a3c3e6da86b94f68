"""Weak-supervision label-model fit time: diversa's BinaryLabelModel vs snorkel's LabelModel.

Weaver (Saad-Falcon et al., arXiv:2506.18203) fits a binary label model on the verifier votes of
every (query, response) pair. Both sides get the same conditionally independent vote matrix
(10k items x 20 verifiers in full mode, 2k x 20 in quick mode, class balance 0.35) and the same
settings (500 epochs, SGD lr 0.01, momentum 0.9, l2 0, seed 0). diversa uses closed-form numpy
gradients; snorkel uses torch autograd. The row also reports the largest posterior difference
between the two (expected < 0.01; diversa's ``normalization_weight=0`` gives snorkel's exact
objective). Runs are interleaved and the median wall time is reported.

Usage: ``python benchmarks/bench_label_model.py [--quick]`` or ``python -m benchmarks label_model``.
"""

from __future__ import annotations

import argparse

import numpy as np

from diversa.combine.verifiers import BinaryLabelModel

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


def run(quick: bool = False) -> list[dict]:
    """One row: fit time of both label models on the same vote matrix (snorkel required)."""
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
    return [row]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k x 20 only")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        print(f"{row['name']:30s} diversa {row['diversa_s']:.3f} s  snorkel {row['anchor_s']:.3f} s  "
              f"ratio {row['ratio']:.3f}  max |dp| {row['max_posterior_diff']:.2e}")


if __name__ == "__main__":
    main()
