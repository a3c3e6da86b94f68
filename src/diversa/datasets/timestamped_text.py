"""Synthetic timestamped text whose word distribution drifts smoothly in time.

The testbed of the post-hoc membership-inference audit (Meeus, Jain, Rei,
de Montjoye, "Inherent Challenges of Post-Hoc Membership Inference for Large
Language Models", arXiv:2406.17975; later "SoK: Membership Inference Attacks
on LLMs are Rushing Nowhere (and How to Fix It)"). Documents written at
different times differ in topics and in the named entities they mention, as
real corpora do, so any "members before a cut-off / non-members after it"
split carries a distribution shift even without any model.

A document at time ``t`` (on the unit time axis) is ``doc_length`` tokens;
each token is, independently,

* a function word ``f<i>`` (uniform) with probability ``p_func``;
* a topic word ``t<j>_<i>`` with probability ``p_topic``: topic ``j`` with
  weight ``exp(-(t - c_j)^2 / (2 topic_width^2))`` around fixed centres
  ``c = linspace(0, 1, n_topics)``, word uniform within the topic;
* an entity ``e<k>`` with probability ``p_entity``: among the entities born
  by ``t`` (births ``b_k ~ U(0, 1)``, fixed by the world's seed), with weight
  ``exp((b_k - t) / entity_recency)`` so the newest entities dominate, like
  the events that happen after a training cut-off; a topic word when no
  entity is born yet.

Sampling is vectorised over a 1000-bin time grid with pre-tabulated CDFs:
topic weights are taken at a bin's centre, entity births and weights at its
left edge, so no entity ever appears before its birth time.
"""

from __future__ import annotations

import numpy as np

N_BINS = 1000


