"""Influence and difficulty scores of training examples, and pruning / sampling by them.

Anand, Tan and Minakova, "Influence Scores at Scale for Efficient Language Data Sampling",
EMNLP 2023 (arXiv:2311.16298) benchmark scores computed from training artifacts for pruning a
language classifier's training set: VoG, EL2N, forgetting events, PVI and TracIn. This package
offers them for any torch classifier:

* record snapshots inside your own training loop with :class:`Checkpoints`;
* from the snapshots: :func:`vog_from_checkpoints`, :func:`grand_from_checkpoints`,
  :func:`tracin_self_influence` and :func:`logits_over_checkpoints` (-> EL2N, AUM, forgetting);
* from recorded arrays: :func:`vog_scores`, :func:`el2n_scores`, :func:`forgetting_scores`,
  :func:`aum_scores`, :func:`pvi_scores`; :func:`normalize_scores` per class or over the dataset;
* a model-free folder of per-checkpoint outputs: :func:`write_outputs`, :func:`scores_from_outputs`
  (what ``diversa select --method el2n|vog|forgetting --checkpoints DIR`` reads);
* use them: :func:`prune` (cut-off, softmax or linear sampling, from the easy or the hard end),
  :func:`rank_by_score`, :func:`sample_by_score` and :func:`sampling_weights` for
  score-weighted sampling.

:data:`EASY_IS_LOW` gives each score's orientation.

>>> import numpy as np
>>> from diversa.data.score import EASY_IS_LOW, aum_scores, prune
>>> logits = np.array([[3.0, 0.0], [0.0, 2.0], [1.0, 0.5]])
>>> aum = aum_scores(logits, [0, 0, 0])          # the second example looks mislabelled
>>> aum
array([ 3. , -2. ,  0.5])
>>> prune(aum, 0.34, end="hard", easy_is_low=EASY_IS_LOW["aum"])
array([0, 2])
"""

from diversa.data.score.checkpoints import (
    Checkpoints,
    grand_from_checkpoints,
    logits_over_checkpoints,
    per_example_grad_sq_norms,
    scores_from_outputs,
    tracin_self_influence,
    vog_from_checkpoints,
    write_outputs,
)
from diversa.data.score.dynamics import (
    EASY_IS_LOW,
    aum_scores,
    el2n_scores,
    forgetting_scores,
    normalize_scores,
    pvi_scores,
    reduce_variance,
    vog_scores,
)
from diversa.data.score.prune import prune, rank_by_score, sample_by_score, sampling_weights

__all__ = [
    "EASY_IS_LOW",
    "Checkpoints",
    "aum_scores",
    "el2n_scores",
    "forgetting_scores",
    "grand_from_checkpoints",
    "logits_over_checkpoints",
    "normalize_scores",
    "per_example_grad_sq_norms",
    "prune",
    "pvi_scores",
    "rank_by_score",
    "reduce_variance",
    "sample_by_score",
    "sampling_weights",
    "scores_from_outputs",
    "tracin_self_influence",
    "vog_from_checkpoints",
    "vog_scores",
    "write_outputs",
]
