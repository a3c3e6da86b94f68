"""The streaming merge engine behind ``diversa merge``.

Reads safetensors checkpoints (one file, or shards with the
``model.safetensors.index.json`` Hugging Face writes), their headers validated
by ``safetensors.safe_open``, one tensor (or one block of rows) at a time with
one ``os.preadv`` into a fresh tensor (the cost of reading the bytes, no header
parsing per tensor), hands
each tensor of every model to a pure merge function from
:mod:`diversa.combine.merge` as one-key state dicts, and streams the result
into sharded safetensors files with an index.

Memory. Without a budget a tensor is merged whole, so peak memory grows with
the largest tensor: the n models' and the base's copies of it in their stored
dtype, plus the method's float32 working set per entry -- about 16 bytes for
``linear``/``task_arithmetic``, ``5 n + 30`` for TIES and DARE (the stack of
task vectors and its masks), ``~40 n`` for PCB -- on top of the interpreter
and torch (~0.25 GB). With ``max_memory`` (``--max-memory``) the budget covers
the whole process: the engine measures the process's resident memory when the
merge starts, keeps 80% of the rest, and merges every tensor that would not
fit it in blocks of rows (:mod:`diversa.combine.merge.chunked`) sized so that
per entry the inputs' stored bytes, the working set
(:func:`~diversa.combine.merge.chunked.working_bytes_per_element`: 32 bytes
element-wise, 40 for magnitude pruning, ``5 n + 56`` for TIES/DARE with n
counting the base too) and the output fit. Inputs are read, not memory-mapped, so pages of the inputs
do not accumulate in the process. Measured (``benchmarks/bench_merge_memory.py``): three models
with a 32000 x 1024 float32 embedding under ``--max-memory 1GB`` peak at
0.76 GB (TIES), 0.85 GB (DARE-TIES), 0.76 GB (Task Arithmetic), against 1.7,
2.2 and 1.2 GB without a budget. The chunked result is the pure function's
(bit-identical, except DARE's L1 rescaling factor, up to float32 rounding).
Methods whose statistics span the whole tensor (PCB, TIES' ``zero_sign:
majority``) are not chunked: a tensor of theirs that does not fit the budget
is refused before anything is written, as is a single row larger than the
budget.

Safety: every input is opened (``safe_open`` validates the header: offsets
that cover the data exactly and agree with shape x dtype) and a malformed
file is reported as one error naming the file and the tensor; every tensor's
presence, shape and dtype are checked, and the method's parameters are
validated on a tiny dry run, before anything is written. Inputs with NaN or
infinite values are refused unless ``allow_nan``. The output goes to a
temporary folder next to ``OUT_DIR`` and is renamed into place only when
complete, so a failure leaves no output folder; an output folder equal to,
inside, or holding an input is refused; inputs are opened read-only.
Non-tensor files of the base model (``config.json``, tokenizer files, ...)
are copied to the output, as mergekit does. Methods that draw random numbers
(DARE) get ``seed`` as their ``random_state`` unless the config sets one, so
every merge is reproducible.

A ``slices:`` config is merged as several merges writing into one output: the
tensors before the layer stack, each slice's layers (read under names
renumbered from 0, so gradients run across the slice, and written under their
output numbers, which also seed random masks), and the tensors after the
stack; ``config.json`` gets the new layer count. With ``tokenizer_source`` the
vocabulary tensors are re-indexed to the output vocabulary as they are read
(:mod:`diversa.combine.merge.vocabulary`). The output folder also gets a
``README.md`` model card with the recipe (:mod:`diversa.combine.merge.card`).

Methods follow mergekit's semantics for its shared methods (see
:mod:`diversa.combine.merge.config`); TIES (Yadav et al., arXiv:2306.01708)
and DARE (Yu et al., arXiv:2311.03099) are computed per tensor.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import struct
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from diversa.combine.merge.chunked import chunkable, merge_rows, working_bytes_per_element
from diversa.combine.merge.card import write_model_card
from diversa.combine.merge.config import MergeConfig, count_layers, layer_index, load_config
from diversa.combine.merge.keys import check_unmerged
from diversa.combine.merge.output_folder import check_output_folder, staged_folder
from diversa.combine.merge.slices import before_stack, renumber
from diversa.combine.merge.vocabulary import is_vocabulary_tensor, prepare_vocabulary

__all__ = ["Checkpoint", "MergeResult", "merge_checkpoints", "parse_size", "write_safetensors"]

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}
_NAMES = {v: k for k, v in _DTYPES.items()}
_ITEMSIZE = {name: torch.empty((), dtype=dtype).element_size() for name, dtype in _DTYPES.items()}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf")
_INDEX_NAMES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class _Entry:
    file: Path
    dtype: torch.dtype
    shape: tuple[int, ...]
    offset: int = -1  # of the tensor's first byte in ``file`` (-1: unknown, read through safetensors)


def _open(path: Path):
    """``safe_open(path)``, a malformed file reported as one ``ValueError`` naming the file and tensor."""
    from safetensors import SafetensorError, safe_open

    try:
        return safe_open(str(path), framework="pt")
    except SafetensorError as exc:
        detail = _header_problem(path) or str(exc).removeprefix("Error while deserializing header: ")
        raise ValueError(f"{str(path)!r} is not a valid safetensors file: {detail}") from None


def _header_problem(path: Path) -> str | None:
    """What is wrong with a safetensors header safetensors rejected, naming the tensor (None: not found)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            return "the file is shorter than its 8-byte header length"
        (length,) = struct.unpack("<Q", raw)
        size = os.fstat(f.fileno()).st_size
        if length > size - 8:
            return f"its header length ({length} bytes) exceeds the file"
        try:
            header = json.loads(f.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return "its header is not valid JSON"
    if not isinstance(header, dict):
        return f"its header is a JSON {type(header).__name__}, not an object"
    data_size = size - 8 - length
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            return f"tensor {name!r}: its entry is {info!r}, not an object"
        missing = [k for k in ("dtype", "shape", "data_offsets") if k not in info]
        if missing:
            return f"tensor {name!r}: no {missing[0]!r}"
        shape, offsets, dtype = info["shape"], info["data_offsets"], info["dtype"]
        if dtype not in _ITEMSIZE:
            return f"tensor {name!r}: unsupported dtype {dtype!r}"
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            return f"tensor {name!r}: shape {shape!r} is not a list of sizes"
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and o >= 0 for o in offsets)):
            return f"tensor {name!r}: data_offsets {offsets!r} are not two byte offsets"
        begin, end = offsets
        if begin > end:
            return f"tensor {name!r}: data_offsets {offsets} are reversed"
        expected = _ITEMSIZE[dtype]
        for d in shape:
            expected *= d
        if end - begin != expected:
            return (f"tensor {name!r}: {end - begin} bytes of data for shape {shape} of {dtype} "
                    f"({expected} expected)")
        if end > data_size:
            return f"tensor {name!r}: its data ends at byte {end}, past the {data_size} bytes of data"
    return None


