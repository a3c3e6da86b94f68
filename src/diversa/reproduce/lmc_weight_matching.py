"""Reproduction of linear mode connectivity after permutation weight matching.

Ito, Yamada, Kumagai, "Analysis of Linear Mode Connectivity via
Permutation-Based Weight Matching: With Insights into Other Permutation Search
Methods", ICLR 2025 (arXiv:2402.04051), on the algorithms of Ainsworth,
Hayase, Srinivasa, "Git Re-Basin", ICLR 2023 (arXiv:2209.04836). No official
code for Ito et al.; weight matching is git re-basin's (spec ``merge.md``
section 6).

**Claim.** Two networks trained from different seeds are separated by a loss
barrier on the straight line between them; after the hidden units of one are
permuted by weight matching (WM) the barrier nearly vanishes for wide enough
networks. Ito et al. explain it: WM barely shortens the distance between the
models, but aligns the singular vectors with the largest singular values, which
the midpoint then keeps.

**Unit** (independent): a fresh data set drawn by scikit-learn's
``make_classification`` (10 classes, 32 features of which 16 informative and 8
redundant, 2 clusters per class, class separation 1.5, 1% flipped labels,
standardized on the training part; 4,000 training and 1,000 test points) and
two MLPs 32-256-256-10 (ReLU) trained on it from different initializations
and batch orders (Adam, lr 1e-3, batch 64, 20 epochs), plus two narrow MLPs
32-16-16-10 trained the same way. The spec suggested digits; a generator gives
independent units (fresh data per unit) instead of re-splits of one data set.

**Arms.** Naive: interpolate ``theta_a`` and ``theta_b`` as trained. WM:
interpolate ``theta_a`` and ``pi(theta_b)``, ``pi`` from weight matching with
the spec traced from the model. AM: ``pi`` from activation matching on 1,024
training inputs. Each path is evaluated at git re-basin's 25 evenly spaced
points; the barrier is the largest rise of the loss above the endpoints' chord
(largest drop of accuracy below it).

**Checks** (all decided before any result was seen):

* headline: the WM test-loss barrier is smaller than the naive one;
* secondary claims: the WM barrier is near zero, declared as below a tenth of
  the naive barrier; the same on the training loss; the accuracy barrier
  shrinks; activation matching shrinks the barrier too; WM leaves a smaller
  barrier on the wide networks than on the narrow ones ("wide enough");
* mechanism: WM shortens the distance between the models by less than half
  (distance ratio > 0.5); the midpoint keeps the top-5 singular components of
  the hidden-to-hidden weight better after WM; WM's gain in retention is
  larger for the top-5 components than for a middle band (indices 100-104);
* regime: the wide models are trained (mean endpoint test accuracy at least
  0.4 above chance), and the naive barrier is material (at least 0.1 nats).

Not covered: the straight-through estimator and merging three or more models
(Ito et al.'s claim (v)); both need many more training steps per unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from torch import nn

from diversa.combine.permute import (
    activation_matching,
    apply_permutation,
    barrier,
    classification_evaluator,
    distance_ratio,
    interpolation_curve,
    normalized_distance,
    permutation_spec,
    singular_component_retention,
    weight_matching,
)
from diversa.reproduce.registry import Check, Reproduction, TrialResult

N_CLASSES = 10
CHANCE = 1.0 / N_CLASSES
#: Regime thresholds: endpoint accuracy above chance, naive barrier (nats).
TRAINED_MARGIN, MATERIAL_BARRIER = 0.4, 0.1
#: "Near zero": the WM barrier below this fraction of the naive barrier.
NEAR_ZERO_FRACTION = 0.1
#: Ito et al.'s measured quantities: distance kept by WM, retention bands of the hidden-to-hidden weight.
DISTANCE_KEPT = 0.5
TOP, MIDDLE = tuple(range(5)), tuple(range(100, 105))
N_POINTS = 25
AM_INPUTS = 1024


@dataclass(frozen=True)
class Sizes:
    """The experiment's sizes (module-level so tests can shorten it)."""

    n_features: int = 32
    n_train: int = 4000
    n_test: int = 1000
    width: int = 256
    narrow: int = 16
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3


