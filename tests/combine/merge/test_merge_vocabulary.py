"""``tokenizer_source`` (base, union, model:PATH) against mergekit, and the row alignment it rests on."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from diversa.combine.merge.config import load_config, parse_config
from diversa.combine.merge.engine import merge_checkpoints
from diversa.combine.merge.vocabulary import align_rows

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

COMMON = ["[UNK]", "the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "it", "and"]
VOCABS = {
    "a": COMMON,
    "b": COMMON[:1] + ["fish", "swam"] + COMMON[1:][::-1],  # other ids, two tokens of its own
    "c": COMMON + ["bird"],  # one token of its own, the others at a's ids
}


def _tokenizer(words):
    model = tokenizers.models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Three 2-layer Llamas with their own WordLevel tokenizers (vocabularies of 12, 14 and 13 tokens)."""
    root = tmp_path_factory.mktemp("vocab")
    for seed, (name, words) in enumerate(VOCABS.items()):
        config = transformers.LlamaConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2,
                                          num_attention_heads=2, num_key_value_heads=2, vocab_size=len(words),
                                          max_position_embeddings=16, tie_word_embeddings=False)
        torch.manual_seed(seed)
        transformers.LlamaForCausalLM(config).save_pretrained(root / name)
        _tokenizer(words).save_pretrained(root / name)
    return root


TEXT = """
merge_method: task_arithmetic
base_model: {root}/a
models:
  - model: {root}/b
    parameters: {{weight: 0.6}}
  - model: {root}/c
    parameters: {{weight: 0.3}}
tokenizer_source: {source}
dtype: float32
"""


def _by_token(folder):
    tensors = {}
    for shard in folder.glob("*.safetensors"):
        tensors.update(load_file(shard))
    vocab = transformers.AutoTokenizer.from_pretrained(str(folder)).get_vocab()
    return tensors, vocab


@pytest.mark.parametrize("source", ["union", "base", "model:{root}/b"])
def test_tokenizer_source_gives_mergekits_rows_token_by_token(zoo, tmp_path, source):
    """Fails if a token's row is taken from the wrong id, or new tokens are not the donor's row / base row."""
    merge = pytest.importorskip("mergekit.merge")
    mk_config = pytest.importorskip("mergekit.config")
    mk_options = pytest.importorskip("mergekit.options")
    text = TEXT.format(root=zoo, source=source.format(root=zoo))
    (tmp_path / "merge.yaml").write_text(text)
    mk_text = text.replace("tokenizer_source: model:", "tokenizer_source: ")  # mergekit: the bare path
    merge.run_merge(mk_config.MergeConfiguration.model_validate(yaml.safe_load(mk_text)), str(tmp_path / "mk"),
                    options=mk_options.MergeOptions(lazy_unpickle=False))
    merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "dv")
    theirs, their_vocab = _by_token(tmp_path / "mk")
    ours, our_vocab = _by_token(tmp_path / "dv")
    expected = {"union": set(COMMON) | {"fish", "swam", "bird"}, "base": set(COMMON)}.get(source, set(VOCABS["b"]))
    assert set(our_vocab) == set(their_vocab) == expected
    assert set(ours) == set(theirs)
    for key in ours:
        if key.endswith(("embed_tokens.weight", "lm_head.weight")):
            assert ours[key].shape[0] == len(our_vocab)
            for token, index in our_vocab.items():
                torch.testing.assert_close(ours[key][index], theirs[key][their_vocab[token]], atol=1e-6, rtol=1e-6,
                                           msg=f"{key} row of {token!r}")
        else:
            torch.testing.assert_close(ours[key], theirs[key], atol=1e-6, rtol=1e-6, msg=key)
    assert json.loads((tmp_path / "dv" / "config.json").read_text())["vocab_size"] == len(our_vocab)
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "dv")
    assert model.get_input_embeddings().weight.shape[0] == len(our_vocab)


def test_different_vocabularies_without_tokenizer_source_name_the_key(zoo, tmp_path):
    text = TEXT.format(root=zoo, source="base").replace("tokenizer_source: base\n", "")
    (tmp_path / "merge.yaml").write_text(text)
    with pytest.raises(ValueError, match="tokenizer_source"):
        merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [tmp_path / "merge.yaml"]


def test_bad_tokenizer_source_is_refused():
    with pytest.raises(ValueError, match="tokenizer_source must be 'base', 'union' or 'model:PATH'"):
        parse_config({"merge_method": "linear", "models": ["a", "b"], "tokenizer_source": 3})


def test_a_tokenizer_source_that_is_no_model_names_the_key(zoo, tmp_path):
    text = TEXT.format(root=zoo, source="model:./nowhere")
    (tmp_path / "merge.yaml").write_text(text)
    with pytest.raises((ValueError, FileNotFoundError), match="nowhere"):
        merge_checkpoints(load_config(tmp_path / "merge.yaml"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_align_rows_keeps_own_rows_then_base_then_mean_then_zero():
    base = torch.tensor([[1.0], [2.0]])      # tokens 0, 1
    other = torch.tensor([[10.0], [20.0]])   # tokens 1, 2
    third = torch.tensor([[100.0], [300.0]])  # tokens 2, 3
    perms = [torch.tensor([0, 1, -1, -1, -1]), torch.tensor([-1, 0, 1, -1, -1]), torch.tensor([-1, -1, 0, 1, -1])]
    out = align_rows([base, other, third], perms, base=0)
    assert out[0].flatten().tolist() == [1.0, 2.0, 60.0, 300.0, 0.0]   # token 2: mean of 20 and 100
    assert out[1].flatten().tolist() == [1.0, 10.0, 20.0, 300.0, 0.0]  # token 0: the base's (only donor)
    assert out[2].flatten().tolist() == [1.0, 2.0, 100.0, 300.0, 0.0]  # token 1: the base's, not the mean
