"""Baseline subset selectors: uniform random, top quality, stratified by domain.

The reference points of the diversity-aware selection papers: random sampling
and quality-top ("Deita-like") selection in Yu et al., "Diversify and Conquer:
Diversity-Centric Data Selection with Iterative Refinement" (arXiv:2409.11378),
and quality-only / domain-stratified selection in Liu et al., "QuaDMix:
Quality-Diversity Balanced Data Selection for Efficient LLM Pretraining"
(arXiv:2504.16511).
"""

from __future__ import annotations

import numpy as np

from ._base import BaseSelector, allocate_budget


class RandomSelector(BaseSelector):
    """Uniform random subset without replacement (seeded by ``random_state``)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _select(self, b):
        return self._rng().choice(self.n_samples_, size=b, replace=False)


class TopQualitySelector(BaseSelector):
    """The ``budget`` rows of highest quality (ties broken by lower index); needs ``quality``."""

    _needs_quality = True

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _select(self, b):
        return np.argsort(-self.quality_, kind="stable")[:b]


class StratifiedDomainSelector(BaseSelector):
    """Random rows per domain, the budget split over domains by ``allocation``.

    ``"proportional"`` (default) keeps the pool's domain mix (largest-remainder
    rounding); ``"equal"`` gives every domain the same share (capped at its
    size, leftovers to domains with spare rows). With ``within="quality"`` each
    domain contributes its highest-quality rows instead of random ones.
    """

    _needs_domains = True

    def __init__(self, allocation="proportional", within="random", random_state=None):
        self.allocation = allocation
        self.within = within
        self.random_state = random_state

    def fit(self, X, y=None, *, quality=None, domains=None):
        if self.within not in ("random", "quality"):
            raise ValueError(f"within must be 'random' or 'quality', got {self.within!r}")
        if self.allocation not in ("proportional", "equal"):
            raise ValueError(f"allocation must be 'proportional' or 'equal', got {self.allocation!r}")
        self._validate(X, quality, domains)
        if self.within == "quality" and self.quality_ is None:
            raise ValueError("within='quality' needs quality scores: pass quality=")
        return self

    def _select(self, b):
        rng = self._rng()
        sizes = np.bincount(self.domains_)
        alloc = allocate_budget(sizes, b, self.allocation)
        out = []
        for m, take in enumerate(alloc):
            members = np.flatnonzero(self.domains_ == m)
            if take == 0:
                continue
            if self.within == "quality":
                out.append(members[np.argsort(-self.quality_[members], kind="stable")[:take]])
            else:
                out.append(rng.choice(members, size=take, replace=False))
        return np.concatenate(out)
