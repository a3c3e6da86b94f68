"""Reproduction of Sub-MoE: subspace expert merging against MC-SMoE at the same compression.

Li, Zhu, Wang, Li, Gu, Han, Guo, "Sub-MoE: Efficient Mixture-of-Expert LLMs
Compression via Subspace Expert Merging", AAAI 2026, arXiv:2506.23266 (spec
``merge.md`` 9). The official code was never released: Sub-MoE is the spec's
reconstruction from the abstract (k-means on normalised expert outputs, union
SVD of each cluster's weights along the input dimension, frequency-weighted
merge of the expert-specific blocks, optional intra-expert low rank).

Testbed as the MC-SMoE reproduction (:mod:`~diversa.reproduce.testbeds.moe_compression`):
one unit = one seed of the trained base MoE TinyLM (2 MoE layers, 8 GELU
experts of width 64 = d_model, top-2), its calibration batch and test set;
teacher-forced answer-token accuracy; no fine-tuning for any arm.

Note: with square expert matrices (64 x 64) the default rank ``min(out, in)``
spans the whole output space, so Sub-MoE without intra-expert compression is
the frequency-weighted average of its k-means clusters; the shared subspace
matters once the merged experts are compressed. The headline therefore
compares the two methods at the same compression: both merge 8 -> 4 experts
per layer, then MC-SMoE stores each merged matrix as rank-12 factors plus
its 10% most important residual rows (one-shot LoSparse) and Sub-MoE stores
rank-15 union-SVD factors, no more numbers than MC-SMoE (15 x 128 = 1920 <=
12 x 128 + 10% of 64 rows x 65).

Claims: headline Sub-MoE > MC-SMoE at the same compression; secondary
Sub-MoE > M-SMoE at the same expert count (8 -> 4, uncompressed), Sub-MoE >
frequency pruning at 8 -> 4 (50% expert reduction) and at 8 -> 6 (25%).
Regime: the uncompressed model is well above floor; pruning to 4 experts costs
accuracy. Mechanisms: on the trained experts, each cluster's union basis
reconstructs its members better than independent per-expert SVDs storing as
many numbers (the premise of a shared subspace); output-similarity clusters
hold functionally closer experts (mean within-group output cosine) than
MC-SMoE's router-logit groups. Diagnostics: Sub-MoE with weight-matching
alignment, union SVD on MC-SMoE's groups (clustering ablation).

Design fixed from the paper and the spec before any result was seen.
"""

from __future__ import annotations

import numpy as np
import torch

from diversa.combine.moe import (
    FrequencyPruning,
    MSMoE,
    SubMoE,
    expert_parameter_count,
    read_experts,
    union_svd,
)
from diversa.reproduce.registry import Check, Reproduction, TrialResult
from diversa.reproduce.testbeds.moe_compression import (
    compression_testbed,
    mcsmoe_compress,
    regime_checks,
    regime_pairs,
    token_accuracy,
)

N_EXPERTS, N_EXPERTS_25 = 4, 6
#: MC-SMoE's compression (rank, residual rows kept) and Sub-MoE's intra-expert rank at no more parameters.
MC_RANK, FINAL_RATIO, SUB_RANK = 12, 0.10, 15
#: Union rank of the shared-subspace mechanism check.
UNION_RANK = 16
QUICK = {"n_test_per_task": 128}
FULL = {"n_test_per_task": 256}


def _fit(estimator, tb):
    return estimator.fit(tb.model, tb.calib.input_ids, tb.calib_mask)


def union_vs_independent_error(tb, labels_by_layer: dict, rank: int = UNION_RANK) -> tuple[float, float]:
    """Relative reconstruction error of members: union SVD at ``rank`` vs per-expert SVD at equal storage.

    Union storage ``out r + |C| r in`` (shared U counted once); the per-expert
    rank is ``floor(storage / (|C| (out + in)))``. Errors ``sum ||W_c - W^_c||^2
    / sum ||W_c||^2`` pooled over clusters with >= 2 members and weight types.
    Returns (independent, union).
    """
    modules = dict(tb.model.named_modules())
    num_union = num_independent = den = 0.0
    for name, labels in labels_by_layer.items():
        for mats in read_experts(modules[name]).matrices().values():
            out, inp = mats.shape[1:]
            for g in range(int(labels.max()) + 1):
                members = torch.nonzero(labels == g).reshape(-1).tolist()
                if len(members) < 2:
                    continue
                ws = [mats[e].double() for e in members]
                U, S, blocks = union_svd(ws)
                r_ind = (out * rank + len(ws) * rank * inp) // (len(ws) * (out + inp))
                for w, blk in zip(ws, blocks):
                    num_union += float((w - (U[:, :rank] * S[:rank]) @ blk[:rank]).square().sum())
                    u, s, vh = torch.linalg.svd(w, full_matrices=False)
                    num_independent += float((w - (u[:, :r_ind] * s[:r_ind]) @ vh[:r_ind]).square().sum())
                    den += float(w.square().sum())
    return num_independent / den, num_union / den


