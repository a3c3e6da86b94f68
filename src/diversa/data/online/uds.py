"""UDS: utility-diversity aware online batch selection for supervised fine-tuning.

Zou, Mao, Qu, Wang and Ji, "Utility-Diversity Aware Online Batch Selection for LLM Supervised
Fine-tuning", ICML 2026, arXiv:2510.16882 (official code: ``gfyddha/UDS``).

At each step a candidate batch goes through one no-grad forward pass; each sample ``i`` with
logits ``L_i`` (N x V) is scored by

* ``s_intra = ||L_i||_*``, the nuclear norm: large when the logits are large (much loss left to
  reduce, "utility") and when their singular spectrum is flat (token predictions point in many
  directions, "intra-sample diversity");
* ``s_inter``, the mean Euclidean distance between a cheap bilinear random projection ``z_i`` of
  ``L_i`` (:class:`FastJLProjector`) and the projections of recently kept samples held in a FIFO
  buffer (:class:`FIFOBuffer`): "inter-sample diversity";

and the top ``k`` of ``s_intra + alpha * s_inter`` are back-propagated; their projections enter
the buffer.

Choices where the paper and its code leave room (spec ``data.md#uds``): rows where ``mask`` is 0
(padding) are zeroed before both scores, so a score does not depend on how much padding a batch
has (``include_padding=True`` keeps the code's behaviour); ``alpha_mode="auto"`` sets
``alpha = alpha_rel * median(s_intra) / median(s_inter)`` at the first step with a non-empty buffer
and keeps it, because the paper's ``alpha = 2.5e-3`` was tuned for a 152k-token vocabulary and long
sequences and its scale does not transfer; the projector follows the code (real parts of FFTs,
indices sampled with replacement), so it is a randomized Fourier sketch, not an exact SRFT.
"""

from __future__ import annotations

import math
import numbers

import torch

from diversa.data.online.base import OnlineSelector

__all__ = ["FIFOBuffer", "FastJLProjector", "UDSSelector", "nuclear_norm_scores"]


def _masked(logits: torch.Tensor, mask) -> torch.Tensor:
    if mask is None:
        return logits
    return logits * torch.as_tensor(mask).bool().to(logits.device)[..., None].to(logits.dtype)


def nuclear_norm_scores(logits, mask=None) -> torch.Tensor:
    """Nuclear norm (sum of singular values) of each sample's logits matrix: (B, N, V) -> (B,).

    Rows where ``mask`` (B, N) is 0 are zeroed first (a zero row changes no singular value).

    >>> L = torch.outer(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 0.0, 1.0]))[None]
    >>> round(float(nuclear_norm_scores(L)), 4), float(L.norm())   # rank 1: nuclear = Frobenius
    (5.0, 5.0)
    """
    L = torch.as_tensor(logits).detach()
    if L.ndim != 3:
        raise ValueError(f"logits must be (batch, positions, vocab), got shape {tuple(L.shape)}")
    L = _masked(L.double(), mask)
    if L.shape[1] > L.shape[2]:
        L = L.transpose(1, 2)
    # singular values are the square roots of the eigenvalues of the smaller Gram matrix L L^T (N << V)
    eig = torch.linalg.eigvalsh(L @ L.transpose(1, 2)).clamp(min=0.0)
    return eig.sqrt().sum(-1).to(torch.float32)


