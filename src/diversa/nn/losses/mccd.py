"""Multifaceted cycle collaborative debiasing (MCCD): the loss terms of a plug-in AVQA debiasing strategy.

Ma, Hu, Wang, Sun, Song, Pei, Liu, Du, "Look, Listen, and Answer: Overcoming Biases for
Audio-Visual Question Answering", arXiv:2404.12020 (NeurIPS 2024); spec ``training.md#mccd``.
A model answers from the fused audio, video and question (``z_f``, the only logits used at test
time) and, through uni-modal "bias learners", from each modality alone (``z_q``, ``z_a``,
``z_v``). Training adds two terms to the answer loss ``L_a``:

* ``L_d`` (distance): the fused logits are pushed away from every uni-modal logit vector by
  minimising the inverse of their batch-mean Euclidean distance,
  ``sum_m w_m / (mean_i ||z_f,i - z_m,i||_2 + 1e-5)``;
* ``L_c`` (cycle): the uni-modal answer distributions are pulled towards each other around the
  cycle q -> a -> v -> q, ``w_aq KL(p_q || p_a) + w_qv KL(p_v || p_q) + w_va KL(p_a || p_v)``
  with ``p_m = softmax(z_m)`` and batch-mean KL;

``L = w_ans CE(z_f, y) + lambda_d L_d + lambda_c L_c``.

The definitions follow the authors' released code (``model/criterion.py`` and ``option.yaml`` of
reml-group/MUSIC-AVQA-R), which fixes what the paper's equations leave open: the distance is
averaged over the batch *before* it is inverted (not a mean of inverse distances), uses
``torch.nn.PairwiseDistance`` (which adds ``eps = 1e-6`` to the difference), and gets ``+1e-5``
in the denominator; each KL is ``KLDivLoss(reduction="batchmean")(log_softmax(z_x),
softmax(z_y))`` = ``KL(p_y || p_x)``, so the cycle runs in one direction and is not symmetric;
the weights are ``w_ans = 1``, ``lambda_d = 0.01``, ``w_m = 0.333``, ``lambda_c = 0.333`` and
pair weights ``0.333``. The bias learners get **no** cross-entropy in that code: they learn only
through ``L_d``, ``L_c`` and the encoder they share with the fused branch. A classic
RUBi/LMH-style bias branch trained on the answers is available as the non-official
``bias_ce_weight > 0``. Gradients flow into both sides of every term (nothing is detached).

Because ``L_d`` is an inverse distance, it can also be made small by inflating the bias
learners' logits without changing ``z_f``; :attr:`MCCDLoss.last_components` logs the
distances so that this can be watched (no normalisation is added, to stay faithful).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MCCDLoss", "MCCDTerms", "MODALITIES", "cycle_kl", "fusion_distances", "mccd_loss_terms"]

#: The uni-modal bias learners: question, audio, video (the cycle order q -> a -> v -> q).
MODALITIES = ("q", "a", "v")
#: The cycle's (target, input) pairs: KL(p_q || p_a), KL(p_v || p_q), KL(p_a || p_v).
CYCLE = (("q", "a"), ("v", "q"), ("a", "v"))
#: ``torch.nn.PairwiseDistance``'s eps (added to the difference) and the official denominator eps.
PAIRWISE_EPS, INVERSE_EPS = 1e-6, 1e-5


class MCCDTerms(NamedTuple):
    """The MCCD objective and its parts (0-d tensors, still in the graph).

    ``loss`` the total; ``answer`` CE(z_f, y); ``distance`` the unweighted ``L_d`` (the
    ``w_m``-weighted inverse distances); ``cycle`` the unweighted ``L_c`` (the pair-weighted
    KLs); ``bias_ce`` the mean CE of the bias learners (0 unless ``bias_ce_weight > 0``);
    ``distances`` the batch-mean ``||z_f - z_m||`` per modality; ``kls`` the three cycle KLs,
    keyed ``"q||a"``, ``"v||q"``, ``"a||v"``.
    """

    loss: Tensor
    answer: Tensor
    distance: Tensor
    cycle: Tensor
    bias_ce: Tensor
    distances: dict[str, Tensor]
    kls: dict[str, Tensor]


def _check_logits(fusion_logits: Tensor, bias_logits: Mapping[str, Tensor]) -> None:
    if not isinstance(fusion_logits, Tensor) or fusion_logits.ndim != 2:
        raise ValueError("fusion_logits must be a (batch, n_answers) tensor, got "
                         f"{getattr(fusion_logits, 'shape', type(fusion_logits).__name__)}.")
    if not isinstance(bias_logits, Mapping):
        raise TypeError(f"bias_logits must map each of {MODALITIES} to logits, got {type(bias_logits).__name__}.")
    for m in MODALITIES:
        if m not in bias_logits:
            raise KeyError(f"bias_logits has no {m!r} entry: MCCD needs the question ('q'), audio ('a') and "
                           f"video ('v') bias learners' logits, got keys {sorted(bias_logits)}.")
        z = bias_logits[m]
        if not isinstance(z, Tensor) or z.shape != fusion_logits.shape:
            raise ValueError(f"bias_logits[{m!r}] must have the fused logits' shape {tuple(fusion_logits.shape)}, "
                             f"got {tuple(getattr(z, 'shape', ()))}.")


def fusion_distances(fusion_logits: Tensor, bias_logits: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Batch-mean Euclidean distance ``mean_i ||z_f,i - z_m,i + 1e-6||_2`` per modality (0-d tensors).

    ``fusion_logits (B, C)``; ``bias_logits`` maps ``"q"``, ``"a"``, ``"v"`` to ``(B, C)``
    logits. The ``1e-6`` is ``torch.nn.PairwiseDistance``'s, as in the official code.
    """
    _check_logits(fusion_logits, bias_logits)
    return {m: F.pairwise_distance(fusion_logits, bias_logits[m], p=2.0, eps=PAIRWISE_EPS).mean()
            for m in MODALITIES}


