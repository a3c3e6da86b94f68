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

Models. A model whose forward takes ``routing_override`` (diversa's
:class:`~diversa.nn.models.TinyLM`) is run with the overrides, recomputing the
sequence at each step (it has no KV cache; sequences are short). A Hugging
Face MoE model (transformers >= 5: routers returning ``(logits, weights,
indices)``, e.g. ``MixtralForCausalLM``, ``Qwen2MoeForCausalLM``) is run
through forward hooks on its routers that replace the chosen experts and
weights with the override's, one KV cache per routing (the strong and the weak
pass see different hidden states in every layer), prompts left-padded with an
attention mask; ``strong=None`` then keeps the model's own routing, as the
official code does for Mixtral.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from diversa.datasets.algotasks import AlgoBatch
from diversa.nn.moe import RoutingOverride
from diversa.nn.training import exact_match_gen, greedy_generate

__all__ = ["SCMoEDecoder", "plausibility_violations", "router_modules", "routing_divergence", "routing_hooks",
           "scmoe_scores"]


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


def router_modules(model) -> list[torch.nn.Module]:
    """The top-k routers of a transformers MoE model (modules returning ``(logits, weights, indices)``).

    transformers 5 names them ``<Model>TopKRouter`` (Mixtral, Qwen2-MoE,
    Qwen3-MoE, OLMoE, ...); each holds ``weight`` [E, d] and ``top_k``.
    """
    return [m for m in model.modules()
            if type(m).__name__.endswith("Router") and hasattr(m, "top_k") and hasattr(m, "weight")]


