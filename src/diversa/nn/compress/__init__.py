"""Post-training low-rank compression of linear layers and embedding tables.

Atomic Feature Mimicking (AFM; Yu, Fu, Ding, Zhou, Wu, "Unified Low-rank Compression Framework for
Click-through Rate Prediction", arXiv:2405.18146, KDD 2024) factorises a layer by the principal
subspace of its outputs on a calibration set, instead of truncating the SVD of its weights.
``stats`` collects the float64 output statistics with forward hooks, ``factorize`` holds the pure
factorisations (AFM, weight SVD, embedding fusion), ``layers`` the compressed modules, ``model`` the
one-call :func:`compress` and the state-dict operation, ``report`` the AUC-vs-size sweep.
"""

from diversa.nn.compress.factorize import (
    afm_factorize_embedding,
    afm_factorize_linear,
    fuse_embeddings_into_linear,
    low_rank_linear_parameters,
    output_reconstruction_error,
    principal_subspace,
    svd_factorize_embedding,
    svd_factorize_linear,
)
from diversa.nn.compress.layers import LowRankEmbedding, LowRankLinear
from diversa.nn.compress.model import METHODS, compress, compress_from_stats, compress_state_dict, count_parameters
from diversa.nn.compress.report import layer_output_errors, plot_size_report, predict_scores, size_report
from diversa.nn.compress.stats import OutputStats, collect_output_stats

__all__ = ["METHODS", "LowRankEmbedding", "LowRankLinear", "OutputStats", "afm_factorize_embedding",
           "afm_factorize_linear", "collect_output_stats", "compress", "compress_from_stats", "compress_state_dict",
           "count_parameters", "fuse_embeddings_into_linear", "layer_output_errors", "low_rank_linear_parameters",
           "output_reconstruction_error", "plot_size_report", "predict_scores", "principal_subspace",
           "size_report", "svd_factorize_embedding", "svd_factorize_linear"]
