"""Assemble a Mixtral mixture of experts from dense Llama or Mistral fine-tunes.

The construction of mergekit-moe (Goddard et al., "Arcee's MergeKit",
arXiv:2403.13257; the "FrankenMoE" recipe): the base model gives every tensor
outside the MLPs (embeddings, attention, norms, LM head); the MLP of dense
model e at layer l becomes expert e of layer l; each layer gets a router
initialised from prompts (:mod:`diversa.combine.moe.router_init`). The output
is a ``MixtralForCausalLM`` checkpoint in the layout transformers >= 5 loads:
per layer ``mlp.experts.gate_up_proj [E, 2h, d]`` (expert e's
``gate_proj`` rows, then its ``up_proj`` rows: Mixtral's w1 and w3),
``mlp.experts.down_proj [E, d, h]`` (w2) and ``mlp.gate.weight [E, d]``.

:func:`assemble_moe` returns the state dict and the ``MixtralConfig`` in
memory; :func:`write_moe` writes them layer by layer into safetensors shards
(memory: about one shard plus one layer's experts), with the config and the
base model's tokenizer files, into a temporary folder moved into place only
when complete. Every model's config and every tensor's presence and shape
are checked before anything is computed, and errors name the config key.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from diversa.combine.moe.assembly_config import MoEAssemblyConfig, load_moe_config
from diversa.combine.moe.router_init import cheap_embed_router, hidden_state_router, random_router

__all__ = ["AssembledMoE", "MoEAssemblyResult", "assemble_moe", "mixtral_config", "write_moe"]

Progress = Callable[[int, int, str], None]

#: Dense architectures whose MLP is a SwiGLU with gate_proj, up_proj and down_proj.
_DENSE_TYPES = ("llama", "mistral")
#: Config fields every model must share for its MLP to be an expert of the base.
_SHARED_FIELDS = ("hidden_size", "intermediate_size", "num_hidden_layers", "hidden_act")
#: Fields of a Llama/Mistral config that carry over to the Mixtral config.
_MIXTRAL_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                   "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "initializer_range",
                   "rms_norm_eps", "use_cache", "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings",
                   "attention_dropout", "rope_parameters")
_MLP = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class AssembledMoE:
    """A Mixtral checkpoint in memory: ``state_dict`` (transformers >= 5 key names) and its ``config``."""

    state_dict: dict[str, torch.Tensor]
    config: object  # transformers.MixtralConfig


@dataclass(frozen=True)
class MoEAssemblyResult:
    """What :func:`write_moe` wrote."""

    out_dir: Path
    n_experts: int
    n_layers: int
    experts_per_token: int
    gate_mode: str
    seed: int | None
    shards: tuple[str, ...]
    total_bytes: int
    copied_files: tuple[str, ...]


class _Plan:
    """The checked inputs of an assembly: configs, checkpoints, output dtype and tensor names."""

    def __init__(self, config: MoEAssemblyConfig):
        from diversa.combine.merge.engine import Checkpoint

        self.config = config
        self.base_config = _dense_config(config.base_model, "base_model")
        expert_configs = [_dense_config(e.source_model, f"experts[{i}].source_model")
                          for i, e in enumerate(config.experts)]
        _check_same_architecture(self.base_config, expert_configs)
        self.base = Checkpoint(config.base_model)
        self.experts = [Checkpoint(e.source_model) for e in config.experts]
        self.n_layers = self.base_config.num_hidden_layers
        self.out_dtype = _out_dtype(config.dtype, self.base_config, self.base)
        self.base_keys = _base_keys(self.base, self.base_config)
        self._check_expert_tensors()

    def _check_expert_tensors(self) -> None:
        d, h = self.base_config.hidden_size, self.base_config.intermediate_size
        shapes = {"gate_proj": (h, d), "up_proj": (h, d), "down_proj": (d, h)}
        for i, checkpoint in enumerate(self.experts):
            for layer in range(self.n_layers):
                for proj in _MLP:
                    key = f"model.layers.{layer}.mlp.{proj}.weight"
                    entry = checkpoint.entries.get(key)
                    where = f"experts[{i}].source_model ({str(checkpoint.path)!r})"
                    if entry is None:
                        raise ValueError(f"moe config: {where} has no tensor {key!r}")
                    if entry.shape != shapes[proj]:
                        raise ValueError(f"moe config: {where}: tensor {key!r} has shape {list(entry.shape)}, the "
                                         f"base model's MLP needs {list(shapes[proj])}")

    def tensors(self, router: torch.Tensor, progress: Progress | None = None) -> Iterator[tuple[str, torch.Tensor]]:
        """Every output tensor, name first, in a fixed order (base tensors, then each layer's MoE block)."""
        total, done = len(self.base_keys) + self.n_layers, 0
        for key in self.base_keys:
            yield key, self._cast(self.base.read(key))
            done += 1
            _report(progress, done, total, key)
        for layer in range(self.n_layers):
            prefix = f"model.layers.{layer}.mlp"
            gate_up, down = self._experts_of(layer)
            yield f"{prefix}.gate.weight", self._cast(router[layer]).contiguous()
            yield f"{prefix}.experts.gate_up_proj", gate_up
            yield f"{prefix}.experts.down_proj", down
            done += 1
            _report(progress, done, total, f"{prefix}.experts")

    def _experts_of(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        def read(checkpoint, proj):
            return self._cast(checkpoint.read(f"model.layers.{layer}.mlp.{proj}.weight"))

        gate_up = torch.stack([torch.cat([read(c, "gate_proj"), read(c, "up_proj")]) for c in self.experts])
        down = torch.stack([read(c, "down_proj") for c in self.experts])
        return gate_up, down

    def _cast(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.out_dtype).contiguous()


def assemble_moe(config, *, seed: int = 0, progress: Progress | None = None) -> AssembledMoE:
    """Build a Mixtral state dict and config from a mergekit-moe config (a path, mapping or :class:`MoEAssemblyConfig`).

    ``seed``: the seed of ``gate_mode: random``. ``progress(done, total,
    what)`` is called as router rows and tensors are made.
    """
    _check_seed(seed)
    plan = _Plan(_as_config(config))
    router = _router_weights(plan, seed=seed, progress=progress)
    state_dict = dict(plan.tensors(router, progress))
    return AssembledMoE(state_dict, mixtral_config(plan.base_config, len(plan.experts), plan.config.experts_per_token,
                                                   plan.out_dtype))


def write_moe(config, out_dir, *, seed: int = 0, overwrite: bool = False, max_shard_size="5GB",
              copy_files: bool = True, progress: Progress | None = None) -> MoEAssemblyResult:
    """Assemble the MoE a config describes and write it to ``out_dir`` (safetensors shards, config, tokenizer).

    The folder appears only when complete; a non-empty ``out_dir`` is
    replaced only with ``overwrite``; an output folder that is, holds or lies
    inside an input model is refused. Raises ``ValueError`` naming the key for
    a bad config, a model of another architecture or shape, or a missing tensor.
    """
    from diversa.combine.merge.engine import parse_size
    from diversa.combine.merge.output_folder import check_output_folder, staged_folder

    config = _as_config(config)
    _check_seed(seed)
    out_dir = Path(out_dir).expanduser()
    check_output_folder(out_dir, overwrite, config.model_paths, label="output folder")
    max_bytes = parse_size(max_shard_size)
    plan = _Plan(config)
    router = _router_weights(plan, seed=seed, progress=progress)
    with staged_folder(out_dir, "moe") as tmp:
        shards, total = _write_shards(plan.tensors(router, progress), tmp, max_bytes)
        mixtral_config(plan.base_config, len(plan.experts), config.experts_per_token,
                       plan.out_dtype).save_pretrained(tmp)
        copied = _copy_tokenizer(config.base_model, tmp) if copy_files else []
    return MoEAssemblyResult(out_dir, len(config.experts), plan.n_layers, config.experts_per_token,
                             config.gate_mode, seed if config.gate_mode == "random" else None, tuple(shards), total,
                             tuple(copied))


def _router_weights(plan: _Plan, *, seed: int = 0, progress: Progress | None = None) -> torch.Tensor:
    """The router rows ``[layers, experts, hidden]`` of the plan's ``gate_mode``."""
    config, base_config = plan.config, plan.base_config
    if config.gate_mode == "random":
        return random_router(plan.n_layers, len(config.experts), base_config.hidden_size, seed)
    tokenizer = _tokenizer(config.base_model)
    if config.gate_mode == "cheap_embed":
        return cheap_embed_router(plan.base.read("model.embed_tokens.weight"), tokenizer, config.experts,
                                  plan.n_layers, progress)
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # our caller reports progress
    try:
        model = AutoModelForCausalLM.from_pretrained(config.base_model,
                                                     dtype=plan.base.entries["model.embed_tokens.weight"].dtype)
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    return hidden_state_router(model, tokenizer, config.experts, progress)


def mixtral_config(base_config, num_experts: int, experts_per_token: int, dtype: torch.dtype | None = None):
    """A ``MixtralConfig`` with the base Llama/Mistral config's shapes, ``num_experts`` experts and top-k.

    As in mergekit-moe, the sliding window is off (Llama has none; a
    Mistral's would otherwise apply to every layer of the MoE).
    """
    from transformers import MixtralConfig

    fields = {name: getattr(base_config, name) for name in _MIXTRAL_FIELDS if hasattr(base_config, name)}
    config = MixtralConfig(**fields, num_local_experts=num_experts, num_experts_per_tok=experts_per_token,
                           sliding_window=None, architectures=["MixtralForCausalLM"])
    if dtype is not None:
        config.dtype = dtype
    return config


def _as_config(config) -> MoEAssemblyConfig:
    from collections.abc import Mapping

    from diversa.combine.moe.assembly_config import parse_moe_config

    if isinstance(config, MoEAssemblyConfig):
        return config
    if isinstance(config, Mapping):
        return parse_moe_config(config)
    if isinstance(config, (str, Path)):
        return load_moe_config(config)
    raise TypeError(f"config must be a path, a mapping or a MoEAssemblyConfig, got {type(config).__name__}")


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")


def _dense_config(path: Path, key: str):
    from transformers import AutoConfig

    file = path / "config.json"
    if not file.is_file():
        raise ValueError(f"moe config: {key}: {str(path)!r} has no config.json")
    try:
        model_type = json.loads(file.read_text()).get("model_type")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"moe config: {key}: {str(file)!r} is not a JSON object") from None
    if model_type not in _DENSE_TYPES:
        raise ValueError(f"moe config: {key}: {str(path)!r} is a {model_type!r} model; Mixtral experts come from "
                         f"dense {' or '.join(_DENSE_TYPES)} models")
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"moe config: {key}: {str(file)!r} cannot be read as a {model_type} config: "
                         f"{' '.join(str(exc).split())}") from None
    for flag in ("attention_bias", "mlp_bias"):
        if getattr(config, flag, False):
            raise ValueError(f"moe config: {key}: {str(path)!r} sets {flag}: true; Mixtral has no biases")
    return config


