"""PBN, Projection-Based Novel Class Discovery: a latent that classifies known classes and reconstructs all rows.

Troisemaine, Reiffers-Masson, Gosselin, Lemaire, Vaton, "A Practical Approach to Novel Class
Discovery in Tabular Data", arXiv:2311.05440 (DMKD 2024), Section 3.4, spec
``tabular.md#practical-ncd``. An encoder maps every row to a latent ``z``; a linear classifier
learns the known classes from ``z`` and a decoder reconstructs every row (known and unlabelled)
from it. Each batch, taken in a fixed order from one shuffle of all rows, minimises

    L = w * CE(classifier(z_known), y_known) + (1 - w) * sum_features ||decoder(z) - x||^2 / B

with AdamW. The novel rows are then clustered with k-means in the latent, after estimating
their number with a validity index (silhouette by default); see
:class:`~diversa.learners.ncd.latent.LatentNCD`. The default hyper-parameters are the authors'
for optdigits with k given; they are meant to be tuned with
:class:`~diversa.learners.ncd.tuning.HiddenClassSearchCV`, which hides known classes and never
touches novel labels.
"""

from __future__ import annotations

import numpy as np

from diversa.learners.ncd.latent import LatentNCD, _check_real

__all__ = ["PBN"]


class PBN(LatentNCD):
    """Projection-Based NCD (encoder + known-class classifier + decoder), then k-means in its latent.

    Parameters
    ----------
    latent_dim : int, width of the latent.
    hidden_dims : "auto" (the paper's ``[3d // 4, 2d // 4]``) or a sequence of ints.
    w : float in [0, 1], weight of the classification loss against reconstruction.
    lr : AdamW learning rate. p_dropout : dropout between hidden layers.
    epochs, batch_size : passes over the rows and rows per batch.
    use_norm : "l2" or None, normalisation of the latent the heads see.
    cluster_on : "raw" (encoder output, official) or "normalized" latent for the final k-means.
    n_clusters : "auto" (estimated on the normalised latent of the unlabelled rows) or int.
    k_range, k_index, k_repeats : the estimate of the number of novel classes.
    n_init : k-means restarts. standardize : standardise features on all training rows.
    unknown_label : label of the unlabelled rows in ``y``. random_state : int, RandomState or None.

    Attributes
    ----------
    known_classes_ (c,), n_novel_classes_, k_estimate_, labels_ (n_u,), cluster_centers_ (k, latent),
    network_ (:class:`~diversa.nn.models.pbn.PBNNetwork`), scaler_, history_ (dict of per-epoch
    mean ``loss``, ``ce`` and ``mse``), n_features_in_.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> y_semi = y.copy(); y_semi[y >= 5] = -1            # digits 5-9 are novel and unlabelled
    >>> pbn = PBN(latent_dim=16, epochs=5, n_clusters=5, random_state=0).fit(X, y_semi)
    >>> pbn.transform(X[:3]).shape, len(pbn.history_["loss"])
    ((3, 16), 5)
    """

    def __init__(self, latent_dim=58, hidden_dims="auto", w=0.0637, lr=8.756e-4, p_dropout=0.0865, epochs=200,
                 batch_size=512, use_norm="l2", cluster_on="raw", n_clusters="auto", k_range=(2, 30),
                 k_index="silhouette", k_repeats=3, n_init=10, standardize=True, unknown_label=-1,
                 random_state=None):
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.w = w
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

    def _check_own_params(self) -> None:
        _check_real(self.w, "w", 0, 1)

    def _train(self, net, X: np.ndarray, target: np.ndarray, torch) -> dict[str, list[float]]:
        x_all = torch.as_tensor(X, dtype=torch.float32)
        y_all = torch.as_tensor(target, dtype=torch.long)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, fused=True)  # one kernel: tiny nets are overhead-bound
        # a zero-weighted term is not computed: its head gets no gradient (AdamW skips it, no decay)
        use_ce = self.w > 0 and net.classifier is not None
        use_mse = self.w < 1
        history = {"loss": [], "ce": [], "mse": []}
        batches = self._batches(x_all.shape[0], torch)
        net.train()
        for _ in range(self.epochs):
            sums = np.zeros(3)
            for batch in batches:
                xb, yb = x_all[batch], y_all[batch]
                z = net.encode(xb)
                known = yb >= 0
                ce = torch.nn.functional.cross_entropy(net.classifier(z[known]), yb[known]) \
                    if use_ce and bool(known.any()) else z.new_zeros(())
                mse = ((net.decoder(z) - xb) ** 2).sum() / xb.shape[0] if use_mse else z.new_zeros(())
                loss = self.w * ce + (1 - self.w) * mse
                opt.zero_grad()
                if loss.requires_grad:
                    loss.backward()
                    opt.step()
                sums += (float(loss.detach()), float(ce.detach()), float(mse.detach()))
            for key, value in zip(("loss", "ce", "mse"), sums / max(len(batches), 1)):
                history[key].append(float(value))
        return history
