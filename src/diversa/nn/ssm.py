"""A tiny Vision Mamba: a bidirectional selective state-space mixer in plain torch, and a digits-sized Vim.

Selective scan (Mamba): Gu, Dao, "Mamba: Linear-Time Sequence Modeling with Selective State
Spaces", arXiv:2312.00752. Bidirectional Vision Mamba (Vim): Zhu, Liao, Zhang, Wang, Liu, Wang,
"Vision Mamba: Efficient Visual Representation Learning with Bidirectional State Space Model",
arXiv:2401.09417. Built for the reproduction of stochastic layer-wise shuffle (Huang et al.,
"Stochastic Layer-Wise Shuffle: A Good Practice to Improve Vision Mamba Training",
arXiv:2408.17081; spec ``training.md#slws``), scaled down from the authors' ``models_shuffle.py``
and their "biscan" mixer.

The scan, per channel ``e`` and state ``n``:
``h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t``, ``y_t = C_t . h_t + D u_t``, with ``A = -exp(A_log) < 0``.
:func:`selective_scan` computes it either with a loop over time (``"sequential"``, the
reference and the default: the faster one at these sizes) or in one shot (``"parallel"``) in the
segment-sum form
``h_t = sum_{s<=t} exp(A (cum_t - cum_s)) dt_s B_s u_s``, ``cum_t = dt_1 + ... + dt_t``.
In the parallel form the finite exponent ``A (cum_t - cum_s)`` is formed first and only then are
the entries with ``s > t`` filled with ``-inf`` before ``exp``: masking after the ``exp`` (where
those entries may overflow to ``inf``) gives ``0 * inf = NaN`` gradients, and so does filling
``cum_t - cum_s`` with ``+inf`` before multiplying by ``A`` (NaN in the gradient of ``A``).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diversa.nn.regularizers import DropPath, LayerwiseShuffle, drop_path_rates

__all__ = ["BiSelectiveSSM", "MixerBlock", "TinyVisionMamba", "selective_scan"]

SCANS = ("parallel", "sequential")
CLS_POSITIONS = ("start", "middle")


def _causal_mask(L: int, device) -> Tensor:
    """``(L, L)`` boolean, True where ``s > t`` (row ``t``, column ``s``): the future."""
    return torch.ones(L, L, dtype=torch.bool, device=device).triu(1)


class _LinearRecurrence(torch.autograd.Function):
    """``h_t = a_t * h_{t-1} + b_t`` along axis -3 of ``a, b (..., L, E, N)``, from ``h_{-1} = 0``.

    A loop over time with a hand-written backward (the same recurrence run in reverse on the
    gradients): recording each of the ``L`` tiny steps for autograd would cost more than the
    arithmetic on these small tensors.
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        a, b = a.contiguous(), b.contiguous()
        h = torch.empty_like(b)
        hs, steps, decays = h.unbind(-3), b.unbind(-3), a.unbind(-3)
        hs[0].copy_(steps[0])
        for t in range(1, len(hs)):
            torch.addcmul(steps[t], decays[t], hs[t - 1], out=hs[t])
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        a, h = ctx.saved_tensors
        grad = grad.contiguous()
        lam = torch.empty_like(grad)                                   # dLoss/dh_t through every path
        lams, grads, decays = lam.unbind(-3), grad.unbind(-3), a.unbind(-3)
        last = len(lams) - 1
        lams[last].copy_(grads[last])
        for t in range(last - 1, -1, -1):
            torch.addcmul(grads[t], decays[t + 1], lams[t + 1], out=lams[t])
        grad_a = torch.zeros_like(a)
        grad_a[..., 1:, :, :] = lam[..., 1:, :, :] * h[..., :-1, :, :]
        return grad_a, lam


