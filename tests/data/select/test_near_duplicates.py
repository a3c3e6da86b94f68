"""MinHash LSH near-duplicate removal against a brute-force Jaccard on the same shingles."""

import numpy as np
import pytest

from diversa.data.select.dedup import MinHashDeduplicator, jaccard, near_duplicate_mask, shingles

pytest.importorskip("datasketch")

BASE = [
    "the striker scored a late goal after a long pass from the midfield in heavy rain",
    "simmer the broth with garlic ginger and a little soy sauce for twenty minutes",
    "the central bank raised interest rates to slow inflation in the housing market",
    "a cold front brings thunderstorms and strong winds to the coast on friday night",
    "the patient was given antibiotics for the infection and recovered within a week",
    "compile the kernel module with debug symbols before loading it on the test server",
]


def _corpus():
    texts = list(BASE)
    texts.append(BASE[0])                                     # exact duplicate
    texts.append(BASE[1].replace("twenty", "thirty"))         # one word changed
    texts.append(BASE[2].replace("raised", "lifted").replace("slow", "curb"))  # two words changed
    texts.append("  " + BASE[3].upper() + " ")                # case and spacing only
    return texts


def test_duplicates_and_near_duplicates_go_and_distinct_texts_stay():
    keep = near_duplicate_mask(_corpus(), 0.6, seed=0)
    # fails if a distinct text is dropped or a (near-)duplicate, later copy survives
    assert keep.tolist() == [True] * 6 + [False] * 4


def test_lsh_agrees_with_brute_force_jaccard_on_the_shingles():
    texts = _corpus() + [b.replace("the ", "a ", 1) + " today" for b in BASE[3:]]
    sets = [shingles(t) for t in texts]
    brute = np.ones(len(texts), dtype=bool)
    for i in range(len(texts)):
        brute[i] = not any(jaccard(sets[i], sets[j]) >= 0.6 for j in range(i))
    keep = near_duplicate_mask(texts, 0.6, seed=0)
    assert keep.tolist() == brute.tolist()


def test_batches_and_seed_give_the_same_mask():
    texts = _corpus()
    dedup = MinHashDeduplicator(0.6, seed=1)
    batched = np.concatenate([dedup.add(texts[:4]), dedup.add(texts[4:])])
    assert batched.tolist() == near_duplicate_mask(texts, 0.6, seed=1).tolist()
    assert dedup.n_seen_ == 10 and dedup.n_removed_ == 4


@pytest.mark.parametrize("bad", [0, 1, 1.5, "0.8", True])
def test_threshold_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="threshold"):
        MinHashDeduplicator(bad)


def test_batched_signatures_equal_datasketch_minhash():
    import zlib

    from datasketch import MinHash

    texts = _corpus()
    ours = MinHashDeduplicator(0.8, num_perm=64, seed=3).signatures(texts)
    for text, row in zip(texts, ours):
        anchor = MinHash(num_perm=64, seed=3, hashfunc=zlib.crc32)
        anchor.update_batch([s.encode("utf-8") for s in shingles(text)])
        # fails if the shingle hashing, the permutations or the min-reduction differ from datasketch's
        assert np.array_equal(anchor.hashvalues, row)


def test_many_small_batches_equal_one_batch():
    from diversa.datasets.synthtext import make_multidomain_text, texts

    pool = texts(make_multidomain_text(600, seed=0))  # SynthText-MD has heavy-tailed (near-)duplicates
    whole = near_duplicate_mask(pool, 0.8, seed=2)
    dedup = MinHashDeduplicator(0.8, seed=2)
    # fails if the merged runs of seen band hashes lose or invent a key
    batched = np.concatenate([dedup.add(pool[i:i + 37]) for i in range(0, len(pool), 37)])
    assert batched.tolist() == whole.tolist() and 0 < (~whole).sum() < len(pool)