def _row_searchsorted(cdf_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws with a different CDF per row.

    cdf_rows: (n, k) non-decreasing rows ending at 1; u: (n, m) uniforms in
    [0, 1). Offsetting row r by r turns n searches into one sorted search.
    """
    n, k = cdf_rows.shape
    offsets = np.arange(n, dtype=float)[:, None]
    flat = (cdf_rows + offsets).ravel()
    found = np.searchsorted(flat, (u + offsets).ravel(), side="right").reshape(u.shape)
    return np.clip(found - np.arange(n)[:, None] * k, 0, k - 1)


class TemporalTextWorld:
    """A seeded world of timestamped documents with smooth temporal drift.

    Parameters are the generator's vocabulary sizes, token-kind
    probabilities (which must sum to 1) and drift scales; ``seed`` fixes the
    world (entity birth times), while :meth:`sample` takes its own random
    generator so many corpora can be drawn from one world.

    Attributes
    ----------
    vocabulary : list of str of length ``n_func + n_topics * words_per_topic + n_entities``
    entity_births : ndarray of shape (n_entities,), sorted birth times in [0, 1).
    topic_centres : ndarray of shape (n_topics,)
    """

    def __init__(self, seed: int = 0, n_func: int = 40, n_topics: int = 12, words_per_topic: int = 25,
                 n_entities: int = 150, p_func: float = 0.5, p_topic: float = 0.35, p_entity: float = 0.15,
                 topic_width: float = 0.12, entity_recency: float = 0.15, doc_length: int = 40):
        for name, value in {"n_func": n_func, "n_topics": n_topics, "words_per_topic": words_per_topic,
                            "n_entities": n_entities, "doc_length": doc_length}.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
        probabilities = np.array([p_func, p_topic, p_entity], dtype=float)
        if np.any(probabilities < 0) or not np.isclose(probabilities.sum(), 1.0):
            raise ValueError(f"p_func, p_topic, p_entity must be >= 0 and sum to 1, got {probabilities.tolist()}.")
        if topic_width <= 0 or entity_recency <= 0:
            raise ValueError("topic_width and entity_recency must be > 0.")
        self.seed = seed
        self.n_func, self.n_topics, self.words_per_topic = int(n_func), int(n_topics), int(words_per_topic)
        self.n_entities, self.doc_length = int(n_entities), int(doc_length)
        self.kind_probabilities = probabilities / probabilities.sum()
        self.topic_width, self.entity_recency = float(topic_width), float(entity_recency)
        self.topic_centres = np.linspace(0.0, 1.0, self.n_topics)
        self.entity_births = np.sort(np.random.default_rng(seed).uniform(0.0, 1.0, self.n_entities))
        self.vocabulary = ([f"f{i}" for i in range(self.n_func)]
                           + [f"t{j}_{i}" for j in range(self.n_topics) for i in range(self.words_per_topic)]
                           + [f"e{k}" for k in range(self.n_entities)])
        self._topic_cdf, self._entity_cdf, self._any_entity = self._tabulate()

    @property
    def topic_offset(self) -> int:
        """Index of the first topic word in :attr:`vocabulary`."""
        return self.n_func

    @property
    def entity_offset(self) -> int:
        """Index of the first entity token in :attr:`vocabulary`."""
        return self.n_func + self.n_topics * self.words_per_topic

    def _tabulate(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        edges = np.arange(N_BINS) / N_BINS
        centres = edges + 0.5 / N_BINS
        topic_weights = np.exp(-(centres[:, None] - self.topic_centres[None, :]) ** 2 / (2 * self.topic_width**2))
        topic_cdf = np.cumsum(topic_weights / topic_weights.sum(1, keepdims=True), axis=1)
        born = self.entity_births[None, :] <= edges[:, None]
        entity_weights = np.where(born, np.exp((self.entity_births[None, :] - edges[:, None]) / self.entity_recency), 0.0)
        totals = entity_weights.sum(1, keepdims=True)
        any_entity = totals[:, 0] > 0
        # Rows without a born entity are never used for entities; any valid CDF will do.
        entity_cdf = np.cumsum(np.where(any_entity[:, None], entity_weights / np.where(totals > 0, totals, 1.0),
                                        1.0 / self.n_entities), axis=1)
        topic_cdf[:, -1] = entity_cdf[:, -1] = 1.0
        return topic_cdf, entity_cdf, any_entity

    def time_bins(self, times) -> np.ndarray:
        """Grid bin of each time (times outside [0, 1) go to the end bins)."""
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or not np.all(np.isfinite(times)):
            raise ValueError("times must be a finite 1-D array.")
        return np.clip(np.floor(times * N_BINS).astype(int), 0, N_BINS - 1)

    def sample_tokens(self, times, rng=None) -> np.ndarray:
        """Token ids of one document per time.

        Parameters
        ----------
        times : array-like of shape (n,), document times (unit axis).
        rng : int, ``numpy.random.Generator`` or None.

        Returns
        -------
        tokens : int ndarray of shape (n, doc_length), indices into :attr:`vocabulary`.
        """
        bins = self.time_bins(times)
        rng = np.random.default_rng(rng)
        shape = (bins.size, self.doc_length)
        # Every array is drawn in full so the stream consumed does not depend on the data.
        kind = np.searchsorted(np.cumsum(self.kind_probabilities), rng.random(shape), side="right")
        function_words = rng.integers(0, self.n_func, shape)
        topics = _row_searchsorted(self._topic_cdf[bins], rng.random(shape))
        topic_words = self.topic_offset + topics * self.words_per_topic + rng.integers(0, self.words_per_topic, shape)
        entities = self.entity_offset + _row_searchsorted(self._entity_cdf[bins], rng.random(shape))
        entity_ok = self._any_entity[bins][:, None]
        return np.where(kind == 0, function_words,
                        np.where((kind == 1) | ((kind == 2) & ~entity_ok), topic_words, entities))

    def decode(self, tokens: np.ndarray) -> list[str]:
        """Texts of token-id rows (words joined by single spaces)."""
        words = np.asarray(self.vocabulary, dtype=object)
        return [" ".join(row) for row in words[np.asarray(tokens)]]

    def sample(self, times, rng=None) -> list[str]:
        """One document per time, as text (see :meth:`sample_tokens`)."""
        return self.decode(self.sample_tokens(times, rng))

    def sample_window(self, n: int, low: float, high: float, rng=None) -> tuple[list[str], np.ndarray]:
        """``n`` documents with times drawn uniformly from ``[low, high)``.

        Returns ``(texts, times)`` with ``times`` of shape (n,).
        """
        if not low < high:
            raise ValueError(f"need low < high, got [{low}, {high}).")
        rng = np.random.default_rng(rng)
        times = rng.uniform(low, high, int(n))
        return self.sample(times, rng), times

    def entity_birth(self, token: str) -> float:
        """Birth time of an entity token such as ``"e17"``."""
        return float(self.entity_births[int(token[1:])])


def entity_tokens(text: str) -> list[str]:
    """The entity tokens (``e<k>``) of a generated document."""
    return [word for word in text.split() if word.startswith("e") and word[1:].isdigit()]