class _CausalDepthwiseConv(torch.autograd.Function):
    """``y_t = b + sum_j w[..., j] * u_{t - (k - 1 - j)}`` along axis -2 of ``u (G, B, L, E)``, zeros before the start.

    ``w (G, E, k)``, ``b (G, E)``: one depthwise causal convolution per group ``G`` (direction),
    ``nn.Conv1d(padding=k - 1)`` cut to the first ``L`` outputs. Written with in-place updates
    of shifted views and a hand-written backward: on tensors this small autograd's slicing
    and ``Conv1d``'s backward cost several times the arithmetic.
    """

    @staticmethod
    def forward(ctx, u: Tensor, w: Tensor, b: Tensor) -> Tensor:
        u = u.contiguous()
        L, k = u.shape[-2], w.shape[-1]
        y = b[:, None, None].expand_as(u).clone()
        for j in range(k):
            s = k - 1 - j                                              # how far back tap j looks
            if s < L:
                y[..., s:, :].addcmul_(u[..., :L - s, :], w[:, None, None, :, j])
        ctx.save_for_backward(u, w)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        u, w = ctx.saved_tensors
        L, k = u.shape[-2], w.shape[-1]
        grad_u, grad_w = torch.zeros_like(u), torch.zeros_like(w)
        for j in range(k):
            s = k - 1 - j
            if s < L:
                g = grad[..., s:, :]
                grad_u[..., :L - s, :].addcmul_(g, w[:, None, None, :, j])
                grad_w[..., j] = (g * u[..., :L - s, :]).sum((1, 2))
        return grad_u, grad_w, grad.sum((1, 2))


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                   method: str = "sequential") -> Tensor:
    """The selective SSM recurrence over the time axis, from a zero state.

    Shapes (``...`` = any leading batch dims, broadcast between arguments): ``u (..., L, E)``
    inputs, ``delta (..., L, E)`` positive step sizes, ``A (..., E, N)`` negative decay rates,
    ``B (..., L, N)`` and ``C (..., L, N)`` input and output projections, ``D (..., E)`` skip
    weights (or None). Returns ``y (..., L, E)``. ``method``: ``"sequential"`` (a loop over ``L``
    with a hand-written backward; the default) or ``"parallel"`` (the segment-sum form: few
    operations but ``O(L^2)`` time and memory); they agree to float rounding in values and
    gradients. On one CPU thread, for the tiny Vision Mamba of the reproduction (L = 17, batch 64),
    a training step with the sequential form took about a third of the time of the parallel one.
    """
    if method not in SCANS:
        raise ValueError(f"method must be one of {SCANS}, got {method!r}.")
    if u.ndim < 2 or delta.shape[-2:] != u.shape[-2:]:
        raise ValueError(f"u and delta must both be (..., L, E), got {tuple(u.shape)} and {tuple(delta.shape)}.")
    if A.ndim < 2 or A.shape[-2] != u.shape[-1]:
        raise ValueError(f"A must be (..., E, N) with E = {u.shape[-1]}, got {tuple(A.shape)}.")
    N = A.shape[-1]
    for name, t in (("B", B), ("C", C)):
        if t.ndim < 2 or t.shape[-2] != u.shape[-2] or t.shape[-1] != N:
            raise ValueError(f"{name} must be (..., L, N) with L = {u.shape[-2]}, N = {N}, got {tuple(t.shape)}.")
    L = u.shape[-2]
    A_ = A.unsqueeze(-3)                                               # (..., 1, E, N)
    dBu = (delta * u).unsqueeze(-1) * B.unsqueeze(-2)                  # (..., L, E, N)
    if method == "sequential":
        decay = torch.exp(delta.unsqueeze(-1) * A_)                    # (..., L, E, N)
        hs = _LinearRecurrence.apply(*torch.broadcast_tensors(decay, dBu))
    else:
        cum = delta.cumsum(-2)                                         # (..., L, E)
        gap = cum.unsqueeze(-2) - cum.unsqueeze(-3)                    # (..., t, s, E): cum_t - cum_s
        exponent = gap.unsqueeze(-1) * A_.unsqueeze(-4)                # (..., t, s, E, N), finite
        exponent = exponent.masked_fill(_causal_mask(L, u.device)[:, :, None, None], float("-inf"))
        hs = (exponent.exp() * dBu.unsqueeze(-4)).sum(-3)              # sum over s -> (..., L, E, N)
    y = (hs * C.unsqueeze(-2)).sum(-1)                                 # (..., L, E)
    return y if D is None else y + u * D.unsqueeze(-2)


