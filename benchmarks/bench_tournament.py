"""Swiss-system CSD tournaments: diversa's vectorised simulation vs a per-tournament Python loop.

Liu et al., "LLM Swiss Round" (arXiv:2512.21010) average 100,000 simulated
Swiss tournaments. The anchor is the straightforward implementation kept in
this file: one tournament at a time, sort the active models by score with a
random tie-break, pair them, play, eliminate (``random.Random``). It is timed
on fewer tournaments and scaled linearly to 100,000 (the work per tournament
is constant); the row name says how many. Both sides use the same rules, so
their Expected Win Scores must agree within Monte Carlo error (``agree``:
every model within 4 combined standard errors).

Everything runs at ``n_jobs=1``. Usage: ``python benchmarks/bench_tournament.py
[--quick]`` or ``python -m benchmarks tournament``.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

import numpy as np

from diversa.evaluate.tournament import SwissCSD, win_tensor

ANCHOR = "Python loop"
N_MODELS, N_BENCHMARKS = 20, 10


def loop_tournament(wins, rng: random.Random, pairing: str, elimination: int) -> list[int]:
    """One Swiss tournament on nested lists ``wins[a][b][k]`` (no ties): final scores of the M models."""
    n_models, n_rounds = len(wins), len(wins[0][0])
    score = [0] * n_models
    active = list(range(n_models))
    for k in range(n_rounds):
        order = sorted(active, key=lambda m: (-score[m], rng.random()))
        i = 0
        while i < len(order) - 1:
            a, b = order[i], order[i + 1]
            if pairing == "float" or score[a] == score[b]:
                score[a if wins[a][b][k] else b] += 1
                i += 2
            else:
                i += 1  # a bye for the odd one out of its score group
        if elimination and k < n_rounds - 1:
            lowest = sorted(active, key=lambda m: (score[m], rng.random()))
            out = set(lowest[:max(0, min(elimination, len(active) - 2))])
            active = [m for m in active if m not in out]
    return score


def loop_expected(wins: np.ndarray, n_sims: int, pairing: str, elimination: int, seed: int = 0):
    """E[S] (M,) and its Monte Carlo SE from ``n_sims`` loop tournaments."""
    rng = random.Random(seed)
    nested = wins.astype(bool).tolist()  # plain lists: fast scalar indexing in the loop
    finals = np.array([loop_tournament(nested, rng, pairing, elimination) for _ in range(n_sims)])
    return finals.mean(axis=0), finals.std(axis=0, ddof=1) / np.sqrt(n_sims)


def timed(function):
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def compare(pairing: str, elimination: int, n_sims: int, n_loop: int, repeats: int) -> dict:
    """Median time of the vectorised run vs the loop's time scaled from ``n_loop`` tournaments."""
    scores = np.random.default_rng(0).random((N_MODELS, N_BENCHMARKS))
    wins = win_tensor(scores)
    ours_times, ours = [], None
    for repeat in range(repeats):
        model = SwissCSD(n_sims=n_sims, pairing=pairing, elimination=elimination, n_jobs=1, random_state=repeat)
        seconds, ours = timed(lambda model=model: model.fit(scores))
        ours_times.append(seconds)
    loop_seconds, (expected, se) = timed(lambda: loop_expected(wins, n_loop, pairing, elimination))
    scale = n_sims / n_loop
    agree = np.all(np.abs(ours.expected_win_score_ - expected) <= 4 * np.sqrt(ours.mc_se_**2 + se**2) + 1e-9)
    row = {
        "name": f"CSD {n_sims:,} tournaments, {N_MODELS} x {N_BENCHMARKS}, {pairing}, T={elimination} "
                f"(loop timed on {n_loop:,}, x{scale:g})",
        "diversa_s": statistics.median(ours_times),
        "anchor": ANCHOR,
        "anchor_s": loop_seconds * scale,
        "agree": bool(agree),
    }
    row["ratio"] = row["diversa_s"] / row["anchor_s"]
    return row


def run(quick: bool = False) -> list[dict]:
    """Rows {name, diversa_s, anchor, anchor_s, ratio, agree}: 100,000 tournaments (20,000 when quick)."""
    n_sims, n_loop, repeats = (20_000, 500, 1) if quick else (100_000, 2_000, 3)
    return [compare("within_group", 0, n_sims, n_loop, repeats),
            compare("float", 1, n_sims, n_loop, repeats)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 tournaments, loop on 500")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        print(f"{row['name']}: diversa {row['diversa_s']:.3f} s, {row['anchor']} {row['anchor_s']:.1f} s, "
              f"ratio {row['ratio']:.4f}, agree {row['agree']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
