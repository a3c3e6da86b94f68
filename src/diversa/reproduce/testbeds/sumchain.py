"""The base policy M0 of the ReCUT reproduction: a GRU LM trained on SumChain, cached per seed.

Spec ``merge.md`` 7: a :class:`~diversa.nn.models.GRULM` (embedding 32,
hidden 128) trained by next-token cross-entropy on fresh SumChain gold
trajectories (prompt modes long / short / neutral, styles mixed within a
trajectory, loss on the continuation only): ``steps`` batches of 64, AdamW lr
3e-3. Cached as ``$DIVERSA_CACHE/recut/base_policy_<seed>_<steps>_....pt``
(``DIVERSA_CACHE=0``: no caching); parallel workers build it once.
"""

from __future__ import annotations

import numpy as np
import torch

from diversa.combine.recut import supervised_finetune
from diversa.datasets.sumchain import PAD, VOCAB_SIZE, sft_examples
from diversa.nn.models import GRULM
from diversa.reproduce.testbeds.cache import cache_root, load_or_build

__all__ = ["base_policy", "new_policy"]


def new_policy(seed: int) -> GRULM:
    """An untrained SumChain policy with the spec's sizes, initialised from ``seed``."""
    torch.manual_seed(seed)
    return GRULM(VOCAB_SIZE, PAD, d_embed=32, d_hidden=128)


def base_policy(seed: int, steps: int = 1000, batch_size: int = 64, lr: float = 3e-3) -> GRULM:
    """M0 for ``seed`` (cached), in eval mode."""
    root = cache_root()
    path = None if root is None else root / "recut" / f"base_policy_{seed}_{steps}_{batch_size}_{lr:g}.pt"
    policy = new_policy(seed)
    policy.load_state_dict(load_or_build(path, lambda: _train(seed, steps, batch_size, lr)))
    return policy.eval()


def _train(seed: int, steps: int, batch_size: int, lr: float) -> dict:
    policy = new_policy(seed)
    rng = np.random.default_rng(seed)
    supervised_finetune(policy, (sft_examples(batch_size, rng) for _ in range(steps)), lr=lr)
    return policy.state_dict()
