"""Aggregating weak verifiers of generated candidates (Weaver, arXiv:2506.18203).

Normalisation, binarisation and filtering of verifier scores, the weak-supervision label models
(binary, and k classes with abstains) with a label-free class-balance estimate, Weaver and its
baselines (naive average, supervised, best single verifier, majority vote, first sample,
oracle), argmax selection, and distillation into a small scorer.
"""

from diversa.combine.verifiers.distill import CrossEncoderDistiller
from diversa.combine.verifiers.label_model import BinaryLabelModel, LabelModel, estimate_class_balance
from diversa.combine.verifiers.normalize import (
                                                 binarize_verifier_scores,
                                                 filter_verifiers,
                                                 majority_vote_verifier,
                                                 normalize_verifier_scores,
)
from diversa.combine.verifiers.weaver import (
                                                 BestSingleVerifier,
                                                 NaiveEnsembleAggregator,
                                                 SupervisedVerifierEnsemble,
                                                 WeaverAggregator,
                                                 first_sample_select,
                                                 majority_vote_select,
                                                 oracle_select,
                                                 select_argmax,
                                                 selection_accuracy,
)

__all__ = [
                                                 "BestSingleVerifier",
                                                 "BinaryLabelModel",
                                                 "CrossEncoderDistiller",
                                                 "LabelModel",
                                                 "NaiveEnsembleAggregator",
                                                 "SupervisedVerifierEnsemble",
                                                 "WeaverAggregator",
                                                 "binarize_verifier_scores",
                                                 "estimate_class_balance",
                                                 "filter_verifiers",
                                                 "first_sample_select",
                                                 "majority_vote_select",
                                                 "majority_vote_verifier",
                                                 "normalize_verifier_scores",
                                                 "oracle_select",
                                                 "select_argmax",
                                                 "selection_accuracy",
]
