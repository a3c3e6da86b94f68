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
expert weights learned by prediction stability) and ``training`` (a small
training loop with per-task exact match). Regularizers join them later.
Everything here is a ``torch.nn.Module`` or a function over tensors, except
the aggregator, a small estimator over frozen experts.
"""
