"""``diversa merge-lora``: merge PEFT LoRA adapters of one base model in LoRA space."""

from __future__ import annotations

import sys
from pathlib import Path

from diversa.cli.errors import UserError
from diversa.cli.outputs import add_overwrite, check_output_folder

#: :data:`diversa.combine.merge.lora_space.LORA_METHODS`, spelled out so that building the parser does not import torch.
METHODS = ("linear", "task_arithmetic", "ties", "dare", "della", "breadcrumbs", "magnitude_prune", "sce", "pcb")
#: Methods that draw random masks (take ``random_state``).
RANDOM_METHODS = ("dare", "della")


def add_parser(commands) -> None:
    p = commands.add_parser(
        "merge-lora", help="merge PEFT LoRA adapters in LoRA space (TIES, DARE, task arithmetic, ...) into one adapter",
        description="Merge PEFT LoRA adapters trained on one base model: each module's updates "
                    "s_i B_i A_i are merged with the chosen method, and the merged update is written back as "
                    "one LoRA adapter of rank --rank by an exact SVD. The relative Frobenius truncation error "
                    "is reported (0 when the rank suffices). The output folder appears only when complete.")
    p.add_argument("adapters", metavar="ADAPTER", nargs="+", help="PEFT adapter folders (adapter_config.json)")
    p.add_argument("--out", required=True, help="output adapter folder (must not exist or be empty; --overwrite replaces it whole)")
    p.add_argument("--method", choices=METHODS, default="task_arithmetic", help="merge method")
    p.add_argument("--rank", type=int, default=None,
                   help="output rank (default: the sum of the input ranks, exact for linear merges)")
    p.add_argument("--alpha", type=float, default=None, help="output lora_alpha (default: the rank, scaling 1)")
    p.add_argument("--weights", type=float, nargs="+", default=None,
                   help="one weight per adapter (default: 1 each)")
    p.add_argument("--density", type=float, default=None, help="kept fraction for ties, della, breadcrumbs, "
                                                               "magnitude_prune (default: the method's)")
    p.add_argument("--drop-rate", type=float, default=None, help="dropped fraction for dare (default: the method's)")
    p.add_argument("--scaling", type=float, default=None, help="lambda applied to the merged update "
                                                               "(default: the method's; 1 for task_arithmetic)")
    p.add_argument("--path", choices=("auto", "full", "lowrank"), default="auto",
                   help="lowrank never forms the full update (linear methods only); auto picks it when possible")
    p.add_argument("--seed", type=int, default=0, help="seed of dare's and della's random masks")
    add_overwrite(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _params(args) -> dict:
    params = {}
    if args.weights is not None:
        if len(args.weights) != len(args.adapters):
            raise UserError(f"--weights has {len(args.weights)} values for {len(args.adapters)} adapters")
        params["weights"] = args.weights
    for option, name in (("density", "density"), ("drop_rate", "drop_rate"), ("scaling", "scaling")):
        value = getattr(args, option)
        if value is not None:
            params[name] = value
    if args.method in RANDOM_METHODS:
        params["random_state"] = args.seed
    return params


def run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from diversa.combine.merge.lora_space import merge_lora, save_merged_adapter
    from diversa.nn.lora.peft_format import CONFIG_NAME, WEIGHTS_NAME

    check_output_folder(args.out, argument="--out", files=(CONFIG_NAME, WEIGHTS_NAME),
                        inputs=[("ADAPTER", a) for a in args.adapters], overwrite=args.overwrite)
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise UserError(f"--out {args.out!r} exists and is not empty; pass --overwrite to replace it")
    params = _params(args)
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 100)
    show = not args.quiet and sys.stderr.isatty()
    with Progress(TextColumn("merging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, disable=not show) as bar:
        task = bar.add_task("", total=None)

        def progress(done, total, module):
            bar.update(task, completed=done, total=total, description=module)

        try:
            merged = merge_lora(args.adapters, method=args.method, rank=args.rank, lora_alpha=args.alpha,
                                path=args.path, progress=progress, **params)
        except TypeError as exc:  # a parameter the method does not take, or of the wrong type
            raise UserError(str(exc)) from None
    save_merged_adapter(merged, args.out, overwrite=args.overwrite)
    worst = max(merged.errors, key=merged.errors.get)
    print(f"merged {len(args.adapters)} adapter(s) with {args.method} ({merged.path} path) into rank "
          f"{merged.config['r']}: {len(merged.ranks)} module(s) -> {args.out}")
    print(f"relative truncation error: total {merged.total_error:.3g}, largest {merged.errors[worst]:.3g} ({worst})")
    if args.method in RANDOM_METHODS:
        print(f"random masks drawn with seed {args.seed} (rerun with the same seed to reproduce)")
    return 0
