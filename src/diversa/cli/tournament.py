"""``diversa tournament``: rank models by a Monte Carlo Swiss tournament over benchmarks.

Competitive Swiss-System Dynamics (Liu et al., "LLM Swiss Round", arXiv:2512.21010):
the Expected Win Scores with their Monte Carlo standard errors, the failure-
sensitivity profile (robust generalists vs aggressive specialists) and the
static rankings (mean score, mean rank, Bradley-Terry, Elo) side by side.
"""

from __future__ import annotations

import sys

from diversa.cli.backend import add_backend_options, check_backend, parallel_backend
from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_folder, json_text

#: Files ``--out`` receives.
OUT_FILES = ("tournament.json", "rank_probabilities.png")
#: Models that stay in play however many are eliminated (SwissCSD's ``min_active``).
MIN_ACTIVE = 2
#: Elimination counts of the failure-sensitivity analysis unless --schedules names others.
DEFAULT_SCHEDULES = (0, 1, 2)


def add_parser(commands) -> None:
    p = commands.add_parser(
        "tournament", help="rank models by a Monte Carlo Swiss tournament over benchmarks (CSD)",
        description="Rank models with Competitive Swiss-System Dynamics (arXiv:2512.21010). SCORES is a "
                    "table (CSV, JSONL or Parquet): one row per model, the first column the model names, "
                    "then one column of scores (higher is better) per benchmark, in the order the rounds "
                    "are played (foundational first).")
    p.add_argument("scores", metavar="SCORES",
                   help="score table: model names, then one column per benchmark ('-' for standard input)")
    p.add_argument("--sims", type=int, default=100_000, help="simulated tournaments")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers over chunks of simulations")
    add_backend_options(p)
    p.add_argument("--pairing", default="within_group", choices=["within_group", "float"],
                   help="within_group: odd groups give a bye (default); float: classic Swiss")
    p.add_argument("--tie", default="coin", choices=["coin", "half", "none"], help="how a tied match is settled")
    p.add_argument("--elimination", type=int, default=0, metavar="T",
                   help="models eliminated after each round in the main ranking (at most the number of models - 2)")
    p.add_argument("--schedules", default=None, metavar="T,T,...",
                   help="elimination counts of the failure-sensitivity analysis (default: 0,1,2, without the "
                        "counts above the number of models - 2)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write tournament.json and a rank-probability heat map there")
    add_overwrite(p)
    p.set_defaults(handler=run)


def read_scores(path) -> tuple:
    """(scores (M, K) float array, model names, benchmark names) from a score table, or a ValueError.

    Model names are the first column's values as written ("NA", "null" and
    "007" are names like any other); an empty or missing name is an error, and
    so is a score that is missing, not a number, or not finite.
    """
    import numpy as np
    import pandas as pd

    from diversa.datasets.files import csv_cell, describe, read_table

    where = describe(path, "SCORES")
    table = read_table(path, argument="SCORES")
    if table.shape[1] < 2:
        raise ValueError(f"{where} needs a model-name column and at least one benchmark column.")
    models = []
    for row, name in enumerate(table.iloc[:, 0].tolist(), start=1):
        text = csv_cell(name).strip()  # the name as written: "NaN" and "007" are names too
        if not text:
            raise ValueError(f"{where}: the model in row {row} has no name.")
        models.append(text)
    duplicated = sorted({name for name in models if models.count(name) > 1})
    if duplicated:
        raise ValueError(f"{where}: duplicated model names: {', '.join(map(repr, duplicated))}.")
    if len(models) < 2:
        raise ValueError(f"{where} has {len(models)} model; a tournament needs at least 2.")
    benchmarks = [str(name) for name in table.columns[1:]]
    scores = np.full((len(models), len(benchmarks)), np.nan)
    for k, name in enumerate(table.columns[1:]):
        for i, value in enumerate(table[name].tolist()):
            cell = f"score of model {models[i]!r} on benchmark {benchmarks[k]!r}"
            if value is None or value is pd.NA:
                raise ValueError(f"{where}: the {cell} is missing; CSD needs every model scored on every benchmark.")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}: the {cell} is not a number: {value!r}.")
            try:
                scores[i, k] = float(value)
            except OverflowError:
                raise ValueError(f"{where}: the {cell} is too large for a float.") from None
            if not np.isfinite(scores[i, k]):
                raise ValueError(f"{where}: the {cell} is {scores[i, k]}, not a finite number.")
    return scores, models, benchmarks