@contextlib.contextmanager
def routing_hooks(routers: Sequence[torch.nn.Module], override: RoutingOverride | None) -> Iterator[None]:
    """Within the block, every router in ``routers`` routes by ``override`` (None: leaves them alone).

    A forward hook replaces the router's ``(logits, weights, indices)`` by the
    logits with the override's choice from ``softmax(logits)``: indices and
    weights [T, k'] (k' may differ from the model's k; the experts of
    transformers accept any width). The hooks are removed on exit.
    """
    if override is None:
        yield
        return

    def hook(module, args, output):
        if not (isinstance(output, tuple) and len(output) == 3):
            raise TypeError(f"{type(module).__name__} returned {type(output).__name__}, not (logits, weights, "
                            "indices): routing hooks need the transformers >= 5 router layout")
        logits, weights, _ = output
        idx, gate = override.select(logits.float().softmax(dim=-1))
        return logits, gate.to(weights.dtype), idx

    handles = [router.register_forward_hook(hook) for router in routers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _forward_parameters(model) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return set()


def _takes_routing_override(model) -> bool:
    return "routing_override" in _forward_parameters(model)


def _cache_of(output):
    """The KV cache a transformers forward returned (``cache`` since 5.x, ``past_key_values`` before)."""
    for name in ("cache", "past_key_values"):
        if name in output and output[name] is not None:
            return output[name]
    raise TypeError("the model returned no KV cache (pass use_cache=False to SCMoEDecoder)")


class SCMoEDecoder:
    """Self-contrast decoding with a TinyLM or a transformers MoE model (scikit-learn-style ``fit``/``score``).

    ``fit(val_prompts)`` picks ``beta_`` from ``beta_grid`` by validation
    exact match (generation), ties to the smallest beta; without ``fit`` the
    constructor's ``beta`` is used. ``generate(prompts)`` returns the generated
    tokens per prompt (until ``<eos>``, ``max_new_tokens`` or the end of the
    prompts' rows); ``score(batch)`` the macro ``exact_match_gen``. ``strong``
    defaults to top-2 for a TinyLM and to the model's own routing for a
    transformers model; ``weak`` to rank 2. ``pad_id`` left-pads the prompts
    of a transformers model; ``use_cache=False`` recomputes the whole sequence
    at each step instead of using the KV caches (same result, for checking).
    """

    def __init__(self, model, strong: RoutingOverride | None = None, weak: RoutingOverride | None = None,
                 alpha: float = 0.1, beta: float = 0.5, beta_grid: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
                 do_sample: bool = False, allow_eos: bool = True, eos_id: int = 13,
                 max_new_tokens: int | None = None, seed: int = 0, pad_id: int = 10, use_cache: bool = True):
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
        self.pad_id = pad_id
        self.use_cache = use_cache

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
        if _takes_routing_override(self.model):
            return greedy_generate(self.model, prompts, max_new=self.max_new_tokens, step_fn=self._step_fn(beta),
                                   eos_id=self.eos_id, generator=generator)
        routers = router_modules(self.model)
        if not routers:
            raise TypeError(f"SCMoEDecoder needs a model whose forward takes routing_override (TinyLM) or a "
                            f"transformers MoE model with top-k routers; {type(self.model).__name__} has neither")
        return self._decode_hooked(prompts, beta, routers, generator)

    @torch.no_grad()
    def _decode_hooked(self, prompts: AlgoBatch, beta: float, routers, generator) -> list[list[int]]:
        """SCMoE on a transformers model: one KV cache per routing, routers overridden by forward hooks."""
        if self.strong is not None and self.strong == self._weak():
            warnings.warn("SCMoEDecoder: weak routing equals strong routing; SCMoE reduces to greedy decoding.",
                          stacklevel=3)
        model = self.model
        was_training = model.training
        model.eval()
        rows = prompts.n_examples
        lengths = prompts.prompt_len.tolist()
        width = max(lengths)
        ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((rows, width), dtype=torch.long)
        for i, n in enumerate(lengths):  # left padding: every row's next token is at the last column
            ids[i, width - n:] = prompts.input_ids[i, :n]
            attention[i, width - n:] = 1
        caps = [prompts.input_ids.shape[1] - n if self.max_new_tokens is None else int(self.max_new_tokens)
                for n in lengths]
        forbid = None if self.allow_eos else (self.eos_id,)
        passes = {"strong": self.strong, "weak": self._weak() if beta else None}
        cache_argument = "cache" if "cache" in _forward_parameters(model) else "past_key_values"
        caches: dict[str, object] = {}
        generated: list[list[int]] = [[] for _ in range(rows)]
        done = [cap <= 0 for cap in caps]
        step_ids = ids
        try:
            for _ in range(max(caps)):
                if all(done):
                    break
                positions = (attention.cumsum(-1) - 1).clamp_min(0)
                logits = {}
                for name, override in passes.items():
                    if name == "weak" and override is None:
                        continue
                    with routing_hooks(routers, override):
                        if self.use_cache:
                            out = model(input_ids=step_ids, attention_mask=attention,
                                        position_ids=positions[:, -step_ids.shape[1]:], use_cache=True,
                                        **{cache_argument: caches.get(name)})
                            caches[name] = _cache_of(out)
                        else:
                            out = model(input_ids=ids, attention_mask=attention, position_ids=positions,
                                        use_cache=False)
                    logits[name] = out.logits[:, -1]
                z_w = logits.get("weak", logits["strong"])
                scores = scmoe_scores(logits["strong"], z_w, self.alpha, beta if "weak" in logits else 0.0,
                                      forbid=forbid)
                if generator is None:
                    tokens = scores.argmax(dim=-1)
                else:
                    tokens = torch.multinomial(scores.float().softmax(dim=-1), 1, generator=generator).squeeze(1)
                for i, token in enumerate(tokens.tolist()):
                    if not done[i]:
                        generated[i].append(token)
                        done[i] = token == self.eos_id or len(generated[i]) >= caps[i]
                step_ids = tokens[:, None]
                ids = torch.cat([ids, step_ids], dim=1)
                attention = torch.cat([attention, torch.ones((rows, 1), dtype=attention.dtype)], dim=1)
        finally:
            model.train(was_training)
        return generated

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
