"""Candidate-pool testbed: queries x sampled candidates with known quality, plus simulated verifiers.

Shared testbed of spec ``ensemble.md`` section 0.3, used by the small-scale reproductions of

* Saad-Falcon et al., "Shrinking the Generation-Verification Gap with Weak Verifiers"
  (Weaver), arXiv:2506.18203 -- verifier aggregation;
* Khairi et al., "When Life Gives You Samples: The Benefits of Scaling up Inference Compute for
  Multilingual LLMs", arXiv:2506.20544 -- sampling and selection.

A *query* ``i`` has ``K`` hidden answer modes with embeddings ``E_ik`` and qualities ``q_ik``; a
*generator* with a language-dependent skill samples candidates from ``softmax(l_i / tau)``;
verifiers, reward models and judges are noisy functions of each candidate's known quality, so
every selector can be compared with the oracle (pass@N).

Generative story (all draws from one ``np.random.Generator``): difficulty ``delta_i ~ Beta(2, 2)``,
query embedding ``x_i ~ N(0, I_d)``; mode 0 is ``normalize(A x_i)`` for one fixed random
``A ~ N(0, I/d)`` per testbed seed (so a model that sees ``(x_i, r_ij)`` can learn which mode is
correct), other modes ``normalize(N(0, I_d))``. Generator logits
``l_ik = 3 skill (1 - delta_i) q_ik + sqrt(rho) g_shared + sqrt(1 - rho) g_L``. A sampled candidate
picks mode ``k ~ softmax(l_i / tau)``, degenerates with probability
``min(1, deg_rate max(0, tau - deg_onset))`` and carries surface noise
``s ~ N(0, (surface_noise tau)^2 I_d)``; greedy candidates take the argmax mode, no noise.

Verifier simulator: latent ``z_ijv = a_v (2 q_ij - 1) + u_iv + e_ijv`` with a per-(query,
verifier) offset ``u_iv ~ N(0, query_noise^2)`` and ``e ~ N(0, 1)``, emitted as binary votes,
affine rewards, exponentiated rewards, Likert ratings (1..10), an "always yes" degenerate
verifier, or an adversarial binary verifier.

Additions beyond the spec's field list (documented): :class:`CandidatePool` also stores
``mode_emb`` (Q, K, d) so that :func:`sample_more` can draw further candidates of the same queries,
and ``task`` / ``surface_noise``. For the single-language :func:`make_candidate_pools` the logit
noise uses ``rho = 0.5`` as in :func:`make_multilingual_pools` (same distribution as one standard
normal draw).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = [
    "DEFAULT_VERIFIERS",
    "LANGUAGES",
    "WEAK_VERIFIERS",
    "CandidatePool",
    "SimulatedJudge",
    "SimulatedRewardModel",
    "make_candidate_pools",
    "make_multilingual_pools",
    "sample_more",
    "simulate_verifiers",
]

LANGUAGES: dict[str, dict[str, float]] = {
    "en": {"skill": 1.0, "deg_rate": 0.4, "deg_onset": 0.9, "rm_noise": 0.15, "judge_noise": 0.5, "flip": 0.10},
    "xx": {"skill": 0.7, "deg_rate": 0.8, "deg_onset": 0.5, "rm_noise": 0.35, "judge_noise": 0.9, "flip": 0.20},
    "zz": {"skill": 0.9, "deg_rate": 0.5, "deg_onset": 0.8, "rm_noise": 0.20, "judge_noise": 0.6, "flip": 0.12},
}
_PROFILE_KEYS = ("skill", "deg_rate", "deg_onset", "rm_noise", "judge_noise", "flip")

#: The 12 verifiers of the spec's Weaver testbed: few strong, many weak, mixed formats. Within a
#: query the per-query offsets cancel, so the strong continuous ones (a >= 1) rank candidates
#: almost perfectly: the best of them selects within 1-2 points of pass@N.
DEFAULT_VERIFIERS: tuple[dict, ...] = (
    {"name": "binary_strong", "kind": "binary", "a": 1.2},
    {"name": "likert_strong", "kind": "likert", "a": 1.0},
    {"name": "reward_exp_strong", "kind": "reward_exp", "a": 1.5, "c": 1.5},
    {"name": "binary_weak_1", "kind": "binary", "a": 0.3},
    {"name": "binary_weak_2", "kind": "binary", "a": 0.25},
    {"name": "reward_weak_1", "kind": "reward", "a": 0.2, "c": 3.0, "o": -4.0},
    {"name": "reward_weak_2", "kind": "reward", "a": 0.15},
    {"name": "likert_weak", "kind": "likert", "a": 0.2},
    {"name": "reward_exp_weak", "kind": "reward_exp", "a": 0.3},
    {"name": "always_yes", "kind": "always_yes"},
    {"name": "binary_weak_3", "kind": "binary", "a": 0.2},
    {"name": "reward_weak_3", "kind": "reward", "a": 0.1},
)

#: The same 12 verifiers with the three strong ones at half strength: every verifier is weak and
#: the best single one selects clearly below pass@N (about 11 points at N = 10 on the simple
#: generator), the regime Weaver is for (verifiers of uneven, modest quality; a gap to close).
WEAK_VERIFIERS: tuple[dict, ...] = tuple(
    {**spec, "a": spec["a"] / 2} if spec["name"].endswith("_strong") else dict(spec) for spec in DEFAULT_VERIFIERS)

_KINDS = ("binary", "reward", "reward_exp", "likert", "always_yes", "adversarial")


@dataclass(frozen=True)
class CandidatePool:
    """N candidates for each of Q queries with known quality (all arrays indexed ``[query, cand]``)."""

    quality: np.ndarray       # (Q, N) float in [0, 1]
    correct: np.ndarray       # (Q, N) bool
    answers: np.ndarray       # (Q, N) int, -1 = no answer (degenerate)
    resp_emb: np.ndarray      # (Q, N, d) unit vectors
    query_emb: np.ndarray     # (Q, d)
    modes: np.ndarray         # (Q, N) int mode index (-1 when degenerate)
    is_greedy: np.ndarray     # (Q, N) bool
    degenerate: np.ndarray    # (Q, N) bool
    temperature: np.ndarray   # (Q, N) float
    difficulty: np.ndarray    # (Q,)
    mode_quality: np.ndarray  # (Q, K)
    logits: np.ndarray        # (Q, K)
    language: str
    mode_emb: np.ndarray      # (Q, K, d)
    task: str = "verifiable"
    surface_noise: float = 0.3

    @property
    def n_queries(self) -> int:
        return int(self.quality.shape[0])

    @property
    def n_candidates(self) -> int:
        return int(self.quality.shape[1])

    def oracle(self) -> float:
        """pass@N: mean over queries of the best candidate's quality."""
        return float(np.mean(self.quality.max(axis=1)))

    def first_sample(self) -> float:
        """Mean quality of candidate 0 (pass@1)."""
        return float(np.mean(self.quality[:, 0]))


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.default_rng(random_state)
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}.")


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _profile(language) -> tuple[str, dict[str, float]]:
    if isinstance(language, str):
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {sorted(LANGUAGES)} or a profile dict, got {language!r}.")
        return language, dict(LANGUAGES[language])
    if isinstance(language, Mapping):
        missing = [k for k in _PROFILE_KEYS if k not in language]
        if missing:
            raise ValueError(f"language profile is missing keys {missing}.")
        return str(language.get("name", "custom")), {k: float(language[k]) for k in _PROFILE_KEYS}
    raise TypeError(f"language must be a str or a dict, got {type(language).__name__}.")


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _temperatures(temperature, n: int) -> np.ndarray:
    taus = np.asarray(temperature, dtype=float)
    if taus.ndim == 0:
        taus = np.full(n, float(taus))
    if taus.shape != (n,):
        raise ValueError(f"temperature must be a scalar or have length n_candidates={n}, got shape {taus.shape}.")
    if not np.all(np.isfinite(taus)) or np.any(taus < 0):
        raise ValueError("temperature must be finite and >= 0.")
    return taus