def _read_header(path: Path) -> dict[str, _Entry]:
    with _open(path) as f:  # validates the header (offsets, sizes, dtypes)
        entries = {}
        for name in f.keys():
            view = f.get_slice(name)
            dtype = view.get_dtype()
            if dtype not in _DTYPES:
                raise ValueError(f"{str(path)!r}: tensor {name!r} has unsupported dtype {dtype!r}")
            entries[name] = (_DTYPES[dtype], tuple(view.get_shape()))
    offsets = _data_offsets(path)
    return {name: _Entry(path, dtype, shape, offsets.get(name, -1)) for name, (dtype, shape) in entries.items()}


def _data_offsets(path: Path) -> dict[str, int]:
    """Absolute byte offset of every tensor of a (validated) safetensors file."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return {name: 8 + length + info["data_offsets"][0] for name, info in header.items() if name != "__metadata__"}


def _pread_tensor(entry: _Entry, rows: tuple[int, int] | None) -> torch.Tensor:
    """Tensor bytes read straight into a new tensor with ``os.preadv``: one copy, no memory map to release."""
    shape = list(entry.shape)
    offset = entry.offset
    if rows is not None and shape:
        row_bytes = _nbytes(shape[1:], entry.dtype)
        offset += rows[0] * row_bytes
        shape[0] = max(0, min(rows[1], shape[0]) - rows[0])
    out = torch.empty(shape, dtype=entry.dtype)
    n = out.numel() * out.element_size()
    if n:
        view = memoryview(out.view(-1).view(torch.uint8).numpy())
        fd = os.open(entry.file, os.O_RDONLY)
        try:
            done = 0
            while done < n:
                got = os.preadv(fd, [view[done:]], offset + done)
                if got <= 0:
                    raise ValueError(f"{str(entry.file)!r}: the file ends inside a tensor (was it changed?)")
                done += got
        finally:
            os.close(fd)
    return out


#: Whether tensors can be read with ``os.preadv`` (safetensors stores little-endian data).
_RAW_READS = sys.byteorder == "little" and hasattr(os, "preadv")


class Checkpoint:
    """A read-only safetensors checkpoint: a file, a folder with one file, or shards with an index.

    ``keys`` and ``entries`` (dtype and shape per tensor) come from the
    headers, validated by ``safetensors.safe_open``; ``read(key, rows)`` loads
    one tensor, or a block of its rows, into memory.
    """

    def __init__(self, path):
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise FileNotFoundError(f"model {str(path)!r} does not exist (diversa merges local checkpoints)")
        self.entries: dict[str, _Entry] = {}
        for file in self._files():
            for name, entry in _read_header(file).items():
                if name in self.entries:
                    raise ValueError(f"model {str(self.path)!r}: tensor {name!r} appears in two files")
                self.entries[name] = entry

    def _files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        index = self.path / "model.safetensors.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(f"{str(index)!r} is not a safetensors index (no weight_map)") from None
            files = sorted({self.path / f for f in weight_map.values()})
            missing = [str(f) for f in files if not f.is_file()]
            if missing:
                raise FileNotFoundError(f"model {str(self.path)!r}: shard(s) {missing} named in the index "
                                        "do not exist")
            return files
        files = sorted(self.path.glob("*.safetensors"))
        if not files:
            raise ValueError(f"model {str(self.path)!r} holds no .safetensors file")
        return files

    @property
    def keys(self) -> list[str]:
        return list(self.entries)

    def read(self, key: str, rows: tuple[int, int] | None = None) -> torch.Tensor:
        """Tensor ``key`` (or its rows ``[start, stop)``), read from disk.

        The bytes are read with one ``os.preadv`` into a new tensor at the
        offset the (validated) header gives: no memory map, so the pages the
        merge touched are not held and memory does not grow with the size of
        the inputs. (Big-endian machines read through ``safetensors``,
        opening the file for this read only.)
        """
        entry = self.entries[key]
        if _RAW_READS and entry.offset >= 0 and entry.dtype in _NAMES:
            return _pread_tensor(entry, rows)
        with _open(entry.file) as handle:
            if rows is None or not entry.shape:
                return handle.get_tensor(key)
            return handle.get_slice(key)[rows[0]:rows[1]]

    def non_tensor_files(self) -> list[Path]:
        """Files next to the weights that a merged model also needs (config, tokenizer, ...)."""
        if self.path.is_file():
            return []
        return sorted(p for p in self.path.iterdir()
                      if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_WEIGHT_SUFFIXES)
                      and p.name not in _INDEX_NAMES)


@dataclass(frozen=True)
class MergeResult:
    """What a merge wrote.

    ``seed``: the ``random_state`` the method drew with (None for deterministic
    methods); ``chunked``: the tensors merged in row blocks to fit
    ``max_memory``; ``nonfinite``: ``(model, tensor)`` pairs holding NaN or
    infinite values, merged because ``allow_nan`` was set; ``aligned``: the
    models permuted onto the anchor before merging (``permute:``).
    """

    out_dir: Path
    method: str
    n_models: int
    n_tensors: int
    n_merged: int
    shards: tuple[str, ...]
    total_bytes: int
    copied_files: tuple[str, ...]
    seed: int | None = None
    chunked: tuple[str, ...] = ()
    nonfinite: tuple[tuple[str, str], ...] = ()
    aligned: tuple[str, ...] = ()


def parse_size(size, name: str = "max_shard_size") -> int:
    """Bytes from an int or a string like ``"5GB"``, ``"500MB"``, ``"2GiB"`` (``name`` labels errors)."""
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    elif isinstance(size, str):
        text = size.strip().upper().replace(" ", "")
        units = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "KB": 10**3, "MB": 10**6,
                 "GB": 10**9, "TB": 10**12, "B": 1}
        number, factor = text, 1
        for unit, unit_factor in units.items():
            if text.endswith(unit):
                number, factor = text[:-len(unit)], unit_factor
                break
        try:
            value = int(float(number) * factor)  # int() of nan/inf raises: both are refused
        except (ValueError, OverflowError):
            raise ValueError(f"{name}: cannot read {size!r} (use e.g. 5GB, 500MB, 2GiB)") from None
    else:
        raise TypeError(f"{name} must be an int or a string like '5GB', got {size!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return value


def _nbytes(shape, dtype) -> int:
    n = 1
    for s in shape:
        n *= s
    return n * torch.empty((), dtype=dtype).element_size()


def _header_bytes(layout: list[tuple[str, torch.dtype, tuple[int, ...]]]) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dtype, shape in layout:
        n = _nbytes(shape, dtype)
        header[name] = {"dtype": _NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def _write_tensor(f, tensor: torch.Tensor) -> None:
    if tensor.numel() == 0:
        return
    f.write(tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy().data)


def write_safetensors(path, tensors: Mapping[str, torch.Tensor]) -> None:
    """Write ``tensors`` as one safetensors file (readable by ``safetensors.torch.load_file``)."""
    layout = [(k, v.dtype, tuple(v.shape)) for k, v in tensors.items()]
    with open(path, "wb") as f:
        f.write(_header_bytes(layout))
        for v in tensors.values():
            _write_tensor(f, v)


def _plan_shards(layout, max_bytes: int) -> list[list]:
    shards, current, size = [], [], 0
    for item in layout:
        n = _nbytes(item[2], item[1])
        if current and size + n > max_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    if current or not shards:
        shards.append(current)
    return shards


def _resolve_model_path(path: str, config: MergeConfig) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and not p.exists() and config.source is not None:
        candidate = config.source.parent / p
        if candidate.exists():
            return candidate
    return p


def _process_rss() -> int:
    """Resident memory of this process in bytes (the peak so far where /proc is not available)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def merge_checkpoints(config, out_dir, *, max_shard_size="5GB", copy_files: bool = True,
                      overwrite: bool = False, max_memory=None, seed: int = 0, allow_nan: bool = False,
                      progress: Callable[[int, int, str], None] | None = None) -> MergeResult:
    """Merge the checkpoints a config names into ``out_dir`` (safetensors shards + index).

    ``config``: a :class:`~diversa.combine.merge.config.MergeConfig` or the path
    of a YAML file. ``max_memory`` (bytes or a string like ``"8GB"``; default
    None, no budget): peak resident memory of the whole process, kept by
    merging large tensors in row blocks (see the module docstring for the
    bound). ``seed``: the ``random_state`` of methods that draw random numbers
    (DARE) when the config sets none. ``allow_nan``: merge inputs holding NaN or
    infinite values instead of refusing them. ``progress(done, total,
    tensor)`` is called after each tensor. Raises ``ValueError`` naming the
    tensor for a missing key, a shape or dtype mismatch, a malformed file, a
    non-finite input, a parameter the method rejects or a tensor that cannot
    fit ``max_memory``; nothing is written then.
    """
    if not isinstance(config, MergeConfig):
        config = load_config(config)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    out_dir = Path(out_dir).expanduser()
    check_output_folder(out_dir, overwrite)
    max_bytes = parse_size(max_shard_size)
    budget = None if max_memory is None else parse_size(max_memory, "max_memory")
    used_seed = None
    if config.spec.takes_seed:
        random_state = config.parameters.get("random_state")
        used_seed = seed if random_state is None else random_state
        if random_state is None:
            config = dataclasses.replace(config, parameters={**config.parameters, "random_state": seed})
    paths = [_resolve_model_path(e.model, config) for e in config.models]
    if config.base_model:
        paths.append(_resolve_model_path(config.base_model, config))
    check_output_folder(out_dir, overwrite, paths)
    opened: dict[Path, Checkpoint] = {}

    def open_model(path: str):
        located = _resolve_model_path(path, config)
        if located.resolve() not in opened:
            opened[located.resolve()] = Checkpoint(located)
        return opened[located.resolve()]

    vocabulary = prepare_vocabulary(config, open_model)
    names: dict[int, str] = {}
    aligned: tuple[str, ...] = ()
    if config.slices is None:
        part, aligned = _whole_model_part(config, open_model, names, seed)
        parts = [part]
        n_layers = None
    else:
        parts, n_layers = _slice_parts(config, open_model, names)
    routes: dict[str, tuple[_Writer, str]] = {}
    layout = []
    chunked = []
    for part in parts:
        part_layout, merged_keys = _plan(part.config, part.reference, part.models, part.base, names, vocabulary)
        _dry_run(part.config, merged_keys, len(part.models))
        inputs = part.models + ([part.base] if part.base is not None else [])
        reindexed = set() if vocabulary is None else {k for k in merged_keys if is_vocabulary_tensor(k)}
        chunks = _plan_chunks(part.config, part_layout, merged_keys, part.reference, inputs, budget, reindexed)
        chunked += [part.rename(k) for k, rows in chunks.items() if rows is not None]
        writer = _Writer(part.config, part.reference, part.models, part.base, merged_keys, chunks, allow_nan, names,
                         vocabulary, part.rename)
        for key, dtype, shape in part_layout:
            routes[part.rename(key)] = (writer, key)
            layout.append((part.rename(key), dtype, shape))
    shards = _plan_shards(layout, max_bytes)
    first = config.base_model or (config.slices[0].sources[0].model if config.slices else config.models[0].model)
    with staged_folder(out_dir, "merging") as tmp:
        shard_names = _write_all(routes, shards, tmp, progress)
        copied = _copy_files(open_model(first), tmp, config.out_dtype, n_layers) if copy_files else []
        if vocabulary is not None:
            copied = sorted(set(copied) | set(vocabulary.save(tmp)))
        write_model_card(tmp, config)
    total = sum(_nbytes(s, d) for _, d, s in layout)
    writers = list(dict.fromkeys(w for w, _ in routes.values()))
    nonfinite = tuple(dict.fromkeys(x for w in writers for x in w.nonfinite))
    n_models = len(dict.fromkeys(id(m) for part in parts for m in part.models))
    n_merged = sum(len(w.merged_keys) for w in writers)
    return MergeResult(out_dir, config.merge_method, n_models if config.slices is None else len(config.models),
                       len(layout), n_merged, tuple(shard_names), total, tuple(copied), used_seed,
                       tuple(chunked), nonfinite, aligned)


