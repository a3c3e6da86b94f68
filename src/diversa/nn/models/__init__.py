"""Tiny reference models: :class:`TinyLM`, a decoder-only transformer with dense or MoE FFNs."""

from diversa.nn.models.tinylm import MoEConfig, TinyLM, TinyLMConfig, TinyLMOutput, config_key

__all__ = ["MoEConfig", "TinyLM", "TinyLMConfig", "TinyLMOutput", "config_key"]
