"""Corpus-scale k-means: faiss vs scikit-learn backends of the sampled fit, at 200k x 64 with k = 2,000.

Both sides run :class:`diversa.data.select.SampledKMeans` with the same seeded
sample (at most 256 rows per centroid, so all 200k rows here), k-means++
seeding, one restart and 25 Lloyd iterations (faiss's default), then label every
row by its nearest centroid in batches. ``diversa`` is the faiss backend, the
anchor the scikit-learn backend (``KMeans`` plus a blocked numpy search, the
fallback when faiss is absent). The rows also report each side's inertia (sum
of squared distances to the assigned centroid) over all rows, so a speed-up is
not bought with a worse clustering. Data: float32 Gaussian blobs around 500
centres, unit-normalised like sentence embeddings.

Measured once (faiss-cpu 1.15.1, scikit-learn, 2 cores shared with other work,
so noisy): faiss 149.9 s, scikit-learn 904.4 s (ratio 0.17), inertia 51,289 vs
51,179 (within 0.3%). Quick mode (20k x 64, k = 200): faiss 2.3 s vs 1.3 s,
faiss's thread start-up dominates at that size.

Usage: ``python benchmarks/bench_kmeans_scale.py [--quick]`` or ``python -m benchmarks kmeans_scale``.
"""

from __future__ import annotations

import argparse

import numpy as np

from diversa.data.select import SampledKMeans
from diversa.data.select.clustering import faiss_available

try:
    from benchmarks.timing import compare_timings
except ModuleNotFoundError:  # run as a script: python benchmarks/bench_kmeans_scale.py
    from timing import compare_timings

DIM = 64


def make_embeddings(n_rows: int, n_centres: int = 500, seed: int = 0) -> np.ndarray:
    """Unit-norm float32 rows around ``n_centres`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_centres, DIM)).astype(np.float32)
    X = centres[rng.integers(0, n_centres, n_rows)]
    X += rng.normal(scale=0.6, size=X.shape).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def _fit_assign(X, k, backend):
    km = SampledKMeans(k, n_init=1, max_iter=25, backend=backend, random_state=0).fit(X)
    labels, dist = km.predict(X, return_distance=True)
    return labels, float(np.sum(dist.astype(np.float64) ** 2))


def run(quick: bool = False) -> list[dict]:
    """One timed run of each backend (quick: 20k x 64, k = 200)."""
    if not faiss_available():
        print("bench_kmeans_scale: faiss is not installed (pip install 'diversa[scale]'); skipped")
        return []
    n_rows, k = (20_000, 200) if quick else (200_000, 2_000)
    X = make_embeddings(n_rows)
    name = f"k-means fit+assign {n_rows // 1000}k x {DIM}, k={k}"
    row, (_, faiss_inertia), (_, sk_inertia) = compare_timings(
        name, lambda: _fit_assign(X, k, "faiss"), lambda: _fit_assign(X, k, "sklearn"),
        "scikit-learn KMeans", repeats=1)
    row["diversa_inertia"] = faiss_inertia
    row["anchor_inertia"] = sk_inertia
    return [row]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k rows and k = 200")
    args = parser.parse_args(argv)
    print(f"{'name':42s} {'faiss_s':>8s} {'sklearn_s':>9s} {'ratio':>6s} {'faiss inertia':>14s} {'sk inertia':>11s}")
    for row in run(quick=args.quick):
        print(f"{row['name']:42s} {row['diversa_s']:8.2f} {row['anchor_s']:9.2f} {row['ratio']:6.2f} "
              f"{row['diversa_inertia']:14.1f} {row['anchor_inertia']:11.1f}")


if __name__ == "__main__":
    main()
