"""k-center greedy: the pruned exact traversal vs the plain loop, and what the clustered mode costs in radius.

``diversa`` is :class:`diversa.data.select.KCenterGreedySelector` with
``mode="exact"`` (numpy distances), the anchor the plain O(n * budget * d)
farthest-first loop it replaces; both pick the same rows (checked here). The
row also reports ``mode="clustered"`` (k-means on sqrt(n) clusters, then the
traversal within each cluster): its time and its coverage radius (largest
distance of any row to the selection) against the exact one. Data: float32
Gaussian blobs around 200 centres in 32 dimensions.

Measured once (one thread on 2 cores shared with other work, so noisy), same
picks on both sides every time:

* 10k rows, budget 200 (quick): exact 0.20 to 0.34 s, plain loop 0.35 to 0.53 s;
  clustered 1.0 s, coverage radius 21.13 against 12.18 exact (1.73x: with about
  one pick per blob, a whole cluster's share goes to one representative);
* 50k rows, budget 1,000: exact 2.0 s, plain loop 14.0 s (ratio 0.14);
  clustered 9.1 s, radius 8.95 against 9.41 exact (0.95x);
* 200k rows, budget 2,000 (not run by default): exact 5.0 s, clustered (faiss)
  8.5 s, radius 8.88 against 9.33 exact (0.95x).

On such well-separated blobs the pruning spares most distance updates, so the
exact mode is the faster one; the clustered mode pays off where it cannot prune:
on 100k x 384 unit-norm blobs (2,000 centres, noise 0.04, the rows of
``bench_kmq_corpus``) with a budget of 1,000, exact 93.9 s against clustered
(faiss) 23.4 s, radius 1.319 against 1.330 (1.01x).

Usage: ``python benchmarks/bench_kcenter.py [--quick]`` or ``python -m benchmarks kcenter``.
"""

from __future__ import annotations

import argparse

import numpy as np

from diversa.data.select import KCenterGreedySelector, coverage_radius

try:
    from benchmarks.timing import compare_timings, timed
except ModuleNotFoundError:  # run as a script: python benchmarks/bench_kcenter.py
    from timing import compare_timings, timed

DIM = 32


def make_blobs(n_rows: int, n_centres: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_centres, DIM)).astype(np.float32)
    return centres[rng.integers(0, n_centres, n_rows)] + rng.normal(size=(n_rows, DIM)).astype(np.float32)


def plain_k_center(X, budget, seed):
    """The farthest-first loop without pruning: every row measured against every new centre."""
    first = int(np.random.RandomState(seed).randint(X.shape[0]))
    chosen = [first]
    dist = np.linalg.norm(X - X[first], axis=1)
    dist[first] = -1.0
    for _ in range(budget - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(X - X[nxt], axis=1))
        dist[chosen] = -1.0
    return np.array(chosen)


def run(quick: bool = False) -> list[dict]:
    """Exact vs plain loop (quick: 10k rows, budget 200; else 50k rows, budget 1,000)."""
    n_rows, budget = (10_000, 200) if quick else (50_000, 1_000)
    X = make_blobs(n_rows)
    row, ours, anchor = compare_timings(
        f"k-center greedy exact {n_rows // 1000}k x {DIM}, b={budget}",
        lambda: KCenterGreedySelector(backend="sklearn", random_state=0).fit_select(X, budget),
        lambda: plain_k_center(X, budget, 0), "plain farthest-first loop", repeats=1)
    if not np.array_equal(ours, anchor):
        raise AssertionError("the exact mode and the plain loop picked different rows")
    clustered_s, clustered = timed(
        lambda: KCenterGreedySelector("clustered", backend="sklearn", random_state=0).fit_select(X, budget))
    row["radius_exact"] = coverage_radius(X, ours)
    row["radius_clustered"] = coverage_radius(X, clustered)
    row["clustered_s"] = clustered_s
    return [row]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k rows and budget 200")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        print(f"{row['name']}: exact {row['diversa_s']:.2f} s, plain loop {row['anchor_s']:.2f} s "
              f"(ratio {row['ratio']:.2f}); clustered {row['clustered_s']:.2f} s; coverage radius "
              f"exact {row['radius_exact']:.3f}, clustered {row['radius_clustered']:.3f} "
              f"({row['radius_clustered'] / row['radius_exact']:.2f}x)")


if __name__ == "__main__":
    main()
