"""Online batch selection: choose, at every training step, which samples (and tokens) of a candidate batch to train on.

A selector scores one candidate batch (after a no-grad forward pass) and returns the indices of
the ``k`` samples to back-propagate; it never touches the model or the optimiser, so it works in
any torch loop (see :mod:`diversa.data.online.base` for the three-line pattern).

* :class:`UDSSelector`: utility (nuclear norm of the logits) plus inter-sample diversity against a
  FIFO buffer of random projections, UDS (arXiv:2510.16882);
* baselines: :class:`UniformSelector`, :class:`MaxLossSelector`, :class:`RHOLossSelector`
  (reference-model reducible loss, arXiv:2206.07137);
* :class:`QTuning`: joint sample and token pruning by the perplexity x entropy quadrants, a batch
  hook that returns a loss mask (Q-Tuning, arXiv:2509.23873), with :class:`PruningBaseline` for the equal-budget
  random, PPL-only, entropy-only and token-only baselines.
"""

from diversa.data.online.base import OnlineSelector, per_sample_loss, resolve_k
from diversa.data.online.baselines import MaxLossSelector, RHOLossSelector, UniformSelector
from diversa.data.online.qtuning import PruneResult, PruningBaseline, QTuning
from diversa.data.online.uds import FastJLProjector, FIFOBuffer, UDSSelector, nuclear_norm_scores

__all__ = [
    "FIFOBuffer",
    "FastJLProjector",
    "MaxLossSelector",
    "OnlineSelector",
    "PruneResult",
    "PruningBaseline",
    "QTuning",
    "RHOLossSelector",
    "UDSSelector",
    "UniformSelector",
    "nuclear_norm_scores",
    "per_sample_loss",
    "resolve_k",
]
