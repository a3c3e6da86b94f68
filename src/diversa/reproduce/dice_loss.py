"""Reproduction of the Dice-loss claim: DSC beats cross-entropy on F1 in imbalanced tasks.

Li, Sun, Meng, Liang, Wu, Li, "Dice Loss for Data-imbalanced NLP Tasks",
ACL 2020, arXiv:1911.02855.

Design (spec ``tabular.md#dice-loss``), one unit = one seed of data and model
(every task is generated afresh per seed), all losses trained from the same
initialisation on the same mini-batch order:

* Task A, imbalanced token tagging (:func:`diversa.datasets.tagging.make_tagging_data`,
  2000/500/1000 train/val/test sequences) with overlapping cues:
  ``ambiguity=0.5``, i.e. weak entity words are also names without a trigger,
  each with its own probability spread over (0, 0.5), plus the spec's 2%
  label noise on positives. About 5% of tokens are positive and about a fifth
  of the positives sit where the true posterior is below 0.5. Embedding(300,
  32) -> 1-layer BiGRU(64) -> Linear(128, 1), Adam lr 3e-3, batch 32, 8
  epochs, padding mask in every loss.
* Task B, imbalanced binary classification (``make_classification`` with 5%
  positives, 2% label noise, 60/20/20 stratified split, standardised):
  MLP 20-64-64-1, same optimiser and loss set.
* Task C, negative control: a balanced 5-class task (``make_classification``
  with 4,000 rows, 20 features of which 10 informative, 2% label noise, a
  fresh draw per seed, like SST-5's five balanced classes), MLP 20-64-64-5,
  cross-entropy vs multi-class DSC, scored by accuracy.

Why the ambiguity. The paper's gain comes from cross-entropy under-predicting
positives under imbalance: trained for accuracy, it says "no" wherever a
positive is less likely than not, and in NER many positives are such
uncertain mentions (its best F1 scores are 0.82-0.93, far from 1). The spec's
generator was nearly deterministic (BCE F1 0.97, every positive recoverable),
so there was nothing to under-predict. ``ambiguity=0.5`` was chosen from that
regime, before any verdict: the best achievable F1 at a 0.5 threshold is
about 0.87, inside the paper's range, with about 20% of the positives below
posterior 0.5. A ``regime`` check states it: BCE's positive recall at 0.5 is
below its precision (task A, and likewise task B); if not, the F1 claims are
out of regime.

Losses on binary heads: BCE, WBCE (``pos_weight = n_neg/n_pos``, the fair
baseline for imbalance), focal loss (``g = 2``), plain Dice DL (``alpha =
0``, squared denominator, batch form), DSC (``alpha = 0.01``, squared
denominator, batch form: the official setting), DSC with per-example
reduction, and Tversky TL (``a = 0.3``, ``b = 0.7``). Quick mode trains BCE,
WBCE, FL, DL and DSC (every loss a check uses); full mode adds DSC-example
and TL to the diagnostics.

Metrics: F1 of the positive class at threshold 0.5 (the paper's decision rule),
F1 at the threshold that maximises validation F1, recall and precision at 0.5,
and the predicted-positive rate against the true rate. The control claim is an
equivalence (TOST) of DSC's and CE's accuracy within 1 point: the paper reports
DSC "not better" on balanced tasks with differences under a point (SST-2 94.90
vs 94.84, SST-5 55.57 vs 55.19; plain Dice 0.5-0.9 worse; decimals as
recalled). Deviations from the spec, each stated here:

* The spec runs task C in full mode only on digits; a reproduction declares
  the same checks in both modes, so the (cheap) control runs in quick mode
  too, on a generated task so that its units are independent like the others.
* The spec's TL entry gives no reduction; like DL and DSC on binary heads it
  uses the set-level (batch) form here.
* To fit eight units into the quick-mode budget, quick mode trains the
  tagger on 400 sequences instead of 2000 (validation and test sets keep
  their size). This was 600 until a first quick run of this design took 289
  CPU seconds (on a heavily shared machine) with the added WBCE arm; it was
  cut with the control's 5,000 rows (now 4,000) for the budget alone. That
  run's verdicts: headline inconclusive (BCE 0.874, DSC 0.859), regime checks
  passed.
* Task C trains 20 epochs (the spec does not say; 8 leave the MLP visibly
  unconverged).

Run time (quick-mode budget). The arms of a task share their data,
initialisation and batch order, so they are trained together as stacked
copies (:class:`StackedBiGRUTagger`, :class:`StackedMLP`): one batched step
per mini-batch instead of one per loss, each copy with its own parameters and
its own loss's gradient. This changes no setting, only float rounding (tagger
outputs agree with ``torch.nn.GRU`` to about 1e-7; on the pilot seed every
task-A and task-B F1 came out identical to four decimals, the control's CE
accuracy moved by 3 of 800 test rows). Work cuts were weighed first and
rejected on the pilot seed's validation split: the tagger at 6 instead of 8
epochs dropped BCE's F1 from 0.866 to 0.808 (DSC 0.818 to 0.792), task B at
4 instead of 8 epochs dropped BCE's from 0.713 to 0.635, so both would change
the regime rather than the cost. Measured on eight quick units (one thread):
145 CPU seconds of trials before, 89-92 after (whole process 161 -> 102-106),
with every task-A and task-B check identical to the last digit and the
control's checks moved by under 0.001 (verdicts unchanged).

Change of design (audit): the tagging task had no ambiguity, WBCE ran in full
mode only, the control was one-sided ("DSC <= CE + 0.5") on re-split digits.
The previous quick run found BCE ahead on tagging F1 (0.974 vs 0.946); the
new task, the WBCE comparison and the equivalence margin were set from the
paper's regime and numbers, not from that result.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from diversa.datasets.tagging import make_tagging_data
from diversa.nn.losses import dice_loss, tversky_loss
from diversa.reproduce.registry import Check, Reproduction, TrialResult

#: Task A sizes (sequences) and generator settings (spec, plus the ambiguity of the paper's regime).
TAGGING = {"n_train": 2000, "n_val": 500, "n_test": 1000, "L": 40, "vocab": 300, "ambiguity": 0.5}
#: Task A training sequences in quick mode (the BiGRU dominates the run time).
QUICK_N_TRAIN = 400
#: Task B data (spec).
CLASSIFICATION = {"n_samples": 6000, "n_features": 20, "n_informative": 6, "weights": [0.95],
                  "flip_y": 0.02, "class_sep": 0.8}
#: Task C, the balanced negative control (five classes like SST-5).
CONTROL = {"n_samples": 4000, "n_features": 20, "n_informative": 10, "n_redundant": 0, "n_classes": 5,
           "n_clusters_per_class": 1, "flip_y": 0.02, "class_sep": 1.0}
#: Equivalence margin of the control (accuracy points; see the module docstring).
CONTROL_MARGIN = 0.01
#: Control accuracy above which the equivalence would be trivial (both at ceiling).
CONTROL_CEILING = 0.97
EPOCHS = 8
CONTROL_EPOCHS = 20
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
QUICK_LOSSES = ("BCE", "WBCE", "FL", "DL", "DSC")
FULL_LOSSES = ("BCE", "WBCE", "FL", "DL", "DSC", "DSC-example", "TL")
#: The claims about task A (out of regime when BCE does not under-predict there).
TAGGING_CLAIMS = ("tagging-f1", "dsc-vs-wbce", "tagging-f1-tuned", "dsc-vs-focal", "dsc-vs-dice")


# ----------------------------------------------------------------------------- models

class BiGRUTagger(nn.Module):
    """Embedding -> one bidirectional GRU layer -> one logit per token.

    Sequences are not packed (packing is slower here): the backward direction
    reads the trailing padding first, whose embedding is fixed at zero
    (``padding_idx=0``); the loss masks the padded positions.
    """

    def __init__(self, vocab: int = 300, embedding_dim: int = 32, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding_dim, padding_idx=0)
        self.gru = nn.GRU(embedding_dim, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, tokens):                     # (B, L) -> (B, L)
        states, _ = self.gru(self.embed(tokens))
        return self.head(states).squeeze(-1)


class StackedBiGRUTagger(nn.Module):
    """``copies`` independent copies of one :class:`BiGRUTagger`, run together on the same tokens.

    The GRU recurrence of ``torch.nn.GRU`` (gates r, z, n in its weight
    order) is written out so that every copy and both directions advance in
    one batched step per position: the small tagger is bound by per-step
    overhead, not arithmetic. Each copy keeps its own parameters (a slice of a
    stacked tensor) and starts from the template's weights.
    """

    def __init__(self, template: BiGRUTagger, copies: int):
        super().__init__()
        gru = template.gru

        def stacked(*tensors):                     # one row per (direction, copy): (2 * copies, ...)
            return nn.Parameter(torch.cat([t.detach().expand(copies, *t.shape) for t in tensors]).clone())

        self.copies = copies
        self.embed = nn.Parameter(template.embed.weight.detach().repeat(copies, 1, 1))
        self.w_ih = stacked(gru.weight_ih_l0.T, gru.weight_ih_l0_reverse.T)
        self.b_ih = stacked(gru.bias_ih_l0[None], gru.bias_ih_l0_reverse[None])
        self.w_hh = stacked(gru.weight_hh_l0.T, gru.weight_hh_l0_reverse.T)
        self.b_hh = stacked(gru.bias_hh_l0[None], gru.bias_hh_l0_reverse[None])
        self.head_w = nn.Parameter(template.head.weight.detach().T.repeat(copies, 1, 1))
        self.head_b = nn.Parameter(template.head.bias.detach().repeat(copies, 1, 1))

    def forward(self, tokens):                     # (B, L) -> (copies, B, L)
        embedded = torch.stack([F.embedding(tokens, weight, padding_idx=0) for weight in self.embed])
        embedded = torch.cat([embedded, embedded.flip(2)])          # the reverse direction reads right to left
        batch, length = tokens.shape
        gates_x = (embedded.flatten(1, 2) @ self.w_ih + self.b_ih).view(2 * self.copies, batch, length, -1)
        hidden = embedded.new_zeros(2 * self.copies, batch, self.w_hh.shape[1])
        states = []
        for gates_t in gates_x.unbind(2):          # unbind, not indexing: its backward is one stack, not L fills
            gates_h = torch.baddbmm(self.b_hh, hidden, self.w_hh)
            x_rz, x_n = gates_t.split([2 * hidden.shape[-1], hidden.shape[-1]], -1)
            h_rz, h_n = gates_h.split([2 * hidden.shape[-1], hidden.shape[-1]], -1)
            reset, update = torch.sigmoid(x_rz + h_rz).chunk(2, -1)
            candidate = torch.tanh(x_n + reset * h_n)
            hidden = candidate + update * (hidden - candidate)
            states.append(hidden)
        states = torch.stack(states, 2)
        forward, backward = states[:self.copies], states[self.copies:].flip(2)
        return torch.baddbmm(self.head_b, torch.cat([forward, backward], -1).flatten(1, 2),
                             self.head_w).view(self.copies, batch, length)


def mlp(n_in: int, n_out: int, hidden: int = 64) -> nn.Module:
    """Two hidden ReLU layers; ``n_out = 1`` gives a binary head of one logit per row, shape (N,)."""
    layers = [nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out)]
    return nn.Sequential(*layers, *([nn.Flatten(0)] if n_out == 1 else []))


# ----------------------------------------------------------------------------- losses on binary heads

def binary_focal_loss(logits, target, mask, gamma: float = 2.0):
    """Focal loss ``-(1 - p_t)^g log p_t`` of a sigmoid head, mean over unmasked positions.

    Equals the softmax focal loss on the logits ``[0, z]`` (the spec's binary
    form; the official code stacks ``[1-p, p]``).
    """
    signed = torch.where(target.bool(), logits, -logits)
    log_pt = F.logsigmoid(signed)
    per_position = -((1 - log_pt.exp()) ** gamma) * log_pt
    return per_position[mask].mean()


def make_binary_loss(name: str, pos_weight: float):
    """The loss ``name`` as a function ``(logits, target, mask) -> scalar`` for a sigmoid head."""
    if name == "BCE":
        return lambda z, y, m: F.binary_cross_entropy_with_logits(z[m], y[m].to(z.dtype))
    if name == "WBCE":
        weight = torch.tensor(pos_weight)
        return lambda z, y, m: F.binary_cross_entropy_with_logits(z[m], y[m].to(z.dtype), pos_weight=weight)
    if name == "FL":
        return binary_focal_loss
    if name == "DL":
        return lambda z, y, m: dice_loss(z, y, m, alpha=0.0, smooth=1.0, square_denominator=True, reduction="batch")
    if name == "DSC":
        return lambda z, y, m: dice_loss(z, y, m, alpha=0.01, smooth=1.0, square_denominator=True,
                                         reduction="batch")
    if name == "DSC-example":
        return lambda z, y, m: dice_loss(z, y, m, alpha=0.01, smooth=1.0, square_denominator=True,
                                         reduction="example")
    if name == "TL":
        return lambda z, y, m: tversky_loss(z, y, m, fp_weight=0.3, fn_weight=0.7, smooth=1.0, reduction="batch")
    raise ValueError(f"unknown loss {name!r}.")


# ----------------------------------------------------------------------------- training and scoring

def train(model: nn.Module, inputs, target, mask, loss_fn, *, seed: int, epochs: int) -> nn.Module:
    """Adam on shuffled mini-batches; the batch order depends on ``seed`` only."""
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    order = torch.Generator().manual_seed(seed)
    n = inputs.shape[0]
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(n, generator=order).split(BATCH_SIZE):
            optimiser.zero_grad()
            loss_fn(model(inputs[batch]), target[batch], mask[batch]).backward()
            optimiser.step()
    return model


class StackedMLP(nn.Module):
    """``copies`` independent copies of one :func:`mlp`, evaluated together on the same inputs.

    Every copy starts from the template's weights, so the arms of a task share
    their initialisation as when trained one by one; their parameters stay
    separate (one slice each of a stacked tensor, and Adam's update is
    elementwise), so training them together under the sum of their losses
    gives every copy the gradient of its own loss. One batched step replaces
    ``copies`` small ones: the MLP tasks are bound by per-step overhead.
    """

    def __init__(self, template: nn.Sequential, copies: int):
        super().__init__()
        linears = [layer for layer in template if isinstance(layer, nn.Linear)]
        self.squeeze = isinstance(template[-1], nn.Flatten)
        self.weights = nn.ParameterList(
            nn.Parameter(layer.weight.detach().T.repeat(copies, 1, 1)) for layer in linears)
        self.biases = nn.ParameterList(
            nn.Parameter(layer.bias.detach().repeat(copies, 1, 1)) for layer in linears)

    def forward(self, inputs):                     # (B, n_in) -> (copies, B, n_out), or (copies, B) for one logit
        hidden = inputs.expand(self.weights[0].shape[0], -1, -1)
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            hidden = torch.baddbmm(bias, hidden, weight)
            if i < len(self.weights) - 1:
                hidden = torch.relu(hidden)
        return hidden.squeeze(-1) if self.squeeze else hidden


def summed(loss_fns):
    """The loss of stacked copies: copy ``k``'s output under ``loss_fns[k]``, summed.

    The sum's gradient with respect to copy ``k``'s parameters is exactly its own loss's gradient.
    """
    return lambda outputs, y, m: sum(loss_fn(output, y, m) for loss_fn, output in zip(loss_fns, outputs))


def train_stacked(template: nn.Sequential, inputs, target, mask, loss_fns, *, seed: int, epochs: int) -> StackedMLP:
    """Copy ``k`` of the template trained on ``loss_fns[k]``, as :func:`train` would, all in one loop."""
    return train(StackedMLP(template, len(loss_fns)), inputs, target, mask, summed(loss_fns), seed=seed, epochs=epochs)


@torch.no_grad()
def predict_proba(model: nn.Module, inputs, chunk: int = 256) -> torch.Tensor:
    """Sigmoid probabilities of stacked binary-head copies, shape (copies, N, ...), in evaluation mode.

    Rows go through in chunks so that the stacked tagger's gate tensors stay small.
    """
    model.eval()
    return torch.cat([torch.sigmoid(model(part)) for part in inputs.split(chunk)], dim=1)


def f1(y: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of the positive class (0 when there is no true or predicted positive)."""
    tp = float(np.sum(predicted & (y == 1)))
    denominator = float(np.sum(predicted)) + float(np.sum(y == 1))
    return 2 * tp / denominator if denominator else 0.0


