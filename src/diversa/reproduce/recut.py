"""Reproduction of ReCUT: merging an accuracy- and a length-preferring model shortens reasoning at kept accuracy.

Jin et al., "ReCUT: Balancing Reasoning Length and Accuracy in LLMs via
Stepwise Trials and Preference Optimization", Findings of EMNLP 2025,
arXiv:2506.10822 (spec ``merge.md`` 7).

Testbed: SumChain (:mod:`diversa.datasets.sumchain`), answer = sum of 3-5
digits mod 10, reasoning in fine (1 digit), coarse (2 digits, error-prone)
and redundant steps. A unit is one seed: the base policy M0 (GRU LM trained
1,000 SFT steps on mixed-style gold trajectories; neutral prompt overthinks),
400 training problems for the stepwise trials, 200 validation and 500 (full
1,000) test problems, all fresh per seed. ReCUT as the spec: T_max 8,
temperature 0.7, top-p 0.95, alpha = beta = 1; accuracy and length pairs;
DPO (beta 0.3, lr 1e-4, 4 epochs, batch 32) for both models; the merge is
linear, ``alpha_acc`` in {0.3, 0.5, 0.7} chosen on validation. Evaluation:
greedy decoding with the plain prompt; accuracy and mean generated length.

The headline compares at equal length: prompt switching can reach any mean
length between M0's short, neutral and long modes by answering a random
share of questions in each mode, with accuracy on the upper concave envelope
of the three (length, accuracy) points. ReCUT's merged model must be more
accurate than that envelope at its own mean length (outside the envelope's
range, the nearest end is the baseline). The paper's "30-50% shorter at
maintained accuracy" gives the secondary claims: shorter than M0 (neutral),
accuracy within 2 points of M0 (non-inferiority margin 0.02), and a better
trade-off (accuracy above the envelope at equal length) than SFT on the
optimal trajectories (2 epochs, lr in {1e-4, 3e-4, 1e-3} chosen on
validation, the same search size as the merge's alpha) and than either DPO
specialist alone. Regime: M0 is well above chance and its neutral prompt is
longer than its short one (there is length to cut). Mechanisms: the trials
find correct trajectories shorter than M0's own; length-DPO shortens
outputs (TRL users report it does not, trl#2003); accuracy-DPO is more
accurate than length-DPO. DARE-TIES (the released config) is a diagnostic.

Design fixed from the paper and the spec before any result was seen.
"""

from __future__ import annotations

import copy

import numpy as np

from diversa.combine.recut import ReCUT, supervised_finetune
from diversa.datasets.sumchain import SumChainFormat, make_problems, prompt
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.sumchain import base_policy

BASE_STEPS = 1000
N_TRAIN, N_VAL = 400, 200
QUICK = {"n_test": 500}
FULL = {"n_test": 1000}
RECUT = {"max_steps": 8, "temperature": 0.7, "top_p": 0.95, "alpha": 1.0, "beta": 1.0, "dpo_beta": 0.3,
         "dpo_lr": 1e-4, "dpo_epochs": 4, "dpo_batch_size": 32}
MERGE_ALPHAS = (0.3, 0.5, 0.7)
SFT_LRS = (1e-4, 3e-4, 1e-3)
SFT_EPOCHS, SFT_BATCH = 2, 32
#: Non-inferiority margin of "maintained accuracy"; regime thresholds.
ACCURACY_MARGIN = 0.02
OFF_FLOOR, LENGTH_GAP = 0.5, 1.0
FORMAT = SumChainFormat()


def evaluate(policy, problems, mode: str = "neutral") -> tuple[float, float]:
    """(accuracy, mean generated length) of greedy decoding with the ``mode`` prompt."""
    prompts = [prompt(d, mode) for d in problems.digits]
    generated = policy.generate(prompts, [FORMAT.max_len - len(p) for p in prompts], FORMAT.eos_id, greedy=True)
    accuracy = np.mean([FORMAT.final_answer(g) == a for g, a in zip(generated, problems.answers)])
    return float(accuracy), float(np.mean([len(g) for g in generated]))


def prompt_frontier(points, length: float) -> float:
    """Best accuracy of a random mixture of the prompt modes with mean length ``length``.

    ``points``: (length, accuracy) of each mode. The upper concave envelope of
    the points, linearly interpolated; clamped to its end points outside their
    length range.
    """
    hull: list[tuple[float, float]] = []
    for p in sorted(points):
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    if length <= hull[0][0]:
        return hull[0][1]
    if length >= hull[-1][0]:
        return hull[-1][1]
    for (l0, a0), (l1, a1) in zip(hull, hull[1:]):
        if l0 <= length <= l1:
            return a0 + (a1 - a0) * (length - l0) / (l1 - l0)
    return hull[-1][1]


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _excess(points, result: tuple[float, float]) -> float:
    accuracy, length = result
    return accuracy - prompt_frontier(points, length)


