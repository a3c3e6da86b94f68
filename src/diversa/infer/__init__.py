"""Many samples into one answer.

``sampling`` (temperature variation, hedged pools, min-p), ``select``
(best-of-n with a scorer, MBR, X-MBR, CHOPs, pointwise judges) and
``self_contrast`` (SCMoE: contrast a mixture-of-experts model's strong and
weak routing at decoding time).
"""
