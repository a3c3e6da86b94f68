"""Router initialisation for a mixture of experts assembled from dense models.

A freshly assembled MoE has no trained router. Following mergekit-moe
(Goddard et al., "Arcee's MergeKit", EMNLP 2024 Industry, arXiv:2403.13257;
its ``moe/router.py``), each expert's router row at layer l is a direction
in the residual stream that the expert's example prompts point to:

* ``hidden``: the hidden state entering layer l at the last token of each
  positive prompt, averaged over the prompts, minus the same average over the
  negative prompts, scaled to unit length. The prompts run through the base
  model one at a time, in the dtype its weights are stored in, and the rows
  are computed in float32 (mergekit batches the prompts with left padding and
  always runs in bfloat16; the directions agree to bfloat16 precision).
* ``cheap_embed``: the sum of the input embeddings of every token of the
  positive prompts, scaled to unit length, minus the same for the negative
  prompts and rescaled; the same row at every layer (no forward pass).
* ``random``: standard normal rows drawn from a generator seeded with
  ``seed`` (``torch.manual_seed(seed)`` followed by mergekit's draw gives the
  same rows).

Prompts are tokenised as mergekit does: the tokenizer's BOS text, then the
prompt, with no special tokens added. The result is ``[layers, experts,
hidden]``: row e of layer l is ``model.layers.l.mlp.gate.weight[e]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["cheap_embed_router", "hidden_state_router", "prompt_token_ids", "random_router", "unit_rows"]

#: The floor of a row's length before it is scaled to unit length (mergekit's).
_MIN_NORM = 1e-8

Progress = Callable[[int, int, str], None]


def random_router(num_layers: int, num_experts: int, hidden_size: int, seed: int = 0) -> torch.Tensor:
    """Standard normal router rows ``[num_layers, num_experts, hidden_size]``, reproducible from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((num_layers, num_experts, hidden_size), generator=generator)


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` with its last dimension scaled to unit length (rows shorter than 1e-8 are divided by 1e-8)."""
    return x / x.norm(dim=-1, keepdim=True).clamp(min=_MIN_NORM)


def prompt_token_ids(tokenizer, prompt: str) -> list[int]:
    """The token ids of ``prompt`` preceded by the tokenizer's BOS text, as mergekit-moe tokenises prompts."""
    ids = tokenizer((tokenizer.bos_token or "") + prompt, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"prompt {prompt!r} has no tokens (and the tokenizer has no BOS token)")
    return list(ids)


def cheap_embed_router(embeddings: torch.Tensor, tokenizer, experts: Sequence, num_layers: int,
                       progress: Progress | None = None) -> torch.Tensor:
    """Router rows from prompt embeddings: ``[num_layers, len(experts), hidden]``.

    ``embeddings``: the base model's input embedding matrix ``[vocab, hidden]``;
    ``experts``: objects with ``positive_prompts`` and ``negative_prompts``.
    """
    table = embeddings.float()

    def direction(prompts: Sequence[str]) -> torch.Tensor:
        ids = [i for prompt in prompts for i in prompt_token_ids(tokenizer, prompt)]
        _check_ids(ids, table.shape[0])
        return unit_rows(table[torch.tensor(ids)].sum(dim=0))

    rows = _per_expert(experts, direction, progress)
    return rows.unsqueeze(0).expand(num_layers, -1, -1).clone()


@torch.no_grad()
def hidden_state_router(model, tokenizer, experts: Sequence, progress: Progress | None = None) -> torch.Tensor:
    """Router rows from the base model's hidden states: ``[layers, len(experts), hidden]``.

    ``model``: a Hugging Face causal LM whose forward pass returns
    ``hidden_states`` (the embeddings, then each layer's output); row l is
    read from ``hidden_states[l]``, the input of layer l.
    """
    vocab = model.get_input_embeddings().weight.shape[0]

    def last_token_states(prompts: Sequence[str]) -> torch.Tensor:
        states = []
        for prompt in prompts:
            ids = prompt_token_ids(tokenizer, prompt)
            _check_ids(ids, vocab)
            out = model(input_ids=torch.tensor([ids]), output_hidden_states=True, return_dict=True)
            states.append(torch.stack([h[0, -1] for h in out.hidden_states[:-1]]).to(torch.float32))
        return torch.stack(states).mean(dim=0)  # [layers, hidden]

    was_training = model.training
    model.eval()
    try:
        rows = _per_expert(experts, last_token_states, progress)
    finally:
        model.train(was_training)
    return rows.permute(1, 0, 2).contiguous()


def _per_expert(experts: Sequence, vector: Callable[[Sequence[str]], torch.Tensor],
                progress: Progress | None) -> torch.Tensor:
    """Stack ``unit(vector(positive) - vector(negative))`` over experts (``[experts, ...]``)."""
    rows = []
    for e, expert in enumerate(experts):
        if not expert.positive_prompts:
            raise ValueError(f"experts[{e}].positive_prompts is empty; prompt-built routers need prompts")
        row = vector(expert.positive_prompts)
        if expert.negative_prompts:
            row = row - vector(expert.negative_prompts)
        rows.append(unit_rows(row))
        if progress is not None:
            progress(e + 1, len(experts), f"expert {e} prompts")
    return torch.stack(rows)


def _check_ids(ids: list[int], vocab: int) -> None:
    bad = [i for i in ids if not 0 <= i < vocab]
    if bad:
        raise ValueError(f"the tokenizer produced token id {bad[0]}, outside the base model's vocabulary of {vocab}")