def _check_int(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    return int(value)


class BiSelectiveSSM(nn.Module):
    """Vision Mamba's bidirectional selective-SSM mixer: ``forward(x (B, L, D))`` -> ``(B, L, D)``.

    ``in_proj: D -> 2E`` (``E = expand * D``) gives ``(u, z)``. Each direction (forward, and
    backward on the time-reversed sequence, reversed back) has its own depthwise causal
    ``Conv1d`` (kernel ``d_conv``), SiLU, ``x_proj: E -> dt_rank + 2N`` giving ``(dt_raw, B_t,
    C_t)``, ``dt = softplus(dt_proj(dt_raw))``, ``A = -exp(A_log)`` and skip ``D``, and runs
    :func:`selective_scan`. Output ``out_proj((y_fwd + y_bwd) / 2 * SiLU(z))``.

    The two directions' parameters are stored stacked (leading axis 2: forward, backward) so
    both scans run as one batched computation; they are independent parameters all the same.
    Initialisation as in Mamba: ``A_log[e, n] = log(n + 1)``, ``D = 1``, the ``dt_proj`` bias the
    inverse softplus of ``dt ~ logUniform[dt_min, dt_max]``; ``dt_rank`` defaults to
    ``ceil(d_model / 16)``. ``scan`` chooses the form of :func:`selective_scan`.
    """

    def __init__(self, d_model: int, d_state: int = 1, d_conv: int = 3, expand: int = 2,
                 dt_rank: int | None = None, dt_min: float = 1e-3, dt_max: float = 1e-1,
                 scan: str = "sequential"):
        super().__init__()
        d_model = _check_int(d_model, "d_model")
        self.d_state = _check_int(d_state, "d_state")
        self.d_conv = _check_int(d_conv, "d_conv")
        expand = _check_int(expand, "expand")
        self.dt_rank = math.ceil(d_model / 16) if dt_rank is None else _check_int(dt_rank, "dt_rank")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"dt_min and dt_max must satisfy 0 < dt_min <= dt_max, got {dt_min!r}, {dt_max!r}.")
        if scan not in SCANS:
            raise ValueError(f"scan must be one of {SCANS}, got {scan!r}.")
        self.scan = scan
        E = self.d_inner = expand * d_model
        R, N = self.dt_rank, self.d_state
        self.in_proj = nn.Linear(d_model, 2 * E)
        # depthwise causal convolution per direction, initialised as nn.Conv1d (fan-in d_conv)
        bound = 1 / math.sqrt(d_conv)
        self.conv_weight = nn.Parameter(torch.empty(2, E, d_conv).uniform_(-bound, bound))
        self.conv_bias = nn.Parameter(torch.empty(2, E).uniform_(-bound, bound))
        bound = 1 / math.sqrt(E)
        self.x_proj = nn.Parameter(torch.empty(2, E, R + 2 * N).uniform_(-bound, bound))
        self.dt_proj = nn.Parameter(torch.empty(2, R, E).uniform_(-R ** -0.5, R ** -0.5))
        dt = torch.exp(torch.rand(2, E) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))   # softplus(dt_bias) = dt
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(2, E, 1))
        self.D = nn.Parameter(torch.ones(2, E))
        self.out_proj = nn.Linear(E, d_model)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3:
            raise ValueError(f"x must have shape (B, L, D), got {tuple(x.shape)}.")
        Bsz, L, _ = x.shape
        E, R, N = self.d_inner, self.dt_rank, self.d_state
        u, z = self.in_proj(x).chunk(2, dim=-1)                          # (B, L, E) each
        u2 = torch.stack([u, u.flip(1)])                                 # (2, B, L, E): forward, reversed
        u2 = F.silu(_CausalDepthwiseConv.apply(u2, self.conv_weight, self.conv_bias))
        proj = torch.bmm(u2.reshape(2, Bsz * L, E), self.x_proj)          # (2, B*L, R + 2N)
        dt_raw, Bt, Ct = proj.split([R, N, N], dim=-1)
        delta = F.softplus(torch.baddbmm(self.dt_bias.unsqueeze(1), dt_raw, self.dt_proj)).view(2, Bsz, L, E)
        Bt, Ct = Bt.reshape(2, Bsz, L, N), Ct.reshape(2, Bsz, L, N)
        A = -torch.exp(self.A_log).unsqueeze(1)                          # (2, 1, E, N)
        y = selective_scan(u2, delta, A, Bt, Ct, self.D.unsqueeze(1), method=self.scan)   # (2, B, L, E)
        y = (y[0] + y[1].flip(1)) / 2
        return self.out_proj(y * F.silu(z))


