"""The streaming merge engine behind ``diversa merge``.

Reads safetensors checkpoints (one file, or shards with the
``model.safetensors.index.json`` Hugging Face writes) one tensor at a time,
hands each tensor of every model to a pure merge function from
:mod:`diversa.combine.merge` as one-key state dicts, and streams the result
into sharded safetensors files with an index. Peak memory is therefore about
(number of models + 1) tensors of the largest size (plus their float32 working
copies), whatever the size of the model; checkpoints are read with plain file
reads rather than memory maps, so the pages of the inputs do not accumulate
in the process.

Safety: every input header is read and every tensor's presence, shape and
dtype are checked, and the method's parameters are validated on a tiny dry
run, before anything is written; the output goes to a temporary folder next to
``OUT_DIR`` and is renamed into place only when complete, so a failure leaves
no output folder; inputs are opened read-only. Non-tensor files of the base
model (``config.json``, tokenizer files, ...) are copied to the output, as
mergekit does.

Methods follow mergekit's semantics for its shared methods (see
:mod:`diversa.combine.merge.config`); TIES (Yadav et al., arXiv:2306.01708)
and DARE (Yu et al., arXiv:2311.03099) are computed per tensor.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from diversa.combine.merge.config import MergeConfig, load_config

__all__ = ["Checkpoint", "MergeResult", "merge_checkpoints", "parse_size", "write_safetensors"]

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}
_NAMES = {v: k for k, v in _DTYPES.items()}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf")
_INDEX_NAMES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class _Entry:
    file: Path
    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int  # absolute byte offset of the data in the file
    nbytes: int


def _read_header(path: Path) -> dict[str, _Entry]:
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{str(path)!r} is not a safetensors file (too short)")
        (length,) = struct.unpack("<Q", raw)
        if length > 100_000_000:
            raise ValueError(f"{str(path)!r} is not a safetensors file (header of {length} bytes)")
        try:
            header = json.loads(f.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{str(path)!r} is not a safetensors file (bad header)") from None
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info.get("dtype") not in _DTYPES:
            raise ValueError(f"{str(path)!r}: tensor {name!r} has unsupported dtype {info.get('dtype')!r}")
        begin, end = info["data_offsets"]
        entries[name] = _Entry(path, _DTYPES[info["dtype"]], tuple(info["shape"]), 8 + length + begin,
                               end - begin)
    return entries


class Checkpoint:
    """A read-only safetensors checkpoint: a file, a folder with one file, or shards with an index.

    ``keys``, ``shape(key)``, ``dtype(key)`` come from the headers alone;
    ``read(key)`` loads one tensor into memory.
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
        self._handles: dict[Path, object] = {}

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

    def read(self, key: str) -> torch.Tensor:
        """One tensor, read from disk into a fresh buffer."""
        entry = self.entries[key]
        handle = self._handles.get(entry.file)
        if handle is None:
            # kept open across reads for the whole merge; closed by close()
            handle = self._handles[entry.file] = open(entry.file, "rb")  # noqa: SIM115
        buffer = bytearray(entry.nbytes)
        handle.seek(entry.start)
        if handle.readinto(buffer) != entry.nbytes:
            raise ValueError(f"model {str(self.path)!r}: tensor {key!r} is truncated in {str(entry.file)!r}")
        if entry.nbytes == 0:
            return torch.empty(entry.shape, dtype=entry.dtype)
        return torch.frombuffer(buffer, dtype=entry.dtype).reshape(entry.shape)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def non_tensor_files(self) -> list[Path]:
        """Files next to the weights that a merged model also needs (config, tokenizer, ...)."""
        if self.path.is_file():
            return []
        return sorted(p for p in self.path.iterdir()
                      if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_WEIGHT_SUFFIXES)
                      and p.name not in _INDEX_NAMES)


@dataclass(frozen=True)
class MergeResult:
    """What a merge wrote."""

    out_dir: Path
    method: str
    n_models: int
    n_tensors: int
    n_merged: int
    shards: tuple[str, ...]
    total_bytes: int
    copied_files: tuple[str, ...]


def parse_size(size) -> int:
    """Bytes from an int or a string like ``"5GB"``, ``"500MB"``, ``"2GiB"``."""
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    elif isinstance(size, str):
        text = size.strip().upper().replace(" ", "")
        units = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "KB": 10**3, "MB": 10**6,
                 "GB": 10**9, "TB": 10**12, "B": 1}
        for unit, factor in units.items():
            if text.endswith(unit):
                try:
                    value = int(float(text[:-len(unit)]) * factor)
                except ValueError:
                    raise ValueError(f"max_shard_size: cannot read {size!r}") from None
                break
        else:
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"max_shard_size: cannot read {size!r}") from None
    else:
        raise TypeError(f"max_shard_size must be an int or a string like '5GB', got {size!r}")
    if value <= 0:
        raise ValueError(f"max_shard_size must be positive, got {size!r}")
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


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"OUT_DIR {str(out_dir)!r} exists and is not a folder")
        if any(out_dir.iterdir()) and not overwrite:
            raise ValueError(f"OUT_DIR {str(out_dir)!r} exists and is not empty (pass overwrite=True / "
                             "--overwrite to replace it)")


