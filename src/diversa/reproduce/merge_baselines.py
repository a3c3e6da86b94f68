"""Reproduction of the classic weight-merging baselines: averaging, Task Arithmetic, TIES, DARE.

Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023,
arXiv:2212.04089; Yadav et al., "TIES-Merging: Resolving Interference When
Merging Models", NeurIPS 2023, arXiv:2306.01708; Yu et al., "Language Models
are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch",
ICML 2024, arXiv:2311.03099.

Testbed: MergeDigits-8 (spec ``merge.md`` section 1, mode ``"full"``): eight
digit tasks fine-tuned from one pre-trained MLP body; heads stay task
specific. A trial is one testbed seed; its value for a method is the mean over
the eight tasks of test accuracy divided by the fine-tuned model's
(normalized accuracy), with every hyper-parameter chosen on the validation
split. Per-task ratios are in the diagnostics. The spec's statistical unit is
the (seed, task) pair; the framework pairs per trial, so quick mode runs eight
seeds (a one-sided Wilcoxon test needs at least five to reach p < 0.05)
instead of the spec's two, full mode twelve instead of five.
"""

from __future__ import annotations

from diversa.combine.merge import dare_merging, task_arithmetic, ties_merging, weight_average
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.merge_digits import build_merge_testbed, evaluate_merge

LAMBDAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
QUICK_LAMBDAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
TIES_DENSITIES = (0.1, 0.2, 0.5)
TIES_LAMBDAS = (0.5, 1.0, 1.5, 2.0)
DARE_DROP_RATES = (0.3, 0.5, 0.7)
DARE_LAMBDAS = (0.2, 0.3, 0.5)
#: DARE is claimed not to hurt: tolerance of the non-inferiority check (normalized-accuracy points).
DARE_MARGIN = 0.02


def run_trial(seed: int, quick: bool) -> TrialResult:
    tb = build_merge_testbed(seed, "full")
    base = tb.base_body
    models = [tb.task_bodies[t] for t in tb.tasks]
    lambdas = QUICK_LAMBDAS if quick else LAMBDAS
    average = evaluate_merge(tb, lambda: weight_average(models), [{}])
    ta = evaluate_merge(tb, lambda scaling: task_arithmetic(base, models, scaling=scaling),
                        [{"scaling": lam} for lam in lambdas])
    ties = evaluate_merge(tb, lambda density, scaling: ties_merging(base, models, density=density, scaling=scaling),
                          [{"density": k, "scaling": lam} for k in TIES_DENSITIES for lam in TIES_LAMBDAS])
    dare = evaluate_merge(
        tb, lambda drop_rate, scaling: dare_merging(base, models, drop_rate=drop_rate, scaling=scaling,
                                                    random_state=seed),
        [{"drop_rate": p, "scaling": lam} for p in DARE_DROP_RATES for lam in DARE_LAMBDAS])
    pretrained, _ = tb.normalized_accuracy(base, "test")
    scores = {"average": average, "task_arithmetic": ta, "ties": ties, "dare_ta": dare}
    return TrialResult(
        pairs={
            "ta-vs-average": (average.test, ta.test),
            "ties-vs-ta": (ta.test, ties.test),
            "ties-vs-average": (average.test, ties.test),
            "dare-keeps-ta": (ta.test - DARE_MARGIN, dare.test),
            "merge-vs-pretrained": (pretrained, ta.test),
        },
        diagnostics={"pretrained_body": pretrained,
                     **{f"{name}_test": s.test for name, s in scores.items()},
                     **{f"{name}_params": s.params for name, s in scores.items()},
                     **{f"{name}_per_task": s.per_task for name, s in scores.items()}},
    )


REPRODUCTION = Reproduction(
    id="merge-baselines",
    title="Weight averaging, Task Arithmetic, TIES-Merging and DARE on one testbed",
    arxiv="2212.04089",
    claim=("Adding scaled task vectors (Task Arithmetic) merges several fine-tuned models better than plain "
           "weight averaging; TIES-Merging (trim, elect sign, disjoint merge) beats both by resolving "
           "interference; DARE can drop most of a task vector's entries (with rescaling) without hurting the merge."),
    paper_result=("Task Arithmetic (ViT, 8 vision tasks): merged normalized accuracy well above averaging; TIES "
                  "(arXiv:2306.01708): +2.3 to +7 absolute average points over Task Arithmetic across T5/ViT "
                  "settings; DARE (arXiv:2311.03099): drop rates up to 0.9 keep LLM SFT abilities."),
    setup=("MergeDigits-8 (mode full): 64-128-128 GELU MLP body pre-trained on upright digits, fine-tuned on 8 "
           "transformed digit tasks; body merged, heads task-specific; normalized test accuracy, parameters "
           "chosen on validation (TA lambda 0.1-1.0; TIES k in {0.1, 0.2, 0.5} x lambda in {0.5, 1, 1.5, 2}; "
           "DARE p in {0.3, 0.5, 0.7} x lambda in {0.2, 0.3, 0.5}); a trial = one testbed seed."),
    checks=(
        Check("ta-vs-average", "normalized accuracy", "uniform average", "Task Arithmetic", "greater",
              "Task Arithmetic beats weight averaging", "TA > averaging on 8 ViT tasks"),
        Check("ties-vs-ta", "normalized accuracy", "Task Arithmetic", "TIES", "greater",
              "TIES-Merging beats Task Arithmetic", "+2.3 to +7 points (TIES paper)"),
        Check("ties-vs-average", "normalized accuracy", "uniform average", "TIES", "greater",
              "TIES-Merging beats weight averaging", "TIES > averaging in every setting"),
        Check("dare-keeps-ta", "normalized accuracy", f"Task Arithmetic - {DARE_MARGIN}", "DARE + TA", "greater",
              f"DARE's drop-and-rescale costs less than {DARE_MARGIN} normalized accuracy",
              "DARE keeps abilities at drop rates up to 0.9 (LLM SFT deltas)"),
        Check("merge-vs-pretrained", "normalized accuracy", "pre-trained body", "Task Arithmetic", "greater",
              "merging transfers fine-tuned knowledge (sanity check)", "merged >> zero-shot in every paper", kind="regime"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="ties-vs-ta",
    trial_seconds=10.0,
)
