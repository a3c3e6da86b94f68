"""Merging models whose tokenizers differ: one output vocabulary, embedding rows re-indexed to it.

``tokenizer_source`` picks the output tokenizer, with mergekit's semantics:

- ``base``: the base model's tokenizer (the first model's without a base);
- ``union``: the base tokenizer plus every token of the other models' it
  lacks, appended in the order of their ids in the first model that has them
  (mergekit appends them in the order of a hash map);
- ``model:PATH`` (or a bare PATH, as mergekit spells it): the tokenizer of
  the model at PATH.

Every vocabulary tensor (input embeddings and output head, rows indexed by
token) of every model is re-indexed to the output vocabulary before the merge
method sees it: a token a model has keeps that model's row; a token it lacks
gets the base model's row when the base is among the merged models and has
it, else the mean of the rows of the models that have it (so a token only
one model knows takes that model's row), else zeros. Tokens with ids at or
beyond a model's ``vocab_size`` are ignored. Vocabulary tensors are merged
whole, never in row blocks.

Models whose tokenizers' vocabularies differ cannot be merged row by row;
without ``tokenizer_source`` that is an error naming the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

__all__ = ["Vocabulary", "align_rows", "is_vocabulary_tensor", "prepare_vocabulary"]

#: Name endings of the tensors whose first axis is the vocabulary.
_VOCABULARY_TENSORS = ("embed_tokens.weight", "lm_head.weight", "wte.weight", "word_embeddings.weight",
                       "embed_out.weight", "output.weight", "tok_embeddings.weight")


def is_vocabulary_tensor(key: str) -> bool:
    """Whether ``key`` is indexed by token along its first axis (embeddings, output head)."""
    return key.endswith(_VOCABULARY_TENSORS)


def align_rows(tensors: Sequence[torch.Tensor], permutations: Sequence[torch.Tensor],
               base: int | None = None) -> list[torch.Tensor]:
    """Each model's vocabulary tensor re-indexed to the output vocabulary (see the module docstring).

    ``permutations[i][v]`` is the row of output token ``v`` in ``tensors[i]``,
    or -1 where model i lacks it; ``base`` is the position of the base model
    among ``tensors`` (None: not merged).
    """
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    present = torch.stack([p >= 0 for p in permutations])  # (models, vocabulary)
    gathered = [t.to(dtype)[p.clamp(min=0)] for t, p in zip(tensors, permutations)]
    trailing = (1,) * (gathered[0].dim() - 1)
    total = torch.zeros_like(gathered[0])
    for has, rows in zip(present, gathered):
        total += rows * has.view(-1, *trailing)
    count = present.sum(0).clamp(min=1).view(-1, *trailing)
    default = total / count
    if base is not None:
        default = torch.where(present[base].view(-1, *trailing), gathered[base], default)
    return [torch.where(has.view(-1, *trailing), rows, default) for has, rows in zip(present, gathered)]


class Vocabulary:
    """The output tokenizer and, per input model, the row of every output token (-1: the model lacks it)."""

    def __init__(self, tokenizer, permutations: dict[Path, torch.Tensor]):
        self.tokenizer = tokenizer
        self.permutations = permutations
        self.size = len(tokenizer.get_vocab())

    def permutation(self, checkpoint) -> torch.Tensor:
        return self.permutations[Path(checkpoint.path).resolve()]

    def align(self, tensors, checkpoints, base) -> list[torch.Tensor]:
        """``align_rows`` of one vocabulary tensor of ``checkpoints`` (``base`` is one of them, or None)."""
        position = next((i for i, c in enumerate(checkpoints) if c is base), None)
        return align_rows(tensors, [self.permutation(c) for c in checkpoints], position)

    def save(self, folder: Path) -> list[str]:
        """Write the output tokenizer's files and set ``vocab_size`` in ``config.json``; the names written."""
        written = self.tokenizer.save_pretrained(str(folder))
        config = Path(folder) / "config.json"
        if config.is_file():
            data = json.loads(config.read_text())
            data["vocab_size"] = self.size
            config.write_text(json.dumps(data, indent=2) + "\n")
        return sorted({Path(p).name for p in written})


