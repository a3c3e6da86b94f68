import numpy as np
import pytest

from diversa.datasets import synthtext as st


@pytest.fixture(autouse=True)
def _hash_embedder(monkeypatch, tmp_path):
    monkeypatch.setenv("DIVERSA_EMBEDDER", "hash")


@pytest.fixture(scope="module")
def pool():
    return st.make_multidomain_text(600, seed=3)


def test_vocabulary_is_exact_and_stable():
    assert len(st.VOCAB) == 189 and len(set(st.VOCAB)) == 189
    assert st.VOCAB[:4] == ("<pad>", "<bos>", "<sep>", "<eos>")
    assert st.VOCAB[4] == "the" and st.VOCAB[19] == "from"
    assert st.VOCAB[20:26] == ("red", "crimson", "green", "olive", "blue", "navy")
    assert st.VOCAB[26] == "goal" and st.VOCAB[169] == "code" and st.VOCAB[170] == "topic" and st.VOCAB[-1] == "networking"


def test_generator_is_deterministic_and_has_the_requested_structure(pool):
    again = st.make_multidomain_text(600, seed=3)
    assert [d.tokens for d in pool] == [d.tokens for d in again]
    assert [d.tokens for d in pool] != [d.tokens for d in st.make_multidomain_text(600, seed=4)]
    assert len(pool) == 600
    assert sum(d.is_dup for d in pool) == 600 - round(600 * 0.7)
    assert all(12 <= len(d.tokens) <= 20 for d in pool)
    uniq = {d.dup_group: d for d in pool if not d.is_dup}
    for d in pool:
        if d.is_dup:  # a copy differs from its source in at most one position, keeps the metadata
            src = uniq[d.dup_group]
            assert sum(a != b for a, b in zip(d.tokens, src.tokens)) <= 1
            assert (d.y, d.domain, d.is_junk) == (src.y, src.domain, src.is_junk)
    for d in pool:
        assert d.subtopic_name == st.SUBTOPICS[d.domain][d.y]
        assert d.is_noisy == (not d.is_junk and d.y != d.y_true)
    junk = np.mean([d.is_junk for d in pool])
    assert 0.07 < junk < 0.25


def test_clean_docs_carry_their_class_cues_and_the_flip_domain_conflicts():
    docs = st.make_multidomain_text(1500, junk_rate=0.0, label_noise=0.0, dup_rate=0.0, seed=1)
    for d in docs:
        assert d.y == d.y_true and not d.is_junk and not d.is_noisy
    agree = {True: [], False: []}
    for d in docs:
        bridges = [c for c, pair in enumerate(st.BRIDGE) for w in d.tokens if w in pair]
        agree[d.domain == 5] += [c == d.y_true for c in bridges]
    assert np.mean(agree[False]) == 1.0 and np.mean(agree[True]) == 0.0


def test_eval_set_is_clean_and_uses_all_domains():
    ev = st.make_eval_set(50, seed=10_000)
    assert len(ev) == 300 and not any(d.is_junk or d.is_noisy or d.is_dup for d in ev)
    counts = np.bincount([d.domain for d in ev], minlength=6)
    assert counts.min() > 25


def test_views_have_the_documented_shapes(pool):
    docs = pool[:20]
    assert st.texts(docs)[0] == " ".join(docs[0].tokens)
    ids = st.token_ids(docs)
    assert ids.shape == (20, 24) and ids.dtype == np.int64
    assert [st.VOCAB[i] for i in ids[0] if i] == docs[0].tokens[:24]
    b = st.bow(docs)
    assert b.shape == (20, 189) and b.dtype == np.float32 and np.allclose(b.sum(axis=1), 1.0)
    seqs = st.lm_sequences(docs)
    assert seqs.ids.shape == (20, 32) and np.all(seqs.loss_mask.sum(axis=1) == 7)
    first = [st.VOCAB[i] for i in seqs.ids[0][seqs.loss_mask[0]]]
    assert first[0] == "topic" and first[1] == docs[0].subtopic_name and first[-1] == "<eos>"
    pre = st.lm_sequences(docs, answer=False)
    assert np.array_equal(pre.loss_mask.sum(axis=1), [len(d.tokens) + 1 for d in docs])
    corrupted = st.lm_sequences(docs, token_corruption=1.0)
    assert np.all((corrupted.corrupt_pos >= 0) & (corrupted.corrupt_pos < 4))


