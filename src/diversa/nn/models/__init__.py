"""Tiny reference models: :class:`TinyLM`, a decoder-only transformer with dense or MoE FFNs,
:class:`ParallelMLPEnsemble`, several MLPs evaluated as batched tensors, :class:`GRULM`, a GRU
language model with batched sampling and sequence log-probabilities, :class:`DeepFM`, a small
click-through-rate model (with :func:`train_ctr`) whose layers :mod:`diversa.nn.compress` can compress, and
:class:`PBNNetwork`, the encoder, known-class classifier and decoder of projection-based novel class discovery."""

from diversa.nn.models.ctr import DeepFM, train_ctr
from diversa.nn.models.gru_lm import GRULM, nucleus_sample, pad_batch
from diversa.nn.models.parallel_mlp import ParallelMLPEnsemble
from diversa.nn.models.pbn import PBNNetwork
from diversa.nn.models.tinylm import MoEConfig, TinyLM, TinyLMConfig, TinyLMOutput, config_key

__all__ = ["DeepFM", "GRULM", "MoEConfig", "PBNNetwork", "ParallelMLPEnsemble", "TinyLM", "TinyLMConfig", "TinyLMOutput",
           "config_key", "nucleus_sample", "pad_batch", "train_ctr"]
