"""SMOTE speed (and peak traced memory): diversa vs imbalanced-learn in one process.

diversa's SMOTE is imbalanced-learn's, subclassed: without ``percentage`` it
runs imbalanced-learn's code and only records where each synthetic row came
from; with ``percentage`` it swaps in the paper's per-base allocation and
draws. Both sides get the same ``make_classification`` data (20 features,
about 10% minority) and make the same number of synthetic samples, ``S = 2 T``
(the paper's N = 200%). The neighbour search (``NearestNeighbors``) dominates
the time at these sizes, so both ratios should sit near 1; what they measure
is the cost of the paper's allocation and of the provenance records.

Runs are interleaved (diversa, anchor, anchor, diversa, ...) so that slow
drifts of the machine hit both equally; the reported time is the median.

Usage: ``python benchmarks/bench_smote.py [--quick]`` or ``python -m benchmarks smote``.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc

from imblearn.over_sampling import SMOTE as ImblearnSMOTE
from sklearn.datasets import make_classification

from diversa.data.resample import SMOTE

try:
    from benchmarks.timing import compare_timings
except ModuleNotFoundError:  # run as a script: python benchmarks/bench_smote.py
    from timing import compare_timings


def make_data(n_samples: int, n_features: int = 20, seed: int = 0):
    """Binary data with about 10% minority (class 1)."""
    return make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=10, weights=[0.9],
        random_state=seed,
    )


def peak_traced_mb(sampler, X, y) -> float:
    """Peak memory allocated during one ``fit_resample`` as seen by tracemalloc, in MiB."""
    gc.collect()
    tracemalloc.start()
    sampler.fit_resample(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def compare(name: str, ours, anchor, X, y, repeats: int, memory: bool = True) -> dict:
    """Median time of ``repeats`` interleaved runs of each sampler; one row of results."""
    ours.fit_resample(X[:2000], y[:2000])  # warm imports and caches for both
    anchor.fit_resample(X[:2000], y[:2000])
    row, _, _ = compare_timings(name, lambda: ours.fit_resample(X, y), lambda: anchor.fit_resample(X, y),
                                "imblearn.over_sampling.SMOTE", repeats)
    if memory:
        row["diversa_peak_mb"] = peak_traced_mb(ours, X, y)
        row["anchor_peak_mb"] = peak_traced_mb(anchor, X, y)
    return row


def run(quick: bool = False) -> list[dict]:
    """Time diversa's SMOTE against imbalanced-learn's on 20-feature data.

    Full: 100k x 20 (median of 5 runs, paper mode and imbalanced-learn's mode)
    and 1M x 20 (median of 3 runs, paper mode). Quick: 20k x 20 only.
    Rows carry ``name``, ``diversa_s``, ``anchor``, ``anchor_s``, ``ratio``
    (diversa / anchor) and the peak traced memory of each side in MiB.
    """
    sizes = [(20_000, 3, True)] if quick else [(100_000, 5, True), (1_000_000, 3, False)]
    rows = []
    for n_samples, repeats, with_strategy_mode in sizes:
        X, y = make_data(n_samples)
        n_minority = int((y == 1).sum())
        target = {1: n_minority + 2 * n_minority}
        label = f"{n_samples // 1000}k x 20" if n_samples < 1_000_000 else f"{n_samples // 1_000_000}M x 20"
        anchor = ImblearnSMOTE(sampling_strategy=target, k_neighbors=5, random_state=0)
        rows.append(compare(
            f"smote percentage=200 ({label})",
            SMOTE(percentage=200, k_neighbors=5, random_state=0), anchor, X, y, repeats,
        ))
        if with_strategy_mode:
            rows.append(compare(
                f"smote sampling_strategy ({label})",
                SMOTE(sampling_strategy=target, k_neighbors=5, random_state=0), anchor, X, y, repeats,
            ))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k x 20 only")
    args = parser.parse_args(argv)
    print(f"{'name':40s} {'diversa_s':>10s} {'anchor_s':>10s} {'ratio':>6s} {'div MiB':>8s} {'anc MiB':>8s}")
    for row in run(quick=args.quick):
        print(f"{row['name']:40s} {row['diversa_s']:10.3f} {row['anchor_s']:10.3f} {row['ratio']:6.2f} "
              f"{row['diversa_peak_mb']:8.1f} {row['anchor_peak_mb']:8.1f}")


if __name__ == "__main__":
    main()
