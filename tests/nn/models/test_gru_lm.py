import pytest
import torch

from diversa.nn.models import GRULM, nucleus_sample


@pytest.fixture
def model(one_thread):
    torch.manual_seed(0)
    return GRULM(12, pad_id=0, d_embed=8, d_hidden=16).eval()


def test_sequence_logprob_sums_response_tokens_and_ignores_batch_padding(model):
    prompt, response = [3, 4, 5], [6, 7]
    logp = model(torch.tensor([prompt + response])).log_softmax(-1)[0]
    expected = logp[2, 6] + logp[3, 7]
    alone = model.sequence_logprob([prompt], [response])
    batched = model.sequence_logprob([prompt, [1, 2, 3, 4, 5, 6]], [response, [7, 8, 9, 10]])
    torch.testing.assert_close(alone[0], expected)
    torch.testing.assert_close(batched[0], expected, atol=1e-5, rtol=1e-5)


def test_greedy_generation_matches_full_forward_decoding(model):
    prompts = [[3, 4], [5, 6, 7, 8, 9], [1]]
    generated = model.generate(prompts, max_new_tokens=6, eos_id=11)
    for p, g in zip(prompts, generated):
        seq = list(p)
        for _ in range(len(g)):
            seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
        assert seq[len(p):] == g
        assert len(g) == 6 or g[-1] == 11


def test_generation_stops_at_eos_and_per_prompt_limits(model):
    with torch.no_grad():
        model.head.bias.fill_(-10.0)
        model.head.bias[11] = 10.0  # EOS always most likely
    assert model.generate([[1, 2], [3]], [5, 0], eos_id=11) == [[11], []]


def test_nucleus_keeps_only_the_top_mass():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([nucleus_sample(logits, top_p=0.7, generator=g) for _ in range(2000)]).reshape(-1)
    assert set(draws.tolist()) == {0, 1}  # 0.5 < 0.7 needs the second token; the third is outside
    share = float((draws == 0).float().mean())
    assert abs(share - 0.5 / 0.8) < 0.04
    assert nucleus_sample(logits, top_p=0.1).item() == 0


def test_sampling_follows_the_temperature():
    logits = torch.tensor([[0.0, 1.0]])
    g = torch.Generator().manual_seed(1)
    draws = torch.cat([nucleus_sample(logits.repeat(4000, 1), temperature=0.5, generator=g)])
    expected = torch.softmax(logits / 0.5, -1)[0, 1].item()
    assert abs(draws.float().mean().item() - expected) < 0.03


def test_bad_input(model):
    with pytest.raises(ValueError, match="pad_id"):
        GRULM(5, pad_id=7)
    with pytest.raises(ValueError, match="top_p"):
        nucleus_sample(torch.zeros(1, 3), top_p=0.0)
    with pytest.raises(ValueError, match="pair up"):
        model.sequence_logprob([[1]], [[2], [3]])
    with pytest.raises(ValueError, match="at least one token"):
        model.generate([[]], 3, eos_id=11)
