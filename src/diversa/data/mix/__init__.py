"""Data mixing: choose the proportions of data groups a model trains on.

Chen, Hu, Lourie, Cho, Ré, "Aioli: A Unified Optimization Framework for
Language Model Data Mixing", ICLR 2025, arXiv:2411.05735. Mixing methods solve
one Linear Mixing Optimization problem under different mixing laws; Aioli
estimates the law's parameters online inside the training run.

* LMO pieces: :func:`exponentiated_gradient_step`, :func:`normalize_mixing_matrix`,
  :func:`smoothed_onehot`, :func:`solve_smoothed_onehot`, :func:`simplex_grid`;
* mixing laws: :func:`fit_static_mixing_law` (log-linear, :class:`LogLinearMixingLaw`),
  :func:`fit_dynamic_mixing_law` (linear, :class:`LinearMixingLaw`), :func:`mixing_law_similarity`;
* controllers sharing one phase protocol, driven by :func:`run_schedule`:
  :class:`AioliMixer` (online), :class:`StaticMixer` (stratified or fixed), :class:`DoReMiMixer`;
* static baselines from short runs: :func:`grid_search_mixture`, :func:`data_mixing_law_mixture`;
* sampling by group for any loop: :class:`GroupSampler`, :func:`mixture_counts`.
"""

from diversa.data.mix.laws import (
    LinearMixingLaw,
    LogLinearMixingLaw,
    fit_dynamic_mixing_law,
    fit_static_mixing_law,
    mixing_law_similarity,
    r_squared,
)
from diversa.data.mix.lmo import (
    exponentiated_gradient_step,
    normalize_mixing_matrix,
    simplex_grid,
    smoothed_onehot,
    smoothed_onehot_matrix,
    solve_smoothed_onehot,
)
from diversa.data.mix.mixers import AioliMixer, DoReMiMixer, MixPhase, StaticMixer, run_schedule
from diversa.data.mix.sampling import GroupSampler, mixture_counts
from diversa.data.mix.static import data_mixing_law_mixture, grid_search_mixture

__all__ = [
    "AioliMixer", "DoReMiMixer", "GroupSampler", "LinearMixingLaw", "LogLinearMixingLaw", "MixPhase",
    "StaticMixer", "data_mixing_law_mixture", "exponentiated_gradient_step", "fit_dynamic_mixing_law",
    "fit_static_mixing_law", "grid_search_mixture", "mixing_law_similarity", "mixture_counts",
    "normalize_mixing_matrix", "r_squared", "run_schedule", "simplex_grid", "smoothed_onehot",
    "smoothed_onehot_matrix", "solve_smoothed_onehot",
]
