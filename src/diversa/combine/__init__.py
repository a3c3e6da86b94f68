"""Many models into one.

``ensemble`` (two-tier AWARE-NET ensembles), ``verifiers`` (Weaver's
weak-verifier aggregation with a label model), ``merge`` (weight merging over
state dicts and the streaming safetensors engine behind ``diversa merge``),
``diversity`` (exact decompositions of ensemble loss into member loss minus
diversity) and ``moe`` (mixture-of-experts expert merging and compression:
MC-SMoE, Sub-MoE).
"""
