"""``diversa tournament``: rank models by a Monte Carlo Swiss tournament over benchmarks.

Competitive Swiss-System Dynamics (Liu et al., "LLM Swiss Round", arXiv:2512.21010):
the Expected Win Scores with their Monte Carlo standard errors, the failure-
sensitivity profile (robust generalists vs aggressive specialists) and the
static rankings (mean score, mean rank, Bradley-Terry, Elo) side by side.
"""

from __future__ import annotations

import sys

from diversa.cli.errors import UserError


def add_parser(commands) -> None:
    p = commands.add_parser(
        "tournament", help="rank models by a Monte Carlo Swiss tournament over benchmarks (CSD)",
        description="Rank models with Competitive Swiss-System Dynamics (arXiv:2512.21010). SCORES is a "
                    "table (CSV, JSONL or Parquet): one row per model, the first column the model names, "
                    "then one column of scores (higher is better) per benchmark, in the order the rounds "
                    "are played (foundational first).")
    p.add_argument("scores", metavar="SCORES", help="score table: model names, then one column per benchmark")
    p.add_argument("--sims", type=int, default=100_000, help="simulated tournaments (default 100000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers over chunks of simulations")
    p.add_argument("--pairing", default="within_group", choices=["within_group", "float"],
                   help="within_group: odd groups give a bye (default); float: classic Swiss")
    p.add_argument("--tie", default="coin", choices=["coin", "half", "none"], help="how a tied match is settled")
    p.add_argument("--elimination", type=int, default=0, metavar="T",
                   help="models eliminated after each round in the main ranking (default 0)")
    p.add_argument("--schedules", default="0,1,2", metavar="T,T,...",
                   help="elimination counts of the failure-sensitivity analysis (default 0,1,2)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write tournament.json and a rank-probability heat map there")
    p.set_defaults(handler=run)


def read_scores(path) -> tuple:
    """(scores (M, K) float array, model names, benchmark names) from a score table, or a ValueError."""
    import numpy as np
    import pandas as pd

    from diversa.datasets.files import read_table

    table = read_table(path, argument="SCORES")
    if table.shape[1] < 2:
        raise ValueError(f"SCORES {str(path)!r} needs a model-name column and at least one benchmark column.")
    models = [str(name).strip() for name in table.iloc[:, 0]]
    duplicated = sorted({name for name in models if models.count(name) > 1})
    if duplicated:
        raise ValueError(f"SCORES {str(path)!r}: duplicated model names: {', '.join(duplicated)}.")
    if len(models) < 2:
        raise ValueError(f"SCORES {str(path)!r} has {len(models)} model; a tournament needs at least 2.")
    benchmarks = [str(name) for name in table.columns[1:]]
    values = table.iloc[:, 1:]
    numeric = values.apply(pd.to_numeric, errors="coerce")
    not_numbers = numeric.isna().to_numpy() & values.notna().to_numpy()
    if not_numbers.any():
        i, k = np.argwhere(not_numbers)[0]
        raise ValueError(f"SCORES {str(path)!r}: score of model {models[i]!r} on benchmark {benchmarks[k]!r} "
                         f"is not a number: {values.iat[i, k]!r}.")
    return numeric.to_numpy(dtype=float), models, benchmarks


def _schedules(text: str) -> tuple[int, ...]:
    try:
        schedules = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"--schedules must be comma-separated integers, got {text!r}") from None
    if not schedules or min(schedules) < 0:
        raise UserError(f"--schedules must be non-negative integers, got {text!r}")
    return schedules


def _check_args(args) -> tuple[int, ...]:
    if args.sims < 1:
        raise UserError(f"--sims must be >= 1, got {args.sims}")
    if args.elimination < 0:
        raise UserError(f"--elimination must be >= 0, got {args.elimination}")
    if args.jobs == 0:
        raise UserError("--jobs must not be 0")
    return _schedules(args.schedules)


def run(args) -> int:
    from rich.console import Console

    from diversa.evaluate.static_rankings import static_rankings
    from diversa.evaluate.tournament import SwissCSD, failure_sensitivity

    schedules = _check_args(args)
    scores, models, benchmarks = read_scores(args.scores)
    options = {"n_sims": args.sims, "pairing": args.pairing, "tie": args.tie, "n_jobs": args.jobs,
               "random_state": args.seed}
    console = Console(width=None if sys.stdout.isatty() else 120)
    with console.status("simulating tournaments..."):
        csd = SwissCSD(elimination=args.elimination, **options).fit(
            scores, model_names=models, benchmark_names=benchmarks)
        sensitivity = failure_sensitivity(scores, schedules=schedules, model_names=models, **options)
        static = static_rankings(scores, random_state=args.seed)
    console.print(f"{len(models)} models x {len(benchmarks)} benchmarks, rounds in column order: "
                  f"{' > '.join(benchmarks)}")
    console.print(f"{args.sims} simulated tournaments, pairing {args.pairing}, ties {args.tie}, "
                  f"elimination T={args.elimination}, seed {args.seed}")
    _print_ranking(console, csd)
    _print_sensitivity(console, sensitivity)
    _print_static(console, csd, static)
    if args.out:
        _write_outputs(args, csd, sensitivity, static)
        console.print(f"wrote {args.out}/tournament.json and {args.out}/rank_probabilities.png")
    return 0