@dataclass
class _Part:
    """One merge among the output's tensors: its config, inputs, and how its tensor names map to the output's."""

    config: MergeConfig
    models: list
    base: object | None
    reference: object
    rename: Callable[[str], str] = lambda key: key


def _whole_model_part(config, open_model, names, seed):
    """The merge of whole models (``models:``), permuted first when the config asks."""
    spec = config.spec
    models = [open_model(e.model) for e in config.fine_tuned()]
    base = open_model(config.base_model) if config.base_model else None
    for c in models + ([base] if base is not None else []):
        names[id(c)] = str(c.path)
    merge_base = base if spec.takes_base else None
    reference = base if (base is not None and spec.takes_base) else (base or models[0])
    config = dataclasses.replace(config, num_layers=count_layers(reference.keys))  # for gradients
    aligned = ()
    if config.permute is not None:
        _plan(config, reference, models, merge_base, names)  # shapes and dtypes agree before aligning
        models, aligned = _align(config, models, merge_base, names, seed)
    return _Part(config, models, merge_base, reference), aligned


class _View:
    """A checkpoint seen through a renaming: ``entries`` holds some of its tensors under new names."""

    def __init__(self, source, mapping: Mapping[str, str]):
        self.source, self.mapping, self.path = source, dict(mapping), source.path
        self.entries = {new: source.entries[old] for new, old in self.mapping.items()}

    @property
    def keys(self) -> list[str]:
        return list(self.entries)

    def read(self, key: str, rows=None) -> torch.Tensor:
        return self.source.read(self.mapping[key], rows)

    def non_tensor_files(self) -> list[Path]:
        return self.source.non_tensor_files()


