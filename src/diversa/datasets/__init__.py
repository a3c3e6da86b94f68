"""Data only: bundled and synthetic data generators.

Seeded, deterministic generators shared by tests and reproductions (for example
:func:`make_imbalanced`) and loaders for the data sets that ship with
scikit-learn (:func:`load_bundled`), and table files for the command line
(:func:`read_table`, :func:`write_table`); :func:`make_gerrymandered` draws protected
attributes whose intersection, not any one of them, drives the label (fairness
gerrymandering); :mod:`diversa.datasets.crossitem`
generates the CrossItem-Lite benchmark's items and questions. Nothing here
trains a model.
"""

from diversa.datasets.algotasks import AlgoBatch, AlgoTasks, make_test_set, make_validation_set, overlap_fraction
from diversa.datasets.bundled import BUNDLED_NAMES, load_bundled
from diversa.datasets.candidate_pools import CandidatePool, make_candidate_pools, simulate_verifiers
from diversa.datasets.fairness import GerrymanderedData, make_gerrymandered
from diversa.datasets.files import read_table, write_table
from diversa.datasets.imbalanced import imbalanced_class_counts, make_imbalanced
from diversa.datasets.multitask import MultitaskData, RandomFourierFunction, make_multitask_outlier
from diversa.datasets.tagging import TaggingData, make_tagging_data
from diversa.datasets.timestamped_text import TemporalTextWorld

__all__ = ["BUNDLED_NAMES", "load_bundled", "imbalanced_class_counts", "make_imbalanced",
           "read_table", "write_table", "MultitaskData", "RandomFourierFunction", "make_multitask_outlier",
           "TaggingData", "make_tagging_data", "TemporalTextWorld",
           "AlgoBatch", "AlgoTasks", "make_test_set", "make_validation_set", "overlap_fraction",
           "CandidatePool", "make_candidate_pools", "simulate_verifiers", "GerrymanderedData", "make_gerrymandered"]
