"""Reproduction of FOLD-SE's claim: few rules that stay few as data grow, at competitive accuracy.

Huaduo Wang & Gopal Gupta, "FOLD-SE: An Efficient Rule-based Machine Learning
Algorithm with Scalable Explainability", arXiv:2208.07912 (PADL 2024).

Design (spec ``tabular.md#fold-se``). Data, all offline: breast_cancer
(binary, numeric), palmerpenguins (3 species; island and sex categorical,
missing values kept as missing), vega_datasets' Seattle weather (5 classes
from precipitation, temperatures and wind) and a mixed binary synthetic set:
``make_classification(n, 8 features, 5 informative, flip_y=0.05)`` plus 4
string columns cutting the informative features 0-3 into quintile bins
'a'..'e' with 10% of the entries replaced by a random label, for n in
{1000, 5000, 20000} (quick: 10000 instead of 20000). A trial is one seed s:
a stratified 80/20 split (``random_state=s``) of every data set, and the
synthetic data drawn with ``random_state=s``.

Methods: FOLD-SE (ratio 0.5, tail 0.005), FOLD-R++ (the same code with
information gain, tail 0; the FOLD-RM loop for several classes), RIPPER
(``wittgenstein``; classes learnt minority first, one-vs-rest on the rows
left, the majority class as default), ``DecisionTreeClassifier``,
``HistGradientBoostingClassifier`` (the XGBoost stand-in) and
``MLPClassifier(max_iter=300)``. The numeric-only learners get median
imputation and one-hot encoding of the string columns (standardised for the
MLP); RIPPER gets median-imputed numbers and its own discretisation. Quick
mode gives RIPPER only training sets of at most 5000 rows (the spec's cap:
RIPPER needs about 4 CPU seconds at 4000 rows but 40 at 8000, more than the
whole quick budget allows over 8 units), so it skips the largest synthetic
set there; full mode runs it on everything. Because the claim "fewer rules
than RIPPER" is about large data, where RIPPER needs tens of rules, a regime
check asks that RIPPER's mean rule count on the data it ran on is at least
10; below that the comparison is out of regime. The MLP (at most 600 rows in
quick mode) enters no check.

Units: every trial re-splits the three fixed real data sets (the synthetic
sets are drawn afresh), so units are ``resampled`` and every check uses the
Nadeau-Bengio corrected t-test with n_test / n_train = 0.25 (conservative for
the checks that use only synthetic data).

Margins (non-inferiority, in accuracy points, declared in the checks):
2 points against FOLD-R++ (the spec: "within ~2 points"; FOLD-SE is FOLD-R++
with another heuristic and pruning) and 3 points against HistGB, the
XGBoost stand-in: the paper says "competitive with XGBoost", and the
authors' group quantifies that trade-off as an average accuracy loss of up
to about 3 points (Murthy et al. 2025, arXiv:2509.18139); the spec's range
is 2-5. Speed is process CPU time of the fit (``time.process_time``), so
parallel trials on a shared machine do not distort it.

Change of design (audit): RIPPER was capped at 1500 rows in quick mode with
no regime check; the HistGB margin was 5 points and both margins were baked
into the baseline values; speed was wall time. The previous quick run had
all 9 checks supported (FOLD-SE 4.4-6.6 points below HistGB on the
synthetic sets alone). The 3-point margin comes from the reason above, not
from that result.

Our FOLD-SE is FOLD-R++'s core with the Gini heuristic and long-tail pruning,
as described publicly; FOLD-SE's own code is closed (see
:mod:`diversa.learners.rules.fold_se`).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from diversa.datasets import load_bundled
from diversa.learners.rules import FOLDRPPClassifier, FOLDSEClassifier
from diversa.reproduce.registry import Check, Reproduction, TrialResult, resampled_units

#: Sizes of the synthetic mixed data sets (full, quick).
SYNTHETIC_SIZES = (1000, 5000, 20000)
SYNTHETIC_SIZES_QUICK = (1000, 5000, 10000)
#: Largest training data RIPPER / the MLP get in quick mode (None: no limit; RIPPER's is the spec's).
RIPPER_MAX_ROWS_QUICK = 5000
MLP_MAX_ROWS_QUICK = 600
#: Non-inferiority margins of the accuracy checks (reasons in the module docstring).
MARGIN_FOLDRPP = 0.02
MARGIN_HISTGB = 0.03
#: RIPPER's rule count that marks the large-data regime of the claim ("tens of rules").
RIPPER_LARGE_DATA_RULES = 10.0
METHODS = ("FOLD-SE", "FOLD-R++", "RIPPER", "tree", "HistGB", "MLP")


def make_mixed_classification(n_samples: int, random_state: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The spec's mixed binary data: 8 numeric columns and 4 noisy string columns.

    ``make_classification(n_samples, n_features=8, n_informative=5,
    flip_y=0.05, shuffle=False)`` (so the informative features are columns
    0-4); string columns ``cat0..cat3`` cut numeric columns 0-3 at their
    quintiles into 'a'..'e', then 10% of their entries take a random label.
    """
    X, y = make_classification(n_samples=n_samples, n_features=8, n_informative=5, flip_y=0.05,
                               shuffle=False, random_state=random_state)
    rng = np.random.default_rng(random_state)
    frame = pd.DataFrame(X, columns=[f"num{j}" for j in range(8)])
    letters = np.array(list("abcde"))
    for j in range(4):
        cuts = np.quantile(X[:, j], [0.2, 0.4, 0.6, 0.8])
        labels = letters[np.searchsorted(cuts, X[:, j])]
        noisy = rng.random(n_samples) < 0.1
        labels[noisy] = letters[rng.integers(0, 5, int(noisy.sum()))]
        frame[f"cat{j}"] = labels
    return frame, y


