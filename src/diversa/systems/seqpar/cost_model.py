"""Cost model of Ulysses-style sequence parallelism: compute, all-to-all and memory.

Wang et al., "Data-Centric and Heterogeneity-Adaptive Sequence Parallelism for
Efficient LLM Training" (FlexSP), arXiv:2412.01523, ASPLOS'25, section 4
(cost model); constants from the authors' planner (``Hetu-Galvatron``, branch
``flexsp``, profiled on A100 nodes with NVLink inside a node and InfiniBand
across nodes).

A sequence of ``s`` tokens in a sequence-parallel (SP) group of ``d`` devices costs

* compute ``(alpha1 * s**2 + alpha2 * s) / d`` ms (forward and backward of the
  whole model, a profiled fit: attention is quadratic, the rest linear);
* all-to-all ``V(s) / d / BW[d]`` ms with ``V(s) = 4 * 2 * layers * hidden * s * 2``
  bytes in MB (four all-to-alls per layer, forward and backward, bf16) and
  ``BW[d]`` the measured all-to-all bandwidth of a group of ``d`` devices in GB/s
  (MB over GB/s is read as ms, as in the authors' code); ``d = 1`` needs none.

A group of sequences on ``d`` devices runs them one after another: its time is
the sum of theirs plus a fixed overhead ``beta`` per group and micro-batch.
Memory: each device holds its ZeRO share of the model states and the
activations of ``s / d`` tokens per sequence, so a group fits when the sum of
its lengths over ``d`` is at most the per-device token capacity ``C``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

#: Measured all-to-all bandwidth (GB/s) per group size: NVLink up to 8 devices (one node),
#: InfiniBand beyond (the authors' "4K sequence, 2 IB" profile).
BANDWIDTH_GBS = {1: 1e10, 2: 119.54, 4: 104.07, 8: 96.5, 16: 10.33, 32: 5.94, 64: 4.87}

#: The authors' profiled GPT models: compute fit (ms), shape, activation memory (MB per token)
#: and parameters (billions, at a 192K context: the position table grows with the context).
GPT_PRESETS = {
    "7b": dict(alpha1=5.128e-6, alpha2=0.1839576, beta=629.3563, hidden=4096, layers=32,
               act_mb_per_token=4.480441895, params_b=7.1174468994140625),
    "13b": dict(alpha1=9.2852e-6, alpha2=0.3060189, beta=1132.5632, hidden=5120, layers=40,
                act_mb_per_token=4.220439453, params_b=13.11605453491211),
    "30b": dict(alpha1=15.4262e-6, alpha2=0.8035742, beta=2789.3644, hidden=6656, layers=60,
                act_mb_per_token=3.417381836, params_b=31.52513885498047),
}
#: GPT-7B on 16 devices: the authors profiled a smaller activation footprint per token.
GPT_7B_ACT_16 = 2.668764648


def _zero_share(zero_stage: int, n_devices: int, mixed_precision: bool) -> float:
    """Fraction of the 16 bytes per parameter of model states one device holds under ZeRO."""
    if zero_stage == 0:
        return 1.0
    if zero_stage == 1:
        return 6 / 8 / n_devices + 2 / 8 if mixed_precision else 2 / 4 / n_devices + 2 / 4
    if zero_stage == 2:
        return 7 / 8 / n_devices + 1 / 8 if mixed_precision else 3 / 4 / n_devices + 1 / 4
    return 1.0 / n_devices


def is_power_of_two(n: int) -> bool:
    """True for 1, 2, 4, 8, ..."""
    return n >= 1 and n & (n - 1) == 0


@dataclass(frozen=True)
class SPCostModel:
    """Time (ms) and memory of sequences in sequence-parallel groups (FlexSP, arXiv:2412.01523).

    ``n_devices`` is the cluster size N; ``bandwidth_gbs`` maps each group size to its
    all-to-all bandwidth (GB/s); ``mem_limit_gb`` is the memory per device the model states
    and activations may use. See :meth:`gpt` for the authors' profiled models.
    """

    n_devices: int
    alpha1: float
    alpha2: float
    beta: float
    hidden: int
    layers: int
    act_mb_per_token: float
    params_b: float
    bandwidth_gbs: Mapping[int, float] = field(default_factory=lambda: dict(BANDWIDTH_GBS))
    mem_limit_gb: float = 28.0
    zero_stage: int = 3
    mixed_precision: bool = True

    def __post_init__(self):
        if isinstance(self.n_devices, bool) or not isinstance(self.n_devices, (int, np.integer)) \
                or self.n_devices < 1:
            raise ValueError(f"n_devices must be a positive integer, got {self.n_devices!r}.")
        for name in ("alpha1", "alpha2", "beta", "params_b"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
        for name in ("act_mb_per_token", "mem_limit_gb"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
        if self.hidden < 1 or self.layers < 1:
            raise ValueError(f"hidden and layers must be >= 1, got {self.hidden} and {self.layers}.")
        if self.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {self.zero_stage!r}.")
        for d, bw in self.bandwidth_gbs.items():
            if not (math.isfinite(bw) and bw > 0):
                raise ValueError(f"bandwidth_gbs[{d}] must be a finite number > 0, got {bw!r}.")
        if self.token_capacity < 1:
            raise ValueError(f"mem_limit_gb = {self.mem_limit_gb:g} GB does not hold the model states "
                             f"({self.model_states_mb / 1024:.3g} GB per device) and one token of activations.")

    @classmethod
    def gpt(cls, size: str = "7b", n_devices: int = 16, **overrides) -> SPCostModel:
        """The authors' profiled GPT-``size`` ("7b", "13b", "30b") on ``n_devices`` devices.

        Defaults: 28 GB per device, ZeRO-3, mixed precision, the bandwidths of
        :data:`BANDWIDTH_GBS`. Any field can be overridden by keyword.
        """
        key = str(size).lower().removeprefix("gpt-")
        if key not in GPT_PRESETS:
            raise ValueError(f"size must be one of {sorted(GPT_PRESETS)}, got {size!r}.")
        preset = dict(GPT_PRESETS[key])
        if key == "7b" and n_devices == 16:
            preset["act_mb_per_token"] = GPT_7B_ACT_16
        preset.update(overrides)
        return cls(n_devices=n_devices, **preset)

    def with_devices(self, n_devices: int) -> SPCostModel:
        """The same model on another cluster size (the ZeRO share of model states changes)."""
        return replace(self, n_devices=n_devices)

    @property
    def model_states_mb(self) -> float:
        """Model states (parameters, gradients, optimizer) per device, MB: 16 bytes per parameter."""
        return self.params_b * 16 * _zero_share(self.zero_stage, self.n_devices, self.mixed_precision) * 1024

    @property
    def token_capacity(self) -> int:
        """C: the tokens of activations one device holds next to its model states."""
        return int(math.floor((self.mem_limit_gb * 1024 - self.model_states_mb) / self.act_mb_per_token))

    def bandwidth(self, d: int) -> float:
        """All-to-all bandwidth (GB/s) of a group of ``d`` devices; ValueError when unknown."""
        if d == 1:
            return math.inf
        if d not in self.bandwidth_gbs:
            raise ValueError(f"no all-to-all bandwidth for a group of {d} devices; known sizes "
                             f"{sorted(self.bandwidth_gbs)} (pass bandwidth_gbs).")
        return float(self.bandwidth_gbs[d])

    def compute_time(self, s, d: int):
        """Compute ms of sequence(s) of length ``s`` (scalar or array) in a group of ``d``."""
        s = np.asarray(s, dtype=float)
        return (self.alpha1 * s * s + self.alpha2 * s) / d

    def comm_time(self, s, d: int):
        """All-to-all ms of sequence(s) of length ``s`` in a group of ``d`` (0 for ``d = 1``)."""
        s = np.asarray(s, dtype=float)
        if d == 1:
            return np.zeros_like(s)
        volume_mb = 4 * 2 * self.layers * self.hidden * s * 2 / 2**20
        return volume_mb / d / self.bandwidth(d)

    def seq_time(self, s, d: int):
        """T(s, d) = compute + all-to-all, ms; a float for a scalar ``s``, else an array like ``s``."""
        t = self.compute_time(s, d) + self.comm_time(s, d)
        return float(t) if np.ndim(t) == 0 else t

    def group_time(self, lens: Sequence[int], d: int) -> float:
        """Time (ms) of one group running ``lens`` on ``d`` devices: their T(s, d) plus beta; 0 if empty."""
        lens = np.asarray(lens, dtype=float)
        if lens.size == 0:
            return 0.0
        return float(np.sum(self.seq_time(lens, d)) + self.beta)

    def fits(self, lens: Sequence[int], d: int) -> bool:
        """The group ``lens`` on ``d`` devices holds in memory: sum(lens) / d <= C."""
        return float(np.sum(lens)) <= self.token_capacity * d

    def min_degree(self, s: int) -> int:
        """Smallest power-of-two group that holds a sequence of ``s`` tokens.

        ValueError when even all ``n_devices`` (rounded down to a power of two) cannot.
        """
        need = max(1, math.ceil(int(s) / self.token_capacity))
        d = 1 << (need - 1).bit_length()
        if d > self.n_devices:
            raise ValueError(f"a sequence of {int(s)} tokens needs {need} devices of {self.token_capacity} tokens "
                             f"each (a group of {d}), more than the {self.n_devices} of the cluster "
                             f"(at most {self.token_capacity * self.n_devices} tokens per sequence).")
        return d
