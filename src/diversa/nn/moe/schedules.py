"""Sigma-MoE-Tiny's progressive sparsification: more active experts in the lower layers first.

Hu et al., "Sigma-MoE-Tiny Technical Report", arXiv:2512.16248 (Microsoft;
code ``microsoft/ltp-megatron-lm``, flag ``moe_router_topk_layer_wise``).

At extreme sparsity (fine-grained experts, top-1) the Switch balance loss
stops balancing the LOWER layers: ``E * sum_i f_i P_i`` reaches its minimum
when the mean gate probabilities P are flat even though the token allocation f
stays very uneven. The report's fix trains the lower layers with more active
experts first and switches every layer to top-1 later in training.

RESOLUTION (spec ``experts.md#sigma_moe_tiny``; the report gives neither the
per-layer list nor the switch point): :func:`sigma_default_schedule` puts
``k_low = min(8, E // 4)`` experts on the lowest ``n_low = max(1, L // 8)``
layers, then divides by 4 per layer up to 1 (L = 4, E = 32 -> [8, 2, 1, 1]);
the switch to top-1 everywhere is one-shot (a restart flag in the official
code, no anneal) at 50% of the training steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from diversa.nn.moe.layer import MoEFeedForward
from diversa.nn.moe.router import RouterOutput

__all__ = ["LossFreeBias", "ProgressiveSparsification", "active_expert_params", "sigma_default_schedule"]


def _moe_layers(model: nn.Module) -> list[MoEFeedForward]:
    if hasattr(model, "moe_layers"):
        return model.moe_layers()
    return [m for m in model.modules() if isinstance(m, MoEFeedForward)]


def sigma_default_schedule(n_layers: int, num_experts: int, k_low: int | None = None,
                           n_low: int | None = None) -> list[int]:
    """Initial per-layer k (diversa's RESOLUTION of the unpublished Sigma-MoE-Tiny list).

    ``n_layers=4, num_experts=32 -> [8, 2, 1, 1]``; ``56, 96 -> [8]*7 + [2] + [1]*48``.
    """
    if n_layers < 1 or num_experts < 1:
        raise ValueError(f"n_layers and num_experts must be >= 1, got {n_layers}, {num_experts}.")
    k_low = min(8, max(1, num_experts // 4)) if k_low is None else k_low
    n_low = max(1, math.floor(n_layers / 8)) if n_low is None else n_low
    if not 1 <= k_low <= num_experts:
        raise ValueError(f"k_low must be in [1, num_experts={num_experts}], got {k_low}.")
    if n_low < 0:
        raise ValueError(f"n_low must be >= 0, got {n_low}.")
    return [k_low if layer < n_low else max(1, k_low // 4 ** (layer - n_low + 1)) for layer in range(n_layers)]


class ProgressiveSparsification:
    """Training callback that sets each MoE layer's k: ``topk_initial`` then ``topk_final``.

    ``switch_at``: an int step, or a float in (0, 1) read as a fraction of
    ``total_steps``. Call as ``callback(step, model, batch=None, out=None)``
    (the :func:`~diversa.nn.training.train_lm` callback signature); dropless
    layers need no re-allocation when k changes.
    """

    def __init__(self, topk_initial: Sequence[int], topk_final: Sequence[int] | int = 1,
                 switch_at: float = 0.5, total_steps: int | None = None):
        self.topk_initial = [int(k) for k in topk_initial]
        if not self.topk_initial or min(self.topk_initial) < 1:
            raise ValueError(f"topk_initial must be a non-empty list of k >= 1, got {topk_initial}.")
        final = [int(topk_final)] * len(self.topk_initial) if isinstance(topk_final, int) else \
            [int(k) for k in topk_final]
        if len(final) != len(self.topk_initial) or min(final) < 1:
            raise ValueError(f"topk_final must be an int >= 1 or a list as long as topk_initial, got {topk_final}.")
        self.topk_final = final
        if isinstance(switch_at, float):
            if not 0.0 < switch_at < 1.0:
                raise ValueError(f"switch_at as a fraction must be in (0, 1), got {switch_at}.")
        elif not isinstance(switch_at, int) or switch_at < 0:
            raise ValueError(f"switch_at must be a step >= 0 or a fraction in (0, 1), got {switch_at!r}.")
        self.switch_at = switch_at
        self.total_steps = total_steps

    def switch_step(self, total_steps: int | None = None) -> int:
        """The first step that uses ``topk_final``."""
        if isinstance(self.switch_at, int):
            return self.switch_at
        total = self.total_steps if total_steps is None else total_steps
        if total is None:
            raise ValueError("total_steps is needed when switch_at is a fraction.")
        return round(self.switch_at * total)

    def topk_at(self, step: int, total_steps: int | None = None) -> list[int]:
        """Per-layer k at ``step``."""
        return list(self.topk_initial if step < self.switch_step(total_steps) else self.topk_final)

    def __call__(self, step: int, model: nn.Module, batch=None, out=None) -> None:
        layers = _moe_layers(model)
        if len(layers) != len(self.topk_initial):
            raise ValueError(f"the schedule has {len(self.topk_initial)} layers, the model {len(layers)} MoE layers.")
        for layer, k in zip(layers, self.topk_at(step)):
            layer.top_k = k  # validated against the layer's number of experts


def active_expert_params(model: nn.Module) -> int:
    """Expert parameters active per token: ``sum_l k_l * params_per_expert_l`` (null slots cost 0 but are
    counted at k here; use :func:`~diversa.nn.moe.routing_stats` of a forward's routing for AdaMoE)."""
    return sum(layer.top_k * layer.params_per_expert() for layer in _moe_layers(model))


class LossFreeBias:
    """Auxiliary-loss-free balancing (Wang et al., arXiv:2408.15664; DeepSeek-V3), as a training callback.

    Sigma-MoE-Tiny reports that it FAILS in the lower layers at high sparsity
    (the biases keep growing and one expert captures almost every token); the
    reproduction runs it as that ablation. :meth:`attach` switches every MoE
    router to sigmoid scores with a zero per-expert ``selection_bias`` (used
    for selection only; gate values stay the unbiased scores). Called before
    each training step with the previous step's output (``out.routers`` and
    ``out.mask`` of a :class:`~diversa.nn.models.TinyLMOutput`), it updates
    ``b_i <- b_i + u * sign(mean(c) - c_i)`` from that forward's counts ``c``
    (non-pad tokens), without gradients. Train with ``lb_coef=0``.
    """

    def __init__(self, update_rate: float = 1e-3, score: str = "sigmoid"):
        if not update_rate > 0:
            raise ValueError(f"update_rate must be > 0, got {update_rate}.")
        if score != "sigmoid":
            raise ValueError(f"score must be 'sigmoid' (DeepSeek-V3), got {score!r}.")
        self.update_rate = update_rate
        self.score = score
        self.history: list[list[float]] = []

    def attach(self, model: nn.Module) -> nn.Module:
        """Give every MoE router a zero selection bias (in place); returns ``model``."""
        for layer in _moe_layers(model):
            layer.router.selection_bias = torch.zeros(layer.router.total_experts)
        return model

    @torch.no_grad()
    def update(self, layer: MoEFeedForward, routing: RouterOutput, mask: torch.Tensor | None = None) -> None:
        """One sign update of ``layer``'s bias from a forward's ``routing`` (``mask`` [T]: tokens counted)."""
        idx = routing.topk_idx if mask is None else routing.topk_idx[mask.reshape(-1).to(torch.bool)]
        counts = torch.bincount(idx.reshape(-1), minlength=layer.router.total_experts).float()
        layer.router.selection_bias += self.update_rate * torch.sign(counts.mean() - counts)

    def __call__(self, step: int, model: nn.Module, batch=None, out=None) -> None:
        layers = _moe_layers(model)
        if any(layer.router.selection_bias is None for layer in layers):
            self.attach(model)
        if out is not None:
            for layer, routing in zip(layers, out.routers, strict=True):
                self.update(layer, routing, getattr(out, "mask", None))
        self.history.append([float(layer.router.selection_bias.max() - layer.router.selection_bias.min())
                             for layer in layers])