def merge_checkpoints(config, out_dir, *, max_shard_size="5GB", copy_files: bool = True,
                      overwrite: bool = False,
                      progress: Callable[[int, int, str], None] | None = None) -> MergeResult:
    """Merge the checkpoints a config names into ``out_dir`` (safetensors shards + index).

    ``config``: a :class:`~diversa.combine.merge.config.MergeConfig` or the path
    of a YAML file. ``progress(done, total, tensor)`` is called after each
    tensor. Raises ``ValueError`` naming the tensor for a missing key, a shape
    or dtype mismatch, or a parameter the method rejects; nothing is written
    then.
    """
    if not isinstance(config, MergeConfig):
        config = load_config(config)
    out_dir = Path(out_dir).expanduser()
    _prepare_out_dir(out_dir, overwrite)
    max_bytes = parse_size(max_shard_size)
    spec = config.spec
    entries = config.fine_tuned()
    models = [Checkpoint(_resolve_model_path(e.model, config)) for e in entries]
    base = Checkpoint(_resolve_model_path(config.base_model, config)) if config.base_model else None
    checkpoints = models + ([base] if base is not None else [])
    try:
        reference = base if (base is not None and spec.takes_base) else (base or models[0])
        names = {id(c): str(c.path) for c in checkpoints}
        layout, merged_keys = _plan(config, reference, models, base if spec.takes_base else None, names)
        shards = _plan_shards(layout, max_bytes)
        _dry_run(config, merged_keys, len(models))
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.merging-"))
        try:
            shard_names = _write_all(config, shards, reference, models, base if spec.takes_base else None,
                                     merged_keys, tmp, progress)
            copied = _copy_files(base or models[0], tmp, config.out_dtype) if copy_files else []
            _move_into_place(tmp, out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        for c in checkpoints:
            c.close()
    total = sum(_nbytes(s, d) for _, d, s in layout)
    return MergeResult(out_dir, config.merge_method, len(models), len(layout), len(merged_keys),
                       tuple(shard_names), total, tuple(copied))


def _plan(config, reference, models, base, names):
    """Output layout [(name, dtype, shape)] and the set of merged keys, after checking every input."""
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
            if e.shape != ref.shape:
                raise ValueError(f"tensor {key!r} has shape {list(e.shape)} in model {names[id(c)]!r} but "
                                 f"{list(ref.shape)} in {names[id(reference)]!r}")
            if e.dtype.is_floating_point != floating or (not floating and e.dtype != ref.dtype):
                raise ValueError(f"tensor {key!r} has dtype {_NAMES[e.dtype]} in model {names[id(c)]!r} but "
                                 f"{_NAMES[ref.dtype]} in {names[id(reference)]!r}")
        if floating:
            merged.add(key)
            layout.append((key, out_dtype or ref.dtype, ref.shape))
        else:
            layout.append((key, ref.dtype, ref.shape))
    return layout, merged


def _call(config, base_sd, model_sds, key):
    spec = config.spec
    kwargs = config.arguments_for(key)
    try:
        if spec.takes_base:
            return spec.function(base_sd, model_sds, keys=[key], **kwargs)[key]
        return spec.function(model_sds, keys=[key], **kwargs)[key]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"tensor {key!r}: method {config.merge_method!r}: {exc}") from None


def _dry_run(config, merged_keys, n_models: int) -> None:
    """Run the method on tiny tensors with every tensor's parameters, so bad values fail before writing."""
    seen = set()
    g = torch.Generator().manual_seed(0)
    for key in sorted(merged_keys):
        signature = repr(sorted(config.arguments_for(key).items()))
        if signature in seen:
            continue
        seen.add(signature)
        base = {key: torch.randn(4, 4, generator=g)}
        models = [{key: torch.randn(4, 4, generator=g)} for _ in range(n_models)]
        _call(config, base, models, key)


def _write_all(config, shards, reference, models, base, merged_keys, tmp: Path, progress) -> list[str]:
    n = len(shards)
    file_names = (["model.safetensors"] if n == 1 else
                  [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)])
    total = sum(len(s) for s in shards)
    done = 0
    weight_map, total_size = {}, 0
    for file_name, shard in zip(file_names, shards):
        with open(tmp / file_name, "wb") as f:
            f.write(_header_bytes(shard))
            for key, dtype, shape in shard:
                if key in merged_keys:
                    base_sd = {key: base.read(key)} if base is not None else None
                    model_sds = [{key: m.read(key)} for m in models]
                    tensor = _call(config, base_sd, model_sds, key).to(dtype)
                    del base_sd, model_sds
                else:
                    tensor = reference.read(key)
                if tuple(tensor.shape) != tuple(shape) or tensor.dtype != dtype:
                    raise RuntimeError(f"tensor {key!r}: method returned {tensor.dtype} {list(tensor.shape)}, "
                                       f"expected {dtype} {list(shape)}")
                _write_tensor(f, tensor)
                del tensor
                weight_map[key] = file_name
                total_size += _nbytes(shape, dtype)
                done += 1
                if progress is not None:
                    progress(done, total, key)
    if n > 1:
        index = {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))}
        (tmp / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return file_names


def _copy_files(source: Checkpoint, tmp: Path, out_dtype) -> list[str]:
    copied = []
    for path in source.non_tensor_files():
        target = tmp / path.name
        if path.name == "config.json" and out_dtype is not None:
            try:
                cfg = json.loads(path.read_text())
            except json.JSONDecodeError:
                shutil.copyfile(path, target)
            else:
                name = str(out_dtype).removeprefix("torch.")
                for field_name in ("torch_dtype", "dtype"):
                    if field_name in cfg or field_name == "torch_dtype":
                        cfg[field_name] = name
                target.write_text(json.dumps(cfg, indent=2) + "\n")
        else:
            shutil.copyfile(path, target)
        copied.append(path.name)
    return copied


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
        os.rmdir(old)
        os.replace(out_dir, old)
        try:
            os.replace(tmp, out_dir)
        except BaseException:
            os.replace(old, out_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)
