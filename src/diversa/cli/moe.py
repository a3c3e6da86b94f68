"""``diversa moe``: assemble a Mixtral mixture of experts from dense fine-tunes (a mergekit-moe YAML file)."""

from __future__ import annotations

import sys

from diversa.cli.errors import UserError

#: The ``gate_mode`` values (:data:`diversa.combine.moe.assembly_config.GATE_MODES`), spelled out so that
#: building the parser does not import torch.
GATE_MODES = ("hidden", "cheap_embed", "random")


def add_parser(commands) -> None:
    p = commands.add_parser(
        "moe", help="build a Mixtral mixture of experts from dense Llama/Mistral fine-tunes (mergekit-moe YAML)",
        description="Assemble a Mixtral checkpoint from a mergekit-moe YAML config (base_model, gate_mode, dtype, "
                    "experts_per_token, experts: [{source_model, positive_prompts, negative_prompts}]). "
                    "Attention, norms and embeddings come from base_model; expert e of every layer is the MLP of "
                    "experts[e].source_model; the routers are initialised by gate_mode, one of "
                    f"{', '.join(GATE_MODES)}: hidden states of the prompts in the base model, their mean input "
                    "embedding, or seeded random rows. The output (safetensors, config.json, the base model's "
                    "tokenizer) appears in --out only when complete and loads with "
                    "transformers.AutoModelForCausalLM.")
    p.add_argument("config", metavar="CONFIG.yml", help="mergekit-moe config")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (must not exist or be empty, and must not be or hold an input model)")
    p.add_argument("--seed", type=int, default=0, help="seed of gate_mode: random (default 0)")
    p.add_argument("--max-shard-size", default="5GB", help="largest output shard, e.g. 5GB, 500MB (default 5GB)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out once the assembly succeeds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from diversa.combine.merge.engine import parse_size
    from diversa.combine.moe.assemble import write_moe
    from diversa.combine.moe.assembly_config import load_moe_config

    try:
        parse_size(args.max_shard_size, "--max-shard-size")
    except (TypeError, ValueError) as exc:
        raise UserError(str(exc)) from None
    config = load_moe_config(args.config)
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 100)
    show = not args.quiet and sys.stderr.isatty()
    with Progress(TextColumn("assembling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, disable=not show) as bar:
        task = bar.add_task("", total=None)

        def progress(done, total, what):
            bar.update(task, completed=done, total=total, description=what)

        result = write_moe(config, args.out, seed=args.seed, overwrite=args.overwrite,
                           max_shard_size=args.max_shard_size, progress=progress)
    print(f"assembled a Mixtral MoE: {result.n_experts} experts x {result.n_layers} layers, top-"
          f"{result.experts_per_token}, routers from gate_mode {result.gate_mode}"
          + (f" (seed {result.seed})" if result.seed is not None else "")
          + f", {result.total_bytes / 1e6:.1f} MB in {len(result.shards)} shard(s) -> {result.out_dir}")
    if result.copied_files:
        print(f"copied from the base model: {', '.join(result.copied_files)}")
    return 0
