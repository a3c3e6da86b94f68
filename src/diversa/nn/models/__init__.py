"""Tiny reference models: :class:`TinyLM`, a decoder-only transformer with dense or MoE FFNs, and
:class:`ParallelMLPEnsemble`, several MLPs evaluated as batched tensors."""

from diversa.nn.models.parallel_mlp import ParallelMLPEnsemble
from diversa.nn.models.tinylm import MoEConfig, TinyLM, TinyLMConfig, TinyLMOutput, config_key

__all__ = ["MoEConfig", "ParallelMLPEnsemble", "TinyLM", "TinyLMConfig", "TinyLMOutput", "config_key"]
