"""LoRA-Mixer: LoRA experts routed per token inside the projections they adapt.

"LoRA-Mixer: Coordinate Modular LoRA Experts Through Serial Attention
Routing" (arXiv:2507.00029; ICLR 2026). A routed mixture of E LoRA
experts replaces a linear layer of the attention block (q, k, v, o), so the
routed update flows through attention ("serial" routing) instead of being
fused beside it:

    y = W x + sum_{e in S(x)} w_e(x) * s_e * B_e A_e x,    p(x) = softmax(W_g x)

with one router ``W_g`` (E x in) per adapted linear, fed that linear's input.
``mode="soft"`` uses all experts with ``w = p`` (the paper's training
fusion); ``"sparse"`` keeps the top-k of ``p`` and renormalises them per
token (inference); ``"auto"`` is soft in ``train()`` and sparse in ``eval()``.
An ``expert_weights`` override gives hard routing (stage 1: every token of an
example uses its task's expert) or any fixed mixture. Experts may be trained
here or loaded frozen from existing LoRAs of any rank (plug-and-play).

The routers are trained with the specialization balance loss (v1: "SBL",
v2: "RSL"), :func:`specialization_balance_loss`: Switch-style balance of
top-1 usage plus a per-token entropy term that makes each token's routing
sharp. The official repository has no code; the resolutions of the spec
(``experts.md`` section ``lora_mixer``) are used: per-linear routers, entropy
minimised (the printed sign is flipped relative to the text; ``entropy_sign``
exposes both), ``L_bal`` scaled by E so a balanced router scores 1.

The loss is computed from the routing the layer returns
(``forward(x, return_routing=True)``, or :func:`~diversa.nn.lora.record_routing`
for a whole model); nothing is kept on the module between calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from diversa.nn.lora.inject import DEFAULT_TARGETS, adapter_layers, apply_adapter, match_pattern, split_lora_key
from diversa.nn.lora.linear import (
    INITS,
    LinearAdapter,
    check_alpha,
    check_dropout,
    check_rank,
    init_lora_pair,
    lora_scaling,
)
from diversa.nn.lora.peft_format import PeftAdapter

__all__ = ["MODES", "BalanceLoss", "LoRAMixerLinear", "MixerRouting", "apply_lora_mixer", "load_lora_experts",
           "specialization_balance_loss", "topk_weights"]

MODES = ("auto", "soft", "sparse")


class MixerRouting(NamedTuple):
    """Per-token routing of a :class:`LoRAMixerLinear` over E experts, all ``[..., E]`` like the input's tokens.

    ``logits``/``probs``: the router's scores and softmax; ``weights``: what
    each expert's update was multiplied by (top-k renormalised in sparse mode,
    ``probs`` in soft mode, the override when one was given).
    """

    logits: torch.Tensor
    probs: torch.Tensor
    weights: torch.Tensor


class BalanceLoss(NamedTuple):
    """:func:`specialization_balance_loss`: ``loss`` = alpha * ``balance`` + sign * lambda * ``entropy``;
    ``usage`` f [E] and ``mean_prob`` pbar [E] over the counted tokens."""

    loss: torch.Tensor
    balance: torch.Tensor
    entropy: torch.Tensor
    usage: torch.Tensor
    mean_prob: torch.Tensor


def topk_weights(probs: torch.Tensor, k: int) -> torch.Tensor:
    """``probs`` [..., E] restricted to each token's top-k experts and renormalised to sum 1 per token.

    Ties go to the lower expert index (stable sort), so routing is deterministic.
    """
    order = torch.sort(probs, dim=-1, descending=True, stable=True).indices[..., :k]
    kept = torch.zeros_like(probs).scatter(-1, order, probs.gather(-1, order))
    return kept / kept.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(probs.dtype).tiny)


def _per_expert(value, num_experts: int, name: str) -> list:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != num_experts:
            raise ValueError(f"{name} must be one value or one per expert ({num_experts}), got {len(value)} values.")
        return list(value)
    return [value] * num_experts


class LoRAMixerLinear(LinearAdapter):
    """A frozen ``nn.Linear`` plus E LoRA experts mixed per token by a softmax router (LoRA-Mixer).

    ``forward(x [..., in], expert_weights=None, return_routing=False)`` returns
    ``[..., out]``, or ``(output, MixerRouting)`` with ``return_routing``.
    ``expert_weights`` overrides the router: a float tensor broadcastable to
    ``[..., E]`` (used as given: one-hot for hard routing) or an integer
    tensor of expert ids broadcastable to ``x.shape[:-1]``.

    ``r`` and ``alpha`` are one value or one per expert (``alpha=None``: 2r,
    i.e. scale 2 as in :class:`~diversa.nn.lora.LoRALinear`'s defaults);
    expert e's scale is ``alpha_e / r_e`` (``/ sqrt(r_e)`` with
    ``use_rslora``). ``top_k`` is the number of experts kept in sparse mode.
    Experts start as fresh LoRAs (A kaiming, B zero); the router is
    N(0, ``router_init_std``), nearly uniform.

    Example:
        >>> import torch
        >>> layer = LoRAMixerLinear(torch.nn.Linear(8, 8), num_experts=4, r=2, top_k=2).eval()
        >>> routing = layer.routing(torch.randn(3, 5, 8))
        >>> tuple(routing.weights.shape), int((routing.weights[0, 0] > 0).sum())
        ((3, 5, 4), 2)
    """

    returns_routing = True

    def __init__(self, base: nn.Linear, num_experts: int = 4, r: int | Sequence[int] = 8,
                 alpha: float | Sequence[float] | None = None, dropout: float = 0.0, top_k: int = 2,
                 mode: str = "auto", use_rslora: bool = False, router_init_std: float = 0.02,
                 init: str = "kaiming"):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}.")
        if isinstance(num_experts, bool) or not isinstance(num_experts, int) or num_experts < 1:
            raise ValueError(f"num_experts must be a positive int, got {num_experts!r}.")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k must be an int in [1, num_experts={num_experts}], got {top_k!r}.")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}.")
        ranks = [check_rank(ri, base.in_features, base.out_features, "r")
                 for ri in _per_expert(r, num_experts, "r")]
        given = _per_expert(alpha, num_experts, "alpha")
        alphas = [check_alpha(2 * ri if a is None else a) for ri, a in zip(ranks, given, strict=True)]
        self.dropout_p = check_dropout(dropout)
        self.num_experts, self.top_k, self.mode = num_experts, top_k, mode
        self.ranks = ranks
        self.scalings = [lora_scaling(ri, a, use_rslora) for ri, a in zip(ranks, alphas, strict=True)]
        factory = self._wrap(base)
        self.lora_A = nn.ModuleList(nn.Linear(base.in_features, ri, bias=False, **factory) for ri in ranks)
        self.lora_B = nn.ModuleList(nn.Linear(ri, base.out_features, bias=False, **factory) for ri in ranks)
        for A, B, ri in zip(self.lora_A, self.lora_B, ranks, strict=True):
            init_lora_pair(A, B, init, ri)
        self.router = nn.Linear(base.in_features, num_experts, bias=False, **factory)
        nn.init.normal_(self.router.weight, 0.0, router_init_std)
        self.lora_dropout = nn.Dropout(self.dropout_p) if self.dropout_p > 0 else nn.Identity()

    def extra_repr(self) -> str:
        return (f"num_experts={self.num_experts}, ranks={self.ranks}, top_k={self.top_k}, mode={self.mode!r}, "
                f"scalings={[round(s, 6) for s in self.scalings]}")

    @property
    def active_mode(self) -> str:
        """"soft" or "sparse": the mode a forward pass uses now ("auto" follows ``self.training``)."""
        if self.mode == "auto":
            return "soft" if self.training else "sparse"
        return self.mode

    def _override(self, x: torch.Tensor, expert_weights) -> torch.Tensor:
        tokens = tuple(x.shape[:-1])
        if not isinstance(expert_weights, torch.Tensor):
            raise TypeError(f"expert_weights must be a tensor, got {type(expert_weights).__name__}.")
        if not expert_weights.is_floating_point():
            ids = expert_weights
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_experts):
                raise ValueError(f"expert ids must be in [0, {self.num_experts}), got "
                                 f"[{int(ids.min())}, {int(ids.max())}].")
            expert_weights = F.one_hot(ids.long(), self.num_experts).to(x.dtype)
        if expert_weights.shape[-1:] != (self.num_experts,):
            raise ValueError(f"expert_weights must end in num_experts={self.num_experts}, "
                             f"got shape {tuple(expert_weights.shape)}.")
        try:
            shape = torch.broadcast_shapes(expert_weights.shape, tokens + (self.num_experts,))
        except RuntimeError:
            shape = None
        if shape != tokens + (self.num_experts,):
            raise ValueError(f"expert_weights of shape {tuple(expert_weights.shape)} do not broadcast to the "
                             f"input's tokens {tokens} x {self.num_experts} experts.")
        return expert_weights.to(x.dtype).expand(shape)

    def routing(self, x: torch.Tensor, expert_weights: torch.Tensor | None = None) -> MixerRouting:
        """The per-token routing of ``x`` [..., in] in the current mode (or under the override)."""
        logits = self.router(x)
        probs = logits.softmax(dim=-1)
        if expert_weights is not None:
            weights = self._override(x, expert_weights)
        elif self.active_mode == "soft":
            weights = probs
        else:
            weights = topk_weights(probs, self.top_k)
        return MixerRouting(logits, probs, weights)

    def expert_delta(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Expert e's update ``s_e * B_e A_e x`` for ``x`` [..., in] (dropout applied in training)."""
        return self.scalings[e] * self.lora_B[e](self.lora_A[e](self.lora_dropout(x)))

    def delta_weight(self, e: int) -> torch.Tensor:
        """Expert e's update as a matrix ``s_e * B_e @ A_e`` (out x in)."""
        return self.scalings[e] * (self.lora_B[e].weight @ self.lora_A[e].weight)

    def forward(self, x: torch.Tensor, expert_weights: torch.Tensor | None = None, return_routing: bool = False):
        routing = self.routing(x, expert_weights)
        xd = self.lora_dropout(x)
        out = self.base_layer(x)
        for e in range(self.num_experts):
            delta = self.scalings[e] * self.lora_B[e](self.lora_A[e](xd))
            out = out + routing.weights[..., e:e + 1] * delta
        return (out, routing) if return_routing else out

    def load_expert(self, e: int, A: torch.Tensor, B: torch.Tensor, scaling: float | None = None,
                    freeze: bool = True) -> None:
        """Make expert ``e`` the LoRA ``scaling * B @ A`` (A: r x in, B: out x r; any rank r).

        ``scaling=None`` keeps the expert's current scale. With ``freeze`` the
        expert's weights stop training (plug-and-play experts). Shapes are
        checked before anything changes.
        """
        if isinstance(e, bool) or not isinstance(e, int) or not 0 <= e < self.num_experts:
            raise ValueError(f"expert index must be in [0, {self.num_experts}), got {e!r}.")
        if not (isinstance(A, torch.Tensor) and isinstance(B, torch.Tensor) and A.ndim == 2 and B.ndim == 2):
            raise ValueError("A and B must be 2-D tensors.")
        r = A.shape[0]
        if A.shape[1] != self.in_features or B.shape != (self.out_features, r):
            raise ValueError(f"expert {e}: expected A of shape (r, {self.in_features}) and B of shape "
                             f"({self.out_features}, r), got A {tuple(A.shape)} and B {tuple(B.shape)}.")
        check_rank(r, self.in_features, self.out_features, "rank of A")
        scale = self.scalings[e] if scaling is None else check_alpha(scaling, "scaling")
        factory = {"device": self.base_layer.weight.device, "dtype": self.base_layer.weight.dtype}
        new_A = nn.Linear(self.in_features, r, bias=False, **factory)
        new_B = nn.Linear(r, self.out_features, bias=False, **factory)
        with torch.no_grad():
            new_A.weight.copy_(A)
            new_B.weight.copy_(B)
        new_A.requires_grad_(not freeze)
        new_B.requires_grad_(not freeze)
        self.lora_A[e], self.lora_B[e] = new_A, new_B
        self.ranks[e], self.scalings[e] = r, scale