def _draw_latents(n_queries, n_modes, dim, task, rng) -> dict:
    delta = rng.beta(2.0, 2.0, size=n_queries)
    x = rng.standard_normal((n_queries, dim))
    A = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    E = np.empty((n_queries, n_modes, dim))
    E[:, 0] = _normalize(x @ A.T)
    E[:, 1:] = _normalize(rng.standard_normal((n_queries, n_modes - 1, dim)))
    if task == "verifiable":
        qk = np.zeros((n_queries, n_modes))
        qk[:, 0] = 1.0
    else:
        qk = -np.sort(-rng.beta(2.0, 2.0, size=(n_queries, n_modes)), axis=1)
    g_shared = rng.standard_normal((n_queries, n_modes))
    return {"difficulty": delta, "query_emb": x, "mode_emb": E, "mode_quality": qk, "g_shared": g_shared}


def _sample(logits, E, qk, taus, hedged, prof, task, surface_noise, rng):
    Q, K, d = E.shape
    N = taus.shape[0]
    greedy = np.broadcast_to((taus == 0), (Q, N)).copy()
    if hedged:
        greedy[:, 0] = True
    safe_tau = np.where(taus > 0, taus, 1.0)
    gumbel = rng.gumbel(size=(Q, N, K))
    sampled = np.argmax(logits[:, None, :] / safe_tau[None, :, None] + gumbel, axis=2)
    modes = np.where(greedy, np.argmax(logits, axis=1)[:, None], sampled)
    p_deg = np.minimum(1.0, prof["deg_rate"] * np.maximum(0.0, taus - prof["deg_onset"]))
    degenerate = (rng.random((Q, N)) < p_deg[None, :]) & ~greedy
    s = rng.standard_normal((Q, N, d)) * (surface_noise * taus)[None, :, None]
    s[greedy] = 0.0
    emb = _normalize(np.take_along_axis(E, modes[:, :, None], axis=1) + s)
    junk = _normalize(rng.standard_normal((Q, N, d)))
    emb = np.where(degenerate[:, :, None], junk, emb)
    qmode = np.take_along_axis(qk, modes, axis=1)
    if task == "verifiable":
        quality = ((modes == 0) & ~degenerate).astype(float)
        correct = quality == 1.0
    else:
        quality = np.where(degenerate, 0.0, qmode * np.exp(-np.sum(s ** 2, axis=2) / d))
        correct = quality >= 0.5
    answers = np.where(degenerate, -1, modes)
    temperature = np.broadcast_to(np.where(greedy, 0.0, taus[None, :]), (Q, N)).copy()
    return {"quality": quality, "correct": correct, "answers": answers, "resp_emb": emb,
                "modes": np.where(degenerate, -1, modes), "is_greedy": greedy, "degenerate": degenerate,
                "temperature": temperature}


