import math

import numpy as np
import pytest
import torch

from diversa.combine.recut import (
    Pair,
    ReCUT,
    build_preference_pairs,
    stepwise_explore,
    supervised_finetune,
    train_dpo,
    trial_reward,
)
from diversa.datasets.sumchain import (
    EOS,
    EQ,
    LONG,
    PAD,
    PLUS,
    SHORT,
    VOCAB_SIZE,
    SumChainFormat,
    make_problems,
    prompt,
    sft_examples,
)
from diversa.nn.models import GRULM

FMT = SumChainFormat()


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def test_reward_orders_trials():
    assert trial_reward(True, 5) > trial_reward(True, 9) > 0 > trial_reward(False, 30) > trial_reward(False, 5)
    assert trial_reward(False, 4) == -0.25 and trial_reward(True, 0) == -math.inf


class ScriptedPolicy(torch.nn.Module):
    """Continuations looked up by (mode token, prefix after the prompt); records the prompts it saw."""

    def __init__(self, script, prompt_len):
        super().__init__()
        self.script, self.prompt_len, self.seen = script, prompt_len, []

    def generate(self, prompts, max_new_tokens, eos_id, greedy=True, temperature=1.0, top_p=1.0, generator=None):
        self.seen.append([list(p) for p in prompts])
        return [list(self.script[(p[1], tuple(p[self.prompt_len:]))]) for p in prompts]


# problem [1, 2, 3] (answer 6), prompt length 6
S0 = (PLUS, 1, 2, 3)
S1 = (PLUS, 3, 6)
SCRIPT = {
    (LONG, ()): (PLUS, 1, 1, PLUS, 1, PLUS, 2, 3, PLUS, 3, 6, EQ, 6, EOS),  # correct, 14 tokens
    (SHORT, ()): S0 + S1 + (EQ, 6, EOS),  # correct, 10 tokens: better reward, first step S0 kept
    (LONG, S0): S1 + (PLUS, 6, EQ, 6, EOS),  # correct, 8
    (SHORT, S0): (PLUS, 3, 5, EQ, 5, EOS),  # wrong, 6: the long one wins, first step S1 kept
    (LONG, S0 + S1): (EQ, 6, EOS),  # correct, 3
    (SHORT, S0 + S1): (EQ, 6, EOS),  # tie: the short one, an answer step: exploration stops
}


def _explore():
    policy = ScriptedPolicy(SCRIPT, prompt_len=6)
    result = stepwise_explore(policy, [[1, 2, 3]], [6], FMT, prompt, max_steps=8, random_state=0)
    return policy, result


def test_exploration_follows_the_better_trial_and_stops_at_the_answer():
    policy, result = _explore()
    assert result.prefixes[0] == S0 + S1 + (EQ, 6, EOS) and result.steps_taken == [3]
    assert len(policy.seen) == 6  # 3 steps x (long, short), then stopped
    assert [t.length for t in result.correct[0]] == [14, 10, 12, 10, 10]
    assert [t.tokens for t in result.incorrect[0]] == [S0 + (PLUS, 3, 5, EQ, 5, EOS)]
    assert result.optimal[0].tokens == S0 + S1 + (EQ, 6, EOS) and result.optimal[0].length == 10


def test_pairs_from_the_pools():
    _, result = _explore()
    plain = [prompt([1, 2, 3])]
    acc, length = build_preference_pairs(result, plain, len_rejected="longest", random_state=0)
    assert acc == [Pair(tuple(plain[0]), S0 + S1 + (EQ, 6, EOS), S0 + (PLUS, 3, 5, EQ, 5, EOS))]
    assert length == [Pair(tuple(plain[0]), S0 + S1 + (EQ, 6, EOS), SCRIPT[(LONG, ())])]
    for seed in range(5):  # the random rejected one is always strictly longer than the chosen one
        _, length = build_preference_pairs(result, plain, random_state=seed)
        assert len(length[0].rejected) > len(length[0].chosen)


def test_no_answer_no_pool_and_no_correct_no_pairs():
    script = {(LONG, ()): (PLUS, 1, 1, PLUS, 2, 3), (SHORT, ()): (PLUS, 1, 2, 4, EQ, 4, EOS),
              (LONG, (PLUS, 1, 2, 4)): (EQ, 4, EOS), (SHORT, (PLUS, 1, 2, 4)): (EQ, 4, EOS)}
    # [1, 2] has answer 3: the long trial has no answer, every answer is wrong
    result = stepwise_explore(ScriptedPolicy(script, 5), [[1, 2]], [3], FMT, prompt)
    assert result.correct == [[]] and len(result.incorrect[0]) == 3 and result.optimal == [None]
    assert build_preference_pairs(result, [prompt([1, 2])]) == ([], [])


