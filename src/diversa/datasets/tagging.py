"""Synthetic imbalanced token-tagging data in which a token's label depends on its context.

Built for the small-scale reproduction of Li et al., "Dice Loss for
Data-imbalanced NLP Tasks", ACL 2020, arXiv:1911.02855 (spec
``tabular.md#dice-loss``, task A): an NER-like task where a few percent of
tokens are positive, so training is dominated by easy negatives and the
evaluation is F1 of the positive class.

Token ids (fixed layout): 0 is padding; ``1 .. n_entity`` are entity tokens,
the first half of them "strong"; the next ``n_trigger`` ids are trigger
tokens; the rest are ordinary words. At each position an entity token
(uniform over the entity set) is drawn with probability
``entity_rate``, otherwise a uniform non-entity token. A token is positive
iff it is an entity token AND (it is strong OR the previous token is a
trigger). A fraction ``flip`` of the positive labels is then flipped to
negative (label noise). About 4% of tokens end up positive.

Overlapping cues (``ambiguity`` a > 0): a weak entity without a trigger is
also positive, with a probability of its own, ``a (j + 1/2) / n_weak`` for
the j-th weak id, spread evenly over (0, a), like words that are names in
only some of their uses. With a <= 1/2 these words are positive less often
than not, so a calibrated model (cross-entropy) puts them below a 0.5
threshold although they hold a share of the positives: its recall at 0.5
falls below its precision, the under-prediction of positives under
imbalance that Dice loss targets. ``ambiguity=0`` is the deterministic rule.

RESOLUTION: the spec gives no sequence-length distribution but applies a
padding mask to every loss; lengths here are uniform in ``[ceil(L/2), L]``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state


class TaggingData(NamedTuple):
    """Padded token sequences with binary tags; unpacks as ``tokens, labels, mask``."""

    tokens: np.ndarray   # (n_seq, L) int64, 0 = padding
    labels: np.ndarray   # (n_seq, L) int64 in {0, 1}, 0 at padding
    mask: np.ndarray     # (n_seq, L) bool, True at real tokens


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {value}.")
    return float(value)


def make_tagging_data(
    n_seq: int,
    L: int = 40,
    vocab: int = 300,
    n_entity: int = 30,
    n_trigger: int = 10,
    flip: float = 0.02,
    seed=None,
    *,
    entity_rate: float = 0.08,
    ambiguity: float = 0.0,
) -> TaggingData:
    """Imbalanced binary token tagging whose labels need one token of left context.

    Parameters
    ----------
    n_seq : number of sequences.
    L : maximum sequence length (lengths are uniform in ``[ceil(L/2), L]``).
    vocab : vocabulary size including the padding id 0.
    n_entity : number of entity token ids (half of them "strong": always positive).
    n_trigger : number of trigger token ids (make the next weak entity positive).
    flip : fraction of positive labels flipped to negative (noise).
    seed : None, int or RandomState; the output is a pure function of it.
    entity_rate : probability that a position holds an entity token.
    ambiguity : largest probability that a weak entity without a trigger is
        positive (per-id probabilities spread evenly over (0, ambiguity)).

    Returns
    -------
    TaggingData(tokens, labels, mask), each of shape (n_seq, L).

    Examples
    --------
    >>> tokens, labels, mask = make_tagging_data(500, seed=0)
    >>> tokens.shape, bool(labels[~mask].any())
    ((500, 40), False)
    >>> bool(0.02 < labels[mask].mean() < 0.07)
    True
    """
    n_seq = _check_int(n_seq, "n_seq", 1)
    L = _check_int(L, "L", 2)
    n_entity = _check_int(n_entity, "n_entity", 2)
    n_trigger = _check_int(n_trigger, "n_trigger", 1)
    vocab = _check_int(vocab, "vocab", 1)
    if vocab < n_entity + n_trigger + 2:
        raise ValueError(f"vocab must be >= n_entity + n_trigger + 2 = {n_entity + n_trigger + 2} "
                         f"(padding, entities, triggers and at least one ordinary word), got {vocab}.")
    flip = _check_fraction(flip, "flip")
    entity_rate = _check_fraction(entity_rate, "entity_rate")
    ambiguity = _check_fraction(ambiguity, "ambiguity")
    rng = check_random_state(seed)

    lengths = rng.randint((L + 1) // 2, L + 1, size=n_seq)
    mask = np.arange(L)[None, :] < lengths[:, None]
    is_entity = rng.random_sample((n_seq, L)) < entity_rate
    entity_ids = rng.randint(1, n_entity + 1, size=(n_seq, L))
    other_ids = rng.randint(n_entity + 1, vocab, size=(n_seq, L))
    tokens = np.where(is_entity, entity_ids, other_ids)

    strong = is_entity & (tokens <= n_entity // 2)
    trigger = (tokens > n_entity) & (tokens <= n_entity + n_trigger)
    after_trigger = np.zeros_like(trigger)
    after_trigger[:, 1:] = trigger[:, :-1]
    flip_draw = rng.random_sample((n_seq, L))
    # drawn after every earlier array, so ambiguity = 0 reproduces the deterministic rule's data exactly
    alone_rate = np.zeros(vocab)
    n_weak = n_entity - n_entity // 2
    alone_rate[n_entity // 2 + 1:n_entity + 1] = ambiguity * (np.arange(n_weak) + 0.5) / n_weak
    named_alone = is_entity & ~strong & (rng.random_sample((n_seq, L)) < alone_rate[tokens])
    positive = is_entity & (strong | after_trigger | named_alone) & mask
    flipped = positive & (flip_draw < flip)
    labels = (positive & ~flipped).astype(np.int64)
    tokens = np.where(mask, tokens, 0).astype(np.int64)
    return TaggingData(tokens, labels, mask)