def cycle_kl(bias_logits: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The three cycle KL divergences, batch-mean: ``KL(p_q||p_a)``, ``KL(p_v||p_q)``, ``KL(p_a||p_v)``.

    ``bias_logits`` maps ``"q"``, ``"a"``, ``"v"`` to ``(B, C)`` logits; returns 0-d tensors keyed
    ``"q||a"``, ``"v||q"``, ``"a||v"``. Each is ``F.kl_div(log_softmax(z_x), softmax(z_y),
    reduction="batchmean")`` = ``sum p_y (log p_y - log p_x) / B``, the official direction.
    """
    if not isinstance(bias_logits, Mapping):
        raise TypeError(f"bias_logits must map each of {MODALITIES} to logits, got {type(bias_logits).__name__}.")
    missing = [m for m in MODALITIES if m not in bias_logits]
    if missing:
        raise KeyError(f"bias_logits has no {missing[0]!r} entry (needs {MODALITIES}), got keys {sorted(bias_logits)}.")
    shape = bias_logits["q"].shape
    if len(shape) != 2 or any(bias_logits[m].shape != shape for m in MODALITIES):
        raise ValueError(f"bias logits must share one (batch, n_answers) shape, got "
                         f"{[tuple(bias_logits[m].shape) for m in MODALITIES]}.")
    return {f"{target}||{source}": F.kl_div(F.log_softmax(bias_logits[source], dim=1),
                                            F.softmax(bias_logits[target], dim=1), reduction="batchmean")
            for target, source in CYCLE}


def _check_weights(values, name: str) -> tuple[float, float, float]:
    try:
        weights = tuple(float(w) for w in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be three numbers, got {values!r}.") from None
    if len(weights) != 3 or not all(math.isfinite(w) and w >= 0 for w in weights):
        raise ValueError(f"{name} must be three finite numbers >= 0, got {values!r}.")
    return weights


def _check_weight(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def mccd_loss_terms(fusion_logits: Tensor, bias_logits: Mapping[str, Tensor], target: Tensor, *,
                    answer_weight: float = 1.0, dist_weight: float = 0.01,
                    modality_weights: Sequence[float] = (0.333, 0.333, 0.333), cycle_weight: float = 0.333,
                    pair_weights: Sequence[float] = (0.333, 0.333, 0.333), eps: float = INVERSE_EPS,
                    bias_ce_weight: float = 0.0) -> MCCDTerms:
    """The MCCD objective of one batch and its parts.

    ``fusion_logits (B, C)`` the fused answer logits; ``bias_logits`` maps ``"q"``, ``"a"``,
    ``"v"`` to the bias learners' ``(B, C)`` logits; ``target (B,)`` answer indices.
    ``loss = answer_weight * CE + dist_weight * L_d + cycle_weight * L_c (+ bias_ce_weight *
    mean_m CE(z_m, y))``, with ``modality_weights`` the ``w_q, w_a, w_v`` of ``L_d`` and
    ``pair_weights`` the ``w_aq, w_qv, w_va`` of ``L_c``. Defaults: the authors' released
    configuration (see the module docstring).
    """
    _check_logits(fusion_logits, bias_logits)
    if not isinstance(target, Tensor) or target.shape != fusion_logits.shape[:1]:
        raise ValueError(f"target must be a ({fusion_logits.shape[0]},) tensor of answer indices, got "
                         f"{tuple(getattr(target, 'shape', ()))}.")
    answer_weight = _check_weight(answer_weight, "answer_weight")
    dist_weight = _check_weight(dist_weight, "dist_weight")
    cycle_weight = _check_weight(cycle_weight, "cycle_weight")
    bias_ce_weight = _check_weight(bias_ce_weight, "bias_ce_weight")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}.")
    w_mod = _check_weights(modality_weights, "modality_weights")
    w_pair = _check_weights(pair_weights, "pair_weights")
    answer = F.cross_entropy(fusion_logits, target)
    distances = fusion_distances(fusion_logits, bias_logits)
    distance = sum(w / (distances[m] + eps) for w, m in zip(w_mod, MODALITIES))
    kls = cycle_kl(bias_logits)
    cycle = sum(w * kl for w, kl in zip(w_pair, kls.values()))
    bias_ce = (sum(F.cross_entropy(bias_logits[m], target) for m in MODALITIES) / len(MODALITIES)
               if bias_ce_weight > 0 else answer.new_zeros(()))
    loss = answer_weight * answer + dist_weight * distance + cycle_weight * cycle + bias_ce_weight * bias_ce
    return MCCDTerms(loss, answer, distance, cycle, bias_ce, distances, kls)


class MCCDLoss(nn.Module):
    """The MCCD training objective as a module: ``loss(fusion_logits, bias_logits, target) -> 0-d tensor``.

    Wraps any model that returns fused answer logits ``(B, C)`` and the three bias learners'
    logits ``{"q", "a", "v"} -> (B, C)``; see :func:`mccd_loss_terms` for the formula and the
    module docstring for the official defaults. After every call, ``last_components`` holds
    floats: ``loss``, ``ce``, ``dist_term`` (unweighted ``L_d``), ``cycle_term`` (unweighted
    ``L_c``), ``bias_ce``, ``dist_q``/``dist_a``/``dist_v`` (batch-mean distances) and the three
    KLs ``kl_q||a``, ``kl_v||q``, ``kl_a||v``.
    """

    def __init__(self, answer_weight: float = 1.0, dist_weight: float = 0.01,
                 modality_weights: Sequence[float] = (0.333, 0.333, 0.333), cycle_weight: float = 0.333,
                 pair_weights: Sequence[float] = (0.333, 0.333, 0.333), eps: float = INVERSE_EPS,
                 bias_ce_weight: float = 0.0):
        super().__init__()
        self.answer_weight = _check_weight(answer_weight, "answer_weight")
        self.dist_weight = _check_weight(dist_weight, "dist_weight")
        self.modality_weights = _check_weights(modality_weights, "modality_weights")
        self.cycle_weight = _check_weight(cycle_weight, "cycle_weight")
        self.pair_weights = _check_weights(pair_weights, "pair_weights")
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
            raise ValueError(f"eps must be a finite number > 0, got {eps!r}.")
        self.eps = float(eps)
        self.bias_ce_weight = _check_weight(bias_ce_weight, "bias_ce_weight")
        self.last_components: dict[str, float] = {}

    def forward(self, fusion_logits: Tensor, bias_logits: Mapping[str, Tensor], target: Tensor) -> Tensor:
        terms = mccd_loss_terms(fusion_logits, bias_logits, target, answer_weight=self.answer_weight,
                                dist_weight=self.dist_weight, modality_weights=self.modality_weights,
                                cycle_weight=self.cycle_weight, pair_weights=self.pair_weights, eps=self.eps,
                                bias_ce_weight=self.bias_ce_weight)
        self.last_components = {
            "loss": float(terms.loss.detach()), "ce": float(terms.answer.detach()),
            "dist_term": float(terms.distance.detach()), "cycle_term": float(terms.cycle.detach()),
            "bias_ce": float(terms.bias_ce.detach()),
            **{f"dist_{m}": float(d.detach()) for m, d in terms.distances.items()},
            **{f"kl_{k}": float(v.detach()) for k, v in terms.kls.items()},
        }
        return terms.loss

    def extra_repr(self) -> str:
        return (f"dist_weight={self.dist_weight}, cycle_weight={self.cycle_weight}, "
                f"bias_ce_weight={self.bias_ce_weight}")
