"""Training losses (``torch.nn.Module``s taking ``(logits, target)``, plus functional forms).

* :class:`DiceLoss` / :func:`dice_loss` — the self-adjusting Dice loss (DSC)
  for data-imbalanced classification and tagging, and :func:`soft_f1`
  (Li et al., "Dice Loss for Data-imbalanced NLP Tasks", ACL 2020,
  arXiv:1911.02855).
* :class:`TverskyLoss` / :func:`tversky_loss` — the Tversky-index variant that
  weights false positives and false negatives differently (same paper).
* :class:`DiversityRegularizedEnsembleLoss` / :func:`diversity_regularized_loss` — the
  diversity-weighted (gamma) objective of a jointly trained deep ensemble, taking member logits
  ``(M, B, C)``, and :func:`ensemble_loss_terms`, its decomposition (Abe et al., "Pathologies of
  Predictive Diversity in Deep Ensembles", arXiv:2302.00704).
* :class:`SkillDiverseExpertLoss`, :class:`DiversityLoss`, :class:`MDCSLoss` — class-prior losses
  of multi-expert long-tailed learning, over expert logits ``(E, B, C)``: SADE's forward /
  uniform / backward experts (arXiv:2107.09249) and MDCS's diversity loss with consistency
  self-distillation (arXiv:2308.09922), with :func:`posthoc_logit_adjustment`.
* :class:`DistanceCovariancePenalty` and :func:`dcov2`, :func:`dcor2`, :func:`jdcov2`,
  :func:`ccdcov2`, :func:`marginal_dcov2_sum` — differentiable distance-covariance fairness
  penalties on several mixed-type protected attributes (Lee et al., "Machine Learning with
  Multitype Protected Attributes: Intersectional Fairness through Regularisation",
  arXiv:2509.08163).
* :class:`MCCDLoss` / :func:`mccd_loss_terms`, :func:`fusion_distances`, :func:`cycle_kl` — multifaceted
  cycle collaborative debiasing for audio-visual question answering: the fused logits pushed away from
  uni-modal bias learners' logits (inverse distance) and a cycle of KL divergences among the bias
  learners (Ma et al., "Look, Listen, and Answer: Overcoming Biases for Audio-Visual Question
  Answering", arXiv:2404.12020).
"""

from diversa.nn.losses.dice import DiceLoss, dice_loss, soft_f1
from diversa.nn.losses.distance_covariance import (
    DistanceCovariancePenalty,
    ccdcov2,
    dcor2,
    dcov2,
    distance_matrix,
    jdcov2,
    marginal_dcov2_sum,
    u_centered,
)
from diversa.nn.losses.dpo import dpo_loss
from diversa.nn.losses.ensemble import (
    DiversityRegularizedEnsembleLoss,
    EnsembleLossTerms,
    diversity_regularized_loss,
    ensemble_loss_terms,
)
from diversa.nn.losses.longtail import (
    DiversityLoss,
    MDCSLoss,
    SkillDiverseExpertLoss,
    consistency_self_distillation,
    inverse_prior,
    posthoc_logit_adjustment,
    prior_adjusted_cross_entropy,
)
from diversa.nn.losses.mccd import MCCDLoss, MCCDTerms, cycle_kl, fusion_distances, mccd_loss_terms
from diversa.nn.losses.tversky import TverskyLoss, tversky_loss

__all__ = ["DiceLoss", "DistanceCovariancePenalty", "DiversityRegularizedEnsembleLoss", "EnsembleLossTerms",
           "TverskyLoss", "ccdcov2", "dcor2", "dcov2", "dice_loss", "distance_matrix", "diversity_regularized_loss",
           "dpo_loss", "ensemble_loss_terms", "jdcov2", "marginal_dcov2_sum", "soft_f1", "tversky_loss", "u_centered",
           "DiversityLoss", "MDCSLoss", "SkillDiverseExpertLoss", "consistency_self_distillation", "inverse_prior",
           "posthoc_logit_adjustment", "prior_adjusted_cross_entropy",
           "MCCDLoss", "MCCDTerms", "cycle_kl", "fusion_distances", "mccd_loss_terms"]
