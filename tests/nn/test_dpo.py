import copy
import math

import pytest
import torch
import torch.nn.functional as F

from diversa.nn.losses import dpo_loss


def test_equal_policy_and_reference_gives_log_two():
    lp = torch.tensor([-3.0, -10.0, -0.5])
    other = torch.tensor([-1.0, -2.0, -7.0])
    torch.testing.assert_close(dpo_loss(lp, other, lp, other, beta=0.7), torch.tensor(math.log(2.0)))


def test_closed_form_and_reductions():
    pc, pr = torch.tensor([-1.0, -4.0]), torch.tensor([-2.0, -1.0])
    rc, rr = torch.tensor([-1.5, -3.0]), torch.tensor([-1.5, -2.0])
    margin = (pc - rc) - (pr - rr)  # [1.0, -2.0]
    expected = -F.logsigmoid(0.3 * margin)
    torch.testing.assert_close(dpo_loss(pc, pr, rc, rr, beta=0.3, reduction="none"), expected)
    torch.testing.assert_close(dpo_loss(pc, pr, rc, rr, beta=0.3, reduction="sum"), expected.sum())
    torch.testing.assert_close(dpo_loss(pc, pr, rc, rr, beta=0.3), expected.mean())


def test_gradient_raises_chosen_and_lowers_rejected():
    pc = torch.tensor([-2.0], requires_grad=True)
    pr = torch.tensor([-2.0], requires_grad=True)
    dpo_loss(pc, pr, torch.tensor([-2.5]), torch.tensor([-1.0]), beta=0.1).backward()
    assert pc.grad.item() < 0 < pr.grad.item()  # descent increases log pi(y_w) - log pi(y_l)


@pytest.mark.parametrize("kwargs, match", [({"beta": 0.0}, "beta"), ({"beta": -1}, "beta"),
                                           ({"reduction": "max"}, "reduction")])
def test_bad_arguments(kwargs, match):
    x = torch.zeros(2)
    with pytest.raises(ValueError, match=match):
        dpo_loss(x, x, x, x, **kwargs)
    with pytest.raises(ValueError, match="one shape"):
        dpo_loss(x, torch.zeros(3), x, x)


def test_matches_trls_dpo_trainer_on_a_tiny_model(tmp_path):
    # TRL's sigmoid DPO loss of a real DPOTrainer batch (tiny random Llama, local word tokenizer) equals ours
    # computed from summed completion log-probabilities of the same batch
    pytest.importorskip("trl")
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from trl import DPOConfig, DPOTrainer

    words = ["<pad>", "<eos>", "<unk>"] + [f"w{i}" for i in range(20)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1, bos_token_id=None)
    model = LlamaForCausalLM(config)
    reference = copy.deepcopy(model)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.05 * torch.randn_like(p))
    data = Dataset.from_dict({"prompt": ["w1 w2 w3", "w4 w5", "w6 w7 w8 w9"],
                              "chosen": [" w10 w11", " w12", " w13 w14 w15"],
                              "rejected": [" w16", " w17 w18 w19", " w2 w3"]})
    args = DPOConfig(output_dir=str(tmp_path), beta=0.3, per_device_train_batch_size=3, report_to=[], use_cpu=True,
                     bf16=False, fp16=False, max_length=None)
    trainer = DPOTrainer(model=model, ref_model=reference, args=args, train_dataset=data, processing_class=tokenizer)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        trl_loss = trainer.compute_loss(trainer.model, batch)

        def sequence_logprob(m):
            logits = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            lp = logits[:, :-1].log_softmax(-1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
            return (lp * batch["completion_mask"][:, 1:]).sum(-1).chunk(2)  # the batch is [chosen, rejected]

        (pc, pr), (rc, rr) = sequence_logprob(trainer.model), sequence_logprob(reference)
    ours = dpo_loss(pc, pr, rc, rr, beta=0.3)
    assert abs(float(ours) - math.log(2)) > 1e-3  # policy and reference differ: not the trivial value
    torch.testing.assert_close(ours, trl_loss.float(), atol=1e-6, rtol=1e-6)
