"""MoE layers with random weights shared by the expert-merging tests (no download).

Fixtures: ``make_layer(kind, **kw)`` builds a diversa ``MoEFeedForward`` (``"swiglu"``, ``"gelu"``) or a
Hugging Face ``MixtralSparseMoeBlock`` (``"mixtral"``, skipped without transformers) with 6 experts, d = 16,
h = 12, top-2 by default; ``layer_output(layer, x)`` is its output tensor whatever the layer returns
(tokens [N, d] or [B, L, d]). Estimators are fitted on [1, N, d] batches, which every layer takes.
"""

import pytest
import torch

from diversa.nn.moe import MoEFeedForward


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def _diversa_layer(expert_type, num_experts=6, top_k=2, d=16, h=12, num_null=0, seed=0):
    torch.manual_seed(seed)
    return MoEFeedForward(d, h, num_experts=num_experts, top_k=top_k, expert_type=expert_type, init_std=0.3,
                          num_null_experts=num_null)


def _mixtral_block(num_experts=6, top_k=2, d=16, h=12, seed=0):
    mixtral = pytest.importorskip("transformers.models.mixtral.modeling_mixtral")
    from transformers import MixtralConfig

    torch.manual_seed(seed)
    block = mixtral.MixtralSparseMoeBlock(MixtralConfig(hidden_size=d, intermediate_size=h,
                                                        num_local_experts=num_experts, num_experts_per_tok=top_k))
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.3)
    return block.eval()


@pytest.fixture
def make_layer():
    def make(kind="gelu", **kwargs):
        return _mixtral_block(**kwargs) if kind == "mixtral" else _diversa_layer(kind, **kwargs)

    return make


@pytest.fixture
def layer_output():
    def output(layer, x):
        out = layer(x[None] if x.dim() == 2 else x)  # Mixtral blocks take [B, L, d]
        out = out[0] if isinstance(out, tuple) else out
        return out[0] if x.dim() == 2 else out

    return output
