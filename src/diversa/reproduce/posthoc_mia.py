"""Reproduction: post-hoc membership-inference benchmarks measure distribution shift.

Meeus, Jain, Rei, de Montjoye, "Inherent Challenges of Post-Hoc Membership
Inference for Large Language Models", arXiv:2406.17975 (SoK version: "SoK:
Membership Inference Attacks on LLMs are Rushing Nowhere (and How to Fix
It)", IEEE SaTML 2025).

Design (spec ``evaluate.md#posthoc-mia``). A unit is one freshly generated
world (:func:`make_world`): a :class:`TemporalTextWorld` with its own seed
(its own entity birth times) and its own drift speed ``s`` drawn from
``DRIFT_RANGE = [0.5, 1.5]``, which divides the spec's topic width (0.12) and
entity recency (0.15): ``s = 1`` is the spec's world, smaller ``s`` drifts
more slowly. The range spans the paper's post-hoc benchmarks, from
near-perfectly separable temporal splits (WikiMIA-type, bag-of-words AUC
~0.98-0.99) to milder ones ("lower but clearly above 0.5" on other temporal
splits), so the verdict generalises over worlds, not over samples of one.
Training cut-off ``c = 0.5`` on the unit time axis; all samples and the
tiny LM of a unit use the unit's seed.

R1, model-free (the paper's bag-of-words random forest, ``n`` documents per
side): (a) randomized split, both sets from ``U[0, c)``; (b) post-hoc split,
members ``U[0, 0.4)`` vs non-members ``U[0.6, 1)``; (c) RDD split, members
``U[c - h, c)`` vs non-members ``U[c, c + h)`` for h in 0.4 ... 0.02, plus two
placebo cut-offs whose windows lie on one side of ``c``.

R2, with a model: a tiny causal transformer (2 layers, d_model 64, 2 heads,
AdamW lr 3e-3, batch 32, 2 epochs) trained on a random half of 1,200
documents from ``U[0, c)`` plus 300 documents from ``[c - 0.02, c)``; the
loss attack (mean token log-probability; zlib and Min-20% reported too) is
scored on the randomized, post-hoc, post-hoc placebo (untrained documents
only, so there is no membership at all), RDD and RDD placebo designs.

Kinds: the randomized split's bag-of-words AUC near 0.5 is true by
construction (both sides are i.i.d. draws of one distribution), so it is a
``mechanism`` check validating the detector, not a claim.

Change of design (audit): every trial used to resample one fixed world
(seed 0, the spec's drift), so the verdicts generalised over samples of one
world only; the previous quick run had all 8 checks supported. The new
design (fresh world and drift speed per unit) was set from the issue and the
paper's range of post-hoc benchmarks, not from those results.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from diversa.datasets.timestamped_text import TemporalTextWorld
from diversa.evaluate.audit import (
    BagOfWordsShiftDetector,
    mia_auc,
    mia_scores,
    rdd_jump,
    rdd_split,
)
from diversa.reproduce.registry import Check, Reproduction, TrialResult

CUTOFF = 0.5
#: A unit's drift speed is drawn uniformly from this range (1 = the spec's world).
DRIFT_RANGE = (0.5, 1.5)
#: The spec's drift scales at speed 1.
TOPIC_WIDTH, ENTITY_RECENCY = 0.12, 0.15
BANDWIDTHS = (0.4, 0.2, 0.1, 0.05, 0.02)
RDD_MIA_BANDWIDTH = 0.02
PLACEBO_CUTOFFS = (0.46, 0.54)  # windows [c' - 0.02, c' + 0.02) lie on one side of c
#: Documents per side in the bag-of-words audits (the spec's 500; quick mode uses fewer).
DOCS_PER_SIDE = {True: 300, False: 500}
#: Trees of the bag-of-words forest (the official 100).
FOREST_TREES = 100
#: R2 corpus sizes: documents before the cut-off (half trained), in the RDD window before it
#: (half trained), in the window after it, and late post-hoc non-members.
LM_DOCS = {"early": 1200, "window": 600, "after": 300, "late": 600}


def make_world(seed: int) -> tuple[TemporalTextWorld, float]:
    """The unit's world and its drift speed ``s ~ U(DRIFT_RANGE)`` (topic width and recency divided by s)."""
    speed = float(np.random.default_rng([seed, 2406]).uniform(*DRIFT_RANGE))
    world = TemporalTextWorld(seed=seed, topic_width=TOPIC_WIDTH / speed, entity_recency=ENTITY_RECENCY / speed)
    return world, speed