def make_candidate_pools(n_queries: int = 300, n_candidates: int = 10, task: str = "verifiable",
                         n_modes: int = 6, dim: int = 16, language="en", temperature=0.7,
                         hedged: bool = False, surface_noise: float = 0.3, share_latents: dict | None = None,
                         generator: str = "latent", p_correct_beta=(1.2, 1.5),
                         distractor_concentration: float = 0.5, random_state=0) -> CandidatePool:
    """Draw ``n_queries`` queries and ``n_candidates`` candidates each (section 0.3 of the spec).

    ``temperature`` is a scalar or one value per candidate (mixtures); ``tau = 0`` is greedy and
    ``hedged=True`` makes candidate 0 greedy. ``share_latents`` (used by
    :func:`make_multilingual_pools`) is a dict of query latents (``difficulty``, ``query_emb``,
    ``mode_emb``, ``mode_quality``, ``g_shared`` and ``belief_correlation``) to reuse.
    ``generator="simple"`` (verifiable only): per-query ``P(correct) ~ Beta(*p_correct_beta)``,
    wrong candidates pick a distractor from a per-query ``Dirichlet(distractor_concentration)``;
    tau = 0.7 surface noise, no degeneration, no greedy candidate.
    """
    n_queries = _check_int(n_queries, "n_queries", 1)
    n_candidates = _check_int(n_candidates, "n_candidates", 1)
    n_modes = _check_int(n_modes, "n_modes", 2)
    dim = _check_int(dim, "dim", 2)
    if task not in ("verifiable", "open"):
        raise ValueError(f"task must be 'verifiable' or 'open', got {task!r}.")
    if generator not in ("latent", "simple"):
        raise ValueError(f"generator must be 'latent' or 'simple', got {generator!r}.")
    if generator == "simple" and task != "verifiable":
        raise ValueError("generator='simple' requires task='verifiable'.")
    if not np.isfinite(surface_noise) or surface_noise < 0:
        raise ValueError(f"surface_noise must be >= 0, got {surface_noise}.")
    name, prof = _profile(language)
    rng = _rng(random_state)
    lat = share_latents if share_latents is not None else _draw_latents(n_queries, n_modes, dim, task, rng)
    E, qk = lat["mode_emb"], lat["mode_quality"]
    if E.shape != (n_queries, n_modes, dim):
        raise ValueError(f"share_latents['mode_emb'] must have shape {(n_queries, n_modes, dim)}, got {E.shape}.")

    if generator == "simple":
        a, b = p_correct_beta
        if a <= 0 or b <= 0:
            raise ValueError(f"p_correct_beta must be positive, got {p_correct_beta}.")
        if distractor_concentration <= 0:
            raise ValueError(f"distractor_concentration must be > 0, got {distractor_concentration}.")
        p = rng.beta(a, b, size=n_queries)
        dist = rng.dirichlet(np.full(n_modes - 1, distractor_concentration), size=n_queries)
        probs = np.concatenate([p[:, None], (1 - p)[:, None] * dist], axis=1)
        logits = np.log(np.clip(probs, 1e-12, 1.0))
        cum = np.cumsum(probs, axis=1)
        u = rng.random((n_queries, n_candidates, 1))
        modes = np.minimum((u > cum[:, None, :]).sum(axis=2), n_modes - 1)
        tau = 0.7
        s = rng.standard_normal((n_queries, n_candidates, dim)) * surface_noise * tau
        emb = _normalize(np.take_along_axis(E, modes[:, :, None], axis=1) + s)
        quality = (modes == 0).astype(float)
        out = {"quality": quality, "correct": quality == 1.0, "answers": modes, "resp_emb": emb, "modes": modes,
                   "is_greedy": np.zeros_like(quality, dtype=bool), "degenerate": np.zeros_like(quality, dtype=bool),
                   "temperature": np.full(quality.shape, tau)}
    else:
        rho = float(lat.get("belief_correlation", 0.5))
        g_lang = rng.standard_normal((n_queries, n_modes))
        eps = np.sqrt(rho) * lat["g_shared"] + np.sqrt(1.0 - rho) * g_lang
        logits = 3.0 * prof["skill"] * (1.0 - lat["difficulty"])[:, None] * qk + eps
        taus = _temperatures(temperature, n_candidates)
        out = _sample(logits, E, qk, taus, hedged, prof, task, surface_noise, rng)
    return CandidatePool(difficulty=lat["difficulty"], mode_quality=qk, logits=logits, language=name,
                         query_emb=lat["query_emb"], mode_emb=E, task=task,
                         surface_noise=float(surface_noise), **out)


