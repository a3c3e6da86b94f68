"""PyTorch building blocks.

``moe`` (dropless top-k mixture-of-experts layers, balance losses, routing
overrides, null experts, sparsification schedules), ``lora`` (LoRA layers with
PEFT-format adapter files, LoRA-Mixer's routed LoRA experts, SMoRA's rank-wise
experts), ``xcross`` (X-Cross: layer-wise integration of frozen per-domain
models), ``losses`` (self-adjusting Dice and Tversky losses, the
diversity-weighted ensemble objective, the class-prior losses of multi-expert
long-tailed learning), ``compress`` (post-training low-rank compression of
linear layers and embeddings: AFM output PCA and weight SVD), ``models``
(TinyLM, ParallelMLPEnsemble, GRULM, DeepFM), ``multi_expert`` (a shared-trunk
multi-expert MLP with cosine classifiers), ``aggregation`` (SADE's test-time
expert weights learned by prediction stability), ``training`` (a small
training loop with per-task exact match), ``regularizers`` (stochastic
layer-wise shuffle, :class:`LayerwiseShuffle`, and drop path) and ``ssm`` (a
bidirectional selective-SSM mixer in plain torch and a digits-sized Vision
Mamba). Everything here is a ``torch.nn.Module`` or a function over tensors,
except the aggregator, a small estimator over frozen experts.
"""

from diversa.nn.regularizers import (
    DropPath,
    LayerwiseShuffle,
    drop_path,
    drop_path_rates,
    layer_shuffle_probs,
    shuffle_forward,
)
from diversa.nn.ssm import BiSelectiveSSM, TinyVisionMamba, selective_scan

__all__ = ["BiSelectiveSSM", "DropPath", "LayerwiseShuffle", "TinyVisionMamba", "drop_path", "drop_path_rates",
           "layer_shuffle_probs", "selective_scan", "shuffle_forward"]