def _schedules(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
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
    check_backend(args)
    return _schedules(args.schedules)


def check_elimination(args, schedules, n_models: int) -> None:
    """Refuse elimination counts that could not happen even once: at most ``n_models - 2`` models
    can be eliminated after a round, since two always stay in play."""
    most = n_models - MIN_ACTIVE
    for option, t in [("--elimination", args.elimination)] + [("--schedules", t) for t in schedules]:
        if t > most:
            raise UserError(f"{option} {t}: with {n_models} models at most {most} can be eliminated after a "
                            f"round ({MIN_ACTIVE} always stay in play)")


def run(args) -> int:
    from rich.console import Console

    from diversa.evaluate.static_rankings import static_rankings
    from diversa.evaluate.tournament import SwissCSD, failure_sensitivity

    schedules = _check_args(args)
    inputs = [("SCORES", args.scores)]
    check_inputs(inputs)
    if args.out is not None:
        check_output_folder(args.out, argument="--out", files=OUT_FILES, inputs=inputs, overwrite=args.overwrite)
    scores, models, benchmarks = read_scores(args.scores)
    if schedules is None:
        schedules = tuple(t for t in DEFAULT_SCHEDULES if t <= len(models) - MIN_ACTIVE)
    check_elimination(args, schedules, len(models))
    options = {"n_sims": args.sims, "pairing": args.pairing, "tie": args.tie, "n_jobs": args.jobs,
               "random_state": args.seed, "min_active": MIN_ACTIVE}
    console = Console(width=None if sys.stdout.isatty() else 120)
    with Console(stderr=True).status("simulating tournaments..."), parallel_backend(args):
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

    table = Table(title="CSD ranking by Expected Win Score (a tie for a rank splits its probability equally)")
    for column in ("rank", "model", "E[S]", "MC SE", "P(rank 1, ties split)", "E[rank]"):
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


def _write_outputs(args, csd, sensitivity, static) -> None:
    from pathlib import Path

    from diversa.datasets.files import StagedWrites

    out = Path(args.out)
    payload = {
        "method": "Competitive Swiss-System Dynamics (arXiv:2512.21010)",
        "models": csd.model_names_, "benchmark_order": csd.benchmark_names_,
        "settings": {"n_sims": args.sims, "seed": args.seed, "pairing": args.pairing, "tie": args.tie,
                     "elimination": args.elimination},
        "csd": {"expected_win_score": csd.expected_win_score_, "mc_se": csd.mc_se_,
                "score_std": csd.score_std_, "win_prob": csd.win_prob_,
                "expected_rank": csd.expected_rank_, "rank_probs": csd.rank_probs_,
                "rank_probs_ties": "a tie for a rank splits its probability equally among the tied models",
                "ranking": [csd.model_names_[m] for m in csd.ranking_],
                "mean_matches": csd.mean_matches_},
        "failure_sensitivity": {"schedules": list(sensitivity.schedules),
                                "expected": sensitivity.expected, "mc_se": sensitivity.mc_se,
                                "retention": sensitivity.retention, "drop": sensitivity.drop,
                                "rank": sensitivity.rank, "labels": sensitivity.labels()},
        "static": static._asdict(),
    }
    writes = StagedWrites()
    writes.add(out / "rank_probabilities.png", rank_probabilities_png(csd), argument="--out")
    writes.add(out / "tournament.json", json_text(payload), argument="--out")
    writes.commit()


def rank_probabilities_png(csd) -> bytes:
    """PNG heat map of P(model finishes at rank r), models ordered by Expected Win Score."""
    import io

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
    ax.set_title("CSD rank probabilities (model, E[S]); ties split equally", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
