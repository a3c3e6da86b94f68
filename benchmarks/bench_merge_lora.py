"""LoRA-space task arithmetic: the low-rank path vs the full-delta path vs PEFT's SVD merge.

Three rank-16 LoRA adapters (random A and B, made with peft) on a stack of
square linear layers (full mode: 8 layers of 1024 x 1024; quick: 4 of 256)
are merged by task arithmetic into one adapter of rank 48, the sum of the
ranks, so all three are exact: ``merge_lora(..., path="lowrank")`` (QR of the
concatenated factors and an SVD of a 48 x 48 core), ``path="full"`` (forms each
1024 x 1024 update and takes its SVD) and peft's
``add_weighted_adapter(combination_type="svd", svd_rank=48)`` (also a full
SVD, timed without loading the adapters). Reported: median wall time, and the
largest relative difference of the merged updates from the exact sum.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from benchmarks.timing import compare_timings

RANK, N_ADAPTERS = 16, 3


def _stack(width: int, depth: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(*[torch.nn.Linear(width, width, bias=False) for _ in range(depth)])


def run(quick: bool = False) -> list[dict]:
    from peft import LoraConfig, PeftModel, get_peft_model

    from diversa.combine.merge.lora_space import merge_lora

    torch.set_num_threads(1)
    width, depth, repeats = (256, 4, 3) if quick else (1024, 8, 3)
    targets = [str(i) for i in range(depth)]
    with tempfile.TemporaryDirectory() as root:
        paths = []
        for i in range(N_ADAPTERS):
            torch.manual_seed(i + 1)
            config = LoraConfig(r=RANK, lora_alpha=2 * RANK, target_modules=targets, init_lora_weights=False)
            paths.append(str(Path(root) / f"lora{i}"))
            get_peft_model(_stack(width, depth), config).save_pretrained(paths[-1])
        peft_model = PeftModel.from_pretrained(_stack(width, depth), paths[0], adapter_name="a0")
        for i, path in enumerate(paths[1:], start=1):
            peft_model.load_adapter(path, adapter_name=f"a{i}")
        exact = {name: sum(layer.get_delta_weight(f"a{i}") for i in range(N_ADAPTERS)).double()
                 for name, layer in _lora_layers(peft_model).items()}
        merged_rank = RANK * N_ADAPTERS
        counter = iter(range(10 ** 6))

        def peft_svd():
            name = f"m{next(counter)}"
            peft_model.add_weighted_adapter([f"a{i}" for i in range(N_ADAPTERS)], [1.0] * N_ADAPTERS, name,
                                            combination_type="svd", svd_rank=merged_rank)
            return {n: layer.get_delta_weight(name) for n, layer in _lora_layers(peft_model).items()}

        lowrank = lambda: merge_lora(paths, "task_arithmetic", path="lowrank")  # noqa: E731
        full = lambda: merge_lora(paths, "task_arithmetic", path="full")  # noqa: E731
        label = f"merge_lora task arithmetic, {N_ADAPTERS}x rank {RANK}, {depth} x {width}^2"
        row_full, ours, theirs = compare_timings(f"{label} (lowrank vs full path)", lowrank, full, "diversa full path",
                                                 repeats)
        row_peft, _, peft_deltas = compare_timings(f"{label} (lowrank vs peft svd)", lowrank, peft_svd,
                                                   "peft add_weighted_adapter svd", repeats)
    row_full["max_rel_diff_lowrank"] = _worst(ours, exact)
    row_full["max_rel_diff_full"] = _worst(theirs, exact)
    row_peft["max_rel_diff_peft"] = max(float((peft_deltas[n].double() - exact[n]).norm() / exact[n].norm())
                                        for n in exact)
    return [row_full, row_peft]


def _lora_layers(model) -> dict:
    from peft.tuners.lora import LoraLayer

    return {name.removeprefix("base_model.model."): m for name, m in model.named_modules()
            if isinstance(m, LoraLayer)}


def _worst(merge, exact) -> float:
    """Largest relative Frobenius difference of a merge's updates ``s B A`` from the exact ones."""
    scale = merge.config["lora_alpha"] / merge.config["r"]
    worst = 0.0
    for name, delta in exact.items():
        B, A = merge.weights[f"{name}.lora_B.weight"], merge.weights[f"{name}.lora_A.weight"]
        update = scale * B.double() @ A.double()
        worst = max(worst, float((update - delta).norm() / delta.norm()))
    return worst
