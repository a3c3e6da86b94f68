"""A tiny audio-visual question-answering network with uni-modal bias learners.

The small-scale stand-in for the RAVQA model of Ma, Hu, Wang, Sun, Song, Pei, Liu, Du, "Look,
Listen, and Answer: Overcoming Biases for Audio-Visual Question Answering", arXiv:2404.12020
(NeurIPS 2024); spec ``training.md#mccd``. The authors encode the question tokens and the audio
and video features with one VisualBERT, answer from its pooled output (the fused logits) and
attach three bias learners that run **the same encoder** on one modality alone, each followed by
an MLP ``d -> d -> d -> C``. Here the encoder is a 2-layer ``nn.TransformerEncoder`` over
``[CLS]``, one question token (a linear map of the question vector), 4 audio tokens and 12 video
tokens, each with a learned modality-type embedding; the fused logits are
``Linear(Dropout(h_CLS))`` and the bias learners read ``[CLS]`` from the encoder run on
``[CLS] + question``, ``[CLS] + audio`` or ``[CLS] + video``.

The documented interface (what :class:`~diversa.nn.losses.mccd.MCCDLoss` and
:class:`~diversa.apps.avqa.DebiasedAVQAClassifier` need from any model):
``model(question (B, Dq), audio (B, Ta, Da), video (B, Tv, Dv), with_bias=False)`` returns a dict
with ``"fusion"`` -> ``(B, C)`` logits, and, when ``with_bias``, ``"q"``, ``"a"``, ``"v"`` ->
``(B, C)`` bias-learner logits. Predictions use ``"fusion"`` only, so the bias learners can be
dropped after training.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from diversa._params import check_int, check_real

__all__ = ["BiasLearnerHead", "TinyAVQANet"]

#: Modality-type ids of the tokens.
CLS, QUESTION, AUDIO, VIDEO = 0, 1, 2, 3


class BiasLearnerHead(nn.Module):
    """A bias learner's classifier, ``Linear(d, d) - ReLU - Linear(d, d) - ReLU - Linear(d, C)``.

    Maps a pooled uni-modal representation ``(B, d)`` to answer logits ``(B, C)`` (the official
    ``MLP(768, [768, 768, 42])``).
    """

    def __init__(self, d_model: int, n_answers: int):
        super().__init__()
        d_model = check_int(d_model, "d_model", 1)
        n_answers = check_int(n_answers, "n_answers", 2)
        self.net = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, d_model), nn.ReLU(),
                                 nn.Linear(d_model, n_answers))

    def forward(self, pooled: Tensor) -> Tensor:
        return self.net(pooled)


class TinyAVQANet(nn.Module):
    """Transformer over question, audio and video tokens, with three uni-modal bias learners.

    ``question_dim`` the question vector's size, ``audio_dim``/``video_dim`` the per-token
    feature sizes, ``n_answers`` the answer vocabulary; the encoder has ``n_layers`` layers of
    width ``d_model``, ``n_heads`` heads and feed-forward ``dim_feedforward`` (batch first,
    ``dropout`` inside and before the answer layer). See the module docstring for the interface.
    """

    def __init__(self, question_dim: int = 512, audio_dim: int = 16, video_dim: int = 16, n_answers: int = 15,
                 d_model: int = 64, n_layers: int = 2, n_heads: int = 4, dim_feedforward: int = 128,
                 dropout: float = 0.1):
        super().__init__()
        for name, value, low in (("question_dim", question_dim, 1), ("audio_dim", audio_dim, 1),
                                 ("video_dim", video_dim, 1), ("n_answers", n_answers, 2), ("d_model", d_model, 1),
                                 ("n_layers", n_layers, 1), ("n_heads", n_heads, 1),
                                 ("dim_feedforward", dim_feedforward, 1)):
            check_int(value, name, low)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}).")
        dropout = check_real(dropout, "dropout", 0.0)
        if dropout >= 1:
            raise ValueError(f"dropout must be < 1, got {dropout!r}.")
        self.question_proj = nn.Linear(question_dim, d_model)
        self.audio_proj = nn.Linear(audio_dim, d_model)
        self.video_proj = nn.Linear(video_dim, d_model)
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, d_model))
        self.type_embedding = nn.Embedding(4, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.answer = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, n_answers))
        self.bias_learners = nn.ModuleDict({m: BiasLearnerHead(d_model, n_answers) for m in ("q", "a", "v")})

    def _tokens(self, x: Tensor, proj: nn.Linear, kind: int) -> Tensor:
        return proj(x) + self.type_embedding.weight[kind]

    def _pooled(self, *parts: Tensor) -> Tensor:
        """``[CLS]`` of the encoder run on ``[CLS]`` followed by the given token blocks ``(B, T_i, d)``."""
        batch = parts[0].shape[0]
        cls = (self.cls + self.type_embedding.weight[CLS]).expand(batch, -1, -1)
        return self.encoder(torch.cat([cls, *parts], dim=1))[:, 0]

    def forward(self, question: Tensor, audio: Tensor, video: Tensor, with_bias: bool = False) -> dict[str, Tensor]:
        """Answer logits: ``{"fusion": (B, C)}``, plus ``"q"``, ``"a"``, ``"v"`` ``(B, C)`` when ``with_bias``.

        ``question (B, question_dim)``, ``audio (B, Ta, audio_dim)``, ``video (B, Tv, video_dim)``.
        """
        if question.ndim != 2 or audio.ndim != 3 or video.ndim != 3:
            raise ValueError(f"question must be (B, Dq), audio (B, Ta, Da) and video (B, Tv, Dv), got "
                             f"{tuple(question.shape)}, {tuple(audio.shape)}, {tuple(video.shape)}.")
        if not question.shape[0] == audio.shape[0] == video.shape[0]:
            raise ValueError("question, audio and video must have the same batch size.")
        q = self._tokens(question[:, None], self.question_proj, QUESTION)
        a = self._tokens(audio, self.audio_proj, AUDIO)
        v = self._tokens(video, self.video_proj, VIDEO)
        out = {"fusion": self.answer(self._pooled(q, a, v))}
        if with_bias:
            # The bias learners share the encoder (and its gradients) with the fused branch, as in
            # the official code, where the gradient-reversal variant is switched off.
            out.update({m: self.bias_learners[m](self._pooled(tokens)) for m, tokens in (("q", q), ("a", a), ("v", v))})
        return out
