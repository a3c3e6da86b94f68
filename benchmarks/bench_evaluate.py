""".632+ bootstrap and 5x2cv tests: diversa.evaluate vs mlxtend 0.25 in one process.

Both sides get the same data (scikit-learn's breast_cancer, 569 x 30), the
same estimator and the same seed, so they fit the same models and return the
same numbers (checked on every run: ``equal``). Everything runs at
``n_jobs=1``: parallelism is not allowed to count.

What dominates. In mlxtend's .632+ each round builds all n^2 = 323,761
(label, prediction) pairs in Python to get the no-information rate, and
predicts all rows twice; that costs ~0.1 s per round, far more than fitting a
decision tree (~5 ms). diversa computes the no-information error from class
counts (sum_k p_k (1 - q_k)) and predicts all rows once per round, so what is
left is the fit itself: ``fit_only_s`` is the time of just cloning and
fitting the same B models, the floor any implementation pays. The 5x2cv tests
are 20 fits on both sides; the ratio there shows only the overhead of
cloning and scoring.

Runs are interleaved (diversa, anchor, anchor, diversa, ...) so that slow
drifts of the machine hit both equally; the reported time is the median.

Usage: ``python benchmarks/bench_evaluate.py [--quick]`` or ``python -m benchmarks evaluate``.
"""

from __future__ import annotations

import argparse

import numpy as np
from mlxtend import __version__ as mlxtend_version
from mlxtend import evaluate as mlxtend_evaluate
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from diversa.evaluate.bootstrap import BootstrapOutOfBag, bootstrap_point632_score
from diversa.evaluate.cv_tests import combined_ftest_5x2cv, paired_ttest_5x2cv

try:
    from benchmarks.timing import compare_timings, timed
except ModuleNotFoundError:  # run as a script: python benchmarks/bench_evaluate.py
    from timing import compare_timings, timed

ANCHOR = f"mlxtend {mlxtend_version}"


def compare(name: str, ours, anchor, repeats: int) -> dict:
    """Median time of ``repeats`` interleaved calls of each side; checks both give the same numbers."""
    row, ours_result, anchor_result = compare_timings(name, ours, anchor, ANCHOR, repeats)
    row["equal"] = bool(np.allclose(np.asarray(tuple(ours_result), dtype=float),
                                    np.asarray(tuple(anchor_result), dtype=float), rtol=0, atol=1e-10))
    return row


def fit_only_seconds(estimator, X, y, n_splits: int, seed: int) -> float:
    """Time of just fitting the B bootstrap models, the floor of any .632+ implementation."""
    rounds = list(BootstrapOutOfBag(n_splits, seed).split(X))
    seconds, _ = timed(lambda: [clone(estimator).fit(X[train], y[train]) for train, _ in rounds])
    return seconds


def bootstrap_row(label: str, estimator, X, y, n_splits: int, repeats: int) -> dict:
    row = compare(
        f".632+ bootstrap {label}, breast_cancer, B={n_splits}",
        lambda: bootstrap_point632_score(estimator, X, y, n_splits=n_splits, method=".632+", random_state=0),
        lambda: mlxtend_evaluate.bootstrap_point632_score(estimator, X, y, n_splits=n_splits, method=".632+",
                                                          random_seed=0),
        repeats,
    )
    row["fit_only_s"] = fit_only_seconds(estimator, X, y, n_splits, seed=0)
    return row


def run(quick: bool = False) -> list[dict]:
    """Time diversa's .632+ bootstrap and 5x2cv tests against mlxtend's, single-process.

    Full: B = 200 bootstrap rounds, median of 3 runs; quick: B = 20. Rows
    carry ``name``, ``diversa_s``, ``anchor``, ``anchor_s``, ``ratio``
    (diversa / anchor), ``equal`` (same numbers to 1e-10) and, for the
    bootstrap, ``fit_only_s`` (time of the fits alone).
    """
    X, y = load_breast_cancer(return_X_y=True)
    n_splits, repeats = (20, 3) if quick else (200, 3)
    tree, bayes = DecisionTreeClassifier(random_state=0), GaussianNB()
    rows = [
        bootstrap_row("DecisionTree", tree, X, y, n_splits, repeats),
        bootstrap_row("GaussianNB", bayes, X, y, n_splits, repeats),
    ]
    for name, ours, anchor in [
        ("5x2cv paired t-test", paired_ttest_5x2cv, mlxtend_evaluate.paired_ttest_5x2cv),
        ("5x2cv combined F-test", combined_ftest_5x2cv, mlxtend_evaluate.combined_ftest_5x2cv),
    ]:
        rows.append(compare(
            f"{name} GaussianNB vs DecisionTree, breast_cancer",
            lambda ours=ours: ours(bayes, tree, X, y, random_state=1),
            lambda anchor=anchor: anchor(bayes, tree, X, y, random_seed=1),
            repeats=5,
        ))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 bootstrap rounds instead of 200")
    args = parser.parse_args(argv)
    print(f"{'name':62s} {'diversa_s':>10s} {'anchor_s':>10s} {'ratio':>6s} {'fit_only_s':>10s} equal")
    for row in run(quick=args.quick):
        fit_only = f"{row['fit_only_s']:10.3f}" if "fit_only_s" in row else " " * 10
        print(f"{row['name']:62s} {row['diversa_s']:10.3f} {row['anchor_s']:10.3f} {row['ratio']:6.3f} "
              f"{fit_only} {row['equal']}")


if __name__ == "__main__":
    main()
