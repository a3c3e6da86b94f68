"""``diversa merge``: merge safetensors checkpoints described by a mergekit-style YAML file."""

from __future__ import annotations

import sys

from diversa.cli.errors import UserError

#: The ``merge_method`` values the engine knows (:data:`diversa.combine.merge.config.METHODS`),
#: spelled out so that building the parser does not import torch.
METHODS = ("linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties",
           "della", "della_linear", "sce", "model_stock", "slerp", "nuslerp", "multislerp", "karcher", "nearswap",
           "arcee_fusion", "ram", "ramplus_tl", "passthrough", "magnitude_prune", "pcb")


def add_parser(commands) -> None:
    p = commands.add_parser(
        "merge", help="merge fine-tuned checkpoints (TIES, DARE, DELLA, SLERP, Model Stock, ...) from a YAML config",
        description="Merge safetensors checkpoints described by a mergekit-style YAML config "
                    "(merge_method, base_model, models with per-model parameters -- or slices of layer ranges --, "
                    "parameters, dtype, out_dtype, tokenizer_source). "
                    f"merge_method is one of: {', '.join(METHODS)}. "
                    "permute: true (or mlp, llama) first aligns every model's hidden units to the base (or first) "
                    "model by weight matching, for models trained independently. "
                    "Tensors stream one at a time; the output (sharded safetensors with an index, the "
                    "base model's config and tokenizer files, and a README.md model card with the recipe) "
                    "appears in OUT_DIR only when complete.")
    p.add_argument("config", metavar="CONFIG.yaml", help="merge config")
    p.add_argument("out_dir", metavar="OUT_DIR",
                   help="output folder (must not exist or be empty, and must not be or hold an input model)")
    p.add_argument("--max-shard-size", default="5GB", help="largest output shard, e.g. 5GB, 500MB (default 5GB)")
    p.add_argument("--max-memory", default=None,
                   help="peak memory of the whole merge, e.g. 8GB; tensors that do not fit are merged in row "
                        "blocks (default: no limit, one tensor at a time)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT_DIR once the merge succeeds")
    p.add_argument("--no-copy-files", dest="copy_files", action="store_false",
                   help="do not copy config/tokenizer files from the base model")
    p.add_argument("--random-seed", "--seed", dest="seed", type=int, default=None,
                   help="seed of the random masks of DARE and DELLA when the config sets no random_state: the same "
                        "seed gives the same merge (default 0)")
    p.add_argument("--allow-nan", action="store_true",
                   help="merge models holding NaN or infinite values instead of refusing them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from diversa.combine.merge.config import load_config
    from diversa.combine.merge.engine import merge_checkpoints, parse_size

    for option, value in (("--max-shard-size", args.max_shard_size), ("--max-memory", args.max_memory)):
        try:
            if value is not None:
                parse_size(value, option)
        except (TypeError, ValueError) as exc:
            raise UserError(str(exc)) from None
    config = load_config(args.config)
    configured = config.parameters.get("random_state")
    if args.seed is not None and configured is not None and args.seed != configured:
        raise UserError(f"--random-seed {args.seed} contradicts random_state: {configured} in {args.config}; keep one")
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 100)
    show = not args.quiet and sys.stderr.isatty()
    with Progress(TextColumn("merging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, disable=not show) as bar:
        task = bar.add_task("", total=None)

        def progress(done, total, key):
            bar.update(task, completed=done, total=total, description=key)

        result = merge_checkpoints(config, args.out_dir, max_shard_size=args.max_shard_size,
                                   copy_files=args.copy_files, overwrite=args.overwrite, max_memory=args.max_memory,
                                   seed=0 if args.seed is None else args.seed, allow_nan=args.allow_nan,
                                   progress=progress)
    print(f"merged {result.n_models} model(s) with {result.method}: {result.n_merged} of {result.n_tensors} "
          f"tensors merged, {result.total_bytes / 1e6:.1f} MB in {len(result.shards)} shard(s) -> "
          f"{result.out_dir}")
    if result.aligned:
        print(f"hidden units aligned to the anchor by weight matching: {', '.join(result.aligned)}")
    if result.seed is not None:
        print(f"random masks drawn with seed {result.seed} (rerun with the same seed to reproduce)")
    if result.chunked:
        print(f"merged in row blocks to fit --max-memory: {', '.join(result.chunked)}")
    for model, tensor in result.nonfinite:
        print(f"warning: model {model}: tensor {tensor} holds NaN or infinite values (merged: --allow-nan)",
              file=sys.stderr)
    if result.copied_files:
        print(f"copied from the base model: {', '.join(result.copied_files)}")
    return 0
