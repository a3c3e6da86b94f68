"""The NCD estimators follow scikit-learn's estimator contract."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.learners.ncd import PBN, HiddenClassSearchCV, NCDBaselineEncoder, NCDKMeans, NCDSpectralClustering

# small but learnable settings: a 1-wide bottleneck (the paper's widths on 2 features) cannot separate blobs
ESTIMATORS = [
    NCDKMeans(n_clusters=3, n_init=2, random_state=0),
    NCDSpectralClustering(n_clusters=3, n_init=2, random_state=0),
    PBN(latent_dim=4, hidden_dims=(8,), epochs=5, n_clusters=3, n_init=2, random_state=0),
    NCDBaselineEncoder(latent_dim=4, hidden_dims=(8,), epochs=5, n_clusters=3, n_init=2, random_state=0),
    HiddenClassSearchCV(NCDKMeans(n_clusters=3, n_init=1, random_state=0), {"max_iter": [20]}, n_folds=2,
                        random_state=0),
]


# the common checks fit on fully labelled y: the estimators warn that nothing is marked unlabelled
@pytest.mark.filterwarnings("ignore:y marks no row as unlabelled")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check, one_thread):
    check(estimator)