def make_multilingual_pools(languages: Sequence[str] = ("en", "xx", "zz"), belief_correlation: float = 0.5,
                            **kw) -> dict[str, CandidatePool]:
    """Pools for several languages over the same queries, modes and qualities.

    The generator's logit noise is ``sqrt(rho) g_shared + sqrt(1 - rho) g_L`` with
    ``rho = belief_correlation``, so languages share part of their beliefs.
    """
    if not 0 <= belief_correlation <= 1:
        raise ValueError(f"belief_correlation must lie in [0, 1], got {belief_correlation}.")
    if len(languages) == 0:
        raise ValueError("languages must not be empty.")
    if kw.get("generator", "latent") != "latent":
        raise ValueError("make_multilingual_pools requires generator='latent'.")
    rng = _rng(kw.pop("random_state", 0))
    lat = _draw_latents(_check_int(kw.get("n_queries", 300), "n_queries", 1), _check_int(kw.get("n_modes", 6), "n_modes", 2),
                        _check_int(kw.get("dim", 16), "dim", 2), kw.get("task", "verifiable"), rng)
    lat["belief_correlation"] = float(belief_correlation)
    return {lang: make_candidate_pools(language=lang, share_latents=lat, random_state=rng, **kw)
            for lang in languages}


def sample_more(pool: CandidatePool, n: int, temperature, hedged: bool = False, language=None,
                random_state=None) -> CandidatePool:
    """Draw ``n`` fresh candidates for the queries of ``pool`` from the same generator logits."""
    if not isinstance(pool, CandidatePool):
        raise TypeError(f"pool must be a CandidatePool, got {type(pool).__name__}.")
    n = _check_int(n, "n", 1)
    name, prof = _profile(pool.language if language is None else language)
    if language is None and pool.language not in LANGUAGES:
        raise ValueError("pool has a custom language profile: pass language= explicitly.")
    rng = _rng(random_state)
    out = _sample(pool.logits, pool.mode_emb, pool.mode_quality, _temperatures(temperature, n), hedged,
                  prof, pool.task, pool.surface_noise, rng)
    return replace(pool, language=name, **out)


