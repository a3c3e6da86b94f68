"""AdaMoE null experts: token-adaptive numbers of true experts in a top-k MoE.

Zeng, Miao, Wang, Cheng, Fu, Zhang, "AdaMoE: Token-Adaptive Routing with Null
Experts for Mixture-of-Experts Language Models", Findings of EMNLP 2024,
arXiv:2406.13233 (official code ``CengZihao/AdaMoE``).

m null experts (zero output, no parameters besides their router rows, zero
FLOPs) join the n true experts of every MoE layer and k is raised (default
k0 = 2 -> k = 4). The ordinary top-k router then decides per token how many of
its k slots go to true experts (0..k); the selected true experts' weights are
renormalised among themselves, and a token with only null experts keeps its
residual. A balance loss over n + m experts with the null counts averaged
(:func:`~diversa.nn.moe.losses.adamoe_load_balancing_loss`, the paper's
variant; ``null_load="individual"`` is what official exp 2 effectively ran)
controls the average null usage. The layer mechanics live in
:class:`~diversa.nn.moe.MoEFeedForward` (``num_null_experts > 0``); this
module converts trained top-k MoEs and measures |T(x)|.

Conversion (official exp 2): the null router rows are the pretrained router
tiled m/n times (null j copies true expert j mod n). With the stable
tie-breaking of :class:`~diversa.nn.moe.TopKRouter` (true experts have lower
ids) and k = k0 (m/n + 1), the top-k of the converted layer holds exactly the
baseline's top-k0 true experts plus their twins, so the converted model
reproduces the baseline's outputs exactly before fine-tuning.
"""

from __future__ import annotations

import torch
from torch import nn

from diversa.nn.moe.layer import MoEFeedForward

__all__ = ["add_null_experts", "true_expert_counts"]


def _moe_layers(model: nn.Module) -> list[MoEFeedForward]:
    if isinstance(model, MoEFeedForward):
        return [model]
    return [m for m in model.modules() if isinstance(m, MoEFeedForward)]


def add_null_experts(model: nn.Module, num_null: int = 16, top_k: int = 4, init: str = "tile",
                     null_load: str = "average", init_std: float = 0.02) -> nn.Module:
    """Turn every (top-k0) :class:`MoEFeedForward` in ``model`` into an AdaMoE layer, in place.

    ``num_null`` null experts per layer, new ``top_k``; null router rows
    initialised by ``init``: "tile" (copies of the true rows, needs
    ``num_null % num_experts == 0``; function-preserving when ``top_k = k0 *
    (num_null / num_experts + 1)``), "zero" or "normal" (N(0, init_std)).
    ``num_null=0`` with the layer's own k is a no-op. A TinyLM's
    ``config.moe`` is updated to match. Returns ``model``.
    """
    if not isinstance(num_null, int) or num_null < 0:
        raise ValueError(f"num_null must be a non-negative int, got {num_null!r}.")
    if init not in ("tile", "zero", "normal"):
        raise ValueError(f"init must be 'tile', 'zero' or 'normal', got {init!r}.")
    if null_load not in ("average", "individual"):
        raise ValueError(f"null_load must be 'average' or 'individual', got {null_load!r}.")
    layers = _moe_layers(model)
    if not layers:
        raise ValueError("model has no MoEFeedForward layer to convert.")
    for layer in layers:
        router = layer.router
        n = router.num_experts
        if router.num_null_experts:
            raise ValueError("model already has null experts.")
        if not isinstance(top_k, int) or not 1 <= top_k <= n + num_null:
            raise ValueError(f"top_k must be in [1, num_experts + num_null] = [1, {n + num_null}], got {top_k!r}.")
        if init == "tile" and num_null % n:
            raise ValueError(f"init='tile' needs num_null ({num_null}) to be a multiple of num_experts ({n}).")
    for layer in layers:
        router = layer.router
        if num_null:
            weight = router.weight.detach()
            if init == "tile":
                rows = weight.repeat(num_null // router.num_experts, 1)
            elif init == "zero":
                rows = torch.zeros(num_null, weight.shape[1], dtype=weight.dtype)
            else:
                rows = torch.randn(num_null, weight.shape[1], dtype=weight.dtype) * init_std
            router.null_weight = nn.Parameter(rows.clone())
            router.num_null_experts = num_null
        router.top_k = top_k
        layer.null_load = null_load
    moe = getattr(getattr(model, "config", None), "moe", None)
    if moe is not None:
        moe.num_null_experts, moe.top_k, moe.null_load = num_null, top_k, null_load
        if moe.topk_per_layer is not None:
            moe.topk_per_layer = tuple(top_k for _ in moe.topk_per_layer)
    return model


@torch.no_grad()
def true_expert_counts(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """|T(x)|, the number of TRUE experts each token uses, per MoE layer: LongTensor [layers, B, L]."""
    model.eval()
    out = model(input_ids)
    return torch.stack([(r.topk_idx < layer.num_experts).sum(dim=1).reshape(input_ids.shape)
                        for r, layer in zip(out.routers, model.moe_layers())])