def _check_same_architecture(base_config, expert_configs) -> None:
    for i, config in enumerate(expert_configs):
        key = f"experts[{i}].source_model"
        if config.model_type != base_config.model_type:
            raise ValueError(f"moe config: {key} is a {config.model_type!r} model and base_model a "
                             f"{base_config.model_type!r} model; all models must share one architecture")
        for field in _SHARED_FIELDS:
            mine, base = getattr(config, field), getattr(base_config, field)
            if mine != base:
                raise ValueError(f"moe config: {key} has {field} {mine!r}, base_model has {base!r}; "
                                 "every expert needs the base model's shapes")


def _out_dtype(name: str | None, base_config, base) -> torch.dtype:
    """The config's dtype, else the base config's, else the base embedding's (mergekit's order)."""
    from diversa.combine.merge.config import DTYPES

    if name is not None:
        return DTYPES[name]
    declared = getattr(base_config, "dtype", None)
    if isinstance(declared, torch.dtype):
        return declared
    if isinstance(declared, str) and declared.removeprefix("torch.") in DTYPES:
        return DTYPES[declared.removeprefix("torch.")]
    return base.entries["model.embed_tokens.weight"].dtype


def _base_keys(base, base_config) -> list[str]:
    """The base tensors a Mixtral keeps (all but the MLPs), checked to be present."""
    keys = ["model.embed_tokens.weight"]
    for layer in range(base_config.num_hidden_layers):
        prefix = f"model.layers.{layer}"
        keys += [f"{prefix}.self_attn.{p}_proj.weight" for p in "qkvo"]
        keys += [f"{prefix}.input_layernorm.weight", f"{prefix}.post_attention_layernorm.weight"]
    keys.append("model.norm.weight")
    if "lm_head.weight" in base.entries or not base_config.tie_word_embeddings:
        keys.append("lm_head.weight")
    for key in keys:
        if key not in base.entries:
            raise ValueError(f"moe config: base_model ({str(base.path)!r}) has no tensor {key!r}")
    return keys


