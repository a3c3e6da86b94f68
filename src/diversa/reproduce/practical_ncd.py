"""Reproduction of "A Practical Approach to Novel Class Discovery in Tabular Data".

Troisemaine, Reiffers-Masson, Gosselin, Lemaire, Vaton, arXiv:2311.05440 (DMKD 2024), spec
``tabular.md#practical-ncd``, small-scale reproduction.

A unit re-splits scikit-learn's digits (the UCI optdigits domain; the three constant pixels
dropped) 70/30, stratified, with its seed; features are standardised on all training rows.
The classes are the official optdigits split: known {1, 2, 7, 8, 9}, novel {0, 3, 4, 5, 6}.
Training sees the known rows with labels and the novel training rows without; every method is
scored on the novel TEST rows, clustered transductively (as the official notebooks do), with
Hungarian clustering accuracy. Realistic conditions throughout: no method is told the number
of novel classes, and no hyper-parameter is chosen with a novel label.

* k-means (raw): the number of novel classes is estimated by the silhouette on the standardised
  unlabelled training rows (k-means for k in ``K_RANGE``), then k-means clusters the novel test
  rows with that k.
* NCD k-means (raw): the same k; the known classes' training means are its fixed centroids.
* PBN (:class:`~diversa.learners.ncd.PBN`, hidden widths [3d/4, d/2], latent 32, dropout 0.1,
  AdamW lr 1e-2, batch 512, ``EPOCHS`` epochs): w in {0.1, 0.5, 0.9} is chosen by hidden-class
  cross-validation (:func:`~diversa.learners.ncd.hidden_class_cv`, 2 folds: the known classes
  are shuffled into groups of 3 and 2, each group hidden once); the chosen w is refit on all
  training rows and k is estimated by the same silhouette procedure in its L2-normalised latent.
* Baseline encoder (:class:`~diversa.learners.ncd.NCDBaselineEncoder`): the same encoder,
  classifier, lr, latent, dropout, batch and epochs, trained with cross-entropy on the known rows
  only; it has no w, so its one configuration goes through the same cross-validation (for the
  mechanism check) and is refit the same way.
Diagnostics add every arm at the true k = 5, NMI and ARI and, in full mode only (for time),
spectral clustering and NCD spectral clustering on raw features (min_dist chosen on the known
test rows' accuracy) and PBN with the authors' tuned optdigits values (200 epochs).

Checks. Headline: PBN clusters the novel test rows more accurately than k-means on raw
features, both estimating k. Secondary claims: NCD k-means beats k-means (raw, same k); k is
estimated closer to 5 in PBN's latent than in the raw features (|k_hat - 5|); tuned PBN beats
the Baseline encoder. Mechanism: across the four configurations scored by the cross-validation
(three w of PBN and the Baseline), the hidden-class score rises with the accuracy the same fold
models reach on the novel test rows at k = 5 (Spearman > 0; novel labels are used for this
diagnostic only, never for a choice). Regime: k-means on raw features is off the floor (ACC >
0.4) and off the ceiling (ACC < 0.95), so there is room to improve and something to find. The
clean digits were checked to be in this regime (k-means raw ACC 0.57-0.90 on five seeds)
before any PBN result was seen, so the spec's noisy variant is not used.

Units re-split one data set, so the Nadeau-Bengio corrected t-test (n_test / n_train = 3/7)
judges them. Scale-downs from the paper, for the time budget: 20 epochs (quick; 100 full)
instead of 200, a 3-point grid of w at a fixed lr (the spec's grid also searches lr in {1e-3,
3e-3} and latent in {16, 32, 58}; at 60 AdamW steps lr 1e-2 was chosen because both networks'
training losses, not any clustering score, were still far from converged at the smaller
rates), 2 folds instead of 3 (with 5 known classes a third fold would hide one class, which
clusters perfectly by construction and carries no signal), and, in quick mode, k in 2..15, one
silhouette repetition and 3 k-means restarts for every arm (2..30, 3 and 10 in full mode).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from diversa.evaluate.ncd import NCDSplit, clustering_accuracy, novel_class_scores, novel_class_split
from diversa.learners.ncd import (
    PBN,
    NCDBaselineEncoder,
    NCDKMeans,
    NCDSpectralClustering,
    estimate_n_clusters,
    hidden_class_cv,
)
from diversa.reproduce.registry import Check, Reproduction, TrialResult, resampled_units

KNOWN, NOVEL = (1, 2, 7, 8, 9), (0, 3, 4, 5, 6)
TEST_SIZE = 0.3
N_NOVEL = len(NOVEL)
W_GRID = (0.1, 0.5, 0.9)
LR, LATENT_DIM, P_DROPOUT, BATCH_SIZE, N_FOLDS = 1e-2, 32, 0.1, 512, 2
EPOCHS = {True: 20, False: 100}
#: Number-of-classes estimate per mode: k range, silhouette repetitions, k-means restarts.
K_RANGE = {True: (2, 15), False: (2, 30)}
K_REPEATS = {True: 1, False: 3}
N_INIT = {True: 3, False: 10}
#: Spectral clustering: min_dist candidates, chosen on the known test rows.
MIN_DISTS = (0.1, 0.5)
#: The authors' tuned optdigits values, estimated-k setting (hyperparameters.json), full mode only.
AUTHORS_PBN = {"lr": 3.646e-4, "w": 0.1892, "p_dropout": 0.06607, "latent_dim": 53, "epochs": 200}
#: Regime bounds on k-means (raw) accuracy.
FLOOR, CEILING = 0.4, 0.95


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:, X.std(axis=0) > 0], y


def load_split(seed: int) -> tuple[NCDSplit, NCDSplit]:
    """One unit's training and test NCD splits, standardised on all training rows."""
    X, y = _digits()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=TEST_SIZE, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    return (novel_class_split(scaler.transform(X_tr), y_tr, NOVEL, KNOWN),
            novel_class_split(scaler.transform(X_te), y_te, NOVEL, KNOWN))


