"""Peak memory of ``diversa merge --max-memory``: three models with a 32k x 1024 embedding under 1 GB.

A base and three fine-tuned float32 checkpoints, each a 32000 x 1024
embedding (131 MB) plus a norm vector, are merged by ``diversa merge`` in a
fresh process with ``--max-memory 1GB`` and without a budget, for TIES,
DARE-TIES and Task Arithmetic. Reported per run: the peak resident memory of
the whole process (``wait4`` rusage, in MB of 10^6 bytes, so the budget is
1000 MB), whether it stayed within the budget, and the wall time. The budget
covers everything the process holds: the interpreter with torch (~0.25 GB),
the inputs' blocks, the method's working set and the output block. Without a
budget the whole embedding of every model is in memory at once.

Ratio: peak RSS with the budget / without it. Quick mode: an 8000 x 1024
embedding under 400 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

METHODS = {
    "ties": "parameters: {{weight: {w}, density: 0.3}}",
    "dare_ties": "parameters: {{weight: {w}, density: 0.3}}",
    "task_arithmetic": "parameters: {{weight: {w}}}",
}


def build_checkpoints(root: Path, rows: int) -> None:
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    base = {"model.embed_tokens.weight": torch.randn(rows, 1024, generator=g), "model.norm.weight": torch.ones(1024)}
    for name in ("base", "m1", "m2", "m3"):
        (root / name).mkdir()
        sd = base if name == "base" else {k: v + 0.01 * torch.randn(v.shape, generator=g) for k, v in base.items()}
        save_file(sd, root / name / "model.safetensors", metadata={"format": "pt"})


def write_config(root: Path, method: str) -> Path:
    models = "".join(f"  - model: {root / m}\n    {METHODS[method].format(w=w)}\n"
                     for m, w in (("m1", 1.0), ("m2", 0.5), ("m3", 0.7)))
    path = root / f"{method}.yaml"
    path.write_text(f"merge_method: {method}\nbase_model: {root / 'base'}\nmodels:\n{models}")
    return path


def _run(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"diversa merge failed: {err[-2000:]}")
    return seconds, usage.ru_maxrss * 1024 / 1e6


def run(quick: bool = False) -> list[dict]:
    rows, budget = (8000, "400MB") if quick else (32000, "1GB")
    budget_mb = float(budget.removesuffix("GB")) * 1000 if budget.endswith("GB") else float(budget[:-2])
    out_rows = []
    with tempfile.TemporaryDirectory(prefix="bench_merge_memory_") as tmp:
        root = Path(tmp)
        build_checkpoints(root, rows)
        for method in METHODS:
            config = write_config(root, method)
            runs = {}
            for label, extra in (("budget", ["--max-memory", budget]), ("whole", [])):
                out = root / f"out_{method}_{label}"
                shutil.rmtree(out, ignore_errors=True)
                runs[label] = _run([sys.executable, "-m", "diversa.cli", "merge", str(config), str(out), "--quiet",
                                    *extra])
            (t_budget, rss_budget), (t_whole, rss_whole) = runs["budget"], runs["whole"]
            out_rows.append({
                "name": f"merge 3 x {rows // 1000}k x 1024 embedding, {method}, --max-memory {budget}: "
                        "peak RSS (MB in the s columns)",
                "diversa_s": rss_budget, "anchor": "same merge, no budget", "anchor_s": rss_whole,
                "ratio": rss_budget / rss_whole, "budget_mb": budget_mb, "within_budget": rss_budget <= budget_mb,
                "seconds_budget": t_budget, "seconds_whole": t_whole,
            })
    return out_rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
