"""The model card (``README.md``) written next to a merged checkpoint: what was merged, how, and the recipe."""

from __future__ import annotations

import json
from pathlib import Path

from diversa.combine.merge.config import MergeConfig

__all__ = ["model_card", "write_model_card"]


def model_card(config: MergeConfig) -> str:
    """Markdown naming the method, the models with their parameters and layer ranges, and the YAML itself."""
    lines = ["---", "library_name: transformers", "tags:", "- merge", "- diversa", "---", "",
             "# Merged model", "", f"Merged with `diversa merge` using the **{config.merge_method}** method.", ""]
    if config.base_model:
        lines += [f"Base model: `{config.base_model}`.", ""]
    lines += ["## Models", ""]
    if config.slices is None:
        for entry in config.models:
            lines.append(f"- `{entry.model}`{_parameters(entry.parameters)}")
    else:
        for i, part in enumerate(config.slices):
            if part.parameters:
                lines.append(f"- slice {i} parameters: {_parameters(part.parameters).strip()[1:-1]}")
            for source in part.sources:
                first, stop = source.layer_range
                lines.append(f"- slice {i}: `{source.model}` layers {first}-{stop - 1}{_parameters(source.parameters)}")
    if config.parameters:
        lines += ["", "## Parameters", ""]
        lines += [f"- `{name}`: {json.dumps(value)}" for name, value in config.parameters.items()]
    recipe = _recipe(config)
    if recipe:
        lines += ["", "## Configuration", "", "```yaml", recipe.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _parameters(parameters) -> str:
    return f" ({', '.join(f'{k}: {json.dumps(v)}' for k, v in parameters.items())})" if parameters else ""


def _recipe(config: MergeConfig) -> str:
    """The YAML file the merge was read from (empty when the config was built in code)."""
    if config.source is not None and Path(config.source).is_file():
        return Path(config.source).read_text()
    return ""


def write_model_card(folder: Path, config: MergeConfig) -> None:
    """Write ``README.md`` (replacing one copied from the base model, which describes another model)."""
    (Path(folder) / "README.md").write_text(model_card(config))
