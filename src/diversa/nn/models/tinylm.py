"""TinyLM: a small decoder-only transformer with dense or mixture-of-experts FFNs.

The shared model of diversa's "experts" reproductions (spec ``experts.md``
0.4): GPT-style pre-LN blocks (Radford et al. 2019) with learned absolute
positions, tied input/output embeddings, causal attention through
``F.scaled_dot_product_attention``, and either a dense GELU FFN or a dropless
top-k MoE FFN (:class:`~diversa.nn.moe.MoEFeedForward`, Mixtral-style, Jiang
et al., arXiv:2401.04088) per layer. It serves AdaMoE (arXiv:2406.13233),
Sigma-MoE-Tiny (arXiv:2512.16248) and SCMoE (arXiv:2405.14507).

Attention uses four separate bias-free projections named ``q_proj``,
``k_proj``, ``v_proj``, ``o_proj`` so that LoRA-style adapters can target them
by name. Embeddings are initialised N(0, 0.02) (with N(0, 1) and the tied head
the initial loss is ~40); residual output projections (``o_proj``, ``fc2``,
expert down-projections) use std ``0.02 / sqrt(2 n_layers)``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from diversa.nn.moe import MoEFeedForward, RouterOutput, RoutingOverride

__all__ = ["MoEConfig", "TinyLM", "TinyLMConfig", "TinyLMOutput", "config_key"]


@dataclass
class MoEConfig:
    """MoE FFN settings of a :class:`TinyLM` (see :class:`~diversa.nn.moe.MoEFeedForward`).

    ``topk_per_layer`` overrides ``top_k`` per MoE layer (Sigma-MoE-Tiny's
    layer-wise k). ``expert_type`` defaults to "gelu", the spec's calibrated
    tiny-LM setting; "swiglu" gives Mixtral's experts. ``lb_coef`` and
    ``z_coef`` are the default weights of the auxiliary losses in training.
    """

    num_experts: int = 8
    top_k: int = 2
    d_expert: int = 64
    expert_type: str = "gelu"
    num_null_experts: int = 0
    topk_per_layer: tuple[int, ...] | None = None
    normalize_topk: bool | None = None
    lb_type: str = "switch"
    null_load: str = "average"
    top1_tau: float = 0.1
    lb_coef: float = 1e-2
    z_coef: float = 1e-3
    dispatch: str = "auto"


@dataclass
class TinyLMConfig:
    """Shape of a :class:`TinyLM`; ``moe=None`` gives a dense model.

    ``moe_layers`` is "all" or a sequence of layer indices that use the MoE FFN.
    """

    vocab_size: int = 20
    max_len: int = 24
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 256
    moe: MoEConfig | None = None
    moe_layers: str | tuple[int, ...] = "all"
    tie_embeddings: bool = True
    dropout: float = 0.0
    init_std: float = 0.02
    pad_id: int = 10

    def to_dict(self) -> dict:
        """Plain-dict form (for hashing and caching)."""
        return asdict(self)


class TinyLMOutput(NamedTuple):
    """``logits`` [B, L, V]; ``aux_lb``/``aux_z`` summed over MoE layers (scalar tensors, 0 for dense);
    ``routers`` the applied :class:`RouterOutput` of each MoE layer (tokens flattened, B * L rows);
    ``hidden`` per-layer residual streams or None; ``mask`` [B, L] the tokens the losses count (non-pad)."""

    logits: torch.Tensor
    aux_lb: torch.Tensor
    aux_z: torch.Tensor
    routers: list[RouterOutput]
    hidden: list[torch.Tensor] | None
    mask: torch.Tensor | None = None


class _Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.o_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        heads = [proj(x).view(b, n, self.n_heads, d // self.n_heads).transpose(1, 2)
                 for proj in (self.q_proj, self.k_proj, self.v_proj)]
        out = F.scaled_dot_product_attention(*heads, is_causal=True,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.o_proj(out.transpose(1, 2).reshape(b, n, d))


class _DenseFFN(nn.Module):
    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, config: TinyLMConfig, moe: bool, top_k: int | None, out_std: float):
        super().__init__()
        d = config.d_model
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = _Attention(d, config.n_heads, config.dropout)
        if moe:
            m = config.moe
            self.ffn = MoEFeedForward(d, m.d_expert, m.num_experts, top_k, expert_type=m.expert_type,
                                      num_null_experts=m.num_null_experts, normalize_topk=m.normalize_topk,
                                      null_load=m.null_load, lb_type=m.lb_type, top1_tau=m.top1_tau,
                                      dispatch=m.dispatch, init_std=config.init_std, out_init_std=out_std)
        else:
            self.ffn = _DenseFFN(d, config.d_ff)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, routing_override):
        """The block's output and, for an MoE block, the routing it applied (None for dense blocks)."""
        x = x + self.drop(self.attn(self.ln1(x)))
        h = self.ln2(x)
        if isinstance(self.ffn, MoEFeedForward):
            y, routed = self.ffn(h, routing_override=routing_override, return_routing=True)
            return x + self.drop(y), routed
        return x + self.drop(self.ffn(h)), None


