"""Planners for training systems.

Sequence-parallel planning and few-shot neural-architecture-search splitting.
"""
