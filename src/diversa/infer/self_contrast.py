"""Self-contrast decoding of mixture-of-experts models (SCMoE).

Shi, Yang, Zhu, Wang, Wu, Li, Cai, Yang, Meng, "Unchosen Experts Can
Contribute Too: Unleashing MoE Models' Power by Self-Contrast", NeurIPS 2024,
arXiv:2405.14507 (official code ``DavidFanzz/SCMoE``).

Each decoding step runs the SAME MoE model twice: with strong activation (the
model's normal top-2 routing) and with weak activation (in every MoE layer,
only the expert at a given rank of the router's sorted probabilities, weight
1). The next token maximises ``(1 + beta) * z_s - beta * z_w`` over the
plausible set ``{v : z_s[v] >= log(alpha) + max z_s}`` (z = temperature-scaled
logits, as in the official code; log-probabilities give the same argmax and
sampling distribution). ``beta = 0`` is greedy decoding with strong routing.

RESOLUTIONS (spec ``experts.md#scmoe``): weak ranks are 1-indexed, default
``(2,)`` as in the paper ("rank-2"; the README example's 0-based index 2 is
rank 3, also available); ``<eos>`` is allowed (our tasks end with it; the
official greedy code blocks it and stops on strings); beta is chosen on
validation prompts over the paper's grid, ties to the smallest beta.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from diversa.datasets.algotasks import AlgoBatch
from diversa.nn.moe import RoutingOverride
from diversa.nn.training import exact_match_gen, greedy_generate

__all__ = ["SCMoEDecoder", "plausibility_violations", "routing_divergence", "scmoe_scores"]


def _check_alpha_beta(alpha: float, beta: float) -> None:
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}.")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}.")


def scmoe_scores(strong_logits: torch.Tensor, weak_logits: torch.Tensor, alpha: float = 0.1, beta: float = 0.5,
                 strong_temperature: float = 1.0, weak_temperature: float = 1.0,
                 forbid: Sequence[int] | None = None) -> torch.Tensor:
    """SCMoE next-token scores [B, V]; ``-inf`` outside the plausible set V_head.

    ``z_s = strong_logits / strong_temperature``, ``z_w = weak_logits /
    weak_temperature``; ``V_head = {v: z_s[v] >= log(alpha) + max_u z_s[u]}``
    (i.e. ``p_s(v) >= alpha * max p_s``); ``S = (1 + beta) z_s - beta z_w`` on
    V_head. ``forbid`` lists token ids that are never chosen.
    """
    _check_alpha_beta(alpha, beta)
    if strong_logits.shape != weak_logits.shape:
        raise ValueError(f"strong_logits {tuple(strong_logits.shape)} and weak_logits "
                         f"{tuple(weak_logits.shape)} must have the same shape.")
    if strong_temperature <= 0 or weak_temperature <= 0:
        raise ValueError("strong_temperature and weak_temperature must be > 0.")
    z_s = strong_logits.float() / strong_temperature
    z_w = weak_logits.float() / weak_temperature
    if forbid:
        z_s = z_s.clone()
        z_s[..., list(forbid)] = float("-inf")
    cutoff = math.log(alpha) + z_s.max(dim=-1, keepdim=True).values
    scores = (1.0 + beta) * z_s - beta * z_w
    return scores.masked_fill(z_s < cutoff, float("-inf"))


class SCMoEDecoder:
    """Self-contrast decoding with a TinyLM-like MoE model (scikit-learn-style ``fit``/``score``).

    ``fit(val_prompts)`` picks ``beta_`` from ``beta_grid`` by validation
    exact match (generation), ties to the smallest beta; without ``fit`` the
    constructor's ``beta`` is used. ``generate(prompts)`` returns the generated
    tokens per prompt; ``score(batch)`` the macro ``exact_match_gen``.
    """

    def __init__(self, model, strong: RoutingOverride | None = None, weak: RoutingOverride | None = None,
                 alpha: float = 0.1, beta: float = 0.5, beta_grid: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
                 do_sample: bool = False, allow_eos: bool = True, eos_id: int = 13,
                 max_new_tokens: int | None = None, seed: int = 0):
        self.model = model
        self.strong = strong
        self.weak = weak
        self.alpha = alpha
        self.beta = beta
        self.beta_grid = beta_grid
        self.do_sample = do_sample
        self.allow_eos = allow_eos
        self.eos_id = eos_id
        self.max_new_tokens = max_new_tokens
        self.seed = seed

    def _strong(self) -> RoutingOverride:
        return RoutingOverride.topk(2) if self.strong is None else self.strong

    def _weak(self) -> RoutingOverride:
        return RoutingOverride.rank((2,)) if self.weak is None else self.weak

    def _step_fn(self, beta: float):
        strong, weak = self._strong(), self._weak()
        if strong == weak:
            warnings.warn("SCMoEDecoder: weak routing equals strong routing; SCMoE reduces to greedy decoding.",
                          stacklevel=3)
        forbid = None if self.allow_eos else (self.eos_id,)

        def step(model, ids, positions):
            rows = torch.arange(ids.shape[0])
            z_s = model(ids, routing_override=strong).logits[rows, positions]
            if beta == 0:
                return scmoe_scores(z_s, z_s, self.alpha, 0.0, forbid=forbid)
            z_w = model(ids, routing_override=weak).logits[rows, positions]
            return scmoe_scores(z_s, z_w, self.alpha, beta, forbid=forbid)

        return step

    def _decode(self, prompts: AlgoBatch, beta: float) -> list[list[int]]:
        _check_alpha_beta(self.alpha, beta)
        generator = torch.Generator().manual_seed(self.seed) if self.do_sample else None
        return greedy_generate(self.model, prompts, max_new=self.max_new_tokens, step_fn=self._step_fn(beta),
                               eos_id=self.eos_id, generator=generator)

    def fit(self, val_prompts: AlgoBatch) -> SCMoEDecoder:
        """Choose ``beta_`` on validation prompts (never on test prompts)."""
        grid = sorted(float(b) for b in self.beta_grid)
        if not grid:
            raise ValueError("beta_grid must not be empty.")
        self.val_scores_ = {b: exact_match_gen(self._decode(val_prompts, b), val_prompts)["exact_match_gen"]
                            for b in grid}
        best = max(self.val_scores_.values())
        self.beta_ = min(b for b, s in self.val_scores_.items() if s == best)
        return self

    def generate(self, prompts: AlgoBatch) -> list[list[int]]:
        """Generated tokens (with the final ``<eos>`` when produced) for every prompt."""
        return self._decode(prompts, getattr(self, "beta_", self.beta))

    def score(self, batch: AlgoBatch) -> float:
        """Macro exact match of generation."""
        return exact_match_gen(self.generate(batch), batch)["exact_match_gen"]


@torch.no_grad()
def routing_divergence(model, batch: AlgoBatch, a: RoutingOverride | None = None,
                       b: RoutingOverride | None = None) -> dict:
    """Mean KL(p_a || p_b) of next-token distributions over answer positions (teacher forced).

    Defaults: ``a = topk(2)``, ``b = rank((2,))``. Returns ``mean`` and ``per_task``.
    """
    a = RoutingOverride.topk(2) if a is None else a
    b = RoutingOverride.rank((2,)) if b is None else b
    model.eval()
    log_a = F.log_softmax(model(batch.input_ids, routing_override=a).logits.float(), dim=-1)
    log_b = F.log_softmax(model(batch.input_ids, routing_override=b).logits.float(), dim=-1)
    kl = (log_a.exp() * (log_a - log_b)).sum(-1)  # [B, L]
    mask = batch.loss_mask
    per_task = {int(t): float(kl[mask & (batch.task_id == t)[:, None]].mean()) for t in batch.task_id.unique()}
    return {"mean": float(kl[mask].mean()), "per_task": per_task}


@torch.no_grad()
def plausibility_violations(model, prompts: AlgoBatch, generated: Sequence[Sequence[int]], alpha: float,
                            strong: RoutingOverride | None = None, pad_id: int = 10) -> int:
    """Number of generated tokens with ``p_s < alpha * max p_s`` under strong routing (0 for SCMoE)."""
    strong = RoutingOverride.topk(2) if strong is None else strong
    ids = prompts.input_ids.clone()
    length = ids.shape[1]
    for i, tokens in enumerate(generated):
        p = int(prompts.prompt_len[i])
        ids[i, p:] = pad_id
        ids[i, p: p + len(tokens)] = torch.tensor(list(tokens)[: length - p], dtype=ids.dtype)
    probs = model(ids, routing_override=strong).logits.float().softmax(-1)
    violations = 0
    for i, tokens in enumerate(generated):
        p = int(prompts.prompt_len[i])
        for j, token in enumerate(tokens[: length - p]):
            dist = probs[i, p - 1 + j]
            violations += int(dist[token] < alpha * dist.max() * (1 - 1e-5))
    return violations