def _common(quick: bool, seed: int) -> dict:
    return {"k_range": K_RANGE[quick], "k_repeats": K_REPEATS[quick], "n_init": N_INIT[quick], "random_state": seed}


def make_pbn(quick: bool, seed: int, **params) -> PBN:
    """PBN with the reproduction's shared settings (``params`` override them)."""
    settings = {"latent_dim": LATENT_DIM, "lr": LR, "p_dropout": P_DROPOUT, "epochs": EPOCHS[quick],
                "batch_size": BATCH_SIZE, **_common(quick, seed)}
    return PBN(**{**settings, **params})


def make_baseline(quick: bool, seed: int) -> NCDBaselineEncoder:
    """The Baseline encoder with the same shared settings as PBN."""
    return NCDBaselineEncoder(latent_dim=LATENT_DIM, lr=LR, p_dropout=P_DROPOUT, epochs=EPOCHS[quick],
                              batch_size=BATCH_SIZE, **_common(quick, seed))


def _novel_acc_of_folds(models, test: NCDSplit) -> float:
    """Mean accuracy the fold models reach on the novel test rows at the true k (diagnostic only)."""
    return float(np.mean([clustering_accuracy(test.y_novel, m.cluster_novel(test.X_unlabelled, N_NOVEL))
                          for m in models]))


