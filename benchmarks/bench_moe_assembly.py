"""MoE assembly speed and memory: ``diversa moe`` vs ``mergekit-moe`` on the same config, on CPU.

A base Llama (hidden 512, MLP 1408, 4 layers, vocabulary 8000, float32,
~84 MB) and four MLP fine-tunes of it are written locally with a word-level
tokenizer; both tools then build the same 4-expert, top-2 Mixtral in a fresh
process for each ``gate_mode`` (random, cheap_embed, hidden: two prompts per
expert). Reported per mode: median wall time of each tool over ``repeats``
runs (ratio = diversa / mergekit; below 1 means diversa is faster), the
peak resident memory of each process (``wait4`` rusage, MB), and the largest
router-weight difference between the two outputs (0 for random only when
both draw from the same seed, which mergekit's CLI does not take, so that
row reports NaN). Quick mode: hidden 128, MLP 352, one run.
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

WORDS = ("solve", "the", "equation", "add", "numbers", "def", "main", "return", "print", "hello", "how", "are",
         "you", "write", "a", "poem", "about", "sea", "translate", "into", "french")
PROMPTS = [["solve the equation", "add numbers"], ["def main", "return print"],
           ["hello how are you", "write a poem"], ["translate into french", "about the sea"]]


def write_models(root: Path, hidden: int, mlp: int) -> None:
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(("<unk>", "<s>", "</s>", "<pad>") + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                                     unk_token="<unk>", pad_token="<pad>")
    config = transformers.LlamaConfig(vocab_size=8000, hidden_size=hidden, intermediate_size=mlp,
                                      num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=8,
                                      bos_token_id=1, eos_token_id=2, pad_token_id=3, dtype="float32")
    torch.manual_seed(0)
    base = transformers.LlamaForCausalLM(config)
    for name in ("base", "e0", "e1", "e2", "e3"):
        if name != "base":
            with torch.no_grad():
                for key, param in base.named_parameters():
                    if ".mlp." in key:
                        param.add_(0.01 * torch.randn_like(param))
        base.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)


def write_config(root: Path, gate_mode: str) -> Path:
    experts = [{"source_model": str(root / f"e{i}"), "positive_prompts": p} for i, p in enumerate(PROMPTS)]
    path = root / f"{gate_mode}.json"  # JSON is YAML
    path.write_text(json.dumps({"base_model": str(root / "base"), "gate_mode": gate_mode, "experts_per_token": 2,
                                "experts": experts}))
    return path


def _run(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a child process on one torch thread."""
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[2]} failed: {err[-2000:]}")
    return seconds, usage.ru_maxrss * 1024 / 1e6


def _router_gap(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    ours, theirs = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return max((ours[k].float() - theirs[k].float()).abs().max().item() for k in ours if k.endswith("gate.weight"))


def run(quick: bool = False) -> list[dict]:
    hidden, mlp, repeats = (128, 352, 1) if quick else (512, 1408, 3)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_moe_assembly_") as tmp:
        root = Path(tmp)
        write_models(root, hidden, mlp)
        for gate_mode in ("random", "cheap_embed", "hidden"):
            config = write_config(root, gate_mode)
            runs = {"diversa": [], "mergekit": []}
            for _ in range(repeats):
                for tool in runs:
                    out = root / f"out_{tool}"
                    shutil.rmtree(out, ignore_errors=True)
                    argv = ([sys.executable, "-m", "diversa.cli", "moe", str(config), "--out", str(out), "--quiet"]
                            if tool == "diversa" else
                            [sys.executable, "-m", "mergekit.scripts.moe", str(config), str(out), "--device", "cpu"])
                    runs[tool].append(_run(argv))
            gap = float("nan") if gate_mode == "random" else _router_gap(root / "out_diversa", root / "out_mergekit")
            ours = statistics.median(s for s, _ in runs["diversa"])
            theirs = statistics.median(s for s, _ in runs["mergekit"])
            rows.append({
                "name": f"moe 4 experts x 4 layers, hidden {hidden}, gate_mode {gate_mode}",
                "diversa_s": ours, "anchor": "mergekit-moe", "anchor_s": theirs, "ratio": ours / theirs,
                "diversa_peak_mb": max(m for _, m in runs["diversa"]),
                "mergekit_peak_mb": max(m for _, m in runs["mergekit"]), "router_max_abs_diff": gap,
            })
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
