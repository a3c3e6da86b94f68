"""Novel class discovery on tabular data: cluster unlabelled rows of new classes with help from known ones.

Implements Troisemaine, Reiffers-Masson, Gosselin, Lemaire, Vaton, "A Practical Approach to
Novel Class Discovery in Tabular Data", arXiv:2311.05440 (DMKD 2024), under its realistic
conditions: the number of novel classes is estimated, and hyper-parameters are tuned on hidden
known classes, never on novel labels.

* :class:`PBN` — Projection-Based NCD: encoder + known-class classifier + decoder, then k-means
  of the novel rows in its latent; :class:`NCDBaselineEncoder`, the cross-entropy-only baseline;
* :class:`NCDKMeans` — k-means around the known classes' fixed centroids;
* :class:`NCDSpectralClustering` — spectral clustering with the spanning-tree kernel width;
* :func:`estimate_n_clusters` / :func:`estimate_k_silhouette` — the number of novel classes
  from a cluster validity index;
* :func:`hidden_class_cv` / :class:`HiddenClassSearchCV` — tuning by hiding known classes;
* :func:`clustering_accuracy` — Hungarian clustering accuracy.

Every estimator fits ``fit(X_known, y_known, X_unlabelled)`` or ``fit(X, y)`` with
``y == unknown_label`` (default -1) on the unlabelled rows; ``labels_``/``fit_predict`` give
the novel cluster of each unlabelled row and ``n_novel_classes_`` their number.
"""

from diversa.learners.ncd.baseline_encoder import NCDBaselineEncoder
from diversa.learners.ncd.matching import clustering_accuracy, match_clusters
from diversa.learners.ncd.n_clusters import KEstimate, estimate_k_silhouette, estimate_n_clusters
from diversa.learners.ncd.ncd_kmeans import NCDKMeans, ncd_kmeans
from diversa.learners.ncd.pbn import PBN
from diversa.learners.ncd.spectral import (
    NCDSpectralClustering,
    laplacian_embedding,
    min_dist_affinity,
    min_dist_sigma,
)
from diversa.learners.ncd.tuning import HiddenClassSearchCV, hidden_class_cv, hidden_class_folds

__all__ = [
    "HiddenClassSearchCV", "KEstimate", "NCDBaselineEncoder", "NCDKMeans", "NCDSpectralClustering", "PBN",
    "clustering_accuracy", "estimate_k_silhouette", "estimate_n_clusters", "hidden_class_cv", "hidden_class_folds",
    "laplacian_embedding", "match_clusters", "min_dist_affinity", "min_dist_sigma", "ncd_kmeans",
]
