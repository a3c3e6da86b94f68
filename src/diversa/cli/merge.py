"""``diversa merge``: merge safetensors checkpoints described by a mergekit-style YAML file."""

from __future__ import annotations

import sys

from diversa.cli.errors import UserError


def add_parser(commands) -> None:
    p = commands.add_parser(
        "merge", help="merge fine-tuned checkpoints (TIES, DARE, Task Arithmetic, PCB...) from a YAML config",
        description="Merge safetensors checkpoints described by a mergekit-style YAML config "
                    "(merge_method, base_model, models with per-model parameters, parameters, dtype). "
                    "Tensors stream one at a time; the output (sharded safetensors with an index, plus the "
                    "base model's config and tokenizer files) appears in OUT_DIR only when complete.")
    p.add_argument("config", metavar="CONFIG.yaml", help="merge config")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (must not exist or be empty)")
    p.add_argument("--max-shard-size", default="5GB", help="largest output shard, e.g. 5GB, 500MB (default 5GB)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT_DIR once the merge succeeds")
    p.add_argument("--no-copy-files", dest="copy_files", action="store_false",
                   help="do not copy config/tokenizer files from the base model")
    p.add_argument("--seed", type=int, default=None,
                   help="seed torch's global generator (DARE without a random_state parameter)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args) -> int:
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from diversa.combine.merge.config import load_config
    from diversa.combine.merge.engine import merge_checkpoints, parse_size

    try:
        parse_size(args.max_shard_size)
    except (TypeError, ValueError) as exc:
        raise UserError(f"--max-shard-size: {exc}") from None
    config = load_config(args.config)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 100)
    show = not args.quiet and sys.stderr.isatty()
    with Progress(TextColumn("merging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, disable=not show) as bar:
        task = bar.add_task("", total=None)

        def progress(done, total, key):
            bar.update(task, completed=done, total=total, description=key)

        result = merge_checkpoints(config, args.out_dir, max_shard_size=args.max_shard_size,
                                   copy_files=args.copy_files, overwrite=args.overwrite, progress=progress)
    print(f"merged {result.n_models} model(s) with {result.method}: {result.n_merged} of {result.n_tensors} "
          f"tensors merged, {result.total_bytes / 1e6:.1f} MB in {len(result.shards)} shard(s) -> "
          f"{result.out_dir}")
    if result.copied_files:
        print(f"copied from the base model: {', '.join(result.copied_files)}")
    return 0
