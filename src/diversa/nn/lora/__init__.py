"""LoRA adapters and routed mixtures of LoRA experts.

- :class:`LoRALinear`, :func:`apply_lora`, merge/unmerge and state dicts (Hu et al. 2022,
  arXiv:2106.09685; rank-stabilised scaling, arXiv:2312.03732).
- :func:`save_adapter` / :func:`load_adapter` / :func:`read_adapter`: PEFT's adapter files, both ways.
- :class:`LoRAMixerLinear` and :func:`specialization_balance_loss`: LoRA experts routed per token
  inside the projections they adapt (LoRA-Mixer, arXiv:2507.00029).
- :class:`SMoRALinear`: each rank of one LoRA is an expert (SMoRA, arXiv:2501.15103).
- :func:`forward_kwargs` / :func:`record_routing`: reach routed layers inside any model.
"""

from diversa.nn.lora.hooks import RecordedRouting, forward_kwargs, record_routing
from diversa.nn.lora.inject import (
    DEFAULT_TARGETS,
    adapter_layers,
    apply_adapter,
    apply_lora,
    load_lora_state_dict,
    lora_state_dict,
    merge_and_unload,
    merge_lora,
    unmerge_lora,
)
from diversa.nn.lora.linear import LinearAdapter, LoRALinear, lora_scaling
from diversa.nn.lora.mixer import (
    BalanceLoss,
    LoRAMixerLinear,
    MixerRouting,
    apply_lora_mixer,
    load_lora_experts,
    specialization_balance_loss,
    topk_weights,
)
from diversa.nn.lora.peft_format import PeftAdapter, load_adapter, read_adapter, save_adapter
from diversa.nn.lora.smora import RankRouting, SMoRALinear, apply_smora, rank_gates

__all__ = ["DEFAULT_TARGETS", "BalanceLoss", "LinearAdapter", "LoRALinear", "LoRAMixerLinear", "MixerRouting",
           "PeftAdapter", "RankRouting", "RecordedRouting", "SMoRALinear", "adapter_layers", "apply_adapter",
           "apply_lora", "apply_lora_mixer", "apply_smora", "forward_kwargs", "load_adapter", "load_lora_experts",
           "load_lora_state_dict", "lora_scaling", "lora_state_dict", "merge_and_unload", "merge_lora", "rank_gates",
           "read_adapter", "record_routing", "save_adapter", "specialization_balance_loss", "topk_weights",
           "unmerge_lora"]
