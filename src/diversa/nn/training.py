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
import copy
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from diversa.datasets.algotasks import AlgoBatch, AlgoTasks
from diversa.nn.moe import RoutingOverride

__all__ = ["count_trainable", "evaluate_lm", "exact_match_gen", "greedy_generate", "lm_loss", "lr_at", "torch_threads", "train_lm",
           "trim_padding"]


def count_trainable(parameters) -> int:
    """Number of trainable scalars of a module (or an iterable of parameters): the budget arms are matched on."""
    if isinstance(parameters, torch.nn.Module):
        parameters = parameters.parameters()
    return int(sum(p.numel() for p in parameters if p.requires_grad))


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


def _param_groups(params: list[torch.nn.Parameter],
                  lr_scales: Sequence[tuple[Iterable[torch.nn.Parameter], float]]) -> list[dict]:
    """Optimiser groups: one per ``(params, scale)`` pair of ``lr_scales``, then the rest at scale 1."""
    trainable = {id(p) for p in params}
    claimed: set[int] = set()
    groups = []
    for i, pair in enumerate(lr_scales):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"lr_scales[{i}] must be a (parameters, scale) pair, got {type(pair).__name__}.")
        members, scale = pair
        members = [p for p in members if id(p) in trainable]
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"lr_scales[{i}]: scale must be a finite number > 0, got {scale!r}.")
        if any(id(p) in claimed for p in members):
            raise ValueError(f"lr_scales[{i}] names a parameter that an earlier pair already scales.")
        claimed.update(id(p) for p in members)
        if members:
            groups.append({"params": members, "lr_scale": float(scale)})
    rest = [p for p in params if id(p) not in claimed]
    return ([{"params": rest, "lr_scale": 1.0}] if rest else []) + groups


def trim_padding(batch: AlgoBatch, pad_id: int = AlgoTasks.PAD) -> AlgoBatch:
    """``batch`` without its trailing all-``<pad>`` columns (at least one column is kept).

    With right padding, causal attention and losses that skip pad tokens,
    training on the trimmed batch computes the same losses with fewer tokens.
    """
    used = (batch.input_ids != pad_id).any(dim=0).nonzero()
    width = int(used.max()) + 1 if used.numel() else 1
    if width == batch.input_ids.shape[1]:
        return batch
    return batch._replace(input_ids=batch.input_ids[:, :width], loss_mask=batch.loss_mask[:, :width])


def _stream(stream, batch_size: int) -> Iterator[AlgoBatch]:
    if isinstance(stream, AlgoTasks):
        return map(trim_padding, stream.batches(batch_size))
    if isinstance(stream, AlgoBatch):
        trimmed = trim_padding(stream)
        return iter(lambda: trimmed, None)  # a fixed batch, repeated
    return map(trim_padding, stream)