def tune(train: NCDSplit, test: NCDSplit, quick: bool, seed: int) -> dict:
    """Hidden-class CV of PBN's w grid and of the Baseline; the chosen w; CV score vs novel ACC per configuration."""
    data = (train.X_known, train.y_known, train.X_unlabelled)
    cv = {"pbn": hidden_class_cv(make_pbn(quick, seed), {"w": list(W_GRID)}, *data, n_folds=N_FOLDS,
                                 random_state=seed, return_estimators=True),
          "baseline": hidden_class_cv(make_baseline(quick, seed), {}, *data, n_folds=N_FOLDS, random_state=seed,
                                      return_estimators=True)}
    scores = np.concatenate([cv["pbn"]["mean_score"], cv["baseline"]["mean_score"]])
    novel = np.array([_novel_acc_of_folds(models, test) for name in ("pbn", "baseline")
                      for models in cv[name]["estimators"]])
    best = int(np.argmax(cv["pbn"]["mean_score"].to_numpy()))
    return {"w": float(W_GRID[best]), "cv_scores": scores.tolist(), "novel_acc": novel.tolist(),
            "spearman": _spearman(scores, novel), "spearman_pbn_only": _spearman(scores[:-1], novel[:-1]),
            "hidden_classes": cv["pbn"].attrs["hidden_classes"]}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation; 0 when either side is constant (no ranking to agree with)."""
    return float(spearmanr(a, b).statistic) if np.ptp(a) > 0 and np.ptp(b) > 0 else 0.0


def _raw_arms(train: NCDSplit, test: NCDSplit, quick: bool, seed: int) -> dict:
    k_hat = estimate_n_clusters(train.X_unlabelled, K_RANGE[quick], n_repeats=K_REPEATS[quick], n_init=N_INIT[quick],
                                random_state=seed).n_clusters
    arms = {"k_hat_raw": k_hat}
    for name, k in (("", k_hat), ("_k5", N_NOVEL)):
        kmeans = KMeans(n_clusters=k, n_init=N_INIT[quick], random_state=seed).fit_predict(test.X_unlabelled)
        ncd = NCDKMeans(n_clusters=k, n_init=N_INIT[quick], random_state=seed).fit(
            train.X_known, train.y_known, test.X_unlabelled).labels_
        arms[f"kmeans{name}"] = novel_class_scores(test.y_novel, kmeans)._asdict()
        arms[f"ncd_kmeans{name}"] = novel_class_scores(test.y_novel, ncd)._asdict()
    if not quick:
        arms["spectral"] = _spectral(test, k_hat, quick, seed)
    return arms


def _spectral(test: NCDSplit, k: int, quick: bool, seed: int) -> dict:
    """SC and NCD SC on the novel and known test rows, min_dist chosen on the known rows' accuracy."""
    fits = {d: NCDSpectralClustering(n_clusters=k, min_dist=d, n_init=N_INIT[quick], random_state=seed).fit(
        test.X_known, test.y_known, test.X_unlabelled) for d in MIN_DISTS}
    best = max(MIN_DISTS, key=lambda d: fits[d].known_accuracy_)
    plain = NCDSpectralClustering(n_clusters=k, min_dist=best, n_init=N_INIT[quick], random_state=seed).fit(
        test.X_unlabelled)
    return {"min_dist": best, "sc": novel_class_scores(test.y_novel, plain.labels_)._asdict(),
            "ncd_sc": novel_class_scores(test.y_novel, fits[best].labels_)._asdict()}


def _latent_arm(model, train: NCDSplit, test: NCDSplit) -> dict:
    model.fit(train.X_known, train.y_known, train.X_unlabelled)
    return {"k_hat": model.n_novel_classes_,
            "scores": novel_class_scores(test.y_novel, model.cluster_novel(test.X_unlabelled))._asdict(),
            "scores_k5": novel_class_scores(test.y_novel, model.cluster_novel(test.X_unlabelled, N_NOVEL))._asdict()}


def run_trial(seed: int, quick: bool) -> TrialResult:
    train, test = load_split(seed)
    tuning = tune(train, test, quick, seed)
    raw = _raw_arms(train, test, quick, seed)
    pbn = _latent_arm(make_pbn(quick, seed, w=tuning["w"]), train, test)
    baseline = _latent_arm(make_baseline(quick, seed), train, test)
    diagnostics = {"tuning": tuning, "raw": raw, "pbn": pbn, "baseline": baseline}
    if not quick:
        diagnostics["pbn_authors"] = _latent_arm(make_pbn(quick, seed, **AUTHORS_PBN), train, test)
    acc_kmeans = raw["kmeans"]["acc"]
    return TrialResult(
        pairs={
            "pbn-beats-kmeans": (acc_kmeans, pbn["scores"]["acc"]),
            "ncd-kmeans-beats-kmeans": (acc_kmeans, raw["ncd_kmeans"]["acc"]),
            "k-closer-in-latent": (abs(raw["k_hat_raw"] - N_NOVEL), abs(pbn["k_hat"] - N_NOVEL)),
            "pbn-beats-baseline": (baseline["scores"]["acc"], pbn["scores"]["acc"]),
            "cv-tracks-novel-acc": (0.0, tuning["spearman"]),
            "kmeans-off-floor": (FLOOR, acc_kmeans),
            "kmeans-off-ceiling": (CEILING, acc_kmeans),
        },
        diagnostics=diagnostics,
    )


