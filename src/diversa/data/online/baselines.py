"""Online batch selection baselines behind the :class:`~diversa.data.online.OnlineSelector` interface.

* :class:`UniformSelector`: ``k`` samples of the candidate batch uniformly at random (the "Random"
  arm of online selection papers; at equal back-propagated samples it is plain training on a
  random subset).
* :class:`MaxLossSelector`: the ``k`` samples with the highest training loss (Loshchilov and Hutter,
  "Online Batch Selection for Faster Training of Neural Networks", ICLR workshop 2016,
  arXiv:1511.06343; Kawaguchi and Lu, "Ordered SGD", AISTATS 2020).
* :class:`RHOLossSelector`: the ``k`` samples with the highest reducible holdout loss, training
  loss minus the loss of a reference model trained on holdout data (Mindermann et al.,
  "Prioritized Training on Points that are Learnable, Worth Learning, and Not Yet Learnt",
  ICML 2022, arXiv:2206.07137). The reference losses ("irreducible losses") are usually computed
  once for the whole training set and looked up per batch.
"""

from __future__ import annotations

import torch

from diversa.data.online.base import OnlineSelector

__all__ = ["MaxLossSelector", "RHOLossSelector", "UniformSelector"]


class UniformSelector(OnlineSelector):
    """Keep ``k`` samples of each candidate batch uniformly at random (seeded by ``random_state``).

    Needs only the batch size: pass ``logits`` or ``losses``.

    >>> sel = UniformSelector(k=2, random_state=0)
    >>> idx = sel.select(losses=torch.zeros(8))
    >>> idx.shape, bool((idx[1:] > idx[:-1]).all())
    (torch.Size([2]), True)
    """

    def __init__(self, k=0.25, *, start_step: int = 0, random_state: int = 0):
        super().__init__(k, start_step=start_step)
        self.random_state = random_state

    def _score(self, batch):
        if not hasattr(self, "generator_"):
            self.generator_ = torch.Generator().manual_seed(int(self.random_state))
        return torch.rand(batch["batch_size"], generator=self.generator_, dtype=torch.float64)


class MaxLossSelector(OnlineSelector):
    """Keep the ``k`` samples with the highest training loss; pass ``losses`` (B,).

    >>> MaxLossSelector(k=2).select(losses=torch.tensor([0.1, 2.0, 0.5, 3.0]))
    tensor([1, 3])
    """

    _needs = ("losses",)

    def _score(self, batch):
        return batch["losses"]


class RHOLossSelector(OnlineSelector):
    """Keep the ``k`` samples with the highest reducible holdout loss ``losses - reference_losses``.

    ``reference_losses`` (B,) are the losses of the same samples under a reference model trained on
    holdout data: a sample that even the reference model cannot fit (noisy, ambiguous) has a high
    irreducible loss and is skipped; one the learner already fits has a low training loss.

    >>> sel = RHOLossSelector(k=1)
    >>> sel.select(losses=torch.tensor([3.0, 1.0]), reference_losses=torch.tensor([2.9, 0.1]))
    tensor([1])
    """

    _needs = ("losses", "reference_losses")

    def _score(self, batch):
        return batch["losses"] - batch["reference_losses"]
