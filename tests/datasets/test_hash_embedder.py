"""The hashing embedder fitted once: every chunk it embeds lands in the same space."""

import numpy as np

from diversa.datasets.synthtext import HashEmbedder, hash_embed, make_multidomain_text, texts


def test_the_same_text_gets_the_same_vector_in_any_chunk():
    corpus = texts(make_multidomain_text(300, seed=0))
    model = HashEmbedder().fit(corpus)
    first, second = model.transform(corpus[:150]), model.transform(corpus[150:] + corpus[:1])
    np.testing.assert_array_equal(first[0], second[-1])
    # Refitting per chunk, as hash_embed does, puts the same text in unrelated spaces.
    refit = hash_embed(corpus[150:] + corpus[:1])[-1]
    assert float(first[0] @ refit) < 0.5


def test_fitted_on_all_texts_it_matches_hash_embed():
    corpus = texts(make_multidomain_text(200, seed=1))
    np.testing.assert_allclose(HashEmbedder().fit(corpus).transform(corpus), hash_embed(corpus), atol=1e-5)


def test_a_sample_bounds_the_fit_and_depends_on_the_seed():
    corpus = texts(make_multidomain_text(300, seed=2))
    a = HashEmbedder(max_fit_texts=100, random_state=0).fit(corpus).transform(corpus[:5])
    b = HashEmbedder(max_fit_texts=100, random_state=0).fit(corpus).transform(corpus[:5])
    c = HashEmbedder(max_fit_texts=100, random_state=1).fit(corpus).transform(corpus[:5])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