def _slice_parts(config, open_model, names) -> tuple[list[_Part], int]:
    """The merges of a ``slices:`` config: tensors before the stack, every slice's layers, tensors after it."""
    parts = []
    offset = 0
    for i, part in enumerate(config.slices):
        sources = []
        for j, source in enumerate(part.sources):
            checkpoint = open_model(source.model)
            available = count_layers(checkpoint.keys) or 0
            first, stop = source.layer_range
            if stop > available:
                raise ValueError(f"merge config: slices[{i}].sources[{j}].layer_range {[first, stop]} exceeds the "
                                 f"{available} layers of model {source.model!r}")
            mapping = {renumber(k, -first): k for k in checkpoint.keys
                       if (index := layer_index(k)) is not None and first <= index < stop}
            sources.append(_View(checkpoint, mapping))
            names[id(sources[-1])] = f"{source.model} layers [{first}, {stop})"
        sub = dataclasses.replace(config.for_slice(i), num_layers=part.n_layers)
        parts.append(_part_of(sub, part.sources, sources, f"slices[{i}]", lambda k, o=offset: renumber(k, o)))
        offset += part.n_layers
    for position, index in (("before", 0), ("after", -1)):
        part = config.slices[index]
        views = []
        for source in part.sources:
            checkpoint = open_model(source.model)
            keep = [k for k in checkpoint.keys if layer_index(k) is None and before_stack(k) == (position == "before")]
            views.append(_View(checkpoint, {k: k for k in keep}))
            names[id(views[-1])] = source.model
        if views[0].keys:
            where = f"slices[{index if index >= 0 else len(config.slices) - 1}]"
            parts.insert(0 if position == "before" else len(parts),
                         _part_of(config.for_slice(index), part.sources, views, where, lambda k: k))
    return parts, offset