def test_hash_embedding_and_quality_signals_separate_junk(pool):
    emb = st.embed(st.texts(pool))
    assert emb.shape == (600, 128) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    q = st.quality_signals(pool, emb, seed=3)
    assert list(q.columns) == list(st.QUALITY_COLUMNS) and len(q) == 600
    truth = st.ground_truth(pool)
    assert q.purity_est[~truth.is_junk].mean() > q.purity_est[truth.is_junk].mean() + 0.3
    assert q.fluency[~truth.is_junk].mean() > q.fluency[truth.is_junk].mean()
    assert (q.dedup <= 0).all() and q.dedup[truth.is_dup].mean() < q.dedup[~truth.is_dup].mean()


@pytest.mark.parametrize("n, seed", [(600, 3), (1500, 1)])
def test_every_quality_signal_ranks_clean_above_junk(n, seed):
    # edu used to be the share of all cue words, which junk (drawn uniformly from a vocabulary
    # that is ~65% cue words) maximised: clean-vs-junk AUC 0.12.
    from sklearn.metrics import roc_auc_score

    docs = st.make_multidomain_text(n, seed=seed)
    q = st.quality_signals(docs, st.embed(st.texts(docs)), seed=seed)
    clean = ~st.ground_truth(docs).is_junk.to_numpy()
    auc = {c: roc_auc_score(clean, q[c]) for c in st.QUALITY_COLUMNS}
    for column in ("fluency", "clf_clean", "edu", "uniq", "purity_est", "label_margin"):
        assert auc[column] > 0.55, (column, auc)
    assert auc["edu"] > 0.75 and q.edu[clean].mean() > q.edu[~clean].mean() + 0.1
    # junk shares the clean length distribution and duplication rate: these two are junk-neutral
    for column in ("length", "dedup"):
        assert abs(auc[column] - 0.5) < 0.1, (column, auc)


def test_quality_signals_use_one_hash_space_when_minilm_falls_back(monkeypatch):
    # Without the MiniLM package embed() falls back to the hashing embedder, refitted per call;
    # the clean/junk classifier must then be fitted in the pool's own space (AUC was ~0.55).
    from sklearn.metrics import roc_auc_score

    monkeypatch.delenv("DIVERSA_EMBEDDER")
    monkeypatch.setattr(st.importlib.util, "find_spec", lambda name: None)
    docs = st.make_multidomain_text(600, seed=3)
    q = st.quality_signals(docs, st.hash_embed(st.texts(docs)), seed=3)
    assert roc_auc_score(~st.ground_truth(docs).is_junk.to_numpy(), q.clf_clean) > 0.85


def test_bundled_embeddings_match_the_default_texts():
    from diversa.datasets.synthtext import (
        _bundled_embedding,
        default_bundle_texts,
        texts_sha1,
    )

    for text_list in default_bundle_texts().values():
        emb = _bundled_embedding(texts_sha1(text_list))
        assert emb is not None and emb.shape == (len(text_list), 384)
        assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-2)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="purity"):
        st.make_multidomain_text(10, purity=(0.5, 0.5))
    with pytest.raises(ValueError, match="n must"):
        st.make_multidomain_text(0)
    with pytest.raises(ValueError, match="embedder"):
        st.embed(["a"], embedder="bert")
    with pytest.raises(TypeError, match="texts"):
        st.embed([])
    with pytest.raises(ValueError, match="emb"):
        st.quality_signals(st.make_multidomain_text(5), np.zeros((4, 128)))
