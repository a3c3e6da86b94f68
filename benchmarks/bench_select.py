"""kMQ selection at scale: wall time and peak traced memory at 100k and 1M rows of 384-d embeddings.

The anchor is the clustering step alone (scikit-learn ``KMeans`` up to 200k
rows, ``MiniBatchKMeans`` above, with the same settings kMQ uses), so the ratio
shows what kMQ's allocation and within-cluster choice cost on top of k-means,
the part no selector can avoid. Embeddings are float32 Gaussian blobs around
100 centres with a random quality score; 10% of the rows are selected.

Usage: ``python benchmarks/bench_select.py [--quick]`` or ``python -m benchmarks select``.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc

import numpy as np

from diversa.data.select import KMQSelector
from diversa.data.select.kmq import cluster_embeddings

try:
    from benchmarks.timing import compare_timings
except ModuleNotFoundError:  # run as a script: python benchmarks/bench_select.py
    from timing import compare_timings

N_CLUSTERS = 100
DIM = 384


def make_embeddings(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm float32 embeddings around ``N_CLUSTERS`` centres, and a quality score per row."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLUSTERS, DIM)).astype(np.float32)
    X = centres[rng.integers(0, N_CLUSTERS, n_rows)]
    X += rng.normal(scale=0.8, size=X.shape).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, rng.random(n_rows).astype(np.float32)


def peak_traced_mb(function) -> float:
    """Peak memory numpy and Python allocate during one call, in MiB."""
    gc.collect()
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run(quick: bool = False) -> list[dict]:
    """kMQ (k=100, 10% budget) vs k-means alone at 100k and 1M rows (quick: 20k), one run each."""
    rows = []
    for n_rows in [20_000] if quick else [100_000, 1_000_000]:
        X, quality = make_embeddings(n_rows)
        select = lambda: KMQSelector(N_CLUSTERS, kmeans_n_init=1, random_state=0).fit(  # noqa: E731
            X, quality=quality).select(n_rows // 10)
        cluster = lambda: cluster_embeddings(X, N_CLUSTERS, n_init=1, random_state=0)  # noqa: E731
        label = f"{n_rows // 1000}k" if n_rows < 1_000_000 else f"{n_rows // 1_000_000}M"
        row, _, _ = compare_timings(f"kMQ select 10% of {label} x {DIM}, k={N_CLUSTERS}", select, cluster,
                                    "k-means alone", repeats=1)
        row["diversa_peak_mb"] = peak_traced_mb(select)
        row["anchor_peak_mb"] = peak_traced_mb(cluster)
        row["input_mb"] = X.nbytes / 2**20
        rows.append(row)
        del X, quality
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k rows only")
    args = parser.parse_args(argv)
    print(f"{'name':45s} {'kmq_s':>8s} {'kmeans_s':>9s} {'ratio':>6s} {'kmq MiB':>8s} {'km MiB':>8s} {'input MiB':>9s}")
    for row in run(quick=args.quick):
        print(f"{row['name']:45s} {row['diversa_s']:8.2f} {row['anchor_s']:9.2f} {row['ratio']:6.2f} "
              f"{row['diversa_peak_mb']:8.0f} {row['anchor_peak_mb']:8.0f} {row['input_mb']:9.0f}")


if __name__ == "__main__":
    main()