def _print_ranking(console, csd) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="CSD ranking by Expected Win Score")
    for column in ("rank", "model", "E[S]", "MC SE", "P(rank 1)", "E[rank]"):
        table.add_column(escape(column), justify="left" if column == "model" else "right")
    for position, m in enumerate(csd.ranking_, start=1):
        table.add_row(str(position), escape(csd.model_names_[m]), f"{csd.expected_win_score_[m]:.3f}",
                      f"{csd.mc_se_[m]:.4f}", f"{csd.win_prob_[m]:.3f}", f"{csd.expected_rank_[m]:.2f}")
    console.print(table)


def _print_sensitivity(console, sensitivity) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Failure sensitivity: E[S] when T models are eliminated after each round")
    table.add_column("model")
    for i, t in enumerate(sensitivity.schedules):
        table.add_column(f"E (T={t})", justify="right")
        if i != sensitivity.reference:
            table.add_column(f"retention T={t}", justify="right")
    table.add_column("profile")
    labels = sensitivity.labels()
    for m in sensitivity.expected[sensitivity.reference].argsort(kind="stable")[::-1]:
        row = [escape(sensitivity.model_names[m])]
        for i in range(len(sensitivity.schedules)):
            row.append(f"{sensitivity.expected[i, m]:.3f}")
            if i != sensitivity.reference:
                row.append(f"{sensitivity.retention[i, m]:.2f}")
        table.add_row(*row, labels[m])
    console.print(table)
    console.print(f"profile: E at T={sensitivity.schedules[sensitivity.reference]} and retention at "
                  f"T={sensitivity.schedules[sensitivity.profile_schedule]}, split at their medians.")


def _print_static(console, csd, static) -> None:
    from rich.markup import escape
    from rich.table import Table
    from scipy import stats

    from diversa.evaluate.tournament import ranks_of

    ranks = {"CSD": ranks_of(csd.expected_win_score_), **static.ranks()}
    values = {"CSD": csd.expected_win_score_, **static._asdict()}
    table = Table(title="Rankings side by side (value, rank)")
    table.add_column("model")
    for name in ranks:
        table.add_column(name.replace("_", " "), justify="right")
    for m in csd.ranking_:
        table.add_row(escape(csd.model_names_[m]), *(f"{values[n][m]:.3f} ({ranks[n][m]:g})" for n in ranks))
    console.print(table)
    taus = ", ".join(f"{n.replace('_', ' ')} {stats.kendalltau(ranks['CSD'], ranks[n])[0]:.3f}"
                     for n in ranks if n != "CSD")
    console.print(f"Kendall tau with the CSD ranking: {taus}")


def _jsonable(array):
    import numpy as np

    return [None if isinstance(v, float) and not np.isfinite(v) else v for v in np.asarray(array).tolist()] \
        if np.ndim(array) == 1 else [_jsonable(row) for row in array]


def _write_outputs(args, csd, sensitivity, static) -> None:
    import json
    from pathlib import Path

    from diversa.datasets.files import atomic_write_text

    out = Path(args.out)
    payload = {
        "method": "Competitive Swiss-System Dynamics (arXiv:2512.21010)",
        "models": csd.model_names_, "benchmark_order": csd.benchmark_names_,
        "settings": {"n_sims": args.sims, "seed": args.seed, "pairing": args.pairing, "tie": args.tie,
                     "elimination": args.elimination},
        "csd": {"expected_win_score": _jsonable(csd.expected_win_score_), "mc_se": _jsonable(csd.mc_se_),
                "score_std": _jsonable(csd.score_std_), "win_prob": _jsonable(csd.win_prob_),
                "expected_rank": _jsonable(csd.expected_rank_), "rank_probs": _jsonable(csd.rank_probs_),
                "ranking": [csd.model_names_[m] for m in csd.ranking_],
                "mean_matches": csd.mean_matches_},
        "failure_sensitivity": {"schedules": list(sensitivity.schedules),
                                "expected": _jsonable(sensitivity.expected), "mc_se": _jsonable(sensitivity.mc_se),
                                "retention": _jsonable(sensitivity.retention), "drop": _jsonable(sensitivity.drop),
                                "rank": _jsonable(sensitivity.rank), "labels": sensitivity.labels()},
        "static": {name: _jsonable(value) for name, value in static._asdict().items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    plot_rank_probabilities(csd, out / "rank_probabilities.png")
    atomic_write_text(out / "tournament.json", json.dumps(payload, indent=2))


def plot_rank_probabilities(csd, path) -> None:
    """Heat map of P(model finishes at rank r), models ordered by Expected Win Score."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = csd.ranking_
    probs = csd.rank_probs_[order]
    m = len(order)
    fig, ax = plt.subplots(figsize=(1.2 + 0.38 * m, 1.0 + 0.32 * m))
    image = ax.imshow(probs, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(m), [str(r) for r in range(1, m + 1)], fontsize=7)
    ax.set_yticks(range(m), [f"{csd.model_names_[i]} ({csd.expected_win_score_[i]:.2f})" for i in order], fontsize=7)
    ax.set_xlabel("final rank", fontsize=8)
    if m <= 15:
        for i in range(m):
            for r in range(m):
                if probs[i, r] >= 0.005:
                    ax.text(r, i, f"{probs[i, r]:.2f}", ha="center", va="center", fontsize=6,
                            color="black" if probs[i, r] > 0.6 else "white")
    fig.colorbar(image, ax=ax, fraction=0.04, label="probability")
    ax.set_title("CSD rank probabilities (model, E[S])", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