_ACC = "clustering accuracy on novel test rows, k estimated"

REPRODUCTION = Reproduction(
    id="practical-ncd",
    title="A Practical Approach to Novel Class Discovery in Tabular Data",
    arxiv="2311.05440",
    claim=("Under realistic conditions (hyper-parameters tuned on hidden known classes, the number of novel "
           "classes estimated, novel labels never used) the simple projection-based model PBN discovers novel "
           "classes in tabular data better than clustering the raw features; its latent space estimates the "
           "number of novel classes more reliably, and NCD k-means improves on k-means."),
    paper_result=("7 tabular data sets, k estimated, tuning by hidden-class CV: PBN averages about 71% clustering "
                  "accuracy, ahead of TabularNCD, the Baseline and k-means; per-data-set numbers (optdigits among "
                  "them) are in the paper's tables, not restated here."),
    setup=(f"sklearn digits, known {KNOWN} / novel {NOVEL} (official optdigits split); per unit a stratified 70/30 "
           "re-split, standardised on all training rows; novel test rows clustered transductively with k "
           f"estimated by silhouette (k in {K_RANGE[True]} quick); PBN latent {LATENT_DIM}, lr {LR}, dropout "
           f"{P_DROPOUT}, batch {BATCH_SIZE}, {EPOCHS[True]} epochs (quick), w in {W_GRID} chosen by {N_FOLDS}-fold "
           "hidden-class CV; Baseline encoder with the same settings; k-means and NCD k-means on raw features."),
    checks=(
        Check("pbn-beats-kmeans", _ACC, "k-means (raw)", "PBN (hidden-class CV)", "greater",
              "PBN clusters the novel classes better than k-means on the raw features, both estimating k",
              "PBN is best or near-best under realistic conditions"),
        Check("ncd-kmeans-beats-kmeans", _ACC, "k-means (raw)", "NCD k-means (raw)", "greater",
              "fixing the known classes' centroids improves k-means on the novel classes",
              "NCD k-means improves over k-means"),
        Check("k-closer-in-latent", "|k_hat - 5|", "silhouette on raw features", "silhouette in PBN's latent", "less",
              "the number of novel classes is estimated more accurately in PBN's latent than in the raw features",
              "PBN's latent space estimates the number of novel classes reliably"),
        Check("pbn-beats-baseline", _ACC, "Baseline encoder (CE only)", "PBN (hidden-class CV)", "greater",
              "reconstructing all rows (PBN) beats the cross-entropy-only Baseline encoder",
              "PBN ahead of the baseline"),
        Check("cv-tracks-novel-acc", "Spearman(hidden-class CV score, novel ACC) over PBN's 3 w and the Baseline",
              "0", "rho", "greater", "the hidden-class score ranks configurations as their novel-class accuracy does",
              "tuning on hidden known classes transfers to novel classes", kind="mechanism"),
        Check("kmeans-off-floor", "k-means (raw) " + _ACC, f"{FLOOR}", "k-means (raw)", "greater",
              "k-means on raw features finds some novel-class structure", "novel classes are discoverable",
              kind="regime"),
        Check("kmeans-off-ceiling", "k-means (raw) " + _ACC, f"{CEILING}", "k-means (raw)", "less",
              "k-means on raw features leaves room to improve", "a non-saturated task", kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="pbn-beats-kmeans",
    unit=resampled_units(TEST_SIZE / (1 - TEST_SIZE), "a stratified 70/30 re-split of digits with its own seed"),
    trial_seconds=7.5,
)