def load_dataset(name: str, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """One of the experiment's data sets as (DataFrame, labels)."""
    if name == "breast_cancer":
        X, y = load_bundled("breast_cancer", as_frame=True)
        return X, np.asarray(y)
    if name == "penguins":
        from palmerpenguins import load_penguins

        frame = load_penguins()
        return frame.drop(columns="species"), frame["species"].to_numpy(dtype=object)
    if name == "seattle_weather":
        from vega_datasets import data

        frame = data.seattle_weather()
        return frame[["precipitation", "temp_max", "temp_min", "wind"]], frame["weather"].to_numpy(dtype=object)
    if name.startswith("synthetic_"):
        return make_mixed_classification(int(name.removeprefix("synthetic_")), random_state=seed)
    raise ValueError(f"unknown data set {name!r}.")


def _string_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]


def encoded_pipeline(estimator, X: pd.DataFrame, scale: bool = False):
    """``estimator`` behind median imputation and one-hot encoding of X's string columns (standardised if ``scale``)."""
    strings = _string_columns(X)
    numeric = [c for c in X.columns if c not in strings]
    numeric_steps = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    encoder = ColumnTransformer([
        ("num", make_pipeline(*numeric_steps), numeric),
        ("str", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), strings),
    ], sparse_threshold=0)
    return make_pipeline(encoder, estimator)


def _ripper_frame(X: pd.DataFrame, medians: pd.Series) -> pd.DataFrame:
    frame = X.copy()
    for column in frame.columns:
        if column in medians.index:
            frame[column] = frame[column].fillna(medians[column]).astype(float)
        else:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    return frame


