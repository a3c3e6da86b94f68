"""The YAML description of a mixture of experts assembled from dense fine-tunes.

The schema is mergekit-moe's (``mergekit/moe/config.py``), so one file runs
with either tool::

    base_model: ./llama-base          # attention, norms, embeddings
    gate_mode: hidden                 # hidden | cheap_embed | random
    dtype: bfloat16                   # optional; default: the base model's
    experts_per_token: 2              # top-k of the router
    experts:
      - source_model: ./llama-math    # its MLP becomes expert 0
        positive_prompts: ["Solve the equation"]
        negative_prompts: ["Write a poem"]   # optional
      - source_model: ./llama-code
        positive_prompts: ["def main():"]

mergekit's options that change the experts' weights or the output
architecture (``noise_scale``, ``residual_scale``, ``shared_experts``,
``architecture``) are refused by name rather than ignored; so is any key
mergekit does not know. Relative model paths are read from the working
folder, else from the config file's folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GATE_MODES", "ExpertSource", "MoEAssemblyConfig", "load_moe_config", "parse_moe_config"]

#: How the router rows are initialised (see :mod:`diversa.combine.moe.router_init`).
GATE_MODES = ("hidden", "cheap_embed", "random")

_TOP_LEVEL = ("base_model", "experts", "gate_mode", "dtype", "experts_per_token")
_EXPERT_KEYS = ("source_model", "positive_prompts", "negative_prompts")
_UNSUPPORTED = {
    "noise_scale": "adds noise to an expert's weights", "residual_scale": "rescales an expert's down projection",
    "shared_experts": "adds shared experts (not part of the Mixtral architecture)",
    "architecture": "chooses a non-Mixtral output architecture",
}


@dataclass(frozen=True)
class ExpertSource:
    """A dense fine-tune whose MLPs become one expert, and the prompts its router row is built from."""

    source_model: Path
    positive_prompts: tuple[str, ...] = ()
    negative_prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class MoEAssemblyConfig:
    """A validated MoE assembly: the base model, the experts, the router initialisation and top-k."""

    base_model: Path
    experts: tuple[ExpertSource, ...]
    gate_mode: str = "hidden"
    experts_per_token: int = 2
    dtype: str | None = None

    def __post_init__(self):
        _check_gate_mode(self.gate_mode)
        _check_top_k(self.experts_per_token, len(self.experts))
        _check_dtype(self.dtype)
        _check_prompts(self.experts, self.gate_mode)

    @property
    def model_paths(self) -> tuple[Path, ...]:
        """The base model, then every expert's model."""
        return (self.base_model, *(e.source_model for e in self.experts))


def load_moe_config(path) -> MoEAssemblyConfig:
    """Read and validate a mergekit-moe YAML file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"moe config {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"moe config {str(path)!r} is not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_moe_config(data, source=path)


def parse_moe_config(data: Mapping[str, Any], source: Path | None = None) -> MoEAssemblyConfig:
    """Validate a mergekit-moe config given as a mapping; errors name the offending key.

    ``source``: the config file, whose folder resolves relative model paths.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"moe config: expected a mapping of keys, got {type(data).__name__}")
    _check_keys(data, _TOP_LEVEL, "")
    for key in ("base_model", "experts"):
        if key not in data:
            raise ValueError(f"moe config: {key} is required")
    experts = data["experts"]
    if not isinstance(experts, Sequence) or isinstance(experts, str) or not experts:
        raise ValueError("moe config: experts must be a non-empty list of {source_model: ..., positive_prompts: [...]}")
    folder = source.parent if source is not None else None
    return MoEAssemblyConfig(
        base_model=_model_path(data["base_model"], "base_model", folder),
        experts=tuple(_expert(e, i, folder) for i, e in enumerate(experts)),
        gate_mode=data.get("gate_mode", "hidden"),
        experts_per_token=data.get("experts_per_token", 2),
        dtype=data.get("dtype"),
    )


def _check_keys(data: Mapping, allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key in _UNSUPPORTED:
            raise ValueError(f"moe config: {where}{key} ({_UNSUPPORTED[key]}) is not supported")
        if key not in allowed:
            raise ValueError(f"moe config: unknown key {where}{key}; allowed: {', '.join(allowed)}")


def _expert(entry, i: int, folder: Path | None) -> ExpertSource:
    where = f"experts[{i}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"moe config: {where} must be a mapping with source_model, got {entry!r}")
    _check_keys(entry, _EXPERT_KEYS, f"{where}.")
    if "source_model" not in entry:
        raise ValueError(f"moe config: {where}.source_model is required")
    return ExpertSource(_model_path(entry["source_model"], f"{where}.source_model", folder),
                        _prompts(entry.get("positive_prompts"), f"{where}.positive_prompts"),
                        _prompts(entry.get("negative_prompts"), f"{where}.negative_prompts"))


def _model_path(value, key: str, folder: Path | None) -> Path:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"moe config: {key} must be the path of a local model folder, got {value!r}")
    path = Path(value).expanduser()
    if not path.is_absolute() and not path.exists() and folder is not None and (folder / path).exists():
        path = folder / path
    if not path.is_dir():
        raise FileNotFoundError(f"moe config: {key}: model folder {value!r} does not exist "
                                "(diversa assembles local checkpoints)")
    return path


def _prompts(value, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(p, str) for p in value):
        raise ValueError(f"moe config: {key} must be a list of strings, got {value!r}")
    return tuple(value)


def _check_gate_mode(mode) -> None:
    if mode not in GATE_MODES:
        raise ValueError(f"moe config: gate_mode must be one of {', '.join(GATE_MODES)}, got {mode!r}")


def _check_top_k(k, n_experts: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"moe config: experts_per_token must be a positive integer, got {k!r}")
    if k > n_experts:
        raise ValueError(f"moe config: experts_per_token ({k}) exceeds the number of experts ({n_experts})")


def _check_dtype(dtype) -> None:
    from diversa.combine.merge.config import DTYPES

    if dtype is not None and (not isinstance(dtype, str) or dtype not in DTYPES):
        raise ValueError(f"moe config: dtype must be one of {', '.join(sorted(DTYPES))}, got {dtype!r}")


def _check_prompts(experts: tuple[ExpertSource, ...], gate_mode: str) -> None:
    """Prompt-built routers need prompts for every expert, and prompts that tell the experts apart."""
    if gate_mode == "random":
        return
    for i, expert in enumerate(experts):
        if not expert.positive_prompts:
            raise ValueError(f"moe config: experts[{i}].positive_prompts is required with gate_mode {gate_mode!r} "
                             "(or use gate_mode: random)")
    prompts = {(e.positive_prompts, e.negative_prompts) for e in experts}
    if len(experts) > 1 and len(prompts) == 1:
        raise ValueError("moe config: every expert has the same positive_prompts and negative_prompts, so every "
                         "router row would be the same; give each expert prompts of its own")
