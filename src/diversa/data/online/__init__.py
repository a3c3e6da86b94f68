"""Online (in-training) data selection: per-batch hooks that decide what the model trains on."""

from diversa.data.online.qtuning import PruneResult, PruningBaseline, QTuning

__all__ = ["PruneResult", "PruningBaseline", "QTuning"]