def _sft_on_optimal(base, recut: ReCUT, train, lr: float, seed: int):
    """M0 fine-tuned on the optimal trajectory of every training problem that has one (plain prompt)."""
    examples = []
    for digits, best in zip(train.digits, recut.exploration_.optimal):
        if best is not None:
            head = prompt(digits, "neutral")
            examples.append((head + list(best.tokens), len(head)))
    rng = np.random.default_rng(seed)
    model = copy.deepcopy(base)
    batches = []
    for _ in range(SFT_EPOCHS):
        order = rng.permutation(len(examples))
        batches += [[examples[i] for i in order[j: j + SFT_BATCH]] for j in range(0, len(examples), SFT_BATCH)]
    supervised_finetune(model, batches, lr=lr)
    return model


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One unit: M0 of ``seed``, fresh train / validation / test problems, every arm."""
    budget = QUICK if quick else FULL
    base = base_policy(seed, steps=BASE_STEPS)
    train = make_problems(N_TRAIN, seed=10_000 + seed)
    val = make_problems(N_VAL, seed=20_000 + seed)
    test = make_problems(budget["n_test"], seed=30_000 + seed)
    recut = ReCUT(**RECUT, random_state=seed).fit(base, train.digits, train.answers, FORMAT, prompt)
    if not recut.pairs_acc_ or not recut.pairs_len_:
        raise RuntimeError(f"seed {seed}: the exploration produced no accuracy or no length pairs.")

    val_modes = {mode: evaluate(base, val, mode) for mode in ("short", "neutral", "long")}
    test_modes = {mode: evaluate(base, test, mode) for mode in ("short", "neutral", "long")}
    val_points = [(length, acc) for acc, length in val_modes.values()]
    test_points = [(length, acc) for acc, length in test_modes.values()]

    def choose(candidates):
        scores = {key: _excess(val_points, evaluate(model, val)) for key, model in candidates.items()}
        best = max(scores, key=lambda k: (scores[k], -list(candidates).index(k)))
        return best, candidates[best], scores

    alpha, merged, alpha_scores = choose({a: recut.merge("linear", a) for a in MERGE_ALPHAS})
    sft_lr, sft, sft_scores = choose({lr: _sft_on_optimal(base, recut, train, lr, seed) for lr in SFT_LRS})
    results = {"merged": evaluate(merged, test), "acc_model": evaluate(recut.acc_policy_, test),
               "len_model": evaluate(recut.len_policy_, test), "sft_optimal": evaluate(sft, test),
               "dare_ties": evaluate(recut.merge("dare_ties"), test)}
    excess = {name: _excess(test_points, r) for name, r in results.items()}
    frontier_at_merged = prompt_frontier(test_points, results["merged"][1])
    base_acc, base_len = test_modes["neutral"]

    explored = recut.exploration_.summary()
    train_prompts = [prompt(d, "neutral") for d in train.digits]
    own = base.generate(train_prompts, [FORMAT.max_len - len(p) for p in train_prompts], FORMAT.eos_id)
    own_correct = [len(g) for g, a in zip(own, train.answers) if FORMAT.final_answer(g) == a]
    diagnostics = {
        **{f"m0_{mode}_accuracy": r[0] for mode, r in test_modes.items()},
        **{f"m0_{mode}_length": r[1] for mode, r in test_modes.items()},
        **{f"{name}_accuracy": r[0] for name, r in results.items()},
        **{f"{name}_length": r[1] for name, r in results.items()},
        **{f"{name}_excess": v for name, v in excess.items()},
        "merge_alpha": alpha, "val_excess_by_alpha": {str(k): v for k, v in alpha_scores.items()},
        "sft_lr": sft_lr, "val_excess_by_sft_lr": {str(k): v for k, v in sft_scores.items()},
        "length_ratio_merged_vs_m0": results["merged"][1] / base_len,
        "pairs_accuracy": len(recut.pairs_acc_), "pairs_length": len(recut.pairs_len_),
        "exploration": explored, "m0_correct_length_on_train": float(np.mean(own_correct)),
        "dpo_accuracy_history": recut.acc_history_, "dpo_length_history": recut.len_history_,
    }
    return TrialResult(
        pairs={
            "recut-beats-prompting-at-same-length": (frontier_at_merged, results["merged"][0]),
            "recut-shorter-than-m0": (base_len, results["merged"][1]),
            "recut-accuracy-maintained": (base_acc, results["merged"][0]),
            "recut-beats-shortest-sft": (excess["sft_optimal"], excess["merged"]),
            "merge-beats-length-model": (excess["len_model"], excess["merged"]),
            "merge-beats-accuracy-model": (excess["acc_model"], excess["merged"]),
            "m0-off-floor": (OFF_FLOOR, base_acc),
            "neutral-prompt-overthinks": (test_modes["short"][1] + LENGTH_GAP, base_len),
            "trials-find-shorter-correct": (float(np.mean(own_correct)), explored["mean_optimal_length"]),
            "length-dpo-shortens": (base_len, results["len_model"][1]),
            "accuracy-dpo-more-accurate": (results["len_model"][0], results["acc_model"][0]),
        },
        diagnostics=diagnostics,
    )


REPRODUCTION = Reproduction(
    id="recut",
    title="ReCUT: Balancing Reasoning Length and Accuracy in LLMs via Stepwise Trials and Preference Optimization",
    arxiv="2506.10822",
    claim=("Stepwise long/short trials yield accuracy and length preference pairs; merging an accuracy-preferring "
           "and a length-preferring DPO model shortens reasoning while keeping (or improving) accuracy, a better "
           "trade-off than prompting for concision or training on the shortest correct answers."),
    paper_result=("Llama-3.1-8B / Qwen2.5-7B on GSM8K, MATH500, AIME24/25, AMC23: reasoning length reduced by about "
                  "30-50% while maintaining or improving accuracy compared with various baselines."),
    setup=(f"SumChain (3-5 digits, sum mod 10); M0 = GRU LM (32/128) after {BASE_STEPS} SFT steps, per seed; "
           f"ReCUT on {N_TRAIN} training problems (T_max 8, temperature 0.7, top-p 0.95, DPO beta 0.3, lr 1e-4, "
           f"4 epochs), linear merge alpha_acc in {MERGE_ALPHAS} chosen on {N_VAL} validation problems by accuracy "
           f"above the prompt envelope; greedy, plain prompt, 500 (full 1000) test problems. Headline: merged accuracy "
           f"vs the best mixture of M0's short/neutral/long prompts at the same mean length; SFT-on-optimal baseline "
           f"(2 epochs, lr in {SFT_LRS} chosen on validation). A unit = one seed of policy and problems."),
    checks=(
        Check("recut-beats-prompting-at-same-length", "accuracy", "M0 prompt mixture at the merged model's length",
              "ReCUT merged model", "greater",
              "at equal mean reasoning length, the merged model is more accurate than prompt switching",
              "length -30-50% at maintained or improved accuracy vs baselines incl. prompting"),
        Check("recut-shorter-than-m0", "mean generated tokens", "M0 (plain prompt)", "ReCUT merged model", "less",
              "the merged model reasons in fewer tokens than M0", "reasoning length reduced by about 30-50%"),
        Check("recut-accuracy-maintained", "accuracy", "M0 (plain prompt)", "ReCUT merged model", "greater",
              f"accuracy is maintained: at most {ACCURACY_MARGIN} below M0 (non-inferiority)",
              "maintaining or improving accuracy", margin=ACCURACY_MARGIN),
        Check("recut-beats-shortest-sft", "accuracy above the prompt envelope at equal length",
              "SFT on the optimal trajectories", "ReCUT merged model", "greater",
              "a better length-accuracy trade-off than fine-tuning on the shortest correct answers",
              "ReCUT above SFT-based length-reduction baselines"),
        Check("merge-beats-length-model", "accuracy above the prompt envelope at equal length",
              "length-preferring DPO model alone", "ReCUT merged model", "greater",
              "merging beats the length specialist's trade-off", "the merged model balances both (ablation)"),
        Check("merge-beats-accuracy-model", "accuracy above the prompt envelope at equal length",
              "accuracy-preferring DPO model alone", "ReCUT merged model", "greater",
              "merging beats the accuracy specialist's trade-off", "the merged model balances both (ablation)"),
        Check("m0-off-floor", "accuracy", f"floor {OFF_FLOOR}", "M0 (plain prompt)", "greater",
              "the base policy is well above chance (0.1)", kind="regime"),
        Check("neutral-prompt-overthinks", "mean generated tokens", f"M0 short-prompt length + {LENGTH_GAP}",
              "M0 (plain prompt)", "greater", "the plain prompt reasons longer than needed: there is length to cut",
              kind="regime"),
        Check("trials-find-shorter-correct", "mean tokens of correct trajectories",
              "M0's own correct answers (train problems)", "optimal trial trajectories", "less",
              "stepwise long/short trials find shorter correct reasoning than the policy's own",
              "stepwise exploration yields diverse, shorter trajectories", kind="mechanism"),
        Check("length-dpo-shortens", "mean generated tokens", "M0 (plain prompt)", "length-preferring DPO model",
              "less", "DPO on length pairs shortens the outputs", "the length model generates shorter reasoning",
              kind="mechanism"),
        Check("accuracy-dpo-more-accurate", "accuracy", "length-preferring DPO model",
              "accuracy-preferring DPO model", "greater", "the two specialists differ as intended",
              "accuracy model vs length model (ablation)", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="recut-beats-prompting-at-same-length",
    trial_seconds=27.0,
)
