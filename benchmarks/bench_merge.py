"""``diversa merge`` vs ``mergekit-yaml`` (mergekit 0.1.5) on identical Llama checkpoints.

Three Llama-architecture checkpoints are built locally with transformers
(random weights; the base is ``save_pretrained``-ed sharded, the two
"fine-tuned" models are the base plus small bf16 noise), then both tools run
the same TIES config (per-model weight 1.0 / 0.5, density 0.5, float32
arithmetic, bfloat16 output) in fresh processes. Reported per run: wall time
and peak resident memory (``wait4`` rusage of the child), the time to just read
every input byte once (the physical floor of any merge), and agreement of the
two outputs (largest absolute difference and fraction of differing entries:
the trim's tie-breaking between equal magnitudes may differ). The page cache
is warmed first, so every side reads from memory.

Ratios: ``diversa / mergekit`` time and peak RSS (below 1 means diversa is
faster/leaner) and ``diversa / read floor``. Full mode: ~0.45 GB per model
(hidden 1024, 12 layers, vocab 32000); quick mode: ~25 MB per model.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CONFIG = """\
merge_method: ties
base_model: {base}
models:
  - model: {base}
  - model: {m1}
    parameters: {{weight: 1.0, density: 0.5}}
  - model: {m2}
    parameters: {{weight: 0.5, density: 0.5}}
parameters: {{normalize: true}}
dtype: float32
out_dtype: bfloat16
"""

#: Interleaved runs per side in full mode (medians reported; peak RSS is the maximum).
FULL_REPEATS = 3

DIVERSA_DRIVER = ("import sys; from diversa.combine.merge.engine import merge_checkpoints; "
                  "merge_checkpoints(sys.argv[1], sys.argv[2], max_shard_size='2GB')")
READ_DRIVER = ("import sys\nbuf = bytearray(1 << 26)\nfor p in sys.argv[1:]:\n"
               "    with open(p, 'rb', buffering=0) as f:\n        while f.readinto(buf):\n            pass\n")


def build_checkpoints(root: Path, quick: bool) -> dict[str, Path]:
    """A base Llama (sharded save_pretrained) and two noisy copies, bf16 safetensors."""
    import transformers
    from safetensors.torch import load_file, save_file

    size = ({"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "vocab_size": 8000} if quick else
            {"hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 12, "vocab_size": 32000})
    config = transformers.LlamaConfig(num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=512,
                                      tie_word_embeddings=False, **size)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(root / "base", max_shard_size="100MB" if not quick else "10MB")
    del model
    shards = sorted((root / "base").glob("*.safetensors"))
    paths = {"base": root / "base"}
    for i, name in enumerate(("m1", "m2")):
        out = root / name
        out.mkdir()
        g = torch.Generator().manual_seed(i + 1)
        for shard in shards:
            sd = load_file(shard)
            sd = {k: (v.float() + 0.02 * torch.randn(v.shape, generator=g)).to(v.dtype) for k, v in sd.items()}
            save_file(sd, out / shard.name, metadata={"format": "pt"})
        for extra in (root / "base").iterdir():
            if not extra.name.endswith(".safetensors"):
                shutil.copy(extra, out / extra.name)
        paths[name] = out
    return paths


def _run(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024.0


def _load_dir(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {}
    for shard in sorted(path.glob("*.safetensors")):
        out.update(load_file(shard))
    return out


def compare_outputs(a: Path, b: Path) -> dict:
    x, y = _load_dir(a), _load_dir(b)
    if set(x) != set(y):
        raise RuntimeError(f"outputs hold different tensors: {sorted(set(x) ^ set(y))[:5]}")
    max_diff, differing, total = 0.0, 0, 0
    for key in x:
        d = (x[key].float() - y[key].float()).abs()
        max_diff = max(max_diff, float(d.max()) if d.numel() else 0.0)
        differing += int((d > 0).sum())
        total += d.numel()
    return {"max_abs_diff": max_diff, "differing_fraction": differing / total, "n_tensors": len(x)}


def run(quick: bool = False) -> list[dict]:
    mergekit = shutil.which("mergekit-yaml") or str(Path(sys.executable).parent / "mergekit-yaml")
    if not Path(mergekit).exists():
        print("bench_merge: mergekit-yaml not found (pip install mergekit); skipped", file=sys.stderr)
        return []
    repeats = 1 if quick else FULL_REPEATS
    with tempfile.TemporaryDirectory(prefix="bench_merge_") as tmp:
        root = Path(tmp)
        paths = build_checkpoints(root, quick)
        cfg = root / "ties.yaml"
        cfg.write_text(CONFIG.format(**{k: str(v) for k, v in paths.items()}))
        inputs = [str(p) for name in ("base", "m1", "m2") for p in sorted(paths[name].glob("*.safetensors"))]
        input_bytes = sum(Path(p).stat().st_size for p in inputs)
        read = [sys.executable, "-c", READ_DRIVER, *inputs]
        _run(read)  # warm the page cache
        times = {"diversa": [], "mergekit": [], "read": []}
        rss = {"diversa": [], "mergekit": [], "read": []}
        for r in range(repeats):
            order = ["diversa", "mergekit", "read"] if r % 2 == 0 else ["read", "mergekit", "diversa"]
            for side in order:
                out = root / f"out_{side}"
                shutil.rmtree(out, ignore_errors=True)
                argv = {"diversa": [sys.executable, "-c", DIVERSA_DRIVER, str(cfg), str(out)],
                        "mergekit": [mergekit, str(cfg), str(out), "--out-shard-size", "2B"],
                        "read": read}[side]
                seconds, peak = _run(argv)
                times[side].append(seconds)
                rss[side].append(peak)
        agreement = compare_outputs(root / "out_diversa", root / "out_mergekit")
    med = {k: statistics.median(v) for k, v in times.items()}
    peak = {k: max(v) for k, v in rss.items()}
    label = f"TIES, 3 Llama checkpoints x {input_bytes / 3 / 1e9:.2f} GB (bf16)"
    common = {"input_gb": input_bytes / 1e9, "diversa_rss_mb": peak["diversa"], "mergekit_rss_mb": peak["mergekit"],
              "read_floor_s": med["read"], **agreement}
    return [
        {"name": f"merge {label}: time", "diversa_s": med["diversa"], "anchor": "mergekit-yaml 0.1.5",
         "anchor_s": med["mergekit"], "ratio": med["diversa"] / med["mergekit"], **common},
        {"name": f"merge {label}: peak RSS (MB in the s columns)", "diversa_s": peak["diversa"],
         "anchor": "mergekit-yaml 0.1.5", "anchor_s": peak["mergekit"], "ratio": peak["diversa"] / peak["mergekit"],
         **common},
        {"name": f"merge {label}: vs read floor", "diversa_s": med["diversa"], "anchor": "read all input bytes",
         "anchor_s": med["read"], "ratio": med["diversa"] / med["read"], **common},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