SIZES = Sizes()


def make_data(seed: int, sizes: Sizes = SIZES):
    """A fresh classification data set: standardized float32 (X_train, y_train, X_test, y_test)."""
    X, y = make_classification(n_samples=sizes.n_train + sizes.n_test, n_features=sizes.n_features,
                               n_informative=sizes.n_features // 2, n_redundant=sizes.n_features // 4,
                               n_classes=N_CLASSES, n_clusters_per_class=2, class_sep=1.5, flip_y=0.01,
                               random_state=seed)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=sizes.n_test, stratify=y, random_state=seed)
    mean, std = X_tr.mean(0), X_tr.std(0) + 1e-8
    as_x = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)  # noqa: E731
    return as_x(X_tr), torch.tensor(y_tr), as_x(X_te), torch.tensor(y_te)


def make_mlp(n_features: int, width: int) -> nn.Sequential:
    """MLP ``n_features -> width -> width -> 10`` with ReLU (git re-basin's MNIST MLP, narrower)."""
    return nn.Sequential(nn.Linear(n_features, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, N_CLASSES))


def train_mlp(X: torch.Tensor, y: torch.Tensor, width: int, seed: int, sizes: Sizes = SIZES) -> nn.Sequential:
    """Adam on cross-entropy; ``seed`` sets the initialization and the batch order."""
    torch.manual_seed(seed)
    model = make_mlp(X.shape[1], width)
    optimizer = torch.optim.Adam(model.parameters(), lr=sizes.lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(sizes.epochs):
        order = torch.randperm(len(X), generator=g)
        for start in range(0, len(X), sizes.batch_size):
            batch = order[start:start + sizes.batch_size]
            optimizer.zero_grad()
            F.cross_entropy(model(X[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def _barriers(evaluate, a, b) -> dict[str, float | list]:
    curve = interpolation_curve(evaluate, a, b, N_POINTS)
    return {"loss": barrier(curve, "loss"), "accuracy": barrier(curve, "accuracy", higher_is_better=True),
            "endpoint_accuracy": (curve.values["accuracy"][0] + curve.values["accuracy"][-1]) / 2,
            "loss_curve": curve.values["loss"].round(4).tolist(),
            "accuracy_curve": curve.values["accuracy"].round(4).tolist()}


def measure_pair(seed: int, width: int, data, sizes: Sizes = SIZES, with_am: bool = True) -> dict:
    """Train two models of ``width`` on ``data`` and measure naive, WM (and AM) paths and diagnostics."""
    X_tr, y_tr, X_te, y_te = data
    model_a = train_mlp(X_tr, y_tr, width, 2 * seed + 1, sizes)
    model_b = train_mlp(X_tr, y_tr, width, 2 * seed + 2, sizes)
    a, b = model_a.state_dict(), model_b.state_dict()
    spec = permutation_spec(model_a, X_tr[:2])
    aligned = {"naive": b, "wm": apply_permutation(spec, weight_matching(spec, a, b, random_state=seed), b)}
    if with_am:
        aligned["am"] = apply_permutation(spec, activation_matching(model_a, model_b, X_tr[:AM_INPUTS], spec=spec), b)
    probe = make_mlp(X_tr.shape[1], width)
    test_eval = classification_evaluator(probe, X_te, y_te)
    train_eval = classification_evaluator(probe, X_tr, y_tr)
    out: dict = {}
    for arm, b_arm in aligned.items():
        out[arm] = {"test": _barriers(test_eval, a, b_arm), "train": _barriers(train_eval, a, b_arm)}
        out[arm]["normalized_distance"] = normalized_distance(a, b_arm)
        w_mid = (a["2.weight"] + b_arm["2.weight"]) / 2
        if width > max(MIDDLE):
            retention = singular_component_retention(a["2.weight"], w_mid)
            out[arm]["retention_top"] = float(retention[list(TOP)].mean())
            out[arm]["retention_middle"] = float(retention[list(MIDDLE)].mean())
    out["distance_ratio"] = distance_ratio(a, b, aligned["wm"])
    return out


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One unit: a fresh data set, two wide and two narrow MLPs (the same work in quick and full mode)."""
    data = make_data(seed, SIZES)
    wide = measure_pair(seed, SIZES.width, data, SIZES)
    narrow = measure_pair(seed, SIZES.narrow, data, SIZES, with_am=False)
    naive, wm, am = wide["naive"], wide["wm"], wide["am"]
    gain_top = wm["retention_top"] - naive["retention_top"]
    gain_middle = wm["retention_middle"] - naive["retention_middle"]
    diagnostics = {
        "wide": wide, "narrow": narrow,
        "summary": {"naive_test_barrier": naive["test"]["loss"], "wm_test_barrier": wm["test"]["loss"],
                    "am_test_barrier": am["test"]["loss"], "narrow_wm_test_barrier": narrow["wm"]["test"]["loss"],
                    "endpoint_test_accuracy": naive["test"]["endpoint_accuracy"],
                    "distance_ratio": wide["distance_ratio"],
                    "normalized_distance_naive": naive["normalized_distance"],
                    "normalized_distance_wm": wm["normalized_distance"]},
    }
    return TrialResult(
        pairs={
            "wm-barrier-vs-naive": (naive["test"]["loss"], wm["test"]["loss"]),
            "wm-barrier-near-zero": (NEAR_ZERO_FRACTION * naive["test"]["loss"], wm["test"]["loss"]),
            "wm-train-barrier-vs-naive": (naive["train"]["loss"], wm["train"]["loss"]),
            "wm-accuracy-barrier-vs-naive": (naive["test"]["accuracy"], wm["test"]["accuracy"]),
            "am-barrier-vs-naive": (naive["test"]["loss"], am["test"]["loss"]),
            "wide-enough": (narrow["wm"]["test"]["loss"], wm["test"]["loss"]),
            "distance-barely-shrinks": (DISTANCE_KEPT, wide["distance_ratio"]),
            "top-components-kept": (naive["retention_top"], wm["retention_top"]),
            "top-aligned-before-middle": (gain_middle, gain_top),
            "models-trained": (CHANCE + TRAINED_MARGIN, naive["test"]["endpoint_accuracy"]),
            "naive-barrier-material": (MATERIAL_BARRIER, naive["test"]["loss"]),
        },
        diagnostics=diagnostics,
    )


_WIDE, _NARROW = f"{SIZES.width}-wide", f"{SIZES.narrow}-wide"

REPRODUCTION = Reproduction(
    id="lmc-weight-matching",
    title="Analysis of Linear Mode Connectivity via Permutation-Based Weight Matching",
    arxiv="2402.04051",
    claim=("After permuting one of two independently trained networks by weight matching, the loss barrier on "
           "the straight line between them nearly vanishes for wide enough networks, although weight matching "
           "barely reduces the distance between them: it aligns the singular vectors with the largest singular "
           "values, which the interpolated model keeps."),
    paper_result=("MLP on MNIST/FMNIST, VGG/ResNet on CIFAR-10: barrier near zero after WM for wide models "
                  "(exact values not accessible); git re-basin (arXiv:2209.04836) reports MNIST MLP loss barriers "
                  "near zero after WM against clearly positive naive barriers; spec prototype (digits MLP, one "
                  "pair): test-loss barrier 0.54 naive -> 0.017 WM, distance ratio 0.75, top-5 retention "
                  "0.48-0.50 -> 0.80-0.88."),
    setup=(f"fresh make_classification data per unit (10 classes, 32 features, {SIZES.n_train} train / "
           f"{SIZES.n_test} test); two MLPs 32-{SIZES.width}-{SIZES.width}-10 per unit from different seeds "
           f"(Adam 1e-3, {SIZES.epochs} epochs, batch 64) and two {_NARROW} ones; barrier = largest rise of the "
           f"loss above the endpoints' chord over {N_POINTS} points; WM = git re-basin coordinate descent on the "
           "traced spec, AM = activation correlation on 1,024 training inputs; near zero = below "
           f"{NEAR_ZERO_FRACTION} x the naive barrier; regime: endpoint accuracy >= chance + {TRAINED_MARGIN}, "
           f"naive barrier >= {MATERIAL_BARRIER} nats; a unit = one data seed and its trained models."),
    checks=(
        Check("wm-barrier-vs-naive", "test-loss barrier (nats)", "naive interpolation",
              "interpolation after weight matching", "less",
              "weight matching shrinks the loss barrier between independently trained models",
              "barrier nearly vanishes after WM (MNIST/CIFAR-10; values not accessible); spec prototype 0.54 -> "
              "0.017"),
        Check("wm-barrier-near-zero", "test-loss barrier (nats)", f"{NEAR_ZERO_FRACTION} x naive barrier",
              "barrier after weight matching", "less",
              f"near zero: WM removes more than {1 - NEAR_ZERO_FRACTION:.0%} of the naive barrier",
              "near-zero barrier for wide models"),
        Check("wm-train-barrier-vs-naive", "train-loss barrier (nats)", "naive interpolation",
              "interpolation after weight matching", "less", "the same on the training loss",
              "train and test barriers both vanish (git re-basin Fig. 2)"),
        Check("wm-accuracy-barrier-vs-naive", "test-accuracy barrier", "naive interpolation",
              "interpolation after weight matching", "less",
              "the midpoint keeps the endpoints' accuracy after WM", "spec prototype midpoint accuracy 0.85 -> 0.98"),
        Check("am-barrier-vs-naive", "test-loss barrier (nats)", "naive interpolation",
              "interpolation after activation matching", "less",
              "activation matching also shrinks the barrier (it aligns the same directions)",
              "AM behaves like WM (Ito et al. section on other permutation searches)"),
        Check("wide-enough", "test-loss barrier after WM (nats)", f"{_NARROW} MLPs", f"{_WIDE} MLPs", "less",
              "the barrier left after WM shrinks as the networks widen",
              "git re-basin Fig. 4: barrier after WM falls with width"),
        Check("distance-barely-shrinks", "L2 distance after WM / before", f"{DISTANCE_KEPT}",
              "after weight matching", "greater",
              "WM removes less than half of the distance between the models, so LMC is not proximity",
              "WM barely reduces the L2 distance; spec prototype ratio 0.75", kind="mechanism"),
        Check("top-components-kept", "mean retention of top-5 singular components (layer 2)",
              "naive midpoint", "midpoint after weight matching", "greater",
              "the midpoint keeps the dominant singular components after WM",
              "WM aligns the largest singular vectors; spec prototype 0.48-0.50 -> 0.80-0.88", kind="mechanism"),
        Check("top-aligned-before-middle", "retention gain from WM", "middle band (indices 100-104)",
              "top-5 components", "greater",
              "WM's alignment concentrates on the large singular values",
              "WM mainly aligns the singular vectors of large singular values; prototype gains ~0.35 vs ~0.07",
              kind="mechanism"),
        Check("models-trained", "mean endpoint test accuracy", f"chance + {TRAINED_MARGIN}",
              f"the two {_WIDE} models", "greater", "the models are trained well above chance",
              "trained models (MNIST ~98%)", kind="regime"),
        Check("naive-barrier-material", "test-loss barrier (nats)", f"{MATERIAL_BARRIER} nats",
              "naive interpolation", "greater", "the naive path has a barrier to remove",
              "naive barriers are large (git re-basin Fig. 2)", kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="wm-barrier-vs-naive",
    trial_seconds=8.0,
)
