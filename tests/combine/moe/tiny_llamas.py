"""Tiny dense Llama checkpoints and a word-level tokenizer, written locally for the MoE-assembly tests.

``write_family(folder)`` writes ``base`` and fine-tunes ``math``, ``code`` and ``chat`` that differ
from the base only in their MLPs (so the MoE built from them reproduces each one exactly when routed
to it), each with the tokenizer; ``write_llama(path, ...)`` writes one model.
"""

import json

import torch

WORDS = ("solve", "the", "equation", "add", "two", "numbers", "def", "main", "return", "print", "hello", "how",
         "are", "you", "today", "write", "a", "poem", "about", "sea", "x", "y", "plus", "minus")
SPECIAL = ("<unk>", "<s>", "</s>", "<pad>")
VOCAB = {token: i for i, token in enumerate(SPECIAL + WORDS)}


def write_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>")
    fast.save_pretrained(path)


def llama_config(intermediate_size=64, model_type="llama", **extra):
    import transformers

    cls = transformers.MistralConfig if model_type == "mistral" else transformers.LlamaConfig
    return cls(vocab_size=len(VOCAB), hidden_size=32, intermediate_size=intermediate_size, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, bos_token_id=VOCAB["<s>"],
               eos_token_id=VOCAB["</s>"], pad_token_id=VOCAB["<pad>"], dtype="float32", **extra)


def write_llama(path, state_dict=None, seed=0, **config_kw):
    """Save a tiny model (random weights from ``seed``, or ``state_dict``) with the tokenizer; return its state dict."""
    import transformers

    config = llama_config(**config_kw)
    cls = transformers.MistralForCausalLM if config.model_type == "mistral" else transformers.LlamaForCausalLM
    torch.manual_seed(seed)
    model = cls(config)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    model.save_pretrained(path)
    write_tokenizer(path)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fine_tune_mlps(base, seed, scale=0.5):
    """The base state dict with every MLP weight moved by noise (a stand-in for a fine-tune of the MLPs)."""
    g = torch.Generator().manual_seed(seed)
    return {k: v + scale * v.std() * torch.randn(v.shape, generator=g) if ".mlp." in k else v.clone()
            for k, v in base.items()}


def write_family(folder, names=("math", "code", "chat")):
    """Write ``base`` and one MLP fine-tune per name; return {name: state dict}."""
    base = write_llama(folder / "base", seed=0)
    family = {"base": base}
    for i, name in enumerate(names):
        family[name] = write_llama(folder / name, fine_tune_mlps(base, seed=i + 1))
    return family


def read_json(path):
    return json.loads(path.read_text())