def simulate_verifiers(pool: CandidatePool, specs: Sequence[Mapping] = DEFAULT_VERIFIERS,
                       query_noise: float = 0.7, random_state=0) -> tuple[np.ndarray, list[dict]]:
    """Scores ``(Q, N, V)`` of simulated verifiers and their true AUC / TPR / TNR.

    TPR and TNR are those of the binary event ``z > 0`` (for "binary" and "adversarial" exactly the
    emitted vote; for "always_yes" the emitted vote), measured against ``pool.correct``.
    """
    if not isinstance(pool, CandidatePool):
        raise TypeError(f"pool must be a CandidatePool, got {type(pool).__name__}.")
    if len(specs) == 0:
        raise ValueError("specs must contain at least one verifier.")
    if query_noise < 0:
        raise ValueError(f"query_noise must be >= 0, got {query_noise}.")
    rng = _rng(random_state)
    Q, N = pool.quality.shape
    scores = np.empty((Q, N, len(specs)))
    info = []
    y = pool.correct.ravel()
    for v, spec in enumerate(specs):
        kind = spec.get("kind")
        if kind not in _KINDS:
            raise ValueError(f"specs[{v}]['kind'] must be one of {_KINDS}, got {kind!r}.")
        a = float(spec.get("a", 1.0))
        if kind == "adversarial":
            a = -abs(a)
        c, o = float(spec.get("c", 1.0)), float(spec.get("o", 0.0))
        u = rng.normal(0.0, query_noise, size=(Q, 1))
        z = a * (2.0 * pool.quality - 1.0) + u + rng.standard_normal((Q, N))
        if kind in ("binary", "adversarial"):
            s = (z > 0).astype(float)
            vote = s
        elif kind == "reward":
            s, vote = c * z + o, z > 0
        elif kind == "reward_exp":
            s, vote = np.exp(c * z), z > 0
        elif kind == "likert":
            s, vote = np.clip(np.round(5.5 + 1.5 * z), 1, 10), z > 0
        else:  # always_yes
            s = (rng.random((Q, N)) < 0.97).astype(float)
            vote = s
        scores[:, :, v] = s
        vote = np.asarray(vote, dtype=bool).ravel()
        both = 0 < y.sum() < y.size
        info.append({"name": str(spec.get("name", f"v{v}")), "kind": kind,
                         "auc_true": float(roc_auc_score(y, s.ravel())) if both else float("nan"),
                         "tpr": float(vote[y].mean()) if y.any() else float("nan"),
                         "tnr": float((~vote[~y]).mean()) if (~y).any() else float("nan")})
    return scores, info


def _noise_of(language_noise, language: str, key: str) -> float:
    val = language_noise.get(language)
    if val is None:
        raise ValueError(f"language_noise has no entry for language {language!r}.")
    return float(val[key]) if isinstance(val, Mapping) else float(val)