class FastJLProjector:
    """Bilinear random projection ``vec(Gamma_2 L Gamma_1^T)`` of a logits matrix, via FFTs.

    As the official ``FastJLProjector``: pad ``L`` to (max_len, V) with zero rows, flip each vocabulary
    column's sign (Rademacher), take the real part of the FFT along the vocabulary, keep ``d_vocab``
    columns drawn with replacement, scale by ``sqrt(V / d_vocab)``; then the same along time with
    ``d_time`` rows and ``sqrt(max_len / d_time)``. Output (B, d_time * d_vocab). Linear in ``L``;
    costs O((N + V) d log(N V)) per sample instead of O(N V d) for a dense projection. Deterministic
    for a ``random_state``.

    >>> proj = FastJLProjector(max_len=6, vocab_size=10, d_time=2, d_vocab=4, random_state=0)
    >>> proj.project(torch.randn(3, 5, 10)).shape
    torch.Size([3, 8])
    """

    def __init__(self, max_len: int, vocab_size: int, d_time: int = 8, d_vocab: int = 128, random_state: int = 0):
        for name, value in (("max_len", max_len), ("vocab_size", vocab_size), ("d_time", d_time),
                            ("d_vocab", d_vocab)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.max_len, self.vocab_size, self.d_time, self.d_vocab = int(max_len), int(vocab_size), int(d_time), \
            int(d_vocab)
        self.random_state = random_state
        g = torch.Generator().manual_seed(int(random_state))
        self.vocab_signs_ = torch.randint(0, 2, (self.vocab_size,), generator=g).double() * 2 - 1
        self.vocab_index_ = torch.randint(0, self.vocab_size, (self.d_vocab,), generator=g)
        self.time_signs_ = torch.randint(0, 2, (self.max_len,), generator=g).double() * 2 - 1
        self.time_index_ = torch.randint(0, self.max_len, (self.d_time,), generator=g)

    @property
    def dim(self) -> int:
        """Length of a projected vector."""
        return self.d_time * self.d_vocab

    def project(self, logits, mask=None) -> torch.Tensor:
        """Projections (B, d_time * d_vocab) of logits (B, N, V) with N <= max_len (masked rows zeroed)."""
        L = torch.as_tensor(logits).detach()
        if L.ndim != 3:
            raise ValueError(f"logits must be (batch, positions, vocab), got shape {tuple(L.shape)}")
        B, N, V = L.shape
        if V != self.vocab_size:
            raise ValueError(f"logits have vocabulary size {V}, the projector was built for {self.vocab_size}")
        if N > self.max_len:
            raise ValueError(f"logits have {N} positions, more than the projector's max_len={self.max_len}")
        X = torch.zeros(B, self.max_len, V, dtype=torch.float64)
        X[:, :N] = _masked(L.double(), mask)
        X = torch.fft.fft(X * self.vocab_signs_, dim=-1).real[..., self.vocab_index_]
        X = X * math.sqrt(V / self.d_vocab)
        X = torch.fft.fft(X * self.time_signs_[:, None], dim=1).real[:, self.time_index_]
        X = X * math.sqrt(self.max_len / self.d_time)
        return X.reshape(B, -1).to(torch.float32)


class FIFOBuffer:
    """A first-in-first-out memory of at most ``capacity`` vectors of length ``dim``.

    >>> buf = FIFOBuffer(capacity=2, dim=1)
    >>> buf.push(torch.tensor([[1.0], [2.0], [3.0]]))
    >>> buf.items().ravel(), buf.mean_distance(torch.tensor([[0.0]]))
    (tensor([2., 3.]), tensor([2.5000]))
    """

    def __init__(self, capacity: int, dim: int):
        for name, value in (("capacity", capacity), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.capacity, self.dim = int(capacity), int(dim)
        self._data = torch.zeros(self.capacity, self.dim)
        self._next = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def push(self, z) -> None:
        """Append the rows of ``z`` (m, dim); the oldest rows are overwritten once full."""
        z = torch.as_tensor(z, dtype=torch.float32).detach()
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise ValueError(f"z must have shape (m, {self.dim}), got {tuple(z.shape)}")
        for row in z[-self.capacity:]:
            self._data[self._next] = row
            self._next = (self._next + 1) % self.capacity
        self.size = min(self.capacity, self.size + z.shape[0])

    def items(self) -> torch.Tensor:
        """The stored vectors, oldest first, (size, dim)."""
        if self.size < self.capacity:
            return self._data[:self.size].clone()
        return torch.cat([self._data[self._next:], self._data[:self._next]])

    def mean_distance(self, z) -> torch.Tensor:
        """Mean Euclidean distance of each row of ``z`` (B, dim) to the stored vectors; zeros when empty."""
        z = torch.as_tensor(z, dtype=torch.float32)
        if self.size == 0:
            return torch.zeros(z.shape[0])
        return torch.cdist(z, self._data[:self.size], compute_mode="use_mm_for_euclid_dist").mean(1)


class UDSSelector(OnlineSelector):
    """Utility-diversity aware online batch selection (UDS, arXiv:2510.16882).

    Pass the candidate batch's ``logits`` (B, N, V) from a no-grad forward pass, and ``mask`` (B, N)
    for the positions that count. Scores ``s_intra + alpha * s_inter`` (see the module docstring);
    ``use_intra=False`` / ``use_inter=False`` give the paper's ablations; ``intra_batch_term=True``
    adds each sample's mean projected distance to the rest of the batch to ``s_inter``.
    ``alpha_mode`` is "raw" (use ``alpha``) or "auto" (``alpha_`` = ``alpha_rel`` times the ratio of
    median intra to median inter score at the first step with a non-empty buffer). ``max_len`` and
    ``vocab_size`` of the projector default to the first batch's shape. After each ``select``,
    ``last_scores_`` holds the step's ``intra``, ``inter`` and ``total`` scores and ``projections_``
    the projected batch.

    >>> torch.manual_seed(0) and None
    >>> sel = UDSSelector(k=2, alpha_mode="auto", d_time=2, d_vocab=8)
    >>> for step in range(3):
    ...     idx = sel.select(torch.randn(6, 5, 12))
    >>> len(sel.buffer_), idx.shape, sel.alpha_ > 0
    (6, torch.Size([2]), True)
    """

    _needs = ("logits",)

    def __init__(self, k=0.25, *, alpha: float = 2.5e-3, alpha_mode: str = "raw", alpha_rel: float = 0.5,
                 buffer_size: int = 1024, d_time: int = 8, d_vocab: int = 128, start_step: int = 0,
                 use_intra: bool = True, use_inter: bool = True, intra_batch_term: bool = False,
                 include_padding: bool = False, max_len: int | None = None, vocab_size: int | None = None,
                 random_state: int = 0):
        super().__init__(k, start_step=start_step)
        self.alpha = alpha
        self.alpha_mode = alpha_mode
        self.alpha_rel = alpha_rel
        self.buffer_size = buffer_size
        self.d_time = d_time
        self.d_vocab = d_vocab
        self.use_intra = use_intra
        self.use_inter = use_inter
        self.intra_batch_term = intra_batch_term
        self.include_padding = include_padding
        self.max_len = max_len
        self.vocab_size = vocab_size
        self.random_state = random_state

    def _check_params(self):
        if self.alpha_mode not in ("raw", "auto"):
            raise ValueError(f"alpha_mode must be 'raw' or 'auto', got {self.alpha_mode!r}")
        for name in ("alpha", "alpha_rel"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value >= 0
                                                                                    and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (self.use_intra or self.use_inter):
            raise ValueError("use_intra and use_inter cannot both be False: nothing would be scored")

    def _init_state(self, shape):
        _, N, V = shape
        self.projector_ = FastJLProjector(self.max_len or N, self.vocab_size or V, self.d_time, self.d_vocab,
                                          self.random_state)
        self.buffer_ = FIFOBuffer(self.buffer_size, self.projector_.dim)
        self.alpha_ = float(self.alpha) if self.alpha_mode == "raw" else None

    def _score(self, batch):
        self._check_params()
        logits = batch["logits"]
        if not hasattr(self, "projector_"):
            self._init_state(logits.shape)
        mask = None if self.include_padding else batch["mask"]
        intra = nuclear_norm_scores(logits, mask)
        z = self.projector_.project(logits, mask)
        inter = self.buffer_.mean_distance(z)
        if self.intra_batch_term and z.shape[0] > 1:
            inter = inter + torch.cdist(z.double(), z.double()).sum(1).float() / z.shape[0]
        if self.alpha_ is None and len(self.buffer_) > 0:
            med_inter = float(inter.median())
            self.alpha_ = float(self.alpha_rel) * float(intra.median()) / med_inter if med_inter > 0 else 0.0
        alpha = 0.0 if self.alpha_ is None else self.alpha_
        if not self.use_intra:
            total = inter.double()
        elif not self.use_inter:
            total = intra.double()
        else:
            total = intra.double() + alpha * inter.double()
        self.projections_ = z
        self.last_scores_ = {"intra": intra, "inter": inter, "total": total}
        return total

    def _observe(self, batch, idx):
        self.buffer_.push(self.projections_[idx])