def _part_of(config, sources, views, where: str, rename) -> _Part:
    """A slice's merge: its fine-tuned sources as the models, the source that is the base as the base."""
    by_path: dict[Path, _View] = {}
    for source, view in zip(sources, views):
        path = _resolve_model_path(source.model, config).resolve()
        if path in by_path:
            raise ValueError(f"merge config: {where} names model {source.model!r} twice")
        by_path[path] = view
    spec = config.spec
    base = None
    if spec.takes_base and config.base_model is not None:
        base = by_path.get(_resolve_model_path(config.base_model, config).resolve())
        if base is None:
            raise ValueError(f"merge config: {where}: base_model {config.base_model!r} is not among the slice's "
                             f"sources; add it with the same layer_range")
    models = [by_path[_resolve_model_path(e.model, config).resolve()] for e in config.fine_tuned()]
    if not models:
        raise ValueError(f"merge config: {where} has no source besides the base model")
    return _Part(config, models, base, base if base is not None else models[0], rename)


def _align(config, models, base, names, seed):
    """Models permuted onto the anchor by weight matching (``permute:``), and the paths of those permuted."""
    from diversa.combine.permute.checkpoints import align_checkpoints

    anchor = base if base is not None else models[0]
    aligned = align_checkpoints(anchor, models, config.permute, random_state=seed)
    for old, new in zip(models, aligned):
        names[id(new)] = names[id(old)]
    return aligned, tuple(names[id(m)] for m in models if m is not anchor)