class SimulatedRewardModel:
    """Reward model ``RM_ij = q_ij + bias + N(0, rm_noise_L^2)``; one call per candidate.

    ``language_noise`` maps a language to its noise sd or to a profile dict with ``rm_noise``
    (default :data:`LANGUAGES`).
    """

    def __init__(self, language_noise=None, bias: float = 0.0, random_state=None):
        self.language_noise = LANGUAGES if language_noise is None else language_noise
        self.bias = float(bias)
        self._rng = _rng(random_state)
        self.n_calls = 0

    def score(self, pool: CandidatePool) -> np.ndarray:
        sd = _noise_of(self.language_noise, pool.language, "rm_noise")
        self.n_calls += pool.quality.size
        return pool.quality + self.bias + self._rng.normal(0.0, sd, size=pool.quality.shape)

    def reset(self) -> None:
        self.n_calls = 0


class SimulatedJudge:
    """LLM-judge simulator (pairwise, pointwise, reference-based and checklist judgements).

    Every public judgement increments ``n_calls`` (one call each). ``language_noise`` maps a
    language to a profile dict (``judge_noise`` and ``flip``) or to a judge-noise sd (then ``flip``
    defaults to 0.1).
    """

    def __init__(self, language_noise=None, temperature: float = 0.25, calibration_sd: float = 0.3,
                 random_state=None):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}.")
        self.language_noise = LANGUAGES if language_noise is None else language_noise
        self.temperature = float(temperature)
        self.calibration_sd = float(calibration_sd)
        self._seed = int(_rng(random_state).integers(2 ** 31))
        self._rng = np.random.default_rng(self._seed)
        self.n_calls = 0

    def reset(self) -> None:
        self.n_calls = 0

    def _jn(self, pool):
        return _noise_of(self.language_noise, pool.language, "judge_noise")

    def _flip(self, pool):
        val = self.language_noise.get(pool.language)
        return float(val["flip"]) if isinstance(val, Mapping) else 0.1

    def pairwise(self, pool: CandidatePool, i: int, a: int, b: int) -> float:
        """P(candidate a better than b) = sigmoid((q_a - q_b) / T + N(0, judge_noise^2))."""
        self.n_calls += 1
        z = (pool.quality[i, a] - pool.quality[i, b]) / self.temperature + self._rng.normal(0.0, self._jn(pool))
        return float(1.0 / (1.0 + np.exp(-z)))

    def pointwise(self, pool: CandidatePool, i: int, a: int) -> float:
        """Independent rating ``q_a + c_call + N(0, (judge_noise/4)^2)`` with a fresh call offset."""
        self.n_calls += 1
        return float(pool.quality[i, a] + self._rng.normal(0.0, self.calibration_sd)
                     + self._rng.normal(0.0, self._jn(pool) / 4.0))

    def reference_utility(self, pool_h: CandidatePool, i: int, a: int, pool_e: CandidatePool, j: int) -> float:
        """Utility of hypothesis ``a`` judged against pseudo-reference ``j`` (possibly another language)."""
        self.n_calls += 1
        if pool_h.degenerate[i, a]:
            return 0.0
        cos = float(pool_h.resp_emb[i, a] @ pool_e.resp_emb[i, j])
        u = 0.5 * (1.0 + cos) / 2.0 + 0.5 * (pool_h.quality[i, a] + self._rng.normal(0.0, self._jn(pool_h) / 2.0))
        if pool_h.language != pool_e.language:
            u += self._rng.normal(0.0, 0.05)
        return float(u)

    def checklist_one_pass(self, pool: CandidatePool, i: int, n_items: int = 5) -> np.ndarray:
        """CHOPs judge: one call scores all N candidates on a query-specific binary checklist."""
        n_items = _check_int(n_items, "n_items", 1)
        self.n_calls += 1
        N = pool.n_candidates
        key = hashlib.sha256(f"{self._seed}|{pool.language}|{i}".encode()).digest()
        fixed = np.random.default_rng(int.from_bytes(key[:8], "little"))
        satisfied = fixed.random((N, n_items)) < pool.quality[i][:, None]
        flips = self._rng.random((N, n_items)) < self._flip(pool)
        score = np.where(flips, ~satisfied, satisfied).mean(axis=1) + self._rng.normal(0.0, 0.1)
        best = np.flatnonzero(score == score.max())
        if best.size > 1:  # within-context pairwise tie-break (same call)
            qb = pool.quality[i, best] / self.temperature + self._rng.normal(0.0, self._jn(pool), size=best.size)
            score = score.copy()
            score[best[np.argmax(qb)]] += 1e-6
        return score
