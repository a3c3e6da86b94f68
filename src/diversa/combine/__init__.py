"""Many models into one.

``ensemble`` (two-tier AWARE-NET ensembles), ``verifiers`` (Weaver's
weak-verifier aggregation with a label model), ``merge`` (weight merging over
state dicts and the streaming safetensors engine behind ``diversa merge``) and
``diversity`` (exact decompositions of ensemble loss into member loss minus
diversity) and ``permute`` (permutation alignment of independently trained
models by weight or activation matching, and linear mode connectivity). Mixture-of-experts merging and compression join them later.
"""
