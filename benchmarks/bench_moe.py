"""MoE feed-forward speed: diversa's batched dropless dispatch vs a per-expert loop and a dense FFN.

The layer is the Mixtral-style sparse MoE block (Jiang et al., "Mixtral of
Experts", arXiv:2401.04088) used by diversa's AdaMoE, Sigma-MoE-Tiny and SCMoE
reproductions.

One forward + backward of :class:`diversa.nn.moe.MoEFeedForward` (SwiGLU
experts, one torch thread) on T tokens, timed against

- a naive per-expert loop (the HF Mixtral pattern: for every expert, find its
  (token, slot) pairs with ``torch.where``, run the MLP, ``index_add_``), on
  the same weights and routing (outputs checked equal);
- a dense SwiGLU FFN with the same ACTIVE parameters per token
  (hidden width ``k * d_expert``), the cost floor of any top-k MoE.

The layer runs with its default ``dispatch="auto"`` (sorted per-expert
segments up to 16 experts, padded ``bmm`` above); a third row per size times
the other dispatch. Rows report the median seconds of each side, the ratio (diversa / anchor;
below 1 means diversa is faster) and diversa's tokens per second.

Usage: ``python benchmarks/bench_moe.py [--quick]`` or ``python -m benchmarks moe``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from diversa.nn.moe import MoEFeedForward

try:
    from benchmarks.timing import compare_timings
except ModuleNotFoundError:  # run as a script: python benchmarks/bench_moe.py
    from timing import compare_timings


def naive_moe_forward(layer: MoEFeedForward, x: torch.Tensor) -> torch.Tensor:
    """The same MoE output computed with a Python loop over experts and boolean masks."""
    routed = layer.router(x)
    out = torch.zeros_like(x)
    for e in range(layer.num_experts):
        token, slot = torch.where(routed.topk_idx == e)
        if token.numel() == 0:
            continue
        y = layer.expert_forward(e, x[token]) * routed.topk_w[token, slot, None]
        out.index_add_(0, token, y)
    return out


class DenseSwiGLU(nn.Module):
    """A dense SwiGLU FFN of hidden width ``hidden``."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.gate_up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


def _step(module_forward, x):
    def run():
        x.grad = None
        y = module_forward(x)
        y.square().mean().backward()
        return y.detach()
    return run


def run(quick: bool = False) -> list[dict]:
    """Forward+backward timings of the MoE layer vs the per-expert loop and the equal-active dense FFN.

    Quick: d=64, 8 experts of width 64, top-2, 1536 tokens (a TinyLM batch).
    Full: adds 32 fine-grained experts of width 16 at top-1 and a 8192-token
    batch with d=256.
    """
    configs = [(64, 64, 8, 2, 1536)]
    if not quick:
        configs += [(64, 16, 32, 1, 1536), (256, 256, 8, 2, 8192)]
    repeats = 5 if quick else 9
    rows = []
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for d, h, num_experts, k, tokens in configs:
            torch.manual_seed(0)
            layer = MoEFeedForward(d, h, num_experts=num_experts, top_k=k, expert_type="swiglu")  # dispatch "auto"
            chosen = "bmm" if num_experts > 16 else "segments"
            dense = DenseSwiGLU(d, k * h)
            x = torch.randn(tokens, d, requires_grad=True)
            with torch.no_grad():
                torch.testing.assert_close(layer(x)[0], naive_moe_forward(layer, x), atol=1e-5, rtol=1e-4)
            label = f"E={num_experts} k={k} d={d} h={h} T={tokens}"
            ours = _step(lambda z, layer=layer: layer(z)[0], x)  # (output, router_logits)
            for anchor_name, anchor in (("per-expert loop (HF Mixtral pattern)", _step(lambda z, layer=layer: naive_moe_forward(layer, z), x)),
                                        (f"dense SwiGLU, hidden {k * h} (equal active params)", _step(dense, x))):
                ours()
                anchor()  # warm-up
                row, _, _ = compare_timings(f"moe fwd+bwd default ({chosen}) ({label})", ours, anchor, anchor_name, repeats)
                row["tokens_per_s"] = tokens / row["diversa_s"]
                rows.append(row)
            other = "segments" if chosen == "bmm" else "bmm"
            alternative = MoEFeedForward(d, h, num_experts=num_experts, top_k=k, dispatch=other)
            alternative.load_state_dict(layer.state_dict())
            row, _, _ = compare_timings(f"moe fwd+bwd {other} dispatch ({label})",
                                        _step(lambda z, alternative=alternative: alternative(z)[0], x),
                                        _step(lambda z, layer=layer: naive_moe_forward(layer, z), x),
                                        "per-expert loop (HF Mixtral pattern)", repeats)
            row["tokens_per_s"] = tokens / row["diversa_s"]
            rows.append(row)
    finally:
        torch.set_num_threads(previous)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the TinyLM-sized layer only")
    args = parser.parse_args(argv)
    print(f"{'name':58s} {'diversa_s':>10s} {'anchor_s':>10s} {'ratio':>6s} {'tok/s':>9s}  anchor")
    for row in run(quick=args.quick):
        print(f"{row['name']:58s} {row['diversa_s']:10.4f} {row['anchor_s']:10.4f} {row['ratio']:6.2f} "
              f"{row['tokens_per_s']:9.0f}  {row['anchor']}")


if __name__ == "__main__":
    main()