# ---------------------------------------------------------------------------------------------
# R1: model-free audits of the three collection designs
# ---------------------------------------------------------------------------------------------

def _audit(members, nonmembers, seed: int, classifier: str = "random_forest") -> float:
    detector = BagOfWordsShiftDetector(n_estimators=FOREST_TREES, classifier=classifier, n_bootstrap=0,
                                       random_state=seed)
    return detector.fit(members, nonmembers).auc_


def headline_splits(world: TemporalTextWorld, n: int, rng) -> dict[str, tuple[list, list]]:
    """The randomized split (i.i.d. draws before c, a random labelling) and the post-hoc split."""
    pool, _ = world.sample_window(2 * n, 0.0, CUTOFF, rng)
    return {"randomized": (pool[:n], pool[n:]),
            "posthoc": (world.sample_window(n, 0.0, 0.4, rng)[0], world.sample_window(n, 0.6, 1.0, rng)[0])}


def audit_designs(world: TemporalTextWorld, n: int, seed: int) -> dict:
    """Bag-of-words AUCs of the randomized, post-hoc, RDD and placebo splits."""
    rng = np.random.default_rng(seed)
    splits = headline_splits(world, n, rng)
    out = {"randomized": _audit(*splits["randomized"], seed), "posthoc": _audit(*splits["posthoc"], seed),
           "randomized_logistic": _audit(*splits["randomized"], seed, "logistic"),
           "posthoc_logistic": _audit(*splits["posthoc"], seed, "logistic")}
    out["rdd"] = {h: _audit(world.sample_window(n, CUTOFF - h, CUTOFF, rng)[0],
                            world.sample_window(n, CUTOFF, CUTOFF + h, rng)[0], seed) for h in BANDWIDTHS}
    h = RDD_MIA_BANDWIDTH
    out["placebo"] = {c: _audit(world.sample_window(n, c - h, c, rng)[0],
                                world.sample_window(n, c, c + h, rng)[0], seed) for c in PLACEBO_CUTOFFS}
    return out


# ---------------------------------------------------------------------------------------------
# R2: a tiny causal language model and loss-based attacks
# ---------------------------------------------------------------------------------------------

def _language_model(vocab_size: int, context: int):
    from torch import nn

    class TinyCausalLM(nn.Module):
        """Word-level causal transformer: 2 pre-norm layers, d_model 64, 2 heads."""

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, 64)
            self.position = nn.Embedding(context, 64)
            layer = nn.TransformerEncoderLayer(64, 2, dim_feedforward=128, dropout=0.0, batch_first=True,
                                               norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(64, vocab_size)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context), persistent=False)

        def forward(self, tokens):
            length = tokens.shape[1]
            hidden = self.embed(tokens) + self.position.weight[:length]
            return self.head(self.blocks(hidden, mask=self.mask[:length, :length], is_causal=True))

    return TinyCausalLM()


def train_language_model(tokens: np.ndarray, vocab_size: int, seed: int, epochs: int = 2):
    """Train the tiny LM on token rows (n, L); a BOS token (id ``vocab_size``) is prepended."""
    import torch

    torch.manual_seed(seed)
    length = tokens.shape[1]
    model = _language_model(vocab_size + 1, length)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    data = torch.as_tensor(tokens, dtype=torch.long)
    bos = torch.full((len(data), 1), vocab_size, dtype=torch.long)
    inputs, targets = torch.cat([bos, data[:, :-1]], 1), data
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(data), generator=generator).split(32):
            logits = model(inputs[batch])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[batch].reshape(-1))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


def token_logprobs(model, tokens: np.ndarray, vocab_size: int) -> np.ndarray:
    """Log-probability of every token under the LM, shape (n, L)."""
    import torch

    rows = []
    with torch.no_grad():
        for chunk in torch.as_tensor(tokens, dtype=torch.long).split(256):  # small batches run faster on one core
            bos = torch.full((len(chunk), 1), vocab_size, dtype=torch.long)
            logits = model(torch.cat([bos, chunk[:, :-1]], 1))
            rows.append(torch.log_softmax(logits, -1).gather(-1, chunk[..., None])[..., 0].numpy())
    return np.vstack(rows)


