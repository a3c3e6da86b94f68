"""Ensembles over families of fitted models (AWARE-NET two-tier weighting, arXiv:2505.00312)."""

from diversa.combine.ensemble.two_tier import (
    TwoTierEnsemble,
    TwoTierWeightedAverage,
    fit_members,
)

__all__ = ["TwoTierEnsemble", "TwoTierWeightedAverage", "fit_members"]