class RipperDecisionList:
    """RIPPER for any number of classes: minority class first, one-vs-rest on the rows left.

    ``wittgenstein.RIPPER`` learns one binary rule set at a time; classes are
    taken in increasing frequency, each learnt against the classes after it,
    and the most frequent class is the default.
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray):
        import wittgenstein

        self.medians_ = X[[c for c in X.columns if c not in _string_columns(X)]].median()
        frame = _ripper_frame(X, self.medians_).reset_index(drop=True)
        y = np.asarray(y)
        labels, counts = np.unique(y, return_counts=True)
        order = labels[np.argsort(counts, kind="stable")]
        self.default_, self.models_, self.dtype_ = order[-1], [], labels.dtype
        keep = np.ones(len(y), dtype=bool)
        for label in order[:-1]:
            model = wittgenstein.RIPPER(random_state=self.random_state)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(frame[keep].reset_index(drop=True), y[keep] == label, pos_class=True)
            self.models_.append((label, model))
            keep &= y != label
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        frame = _ripper_frame(X, self.medians_).reset_index(drop=True)
        prediction = np.full(len(frame), self.default_, dtype=self.dtype_)
        open_rows = np.ones(len(frame), dtype=bool)
        for label, model in self.models_:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fires = np.asarray(model.predict(frame), dtype=bool)
            prediction[open_rows & fires] = label
            open_rows &= ~fires
        return prediction

    @property
    def n_rules_(self) -> int:
        return sum(len(model.ruleset_.rules) for _, model in self.models_)

    @property
    def n_literals_(self) -> int:
        return sum(len(rule.conds) for _, model in self.models_ for rule in model.ruleset_.rules)


def tree_size(tree: DecisionTreeClassifier) -> tuple[int, int]:
    """(leaves, summed leaf depths): a leaf is a rule whose literals are the tests on its path."""
    structure = tree.tree_
    depth = np.zeros(structure.node_count, dtype=int)
    for node in range(structure.node_count):
        for child in (structure.children_left[node], structure.children_right[node]):
            if child != -1:
                depth[child] = depth[node] + 1
    leaves = structure.children_left == -1
    return int(leaves.sum()), int(depth[leaves].sum())


def evaluate_methods(X_train, X_test, y_train, y_test, seed: int, with_ripper: bool, with_mlp: bool) -> dict:
    """Accuracy, macro-F1, rules, literals and fit seconds of every method on one split."""
    models = {
        "FOLD-SE": FOLDSEClassifier(ratio=0.5, tail=0.005),
        "FOLD-R++": FOLDRPPClassifier(ratio=0.5),
        "tree": encoded_pipeline(DecisionTreeClassifier(random_state=seed), X_train),
        "HistGB": encoded_pipeline(HistGradientBoostingClassifier(random_state=seed), X_train),
    }
    if with_ripper:
        models["RIPPER"] = RipperDecisionList(random_state=seed)
    if with_mlp:
        models["MLP"] = encoded_pipeline(MLPClassifier(max_iter=300, random_state=seed), X_train, scale=True)
    results = {}
    for name, model in models.items():
        start = time.process_time()  # CPU time of this process: contention from parallel trials does not count
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLP convergence warnings at max_iter
            model.fit(X_train, y_train)
        seconds = time.process_time() - start
        prediction = model.predict(X_test)
        row = {"accuracy": float(accuracy_score(y_test, prediction)),
               "macro_f1": float(f1_score(y_test, prediction, average="macro")), "fit_cpu_s": seconds}
        if name in ("FOLD-SE", "FOLD-R++", "RIPPER"):
            row["n_rules"], row["n_literals"] = int(model.n_rules_), int(model.n_literals_)
        elif name == "tree":
            row["n_rules"], row["n_literals"] = tree_size(model[-1])
        results[name] = row
    return results


def _slope(sizes, values) -> float:
    """Least-squares slope of values against log10(size)."""
    return float(np.polyfit(np.log10(np.asarray(sizes, dtype=float)), np.asarray(values, dtype=float), 1)[0])


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One seed: an 80/20 stratified split of every data set, every method."""
    sizes = SYNTHETIC_SIZES_QUICK if quick else SYNTHETIC_SIZES
    names = ["breast_cancer", "penguins", "seattle_weather"] + [f"synthetic_{n}" for n in sizes]
    per_dataset = {}
    for name in names:
        X, y = load_dataset(name, seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
        n_train = len(y_train)
        with_ripper = not quick or RIPPER_MAX_ROWS_QUICK is None or n_train <= RIPPER_MAX_ROWS_QUICK
        with_mlp = not quick or MLP_MAX_ROWS_QUICK is None or n_train <= MLP_MAX_ROWS_QUICK
        per_dataset[name] = evaluate_methods(X_train, X_test, y_train, y_test, seed, with_ripper, with_mlp)

    def mean(method, metric, datasets):
        return float(np.mean([per_dataset[d][method][metric] for d in datasets]))

    synthetic = [f"synthetic_{n}" for n in sizes]
    largest = synthetic[-1]
    multiclass = ["penguins", "seattle_weather"]
    with_ripper = [d for d in names if "RIPPER" in per_dataset[d]]
    fold_se_rules = [per_dataset[d]["FOLD-SE"]["n_rules"] for d in synthetic]
    foldrpp_rules = [per_dataset[d]["FOLD-R++"]["n_rules"] for d in synthetic]
    pairs = {
        "rules-vs-foldrpp": (mean("FOLD-R++", "n_rules", synthetic), mean("FOLD-SE", "n_rules", synthetic)),
        "literals-vs-foldrpp": (mean("FOLD-R++", "n_literals", synthetic),
                                mean("FOLD-SE", "n_literals", synthetic)),
        "rules-growth": (_slope(sizes, foldrpp_rules), _slope(sizes, fold_se_rules)),
        "rules-single-digit": (10.0, float(per_dataset[largest]["FOLD-SE"]["n_rules"])),
        "rules-vs-ripper": (mean("RIPPER", "n_rules", with_ripper), mean("FOLD-SE", "n_rules", with_ripper)),
        "ripper-tens-of-rules": (RIPPER_LARGE_DATA_RULES, mean("RIPPER", "n_rules", with_ripper)),
        "multiclass-rules": (mean("FOLD-R++", "n_rules", multiclass), mean("FOLD-SE", "n_rules", multiclass)),
        "accuracy-vs-foldrpp": (mean("FOLD-R++", "accuracy", names), mean("FOLD-SE", "accuracy", names)),
        "accuracy-vs-histgb": (mean("HistGB", "accuracy", names), mean("FOLD-SE", "accuracy", names)),
        "speed-vs-foldrpp": (per_dataset[largest]["FOLD-R++"]["fit_cpu_s"],
                             per_dataset[largest]["FOLD-SE"]["fit_cpu_s"]),
    }
    return TrialResult(
        pairs=pairs,
        diagnostics={"per_dataset": per_dataset, "synthetic_sizes": list(sizes),
                     "rules_slope": {"FOLD-SE": pairs["rules-growth"][1], "FOLD-R++": pairs["rules-growth"][0],
                                     **({"RIPPER": _slope(sizes, [per_dataset[d]["RIPPER"]["n_rules"]
                                                                  for d in synthetic])}
                                        if all("RIPPER" in per_dataset[d] for d in synthetic) else {})}},
    )


REPRODUCTION = Reproduction(
    id="fold-se",
    title="FOLD-SE: An Efficient Rule-based Machine Learning Algorithm with Scalable Explainability",
    arxiv="2208.07912",
    claim=("FOLD-SE learns far fewer rules and literals than FOLD-R++ and RIPPER, a number that stays "
           "small (single digits) and nearly flat as the data grow, while its accuracy stays within a few "
           "points of FOLD-R++ and of gradient boosting; it is also faster than FOLD-R++ on large data."),
    paper_result=("UCI benchmarks up to adult, credit card and rain-in-Australia: FOLD-SE keeps single-digit "
                  "rules and low tens of literals where FOLD-R++ and RIPPER need tens to hundreds, with "
                  "accuracy comparable to XGBoost, MLP and FOLD-R++ (typically within a few points); the "
                  "multi-class version matches FOLD-RM's accuracy with far fewer rules (exact table values "
                  "unverified)."),
    setup=("breast_cancer, penguins (3 classes, mixed, missing values), Seattle weather (5 classes) and a "
           "mixed synthetic binary set (8 numeric + 4 noisy string columns) at n = 1000, 5000, 20000 "
           "(quick: 10000); stratified 80/20 split per seed; FOLD-SE (ratio 0.5, tail 0.005) vs FOLD-R++ "
           "(same code, information gain, tail 0), RIPPER (wittgenstein), decision tree, HistGB, MLP; quick "
           "gives RIPPER <= 5000 (the spec's cap) and the MLP <= 600 training rows; fit time is process CPU "
           "time; accuracy margins 2 points (FOLD-R++) and 3 (HistGB) as non-inferiority. Our FOLD-SE = "
           "FOLD-R++ core + Gini + tail pruning, as publicly described (FOLD-SE's code is closed)."),
    checks=(
        Check("rules-vs-foldrpp", "rules (mean over synthetic sizes)", "FOLD-R++", "FOLD-SE", "less",
              "FOLD-SE learns several times fewer rules than FOLD-R++",
              "single-digit rules vs tens to hundreds for FOLD-R++ on large data"),
        Check("literals-vs-foldrpp", "body literals (mean over synthetic sizes)", "FOLD-R++", "FOLD-SE", "less",
              "FOLD-SE's rules use fewer literals in total", "low tens of literals on the largest data"),
        Check("rules-growth", "slope of rules vs log10(n), synthetic", "FOLD-R++", "FOLD-SE", "less",
              "FOLD-SE's rule count grows more slowly with n (nearly flat)",
              "rule count nearly constant as data grow"),
        Check("rules-single-digit", "FOLD-SE rules at the largest n", "nominal 10 rules", "FOLD-SE", "less",
              "FOLD-SE stays in single-digit rules on the largest data", "single-digit rules"),
        Check("rules-vs-ripper", "rules (mean over data sets RIPPER ran on)", "RIPPER", "FOLD-SE", "less",
              "FOLD-SE learns fewer rules than RIPPER", "RIPPER: tens of rules on large data"),
        Check("ripper-tens-of-rules", "RIPPER rules (mean over data sets it ran on)", "10 rules", "RIPPER",
              "greater", "RIPPER ran on data large enough to need tens of rules, the regime of the claim",
              "tens to hundreds of RIPPER rules on large data", kind="regime", applies_to=("rules-vs-ripper",)),
        Check("multiclass-rules", "rules (penguins, Seattle weather)", "FOLD-R++ (FOLD-RM loop)", "FOLD-SE", "less",
              "the multi-class FOLD-SE uses fewer rules than FOLD-RM", "far fewer rules than FOLD-RM"),
        Check("accuracy-vs-foldrpp", "test accuracy (mean over data sets)", "FOLD-R++", "FOLD-SE",
              "greater", "FOLD-SE's accuracy is within 2 points of FOLD-R++ (non-inferiority; the spec's ~2 points)",
              "comparable accuracy (within a few points)", margin=MARGIN_FOLDRPP),
        Check("accuracy-vs-histgb", "test accuracy (mean over data sets)", "HistGB (XGBoost stand-in)", "FOLD-SE",
              "greater", "FOLD-SE's accuracy is within 3 points of gradient boosting (non-inferiority; the "
              "authors' group reads 'competitive' as an average loss of up to ~3 points)",
              "competitive with XGBoost and MLP", margin=MARGIN_HISTGB),
        Check("speed-vs-foldrpp", "fit CPU seconds at the largest n", "FOLD-R++", "FOLD-SE", "less",
              "FOLD-SE trains faster than FOLD-R++ on large data", "faster than FOLD-R++ on large data"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="rules-vs-foldrpp",
    unit=resampled_units(0.25, "one stratified 80/20 split of each data set"),
    trial_seconds=10.0,
)
