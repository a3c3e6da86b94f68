"""Permutation alignment of neural networks and linear mode connectivity.

Two networks trained from different seeds compute similar functions with their
hidden units in different orders. Aligning the units -- by weight matching or
activation matching (Ainsworth, Hayase, Srinivasa, "Git Re-Basin", ICLR 2023,
arXiv:2209.04836) -- before interpolating removes most of the loss barrier on
the straight line between them (Ito, Yamada, Kumagai, "Analysis of Linear Mode
Connectivity via Permutation-Based Weight Matching", ICLR 2025,
arXiv:2402.04051).

* :mod:`~diversa.combine.permute.spec`: permutation specs and applying them;
* :mod:`~diversa.combine.permute.trace`: a spec derived from a torch model's
  graph (MLP, CNN with BatchNorm, residual blocks, multi-head attention);
* :mod:`~diversa.combine.permute.naming`: a spec from checkpoint tensor names
  (plain Linear stacks, Llama-style decoders), for ``diversa merge``;
* :mod:`~diversa.combine.permute.weight_matching` and
  :mod:`~diversa.combine.permute.activation_matching`: the two searches;
* :mod:`~diversa.combine.permute.connectivity`: loss and accuracy along the
  linear path, barriers, a plot;
* :mod:`~diversa.combine.permute.spectral`: distances and singular-component
  diagnostics (Ito et al.).
"""

from diversa.combine.permute.activation_matching import activation_matching, correlation
from diversa.combine.permute.connectivity import (
    InterpolationCurve,
    barrier,
    classification_evaluator,
    interpolation_curve,
    loss_barrier,
    plot_interpolation,
)
from diversa.combine.permute.naming import checkpoint_spec
from diversa.combine.permute.spec import (
    AxisPerm,
    PermutationSpec,
    apply_permutation,
    identity_permutation,
    invert_permutation,
    random_permutation,
)
from diversa.combine.permute.spectral import distance_ratio, normalized_distance, singular_component_retention
from diversa.combine.permute.trace import RuleContext, capture_activations, permutation_spec, permute_model
from diversa.combine.permute.weight_matching import check_same_architecture, matching_objective, weight_matching

__all__ = [
    "AxisPerm", "InterpolationCurve", "PermutationSpec", "RuleContext", "activation_matching", "apply_permutation",
    "barrier", "capture_activations", "check_same_architecture", "checkpoint_spec", "classification_evaluator",
    "correlation", "distance_ratio", "identity_permutation", "interpolation_curve", "invert_permutation",
    "loss_barrier", "matching_objective", "normalized_distance", "permutation_spec", "permute_model",
    "plot_interpolation", "random_permutation", "singular_component_retention", "weight_matching",
]
