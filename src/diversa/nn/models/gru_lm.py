"""A tiny GRU language model with batched sampling and sequence log-probabilities.

The policy of the ReCUT reproduction (spec ``merge.md`` 7: embedding 32,
hidden 128, one GRU layer, linear head; a 2-layer transformer of that size
learned SumChain's arithmetic far too slowly on a CPU). It implements what a
preference-optimisation pipeline needs from a policy:

* :meth:`GRULM.generate`: batched continuation of token prompts (greedy, or
  temperature and nucleus (top-p) sampling from a local generator), stopping
  at ``eos_id``;
* :meth:`GRULM.sequence_logprob`: the summed log-probability of each response
  given its prompt (DPO's ``log pi(y | x)``), differentiable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["GRULM", "nucleus_sample", "pad_batch"]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``[B, L]`` token tensor and the lengths ``[B]`` of ``sequences``."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    out = torch.full((len(sequences), int(lengths.max()) if len(sequences) else 0), pad_id, dtype=torch.long)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out, lengths


def nucleus_sample(logits: torch.Tensor, temperature: float = 1.0, top_p: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of ``logits [B, V]`` from ``softmax(logits / temperature)`` restricted to the top-p set.

    The nucleus is the smallest set of most probable tokens whose mass reaches
    ``top_p`` (the most probable token is always kept).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}.")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}.")
    probs = (logits.float() / temperature).softmax(-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True, stable=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the strictly more probable tokens
        sorted_probs = torch.where(before < top_p, sorted_probs, torch.zeros_like(sorted_probs))
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class GRULM(nn.Module):
    """Embedding -> GRU -> linear head over a token vocabulary.

    ``forward(tokens [B, L]) -> logits [B, L, V]`` (next-token logits).
    ``pad_id`` marks padding in batches built by :func:`pad_batch`.
    """

    def __init__(self, vocab_size: int, pad_id: int, d_embed: int = 32, d_hidden: int = 128, n_layers: int = 1):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("d_embed", d_embed), ("d_hidden", d_hidden),
                            ("n_layers", n_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id must be a token id in 0..{vocab_size - 1}, got {pad_id!r}.")
        self.vocab_size, self.pad_id = vocab_size, pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.gru = nn.GRU(d_embed, d_hidden, num_layers=n_layers, batch_first=True)
        self.head = nn.Linear(d_hidden, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(tokens))
        return self.head(out)

    def sequence_logprob(self, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]]) -> torch.Tensor:
        """``sum_t log pi(y_t | x, y_<t)`` over each response's tokens: ``[B]`` (differentiable)."""
        if len(prompts) != len(responses):
            raise ValueError(f"prompts and responses must pair up, got {len(prompts)} and {len(responses)}.")
        tokens, _ = pad_batch([list(p) + list(r) for p, r in zip(prompts, responses)], self.pad_id)
        logp = self(tokens[:, :-1]).log_softmax(-1).gather(-1, tokens[:, 1:, None]).squeeze(-1)
        mask = torch.zeros_like(logp, dtype=torch.bool)
        for i, (p, r) in enumerate(zip(prompts, responses)):
            mask[i, len(p) - 1: len(p) - 1 + len(r)] = True
        return (logp * mask).sum(-1)

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int | Sequence[int], eos_id: int,
                 greedy: bool = True, temperature: float = 1.0, top_p: float = 1.0,
                 generator: torch.Generator | None = None) -> list[list[int]]:
        """Continue each prompt until ``eos_id`` (kept) or its ``max_new_tokens`` (an int or one per prompt)."""
        n = len(prompts)
        if n == 0:
            return []
        limits = torch.as_tensor([max_new_tokens] * n if isinstance(max_new_tokens, int) else list(max_new_tokens))
        if limits.numel() != n or bool((limits < 0).any()):
            raise ValueError("max_new_tokens must be a non-negative int or one such int per prompt.")
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token.")
        was_training = self.training
        self.eval()
        tokens, lengths = pad_batch(prompts, self.pad_id)
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, state = self.gru(packed)
        logits = self.head(state[-1])
        out: list[list[int]] = [[] for _ in range(n)]
        done = limits == 0
        for step in range(int(limits.max())):
            nxt = logits.argmax(-1) if greedy else nucleus_sample(logits, temperature, top_p, generator)
            for i in torch.nonzero(~done).reshape(-1).tolist():
                out[i].append(int(nxt[i]))
            done = done | (nxt == eos_id) | (limits <= step + 1)
            if bool(done.all()):
                break
            step_out, state = self.gru(self.embed(nxt[:, None]), state)
            logits = self.head(step_out[:, 0])
        self.train(was_training)
        return out
