"""``diversa seqpar``: plan sequence parallelism for a batch of variable-length sequences.

``diversa seqpar plan LENGTHS`` splits the GPUs of a cluster into sequence-parallel
groups of different sizes for one global batch, with FlexSP's planner (Wang et al.,
arXiv:2412.01523), and prints the predicted step time beside the fixed-degree
baselines (DeepSpeed-Ulysses-style static degree, and the best single degree for the
batch). ``diversa seqpar sample N`` writes N long-tailed lengths to try it on. Times
come from the authors' profiled cost model (:mod:`diversa.systems.seqpar.cost_model`);
nothing runs on a GPU.
"""

from __future__ import annotations

import math
import re
import sys

from diversa.cli.errors import HelpFormatter, OneLineParser, UserError
from diversa.cli.outputs import add_overwrite, check_inputs, check_output_file, json_text

MODELS = ("7b", "13b", "30b")
SOLVERS = ("milp", "greedy")
#: Size units of --memory, in GB (GB and GiB alike: the cost model counts 1024 MB per GB).
UNITS = {"": 1.0, "g": 1.0, "gb": 1.0, "gib": 1.0, "m": 1 / 1024, "mb": 1 / 1024, "mib": 1 / 1024,
         "t": 1024.0, "tb": 1024.0, "tib": 1024.0}
#: Largest group with a measured all-to-all bandwidth (the authors' profile).
LARGEST_GROUP = 64


def add_parser(commands) -> None:
    p = commands.add_parser(
        "seqpar", help="plan heterogeneous sequence-parallel groups for variable-length batches (FlexSP)",
        description="Plan sequence parallelism for a global batch of variable-length sequences with FlexSP "
                    "(arXiv:2412.01523) and compare its predicted step time with fixed-degree sequence "
                    "parallelism. Times come from the authors' profiled cost model; nothing runs on a GPU.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=OneLineParser, required=True)
    _add_plan(actions)
    _add_sample(actions)


def _add_plan(actions) -> None:
    p = actions.add_parser(
        "plan", help="plan one global batch and compare it with fixed-degree baselines",
        formatter_class=HelpFormatter,
        description="Read one sequence length (tokens) per line and print FlexSP's plan: per micro-batch, the "
                    "group sizes and how many sequences each runs, with the predicted step time beside the static "
                    "degree (the smallest that holds the longest sequence, unless --static-degree) and the best "
                    "single degree for this batch.",
        epilog="example:\n  diversa seqpar plan lengths.txt --gpus 64 --memory 80GB --json plan.json")
    p.add_argument("lengths", metavar="LENGTHS", help="text file, one length per line ('-' for standard input)")
    p.add_argument("--gpus", type=int, default=16, help="GPUs in the cluster (a power of two)")
    p.add_argument("--memory", default="28GB",
                   help="memory per GPU for model states and activations, e.g. 28GB or 80GB (the authors' "
                        "planner used 28GB; leave headroom for buffers)")
    p.add_argument("--model", default="7b", choices=MODELS, help="the authors' profiled GPT model")
    p.add_argument("--solver", default="milp", choices=SOLVERS,
                   help="milp: the planner's MILP (scipy's HiGHS); greedy: longest-first over two-degree layouts")
    p.add_argument("--mb-options", type=int, default=3, help="micro-batch counts tried, from the fewest that fit")
    p.add_argument("--node-limit", type=int, default=20, help="HiGHS branch-and-bound nodes per micro-batch")
    p.add_argument("--time-limit", type=float, default=None,
                   help="HiGHS seconds per micro-batch (default: none, so the plan does not depend on the "
                        "machine's speed; for 64 GPUs try --time-limit 0.3 --jobs 2)")
    p.add_argument("--static-degree", type=int, default=None,
                   help="degree of the static baseline (default: the smallest that holds the longest sequence)")
    p.add_argument("--official", action="store_true", help="no groups of one GPU, as the authors' planner")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers over micro-batches")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws of sequences into groups")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the plans as JSON ('-' for standard output)")
    add_overwrite(p)
    p.set_defaults(handler=run_plan)


