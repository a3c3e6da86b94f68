"""Q-Tuning: joint sample and token pruning for supervised fine-tuning, as a per-batch hook.

Wang, Wang, Zhang, Wang, Min, Wen, Ren, Huang, Jiang, Lin, Liu, Zhang,
"Winning the Pruning Gamble: A Unified Approach to Joint Sample and Token
Pruning for Efficient Supervised Fine-Tuning", arXiv:2509.23873 (v2).

At every training step a no-grad forward pass scores each sample of the
mini-batch on the Error-Uncertainty (EU) plane: its perplexity over the
trainable (answer) tokens (error) and its mean predictive entropy
(uncertainty). Quantile thresholds, found by bisection so that the kept
quadrants hold ``floor(r_sample * B)`` samples, split the batch into

* Q1 harmful noise (high PPL, high entropy) -- dropped,
* Q2 valuable misconception (high PPL, low entropy) -- kept, token-pruned,
* Q3 redundant knowledge (low PPL, low entropy) -- dropped,
* Q4 calibration data (low PPL, high entropy) -- kept whole.

Inside Q2 samples the tokens with the highest neighbour-smoothed perplexity
``s_i = (1 - lam) PPL_i + lam (PPL_{i-1} + PPL_{i+1})`` (Eq. 7) are removed,
keeping ``max(1, floor(r_token |T(x)|))`` tokens. The hook returns a new loss
mask (dropped samples all-zero) and the kept rows; the training loop computes
its loss over the kept rows and masked tokens only.

Conventions: ``logits[b, i]`` is the model's prediction of ``targets[b, i]``
(shift before calling, e.g. ``logits[:, :-1]``, ``ids[:, 1:]``,
``mask[:, 1:]``); ``loss_mask[b, i]`` marks trainable targets; prompt tokens
are never scored or pruned. Quantiles use ``numpy.quantile(...,
method="inverted_cdf")`` (the paper's definition). Middle-band samples belong
to no quadrant; like the supplement of Q1/Q3 samples by ``|PPLhat - Enthat|``
(min-max normalised scores) they fill the budget only when the quadrants fall
short (the paper's supplement, extended to the middle band). Supplemented
samples are token-pruned as Q2 when ``PPLhat >= Enthat``, else kept whole.

The equal-compute baselines of the paper's Tables 1-2 share the interface:
:class:`PruningBaseline` keeps samples at random or by highest PPL / entropy
(or all of them) and prunes tokens at random, by Eq. 7 (PPL), or not at all.

Example
-------
>>> import torch
>>> from diversa.data.online.qtuning import QTuning
>>> g = torch.Generator().manual_seed(0)
>>> logits = torch.randn(8, 6, 11, generator=g) * 3
>>> targets = torch.randint(0, 11, (8, 6), generator=g)
>>> mask = torch.zeros(8, 6, dtype=torch.bool); mask[:, 2:] = True
>>> out = QTuning(r_sample=0.5, r_token=0.5).prune(logits, targets, mask)
>>> out.keep_idx.tolist() == sorted(out.keep_idx.tolist()), len(out.keep_idx)
(True, 4)
>>> out.loss_mask.sum(dim=1).tolist()  # dropped rows are empty; Q2 rows keep 2 of 4 tokens
[2, 4, 0, 0, 0, 0, 2, 4]
>>> out.quadrant.tolist()  # samples 0, 3, 6 in Q2, 1 and 7 in Q4; the least extreme (3) is dropped
[2, 4, 0, 2, 0, 0, 2, 4]
>>> bool(out.loss_mask[~mask].any())  # prompt tokens are never enabled
False
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "PruneResult",
    "PruningBaseline",
    "QTuning",
    "bisect_quantile_level",
    "eu_quadrants",
    "prune_tokens",
    "sample_error_uncertainty",
    "smoothed_token_scores",
    "token_error_uncertainty",
]

NONE, Q1, Q2, Q3, Q4 = 0, 1, 2, 3, 4


# ---------------------------------------------------------------- validation

def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in (0, 1], got {type(value).__name__}.")
    value = float(value)
    if not (0.0 < value <= 1.0):  # NaN fails too
        raise ValueError(f"{name} must lie in (0, 1] (1 = no pruning), got {value}.")
    return value


def _check_lam(value) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"lam must lie in [0, 1], got {value}.")
    return value


def _check_batch(logits, targets, loss_mask, need_logits: bool = True):
    if not isinstance(loss_mask, torch.Tensor) or loss_mask.ndim != 2:
        raise ValueError(f"loss_mask must be a (B, N) tensor, got {getattr(loss_mask, 'shape', type(loss_mask))}.")
    mask = loss_mask.bool()
    if mask.shape[0] == 0:
        raise ValueError("loss_mask holds an empty batch (B = 0).")
    if not mask.any():
        raise ValueError("loss_mask has no trainable token in the whole batch: nothing to train on.")
    if not need_logits and logits is None:
        return None, None, mask
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
        raise ValueError(f"logits must be a (B, N, V) tensor, got {getattr(logits, 'shape', type(logits))}.")
    if logits.shape[:2] != mask.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and loss_mask {tuple(mask.shape)} disagree on (B, N).")
    if not isinstance(targets, torch.Tensor) or targets.shape != mask.shape:
        raise ValueError(f"targets must be a (B, N) tensor like loss_mask, got {getattr(targets, 'shape', None)}.")
    if not torch.isfinite(logits[mask]).all():
        raise ValueError("logits contain NaN or inf at trainable positions.")
    return logits.detach().float(), targets.long(), mask


# ---------------------------------------------------------------- scores

@torch.no_grad()
def token_error_uncertainty(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor):
    """Per-token NLL and predictive entropy (nats), (B, N) each, zero where ``loss_mask`` is 0.

    >>> import torch
    >>> nll, ent = token_error_uncertainty(torch.zeros(1, 2, 4), torch.tensor([[0, 1]]),
    ...                                    torch.tensor([[True, False]]))
    >>> round(float(nll[0, 0]), 4), round(float(ent[0, 0]), 4), float(nll[0, 1])
    (1.3863, 1.3863, 0.0)
    """
    logits, targets, mask = _check_batch(logits, targets, loss_mask)
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    ent = -(logp.exp() * logp).sum(-1)
    zero = torch.zeros((), dtype=nll.dtype)
    return torch.where(mask, nll, zero), torch.where(mask, ent, zero)


def sample_error_uncertainty(token_nll: torch.Tensor, token_entropy: torch.Tensor, loss_mask: torch.Tensor):
    """Sample PPL = exp(mean NLL over trainable tokens) and mean entropy, (B,) each; NaN for rows without tokens."""
    mask = loss_mask.bool()
    count = mask.sum(dim=1).double()
    with np.errstate(invalid="ignore"):
        mean_nll = (token_nll.double() * mask).sum(dim=1) / count
        mean_ent = (token_entropy.double() * mask).sum(dim=1) / count
    return torch.exp(mean_nll), mean_ent


# ---------------------------------------------------------------- sample pruning

def eu_quadrants(ppl, ent, alpha: float, beta: float) -> np.ndarray:
    """Quadrant of each sample on the EU plane at quantile levels ``alpha`` (PPL) and ``beta`` (entropy).

    Returns ints: 1 (Q1: PPL >= q_{1-alpha}, Ent >= q_{1-beta}), 2 (Q2: high PPL, Ent <= q_beta),
    3 (Q3: PPL <= q_alpha, low Ent), 4 (Q4: low PPL, high Ent), 0 for the middle bands.

    >>> eu_quadrants([9, 9, 1, 1, 5], [9, 1, 1, 9, 5], 0.2, 0.2).tolist()
    [1, 2, 3, 4, 0]
    """
    ppl, ent = np.asarray(ppl, dtype=float), np.asarray(ent, dtype=float)
    if ppl.shape != ent.shape or ppl.ndim != 1:
        raise ValueError(f"ppl and ent must be 1-d of equal length, got {ppl.shape} and {ent.shape}.")
    if not (np.isfinite(ppl).all() and np.isfinite(ent).all()):
        raise ValueError("ppl and ent must be finite (drop samples without trainable tokens first).")
    for name, level in (("alpha", alpha), ("beta", beta)):
        if not 0.0 <= level <= 0.5:
            raise ValueError(f"{name} must lie in [0, 0.5], got {level}.")
    return _quadrants(ppl, ent, alpha, beta)


def _icdf(sorted_x: np.ndarray, q: float) -> float:
    """``numpy.quantile(x, q, method="inverted_cdf")`` of an already sorted array (the smallest value
    with at least a share q of the sample at or below it)."""
    k = int(math.ceil(len(sorted_x) * q)) - 1
    return sorted_x[min(max(k, 0), len(sorted_x) - 1)]


def _quadrants(ppl: np.ndarray, ent: np.ndarray, alpha: float, beta: float, sorted_pe=None) -> np.ndarray:
    sp, se = sorted_pe if sorted_pe is not None else (np.sort(ppl), np.sort(ent))
    hi_p, lo_p = ppl >= _icdf(sp, 1 - alpha), ppl <= _icdf(sp, alpha)
    hi_e, lo_e = ent >= _icdf(se, 1 - beta), ent <= _icdf(se, beta)
    out = np.zeros(len(ppl), dtype=np.int64)
    out[lo_p & hi_e] = Q4
    out[lo_p & lo_e] = Q3
    out[hi_p & lo_e] = Q2
    out[hi_p & hi_e] = Q1
    return out


def bisect_quantile_level(ppl, ent, r_sample: float, *, max_iter: int = 10, hi: float = 0.49) -> float:
    """The quantile level (alpha = beta) after ``max_iter`` bisection steps towards |Q2 u Q4| = r_sample * B.

    Levels grow (quadrants widen towards the medians) while the kept share
    ``(|Q2| + |Q4|) / B`` is below ``r_sample`` (paper Algorithm 1).
    """
    r_sample = _check_fraction(r_sample, "r_sample")
    ppl, ent = np.asarray(ppl, dtype=float), np.asarray(ent, dtype=float)
    eu_quadrants(ppl, ent, 0.0, 0.0)  # validates the scores once
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}.")
    lo, up = 0.0, float(hi)
    level = (lo + up) / 2
    sorted_pe = (np.sort(ppl), np.sort(ent))
    for _ in range(int(max_iter)):
        level = (lo + up) / 2
        quad = _quadrants(ppl, ent, level, level, sorted_pe)
        if ((quad == Q2) | (quad == Q4)).mean() < r_sample:
            lo = level
        else:
            up = level
    return level


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


# ---------------------------------------------------------------- token pruning

def smoothed_token_scores(token_ppl: torch.Tensor, loss_mask: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """Eq. 7: ``(1 - lam) PPL_i + lam (PPL_{i-1} + PPL_{i+1})`` on trainable positions (inf elsewhere).

    A neighbour that is not trainable (or off the sequence) is replaced by PPL_i.

    >>> import torch
    >>> smoothed_token_scores(torch.tensor([[1., 10., 1.]]), torch.ones(1, 3, dtype=torch.bool)).tolist()
    [[6.0, 6.0, 6.0]]
    """
    lam = _check_lam(lam)
    mask = loss_mask.bool()
    ppl = token_ppl.double()
    prev = torch.cat([ppl[:, :1], ppl[:, :-1]], dim=1)
    prev_ok = torch.cat([torch.zeros_like(mask[:, :1]), mask[:, :-1]], dim=1)
    nxt = torch.cat([ppl[:, 1:], ppl[:, -1:]], dim=1)
    nxt_ok = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
    prev, nxt = torch.where(prev_ok, prev, ppl), torch.where(nxt_ok, nxt, ppl)
    score = (1 - lam) * ppl + lam * (prev + nxt)
    return torch.where(mask, score, torch.full_like(score, math.inf))


def _n_tokens_kept(n: torch.Tensor, r_token: float) -> torch.Tensor:
    kept = torch.floor(n.double() * r_token + 1e-9).long()
    return torch.where(n > 0, kept.clamp_min(1), torch.zeros_like(n))


def prune_tokens(scores: torch.Tensor, loss_mask: torch.Tensor, r_token: float) -> torch.Tensor:
    """Keep the ``max(1, floor(r_token |T(x)|))`` trainable tokens of each row with the LOWEST scores.

    Ties break towards earlier positions. Returns a bool mask (B, N), a subset of ``loss_mask``.

    >>> import torch
    >>> prune_tokens(torch.tensor([[5., 1., 9., 2.]]), torch.tensor([[1, 1, 1, 0]]), 0.7).int().tolist()
    [[1, 1, 0, 0]]
    """
    r_token = _check_fraction(r_token, "r_token")
    mask = loss_mask.bool()
    keep_n = _n_tokens_kept(mask.sum(dim=1), r_token)
    s = torch.where(mask, scores.double(), torch.full(scores.shape, math.inf, dtype=torch.double))
    order = torch.argsort(s, dim=1, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(s.shape[1]).expand_as(order).contiguous())
    return mask & (rank < keep_n[:, None])


# ---------------------------------------------------------------- the hooks

@dataclass
class PruneResult:
    """What one call of a pruner decided for a batch of B samples.

    ``loss_mask`` (B, N) bool: the new trainable-token mask (rows of dropped
    samples are all False); ``keep_idx`` (k,) sorted int64 indices of the kept
    samples (never empty); ``quadrant`` (B,) EU quadrant (0 = middle band or
    not scored, -1 = no trainable token); ``token_pruned`` (B,) whether a kept
    sample's tokens were pruned; ``ppl``/``ent`` (B,) sample scores (NaN when
    not computed); ``level`` the final quantile level (NaN for baselines);
    ``stats`` counts (quadrants, kept samples and tokens, scored samples).
    """

    loss_mask: torch.Tensor
    keep_idx: np.ndarray
    quadrant: np.ndarray
    token_pruned: np.ndarray
    ppl: np.ndarray
    ent: np.ndarray
    level: float = float("nan")
    stats: dict = field(default_factory=dict)


class _Pruner:
    """Shared bookkeeping: running counts of the work the hook did and allowed."""

    needs_logits = True

    def __init__(self, r_sample: float, r_token: float, lam: float):
        self.r_sample = _check_fraction(r_sample, "r_sample")
        self.r_token = _check_fraction(r_token, "r_token")
        self.lam = _check_lam(lam)
        self.reset_counts()

    def reset_counts(self) -> None:
        """Zero the running counts ``n_batches_``, ``n_scored_samples_``, ``n_kept_samples_``, ``n_kept_tokens_``."""
        self.n_batches_ = self.n_scored_samples_ = self.n_kept_samples_ = self.n_kept_tokens_ = 0
        self.n_input_tokens_ = 0

    def n_keep(self, n_valid: int) -> int:
        """Samples kept from a batch with ``n_valid`` trainable samples: floor(r_sample * n_valid) (Eq. 1)."""
        k = int(math.floor(self.r_sample * n_valid + 1e-9))
        if k < 1:
            raise ValueError(f"r_sample={self.r_sample} keeps no sample of a batch with {n_valid} trainable "
                             f"samples; raise r_sample to at least {1 / n_valid:.4g} or use larger batches.")
        return k

    def _valid(self, mask: torch.Tensor) -> np.ndarray:
        valid = mask.any(dim=1).numpy()
        if not valid.all():
            warnings.warn(f"loss_mask: {int((~valid).sum())} sample(s) without a trainable token are dropped.",
                          RuntimeWarning, stacklevel=3)
        return valid

    def _finish(self, mask, keep, new_mask, quadrant, pruned, ppl, ent, level, scored: bool) -> PruneResult:
        keep = np.sort(np.asarray(keep, dtype=np.int64))
        rows = torch.zeros(mask.shape[0], dtype=torch.bool)
        rows[torch.as_tensor(keep)] = True
        new_mask = new_mask & rows[:, None] & mask
        if not new_mask.any():  # cannot happen for valid input; guard the training loop all the same
            raise ValueError("loss_mask: pruning left no trainable token in the batch.")
        self.n_batches_ += 1
        self.n_scored_samples_ += int(mask.shape[0]) if scored else 0
        self.n_kept_samples_ += len(keep)
        self.n_kept_tokens_ += int(new_mask.sum())
        self.n_input_tokens_ += int(mask.sum())
        stats = {"n_kept": len(keep), "kept_tokens": int(new_mask.sum()), "input_tokens": int(mask.sum()),
                 **{f"Q{q}": int((quadrant == q).sum()) for q in (1, 2, 3, 4)}}
        return PruneResult(new_mask, keep, quadrant, pruned, ppl, ent, level, stats)

    def __call__(self, logits, targets, loss_mask) -> PruneResult:
        return self.prune(logits, targets, loss_mask)


class QTuning(_Pruner):
    """Q-Tuning's per-batch pruning hook (Algorithm 1 of arXiv:2509.23873).

    Parameters
    ----------
    r_sample : float in (0, 1]
        Share of the batch's samples kept (1 = no sample pruning).
    r_token : float in (0, 1]
        Share of a Q2 sample's trainable tokens kept (1 = no token pruning).
    lam : float in [0, 1]
        Neighbour weight of the token score (Eq. 7; 0 = the token's own PPL).
    max_iter : int
        Bisection steps on the quantile level.
    hi : float
        Upper end of the level's search interval (0.49 in the paper's algorithm).
    prune_q4_tokens : bool
        Also token-prune Q4 samples (the paper's ablation; off by default).

    ``prune(logits, targets, loss_mask) -> PruneResult``; calling the object is
    the same. Running counts (``n_batches_``, ``n_scored_samples_``,
    ``n_kept_samples_``, ``n_kept_tokens_``) report the work the hook did.
    """

    def __init__(self, r_sample: float = 0.25, r_token: float = 0.5, lam: float = 0.5, max_iter: int = 10, *,
                 hi: float = 0.49, prune_q4_tokens: bool = False):
        super().__init__(r_sample, r_token, lam)
        if int(max_iter) < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}.")
        if not 0 < hi <= 0.5:
            raise ValueError(f"hi must lie in (0, 0.5], got {hi}.")
        self.max_iter, self.hi, self.prune_q4_tokens = int(max_iter), float(hi), bool(prune_q4_tokens)

    def select_samples(self, ppl: np.ndarray, ent: np.ndarray):
        """Kept positions (into ``ppl``), their quadrants, their token-pruning role (True = as Q2) and the level."""
        n = len(ppl)
        n_keep = self.n_keep(n)
        level = bisect_quantile_level(ppl, ent, self.r_sample, max_iter=self.max_iter, hi=self.hi)
        quad = eu_quadrants(ppl, ent, level, level)
        p_hat, e_hat = _minmax(np.log(ppl)), _minmax(ent)
        supp = np.abs(p_hat - e_hat)
        kept = np.flatnonzero(np.isin(quad, (Q2, Q4)))
        if len(kept) > n_keep:  # coarse bisection or ties: drop the least extreme
            kept = kept[np.argsort(-supp[kept], kind="stable")[:n_keep]]
        elif len(kept) < n_keep:  # supplement: Q1/Q3 first, then the middle band, by |PPLhat - Enthat|
            for pool in ((Q1, Q3), (NONE,)):
                cand = np.flatnonzero(np.isin(quad, pool))
                cand = cand[np.argsort(-supp[cand], kind="stable")]
                kept = np.concatenate([kept, cand[:n_keep - len(kept)]])
        as_q2 = np.where(quad[kept] == Q2, True, np.where(quad[kept] == Q4, False, p_hat[kept] >= e_hat[kept]))
        if self.prune_q4_tokens:
            as_q2 = np.ones(len(kept), dtype=bool)
        return kept.astype(np.int64), quad, as_q2, level

    @torch.no_grad()
    def prune(self, logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor) -> PruneResult:
        """Score the batch on the EU plane, keep Q2/Q4 samples, token-prune the Q2 ones."""
        logits, targets, mask = _check_batch(logits, targets, loss_mask)
        nll, ent_tok = token_error_uncertainty(logits, targets, mask)
        ppl, ent = (x.numpy() for x in sample_error_uncertainty(nll, ent_tok, mask))
        valid = np.flatnonzero(self._valid(mask))
        kept_v, quad_v, as_q2, level = self.select_samples(ppl[valid], ent[valid])
        quadrant = np.full(len(ppl), -1, dtype=np.int64)
        quadrant[valid] = quad_v
        keep = valid[kept_v]
        pruned = np.zeros(len(ppl), dtype=bool)
        pruned[keep[as_q2]] = self.r_token < 1.0
        new_mask = mask.clone()
        if pruned.any():
            rows = torch.as_tensor(pruned)
            scores = smoothed_token_scores(torch.exp(nll[rows].double()), mask[rows], self.lam)
            new_mask[rows] = prune_tokens(scores, mask[rows], self.r_token)
        return self._finish(mask, keep, new_mask, quadrant, pruned, ppl, ent, level, scored=True)


class PruningBaseline(_Pruner):
    """The equal-budget baselines of Q-Tuning's tables: one sample rule times one token rule.

    ``samples``: "random" (uniform without replacement), "ppl" (highest sample
    PPL first: loss-based pruning), "entropy" (highest mean entropy first), or
    "all" (no sample pruning; ``r_sample`` is ignored). ``tokens``: "random"
    (a uniform subset of each kept sample's trainable tokens), "ppl" (Eq. 7
    with ``lam``, as in Q-Tuning but applied to every kept sample), or "all".
    Token counts follow Q-Tuning: ``max(1, floor(r_token |T(x)|))``.

    >>> import torch
    >>> mask = torch.ones(6, 5, dtype=torch.bool)
    >>> out = PruningBaseline(0.5, 0.6, random_state=0)(None, None, mask)
    >>> len(out.keep_idx), out.loss_mask.sum(dim=1).tolist().count(3)
    (3, 3)
    """

    SAMPLE_RULES = ("random", "ppl", "entropy", "all")
    TOKEN_RULES = ("random", "ppl", "all")

    def __init__(self, r_sample: float = 0.25, r_token: float = 0.5, *, samples: str = "random",
                 tokens: str = "random", lam: float = 0.5, random_state=None):
        super().__init__(r_sample, r_token, lam)
        if samples not in self.SAMPLE_RULES:
            raise ValueError(f"samples must be one of {self.SAMPLE_RULES}, got {samples!r}.")
        if tokens not in self.TOKEN_RULES:
            raise ValueError(f"tokens must be one of {self.TOKEN_RULES}, got {tokens!r}.")
        self.samples, self.tokens = samples, tokens
        self.needs_logits = samples in ("ppl", "entropy") or tokens == "ppl"
        self.random_state = random_state
        self._rng = np.random.default_rng(random_state)

    @torch.no_grad()
    def prune(self, logits, targets, loss_mask) -> PruneResult:
        """Prune one batch; ``logits``/``targets`` may be None when no rule needs them."""
        logits, targets, mask = _check_batch(logits, targets, loss_mask, need_logits=self.needs_logits)
        b = mask.shape[0]
        valid = np.flatnonzero(self._valid(mask))
        ppl = ent = np.full(b, np.nan)
        nll = None
        if logits is not None:
            nll, ent_tok = token_error_uncertainty(logits, targets, mask)
            ppl, ent = (x.numpy() for x in sample_error_uncertainty(nll, ent_tok, mask))
        if self.samples == "all":
            keep = valid
        else:
            n_keep = self.n_keep(len(valid))
            if self.samples == "random":
                keep = self._rng.choice(valid, size=n_keep, replace=False)
            else:
                score = (ppl if self.samples == "ppl" else ent)[valid]
                keep = valid[np.argsort(-score, kind="stable")[:n_keep]]
        keep = np.sort(keep)
        pruned = np.zeros(b, dtype=bool)
        new_mask = mask.clone()
        if self.tokens != "all" and self.r_token < 1.0:
            pruned[keep] = True
            rows = torch.as_tensor(pruned)
            if self.tokens == "ppl":
                scores = smoothed_token_scores(torch.exp(nll[rows].double()), mask[rows], self.lam)
            else:
                scores = torch.as_tensor(self._rng.random(tuple(mask[rows].shape)))
            new_mask[rows] = prune_tokens(scores, mask[rows], self.r_token)
        quadrant = np.where(mask.any(dim=1).numpy(), NONE, -1).astype(np.int64)
        return self._finish(mask, keep, new_mask, quadrant, pruned, ppl, ent, float("nan"),
                            scored=logits is not None)
