"""PyTorch building blocks.

``moe`` (dropless top-k mixture-of-experts layers, balance losses, routing
overrides, null experts, sparsification schedules), ``losses`` (self-adjusting
Dice and Tversky losses, the diversity-weighted ensemble objective), ``models``
(TinyLM, ParallelMLPEnsemble) and ``training`` (a small training loop with
per-task exact match). LoRA adapters and regularizers join
them later. Everything here is a ``torch.nn.Module`` or a function over
tensors.
"""
