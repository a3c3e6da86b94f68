"""Trained-model fixtures for the reproductions.

Model zoos built from :mod:`diversa.datasets` and :mod:`diversa.nn`, cached
under ``$DIVERSA_CACHE`` (default ``~/.cache/diversa``).
"""
