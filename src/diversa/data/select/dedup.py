"""Near-duplicate removal before selection: MinHash signatures and LSH banding.

Broder, "On the resemblance and containment of documents" (1997) estimates the
Jaccard similarity of two shingle sets by the share of equal MinHash values;
locality-sensitive hashing (Indyk and Motwani 1998; Leskovec, Rajaraman and
Ullman, *Mining of Massive Datasets*, ch. 3) splits the ``num_perm`` values into
``b`` bands of ``r`` rows, so that two texts whose Jaccard similarity is above
the threshold share at least one band with high probability.

:class:`MinHashDeduplicator` computes the signatures with ``datasketch``
(``pip install 'diversa[scale]'``; its affine permutations of CRC-32 shingle
hashes, applied to a whole batch at once) and keeps, per row, only the ``b`` 64-bit
band hashes (8 bytes per band and row, never the texts or full signatures), so
it can see a corpus batch by batch; the seen hashes are kept in a few sorted
numpy runs per band (8 bytes a hash). A row is a near-duplicate when it shares a
band with an *earlier* row; the first occurrence is kept. The band/row split is
the one ``datasketch.MinHashLSH`` chooses for the threshold (equal weights of
false positives and negatives). Shingles are character 5-grams of the
lower-cased, whitespace-normalised text: changing one word of a sentence
changes only a few of them. Deterministic for a ``seed``.
"""

from __future__ import annotations

import zlib

import numpy as np

SHINGLE_CHARS = 5
#: Texts whose shingle hashes are permuted at once (a (shingles, num_perm) uint64 block of a few MB).
_SIGNATURE_ROWS = 64


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (an avalanching bijection), element-wise on uint32."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def shingles(text: str, size: int = SHINGLE_CHARS) -> set[str]:
    """Character ``size``-grams of ``text`` lower-cased with runs of whitespace made one space."""
    norm = " ".join(str(text).lower().split())
    if len(norm) <= size:
        return {norm}
    return {norm[i:i + size] for i in range(len(norm) - size + 1)}


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


class MinHashDeduplicator:
    """Streaming near-duplicate detection at a Jaccard ``threshold`` (0 < threshold < 1).

    ``add(texts)`` takes the next batch of the corpus and returns its keep mask
    (False for a near-duplicate of an earlier row, kept or not); ``n_seen_`` and
    ``n_removed_`` count the rows so far.
    """

    def __init__(self, threshold: float = 0.8, *, num_perm: int = 128, seed: int = 0):
        if isinstance(threshold, bool) or not (isinstance(threshold, (int, float)) and 0 < threshold < 1):
            raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
        if isinstance(num_perm, bool) or not isinstance(num_perm, (int, np.integer)) or num_perm < 2:
            raise ValueError(f"num_perm must be an int >= 2, got {num_perm!r}")
        try:
            from datasketch import MinHash, MinHashLSH
        except ImportError:
            raise ImportError("near-duplicate removal needs datasketch: pip install 'diversa[scale]'") from None
        self.threshold = float(threshold)
        self.num_perm = int(num_perm)
        self.seed = int(seed)
        lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        self._permutations = MinHash(num_perm=self.num_perm, seed=self.seed).permutations.astype(np.uint32)
        self.bands_, self.rows_per_band_ = lsh.b, lsh.r
        self._seen = [[] for _ in range(self.bands_)]  # per band: sorted int64 runs of the keys seen
        self.n_seen_ = 0
        self.n_removed_ = 0

    def signatures(self, texts) -> np.ndarray:
        """MinHash signatures (len(texts), num_perm) uint64 of the texts' shingle sets.

        The values of ``datasketch.MinHash(num_perm, seed=seed, hashfunc=zlib.crc32)``
        (its default "affine32" scheme) after ``update_batch`` of the shingles,
        computed for a whole batch at once (one MinHash object per text costs ~20x more).
        """
        a, b = self._permutations
        out = np.full((len(texts), self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        for start in range(0, len(texts), _SIGNATURE_ROWS):
            sets = [shingles(t) for t in texts[start:start + _SIGNATURE_ROWS]]
            sizes = np.fromiter((len(x) for x in sets), dtype=np.int64, count=len(sets))
            hv = np.fromiter((zlib.crc32(x.encode("utf-8")) for group in sets for x in group), dtype=np.uint32,
                             count=int(sizes.sum()))
            phv = _fmix32(hv)[:, None] * a + b  # uint32 arithmetic wraps: the affine map mod 2**32
            firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            out[start:start + len(sets)] = np.minimum.reduceat(phv, firsts, axis=0)
        return out

    def band_hashes(self, texts) -> np.ndarray:
        """The (len(texts), bands) int64 band hashes of ``texts``: one 64-bit polynomial hash per band."""
        sig = self.signatures(list(texts))[:, :self.bands_ * self.rows_per_band_]
        sig = sig.reshape(len(sig), self.bands_, self.rows_per_band_)
        h = np.zeros(sig.shape[:2], dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(self.rows_per_band_):
                h = h * np.uint64(1_000_003) + sig[:, :, j]
        return h.view(np.int64)

    def add(self, texts) -> np.ndarray:
        """Keep mask (bool, len(texts)) of the next batch: False for a near-duplicate of an earlier row."""
        keys = self.band_hashes(list(texts))
        dup = np.zeros(len(keys), dtype=bool)
        for band in range(self.bands_):
            column = keys[:, band]
            # an earlier row of this batch with the same key: every occurrence after the first
            _, first = np.unique(column, return_index=True)
            repeat = np.ones(len(column), dtype=bool)
            repeat[first] = False
            dup |= repeat
            for run in self._seen[band]:  # rows of earlier batches
                at = np.minimum(np.searchsorted(run, column), len(run) - 1)
                dup |= run[at] == column
            self._remember(band, np.unique(column))
        self.n_seen_ += len(dup)
        self.n_removed_ += int(dup.sum())
        return ~dup

    def _remember(self, band: int, keys: np.ndarray) -> None:
        """Add sorted ``keys`` to the band's sorted runs, merging runs of similar size (a log-structured set:
        O(log n) runs of 8 bytes a key, instead of a Python set's ~60)."""
        runs = self._seen[band]
        runs.append(keys)
        while len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1]):
            top = runs.pop()
            runs[-1] = np.union1d(runs[-1], top)


def near_duplicate_mask(texts, threshold: float = 0.8, *, num_perm: int = 128, seed: int = 0) -> np.ndarray:
    """Keep mask of ``texts``: False for each near-duplicate of an earlier text (see :class:`MinHashDeduplicator`)."""
    return MinHashDeduplicator(threshold, num_perm=num_perm, seed=seed).add(texts)
