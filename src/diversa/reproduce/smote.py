"""Reproduction of SMOTE's claim: synthetic over-sampling beats under-sampling alone.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813.

Design (spec ``tabular.md#smote``): four offline data sets (breast cancer,
digit 9 vs rest, and two ``make_classification`` sets with 5% and 2%
minority). In each training fold (standardised inside the fold) a C4.5-like
entropy tree is trained on ``Under(u)`` and on ``SMOTE(200) + Under(u)`` for
the paper's 18 under-sampling levels u, with identical majority subsets,
giving one ROC point per level on the test fold. Points are averaged over the
5 folds of a stratified CV into one curve per method, scored by trapezoid
AUC; the ROC convex hull is taken over these curves plus the paper's Naive
Bayes prior sweep.

**A unit is one repeat over all four data sets**: unit ``s`` draws the two
synthetic sets afresh (``make_classification`` with a seed of its own) and
re-splits breast cancer and digits with a fresh stratified 5-fold partition.
Repeats of the two fixed data sets share their data, so the units are
declared ``resampled`` and judged with the Nadeau-Bengio corrected t-test
(n_test / n_train = 1/4 for 5-fold CV), which is conservative for the two
synthetic sets whose draws are independent. (The previous design used one
(data set, repeat) pair per unit, mixing four unlike data sets in one test.)

**Paper-level rule.** The spec says the claim holds when the pooled one-sided
test over data sets is significant *and* SMOTE's points form the majority of
the ROC convex hull on at least 3 of 4 data sets. Here: the headline
``auc`` is the pooled test (per unit, the mean over the four data sets of
AUC(SMOTE+Under) - AUC(Under)); ``hull-majority`` is a secondary claim
computed per unit, the number of data sets on which SMOTE+Under owns more
hull vertices than Under and the Naive Bayes sweep together, tested against
2.5 (the midpoint between "2 of 4", which fails the rule, and "3 of 4",
which meets it). The framework's paper verdict is the headline's, and a
secondary claim is gated by the headline, so the spec's conjunction is "both
supported".

A mechanism check at u = 100 compares SMOTE with minority replication
(random over-sampling to the same size): replication should give more, and
more specific, minority leaves.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from diversa.data.resample import SMOTE, RandomUnderSampler
from diversa.datasets import load_bundled
from diversa.evaluate.roc import auc_from_points, hull_membership, roc_point
from diversa.reproduce.registry import Check, Reproduction, TrialResult, resampled_units

#: The paper's under-sampling levels u (minority as a percentage of the kept majority).
UNDER_LEVELS = (10, 15, 25, 50, 75, 100, 125, 150, 175, 200, 300, 400, 500, 600, 700, 800, 1000, 2000)
SMOTE_PERCENTAGE = 200
NB_PRIORS = np.linspace(0.05, 0.95, 19)
DATASETS = ("breast_cancer", "digits_9_vs_rest", "synthetic_5pct", "synthetic_2pct")
N_FOLDS = 5
#: "SMOTE is the hull majority on at least 3 of 4 data sets": a mean count above 2.5.
HULL_MAJORITY_THRESHOLD = 2.5


def load_dataset(name: str, draw: int) -> tuple[np.ndarray, np.ndarray]:
    """A data set with the minority class labelled 1; ``draw`` seeds the synthetic sets."""
    if name == "breast_cancer":
        X, y = load_bundled("breast_cancer")
        return X, (y == 0).astype(int)  # malignant (212 of 569) is the minority
    if name == "digits_9_vs_rest":
        return load_bundled("digits_9_vs_rest")
    n_samples, majority_weight = {"synthetic_5pct": (3000, 0.95), "synthetic_2pct": (5000, 0.98)}[name]
    return make_classification(n_samples=n_samples, n_features=10, n_informative=5, n_redundant=2,
                               weights=[majority_weight], flip_y=0.01, class_sep=1.0, random_state=draw)


def _tree(seed: int) -> DecisionTreeClassifier:
    # C4.5 proxy: information-gain splits, tiny leaves allowed as in C4.5's default.
    return DecisionTreeClassifier(criterion="entropy", min_samples_leaf=2, random_state=seed)


def _point(model, X, y) -> tuple[float, float]:
    return roc_point(y, model.predict(X), pos_label=1)


def sweep_points(X_train, y_train, X_test, y_test, seed: int) -> dict[str, np.ndarray]:
    """ROC points of Under(u), SMOTE+Under(u) for every u, and of the Naive Bayes prior sweep."""
    under, smote_under = [], []
    for u in UNDER_LEVELS:
        X_u, y_u = RandomUnderSampler(percentage=u, random_state=seed).fit_resample(X_train, y_train)
        under.append(_point(_tree(seed).fit(X_u, y_u), X_test, y_test))
        X_s, y_s = SMOTE(percentage=SMOTE_PERCENTAGE, minority_label=1, random_state=seed).fit_resample(X_u, y_u)
        smote_under.append(_point(_tree(seed).fit(X_s, y_s), X_test, y_test))
    naive_bayes = [_point(GaussianNB(priors=[1 - p, p]).fit(X_train, y_train), X_test, y_test)
                   for p in NB_PRIORS]
    return {"Under": np.array(under), "SMOTE+Under": np.array(smote_under), "NB priors": np.array(naive_bayes)}


def minority_leaf_specificity(X_train, y_train, seed: int) -> dict[str, tuple[float, float]]:
    """Minority leaves and distinct original minority samples per minority leaf, at u = 100.

    Replication over-samples the minority with replacement to the size SMOTE
    reaches; both trees are then probed with the original minority rows.
    """
    X_u, y_u = RandomUnderSampler(percentage=100, random_state=seed).fit_resample(X_train, y_train)
    X_smote, y_smote = SMOTE(percentage=SMOTE_PERCENTAGE, minority_label=1, random_state=seed).fit_resample(X_u, y_u)
    minority = np.flatnonzero(y_u == 1)
    rng = np.random.default_rng(seed)
    extra = rng.choice(minority, size=int((y_smote == 1).sum() - minority.size), replace=True)
    X_rep, y_rep = np.vstack([X_u, X_u[extra]]), np.concatenate([y_u, y_u[extra]])
    out = {}
    for name, (X_fit, y_fit) in {"replication": (X_rep, y_rep), "SMOTE": (X_smote, y_smote)}.items():
        tree = _tree(seed).fit(X_fit, y_fit)
        leaf_of_node_is_minority = (tree.tree_.children_left == -1) & (tree.tree_.value[:, 0, :].argmax(1) == 1)
        minority_leaves = np.flatnonzero(leaf_of_node_is_minority)
        hits = np.bincount(tree.apply(X_u[minority]), minlength=tree.tree_.node_count)
        out[name] = (float(minority_leaves.size), float(hits[minority_leaves].mean()) if minority_leaves.size else 0.0)
    return out


def evaluate_dataset(X: np.ndarray, y: np.ndarray, repeat: int) -> dict:
    """One stratified 5-fold CV of every method on one data set: AUCs, hull vertices, leaf statistics."""
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=repeat).split(X, y)
    points, leaves = [], []
    for fold, (train, test) in enumerate(folds):
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        fold_seed = 1000 * repeat + fold
        points.append(sweep_points(X_train, y[train], X_test, y[test], fold_seed))
        leaves.append(minority_leaf_specificity(X_train, y[train], fold_seed))
    curves = {method: np.mean([p[method] for p in points], axis=0) for method in points[0]}
    hull = hull_membership(curves)
    return {
        "auc": {method: auc_from_points(curve) for method, curve in curves.items()},
        "hull_vertices": hull,
        "smote_hull_majority": hull["SMOTE+Under"] > hull["Under"] + hull["NB priors"],
        "leaves": {m: np.mean([fold[m] for fold in leaves], axis=0).tolist() for m in ("replication", "SMOTE")},
        "minority_rate": float(y.mean()),
    }


def unit_draws(seed: int) -> dict[str, int]:
    """The draw (seed of the synthetic generator) of every data set in unit ``seed``: distinct across
    data sets and units, so no two synthetic sets of the run are the same sample."""
    return {name: seed * len(DATASETS) + k for k, name in enumerate(DATASETS)}


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One repeat: fresh synthetic draws and fresh CV splits, every method on all four data sets."""
    results = {name: evaluate_dataset(*load_dataset(name, draw), repeat=seed) for name, draw in unit_draws(seed).items()}

    def mean_over_datasets(value) -> float:
        return float(np.mean([value(r) for r in results.values()]))

    return TrialResult(
        pairs={
            "auc": (mean_over_datasets(lambda r: r["auc"]["Under"]), mean_over_datasets(lambda r: r["auc"]["SMOTE+Under"])),
            "hull-majority": (HULL_MAJORITY_THRESHOLD, float(sum(r["smote_hull_majority"] for r in results.values()))),
            "minority-leaves": (mean_over_datasets(lambda r: r["leaves"]["replication"][0]),
                                mean_over_datasets(lambda r: r["leaves"]["SMOTE"][0])),
            "leaf-generality": (mean_over_datasets(lambda r: r["leaves"]["replication"][1]),
                                mean_over_datasets(lambda r: r["leaves"]["SMOTE"][1])),
        },
        diagnostics={"repeat": seed, **{name: {**r, "auc_difference": r["auc"]["SMOTE+Under"] - r["auc"]["Under"]}
                                        for name, r in results.items()}},
    )


