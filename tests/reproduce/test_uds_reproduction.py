import dataclasses

import numpy as np
import pytest

from diversa.reproduce import uds
from diversa.reproduce.runner import single_threaded, summarize

#: A shortened testbed: small pools, few steps; fast, not converged.
TINY = uds.Sizes(pool=320, holdout=64, pretrain_pool=200, n_steps=150, reference_steps=5, test_per_domain=20,
                 probe=8)


@pytest.fixture
def short_base(monkeypatch, tmp_path, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    monkeypatch.setattr(uds, "PRETRAIN_STEPS", 20)
    monkeypatch.setattr(uds, "SIZES", TINY)


def test_every_selection_arm_backpropagates_the_same_samples_and_counts_scoring(short_base):
    import torch

    base = uds.base_model(0)
    pool = uds._sft_pool(64, 0)
    ids, mask = uds._seq_tensors(pool)
    clean = torch.as_tensor([not (d.is_junk or d.is_noisy) for d in pool])
    counts = {arm: uds.fine_tune(base, arm, ids, mask, clean, 0, 3, reference_losses=torch.zeros(64))[2]
              for arm in uds.ARMS}
    assert {arm: c["backprop_samples"] for arm, c in counts.items()} == {
        **{arm: 3 * uds.K for arm in uds.ARMS}, "Regular": 3 * uds.B}
    assert {arm: c["forward_samples"] for arm, c in counts.items()} == {
        **{arm: 0 for arm in uds.ARMS}, **{arm: 3 * uds.B for arm in ("MaxLoss", "RHO-Loss", "UDS")}}
    _, kept, _ = uds.fine_tune(base, "Clean-Random", ids, mask, clean, 0, 3)
    assert clean[torch.as_tensor(kept)].all()


def test_a_selector_that_keeps_the_noisy_samples_gets_a_contradicted_headline(short_base, monkeypatch):
    real = uds.fine_tune

    def broken(base, arm, ids, loss_mask, clean, seed, n_steps, reference_losses=None, lr=uds.LR):
        if arm == "UDS":  # deliberately broken: junk and mislabelled candidates first
            return real(base, "Clean-Random", ids, loss_mask, ~clean, seed, n_steps, lr=lr)
        if arm != "Random":  # arms the headline does not read: one step keeps the test fast
            n_steps = 1
        return real(base, arm, ids, loss_mask, clean, seed, n_steps, reference_losses, lr)

    monkeypatch.setattr(uds, "fine_tune", broken)
    with single_threaded():
        trials = {seed: uds.run_trial(seed, True, TINY) for seed in range(6)}
    assert set(trials[0].pairs) == {c.name for c in uds.REPRODUCTION.checks}
    assert all(t.diagnostics["noisy_or_junk_share_kept"]["UDS"] > 0.6 for t in trials.values())
    headline_only = dataclasses.replace(uds.REPRODUCTION, checks=(uds.REPRODUCTION.headline_check,))
    result = summarize(headline_only, True, trials)
    assert result.headline.outcome == "contradicted"


def test_design_headline_against_random_and_both_regimes_gate_every_claim():
    rep = uds.REPRODUCTION
    assert rep.headline_check.baseline == "Random" and rep.headline_check.method == "UDS"
    assert {c.name for c in rep.checks_of_kind("regime")} == {"clean-oracle-headroom", "regular-off-ceiling"}
    assert all(not c.applies_to for c in rep.checks_of_kind("regime"))
    assert {c.name for c in rep.checks_of_kind("mechanism")} == {"nuclear-norm-tracks-loss-drop",
                                                                 "uds-domain-entropy"}
    assert rep.quick_trials >= 8 and uds.SIZES.n_steps == 400


def test_answer_accuracy_reads_the_token_after_topic(one_thread):
    import torch

    from diversa.datasets.synthtext import SUBTOPICS, TOKEN_ID

    docs = uds._eval_set(2, 0)
    ids = uds._seq_tensors(docs)[0]

    class Oracle(torch.nn.Module):
        def forward(self, x):
            logits = torch.zeros(*x.shape, 189)
            for i, d in enumerate(docs):
                pos = int((x[i] == TOKEN_ID["topic"]).nonzero()[0])
                logits[i, pos, TOKEN_ID[SUBTOPICS[d.domain][d.y_true]]] = 1.0
            return type("Out", (), {"logits": logits})()

    assert uds.answer_accuracy(Oracle(), ids, docs) == 1.0
    assert np.isclose(uds.answer_accuracy(lambda x: type("O", (), {"logits": torch.zeros(*x.shape, 189)})(),
                                          ids, docs), 0.0)
