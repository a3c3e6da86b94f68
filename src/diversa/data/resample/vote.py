"""Majority vote of nominal values with uniformly random tie-breaking.

SMOTE-NC gives each nominal feature of a synthetic sample the value occurring
most often among the base sample's k nearest neighbours; SMOTE-N takes the
majority among the base sample and its k neighbours (Chawla, Bowyer, Hall,
Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling Technique", JAIR 16
(2002), arXiv:1106.1813, section 6). Ties are broken uniformly at random, per
synthetic sample, as the paper says ("in the case of a tie, choose at
random"). The work is vectorised over samples and grows with the size of the
vote (k or k + 1), never with the number of distinct values.
"""

from __future__ import annotations

import numpy as np


def vote_winners(voter_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which voters carry a most frequent value, for every voting group.

    ``voter_codes`` has shape ``(T, m)``: the value codes of the ``m`` voters
    of each of ``T`` groups. Returns ``(is_winner, n_winners)``: a boolean
    ``(T, m)`` mask of voters whose value is among the most frequent in their
    group, and ``(T,)`` how many such voters each group has. Every winning
    value has the same number of voters, so a voter picked uniformly from
    the mask picks a winning value uniformly.
    """
    same = voter_codes[:, :, np.newaxis] == voter_codes[:, np.newaxis, :]
    support = same.sum(axis=2)
    is_winner = support == support.max(axis=1, keepdims=True)
    return is_winner, is_winner.sum(axis=1)


def majority_vote(
    voter_codes: np.ndarray, groups: np.ndarray, random_state: np.random.RandomState
) -> np.ndarray:
    """The most frequent code of the voting group of each synthetic sample.

    ``voter_codes`` (T, m) holds the codes of the voters of each of ``T``
    groups (a base sample's neighbours); ``groups`` (S,) says which group
    votes for each synthetic sample. Returns the winning codes, shape (S,);
    among tied values one is chosen uniformly at random, independently per
    synthetic sample (one ``random_state.uniform(size=S)`` draw).
    """
    is_winner, n_winners = vote_winners(voter_codes)
    rank = np.floor(random_state.uniform(size=len(groups)) * n_winners[groups]).astype(np.intp)
    # The rank-th winning voter (0-based) is the first column whose running
    # count of winners exceeds rank.
    running = np.cumsum(is_winner, axis=1)[groups]
    column = np.argmax(running > rank[:, np.newaxis], axis=1)
    return voter_codes[groups, column]