def within_group_cosine(similarity: dict, labels_by_layer: dict) -> float:
    """Mean output cosine between experts of the same group (pairs pooled over layers)."""
    values = []
    for name, labels in labels_by_layer.items():
        sim = similarity[name]
        for i in range(labels.numel()):
            for j in range(i + 1, labels.numel()):
                if labels[i] == labels[j]:
                    values.append(float(sim[i, j]))
    return float(np.mean(values)) if values else 1.0


def run_trial(seed: int, quick: bool) -> TrialResult:
    """One unit: one trained base MoE, every arm compressing both of its MoE layers."""
    tb = compression_testbed(seed, **(QUICK if quick else FULL))
    full = token_accuracy(tb.model, tb.test)
    sub = _fit(SubMoE(N_EXPERTS, random_state=seed), tb)
    msmoe = _fit(MSMoE(N_EXPERTS), tb)
    models = {
        "submoe": sub.transform(tb.model),
        "submoe_compressed": _fit(SubMoE(N_EXPERTS, intra_rank=SUB_RANK, random_state=seed), tb).transform(tb.model),
        "submoe_25": _fit(SubMoE(N_EXPERTS_25, random_state=seed), tb).transform(tb.model),
        "msmoe": msmoe.transform(tb.model),
        "prune": _fit(FrequencyPruning(N_EXPERTS), tb).transform(tb.model),
        "prune_25": _fit(FrequencyPruning(N_EXPERTS_25), tb).transform(tb.model),
        "submoe_aligned": _fit(SubMoE(N_EXPERTS, align="weight_matching", random_state=seed), tb).transform(tb.model),
    }
    models["mcsmoe"] = mcsmoe_compress(models["msmoe"], tb, MC_RANK, FINAL_RATIO)
    acc = {name: token_accuracy(m, tb.test) for name, m in models.items()}
    params = {name: expert_parameter_count(m) for name, m in models.items()}
    if params["submoe_compressed"] > params["mcsmoe"]:
        raise RuntimeError(f"Sub-MoE stores {params['submoe_compressed']} expert parameters, more than "
                           f"MC-SMoE's {params['mcsmoe']}.")
    independent_error, union_error = union_vs_independent_error(tb, sub.labels_)
    cos_kmeans = within_group_cosine(sub.output_similarity_, sub.labels_)
    cos_router = within_group_cosine(sub.output_similarity_, msmoe.labels_)
    diagnostics = {"accuracy_full": full, **{f"accuracy_{k}": v for k, v in acc.items()},
                   "expert_params_full": expert_parameter_count(tb.model),
                   **{f"expert_params_{k}": v for k, v in params.items()},
                   "reconstruction_error_union": union_error, "reconstruction_error_independent": independent_error,
                   "within_cosine_kmeans": cos_kmeans, "within_cosine_router_groups": cos_router,
                   "clusters": {name: labels.tolist() for name, labels in sub.labels_.items()},
                   "router_groups": {name: labels.tolist() for name, labels in msmoe.labels_.items()}}
    if not quick:
        diagnostics["accuracy_submoe_similarity_rows"] = token_accuracy(
            _fit(SubMoE(N_EXPERTS, features="similarity_rows", random_state=seed), tb).transform(tb.model), tb.test)
        diagnostics["accuracy_msmoe_25"] = token_accuracy(_fit(MSMoE(N_EXPERTS_25), tb).transform(tb.model), tb.test)
    return TrialResult(
        pairs={
            "submoe-vs-mcsmoe-same-compression": (acc["mcsmoe"], acc["submoe_compressed"]),
            "submoe-vs-msmoe": (acc["msmoe"], acc["submoe"]),
            "submoe-vs-prune": (acc["prune"], acc["submoe"]),
            "submoe-vs-prune-25": (acc["prune_25"], acc["submoe_25"]),
            **regime_pairs(full, acc["prune"]),
            "union-basis-beats-per-expert-svd": (independent_error, union_error),
            "clusters-functionally-closer": (cos_router, cos_kmeans),
        },
        diagnostics=diagnostics,
    )