def _plan(config, reference, models, base, names, vocabulary=None):
    """Output layout [(name, dtype, shape)] and the set of merged keys, after checking every input.

    With a ``vocabulary`` the vocabulary tensors may differ in rows and get as many as it has tokens.
    """
    inputs = models + ([base] if base is not None else [])
    for c in inputs:
        if c is reference:
            continue
        extra = sorted(set(c.entries) - set(reference.entries))
        if extra:
            raise ValueError(f"tensor {extra[0]!r} of model {names[id(c)]!r} is not in the reference model "
                             f"{names[id(reference)]!r} ({len(extra)} such tensor(s))")
    out_dtype = config.out_dtype
    layout, merged = [], set()
    for key in sorted(reference.entries):
        ref = reference.entries[key]
        floating = ref.dtype.is_floating_point
        for c in inputs:
            if c is reference:
                continue
            if key not in c.entries:
                raise ValueError(f"tensor {key!r} is missing from model {names[id(c)]!r}")
            e = c.entries[key]
            if e.shape[1:] == ref.shape[1:] and e.shape != ref.shape and is_vocabulary_tensor(key):
                if vocabulary is None:
                    raise ValueError(f"tensor {key!r} has {e.shape[0]} token rows in model {names[id(c)]!r} but "
                                     f"{ref.shape[0]} in {names[id(reference)]!r}; set tokenizer_source (base, "
                                     "union or model:PATH) to merge models with different vocabularies")
                continue
            if e.shape != ref.shape:
                raise ValueError(f"tensor {key!r} has shape {list(e.shape)} in model {names[id(c)]!r} but "
                                 f"{list(ref.shape)} in {names[id(reference)]!r}")
            if e.dtype.is_floating_point != floating or (not floating and e.dtype != ref.dtype):
                raise ValueError(f"tensor {key!r} has dtype {_NAMES[e.dtype]} in model {names[id(c)]!r} but "
                                 f"{_NAMES[ref.dtype]} in {names[id(reference)]!r}")
        shape = ref.shape
        if vocabulary is not None and is_vocabulary_tensor(key) and shape:
            shape = (vocabulary.size, *shape[1:])
        if floating:
            merged.add(key)
            layout.append((key, out_dtype or ref.dtype, shape))
        else:
            layout.append((key, ref.dtype, ref.shape))
    return layout, merged


