"""Mixture-of-experts feed-forward layers, routers, balance losses and routing schedules.

- :class:`MoEFeedForward`: dropless top-k MoE FFN (SwiGLU or GELU experts), batched dispatch,
  optional AdaMoE null experts (arXiv:2406.13233); ``forward`` returns ``(output, router_logits)``,
  :meth:`~MoEFeedForward.aux_losses` and :func:`routing_stats` work from them.
- :class:`TopKRouter`, :class:`RoutingOverride`, :class:`RouterOutput`: routing and its
  inference-time overrides (top-k, rank-k, top-p, random; used by SCMoE, arXiv:2405.14507).
- Losses over one layer's routing: Switch/GShard balance, router z-loss, global-batch balance,
  AdaMoE's null-aware balance, Sigma-MoE-Tiny's Top-1 LBL, and :func:`load_balance_stats`.
- :mod:`~diversa.nn.moe.null_experts`: convert a trained top-k MoE into AdaMoE.
- :mod:`~diversa.nn.moe.schedules`: Sigma-MoE-Tiny's progressive sparsification (arXiv:2512.16248)
  and loss-free bias balancing (its documented failure case).
"""

from diversa.nn.moe.layer import LB_TYPES, MoEAuxLosses, MoEFeedForward, routing_stats
from diversa.nn.moe.losses import (
    GlobalBatchLBL,
    adamoe_load_balancing_loss,
    expert_counts,
    load_balance_stats,
    router_z_loss,
    switch_load_balancing_loss,
    top1_load_balancing_loss,
)
from diversa.nn.moe.null_experts import add_null_experts, true_expert_counts
from diversa.nn.moe.router import RouterOutput, RoutingOverride, TopKRouter, router_parameters, sorted_experts
from diversa.nn.moe.schedules import (
    LossFreeBias,
    ProgressiveSparsification,
    active_expert_params,
    sigma_default_schedule,
)

__all__ = ["LB_TYPES", "GlobalBatchLBL", "LossFreeBias", "MoEAuxLosses", "MoEFeedForward",
           "ProgressiveSparsification", "RouterOutput", "RoutingOverride", "TopKRouter", "active_expert_params",
           "adamoe_load_balancing_loss", "add_null_experts", "expert_counts", "load_balance_stats", "router_z_loss",
           "router_parameters", "routing_stats", "sigma_default_schedule", "sorted_experts", "switch_load_balancing_loss",
           "top1_load_balancing_loss", "true_expert_counts"]