class MixerBlock(nn.Module):
    """Pre-norm residual block ``x + DropPath(mixer(LayerNorm(x)))``: ``forward(x (B, L, D))`` -> ``(B, L, D)``.

    The algebraic equivalent of Vim's fused "add -> norm -> mixer" block; in this form only ``x``
    has to travel through a layer-wise shuffle.
    """

    def __init__(self, mixer: nn.Module, d_model: int, drop_path: float = 0.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mixer = mixer
        self.drop_path = DropPath(drop_path, generator)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop_path(self.mixer(self.norm(x)))


class TinyVisionMamba(nn.Module):
    """A digits-sized Vision Mamba classifier: ``forward(images (B, in_chans, H, W))`` -> logits ``(B, num_classes)``.

    Patch embedding (a linear map of each ``patch_size`` x ``patch_size`` patch) to ``embed_dim``, a
    class token at position 0, a learned position embedding (truncated normal, std 0.02), ``depth``
    :class:`MixerBlock` s of :class:`BiSelectiveSSM` run through a
    :class:`~diversa.nn.regularizers.LayerwiseShuffle` (``shuffle_rate`` = ``P_L``,
    ``shuffle_schedule``), drop path with rates ``drop_path_rates(depth, drop_path_rate)``, a
    final LayerNorm and a linear head on the class token. ``cls_position``: ``"start"`` (the
    official ShuffleMamba code) or ``"middle"`` (after ``n_patches // 2`` patches, Vision Mamba's
    default; it learns markedly faster on short schedules, as both scan directions reach it
    within half the sequence). Every token is shuffled, the class token included, as in the
    official code. ``dt_min``, ``dt_max`` and ``scan`` go to every :class:`BiSelectiveSSM`.
    ``generator`` drives the shuffles and the drop path (not the initialisation, which uses
    torch's global generator like any ``nn.Module``).

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = TinyVisionMamba(depth=2, shuffle_rate=0.5)
    >>> model(torch.rand(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    """

    def __init__(self, img_size: int = 8, patch_size: int = 2, in_chans: int = 1, embed_dim: int = 24,
                 depth: int = 8, d_state: int = 1, d_conv: int = 3, expand: int = 2, num_classes: int = 10,
                 shuffle_rate: float = 0.0, shuffle_schedule: str = "linear", drop_path_rate: float = 0.0,
                 dt_min: float = 1e-3, dt_max: float = 1e-1, cls_position: str = "start", scan: str = "sequential",
                 generator: torch.Generator | None = None):
        super().__init__()
        img_size, patch_size = _check_int(img_size, "img_size"), _check_int(patch_size, "patch_size")
        if img_size % patch_size:
            raise ValueError(f"img_size ({img_size}) must be a multiple of patch_size ({patch_size}).")
        in_chans, embed_dim = _check_int(in_chans, "in_chans"), _check_int(embed_dim, "embed_dim")
        depth, num_classes = _check_int(depth, "depth"), _check_int(num_classes, "num_classes")
        self.img_size, self.in_chans = img_size, in_chans
        self.n_patches = (img_size // patch_size) ** 2
        if cls_position not in CLS_POSITIONS:
            raise ValueError(f"cls_position must be one of {CLS_POSITIONS}, got {cls_position!r}.")
        self.cls_position = cls_position
        self.cls_index = 0 if cls_position == "start" else self.n_patches // 2
        self.patch_size = patch_size
        # a linear map of each flattened patch: Conv2d with kernel = stride = patch_size, cheaper here
        self.patch_embed = nn.Linear(in_chans * patch_size ** 2, embed_dim)
        self.cls_token = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, 1, embed_dim), std=0.02))
        self.pos_embed = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, self.n_patches + 1, embed_dim), std=0.02))
        rates = drop_path_rates(depth, drop_path_rate)
        blocks = [MixerBlock(BiSelectiveSSM(embed_dim, d_state, d_conv, expand, dt_min=dt_min, dt_max=dt_max, scan=scan),
                             embed_dim, rate, generator) for rate in rates]
        self.blocks = LayerwiseShuffle(blocks, shuffle_rate, shuffle_schedule, generator=generator)
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        if images.ndim != 4 or images.shape[1:] != (self.in_chans, self.img_size, self.img_size):
            raise ValueError(f"images must have shape (B, {self.in_chans}, {self.img_size}, {self.img_size}), "
                             f"got {tuple(images.shape)}.")
        B, C, p, g = images.shape[0], self.in_chans, self.patch_size, self.img_size // self.patch_size
        patches = images.reshape(B, C, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, C * p * p)
        x = self.patch_embed(patches)                                    # (B, n_patches, D), row-major patches
        i = self.cls_index
        x = torch.cat([x[:, :i], self.cls_token.expand(x.shape[0], -1, -1), x[:, i:]], dim=1) + self.pos_embed
        x = self.blocks(x)
        return self.head(self.norm(x)[:, i])