def _plan_chunks(config, layout, merged_keys, reference, inputs, budget,
                 whole=frozenset()) -> dict[str, int | None]:
    """Rows per block of every tensor (None: whole), or ``ValueError`` for a tensor that cannot fit ``budget``.

    The budget left once the process's current memory is counted is shared by
    the inputs' blocks (each in its stored dtype), the method's float32 working
    set and the output block, with a 20% margin for the allocator.
    """
    plan: dict[str, int | None] = {key: None for key, _, _ in layout}
    if budget is None:
        return plan
    spare = int(0.8 * (budget - _process_rss()))
    if spare <= 0:
        raise ValueError(f"max_memory {budget / 1e9:.2f} GB is below the {_process_rss() / 1e9:.2f} GB this "
                         "process already uses")
    function = config.spec.function
    for key, out_dtype, shape in layout:
        ref = reference.entries[key]
        numel = 1
        for d in shape:
            numel *= d
        stored = (sum(c.entries[key].dtype.itemsize for c in inputs) if key in merged_keys
                  else (len(inputs) + 1) * ref.dtype.itemsize)
        work = working_bytes_per_element(function, len(inputs)) if key in merged_keys else 0
        per_entry = stored + work + out_dtype.itemsize
        if numel * per_entry <= spare or key in whole:  # ``whole``: re-indexed vocabularies
            continue
        row = max(1, numel // shape[0]) if shape else 1
        if key in merged_keys and not chunkable(function, config.arguments_for(key)):
            raise ValueError(f"tensor {key!r} needs about {numel * per_entry / 1e9:.2f} GB with method "
                             f"{config.merge_method!r}, which cannot merge it in row blocks, and max_memory leaves "
                             f"{spare / 1e9:.2f} GB; raise max_memory")
        if not shape or row * per_entry > spare:
            raise ValueError(f"tensor {key!r}: one row of {row} entries needs about {row * per_entry / 1e9:.2f} GB "
                             f"and max_memory leaves {spare / 1e9:.2f} GB; raise max_memory")
        plan[key] = max(1, spare // (row * per_entry))
    return plan


def _call(config, base_sd, model_sds, key, name=None):
    """The method on one tensor; ``name`` (default ``key``) is the output name it is passed under, which seeds
    random masks, while ``key`` (the name within a slice) gives the parameters."""
    spec = config.spec
    name = key if name is None else name
    kwargs = config.arguments_for(name, position=key)
    if name != key:
        base_sd = None if base_sd is None else {name: base_sd[key]}
        model_sds = [{name: sd[key]} for sd in model_sds]
    try:
        if spec.takes_base:
            return spec.function(base_sd, model_sds, keys=[name], **kwargs)[name]
        return spec.function(model_sds, keys=[name], **kwargs)[name]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"tensor {name!r}: method {config.merge_method!r}: {exc}") from None


def _dry_run(config, merged_keys, n_models: int) -> None:
    """Run the method on tiny tensors with every tensor's parameters, so bad values fail before writing."""
    seen = set()
    g = torch.Generator().manual_seed(0)
    for key in sorted(merged_keys):
        signature = repr(sorted(config.arguments_for(key).items()))
        if signature in seen:
            continue
        seen.add(signature)
        base = {key: torch.randn(4, 4, generator=g)} if config.base_model is not None else None
        models = [{key: torch.randn(4, 4, generator=g)} for _ in range(n_models)]
        _call(config, base, models, key)


def _finite(tensor: torch.Tensor) -> bool:
    """Whether every entry is finite (min and max propagate NaN; ~10x faster than ``isfinite().all()``)."""
    if tensor.numel() == 0:
        return True
    try:
        low, high = torch.aminmax(tensor)
    except (RuntimeError, NotImplementedError):  # dtypes without a min/max kernel (float8)
        return bool(torch.isfinite(tensor.float()).all())
    return bool(torch.isfinite(low) & torch.isfinite(high))


class _Writer:
    """Writes the output shards tensor by tensor (whole or in row blocks), checking inputs as it reads."""

    def __init__(self, config, reference, models, base, merged_keys, chunks, allow_nan: bool, names,
                 vocabulary=None, rename=lambda key: key):
        self.config, self.reference, self.models, self.base = config, reference, models, base
        self.vocabulary, self.rename = vocabulary, rename
        self.merged_keys, self.chunks, self.allow_nan, self.names = merged_keys, chunks, allow_nan, names
        self.nonfinite: list[tuple[str, str]] = []

    def _read(self, checkpoint: Checkpoint, key: str, rows=None, round_to_compute: bool = True) -> torch.Tensor:
        tensor = checkpoint.read(key, rows)
        if tensor.is_floating_point() and not _finite(tensor):
            where = (self.names[id(checkpoint)], key)
            if not self.allow_nan:
                raise ValueError(f"model {where[0]!r}: tensor {key!r} holds NaN or infinite values; refusing to "
                                 "merge it (pass allow_nan=True / --allow-nan to merge anyway)")
            if where not in self.nonfinite:
                self.nonfinite.append(where)
        compute = self.config.input_dtype
        if round_to_compute and compute is not None and key in self.merged_keys and tensor.dtype != compute:
            tensor = tensor.to(compute)  # mergekit's dtype: the inputs as a copy in that dtype holds them
        return tensor

    def _rounding_is_exact(self, key: str, inputs, out_dtype: torch.dtype) -> bool:
        """Whether casting the inputs to the compute dtype can be skipped: float32 holds every 16-bit value
        exactly, the merge functions compute in float32 anyway, and their result (in the dtype of the first
        tensor they see) is stored in that same dtype."""
        if self.config.input_dtype != torch.float32:
            return False
        stored = [c.entries[key].dtype for c in inputs]
        first = self.base if self.base is not None and self.config.spec.takes_base else self.models[0]
        return (all(d in (torch.float16, torch.bfloat16, torch.float32) for d in stored)
                and first.entries[key].dtype == out_dtype)

    def _reader(self, checkpoint: Checkpoint, key: str):
        return lambda start, stop: self._read(checkpoint, key, (start, stop))

    def _blocks(self, key: str, dtype: torch.dtype, shape) -> Iterator[torch.Tensor]:
        """The output tensor ``key`` as blocks of rows, cast to ``dtype``."""
        ref_dtype = self.config.input_dtype or self.reference.entries[key].dtype
        rows = self.chunks[key]
        if key not in self.merged_keys:
            inputs = self.models + ([self.base] if self.base is not None else [])
            if rows is None:
                tensors = [self._read(c, key) for c in inputs]
                check_unmerged(tensors, key)
                yield self._read(self.reference, key) if self.reference not in inputs else tensors[
                    inputs.index(self.reference)]
                return
            for start in range(0, shape[0], rows):
                span = (start, min(start + rows, shape[0]))
                tensors = [self._read(c, key, span) for c in inputs]
                check_unmerged(tensors, key)
                yield tensors[inputs.index(self.reference)] if self.reference in inputs else self._read(
                    self.reference, key, span)
            return
        if rows is None:
            inputs = self.models + ([self.base] if self.base is not None else [])
            exact = self._rounding_is_exact(key, inputs, dtype)
            tensors = [self._read(c, key, round_to_compute=not exact) for c in inputs]
            if self.vocabulary is not None and is_vocabulary_tensor(key):
                tensors = self.vocabulary.align(tensors, inputs, self.base)
            base_sd = {key: tensors[-1]} if self.base is not None else None
            model_sds = [{key: t} for t in tensors[:len(self.models)]]
            yield _call(self.config, base_sd, model_sds, key, self.rename(key)).to(dtype)
            return
        base = self._reader(self.base, key) if self.base is not None else None
        blocks = merge_rows(self.config.spec.function, self.config.arguments_for(self.rename(key), position=key),
                            self.rename(key), base,
                            [self._reader(m, key) for m in self.models], shape, rows)
        for block in blocks:
            yield block.to(ref_dtype).to(dtype)  # the pure function casts to the base dtype first



def _write_all(routes, shards, tmp: Path, progress) -> list[str]:
    """Write the output shards tensor by tensor, each from the writer of the merge that makes it."""
    n = len(shards)
    file_names = (["model.safetensors"] if n == 1 else
                  [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)])
    total = sum(len(s) for s in shards)
    done = 0
    weight_map, total_size = {}, 0
    for file_name, shard in zip(file_names, shards):
        with open(tmp / file_name, "wb") as f:
            f.write(_header_bytes(shard))
            for name, dtype, shape in shard:
                writer, key = routes[name]
                rows = 0
                for block in writer._blocks(key, dtype, shape):
                    whole = writer.chunks[key] is None
                    if block.dtype != dtype or (tuple(block.shape) != tuple(shape) if whole
                                                else tuple(block.shape[1:]) != tuple(shape[1:])):
                        raise RuntimeError(f"tensor {name!r}: method returned {block.dtype} {list(block.shape)}, "
                                           f"expected {dtype} {list(shape)}")
                    _write_tensor(f, block)
                    rows += block.shape[0] if block.dim() else 1
                    del block
                if rows != (shape[0] if shape else 1):
                    raise RuntimeError(f"tensor {name!r}: {rows} rows written, expected shape {list(shape)}")
                weight_map[name] = file_name
                total_size += _nbytes(shape, dtype)
                done += 1
                if progress is not None:
                    progress(done, total, name)
    if n > 1:
        index = {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))}
        (tmp / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return file_names


def _copy_files(source: Checkpoint, tmp: Path, out_dtype, n_layers: int | None = None) -> list[str]:
    """Copy the non-tensor files; ``config.json`` gets the output dtype and, for slices, the new layer count."""
    copied = []
    for path in source.non_tensor_files():
        target = tmp / path.name
        if path.name == "config.json" and (out_dtype is not None or n_layers is not None):
            try:
                cfg = json.loads(path.read_text())
            except json.JSONDecodeError:
                shutil.copyfile(path, target)
            else:
                if out_dtype is not None:
                    name = str(out_dtype).removeprefix("torch.")
                    for field_name in ("torch_dtype", "dtype"):
                        if field_name in cfg or field_name == "torch_dtype":
                            cfg[field_name] = name
                if n_layers is not None:
                    _set_layer_count(cfg, n_layers)
                target.write_text(json.dumps(cfg, indent=2) + "\n")
        else:
            shutil.copyfile(path, target)
        copied.append(path.name)
    return copied


#: config.json keys holding the number of layers in the architectures transformers knows.
_LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")


def _set_layer_count(cfg: dict, n_layers: int) -> None:
    """Set the layer count of a config.json (its ``text_config`` too, for multimodal models)."""
    for scope in (cfg, cfg.get("text_config")):
        if isinstance(scope, dict):
            for key in _LAYER_COUNT_KEYS:
                if key in scope:
                    scope[key] = n_layers

