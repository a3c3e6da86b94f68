"""The paper's "Baseline": a known-class classifier whose latent clusters the novel rows.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data",
arXiv:2311.05440, Section 7.1 (after TabularNCD's baseline), spec ``tabular.md#practical-ncd``.
PBN's encoder and classifier without the decoder, trained with cross-entropy on the known rows
only; the unlabelled rows are then embedded and clustered exactly as PBN's are
(:class:`~diversa.learners.ncd.latent.LatentNCD`). It isolates what PBN's reconstruction of
all rows adds.
"""

from __future__ import annotations

import numpy as np

from diversa.learners.ncd.latent import LatentNCD

__all__ = ["NCDBaselineEncoder"]


class NCDBaselineEncoder(LatentNCD):
    """Cross-entropy-only encoder on the known classes, then k-means of the novel rows in its latent.

    Parameters and attributes as :class:`~diversa.learners.ncd.pbn.PBN` without ``w`` (the
    defaults are the authors' optdigits values, k given); ``history_`` holds the per-epoch
    ``loss`` (= ``ce``). Without known rows there is nothing to learn: the encoder keeps its
    initial weights (with a warning).
    """

    _decoder = False

    def __init__(self, latent_dim=21, hidden_dims="auto", lr=2.156e-3, p_dropout=0.3774, epochs=200, batch_size=512,
                 use_norm="l2", cluster_on="raw", n_clusters="auto", k_range=(2, 30), k_index="silhouette",
                 k_repeats=3, n_init=10, standardize=True, unknown_label=-1, random_state=None):
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.lr = lr
        self.p_dropout = p_dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.use_norm = use_norm
        self.cluster_on = cluster_on
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.k_index = k_index
        self.k_repeats = k_repeats
        self.n_init = n_init
        self.standardize = standardize
        self.unknown_label = unknown_label
        self.random_state = random_state

    def _train(self, net, X: np.ndarray, target: np.ndarray, torch) -> dict[str, list[float]]:
        known = target >= 0
        history = {"loss": [], "ce": []}
        if net.classifier is None or not known.any():
            self._warn_untrained("no known rows to train the classifier on")
            return history
        x_known = torch.as_tensor(X[known], dtype=torch.float32)
        y_known = torch.as_tensor(target[known], dtype=torch.long)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, fused=True)  # one kernel: tiny nets are overhead-bound
        batches = self._batches(x_known.shape[0], torch)
        net.train()
        for _ in range(self.epochs):
            total = 0.0
            for batch in batches:
                _, logits, _ = net(x_known[batch])
                loss = torch.nn.functional.cross_entropy(logits, y_known[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach())
            mean = total / max(len(batches), 1)
            history["loss"].append(mean)
            history["ce"].append(mean)
        return history
