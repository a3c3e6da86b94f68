"""Reproduction of R-MTGB's claims: robust multi-task boosting beats pooled, single-task and MTGB.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025; Expert Systems with Applications).

Design (spec ``tabular.md#r-mtgb``): the paper's synthetic benchmark
(:func:`diversa.datasets.multitask.make_multitask_outlier`, scenario 4: 10
tasks of which 2 outliers that follow a second common function, d = 5, 300
training and 1000 test rows per task). A unit is one random data set (seed =
trial index) in its regression and its classification version. Four methods
with stumps and learning rate 0.1, **all with the same total number of
stumps**: R-MTGB keeps the spec's blocks (100 shared + 100 outlier-partition
iterations fitting two stumps each + 100 per task = 1,300 stumps); pooled
boosting gets 1,300 stumps, single-task boosting 130 per task, and MTGB (R-MTGB
without block 2) 300 shared + 100 per task, i.e. block 2's 200 stumps become
shared stumps, so MTGB is the exact ablation of the outlier partition.

Why equal stumps rather than the paper's protocol: the official experiment
scripts tune each method's iteration counts by a 5-fold grid search. Refitting
four methods over a grid in two task types would multiply a unit's cost about
fifteen-fold and break the quick budget, and our estimators have no staged
prediction to make it cheap. An equal number of fitted stumps gives every
method the same compute and the same number of parameters and no method a
search the others lack. (The spec's budgets, 300 pooled, 300 per task
single-task, 100 + 200 MTGB, differed by up to 10x.)

Metrics are per-task test RMSE / accuracy averaged over tasks (and over the
outlier tasks only), the AUROC of the learned outlier scores
``sigmoid(theta)`` (oriented so that the minority side of 0.5 means
"outlier", since the two shared ensembles are interchangeable) for the
planted outliers, and the mechanism: the training loss after blocks 1-2 (300
shared stumps) against pooled boosting after as many stumps. A regime check
asks that pooling costs the planted outlier tasks more than the regular ones
(pooled RMSE over single-task RMSE, per task, higher on the outlier tasks),
the situation the paper's claim is about.
The spec's optional cross-validated choice of the block-2 length is not used;
full mode adds the spec's scenario-1 control (identical tasks, where pooling
should be best) as a diagnostic.

Change of design (audit): budgets were the spec's unequal ones; the previous
quick run had R-MTGB ahead of pooled, single-task and MTGB on RMSE
(supported) and not ahead of MTGB on the outlier tasks or on accuracy. The
equal-stumps rule was chosen from the issue and the framework, not from
those results.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score

from diversa.datasets.multitask import make_multitask_outlier
from diversa.learners.multitask import (
    MTGBClassifier,
    MTGBRegressor,
    PooledGBClassifier,
    PooledGBRegressor,
    RMTGBClassifier,
    RMTGBRegressor,
    SingleTaskGBClassifier,
    SingleTaskGBRegressor,
    oriented_outlier_scores,
)
from diversa.reproduce.registry import Check, Reproduction, TrialResult

#: The official synthetic sizes (module-level so tests can shrink them).
DATA = {"n_tasks": 10, "n_outlier_tasks": 2, "n_features": 5, "n_train_per_task": 300, "n_test_per_task": 1000}
#: R-MTGB's blocks (shared, outlier partition, per task), the spec's; they fix every method's stump budget.
RMTGB_BLOCKS = (100, 100, 100)
LEARNING_RATE = 0.1

METHODS = ("PooledGB", "SingleTaskGB", "MTGB", "R-MTGB")


def stump_budgets(n_tasks: int, blocks=None) -> dict[str, int]:
    """Stumps fitted by each method under the equal-budget rule (R-MTGB's total, see the module docstring).

    R-MTGB fits ``m1 + 2 m2 + T m3`` stumps (block 2 fits an outlier and a
    non-outlier stump per iteration).
    """
    m1, m2, m3 = RMTGB_BLOCKS if blocks is None else blocks
    total = m1 + 2 * m2 + n_tasks * m3
    return {"total": total, "PooledGB": total, "SingleTaskGB per task": total // n_tasks,
            "MTGB shared": m1 + 2 * m2, "MTGB per task": m3}


def make_models(task_type: str, seed: int) -> dict:
    """The four compared estimators for ``task_type``, all seeded with ``seed``, with equal stump budgets."""
    regression = task_type == "regression"
    pooled = PooledGBRegressor if regression else PooledGBClassifier
    single = SingleTaskGBRegressor if regression else SingleTaskGBClassifier
    mtgb = MTGBRegressor if regression else MTGBClassifier
    rmtgb = RMTGBRegressor if regression else RMTGBClassifier
    m1, m2, m3 = RMTGB_BLOCKS
    budget = stump_budgets(DATA["n_tasks"])
    return {
        "PooledGB": pooled(n_estimators=budget["PooledGB"], learning_rate=LEARNING_RATE, random_state=seed),
        "SingleTaskGB": single(n_estimators=budget["SingleTaskGB per task"], learning_rate=LEARNING_RATE,
                               random_state=seed),
        "MTGB": mtgb(n_iter_1st=budget["MTGB shared"], n_iter_3rd=budget["MTGB per task"],
                     learning_rate=LEARNING_RATE, random_state=seed),
        "R-MTGB": rmtgb(n_iter_1st=m1, n_iter_2nd=m2, n_iter_3rd=m3, learning_rate=LEARNING_RATE,
                        random_state=seed),
    }


def per_task_scores(y_true, y_pred, tasks, n_tasks: int, task_type: str) -> np.ndarray:
    """Test RMSE (regression) or accuracy (classification) of every task, shape ``(T,)``."""
    scores = np.empty(n_tasks)
    for r in range(n_tasks):
        rows = tasks == r
        if task_type == "regression":
            scores[r] = np.sqrt(np.mean((y_true[rows] - y_pred[rows]) ** 2))
        else:
            scores[r] = accuracy_score(y_true[rows], y_pred[rows])
    return scores


def evaluate_task_type(task_type: str, seed: int, scenario: int = 4) -> dict:
    """Fit the four methods on one data set; per-method scores and R-MTGB's outlier detection."""
    data = make_multitask_outlier(scenario=scenario, task_type=task_type, random_state=seed, **DATA)
    n_tasks, outliers = DATA["n_tasks"], data.is_outlier_task
    result = {"per_task": {}, "mean": {}, "outlier_mean": {}, "regular_mean": {}}
    models = make_models(task_type, seed)
    for name, model in models.items():
        model.fit(data.X_train, data.y_train, data.tasks_train)
        scores = per_task_scores(data.y_test, model.predict(data.X_test, data.tasks_test), data.tasks_test,
                                 n_tasks, task_type)
        result["per_task"][name] = scores.tolist()
        result["mean"][name] = float(scores.mean())
        result["outlier_mean"][name] = float(scores[outliers].mean()) if outliers.any() else float("nan")
        result["regular_mean"][name] = float(scores[~outliers].mean())
    if task_type == "regression":  # pooled RMSE over single-task RMSE per task: what sharing costs a task
        cost = np.array(result["per_task"]["PooledGB"]) / np.array(result["per_task"]["SingleTaskGB"])
        result["pooling_cost"] = {"outlier": float(cost[outliers].mean()), "regular": float(cost[~outliers].mean())}
    rmtgb = models["R-MTGB"]
    m1, m2, _ = RMTGB_BLOCKS
    detected = np.isin(rmtgb.tasks_, rmtgb.outlier_tasks_)
    result["outlier_score"] = rmtgb.outlier_score_.tolist()
    result["detection_auroc"] = (float(roc_auc_score(outliers, oriented_outlier_scores(rmtgb.outlier_score_)))
                                 if 0 < outliers.sum() < n_tasks else float("nan"))
    result["exact_detection"] = bool(np.array_equal(detected, outliers))
    shared_trees = m1 + 2 * m2
    result["train_loss_blocks_1_2"] = float(rmtgb.train_loss_[m1 + m2 - 1])
    result["pooled_train_loss_same_trees"] = float(models["PooledGB"].train_loss_[shared_trees - 1])
    return result


def scenario1_control(seed: int) -> dict:
    """Identical tasks (scenario 1): average test RMSE of pooled boosting and R-MTGB."""
    data = make_multitask_outlier(scenario=1, task_type="regression", random_state=seed, **DATA)
    models = make_models("regression", seed)
    out = {}
    for name in ("PooledGB", "R-MTGB"):
        model = models[name].fit(data.X_train, data.y_train, data.tasks_train)
        out[name] = float(per_task_scores(data.y_test, model.predict(data.X_test, data.tasks_test),
                                          data.tasks_test, DATA["n_tasks"], "regression").mean())
    return out


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One synthetic data set (seed = trial index), regression and classification versions."""
    reg = evaluate_task_type("regression", seed)
    clf = evaluate_task_type("classification", seed)
    diagnostics = {"regression": reg, "classification": clf, "stump_budgets": stump_budgets(DATA["n_tasks"])}
    if not quick:
        diagnostics["scenario1_rmse"] = scenario1_control(seed)
    return TrialResult(
        pairs={
            "rmse-vs-pooled": (reg["mean"]["PooledGB"], reg["mean"]["R-MTGB"]),
            "rmse-vs-single-task": (reg["mean"]["SingleTaskGB"], reg["mean"]["R-MTGB"]),
            "rmse-vs-mtgb": (reg["mean"]["MTGB"], reg["mean"]["R-MTGB"]),
            "outlier-rmse-vs-mtgb": (reg["outlier_mean"]["MTGB"], reg["outlier_mean"]["R-MTGB"]),
            "accuracy-vs-pooled": (clf["mean"]["PooledGB"], clf["mean"]["R-MTGB"]),
            "accuracy-vs-single-task": (clf["mean"]["SingleTaskGB"], clf["mean"]["R-MTGB"]),
            "accuracy-vs-mtgb": (clf["mean"]["MTGB"], clf["mean"]["R-MTGB"]),
            "outliers-hurt-pooling": (reg["pooling_cost"]["regular"], reg["pooling_cost"]["outlier"]),
            "detection-regression": (0.5, reg["detection_auroc"]),
            "detection-classification": (0.5, clf["detection_auroc"]),
            "block2-train-loss": (reg["pooled_train_loss_same_trees"], reg["train_loss_blocks_1_2"]),
        },
        diagnostics=diagnostics,
    )


REPRODUCTION = Reproduction(
    id="r-mtgb",
    title="Robust-Multi-Task Gradient Boosting",
    arxiv="2507.11411",
    claim=("On multi-task data with outlier tasks, R-MTGB has lower per-task error than pooled, single-task "
           "and multi-task (MTGB) gradient boosting, and its learned per-task weights sigmoid(theta) "
           "single out the outlier tasks."),
    paper_result=("Synthetic benchmark (10 tasks, 2 outliers, 100 data sets): R-MTGB had the lowest average and "
                  "per-task RMSE and the highest accuracy against single-task GB, pooled GB, MTGB and other "
                  "multi-task baselines, and sigma(theta) separated outlier from regular tasks; also best or "
                  "competitive on 10 real multi-task data sets. Only the direction is used here (the "
                  "paper's numbers are not verified)."),
    setup=("make_multitask_outlier scenario 4 (RFF functions, 10 tasks, 2 outliers, d=5, 300 train / 1000 test "
           "rows per task), regression and classification (sign) versions; stumps, learning rate 0.1; every "
           "method fits the same 1,300 stumps: R-MTGB 100 shared + 100 x 2 partition + 100 per task, PooledGB "
           "1,300, SingleTaskGB 130 per task, MTGB 300 shared + 100 per task (no per-method tuning; the paper "
           "grid-searches iteration counts by 5-fold CV); a unit = one data set (seed = trial index)."),
    checks=(
        Check("rmse-vs-pooled", "mean per-task test RMSE", "PooledGB", "R-MTGB", "less",
              "R-MTGB has lower average RMSE than pooled boosting", "lower RMSE than pooled GB"),
        Check("rmse-vs-single-task", "mean per-task test RMSE", "SingleTaskGB", "R-MTGB", "less",
              "R-MTGB has lower average RMSE than single-task boosting", "lower RMSE than single-task GB"),
        Check("rmse-vs-mtgb", "mean per-task test RMSE", "MTGB", "R-MTGB", "less",
              "R-MTGB has lower average RMSE than MTGB (no outlier partition)", "lower RMSE than MTGB"),
        Check("outlier-rmse-vs-mtgb", "mean test RMSE of the outlier tasks", "MTGB", "R-MTGB", "less",
              "the outlier tasks gain most: they pool through f_out", "lower RMSE on outlier tasks"),
        Check("accuracy-vs-pooled", "mean per-task test accuracy", "PooledGB", "R-MTGB", "greater",
              "R-MTGB is more accurate than pooled boosting", "higher accuracy than pooled GB"),
        Check("accuracy-vs-single-task", "mean per-task test accuracy", "SingleTaskGB", "R-MTGB", "greater",
              "R-MTGB is more accurate than single-task boosting", "higher accuracy than single-task GB"),
        Check("accuracy-vs-mtgb", "mean per-task test accuracy", "MTGB", "R-MTGB", "greater",
              "R-MTGB is more accurate than MTGB", "higher accuracy than MTGB"),
        Check("outliers-hurt-pooling", "pooled / single-task test RMSE, mean over tasks (regression)",
              "regular tasks", "outlier tasks", "greater",
              "pooling costs the planted outlier tasks more than the regular ones (the regime R-MTGB is for)",
              "outlier tasks follow a second common function", kind="regime"),
        Check("detection-regression", "AUROC of sigmoid(theta) for the planted outliers (regression)",
              "chance 0.5", "R-MTGB", "greater",
              "sigmoid(theta) detects the outlier tasks", "automatic outlier-task detection", kind="mechanism"),
        Check("detection-classification", "AUROC of sigmoid(theta) for the planted outliers (classification)",
              "chance 0.5", "R-MTGB", "greater",
              "sigmoid(theta) detects the outlier tasks", "automatic outlier-task detection", kind="mechanism"),
        Check("block2-train-loss", "training loss after 300 shared stumps (regression)", "PooledGB",
              "R-MTGB blocks 1-2", "less",
              "the outlier partition fits the tasks better than pooling with as many shared trees",
              "mechanism (spec): block 2 fits outlier and regular tasks with separate shared ensembles",
              kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="rmse-vs-pooled",
    trial_seconds=21.0,
)
