"""Planners for training systems.

Sequence-parallel planning and few-shot neural-architecture-search splitting.
``seqpar`` plans sequence parallelism for variable-length batches: FlexSP's
heterogeneous groups per step (a cost model of compute, all-to-all and memory,
the bucketing and micro-batch DPs, a MILP on scipy's HiGHS) beside the
fixed-degree baselines (static DeepSpeed-Ulysses-style and adaptive-homogeneous).
``nas`` splits a weight-sharing NAS supernet into sub-supernets: GM-NAS's
gradient-matching distance between an edge's operations and balanced min-cut
partitions, beside one-shot and exhaustive Few-Shot splitting, on a tiny
chain space with a stand-alone tabular benchmark.
"""