def specialization_balance_loss(probs: torch.Tensor, mask: torch.Tensor | None = None, alpha: float = 1e-2,
                                lam: float = 1e-2, entropy_sign: int = 1, usage: str = "top1",
                                top_k: int | None = None) -> BalanceLoss:
    """LoRA-Mixer's specialization balance loss (SBL / RSL) over one routed layer's tokens.

    ``probs`` [..., E] router probabilities (``MixerRouting.probs``); ``mask``
    [...] bool, True for tokens to count (padding excluded). With
    ``pbar_i = mean_t p_i`` and ``f_i`` the share of tokens whose top-1
    expert is i (``usage="top1"``) or the mean renormalised top-k weight of
    expert i (``usage="topk_share"``, needs ``top_k``):

        balance = E * sum_i pbar_i f_i         (1 when perfectly balanced)
        entropy = mean_t H(p(x_t))
        loss    = alpha * balance + entropy_sign * lam * entropy

    ``entropy_sign=+1`` (default) makes each token's routing sharp, as the
    paper's text and figures describe; ``-1`` is its printed Eq. 5. A mask
    with no tokens gives zeros. Returns a :class:`BalanceLoss`.

    Example:
        >>> import torch
        >>> out = specialization_balance_loss(torch.full((6, 4), 0.25))
        >>> round(float(out.balance), 6), round(float(out.entropy), 6)  # uniform: 1 and log 4
        (1.0, 1.386294)
    """
    if not isinstance(probs, torch.Tensor) or probs.ndim < 1:
        raise ValueError("probs must be a tensor [..., num_experts].")
    if entropy_sign not in (1, -1):
        raise ValueError(f"entropy_sign must be +1 or -1, got {entropy_sign!r}.")
    if usage not in ("top1", "topk_share"):
        raise ValueError(f"usage must be 'top1' or 'topk_share', got {usage!r}.")
    num_experts = probs.shape[-1]
    if usage == "topk_share" and (not isinstance(top_k, int) or not 1 <= top_k <= num_experts):
        raise ValueError(f"usage='topk_share' needs top_k in [1, {num_experts}], got {top_k!r}.")
    flat = probs.reshape(-1, num_experts)
    if mask is not None:
        if tuple(mask.shape) != tuple(probs.shape[:-1]):
            raise ValueError(f"mask must have shape {tuple(probs.shape[:-1])}, got {tuple(mask.shape)}.")
        flat = flat[mask.reshape(-1).bool()]
    if flat.shape[0] == 0:
        zero = probs.new_zeros(())
        return BalanceLoss(zero, zero, zero, probs.new_zeros(num_experts), probs.new_zeros(num_experts))
    mean_prob = flat.mean(dim=0)
    with torch.no_grad():
        if usage == "top1":
            top = torch.sort(flat, dim=-1, descending=True, stable=True).indices[:, 0]
            share = F.one_hot(top, num_experts).to(flat.dtype).mean(dim=0)
        else:
            share = topk_weights(flat, top_k).mean(dim=0)
    balance = num_experts * (mean_prob * share).sum()
    entropy = -torch.special.xlogy(flat, flat).sum(dim=-1).mean()
    return BalanceLoss(alpha * balance + entropy_sign * lam * entropy, balance, entropy, share, mean_prob)