def _tiny_policy(seed=0):
    torch.manual_seed(seed)
    return GRULM(VOCAB_SIZE, PAD, d_embed=8, d_hidden=16)


@pytest.fixture(scope="module")
def trained_policy():
    """A small policy after a short SFT: it solves some problems and fails others (both kinds of pairs)."""
    torch.manual_seed(0)
    policy = GRULM(VOCAB_SIZE, PAD, d_embed=16, d_hidden=48)
    rng = np.random.default_rng(0)
    supervised_finetune(policy, (sft_examples(32, rng, k_range=(2, 3)) for _ in range(200)), lr=1e-2)
    return policy


def test_dpo_raises_the_chosen_margin_and_identical_pairs_stay_at_log_two():
    policy = _tiny_policy()
    pairs = [Pair(tuple(prompt([a, b])), (EQ, (a + b) % 10, EOS), (EQ, (a + b + 1) % 10, EOS))
             for a in range(4) for b in range(4)]
    trained, history = train_dpo(policy, pairs, beta=0.5, lr=1e-2, epochs=5, batch_size=8, random_state=0)
    assert history[-1]["loss"] < min(history[0]["loss"], math.log(2))
    assert history[-1]["chosen_logprob"] - history[-1]["rejected_logprob"] > \
        history[0]["chosen_logprob"] - history[0]["rejected_logprob"]
    same = [Pair(p.prompt, p.chosen, p.chosen) for p in pairs]
    _, history = train_dpo(policy, same, lr=1e-2, epochs=2, random_state=0)
    assert all(abs(h["loss"] - math.log(2)) < 1e-6 for h in history)  # no preference, no signal


def test_supervised_finetune_trains_only_the_marked_tokens():
    policy = _tiny_policy()
    example = [prompt([1, 2]) + [PLUS, 1, 1, EQ, 3, EOS]]
    losses = supervised_finetune(policy, [[(example[0], 5)]] * 30, lr=1e-2)
    assert losses[-1] < 0.5 * losses[0]
    # the prompt is context only: its tokens were never targets, so the model did not learn to predict them
    logp = policy(torch.tensor([example[0][:-1]])).log_softmax(-1)[0]
    targets = torch.tensor(example[0][1:])
    picked = logp.gather(1, targets[:, None]).squeeze(1)
    assert picked[4:].mean() > -0.5 > picked[:4].mean()


def test_recut_fit_is_reproducible_and_merges(trained_policy):
    problems = make_problems(40, seed=0, k_range=(2, 3))
    fits = [ReCUT(max_steps=4, dpo_epochs=1, dpo_beta=0.3, random_state=1).fit(
        trained_policy, problems.digits, problems.answers, FMT, prompt) for _ in range(2)]
    a, b = fits
    assert a.pairs_acc_ == b.pairs_acc_ and a.pairs_len_ == b.pairs_len_
    for x, y in zip(a.policy_.parameters(), b.policy_.parameters()):
        torch.testing.assert_close(x, y)
    full_acc = a.merge("linear", 1.0).state_dict()
    for key, value in a.acc_policy_.state_dict().items():
        torch.testing.assert_close(full_acc[key], value)
    half = a.merge("linear", 0.5).state_dict()
    key = "head.weight"
    torch.testing.assert_close(half[key], (a.acc_policy_.state_dict()[key] + a.len_policy_.state_dict()[key]) / 2)
    dare = a.merge("dare_ties").state_dict()
    assert not torch.equal(dare[key], half[key])
    with pytest.raises(ValueError, match="method"):
        a.merge("slerp")


def test_bad_input():
    with pytest.raises(ValueError, match="pair up"):
        stepwise_explore(_tiny_policy(), [[1, 2]], [3, 4], FMT, prompt)
    with pytest.raises(ValueError, match="pairs is empty"):
        train_dpo(_tiny_policy(), [])
    with pytest.raises(ValueError, match="merge_method"):
        ReCUT(merge_method="slerp").fit(_tiny_policy(), [[1, 2]], [3], FMT, prompt)
    with pytest.raises(ValueError, match="no accuracy pairs"):  # an untrained policy never answers correctly
        ReCUT(max_steps=2).fit(_tiny_policy(), [[1, 2], [3, 4]], [3, 7], FMT, prompt)
    with pytest.raises(ValueError, match="len_rejected"):
        build_preference_pairs(_explore()[1], [prompt([1, 2, 3])], len_rejected="median")
    assert np.isfinite(trial_reward(True, 3))
