"""Weight merging: pure functions over state dicts, plus a streaming engine.

Every merge method is a pure function whose signature is its configuration
schema (as in mergekit): it takes the base state dict, the fine-tuned ones and
typed parameters, computes in float32, casts back to the base dtype and never
mutates its inputs. :mod:`diversa.combine.merge.engine` applies the same
functions to safetensors checkpoints one tensor at a time (``diversa merge``).

Methods: weight averaging, Task Arithmetic, TIES-Merging, DARE, DELLA, Model
Breadcrumbs, SCE, SLERP (and nuslerp, multislerp), the Karcher mean, Model
Stock, NearSwap, Arcee Fusion, RAM (and RAM+), passthrough, magnitude pruning,
linear interpolation, PCB-Merging, Twin-Merging and Reversible Model Merging;
see each module for its paper.
:mod:`~diversa.combine.merge.lora_space` merges PEFT LoRA adapters in LoRA space with them.
"""

import importlib

from diversa.combine.merge.arcee_fusion import arcee_fusion, arcee_fusion_tensor, fusion_importance
from diversa.combine.merge.averaging import weight_average
from diversa.combine.merge.breadcrumbs import breadcrumbs_merging, breadcrumbs_tensor
from diversa.combine.merge.dare import combine_deltas, dare, dare_merging, dare_tensor, l1_rescale
from diversa.combine.merge.della import della_merging, della_tensor, magprune_probabilities
from diversa.combine.merge.interpolation import linear_interpolation
from diversa.combine.merge.karcher import karcher_mean, karcher_tensor
from diversa.combine.merge.keys import StateDict, merge_keys
from diversa.combine.merge.magnitude_prune import magnitude_prune_merging
from diversa.combine.merge.model_stock import model_stock, model_stock_tensor
from diversa.combine.merge.nearswap import nearswap, nearswap_tensor
from diversa.combine.merge.passthrough import passthrough
from diversa.combine.merge.pcb import pcb_merging, pcb_scores
from diversa.combine.merge.ram import ram_merging, ram_tensor, ramplus_tl_merging, ramplus_tl_tensor
from diversa.combine.merge.rmm import RMMBasis, factors_from_lora, factors_from_svd, rmm_fit, storage_ratio
from diversa.combine.merge.sce import sce_merging, sce_tensor
from diversa.combine.merge.selection import normalized_accuracy, select_by_validation
from diversa.combine.merge.slerp import multislerp, multislerp_tensor, nuslerp, nuslerp_tensor, slerp, slerp_tensor
from diversa.combine.merge.task_arithmetic import task_arithmetic
from diversa.combine.merge.task_vectors import add_task_vector, task_vectors
from diversa.combine.merge.ties import disjoint_merge, elect_sign, magnitude_trim, ties_merging, ties_tensor

#: Loaded on first use, so that the streaming engine does not pay for
#: scikit-learn (Twin-Merging's estimator base class) or the LoRA layers.
_LAZY = {"TwinMerging": "twin", "compress_svd": "twin", "merge_lora": "lora_space",
         "save_merged_adapter": "lora_space"}

__all__ = [
    "RMMBasis", "StateDict", "TwinMerging", "add_task_vector", "arcee_fusion", "arcee_fusion_tensor",
    "breadcrumbs_merging", "breadcrumbs_tensor", "combine_deltas", "compress_svd", "dare", "dare_merging",
    "dare_tensor", "della_merging", "della_tensor", "disjoint_merge", "elect_sign", "factors_from_lora",
    "factors_from_svd", "fusion_importance", "karcher_mean", "karcher_tensor", "l1_rescale",
    "linear_interpolation", "magnitude_prune_merging", "magnitude_trim", "magprune_probabilities",
    "merge_keys", "model_stock", "model_stock_tensor", "multislerp", "multislerp_tensor", "nearswap",
    "nearswap_tensor", "normalized_accuracy", "nuslerp", "nuslerp_tensor", "passthrough", "pcb_merging",
    "pcb_scores", "ram_merging", "ram_tensor", "ramplus_tl_merging", "ramplus_tl_tensor", "rmm_fit",
    "sce_merging", "sce_tensor", "select_by_validation", "slerp", "slerp_tensor", "storage_ratio",
    "task_arithmetic", "task_vectors", "ties_merging", "ties_tensor", "weight_average",
    "merge_lora", "save_merged_adapter",  # LoRA-space merging (loaded on first use)
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