def mia_designs(world: TemporalTextWorld, seed: int) -> dict:
    """Loss/zlib/Min-20% attack AUCs on the five collection designs, and the RDD jump of the loss."""
    rng = np.random.default_rng(10_000 + seed)
    h, sizes = RDD_MIA_BANDWIDTH, LM_DOCS
    early_t = rng.uniform(0.0, CUTOFF, sizes["early"])
    early = world.sample_tokens(early_t, rng)
    trained = rng.permutation(sizes["early"]) < sizes["early"] // 2
    window_t = rng.uniform(CUTOFF - h, CUTOFF, sizes["window"])
    window = world.sample_tokens(window_t, rng)
    window_trained = np.arange(sizes["window"]) < sizes["window"] // 2
    after_t = rng.uniform(CUTOFF, CUTOFF + h, sizes["after"])
    after = world.sample_tokens(after_t, rng)
    late = world.sample_tokens(rng.uniform(0.6, 1.0, sizes["late"]), rng)

    vocab = len(world.vocabulary)
    model = train_language_model(np.vstack([early[trained], window[window_trained]]), vocab, seed)

    def scores(tokens):
        return mia_scores(token_logprobs(model, tokens, vocab), world.decode(tokens))

    early_s, window_s, after_s, late_s = scores(early), scores(window), scores(after), scores(late)
    old = early_t < 0.4
    groups = {
        "randomized": (lambda s: s[trained], lambda s: s[~trained], early_s, early_s),
        "posthoc": (lambda s: s[trained & old], lambda s: s, early_s, late_s),
        "posthoc_placebo": (lambda s: s[~trained & old], lambda s: s, early_s, late_s),
        "rdd": (lambda s: s[window_trained], lambda s: s, window_s, after_s),
        "rdd_placebo": (lambda s: s[~window_trained], lambda s: s, window_s, after_s),
    }
    aucs = {}
    for design, (pick_members, pick_non, member_scores, non_scores) in groups.items():
        for attack in ("loss", "zlib", "min_k"):
            m, n = pick_members(member_scores[attack]), pick_non(non_scores[attack])
            labels = np.r_[np.ones(m.size), np.zeros(n.size)]
            aucs[f"{design}/{attack}"] = mia_auc(np.r_[m, n], labels, n_bootstrap=0).auc
    # Our extension: the jump of the loss score at c among trained window documents and the after-c ones.
    members, _ = rdd_split(window_t, CUTOFF, h)
    times = np.r_[window_t[members & window_trained], after_t]
    jump = rdd_jump(np.r_[window_s["loss"][members & window_trained], after_s["loss"]], times, CUTOFF, h)
    return {"auc": aucs, "rdd_jump_loss": {"tau": jump.tau, "se": jump.se, "pvalue": jump.pvalue}}


# ---------------------------------------------------------------------------------------------
# One trial
# ---------------------------------------------------------------------------------------------

def run_trial(seed: int, quick: bool) -> TrialResult:
    """One fresh world: the model-free audits (R1) and the tiny-LM attacks (R2)."""
    world, speed = make_world(seed)
    r1 = audit_designs(world, DOCS_PER_SIDE[quick], seed)
    r2 = mia_designs(world, seed)
    rdd = r1["rdd"]
    rho = float(stats.spearmanr(list(rdd), list(rdd.values())).statistic)
    mia = r2["auc"]
    corrected_rdd = 0.5 + mia["rdd/loss"] - mia["rdd_placebo/loss"]
    return TrialResult(
        pairs={
            "bow-posthoc-vs-randomized": (r1["randomized"], r1["posthoc"]),
            "bow-posthoc-above-0.9": (0.9, r1["posthoc"]),
            "bow-randomized-near-0.5": (0.07, abs(r1["randomized"] - 0.5)),
            "bow-rdd-shrinks-shift": (r1["posthoc"] - 0.2, rdd[min(BANDWIDTHS)]),
            "bow-rdd-bandwidth-trend": (0.0, 0.0 if math.isnan(rho) else rho),
            "mia-placebo-scores-high": (mia["randomized/loss"], mia["posthoc_placebo/loss"]),
            "mia-rdd-below-posthoc": (mia["posthoc/loss"], mia["rdd/loss"]),
            "mia-corrected-rdd-below-posthoc": (mia["posthoc/loss"], corrected_rdd),
        },
        diagnostics={
            "drift_speed": speed,
            "bow_auc": {"randomized": r1["randomized"], "posthoc": r1["posthoc"],
                        "randomized_logistic": r1["randomized_logistic"], "posthoc_logistic": r1["posthoc_logistic"],
                        **{f"rdd_h={h}": v for h, v in rdd.items()},
                        **{f"placebo_c={c}": v for c, v in r1["placebo"].items()}},
            "bow_rdd_excess_over_placebo": rdd[RDD_MIA_BANDWIDTH] - float(np.mean(list(r1["placebo"].values()))),
            "mia_auc": mia,
            "rdd_mia_above_randomized": mia["rdd/loss"] > mia["randomized/loss"],
            # The spec expects these two to be close: what RDD leaves beyond its placebo is membership.
            "rdd_minus_placebo_loss_auc": mia["rdd/loss"] - mia["rdd_placebo/loss"],
            "randomized_minus_half_loss_auc": mia["randomized/loss"] - 0.5,
            "rdd_jump_loss": r2["rdd_jump_loss"],
        },
    )