def apply_lora_mixer(model: nn.Module, target_modules=DEFAULT_TARGETS, num_experts: int = 4,
                     r: int | Sequence[int] = 8, alpha: float | Sequence[float] | None = None, **kwargs) -> nn.Module:
    """Replace the targeted linear layers by :class:`LoRAMixerLinear` (LoRA-Mixer's placement: q, k, v, o).

    ``kwargs`` go to :class:`LoRAMixerLinear`. Everything else is frozen;
    experts and routers train. All-or-nothing, like
    :func:`~diversa.nn.lora.apply_adapter`. Returns ``model``.
    """
    return apply_adapter(model, target_modules,
                         lambda name, base: LoRAMixerLinear(base, num_experts, r=r, alpha=alpha, **kwargs))


def _adapter_pairs(adapter, index: int) -> tuple[dict[str, dict[str, torch.Tensor]], PeftAdapter | None]:
    weights = adapter.weights if isinstance(adapter, PeftAdapter) else adapter
    if not isinstance(weights, Mapping):
        raise TypeError(f"adapters[{index}] must be a LoRA state dict or a PeftAdapter, got {type(adapter).__name__}.")
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        module, which = split_lora_key(key)
        pairs.setdefault(module, {})[which] = tensor
    return pairs, adapter if isinstance(adapter, PeftAdapter) else None


