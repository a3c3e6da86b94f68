"""Every merge method diversa shares with mergekit, on one 3-checkpoint set: time and peak memory of both tools.

Three Llama-architecture checkpoints (random weights; the two "fine-tuned"
ones are the base plus small noise), stored in bfloat16, are built locally
with transformers: ~0.1 GB each in full mode (hidden 512, 8 layers, vocab
16000), ~12 MB in quick mode. For each method, both tools merge them from the
same YAML (float32 arithmetic, bfloat16 output; methods with a base merge two
models onto it, the others all three; SLERP, NearSwap and Arcee Fusion take one
model and the base; ``passthrough`` stacks a third of the layers of each) in fresh
processes pinned to one thread (``OMP_NUM_THREADS=1`` and torch's threads),
with the page cache warm. Reported per method: median wall time and peak
resident memory (``VmHWM`` of each child) of each tool and their ratios
(``diversa / mergekit``: below 1, diversa is faster or leaner), and the largest
difference between the two outputs (random methods draw different masks, so
only deterministic methods are expected to agree).

The read floor: for ``linear`` and ``task_arithmetic``, one process times,
after importing both, reading every input byte from the page cache and then
``merge_checkpoints`` itself, and reading the inputs again plus writing as
many bytes as the merge wrote (the floor of any tool that must write its
output); ``merge_over_read`` and ``merge_over_read_write`` are the merge's
time over each floor.

Measured (full mode, 3 x 91 MB, one thread per tool, 2 shared and busy cores,
so wall times are noisy; medians of 3): diversa / mergekit wall time 0.47
(TIES) to 0.94 (breadcrumbs_ties), with one outlier at 1.33 (dare_linear),
median 0.69 over the 17 methods; peak RSS 410-943 MB against 597-1336 MB,
ratio 0.59-0.82. Deterministic methods agree with mergekit to one bfloat16
step (4e-3) or exactly, except where the trim of TIES / breadcrumbs meets ties
among equal bfloat16 magnitudes at the density cutoff (up to 0.06); random
methods draw other masks. In-process, linear and task arithmetic take 0.67 s:
5.5x and 10x the time to read the inputs from the page cache (0.07-0.12 s),
but 1.0x and 1.6x the time to read them and write an output of the merge's
size (0.42-0.67 s): writing the output, not the arithmetic, dominates.
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

#: method -> (uses a base, number of merged models besides the base, YAML parameter lines)
METHODS = {
    "linear": (False, 3, "weight: {w}"),
    "task_arithmetic": (True, 2, "weight: {w}"),
    "ties": (True, 2, "weight: {w}, density: 0.5"),
    "dare_ties": (True, 2, "weight: {w}, density: 0.5"),
    "dare_linear": (True, 2, "weight: {w}, density: 0.5"),
    "breadcrumbs": (True, 2, "weight: {w}, density: 0.8, gamma: 0.05"),
    "breadcrumbs_ties": (True, 2, "weight: {w}, density: 0.8, gamma: 0.05"),
    "della": (True, 2, "weight: {w}, density: 0.5, epsilon: 0.1"),
    "della_linear": (True, 2, "weight: {w}, density: 0.5, epsilon: 0.1"),
    "sce": (True, 2, ""),
    "model_stock": (True, 2, ""),
    "slerp": (True, 1, ""),
    "nuslerp": (True, 2, "weight: {w}"),
    "multislerp": (False, 3, "weight: {w}"),
    "karcher": (False, 3, ""),
    "nearswap": (True, 1, ""),
    "arcee_fusion": (True, 1, ""),
    "ram": (True, 2, ""),
    "ramplus_tl": (True, 2, ""),
    "passthrough": (False, 3, ""),
}
GLOBAL = {"slerp": "parameters: {t: 0.4}\n", "nearswap": "parameters: {t: 0.001}\n",
          "sce": "parameters: {select_topk: 0.5}\n"}
WEIGHTS = (1.0, 0.5, 0.7)
FLOOR_METHODS = ("linear", "task_arithmetic")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

#: Every child writes its own peak RSS (``VmHWM``: the high-water mark of its address space since ``exec``) to
#: ``$PEAK_FILE`` at exit. The ``wait4``/``getrusage`` maximum is no use here: Linux carries the parent's peak
#: (this process built the checkpoints) into the child's ``ru_maxrss`` across fork and exec.
PEAK = ("import atexit, os\n"
        "def _peak():\n"
        "    kb = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "    open(os.environ['PEAK_FILE'], 'w').write(kb)\n"
        "atexit.register(_peak)\n")
DIVERSA_DRIVER = PEAK + ("import sys, torch; torch.set_num_threads(1)\n"
                  "from diversa.combine.merge.engine import merge_checkpoints\n"
                  "merge_checkpoints(sys.argv[1], sys.argv[2], max_shard_size='2GB')\n")
MERGEKIT_DRIVER = PEAK + ("import sys, torch; torch.set_num_threads(1)\n"
                   "from mergekit.scripts.run_yaml import main\n"
                   "sys.argv = ['mergekit-yaml', sys.argv[1], sys.argv[2], '--out-shard-size', '2B']\n"
                   "main()\n")
FLOOR_DRIVER = PEAK + """\
import json, sys, time, torch
torch.set_num_threads(1)
from diversa.combine.merge.engine import merge_checkpoints
buf = bytearray(1 << 24)
start = time.perf_counter()
for p in sys.argv[3:]:
    with open(p, 'rb', buffering=0) as f:
        while f.readinto(buf):
            pass