def _tokenizer(path: Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"moe config: base_model: no tokenizer could be read from {str(path)!r} "
                         f"(gate_mode hidden and cheap_embed tokenise the prompts): {' '.join(str(exc).split())}"
                         ) from None


def _write_shards(tensors: Iterator[tuple[str, torch.Tensor]], folder: Path, max_bytes: int):
    """Write tensors into shards of at most ``max_bytes`` (one tensor may exceed it) plus an index if several."""
    from diversa.combine.merge.engine import write_safetensors

    shards: list[dict[str, torch.Tensor]] = [{}]
    size, total, names, weight_map = 0, 0, [], {}

    def flush(final: bool):
        number = len(names) + 1
        name = f"part-{number:05d}.safetensors"
        write_safetensors(folder / name, shards[-1])
        names.append(name)
        for key in shards[-1]:
            weight_map[key] = name
        if not final:
            shards[-1] = {}

    for key, tensor in tensors:
        n = tensor.numel() * tensor.element_size()
        if shards[-1] and size + n > max_bytes:
            flush(final=False)
            size = 0
        shards[-1][key] = tensor
        size += n
        total += n
    flush(final=True)
    return _name_shards(folder, names, weight_map, total), total


def _name_shards(folder: Path, names: list[str], weight_map: dict[str, str], total: int) -> list[str]:
    """Rename the parts as transformers names shards (one file: ``model.safetensors``) and write the index."""
    n = len(names)
    final = ["model.safetensors"] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    for old, new in zip(names, final):
        (folder / old).rename(folder / new)
    if n > 1:
        renamed = dict(zip(names, final))
        index = {"metadata": {"total_size": total},
                 "weight_map": {k: renamed[v] for k, v in sorted(weight_map.items())}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return final


def _copy_tokenizer(base_model: Path, folder: Path) -> list[str]:
    """Copy the base model's tokenizer and generation files (the weights and config.json are new)."""
    from diversa.combine.merge.engine import Checkpoint

    copied = []
    for path in Checkpoint(base_model).non_tensor_files():
        if path.name != "config.json":
            shutil.copyfile(path, folder / path.name)
            copied.append(path.name)
    return copied


def _report(progress: Progress | None, done: int, total: int, what: str) -> None:
    if progress is not None:
        progress(done, total, what)