REPRODUCTION = Reproduction(
    id="smote",
    title="SMOTE: Synthetic Minority Over-sampling Technique",
    arxiv="1106.1813",
    claim=("SMOTE combined with under-sampling of the majority gives ROC curves that dominate "
           "under-sampling alone (higher AUC), and its points make up most of the ROC convex hull."),
    paper_result=("9 data sets, C4.5 with 10-fold CV: SMOTE+Under had the higher AUC on most data sets, by "
                  "small margins (third decimal to low second decimal), and SMOTE classifiers formed most "
                  "of the ROC convex hull, also against Naive Bayes prior sweeps."),
    setup=("breast_cancer, digits 9-vs-rest, make_classification with 5% and 2% minority; entropy tree "
           "(min_samples_leaf=2) as C4.5; SMOTE N=200, k=5; the paper's 18 under-sampling levels; "
           "stratified 5-fold CV, features standardised in each fold; a unit = one repeat over all four data "
           "sets (fresh synthetic draws, fresh splits of the fixed sets), corrected t-test (1/4)."),
    checks=(
        Check("auc", "mean over the 4 data sets of ROC AUC over the u sweep", "Under", "SMOTE+Under", "greater",
              "SMOTE+Under dominates Under in AUC (pooled over data sets)",
              "higher AUC on most of 9 data sets (differences ~0.001-0.03)"),
        Check("hull-majority", "data sets (of 4) where SMOTE+Under owns most ROC convex hull vertices",
              f"threshold {HULL_MAJORITY_THRESHOLD} (3 of 4)", "SMOTE+Under", "greater",
              "SMOTE points form the majority of the ROC convex hull (vs Under and the NB prior sweep) on at "
              "least 3 of 4 data sets (spec's rule; 2.5 separates 2 of 4 from 3 of 4)",
              "SMOTE points make up most of the hull on most data sets"),
        Check("minority-leaves", "minority leaves at u=100 (mean over data sets)", "replication", "SMOTE", "less",
              "replication makes more, smaller minority regions than SMOTE",
              "qualitative: replication gives more specific decision regions", kind="mechanism"),
        Check("leaf-generality", "original minority rows per minority leaf (mean over data sets)", "replication",
              "SMOTE", "greater", "SMOTE's minority regions are more general (cover more original minority rows)",
              "qualitative: SMOTE gives larger, more general decision regions", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="auc",
    unit=resampled_units(0.25, "one repeat over the four data sets: fresh draws of the two synthetic sets, "
                               "a fresh stratified 5-fold split of breast_cancer and digits 9-vs-rest"),
    trial_seconds=12.0,
)