read = time.perf_counter() - start
start = time.perf_counter()
merge_checkpoints(sys.argv[1], sys.argv[2], max_shard_size='2GB')
merge = time.perf_counter() - start
size = sum(p.stat().st_size for p in __import__('pathlib').Path(sys.argv[2]).glob('*.safetensors'))
start = time.perf_counter()
with open(sys.argv[3], 'rb', buffering=0) as src:  # the bytes of one output, read and written once
    for p in sys.argv[3:]:
        with open(p, 'rb', buffering=0) as f:
            while f.readinto(buf):
                pass
    with open(sys.argv[2] + '.copy', 'wb') as out:
        left = size
        while left > 0:
            n = src.readinto(buf) or 0
            if n == 0:
                src.seek(0)
                continue
            out.write(memoryview(buf)[:min(n, left)])
            left -= min(n, left)
copy = time.perf_counter() - start
print(json.dumps({"read_s": read, "merge_s": merge, "read_write_s": copy}))
"""


def build_checkpoints(root: Path, quick: bool) -> dict[str, Path]:
    """A base Llama and two noisy copies, bfloat16 safetensors with config.json."""
    import transformers
    from safetensors.torch import load_file, save_file

    size = ({"hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 6, "vocab_size": 4000} if quick
            else {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 9, "vocab_size": 16000})
    config = transformers.LlamaConfig(num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=512,
                                      tie_word_embeddings=False, **size)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(root / "base")
    base = load_file(root / "base" / "model.safetensors")
    paths = {"base": root / "base"}
    for i, name in enumerate(("m1", "m2")):
        g = torch.Generator().manual_seed(i + 1)
        (root / name).mkdir()
        sd = {k: (v.float() + 0.02 * torch.randn(v.shape, generator=g)).to(v.dtype) for k, v in base.items()}
        save_file(sd, root / name / "model.safetensors", metadata={"format": "pt"})
        shutil.copy(root / "base" / "config.json", root / name / "config.json")
        paths[name] = root / name
    return paths


def write_config(root: Path, method: str, paths: dict[str, Path], n_layers: int) -> Path:
    takes_base, n_models, params = METHODS[method]
    names = ["m1", "m2"][:n_models] if takes_base else ["base", "m1", "m2"]
    text = f"merge_method: {method}\n"
    if method == "passthrough":
        third = n_layers // 3
        text += "slices:\n" + "".join(
            f"  - sources: [{{model: {paths[n]}, layer_range: [{i * third}, {(i + 1) * third}]}}]\n"
            for i, n in enumerate(names))
    else:
        if takes_base:
            text += f"base_model: {paths['base']}\n"
        text += "models:\n"
        for name, w in zip(names, WEIGHTS):
            text += f"  - model: {paths[name]}\n"
            if params:
                text += f"    parameters: {{{params.format(w=w)}}}\n"
        text += GLOBAL.get(method, "")
    text += "dtype: float32\nout_dtype: bfloat16\n"
    path = root / f"{method}.yaml"
    path.write_text(text)
    return path


def _run_measured(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child."""
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak"
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, env={**ENV, "PEAK_FILE": str(peak_file)}, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
        peak = int(peak_file.read_text()) / 1024.0 if peak_file.is_file() else float("nan")
        return seconds, peak, proc.stdout.decode()


