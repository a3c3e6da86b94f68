"""Many models into one.

``ensemble`` (two-tier AWARE-NET ensembles), ``verifiers`` (Weaver's
weak-verifier aggregation with a label model), ``merge`` (weight merging over
state dicts and the streaming safetensors engine behind ``diversa merge``),
``diversity`` (exact decompositions of ensemble loss into member loss minus
diversity), ``permute`` (permutation alignment of independently trained models by
weight or activation matching, and linear mode connectivity), ``moe``
(mixture-of-experts expert merging and compression: MC-SMoE, Sub-MoE) and
``recut`` (ReCUT: stepwise trials, DPO and merging for shorter reasoning).
"""
