"""Data only: bundled and synthetic data generators.

Seeded, deterministic generators shared by tests and reproductions (for example
:func:`make_imbalanced`) and loaders for the data sets that ship with
scikit-learn (:func:`load_bundled`), and table files for the command line
(:func:`read_table`, :func:`write_table`); :func:`make_gerrymandered` draws protected
attributes whose intersection, not any one of them, drives the label (fairness
gerrymandering); :mod:`diversa.datasets.crossitem`
generates the CrossItem-Lite benchmark's items and questions; :func:`make_ctr` draws
click-through-rate logs with Zipf ids and latent pairwise interactions;
:func:`make_longtail_digits` builds long-tailed digit training sets with forward, uniform and
backward test distributions (:mod:`diversa.datasets.longtail`, also its batched augmentations);
:func:`make_biased_avqa` draws audio-visual questions with a planted answer prior and :func:`rephrase` asks
them in held-out wordings (:mod:`diversa.datasets.avqa`, MUSIC-AVQA-R in miniature). Nothing here
trains a model.
"""

from diversa.datasets.algotasks import AlgoBatch, AlgoTasks, make_test_set, make_validation_set, overlap_fraction
from diversa.datasets.avqa import AVQADataset, make_biased_avqa, rephrase
from diversa.datasets.bundled import BUNDLED_NAMES, load_bundled
from diversa.datasets.candidate_pools import CandidatePool, make_candidate_pools, simulate_verifiers
from diversa.datasets.ctr import CTRData, make_ctr
from diversa.datasets.fairness import GerrymanderedData, make_gerrymandered
from diversa.datasets.files import read_table, write_table
from diversa.datasets.imbalanced import imbalanced_class_counts, make_imbalanced
from diversa.datasets.longtail import LongTailData, make_longtail_digits, make_test_distribution
from diversa.datasets.multitask import MultitaskData, RandomFourierFunction, make_multitask_outlier
from diversa.datasets.tagging import TaggingData, make_tagging_data
from diversa.datasets.timestamped_text import TemporalTextWorld

__all__ = ["BUNDLED_NAMES", "load_bundled", "imbalanced_class_counts", "make_imbalanced",
           "read_table", "write_table", "MultitaskData", "RandomFourierFunction", "make_multitask_outlier",
           "TaggingData", "make_tagging_data", "TemporalTextWorld",
           "AlgoBatch", "AlgoTasks", "make_test_set", "make_validation_set", "overlap_fraction",
           "CandidatePool", "make_candidate_pools", "simulate_verifiers", "CTRData", "make_ctr",
           "LongTailData", "make_longtail_digits", "make_test_distribution",
           "GerrymanderedData", "make_gerrymandered", "AVQADataset", "make_biased_avqa", "rephrase"]
