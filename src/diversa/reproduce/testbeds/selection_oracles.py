"""Ground-truth oracle selections on SynthText-MD: how much a selector could gain over random.

The data-selection reproductions (kMQ, arXiv:2409.11378; ODiS, arXiv:2510.18909; QuaDMix,
arXiv:2504.16511) claim that choosing *which* documents to train on beats a random draw of the
same budget, because real pools hold junk, redundant copies and a skewed domain mix. SynthText-MD
plants all three with known ground truth, so a random draw from a pool with a defect cured by
that ground truth is an oracle: if it does not beat a plain random draw, the testbed gives no
selector anything to gain on that defect (the claims are out of regime there).

* ``clean-random``: uniform over the documents that are not junk;
* ``dedup-random``: one random member of every duplicate group, then uniform over those;
* ``balanced-random``: the same number of documents from every (true) domain, uniform within;

and :func:`oracle_random` combines the cures (e.g. clean and balanced) for an oracle of a method
that targets several defects at once.
"""

from __future__ import annotations

import numpy as np

from diversa.data.select import allocate_budget

__all__ = ["ORACLES", "oracle_random", "oracle_selections"]

#: The single-defect oracles: name -> the cure it applies.
ORACLES = {
    "clean-random": {"clean": True},
    "dedup-random": {"dedup": True},
    "balanced-random": {"balanced": True},
}


def _one_per_group(groups: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly chosen member of every group among ``rows``."""
    shuffled = rows[rng.permutation(rows.size)]
    _, first = np.unique(groups[shuffled], return_index=True)
    return np.sort(shuffled[first])


def oracle_random(truth, budget: int, *, clean: bool = False, dedup: bool = False, balanced: bool = False,
                  random_state: int = 0) -> np.ndarray:
    """Draw ``budget`` distinct row indices at random after curing the chosen defects.

    ``truth``: :func:`diversa.datasets.synthtext.ground_truth` of the pool (columns ``is_junk``,
    ``dup_group``, ``domain``). ``clean`` drops junk rows, ``dedup`` keeps one random member per
    duplicate group, ``balanced`` splits the budget equally over the domains
    (:func:`diversa.data.select.allocate_budget`, leftovers to domains with spare rows).
    Returns int64 ``(budget,)``.
    """
    rng = np.random.default_rng(random_state)
    rows = np.arange(len(truth))
    if clean:
        rows = rows[~truth["is_junk"].to_numpy(dtype=bool)]
    if dedup:
        rows = _one_per_group(truth["dup_group"].to_numpy(), rows, rng)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or not 1 <= budget <= rows.size:
        raise ValueError(f"budget must be an int in [1, {rows.size}] (rows left after the cures), got {budget!r}")
    if not balanced:
        return rng.choice(rows, size=int(budget), replace=False).astype(np.int64)
    domains = truth["domain"].to_numpy()[rows]
    labels, codes = np.unique(domains, return_inverse=True)
    take = allocate_budget(np.bincount(codes, minlength=labels.size), int(budget), "equal")
    parts = [rng.choice(rows[codes == m], size=int(t), replace=False) for m, t in enumerate(take) if t]
    return np.concatenate(parts).astype(np.int64)


def oracle_selections(truth, budget: int, random_state: int = 0) -> dict[str, np.ndarray]:
    """The three single-defect oracles of :data:`ORACLES`, each ``budget`` row indices."""
    return {name: oracle_random(truth, budget, random_state=random_state, **cure) for name, cure in ORACLES.items()}
