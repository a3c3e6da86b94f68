"""afm-ctr: the plan really compresses, the regime holds on a short testbed, identical arms give p = 1."""

import copy

import numpy as np
import pytest
import torch

from diversa.datasets.ctr import make_ctr
from diversa.nn.compress import compress, count_parameters
from diversa.nn.models.ctr import DeepFM
from diversa.reproduce import afm_ctr
from diversa.reproduce.runner import summarize

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture
def short(monkeypatch, one_thread):
    monkeypatch.setitem(afm_ctr.QUICK, "n_train", 15_000)
    monkeypatch.setitem(afm_ctr.QUICK, "n_val", 3_000)
    monkeypatch.setitem(afm_ctr.QUICK, "n_test", 5_000)
    monkeypatch.setitem(afm_ctr.QUICK, "hidden", (32, 32, 32))
    monkeypatch.setitem(afm_ctr.QUICK, "mlp_rank", 4)


@pytest.mark.parametrize("setting", [afm_ctr.QUICK, afm_ctr.FULL], ids=["quick", "full"])
def test_the_plan_keeps_at_most_half_of_the_compressed_part(setting, one_thread):
    # Counted on a compressed model, fused as in the trials: fails if fusion or a rank left the
    # embeddings and MLP with more than half of their parameters.
    data = make_ctr(500, afm_ctr.FIELD_DIMS, random_state=0)
    model = DeepFM(afm_ctr.FIELD_DIMS, embed_dim=afm_ctr.EMBED_DIM, dense_dim=afm_ctr.N_DENSE,
                   hidden=setting["hidden"])
    inputs = (torch.as_tensor(data.X_cat), torch.as_tensor(data.X_dense))
    small = compress(model, inputs, afm_ctr.plan(setting["mlp_rank"]))
    assert small.fused_fields == tuple(range(len(afm_ctr.FIELD_DIMS)))
    assert afm_ctr.compressed_part_parameters(small) <= afm_ctr.compressed_part_parameters(model) / 2
    assert count_parameters(small) <= count_parameters(model) / 3  # the paper's 3-5x


@pytest.mark.slow
def test_regime_holds_on_a_short_testbed(short):
    # Fails if the DeepFM did not beat logistic regression (interactions not learnt) or if SVD
    # compression cost no AUC (the ranks too high for the methods to differ).
    trials = {seed: afm_ctr.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(afm_ctr.REPRODUCTION, True, trials).checks}
    for name in ("deepfm-beats-logistic", "compression-is-lossy", "afm-lower-output-error"):
        assert outcomes[name] == "pass", name


def test_without_compression_the_headline_measures_nothing(short, monkeypatch):
    # Every "compressed" arm is the original itself: fine-tuned on the same batches it must match
    # Original+1 exactly, so a headline effect can only come from the compression.
    monkeypatch.setitem(afm_ctr.QUICK, "n_train", 2_000)
    monkeypatch.setitem(afm_ctr.QUICK, "n_val", 1_000)
    monkeypatch.setitem(afm_ctr.QUICK, "n_test", 1_000)
    monkeypatch.setitem(afm_ctr.QUICK, "hidden", (16, 16, 16))
    monkeypatch.setattr(afm_ctr, "MAX_EPOCHS", 1)
    monkeypatch.setattr(afm_ctr, "compress_from_stats", lambda model, *args, **kwargs: copy.deepcopy(model))
    trials = {seed: afm_ctr.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(afm_ctr.REPRODUCTION, True, trials)
    assert np.all(np.array(result.headline.baseline_values) == np.array(result.headline.method_values))
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"
