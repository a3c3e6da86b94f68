"""``diversa select`` end to end on a JSON Lines corpus: wall time and peak RSS against the row count.

Writes a corpus of N SynthText-MD texts (:mod:`diversa.datasets.synthtext`, a
random quality score per row) and runs, in a fresh process per size,
``diversa select CORPUS --dedup 0.8 --method kmq --embedder hash --budget 10% --clusters 64``.
The streaming path keeps only per-row ids, clusters, qualities and
near-duplicate band hashes, so peak RSS should grow by those arrays only, not
by the texts or embeddings. Not a timed test: a measurement to rerun.

Measured (OMP_NUM_THREADS=1, 2 cores shared with a test run, so the times
are noisy; budget 10%, k = 64; about a quarter of the rows are removed as
near-duplicates; JSON Lines parsed line by line and the selected lines copied
as read):

==========  ======  ============  =============  ========
rows        wall s  peak RSS MiB  dedup removed  selected
==========  ======  ============  =============  ========
100,000       32.4           500         25,306     7,469
300,000       54.3           512         75,259    22,474
1,000,000    169.3           542        250,545    74,946
==========  ======  ============  =============  ========

Peak RSS grows by about 40 bytes a row from 100k to 1M rows (the per-row
arrays and the 8-byte band hashes of the deduplication); the ~470 MiB floor is
the interpreter with scikit-learn, pyarrow and the fitted models.

Usage: ``python benchmarks/bench_select_corpus.py [--rows 1000000 300000 100000]`` or
``python -m benchmarks select_corpus``. Set ``OMP_NUM_THREADS=1`` for stable timings.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: k-means clusters: fixed, since the default (budget / 10) grows with the corpus and so would the fit.
CLUSTERS = 64


def write_corpus(path: Path, n_rows: int, seed: int = 0) -> None:
    """``n_rows`` JSON lines {"text", "q"}; SynthText-MD pools of 50,000 docs, reseeded per block."""
    import numpy as np

    from diversa.datasets.synthtext import make_multidomain_text, texts

    rng = np.random.default_rng(seed)
    block = 50_000
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n_rows, block):
            docs = make_multidomain_text(min(block, n_rows - start), seed=seed + start)
            for text in texts(docs):
                fh.write(json.dumps({"text": text, "q": round(float(rng.normal()), 4)}) + "\n")


def run_select(corpus: Path, out: Path) -> tuple[float, float, dict]:
    """Wall seconds and peak RSS (MiB) of one ``diversa select`` in a child process, and its report."""
    cmd = [sys.executable, "-m", "diversa.cli", "select", str(corpus), "--dedup", "0.8", "--method", "kmq",
           "--embedder", "hash", "--quality-field", "q", "--budget", "10%", "--clusters", str(CLUSTERS),
           "--out", str(out), "--overwrite"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = json.loads((out.with_name(f"{out.stem}_report") / "report.json").read_text())
    return wall, max(peak, before) / 1024, report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000],
                        help="corpus sizes (run smallest first: a child's peak RSS is a running maximum over children)")
    args = parser.parse_args(argv)
    print(f"{'rows':>10} {'wall s':>8} {'peak RSS MiB':>13} {'dedup removed':>14} {'selected':>9}")
    for n in sorted(args.rows):
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus.jsonl"
            write_corpus(corpus, n)
            wall, rss, report = run_select(corpus, Path(tmp) / "sel.jsonl")
            print(f"{n:>10,} {wall:>8.1f} {rss:>13.0f} {report['removed']['dedup']:>14,} {report['n_selected']:>9,}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
