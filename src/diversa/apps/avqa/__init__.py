"""Audio-visual question answering with MCCD debiasing (Ma et al., arXiv:2404.12020).

* :class:`TinyAVQANet` — a small transformer over question, audio and video tokens with three
  uni-modal bias learners (:class:`BiasLearnerHead`) sharing its encoder;
* :class:`DebiasedAVQAClassifier` — trains any model with that interface plainly or with the
  MCCD objective (:class:`diversa.nn.losses.MCCDLoss`), and predicts from the fused logits.

The data (:func:`diversa.datasets.avqa.make_biased_avqa`, :func:`~diversa.datasets.avqa.rephrase`)
and the head/tail evaluation (:func:`diversa.evaluate.headtail.head_tail_accuracy`) live in their
layers.
"""

from diversa.apps.avqa.classifier import METHODS, DebiasedAVQAClassifier
from diversa.apps.avqa.model import BiasLearnerHead, TinyAVQANet

__all__ = ["BiasLearnerHead", "DebiasedAVQAClassifier", "METHODS", "TinyAVQANet"]