REPRODUCTION = Reproduction(
    id="posthoc-mia",
    title="Inherent Challenges of Post-Hoc Membership Inference for Large Language Models",
    arxiv="2406.17975",
    claim=("Post-hoc member/non-member splits (before vs after a cut-off) differ in distribution: a "
           "model-free bag-of-words classifier separates them, so MIA scores on them measure shift, not "
           "memorisation; randomized splits show no shift, and a regression-discontinuity split around the "
           "cut-off removes most of it."),
    paper_result=("bag-of-words AUC ~0.98-0.99 on WikiMIA-type temporal splits, ~0.5 on randomized MIMIR / "
                  "copyright-trap setups; on the RDD set (arXiv 2302 vs 2303 around OpenLLaMA's cut-off) MIAs "
                  "score barely above chance (~0.5-0.6 AUC)."),
    setup=("A unit = a fresh TemporalTextWorld (40 function words, 12 drifting topics, 150 entities born over "
           "time) with its own seed and a drift speed s ~ U(0.5, 1.5) dividing the spec's topic width 0.12 and "
           "entity recency 0.15 (s = 1 is the spec's world); cut-off 0.5; bag-of-words: "
           "CountVectorizer(min_df=0.05) + RF(100 trees, depth 2, leaf 5), 5-fold stratified, 300 docs/side "
           "(quick) or 500 (full); RDD h in 0.4..0.02, placebo cut-offs 0.46/0.54; "
           "tiny causal transformer (2x64, 2 heads) trained 2 epochs on 900 docs, loss attack AUC."),
    checks=(
        Check("bow-posthoc-vs-randomized", "bag-of-words AUC", "randomized split", "post-hoc split", "greater",
              "a model-free classifier separates post-hoc members from non-members, not randomized ones",
              "~0.98-0.99 (WikiMIA-type) vs ~0.5 (randomized)"),
        Check("bow-posthoc-above-0.9", "bag-of-words AUC", "nominal 0.9", "post-hoc split", "greater",
              "post-hoc split is near-perfectly separable (AUC > 0.9)", "~0.98-0.99"),
        Check("bow-randomized-near-0.5", "|AUC - 0.5|", "nominal 0.07", "randomized split", "less",
              "randomized split shows no bag-of-words shift (|AUC - 0.5| < 0.07): the detector invents none",
              "~0.5", kind="mechanism"),
        Check("bow-rdd-shrinks-shift", "bag-of-words AUC", "post-hoc AUC - 0.2", "RDD h=0.02", "less",
              "a narrow RDD window removes most of the shift (AUC below post-hoc - 0.2)",
              "RDD substantially reduces the shift"),
        Check("bow-rdd-bandwidth-trend", "Spearman rho(h, AUC)", "no trend (0)", "RDD bandwidth curve", "greater",
              "the RDD split's AUC falls as the bandwidth shrinks", "design argument (continuity in time)"),
        Check("mia-placebo-scores-high", "loss-attack AUC", "randomized (true members)",
              "post-hoc placebo (no members at all)", "greater",
              "on a post-hoc split the attack 'succeeds' without any membership", "MIA success may be shift"),
        Check("mia-rdd-below-posthoc", "loss-attack AUC", "post-hoc split", "RDD h=0.02", "less",
              "MIAs evaluated on an RDD split score far lower than on a post-hoc split",
              "~0.5-0.6 AUC on the RDD set"),
        Check("mia-corrected-rdd-below-posthoc", "loss-attack AUC", "post-hoc split",
              "placebo-corrected RDD (0.5 + RDD - RDD placebo)", "less",
              "after subtracting the RDD placebo floor, little of the post-hoc 'success' remains",
              "barely above random guessing"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="bow-posthoc-vs-randomized",
    trial_seconds=10.0,
)