class TinyLM(nn.Module):
    """Small decoder-only transformer LM (spec ``experts.md`` 0.4).

    ``TinyLM(config)`` or ``TinyLM(**config_fields)``. ``forward(input_ids
    [B, L], routing_override=None, return_hidden=False) -> TinyLMOutput``.
    ``routing_override`` (a :class:`~diversa.nn.moe.RoutingOverride`) replaces
    the top-k choice of EVERY MoE layer (inference). Auxiliary losses are
    computed from each layer's router logits over non-pad tokens
    (``input_ids != config.pad_id``) and returned with the logits; the model
    keeps no state between calls.
    """

    def __init__(self, config: TinyLMConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = TinyLMConfig(**kwargs)
        elif kwargs:
            raise TypeError("TinyLM: pass either a TinyLMConfig or keyword fields, not both.")
        if not isinstance(config, TinyLMConfig):
            raise TypeError(f"config must be a TinyLMConfig, got {type(config).__name__}.")
        self._validate(config)
        self.config = config
        init_std = config.init_std
        out_std = init_std / math.sqrt(2 * config.n_layers)
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.max_len, config.d_model)
        ks = self.moe_topk()
        self.blocks = nn.ModuleList(_Block(config, ks[i] is not None, ks[i], out_std)
                                    for i in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = None if config.tie_embeddings else nn.Linear(config.d_model, config.vocab_size, bias=False)
        self._init_weights(init_std, out_std)

    @staticmethod
    def _validate(config: TinyLMConfig) -> None:
        for name in ("vocab_size", "max_len", "d_model", "n_layers", "n_heads", "d_ff"):
            value = getattr(config, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model={config.d_model} must be divisible by n_heads={config.n_heads}.")
        if config.moe is not None and not isinstance(config.moe, MoEConfig):
            raise TypeError(f"moe must be a MoEConfig or None, got {type(config.moe).__name__}.")
        if config.moe_layers != "all":
            layers = tuple(config.moe_layers)
            if any(not 0 <= i < config.n_layers for i in layers):
                raise ValueError(f"moe_layers must index layers 0..{config.n_layers - 1}, got {layers}.")
        moe = config.moe
        if moe is not None and moe.topk_per_layer is not None:
            n_moe = config.n_layers if config.moe_layers == "all" else len(tuple(config.moe_layers))
            if len(moe.topk_per_layer) != n_moe:
                raise ValueError(f"topk_per_layer must have one k per MoE layer ({n_moe}), "
                                 f"got {moe.topk_per_layer}.")

    def moe_topk(self) -> list[int | None]:
        """Initial k of every layer (None for dense layers)."""
        config, moe = self.config, self.config.moe
        if moe is None:
            return [None] * config.n_layers
        layers = range(config.n_layers) if config.moe_layers == "all" else sorted(config.moe_layers)
        ks = list(moe.topk_per_layer) if moe.topk_per_layer is not None else [moe.top_k] * len(layers)
        out: list[int | None] = [None] * config.n_layers
        for layer, k in zip(layers, ks):
            out[layer] = int(k)
        return out

    def _init_weights(self, std: float, out_std: float) -> None:
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, std)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for block in self.blocks:
            nn.init.normal_(block.attn.o_proj.weight, 0.0, out_std)
            if isinstance(block.ffn, _DenseFFN):
                nn.init.normal_(block.ffn.fc2.weight, 0.0, out_std)

    def moe_layers(self) -> list[MoEFeedForward]:
        """The MoE FFN modules, bottom to top."""
        return [block.ffn for block in self.blocks if isinstance(block.ffn, MoEFeedForward)]

    @property
    def is_moe(self) -> bool:
        return bool(self.moe_layers())

    def forward(self, input_ids: torch.Tensor, routing_override: RoutingOverride | None = None,
                return_hidden: bool = False) -> TinyLMOutput:
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must be [B, L], got shape {tuple(input_ids.shape)}.")
        if input_ids.shape[1] > self.config.max_len:
            raise ValueError(f"input_ids length {input_ids.shape[1]} exceeds max_len={self.config.max_len}.")
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.tok_emb(input_ids) + self.pos_emb(positions)[None]
        mask = input_ids != self.config.pad_id
        hidden = [x] if return_hidden else None
        routers: list[RouterOutput] = []
        for block in self.blocks:
            x, routed = block(x, routing_override)
            if routed is not None:
                routers.append(routed)
            if hidden is not None:
                hidden.append(x)
        x = self.ln_f(x)
        logits = x @ self.tok_emb.weight.t() if self.head is None else self.head(x)
        aux_lb = aux_z = logits.new_zeros(())
        for layer, routed in zip(self.moe_layers(), routers):
            # without an override the applied routing is the layer's own: reuse it instead of routing again
            own = routed if routing_override is None else None
            losses = layer.aux_losses(routed.logits, mask.reshape(-1), routing=own)
            aux_lb, aux_z = aux_lb + losses.lb, aux_z + losses.z
        return TinyLMOutput(logits, aux_lb, aux_z, routers, hidden, mask)


def config_key(config: TinyLMConfig) -> str:
    """A stable short hash of a config (for cache file names)."""
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:12]

