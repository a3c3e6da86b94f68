"""The expert-compression testbed shared by the MC-SMoE and Sub-MoE reproductions.

A unit is one trained base MoE :class:`~diversa.nn.models.TinyLM` (2 layers,
d = 64, 8 GELU experts of width 64, top-2; :func:`~diversa.reproduce.testbeds.moe_lm.base_moe`,
the checkpoint the AdaMoE and SCMoE reproductions share, so one run trains it
once), a calibration batch from a fresh AlgoTasks training stream (the merging
statistics are computed on its non-pad tokens) and a held-out test set. The
metric is teacher-forced answer-token accuracy.

MC-SMoE's compression without fine-tuning (:func:`mcsmoe_compress`): every
merged expert matrix becomes a rank-r SVD part plus the residual, whose rows
are pruned once to a fraction ``final_ratio`` by LoSparse's importance
``|S * dL/dS|`` from one backward pass of the language-modelling loss on the
calibration batch.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from diversa.combine.moe import LoSparsePruner, compress_experts
from diversa.datasets.algotasks import AlgoBatch, AlgoTasks, make_test_set
from diversa.nn.training import evaluate_lm, lm_loss
from diversa.reproduce.registry import Check
from diversa.reproduce.testbeds.moe_lm import BASE_TASKS, base_moe

__all__ = ["CompressionTestbed", "compression_testbed", "mcsmoe_compress", "regime_checks", "regime_pairs", "token_accuracy"]

#: Training steps of the shared base MoE (the AdaMoE/SCMoE quick-mode checkpoint, so one cache serves all).
BASE_STEPS = 300
#: Regime: the uncompressed model's accuracy floor; the accuracy pruning half the experts must cost.
OFF_FLOOR, PRUNE_COST = 0.5, 0.02
#: Calibration stream seeds are offset so they never coincide with the model's training stream.
CALIBRATION_SEED_OFFSET = 50_000


class CompressionTestbed(NamedTuple):
    """One unit: the trained model, its calibration batch (ids and non-pad mask) and test set."""

    model: nn.Module
    calib: AlgoBatch
    calib_mask: torch.Tensor
    test: AlgoBatch


def compression_testbed(seed: int, n_calib: int = 128, n_test_per_task: int = 128) -> CompressionTestbed:
    """The base MoE of ``seed`` (cached), ``n_calib`` calibration sequences and the test set of ``seed``."""
    model = base_moe(seed, steps=BASE_STEPS)
    # Calibrate and test on the tasks the base model was trained on.
    calib = AlgoTasks(BASE_TASKS, seed=CALIBRATION_SEED_OFFSET + seed).sample(n_calib)
    mask = calib.input_ids != model.config.pad_id
    test = make_test_set(BASE_TASKS, n_per_task=n_test_per_task, seed=seed)
    return CompressionTestbed(model, calib, mask, test)


def token_accuracy(model: nn.Module, test: AlgoBatch) -> float:
    """Teacher-forced accuracy of the answer tokens of ``test``."""
    return float(evaluate_lm(model, test)["token_acc"])


def mcsmoe_compress(merged: nn.Module, tb: CompressionTestbed, rank: int, final_ratio: float) -> nn.Module:
    """MC-SMoE's low-rank + sparse compression of a merged model, residual rows pruned once (no fine-tuning)."""
    model = compress_experts(merged, rank=rank)
    pruner = LoSparsePruner(model, final_ratio=final_ratio)
    model.zero_grad()
    was_training = model.training
    model.eval()
    lm_loss(model(tb.calib.input_ids).logits, tb.calib).backward()
    model.train(was_training)
    pruner.update_importance()
    pruner.prune(final_ratio)
    model.zero_grad()
    return model.eval()


def regime_checks(n_kept: int) -> tuple[Check, Check]:
    """The compression reproductions' regime: the full model is off floor and pruning to ``n_kept`` costs accuracy.

    A trial measures them as ``"full-off-floor": (OFF_FLOOR, full)`` and
    ``"pruning-costs-accuracy": (full - PRUNE_COST, pruned)``.
    """
    return (
        Check("full-off-floor", "answer-token accuracy", f"floor {OFF_FLOOR}", "uncompressed model", "greater",
              "the uncompressed model is well above chance (1/11), so compression has something to lose",
              kind="regime"),
        Check("pruning-costs-accuracy", "answer-token accuracy", f"uncompressed model - {PRUNE_COST}",
              f"frequency pruning (8->{n_kept})", "less",
              "halving the experts costs accuracy, so there is room for a better compression", kind="regime"),
    )


def regime_pairs(full: float, pruned: float) -> dict[str, tuple[float, float]]:
    """The measured pairs of :func:`regime_checks` (floor and cost read at call time, so tests can lower them)."""
    return {"full-off-floor": (OFF_FLOOR, full), "pruning-costs-accuracy": (full - PRUNE_COST, pruned)}
