"""A small training loop and exact-match evaluation for :class:`~diversa.nn.models.TinyLM`.

Shared by the "experts" reproductions (spec ``experts.md`` 0.4): AdaMoE
(arXiv:2406.13233), Sigma-MoE-Tiny (arXiv:2512.16248) and SCMoE
(arXiv:2405.14507). :func:`train_lm` runs AdamW with linear warm-up then
cosine decay to ``min_lr_ratio * lr``, cross-entropy on the answer positions
only (``AlgoBatch.loss_mask``) plus the MoE auxiliary losses
``lb_coef * sum_layers L_lb + z_coef * sum_layers L_z`` (per-layer losses are
summed; HF Mixtral instead pools counts over layers before multiplying).
:func:`evaluate_lm` reports token accuracy and teacher-forced exact match per
task; :func:`greedy_generate` decodes batched prompts without a KV cache (the
sequences are at most 24 tokens) until ``<eos>`` or a fixed cap, and accepts a
``step_fn`` that replaces the next-token scores (SCMoE's contrastive score
plugs in there).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from diversa.datasets.algotasks import AlgoBatch, AlgoTasks
from diversa.nn.moe import RoutingOverride

__all__ = ["evaluate_lm", "exact_match_gen", "greedy_generate", "lm_loss", "lr_at", "torch_threads", "train_lm"]


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch intra-op threads (None: leave as is), then restore."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def lr_at(step: int, steps: int, lr: float, warmup: int, min_lr_ratio: float) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then cosine to ``min_lr_ratio * lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def lm_loss(logits: torch.Tensor, batch: AlgoBatch) -> torch.Tensor:
    """Mean next-token cross-entropy over the ``loss_mask`` positions."""
    mask = batch.loss_mask[:, :-1]
    return F.cross_entropy(logits[:, :-1][mask].float(), batch.input_ids[:, 1:][mask])


def _stream(stream, batch_size: int) -> Iterator[AlgoBatch]:
    if isinstance(stream, AlgoTasks):
        return stream.batches(batch_size)
    if isinstance(stream, AlgoBatch):
        return iter(lambda: stream, None)  # a fixed batch, repeated
    return iter(stream)


def train_lm(model, stream, steps: int, lr: float = 3e-3, batch_size: int = 64, warmup: int = 100,
             min_lr_ratio: float = 0.1, betas=(0.9, 0.98), weight_decay: float = 0.01, clip: float = 1.0,
             lb_coef: float | None = None, z_coef: float | None = None,
             callbacks: Sequence[Callable] = (), threads: int | None = 1, seed: int = 0,
             log_every: int = 0, parameters: Iterable[torch.nn.Parameter] | None = None,
             micro_batches: int = 1) -> dict:
    """Train ``model`` for ``steps`` optimizer steps; returns the history.

    ``stream``: an :class:`AlgoTasks` (batches of ``batch_size`` are drawn), an
    iterator of :class:`AlgoBatch`, or one fixed batch. ``lb_coef``/``z_coef``
    default to the model's ``config.moe`` values (0 for dense models).
    ``callbacks(step, model, batch, out)`` run before each step's forward
    (``out`` is the previous step's output, None at step 0), e.g. a
    :class:`~diversa.nn.moe.schedules.ProgressiveSparsification`. MoE layers'
    ``on_optimizer_step`` runs after every optimizer step. History keys:
    ``loss``, ``ce``, ``lb``, ``z`` (per logged step) and ``step``.
    ``micro_batches > 1`` splits each batch into that many gradient-accumulation
    chunks (the setting of the global-batch balance loss).
    """
    if int(micro_batches) < 1:
        raise ValueError(f"micro_batches must be >= 1, got {micro_batches}.")
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps}.")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}.")
    moe = getattr(getattr(model, "config", None), "moe", None)
    lb_coef = (moe.lb_coef if moe is not None else 0.0) if lb_coef is None else lb_coef
    z_coef = (moe.z_coef if moe is not None else 0.0) if z_coef is None else z_coef
    params = [p for p in (model.parameters() if parameters is None else parameters) if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    batches = _stream(stream, batch_size)
    history = {"step": [], "loss": [], "ce": [], "lb": [], "z": []}
    moe_layers = model.moe_layers() if hasattr(model, "moe_layers") else []
    torch.manual_seed(seed)
    model.train()
    out = None
    with torch_threads(threads):
        for step in range(int(steps)):
            batch = next(batches)
            for callback in callbacks:
                callback(step, model, batch, out)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, int(steps), lr, warmup, min_lr_ratio)
            optimizer.zero_grad(set_to_none=True)
            chunks = [batch.subset(rows) for rows in torch.arange(batch.n_examples).chunk(int(micro_batches))]
            for chunk in chunks:
                out = model(chunk.input_ids)
                ce = lm_loss(out.logits, chunk)
                loss = ce + lb_coef * out.aux_lb + z_coef * out.aux_z
                (loss / len(chunks)).backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            for layer in moe_layers:
                layer.on_optimizer_step()
            if not log_every or step % log_every == 0 or step == steps - 1:
                history["step"].append(step)
                history["loss"].append(float(loss.detach()))
                history["ce"].append(float(ce.detach()))
                history["lb"].append(float(out.aux_lb.detach()))
                history["z"].append(float(out.aux_z.detach()))
    model.eval()
    return history


@torch.no_grad()
def evaluate_lm(model, batch: AlgoBatch, routing_override: RoutingOverride | None = None,
                n_tasks: int | None = None) -> dict:
    """Teacher-forced metrics of ``model`` on ``batch``.

    Returns ``ce`` (mean over answer positions), ``token_acc``,
    ``exact_match_tf`` (macro average over tasks of "all n+1 answer predictions
    correct"), ``per_task`` ({task_id: exact match}) and ``correct`` (bool
    numpy array per sequence).
    """
    was_training = model.training
    model.eval()
    logits = model(batch.input_ids, routing_override=routing_override).logits
    model.train(was_training)
    mask = batch.loss_mask[:, :-1]
    hits = (logits[:, :-1].argmax(-1) == batch.input_ids[:, 1:]) | ~mask
    correct = hits.all(dim=1).numpy()
    per_task = _per_task(correct, batch.task_id.numpy(), n_tasks)
    return {"ce": float(lm_loss(logits, batch)), "token_acc": float((hits & mask).sum() / mask.sum()),
            "exact_match_tf": float(np.mean(list(per_task.values()))), "per_task": per_task, "correct": correct}


def _per_task(correct: np.ndarray, task_id: np.ndarray, n_tasks: int | None) -> dict[int, float]:
    tasks = range(n_tasks) if n_tasks is not None else sorted(set(task_id.tolist()))
    return {int(t): float(correct[task_id == t].mean()) for t in tasks if np.any(task_id == t)}


@torch.no_grad()
def greedy_generate(model, prompts: AlgoBatch, max_new: int | None = None,
                    step_fn: Callable | None = None, routing_override: RoutingOverride | None = None,
                    eos_id: int = AlgoTasks.EOS, pad_id: int = AlgoTasks.PAD,
                    generator: torch.Generator | None = None) -> list[list[int]]:
    """Batched decoding from each row's prompt (``input_ids[:prompt_len]``) until ``<eos>``.

    At every step the next-token scores are read at each active row's own last
    position: ``model(ids).logits`` by default, or ``step_fn(model, ids,
    positions) -> [b, V]``. The next token is the argmax (ties to the lower id)
    or, with a ``generator``, a sample from ``softmax(scores)``. A row stops at
    ``<eos>``, after ``max_new`` tokens (default: no limit) or at the end of the
    sequence (``input_ids.shape[1]``, the model's maximum length). The
    reference answer (``answer_len`` and the answer tokens) is never read, so
    decoding does not learn the answer's length. Returns the generated tokens of
    each row (including a final ``<eos>`` when produced).
    """
    n_rows, length = prompts.input_ids.shape
    if max_new is not None and (isinstance(max_new, bool) or not isinstance(max_new, int) or max_new < 1):
        raise ValueError(f"max_new must be a positive int or None, got {max_new!r}.")
    cols = torch.arange(length)
    ids = prompts.input_ids.masked_fill(cols[None, :] >= prompts.prompt_len[:, None], pad_id)
    cursor = prompts.prompt_len.clone()
    limit = torch.full((n_rows,), length if max_new is None else int(max_new))
    produced = torch.zeros(n_rows, dtype=torch.long)
    active = (limit > 0) & (cursor < length)
    generated: list[list[int]] = [[] for _ in range(n_rows)]
    was_training = model.training
    model.eval()
    try:
        while bool(active.any()):
            rows = active.nonzero().squeeze(1)
            sub, positions = ids[rows], cursor[rows] - 1
            if step_fn is None:
                logits = model(sub, routing_override=routing_override).logits
                scores = logits[torch.arange(rows.numel()), positions]
            else:
                scores = step_fn(model, sub, positions)
            if generator is None:
                tokens = scores.argmax(dim=-1)
            else:
                tokens = torch.multinomial(scores.float().softmax(dim=-1), 1, generator=generator).squeeze(1)
            ids[rows, cursor[rows]] = tokens
            for row, token in zip(rows.tolist(), tokens.tolist()):
                generated[row].append(token)
            cursor[rows] += 1
            produced[rows] += 1
            done = (tokens == eos_id) | (produced[rows] >= limit[rows]) | (cursor[rows] >= length)
            active[rows[done]] = False
    finally:
        model.train(was_training)
    return generated


def exact_match_gen(generated: Sequence[Sequence[int]], prompts: AlgoBatch,
                    n_tasks: int | None = None) -> dict:
    """Exact match of generated answers against the references (answer digits + ``<eos>``).

    Returns ``exact_match_gen`` (macro over tasks), ``per_task`` and ``correct``.
    """
    if len(generated) != prompts.n_examples:
        raise ValueError(f"generated has {len(generated)} rows, prompts {prompts.n_examples}.")
    ids = prompts.input_ids.tolist()
    correct = np.array([list(gen) == ids[i][int(p): int(p) + int(a)] for i, (gen, p, a) in
                        enumerate(zip(generated, prompts.prompt_len, prompts.answer_len))])
    per_task = _per_task(correct, prompts.task_id.numpy(), n_tasks)
    return {"exact_match_gen": float(np.mean(list(per_task.values()))), "per_task": per_task, "correct": correct}
