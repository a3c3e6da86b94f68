import numpy as np
import pytest
import torch

import dcor
from diversa.nn.losses import (
    DistanceCovariancePenalty,
    ccdcov2,
    dcor2,
    dcov2,
    distance_matrix,
    jdcov2,
    marginal_dcov2_sum,
    u_centered,
)


def sample(n=40, p=1, seed=0, dependent=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    y = x[:, :1] ** 2 + rng.normal(size=(n, 1)) if dependent else rng.normal(size=(n, 2))
    return x, y


def t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


@pytest.mark.parametrize("p", [1, 3])
def test_dcov2_and_dcor2_equal_the_dcor_package(p):
    x, y = sample(p=p)
    assert float(dcov2(t(x), t(y))) == pytest.approx(dcor.u_distance_covariance_sqr(x, y), abs=1e-10)
    assert float(dcov2(t(x), t(y), unbiased=False)) == pytest.approx(dcor.distance_covariance_sqr(x, y), abs=1e-10)
    assert float(dcor2(t(x), t(y))) == pytest.approx(dcor.u_distance_correlation_sqr(x, y), abs=1e-10)
    assert float(dcor2(t(x), t(y), unbiased=False)) == pytest.approx(dcor.distance_correlation_sqr(x, y), abs=1e-10)


def test_one_dimensional_inputs_and_the_authors_sign():
    x, y = sample(n=25)
    assert float(dcov2(t(x[:, 0]), t(y[:, 0]))) == pytest.approx(dcor.u_distance_covariance_sqr(x[:, 0], y[:, 0]),
                                                                 abs=1e-10)
    # authors' (Chakraborty & Zhang) sign: centred negative distances, the opposite of dcor.u_centered
    u = u_centered(t(x)).numpy()
    np.testing.assert_allclose(u, -dcor.u_centered(distance_matrix(t(x)).numpy()), atol=1e-12)
    np.testing.assert_allclose(u.sum(axis=1), 0.0, atol=1e-12)
    assert np.all(np.diag(u) == 0)


@pytest.mark.parametrize("c", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("unbiased", [True, False])
def test_jdcov_of_two_variables_is_dcov(c, unbiased):
    x, y = sample(p=2)
    assert float(jdcov2(t(x), t(y), c=c, unbiased=unbiased)) == pytest.approx(
        float(dcov2(t(x), t(y), unbiased=unbiased)), abs=1e-10)


def test_jdcov_of_three_variables_is_pairwise_plus_the_triple_term():
    x, y = sample(n=30, p=2)
    z = t(np.random.default_rng(3).normal(size=30))
    X, Y = t(x), t(y)
    n = 30
    triple = float((u_centered(X) * u_centered(Y) * u_centered(z)).sum()) / (n * (n - 3))
    pairwise = float(dcov2(X, Y) + dcov2(X, z) + dcov2(Y, z))
    assert float(jdcov2(X, Y, z, c=1.0)) == pytest.approx(pairwise + triple, abs=1e-12)
    # with c: pairs are weighted by c, the triple by 1
    assert float(jdcov2(X, Y, z, c=2.0)) == pytest.approx(2.0 * pairwise + triple, abs=1e-12)


@pytest.mark.parametrize("unbiased", [True, False])
def test_prediction_terms_are_jdcov_minus_c_times_the_attributes_jdcov(unbiased):
    rng = np.random.default_rng(1)
    yhat, s1, s2, s3 = (t(rng.normal(size=(20, k))) for k in (1, 1, 3, 1))
    for c in (1.0, 0.7):
        full = jdcov2(yhat, s1, s2, s3, c=c, unbiased=unbiased)
        attributes = jdcov2(s1, s2, s3, c=c, unbiased=unbiased)
        kept = jdcov2(yhat, s1, s2, s3, c=c, unbiased=unbiased, prediction_terms_only=True)
        assert float(kept) == pytest.approx(float(full - c * attributes), abs=1e-12)


def test_invariances():
    x, y = sample(n=30, p=3)
    X, Y = t(x), t(y)
    base = float(dcov2(X, Y))
    rotation, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    assert float(dcov2(X @ t(rotation) + 4.0, Y - 2.0)) == pytest.approx(base, abs=1e-12)
    assert float(dcov2(-2.0 * X, 0.5 * Y)) == pytest.approx(1.0 * base, abs=1e-12)  # |a||b| = 1
    assert float(dcov2(3.0 * X, Y)) == pytest.approx(3.0 * base, abs=1e-12)


def test_dependence_without_correlation_and_independence():
    rng = np.random.default_rng(0)
    half = rng.normal(size=400)
    x = np.r_[half, -half]  # symmetric: x and x^2 are exactly uncorrelated
    assert abs(np.corrcoef(x, x**2)[0, 1]) < 1e-12
    assert float(dcor2(t(x), t(x**2))) > 0.1
    independent = float(dcov2(t(x), t(rng.normal(size=800))))
    null = [float(dcov2(t(x), t(rng.permutation(x)))) for _ in range(6)]
    assert abs(independent) < 3 * np.std(null) + 1e-4


def test_penalty_module_matches_the_functions_on_both_paths():
    rng = np.random.default_rng(2)
    yhat = t(rng.random(32))
    attrs = [t(rng.normal(size=(32, 1))), t(rng.integers(0, 2, (32, 1))), t(np.eye(4)[rng.integers(0, 4, 32)] / np.sqrt(2))]
    distances = [distance_matrix(a) for a in attrs]
    expected = {"ccdcov": ccdcov2(yhat, attrs), "sum": marginal_dcov2_sum(yhat, attrs),
                "jdcov": jdcov2(yhat, *attrs, prediction_terms_only=True)}
    for method, value in expected.items():
        for unbiased in (True, False):
            penalty = DistanceCovariancePenalty(method, unbiased=unbiased)
            if not unbiased:
                value = {"ccdcov": ccdcov2(yhat, attrs, unbiased=False),
                         "sum": marginal_dcov2_sum(yhat, attrs, unbiased=False),
                         "jdcov": jdcov2(yhat, *attrs, unbiased=False, prediction_terms_only=True)}[method]
            assert float(penalty(yhat, attrs)) == pytest.approx(float(value), abs=1e-12)
            assert float(penalty(yhat, attr_distances=distances)) == pytest.approx(float(value), abs=1e-12)
    one = DistanceCovariancePenalty("dcov")(yhat, attrs[0])
    assert float(one) == pytest.approx(float(dcov2(yhat, attrs[0])), abs=1e-12)
    # a probability vector (multiclass predictions) is a multi-dimensional yhat
    proba = t(rng.dirichlet(np.ones(3), size=32))
    assert float(DistanceCovariancePenalty("ccdcov")(proba, attrs)) == pytest.approx(
        float(ccdcov2(proba, attrs)), abs=1e-12)


@pytest.mark.parametrize("method", ["ccdcov", "jdcov", "sum"])
def test_penalties_are_differentiable(method):
    rng = np.random.default_rng(4)
    attrs = [t(rng.normal(size=(9, 1))), t(np.eye(3)[rng.integers(0, 3, 9)] / np.sqrt(2))]
    yhat = t(rng.random(9)).requires_grad_()
    assert torch.autograd.gradcheck(lambda y: DistanceCovariancePenalty(method)(y, attrs), (yhat,))
    assert torch.autograd.gradcheck(lambda y: jdcov2(y, *attrs), (yhat,))
    assert torch.autograd.gradcheck(lambda y: dcor2(y, attrs[1]), (yhat,))


def test_ccdcov_sees_an_intersection_the_marginal_sum_misses():
    rng = np.random.default_rng(0)
    g, e = rng.integers(0, 2, 800), rng.integers(0, 2, 800)
    yhat = t(np.where(g == e, 1.0, 0.0) + 0.1 * rng.normal(size=800))  # XOR: independent of g and of e
    attrs = [t(g), t(e)]
    assert abs(float(marginal_dcov2_sum(yhat, attrs))) < 2e-3
    assert float(ccdcov2(yhat, attrs)) > 0.02
    assert float(jdcov2(yhat, *attrs, prediction_terms_only=True)) > 0.02


def test_bad_input():
    x = t(np.arange(3.0))
    with pytest.raises(ValueError, match="x needs at least 4 rows"):
        dcov2(x, x)
    with pytest.raises(ValueError, match="yhat needs at least 4 rows"):
        DistanceCovariancePenalty()(x, [x])
    with pytest.raises(ValueError, match="same number of rows"):
        dcov2(t(np.arange(5.0)), t(np.arange(6.0)))
    with pytest.raises(ValueError, match="method"):
        DistanceCovariancePenalty("hsic")
    with pytest.raises(ValueError, match="c must be"):
        jdcov2(x, x, c=0.0)
    with pytest.raises(ValueError, match="one attribute"):
        DistanceCovariancePenalty("dcov")(t(np.arange(6.0)), [t(np.arange(6.0)), t(np.arange(6.0))])
    with pytest.raises(ValueError, match="same rows"):
        DistanceCovariancePenalty("sum")(t(np.arange(6.0)), [t(np.arange(7.0))])
    with pytest.raises(TypeError, match="torch.Tensor"):
        dcov2(np.arange(5.0), t(np.arange(5.0)))