def _vocabulary_size(folder: Path, fallback: int) -> int:
    try:
        return int(json.loads((folder / "config.json").read_text())["vocab_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return fallback


def _tokenizer_vocabulary(folder: Path) -> dict[str, int] | None:
    """The token -> id map of a folder's ``tokenizer.json`` (added tokens included), None without one."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        vocab = data["model"]["vocab"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...] in id order
        vocab = {piece: i for i, (piece, _) in enumerate(vocab)}
    vocab = dict(vocab)
    for added in data.get("added_tokens") or []:
        vocab[added["content"]] = added["id"]
    return vocab


def check_same_vocabulary(folders: Sequence[Path]) -> None:
    """``ValueError`` naming ``tokenizer_source`` when the models' ``tokenizer.json`` vocabularies differ."""
    known = [(f, v) for f in folders if (v := _tokenizer_vocabulary(f)) is not None]
    for folder, vocab in known[1:]:
        if vocab != known[0][1]:
            extra = sorted(set(vocab) - set(known[0][1]), key=vocab.get)[:3]
            raise ValueError(f"merge config: the tokenizers of {str(known[0][0])!r} and {str(folder)!r} differ "
                             f"({len(known[0][1])} vs {len(vocab)} tokens{', e.g. ' + repr(extra) if extra else ''}); "
                             "set tokenizer_source (base, union or model:PATH) to merge them")


def prepare_vocabulary(config, open_model: Callable[[str], object]) -> Vocabulary | None:
    """The output vocabulary of a config with ``tokenizer_source`` (None without one, after checking that
    the models' vocabularies agree)."""
    paths = list(dict.fromkeys(([config.base_model] if config.base_model else []) + [m.model for m in config.models]))
    folders = [Path(open_model(p).path) for p in paths]
    folders = [f for f in folders if f.is_dir()]
    if config.tokenizer_source is None:
        check_same_vocabulary(folders)
        return None
    from transformers import AutoTokenizer

    tokenizers = {}
    for folder in folders:
        try:
            tokenizers[folder.resolve()] = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as exc:
            if not tokenizers:
                raise ValueError(f"merge config: tokenizer_source: cannot load the tokenizer of "
                                 f"{str(folder)!r}: {exc}") from None
    if not tokenizers:
        raise ValueError("merge config: tokenizer_source needs the models as folders with tokenizer files")
    base = next(iter(tokenizers))
    output = _output_tokenizer(config, tokenizers, base, open_model)
    vocab = output.get_vocab()
    permutations = {}
    for folder in folders:
        model_vocab = tokenizers.get(folder.resolve(), tokenizers[base]).get_vocab()  # none: the base's
        limit = _vocabulary_size(folder, len(model_vocab))
        row = torch.full((len(vocab),), -1, dtype=torch.long)
        for token, index in vocab.items():
            old = model_vocab.get(token)
            if old is not None and old < limit:
                row[index] = old
        permutations[folder.resolve()] = row
    return Vocabulary(output, permutations)


def _output_tokenizer(config, tokenizers, base, open_model):
    source = config.tokenizer_source
    if source not in ("base", "union"):
        from transformers import AutoTokenizer

        path = Path(open_model(source.removeprefix("model:")).path)
        try:
            return AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError) as exc:
            raise ValueError(f"merge config: tokenizer_source {source!r}: cannot load its tokenizer: {exc}") from None
    output = tokenizers[base]
    if source == "base":
        return output
    import copy

    output = copy.deepcopy(output)
    known = set(output.get_vocab())
    for folder, tokenizer in tokenizers.items():
        if folder == base:
            continue
        limit = _vocabulary_size(folder, len(tokenizer.get_vocab()))
        added = {info.content for info in tokenizer.added_tokens_decoder.values()}
        fresh = sorted(((i, t) for t, i in tokenizer.get_vocab().items() if t not in known and i < limit),
                       key=lambda pair: pair[0])
        for _, token in fresh:
            if token in added:
                info = next(v for v in tokenizer.added_tokens_decoder.values() if v.content == token)
                output.add_tokens(info)
            else:
                output.add_tokens(token)
            known.add(token)
    return output