def _add_sample(actions) -> None:
    p = actions.add_parser(
        "sample", help="write N long-tailed sequence lengths (one per line)",
        formatter_class=HelpFormatter,
        description="Write N sequence lengths drawn from a log-normal fitted to Wikipedia's tokenized lengths, "
                    "stretched by --scale, clipped at --max-len and padded to a multiple of --pad-to.",
        epilog="example:\n  diversa seqpar sample 512 --out lengths.txt --max-len 128000")
    p.add_argument("n", metavar="N", type=int, help="number of lengths")
    p.add_argument("--out", required=True, help="output text file ('-' for standard output)")
    p.add_argument("--max-len", type=int, default=131072, help="context limit (longest length)")
    p.add_argument("--scale", type=float, default=8.0, help="stretch of the Wikipedia lengths (1: as they are)")
    p.add_argument("--pad-to", type=int, default=1, help="pad each length up to a multiple of this")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws")
    add_overwrite(p)
    p.set_defaults(handler=run_sample)


# -- reading and checking ---------------------------------------------------------------------------

def parse_memory(text: str) -> float:
    """GB from a size such as ``80GB``, ``28 GiB``, ``81920MB`` or ``80`` (GB); UserError otherwise."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in UNITS:
        raise UserError(f"--memory must be a size such as 80GB, 28GiB or 81920MB, got {text!r}")
    gb = float(match.group(1)) * UNITS[unit]
    if not (math.isfinite(gb) and gb > 0):
        raise UserError(f"--memory must be more than 0, got {text!r}")
    return gb


def read_lengths(path) -> list[int]:
    """The lengths of a text file, one positive integer per line (blank lines skipped); ValueError
    naming the line of anything else, or for a file without lengths."""
    from diversa.datasets.files import decode_text, describe, read_bytes

    where = describe(path, "LENGTHS")
    lengths = []
    for number, line in enumerate(decode_text(read_bytes(path, argument="LENGTHS"), where).splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        if not re.fullmatch(r"\+?[0-9]+", text):
            raise ValueError(f"{where} line {number}: {text[:40]!r} is not a whole number of tokens.")
        value = int(text)
        if value < 1:
            raise ValueError(f"{where} line {number}: a sequence needs at least 1 token, got {value}.")
        lengths.append(value)
    if not lengths:
        raise ValueError(f"{where} holds no lengths; give one sequence length per line.")
    return lengths


def _check_plan_args(args) -> None:
    if args.gpus < 1 or args.gpus & (args.gpus - 1):
        raise UserError(f"--gpus must be a power of two (1, 2, 4, ...), got {args.gpus}")
    for option, value in (("--mb-options", args.mb_options), ("--node-limit", args.node_limit)):
        if value < 1:
            raise UserError(f"{option} must be >= 1, got {value}")
    if args.time_limit is not None and not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise UserError(f"--time-limit must be a number of seconds > 0, got {args.time_limit:g}")
    if args.static_degree is not None and (args.static_degree < 1 or args.static_degree > args.gpus
                                           or args.static_degree & (args.static_degree - 1)):
        raise UserError(f"--static-degree must be a power of two from 1 to --gpus {args.gpus}, "
                        f"got {args.static_degree}")
    if args.jobs == 0:
        raise UserError("--jobs must not be 0")


def cost_model(args):
    """The cost model the options describe; UserError when the memory does not hold the model."""
    from diversa.systems.seqpar import SPCostModel

    try:
        return SPCostModel.gpt(args.model, args.gpus, mem_limit_gb=parse_memory(args.memory))
    except ValueError as exc:
        raise UserError(f"--memory {args.memory}: {exc}") from None


def _check_fits(lengths, cost, largest: int, where: str) -> None:
    """Every sequence fits the largest group; ValueError naming the first that does not."""
    room = cost.token_capacity * largest
    for number, value in enumerate(lengths, start=1):
        if value > room:
            raise ValueError(f"{where}: sequence {number} has {value} tokens, more than a group of {largest} GPUs "
                             f"holds ({room} tokens: {cost.token_capacity} per GPU with the {cost.params_b:.3g}B "
                             "model in the memory given); use more GPUs or memory")


# -- running ----------------------------------------------------------------------------------------

def _degrees(args) -> list[int]:
    start = 2 if args.official and args.gpus > 1 else 1
    return [d for d in (1 << k for k in range(args.gpus.bit_length())) if start <= d <= min(args.gpus, LARGEST_GROUP)]


def _summary_rows(plans: dict, reference: float) -> list[tuple]:
    rows = []
    for name, plan in plans.items():
        histogram = ", ".join(f"{d}x{n}" for d, n in plan.degree_histogram().items())
        rows.append((name, plan.strategy, f"{plan.predicted_ms / 1000:.2f}", str(plan.n_micro),
                     f"{reference / plan.predicted_ms:.2f}x", histogram))
    return rows


def _print_report(console, lengths, cost, plans: dict) -> None:
    from rich.table import Table

    console.print(f"{len(lengths)} sequences, {sum(lengths)} tokens (longest {max(lengths)}) on {cost.n_devices} GPUs; "
                  f"{cost.token_capacity} tokens fit one GPU.")
    console.print("Times are predicted by the cost model, not measured.")
    table = Table(title="Predicted step time")
    for column in ("planner", "strategy", "step (s)", "micro-batches", "speed-up vs static", "groups (size x count)"):
        table.add_column(column)
    for row in _summary_rows(plans, plans["static"].predicted_ms):
        table.add_row(*row)
    console.print(table)
    flexsp = plans["flexsp"]
    detail = Table(title="FlexSP plan")
    for column in ("micro-batch", "time (s)", "groups: size (sequences)", "found by"):
        detail.add_column(column)
    for b, (groups, ms, status) in enumerate(zip(flexsp.micro_batches, flexsp.micro_batch_ms, flexsp.solver_status)):
        text = ", ".join(f"{d} ({len(ids)})" for d, ids in sorted(groups, key=lambda g: -g[0]) if ids)
        detail.add_row(str(b), f"{ms / 1000:.2f}", text, status)
    console.print(detail)


def run_plan(args) -> int:
    from rich.console import Console

    from diversa.datasets.files import atomic_write_text, describe, write_stdout
    from diversa.systems.seqpar import AdaptiveHomogeneousPlanner, FlexSPPlanner, StaticSPPlanner

    _check_plan_args(args)
    inputs = [("LENGTHS", args.lengths)]
    check_inputs(inputs)
    check_output_file(args.json, argument="--json", inputs=inputs, overwrite=args.overwrite)
    cost = cost_model(args)
    lengths = read_lengths(args.lengths)
    degrees = _degrees(args)
    _check_fits(lengths, cost, max(degrees), describe(args.lengths, "LENGTHS"))
    static_degree = args.static_degree or min(d for d in degrees if max(lengths) <= cost.token_capacity * d)
    if max(lengths) > cost.token_capacity * static_degree:
        raise UserError(f"--static-degree {static_degree}: the longest sequence ({max(lengths)} tokens) needs more "
                        f"than {static_degree} GPUs")
    planner = FlexSPPlanner(cost, degrees, solver=args.solver, mb_options=args.mb_options,
                            node_limit=args.node_limit, time_limit=args.time_limit, n_jobs=args.jobs,
                            random_state=args.seed)
    to_stdout = args.json == "-"
    console = Console(stderr=to_stdout, width=None if sys.stdout.isatty() else 120)
    with Console(stderr=True).status("planning..."):
        plans = {"static": StaticSPPlanner(cost, static_degree).plan(lengths),
                 "adaptive": AdaptiveHomogeneousPlanner(cost, degrees).plan(lengths),
                 "flexsp": planner.plan(lengths)}
    _print_report(console, lengths, cost, plans)
    if args.json is not None:
        payload = {"gpus": args.gpus, "memory_gb": parse_memory(args.memory), "model": args.model,
                   "token_capacity": cost.token_capacity, "degrees": degrees, "seed": args.seed,
                   "plans": {name: plan.to_dict(lengths) for name, plan in plans.items()}}
        text = json_text(payload)
        if to_stdout:
            write_stdout(text)
        else:
            atomic_write_text(args.json, text)
    return 0


def run_sample(args) -> int:
    from diversa.datasets.files import atomic_write_text, write_stdout
    from diversa.systems.seqpar import sample_lengths

    if args.n < 1:
        raise UserError(f"N must be >= 1, got {args.n}")
    if args.pad_to < 1:
        raise UserError(f"--pad-to must be >= 1, got {args.pad_to}")
    if args.max_len < args.pad_to:
        raise UserError(f"--max-len must be at least --pad-to {args.pad_to}, got {args.max_len}")
    if not (math.isfinite(args.scale) and args.scale > 0):
        raise UserError(f"--scale must be a number > 0, got {args.scale:g}")
    check_output_file(args.out, argument="--out", overwrite=args.overwrite)
    lengths = sample_lengths(args.n, args.seed, scale=args.scale, max_len=args.max_len, pad_to=args.pad_to)
    text = "".join(f"{int(v)}\n" for v in lengths)
    if args.out == "-":
        write_stdout(text)
    else:
        atomic_write_text(args.out, text)
        print(f"{args.n} lengths (median {int(sorted(lengths)[args.n // 2])}, longest {int(lengths.max())}) "
              f"written to {args.out}")
    return 0