def load_lora_experts(model: nn.Module, adapters: Sequence, alpha: float | Sequence[float | None] | None = None,
                      strict: bool = True, freeze: bool = True) -> nn.Module:
    """Load ``adapters[e]`` as expert e of every :class:`LoRAMixerLinear` in ``model`` (plug-and-play experts).

    Each adapter is a LoRA state dict (``{"<module>.lora_A.weight", ...}``, as
    :func:`~diversa.nn.lora.lora_state_dict` returns it) or a
    :class:`~diversa.nn.lora.PeftAdapter` (from :func:`~diversa.nn.lora.read_adapter`,
    whose config supplies alpha, rank patterns and rsLoRA). For a plain state
    dict the scale is ``alpha[e] / r`` when ``alpha`` is given, else the
    expert keeps its scale. With ``strict`` every adapter must cover every
    mixer layer; without it an uncovered expert becomes a zero update. Ranks
    may differ per adapter. Everything is checked before anything is loaded.
    Returns ``model``.
    """
    mixers = adapter_layers(model, LoRAMixerLinear)
    if not mixers:
        raise ValueError(f"{type(model).__name__} has no LoRAMixerLinear layers (use apply_lora_mixer first).")
    num_experts = {m.num_experts for m in mixers.values()}
    if len(adapters) not in num_experts or len(num_experts) > 1:
        raise ValueError(f"got {len(adapters)} adapters for mixer layers with {sorted(num_experts)} experts.")
    alphas = _per_expert(alpha, len(adapters), "alpha")
    plan = []
    for e, adapter in enumerate(adapters):
        pairs, peft = _adapter_pairs(adapter, e)
        unknown = sorted(set(pairs) - set(mixers))
        if unknown:
            raise ValueError(f"adapters[{e}] has weights for {unknown[:4]}, which are not LoRAMixerLinear layers "
                             f"of the model (mixers: {', '.join(mixers)}).")
        missing = sorted(set(mixers) - set(pairs))
        if strict and missing:
            raise ValueError(f"adapters[{e}] has no weights for mixer layer(s) {missing[:4]} (strict=True).")
        for name, layer in mixers.items():
            if name not in pairs:
                plan.append((layer, e, torch.zeros(1, layer.in_features), torch.zeros(layer.out_features, 1), None))
                continue
            pair = pairs[name]
            if set(pair) != {"lora_A", "lora_B"}:
                raise ValueError(f"adapters[{e}] has only {sorted(pair)} for {name!r}.")
            A, B = pair["lora_A"], pair["lora_B"]
            if A.ndim != 2 or B.ndim != 2 or A.shape[1] != layer.in_features or \
                    B.shape != (layer.out_features, A.shape[0]):
                raise ValueError(f"adapters[{e}] {name}: lora_A {tuple(A.shape)} and lora_B {tuple(B.shape)} do not "
                                 f"fit the layer Linear(in_features={layer.in_features}, "
                                 f"out_features={layer.out_features}).")
            check_rank(A.shape[0], layer.in_features, layer.out_features, f"adapters[{e}] {name} rank")
            if peft is not None:
                config = peft.config
                a = match_pattern(name, config.get("alpha_pattern"), config.get("lora_alpha", 8))
                scaling = lora_scaling(A.shape[0], check_alpha(a), bool(config.get("use_rslora", False)))
            else:
                scaling = None if alphas[e] is None else lora_scaling(A.shape[0], check_alpha(alphas[e]))
            plan.append((layer, e, A, B, scaling))
    for layer, e, A, B, scaling in plan:
        layer.load_expert(e, A, B, scaling=scaling, freeze=freeze)
    return model
