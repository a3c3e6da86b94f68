"""PyTorch building blocks.

Mixture-of-experts layers, LoRA adapters, losses, regularizers and tiny
reference models (transformer LM, MLP, ViT). Everything here is a
``torch.nn.Module`` or a function over tensors.
"""