REPRODUCTION = Reproduction(
    id="sub-moe",
    title="Sub-MoE: Efficient Mixture-of-Expert LLMs Compression via Subspace Expert Merging",
    arxiv="2506.23266",
    claim=("Clustering experts by the similarity of their outputs and merging each cluster in a shared subspace "
           "(a joint SVD of the members' weights with frequency-weighted expert-specific parts) compresses an MoE "
           "better than expert pruning and earlier merging methods such as MC-SMoE."),
    paper_result=("Mixtral-8x7B keeps 96% / 86% of its zero-shot performance with 25% / 50% expert reduction; better "
                  "than NAEE pruning, MC-SMoE, HC-SMoE and D2-MoE on Mixtral, DeepSeek-MoE, Qwen-1.5-MoE and "
                  "Qwen3-MoE (tables not accessible; official code not released)."),
    setup=(f"Base MoE TinyLM per seed (2 layers, 8 GELU experts of width 64, top-2; shared with the MC-SMoE "
           f"reproduction); 128 calibration sequences; teacher-forced answer-token accuracy on 512 (full 1024) test "
           f"sequences; no fine-tuning. Headline: 8 -> {N_EXPERTS} experts per layer, Sub-MoE with rank-{SUB_RANK} "
           f"union factors vs MC-SMoE (M-SMoE + rank-{MC_RANK} factors + {FINAL_RATIO:.0%} residual rows), Sub-MoE "
           f"storing no more; secondary: uncompressed Sub-MoE vs M-SMoE at 8 -> {N_EXPERTS}, vs frequency pruning at "
           f"8 -> {N_EXPERTS} and 8 -> {N_EXPERTS_25}. Sub-MoE is the spec's reconstruction from the abstract. "
           f"A unit = one seed of model, calibration and test data."),
    checks=(
        Check("submoe-vs-mcsmoe-same-compression", "answer-token accuracy",
              f"MC-SMoE (8->{N_EXPERTS}, rank {MC_RANK} + {FINAL_RATIO:.0%} residual rows)",
              f"Sub-MoE (8->{N_EXPERTS}, union rank {SUB_RANK})", "greater",
              "at the same compression, subspace merging keeps more accuracy than merge-then-compress",
              "better than MC-SMoE on Mixtral-8x7B at 25% and 50% expert reduction"),
        Check("submoe-vs-msmoe", "answer-token accuracy", f"M-SMoE (8->{N_EXPERTS})", f"Sub-MoE (8->{N_EXPERTS})",
              "greater", "at the same expert count, Sub-MoE keeps more accuracy than M-SMoE's merging",
              "outperforms merging baselines"),
        Check("submoe-vs-prune", "answer-token accuracy", f"frequency pruning (8->{N_EXPERTS})",
              f"Sub-MoE (8->{N_EXPERTS})", "greater", "merging beats pruning at 50% expert reduction",
              "86% of zero-shot performance at 50% expert reduction, above pruning"),
        Check("submoe-vs-prune-25", "answer-token accuracy", f"frequency pruning (8->{N_EXPERTS_25})",
              f"Sub-MoE (8->{N_EXPERTS_25})", "greater", "merging beats pruning at 25% expert reduction",
              "96% of zero-shot performance at 25% expert reduction, above pruning"),
        *regime_checks(N_EXPERTS),
        Check("union-basis-beats-per-expert-svd", "relative reconstruction error of cluster members",
              "per-expert SVD at equal storage", f"union SVD rank {UNION_RANK} (shared U counted once)", "less",
              "the members of a cluster share an output subspace that one basis captures",
              "experts union decomposition extracts a shared subspace", kind="mechanism"),
        Check("clusters-functionally-closer", "mean within-group output cosine", "MC-SMoE router-logit groups",
              "Sub-MoE k-means clusters", "greater",
              "output-similarity clustering groups functionally closer experts",
              "adaptive clustering of functionally coherent experts", kind="mechanism"),
    ),
    run_trial=run_trial,
    quick_trials=8,
    full_trials=20,
    headline="submoe-vs-mcsmoe-same-compression",
    trial_seconds=3.0,
)