def train_lm(model, stream, steps: int, lr: float = 3e-3, batch_size: int = 64, warmup: int = 100,
             min_lr_ratio: float = 0.1, betas=(0.9, 0.98), weight_decay: float = 0.01, clip: float = 1.0,
             lb_coef: float | None = None, z_coef: float | None = None,
             callbacks: Sequence[Callable] = (), threads: int | None = 1, seed: int = 0,
             log_every: int = 0, parameters: Iterable[torch.nn.Parameter] | None = None,
             micro_batches: int = 1, lr_scales: Sequence[tuple[Iterable[torch.nn.Parameter], float]] = (),
             sgd_parameters: Iterable[torch.nn.Parameter] = (), start: int = 0, stop: int | None = None,
             optimizer_state: dict | None = None) -> dict:
    """Train ``model`` for ``steps`` optimizer steps; returns the history.

    ``stream``: an :class:`AlgoTasks` (batches of ``batch_size`` are drawn), an
    iterator of :class:`AlgoBatch`, or one fixed batch; trailing all-pad
    columns are trimmed (:func:`trim_padding`: same losses, fewer tokens). ``lb_coef``/``z_coef``
    default to the model's ``config.moe`` values (0 for dense models).
    ``callbacks(step, model, batch, out)`` run before each step's forward
    (``out`` is the previous step's output, None at step 0), e.g. a
    :class:`~diversa.nn.moe.schedules.ProgressiveSparsification`. MoE layers'
    ``on_optimizer_step`` runs after every optimizer step. History keys:
    ``loss``, ``ce``, ``lb``, ``z`` (per logged step), ``step`` and ``optimizer_state``.
    ``micro_batches > 1`` splits each batch into that many gradient-accumulation
    chunks (the setting of the global-batch balance loss). ``lr_scales`` gives
    parameters their own learning rate: pairs ``(params, scale)`` put those
    parameters in an optimiser group whose rate is ``scale`` times the
    schedule's, e.g. ``[(router_parameters(model), 0.1)]`` (a parameter may be
    named once; the rest keep the schedule's rate). ``sgd_parameters`` are
    updated by plain SGD (no momentum, no weight decay) at the schedule's rate
    instead of AdamW, so their steps scale with their gradients: AdaMoE's
    router rows, whose only gradient may be a small auxiliary loss that Adam
    would turn into full-size steps (they take precedence over ``lr_scales``).

    ``start``/``stop`` run only the steps ``start .. stop - 1`` of the
    ``steps``-step schedule (learning rates and callback step numbers as in the
    whole run); ``history["optimizer_state"]`` holds the optimiser's state at
    the end, and passing it back as ``optimizer_state`` with ``start`` resumes
    the run. Training ``stop=s`` and then resuming from ``start=s`` (with the
    same model, stream and settings) equals one uninterrupted run, so a run
    can be forked at step s by copying the model and the stream.
    """
    if int(micro_batches) < 1:
        raise ValueError(f"micro_batches must be >= 1, got {micro_batches}.")
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps}.")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}.")
    stop = int(steps) if stop is None else int(stop)
    if not 0 <= int(start) <= stop <= int(steps):
        raise ValueError(f"start and stop must satisfy 0 <= start <= stop <= steps={steps}, got {start} and {stop}.")
    if int(start) > 0 and optimizer_state is None:
        raise ValueError("start > 0 resumes a run: pass the optimizer_state of the run that stopped there.")
    moe = getattr(getattr(model, "config", None), "moe", None)
    lb_coef = (moe.lb_coef if moe is not None else 0.0) if lb_coef is None else lb_coef
    z_coef = (moe.z_coef if moe is not None else 0.0) if z_coef is None else z_coef
    params = [p for p in (model.parameters() if parameters is None else parameters) if p.requires_grad]
    sgd_ids = {id(p) for p in sgd_parameters}
    adam_groups = _param_groups([p for p in params if id(p) not in sgd_ids], lr_scales)
    optimizers = [torch.optim.AdamW(adam_groups, lr=lr, betas=betas, weight_decay=weight_decay,
                                    fused=True)] if adam_groups else []  # fused: one kernel, ~2x faster steps here
    sgd = [p for p in params if id(p) in sgd_ids]
    if sgd:
        optimizers.append(torch.optim.SGD([{"params": sgd, "lr_scale": 1.0}], lr=lr))
    if optimizer_state is not None:
        states = optimizer_state["optimizers"]
        if len(states) != len(optimizers):
            raise ValueError("optimizer_state comes from a run with other sgd_parameters.")
        for optimizer, state in zip(optimizers, states):
            # a deep copy: two runs resumed from one state must not share (and update) the same moments
            optimizer.load_state_dict(copy.deepcopy(state))
    batches = _stream(stream, batch_size)
    history = {"step": [], "loss": [], "ce": [], "lb": [], "z": []}
    moe_layers = model.moe_layers() if hasattr(model, "moe_layers") else []
    torch.manual_seed(seed)
    model.train()
    out = None
    with torch_threads(threads):
        for step in range(int(start), stop):
            batch = next(batches)
            for callback in callbacks:
                callback(step, model, batch, out)
            rate = lr_at(step, int(steps), lr, warmup, min_lr_ratio)
            for optimizer in optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = group["lr_scale"] * rate
                optimizer.zero_grad(set_to_none=True)
            chunks = [batch.subset(rows) for rows in torch.arange(batch.n_examples).chunk(int(micro_batches))]
            for chunk in chunks:
                out = model(chunk.input_ids)
                ce = lm_loss(out.logits, chunk)
                loss = ce + lb_coef * out.aux_lb + z_coef * out.aux_z
                (loss / len(chunks)).backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            for optimizer in optimizers:
                optimizer.step()
            for layer in moe_layers:
                layer.on_optimizer_step()
            if not log_every or step % log_every == 0 or step == stop - 1:
                history["step"].append(step)
                history["loss"].append(float(loss.detach()))
                history["ce"].append(float(ce.detach()))
                history["lb"].append(float(out.aux_lb.detach()))
                history["z"].append(float(out.aux_z.detach()))
    history["optimizer_state"] = {"optimizers": [optimizer.state_dict() for optimizer in optimizers]}
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