def best_threshold(y: np.ndarray, prob: np.ndarray) -> float:
    """The threshold ``t`` (predict ``prob > t``) with the highest F1 on (y, prob)."""
    candidates = np.unique(np.quantile(prob, np.linspace(0, 1, 201)))
    candidates = np.concatenate([[0.5], candidates[candidates < 1]])
    scores = [f1(y, prob > t) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def recall_precision(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Recall and precision of the positive class (0 where undefined)."""
    tp = float(np.sum(predicted & (y == 1)))
    positives, predicted_positives = float(np.sum(y == 1)), float(np.sum(predicted))
    return (tp / positives if positives else 0.0), (tp / predicted_positives if predicted_positives else 0.0)


def score(y_val, p_val, y_test, p_test) -> dict[str, float]:
    """F1, recall and precision at 0.5, F1 at the validation-tuned threshold, predicted and true positive rates."""
    threshold = best_threshold(y_val, p_val)
    recall, precision = recall_precision(y_test, p_test > 0.5)
    return {"f1": f1(y_test, p_test > 0.5), "f1_tuned": f1(y_test, p_test > threshold), "threshold": threshold,
            "recall": recall, "precision": precision,
            "pred_rate": float(np.mean(p_test > 0.5)), "true_rate": float(np.mean(y_test))}


def run_tagging(seed: int, losses, n_train: int = TAGGING["n_train"]) -> dict[str, dict[str, float]]:
    """Task A: every loss in ``losses`` on one draw of the tagging data."""
    sizes = (n_train, TAGGING["n_val"], TAGGING["n_test"])
    data = make_tagging_data(sum(sizes), L=TAGGING["L"], vocab=TAGGING["vocab"], seed=seed,
                             ambiguity=TAGGING["ambiguity"])
    tokens, labels, mask = (torch.as_tensor(a) for a in data)
    train_ids, val_ids, test_ids = torch.arange(sum(sizes)).split(sizes)
    y_train = labels[train_ids][mask[train_ids]]
    pos_weight = float((y_train == 0).sum() / (y_train == 1).sum())
    torch.manual_seed(seed)
    model = StackedBiGRUTagger(BiGRUTagger(TAGGING["vocab"]), len(losses))
    model = train(model, tokens[train_ids], labels[train_ids], mask[train_ids],
                  summed([make_binary_loss(name, pos_weight) for name in losses]), seed=seed, epochs=EPOCHS)
    p_val = predict_proba(model, tokens[val_ids])[:, mask[val_ids]].numpy()
    p_test = predict_proba(model, tokens[test_ids])[:, mask[test_ids]].numpy()
    y_val, y_test = labels[val_ids][mask[val_ids]].numpy(), labels[test_ids][mask[test_ids]].numpy()
    return {name: score(y_val, p_val[k], y_test, p_test[k]) for k, name in enumerate(losses)}


def _split(X, y, seed: int):
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest,
                                                    random_state=seed)
    scaler = StandardScaler().fit(X_train)

    def as_tensor(a):
        return torch.as_tensor(scaler.transform(a), dtype=torch.float32)

    return as_tensor(X_train), as_tensor(X_val), as_tensor(X_test), y_train, y_val, y_test


def run_classification(seed: int, losses) -> dict[str, dict[str, float]]:
    """Task B: every loss in ``losses`` on one draw of the imbalanced classification data."""
    X, y = make_classification(random_state=seed, **CLASSIFICATION)
    X_train, X_val, X_test, y_train, y_val, y_test = _split(X, y, seed)
    target = torch.as_tensor(y_train)
    everywhere = torch.ones(len(y_train), dtype=torch.bool)
    pos_weight = float((y_train == 0).sum() / (y_train == 1).sum())
    torch.manual_seed(seed)
    model = train_stacked(mlp(X.shape[1], 1), X_train, target, everywhere,
                          [make_binary_loss(name, pos_weight) for name in losses], seed=seed, epochs=EPOCHS)
    p_val, p_test = predict_proba(model, X_val).numpy(), predict_proba(model, X_test).numpy()
    return {name: score(y_val, p_val[k], y_test, p_test[k]) for k, name in enumerate(losses)}


def run_control(seed: int) -> dict[str, float]:
    """Task C: test accuracy of cross-entropy and multi-class DSC on a fresh balanced 5-class task."""
    X, y = make_classification(random_state=seed, **CONTROL)
    X_train, _, X_test, y_train, _, y_test = _split(X, y, seed)
    target = torch.as_tensor(y_train)
    everywhere = torch.ones(len(y_train), dtype=torch.bool)
    objectives = {
        "CE": lambda z, t, m: F.cross_entropy(z, t),
        "DSC": lambda z, t, m: dice_loss(z, t, m, alpha=0.01, smooth=1.0, square_denominator=True),
    }
    torch.manual_seed(seed)
    model = train_stacked(mlp(X.shape[1], CONTROL["n_classes"]), X_train, target, everywhere,
                          list(objectives.values()), seed=seed, epochs=CONTROL_EPOCHS)
    model.eval()
    with torch.no_grad():
        predicted = model(X_test).argmax(-1).numpy()
    return {name: float((predicted[k] == y_test).mean()) for k, name in enumerate(objectives)}


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One seed: tasks A, B and C with the mode's loss set."""
    losses = QUICK_LOSSES if quick else FULL_LOSSES
    tagging = run_tagging(seed, losses, QUICK_N_TRAIN if quick else TAGGING["n_train"])
    classification = run_classification(seed, losses)
    control = run_control(seed)
    gap = {name: abs(r["pred_rate"] - r["true_rate"]) for name, r in tagging.items()}
    return TrialResult(
        pairs={
            "tagging-f1": (tagging["BCE"]["f1"], tagging["DSC"]["f1"]),
            "dsc-vs-wbce": (tagging["WBCE"]["f1"], tagging["DSC"]["f1"]),
            "tagging-f1-tuned": (tagging["BCE"]["f1_tuned"], tagging["DSC"]["f1_tuned"]),
            "classification-f1": (classification["BCE"]["f1"], classification["DSC"]["f1"]),
            "dsc-vs-focal": (tagging["FL"]["f1"], tagging["DSC"]["f1"]),
            "dsc-vs-dice": (tagging["DL"]["f1"], tagging["DSC"]["f1"]),
            "accuracy-control": (control["CE"], control["DSC"]),
            "bce-underpredicts-tagging": (tagging["BCE"]["recall"], tagging["BCE"]["precision"]),
            "bce-underpredicts-classification": (classification["BCE"]["recall"],
                                                 classification["BCE"]["precision"]),
            "control-off-ceiling": (CONTROL_CEILING, control["CE"]),
            "positive-rate-gap": (gap["BCE"], gap["DSC"]),
        },
        diagnostics={"tagging": tagging, "classification": classification, "control_accuracy": control},
    )


REPRODUCTION = Reproduction(
    id="dice-loss",
    title="Dice Loss for Data-imbalanced NLP Tasks",
    arxiv="1911.02855",
    claim=("Training on the self-adjusting Dice loss (DSC) instead of cross-entropy improves F1 on "
           "data-imbalanced tagging and classification tasks, more than focal loss and plain Dice do, "
           "while on balanced accuracy-oriented tasks it is no better than cross-entropy."),
    paper_result=("BERT backbones: NER F1 CoNLL03 93.04 -> 93.33, OntoNotes5 91.11 -> 92.07, MSRA 95.75 -> 96.72, "
                  "OntoNotes4 82.11 -> 84.47; POS CTB5 96.06 -> 97.92; MRPC 88.0 -> 88.92, QQP 91.3 -> 92.11 "
                  "(DSC > DL > FL > CE typical); SST-2 accuracy 94.90 (CE) vs 94.84 (DSC). "
                  "Decimals as recalled, unverified."),
    setup=("A: synthetic tagging (~5% positive tokens, a positive needs one token of context; overlapping cues: "
           "weak entity words are names on their own with probabilities spread over (0, 0.5), plus 2% label "
           "noise), BiGRU tagger, 400 training sequences in quick mode; B: make_classification with 5% positives, "
           "MLP 20-64-64-1; C: balanced 5-class make_classification, MLP 20-64-64-5. Adam 3e-3, batch 32, 8 "
           "epochs (C: 20); same init and batch order for every loss; DSC alpha=0.01, smooth=1, squared "
           "denominator, batch form on binary heads; WBCE pos_weight = n_neg/n_pos; F1 on the test split, "
           "threshold 0.5 unless tuned on validation; a unit = one seed of every task."),
    checks=(
        Check("tagging-f1", "token F1 @0.5 (task A)", "BCE", "DSC", "greater",
              "DSC gives a higher tagging F1 than cross-entropy", "NER +0.3 to +2.4 F1, POS +1.8 to +2.2"),
        Check("dsc-vs-wbce", "token F1 @0.5 (task A)", "weighted BCE", "DSC", "greater",
              "DSC beats cross-entropy re-weighted for the imbalance (the fair baseline)",
              "the paper lists WCE among the losses; DSC best on NER"),
        Check("tagging-f1-tuned", "token F1 @val-tuned threshold (task A)", "BCE", "DSC", "greater",
              "the F1 gain survives tuning the decision threshold on validation data",
              "not tested in the paper (it predicts at 0.5)"),
        Check("classification-f1", "F1 @0.5 (task B)", "BCE", "DSC", "greater",
              "DSC gives a higher F1 than cross-entropy on imbalanced classification", "MRPC +0.9, QQP +0.8 F1"),
        Check("dsc-vs-focal", "token F1 @0.5 (task A)", "FL", "DSC", "greater",
              "DSC beats focal loss", "DSC > FL on every NER data set"),
        Check("dsc-vs-dice", "token F1 @0.5 (task A)", "DL", "DSC", "greater",
              "the self-adjusting factor adds to plain Dice", "DSC > DL on every NER data set"),
        Check("accuracy-control", "accuracy (task C, balanced 5 classes)", "CE", "DSC", "equivalent",
              "on a balanced accuracy task DSC is no better than cross-entropy: equal within 1 point (TOST; the "
              "paper's balanced-task differences are all under 1 point)",
              "SST-2 94.90 CE vs 94.84 DSC; SST-5 55.57 vs 55.19", margin=CONTROL_MARGIN),
        Check("bce-underpredicts-tagging", "BCE @0.5 on task A: recall vs precision", "recall", "precision",
              "greater", "cross-entropy under-predicts positives at 0.5 (recall below precision), the regime of "
              "the paper's gain", "neg:pos up to 170:1 in NER; CE is accuracy-oriented", kind="regime",
              applies_to=TAGGING_CLAIMS),
        Check("bce-underpredicts-classification", "BCE @0.5 on task B: recall vs precision", "recall", "precision",
              "greater", "the same on the imbalanced classification task", "QQP made more imbalanced: larger gain",
              kind="regime", applies_to=("classification-f1",)),
        Check("control-off-ceiling", "CE accuracy (task C)", "ceiling 0.97", "CE", "less",
              "the control task is not solved perfectly, so equal accuracy is informative", "SST-2 ~0.95, SST-5 ~0.55",
              kind="regime", applies_to=("accuracy-control",)),
        Check("positive-rate-gap", "|predicted - true positive rate| (task A)", "BCE", "DSC", "less",
              "DSC's 0.5-threshold decisions match the true positive rate more closely (F1-aligned)",
              "mechanism stated in the paper, not measured", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="tagging-f1",
    trial_seconds=11.5,
)