def _largest_difference(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    x, y = {}, {}
    for folder, sd in ((a, x), (b, y)):
        for shard in folder.glob("*.safetensors"):
            sd.update(load_file(shard))
    if set(x) != set(y):
        return float("nan")
    return max(float((x[k].float() - y[k].float()).abs().max()) for k in x)


def run(quick: bool = False, methods=None) -> list[dict]:
    import importlib.util

    if importlib.util.find_spec("mergekit") is None:
        print("bench_merge_methods: mergekit not installed; skipped", file=sys.stderr)
        return []
    repeats = 1 if quick else 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_merge_methods_") as tmp:
        root = Path(tmp)
        paths = build_checkpoints(root, quick)
        n_layers = json.loads((paths["base"] / "config.json").read_text())["num_hidden_layers"]
        inputs = [str(p / "model.safetensors") for p in paths.values()]
        input_mb = sum(Path(p).stat().st_size for p in inputs) / 1e6
        for method in methods or METHODS:
            cfg = write_config(root, method, paths, n_layers)
            runs: dict[str, list[tuple[float, float]]] = {"diversa": [], "mergekit": []}
            for r in range(repeats):
                for side in ("diversa", "mergekit") if r % 2 == 0 else ("mergekit", "diversa"):
                    out = root / f"out_{side}"
                    shutil.rmtree(out, ignore_errors=True)
                    driver = DIVERSA_DRIVER if side == "diversa" else MERGEKIT_DRIVER
                    seconds, peak, _ = _run_measured([sys.executable, "-c", driver, str(cfg), str(out)])
                    runs[side].append((seconds, peak))
            t = {side: statistics.median(s for s, _ in v) for side, v in runs.items()}
            m = {side: max(p for _, p in v) for side, v in runs.items()}
            row = {"name": f"merge {method}, 3 checkpoints x {input_mb / 3:.0f} MB bf16: time",
                   "diversa_s": t["diversa"],
                   "anchor": "mergekit 0.1.x", "anchor_s": t["mergekit"], "ratio": t["diversa"] / t["mergekit"],
                   "diversa_rss_mb": m["diversa"], "mergekit_rss_mb": m["mergekit"],
                   "rss_ratio": m["diversa"] / m["mergekit"],
                   "max_abs_diff": _largest_difference(root / "out_diversa", root / "out_mergekit")}
            if method in FLOOR_METHODS:
                floors = []
                for _ in range(repeats):
                    shutil.rmtree(root / "out_floor", ignore_errors=True)
                    Path(f"{root / 'out_floor'}.copy").unlink(missing_ok=True)
                    floors.append(json.loads(_run_measured([sys.executable, "-c", FLOOR_DRIVER, str(cfg),
                                                            str(root / "out_floor"), *inputs])[2]))
                row["in_process_merge_s"] = statistics.median(f["merge_s"] for f in floors)
                row["read_floor_s"] = statistics.median(f["read_s"] for f in floors)
                row["read_write_floor_s"] = statistics.median(f["read_write_s"] for f in floors)
                row["merge_over_read"] = row["in_process_merge_s"] / row["read_floor_s"]
                row["merge_over_read_write"] = row["in_process_merge_s"] / row["read_write_floor_s"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    chosen = [a for a in sys.argv[1:] if not a.startswith("--")]
    for row in run(quick="--quick" in sys.argv, methods=chosen or None):
        print(json.dumps(row))
