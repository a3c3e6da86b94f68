"""diversa: diversity across a model's whole life.

Layers, in the direction data flows: :mod:`diversa.datasets` (data only),
:mod:`diversa.data` (what to train on), :mod:`diversa.nn` and
:mod:`diversa.learners` (models), :mod:`diversa.combine` (many models into
one), :mod:`diversa.infer` (many samples into one answer),
:mod:`diversa.evaluate` (judging), with :mod:`diversa.reproduce` on top.
"""

__version__ = "0.1.0"
