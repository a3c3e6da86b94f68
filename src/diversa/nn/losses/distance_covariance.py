"""Differentiable distance-covariance penalties for fairness with several mixed-type protected attributes.

Lee, Antonio, Avanzi, Marchi, Zhou, "Machine Learning with Multitype Protected Attributes:
Intersectional Fairness through Regularisation", arXiv:2509.08163 (2025), spec
``tabular.md#dcov-fairness``. Distance covariance is zero exactly when two random vectors are
independent, for any dimensions and types, so adding it to a training loss pushes predictions
towards independence of the protected attributes (demographic parity). With several attributes the
paper compares three penalties on a batch of predictions ``yhat`` and encoded attributes
``s_1..s_d``:

* sum of marginals ``sum_k dCov2(yhat, s_k)``: blind to dependence on combinations of attributes
  ("fairness gerrymandering");
* the joint distance covariance ``JdCov2(yhat, s_1, .., s_d; c)`` of Chakraborty & Zhang (2019),
  which adds the higher-order terms that involve several attributes at once;
* the paper's concatenated distance covariance ``CCdCov2 = dCov2(yhat, [s_1, .., s_d])``: the
  dependence of the prediction on the attribute vector as a whole.

All estimators use U-centred distance matrices with the authors' sign (centred *negative*
distances, a distance-induced kernel), ``U_ij = -a_ij + a_i./(n-2) + a_.j/(n-2) - a../((n-1)(n-2))``
off the diagonal and 0 on it. ``dcor.u_centered`` returns the opposite sign; products of two
matrices (dCov) agree either way, but JdCov's odd-order terms do not. The unbiased estimators (the
authors' default) can be negative; ``unbiased=False`` gives the V-statistics (double-centred
matrices, ``>= 0`` for dCov). Every function takes ``(n,)`` or ``(n, p)`` tensors, needs
``n >= 4`` and costs ``O(n^2 p)`` time and memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DistanceCovariancePenalty", "ccdcov2", "dcor2", "dcov2", "distance_matrix", "double_center",
           "double_centered", "jdcov2", "marginal_dcov2_sum", "u_center", "u_centered"]

#: Penalties of :class:`DistanceCovariancePenalty`.
METHODS = ("ccdcov", "jdcov", "sum", "dcov")


def _as_matrix(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, p), got {tuple(x.shape)}.")
    if x.shape[0] < 4:
        raise ValueError(f"{name} needs at least 4 rows (the unbiased estimator divides by n - 3), "
                         f"got {x.shape[0]}.")
    if not torch.is_floating_point(x):
        x = x.double()
    return x


def distance_matrix(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``(n, n)`` between the rows of ``x`` ``(n,)`` or ``(n, p)``.

    Explicit differences rather than ``torch.cdist``: exact in float64, and the gradient at ties is 0.
    """
    x = _as_matrix(x, "x")
    if x.shape[1] == 1:
        return (x - x.T).abs()
    return torch.linalg.vector_norm(x[:, None, :] - x[None, :, :], dim=-1)


def u_center(a: torch.Tensor) -> torch.Tensor:
    """U-centre a distance matrix ``a`` ``(n, n)``, authors' sign: ``-a_ij + a_i./(n-2) + a_.j/(n-2) - a../((n-1)(n-2))``, 0 on the diagonal."""
    n = a.shape[0]
    if a.ndim != 2 or a.shape[1] != n:
        raise ValueError(f"a must be a square (n, n) distance matrix, got shape {tuple(a.shape)}.")
    if n < 4:
        raise ValueError(f"a needs at least 4 rows (the unbiased estimator divides by n - 3), got {n}.")
    rows = a.sum(dim=1, keepdim=True) / (n - 2)
    u = rows + rows.T - a - a.sum() / ((n - 1) * (n - 2))
    return u.fill_diagonal_(0.0)


def double_center(a: torch.Tensor) -> torch.Tensor:
    """Double-centre a distance matrix ``a`` ``(n, n)`` with the authors' sign (the V-statistic's centring)."""
    rows = a.mean(dim=1, keepdim=True)
    return rows + rows.T - a - a.mean()


def u_centered(x: torch.Tensor) -> torch.Tensor:
    """U-centred negative Euclidean distance matrix ``(n, n)`` of a sample ``x`` ``(n,)`` or ``(n, p)``.

    Authors' sign (Chakraborty & Zhang 2019; arXiv:2509.08163): minus ``dcor.u_centered``.
    Rows and columns sum to zero and the diagonal is zero.
    """
    return u_center(distance_matrix(x))


def double_centered(x: torch.Tensor) -> torch.Tensor:
    """Double-centred negative distance matrix ``(n, n)`` of ``x`` (the V-statistic's centring)."""
    return double_center(distance_matrix(x))


def _centered(x: torch.Tensor, name: str, unbiased: bool) -> torch.Tensor:
    x = _as_matrix(x, name)
    return u_centered(x) if unbiased else double_centered(x)


def _normaliser(n: int, unbiased: bool) -> float:
    return n * (n - 3) if unbiased else n * n


def _check_rows(tensors: Sequence[torch.Tensor], names: Sequence[str]) -> None:
    sizes = {int(t.shape[0]) for t in tensors}
    if len(sizes) > 1:
        raise ValueError(f"{', '.join(names)} must have the same number of rows, got "
                         f"{[int(t.shape[0]) for t in tensors]}.")


def dcov2(x: torch.Tensor, y: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Squared distance covariance of ``x`` ``(n,)|(n, p)`` and ``y`` ``(n,)|(n, q)`` (a scalar tensor).

    Unbiased: ``sum_{i != j} U^x_ij U^y_ij / (n (n - 3))`` (equals ``dcor.u_distance_covariance_sqr``);
    ``unbiased=False``: ``sum_ij A_ij B_ij / n^2`` with double-centred matrices
    (``dcor.distance_covariance_sqr``). Differentiable in both arguments.
    """
    ux, uy = _centered(x, "x", unbiased), _centered(y, "y", unbiased)
    _check_rows((ux, uy), ("x", "y"))
    return (ux * uy).sum() / _normaliser(ux.shape[0], unbiased)


def dcor2(x: torch.Tensor, y: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Squared distance correlation ``dCov2(x, y) / sqrt(|dCov2(x, x) dCov2(y, y)|)`` (0 if a variance is 0).

    Unbiased default equals ``dcor.u_distance_correlation_sqr``; shapes as :func:`dcov2`.
    """
    ux, uy = _centered(x, "x", unbiased), _centered(y, "y", unbiased)
    _check_rows((ux, uy), ("x", "y"))
    norm = _normaliser(ux.shape[0], unbiased)
    cov, vx, vy = (ux * uy).sum() / norm, (ux * ux).sum() / norm, (uy * uy).sum() / norm
    denominator = torch.sqrt(torch.abs(vx * vy))
    safe = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
    return torch.where(denominator > 0, cov / safe, torch.zeros_like(cov))


def jdcov2(*xs: torch.Tensor, c: float = 1.0, unbiased: bool = True,
           prediction_terms_only: bool = False) -> torch.Tensor:
    """Joint distance covariance ``JdCov2(X_1, .., X_m; c)`` of ``m >= 2`` variables (Chakraborty & Zhang 2019).

    ``[sum_ij prod_k (U^k_ij + c)] / (n (n - 3)) - c^m n / (n - 3)``: the sum over all subsets of
    two or more variables of ``c^(m - |subset|)`` times their higher-order distance covariance (for
    ``m = 2`` exactly ``dCov2``). With ``prediction_terms_only=True`` only the terms that involve
    the first variable are kept, ``JdCov2(X_1, ..) - c JdCov2(X_2, ..)`` =
    ``sum_{i != j} U^1_ij prod_{k >= 2} (U^k_ij + c) / (n (n - 3))``: the part of a fairness
    penalty that depends on the predictions ``X_1`` (the rest is a constant). Each ``X_k`` is
    ``(n,)`` or ``(n, p_k)``; ``unbiased=False`` uses double-centred matrices and ``1 / n^2``.
    """
    if len(xs) < 2:
        raise ValueError(f"jdcov2 needs at least 2 variables, got {len(xs)}.")
    if not (isinstance(c, (int, float)) and c > 0 and c < float("inf")):
        raise ValueError(f"c must be a finite number > 0, got {c!r}.")
    names = [f"xs[{k}]" for k in range(len(xs))]
    us = [_centered(x, name, unbiased) for x, name in zip(xs, names)]
    _check_rows(us, names)
    n = us[0].shape[0]
    norm = _normaliser(n, unbiased)
    product = torch.ones_like(us[0])
    for u in us[1:]:
        product = product * (u + c)
    if prediction_terms_only:
        return (us[0] * product).sum() / norm
    product = product * (us[0] + c)
    # diagonal of U is 0 (unbiased), so the constant is c^m n / (n(n-3)) + c^m n(n-1) / (n(n-3))
    constant = c ** len(us) * (n / (n - 3) if unbiased else 1.0)
    return product.sum() / norm - constant


def _attribute_list(attrs, name: str = "attrs") -> list[torch.Tensor]:
    if isinstance(attrs, torch.Tensor):
        return [attrs]
    attrs = list(attrs)
    if not attrs:
        raise ValueError(f"{name} must hold at least one attribute tensor.")
    return attrs


def ccdcov2(yhat: torch.Tensor, attrs, unbiased: bool = True) -> torch.Tensor:
    """Concatenated distance covariance ``dCov2(yhat, [s_1, .., s_d])`` (the paper's CCdCov).

    ``yhat`` ``(n,)|(n, q)``; ``attrs`` a sequence of encoded attributes ``(n,)|(n, p_k)``, joined
    column-wise into one ``(n, sum p_k)`` vector, so the penalty targets joint (intersectional)
    independence of the prediction from all attributes.
    """
    attrs = [_as_matrix(a, f"attrs[{k}]") for k, a in enumerate(_attribute_list(attrs))]
    _check_rows(attrs, [f"attrs[{k}]" for k in range(len(attrs))])
    return dcov2(yhat, torch.cat([a.to(attrs[0].dtype) for a in attrs], dim=1), unbiased=unbiased)


def marginal_dcov2_sum(yhat: torch.Tensor, attrs, unbiased: bool = True) -> torch.Tensor:
    """Sum of marginal penalties ``sum_k dCov2(yhat, s_k)``: the attribute-by-attribute baseline."""
    return sum(dcov2(yhat, a, unbiased=unbiased) for a in _attribute_list(attrs))


class DistanceCovariancePenalty(nn.Module):
    """A distance-covariance fairness penalty ``D(yhat, attrs)`` to add (times lambda) to a training loss.

    Lee et al., arXiv:2509.08163. ``method``: ``"ccdcov"`` (dCov of the prediction and all
    attributes concatenated; the paper's proposal), ``"jdcov"`` (the prediction-dependent part of
    the joint distance covariance with constant ``c``), ``"sum"`` (sum of marginal dCov2) or
    ``"dcov"`` (one attribute). ``forward(yhat (n,)|(n, q), attrs)`` takes one tensor or a
    sequence of encoded attribute tensors with the same ``n >= 4`` rows and returns a scalar.
    Instead of ``attrs``, ``attr_distances`` may give each attribute's Euclidean distance matrix
    ``(n, n)`` (e.g. rows and columns of matrices computed once for a whole training set); the
    concatenation's distances are then ``sqrt(sum_k d_k^2)``. The values are the same.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> s = [torch.randn(64, 1, generator=g, dtype=torch.float64), torch.randint(0, 2, (64, 1), generator=g).double()]
    >>> yhat = (s[0] + s[1]).squeeze(1).requires_grad_()
    >>> penalty = DistanceCovariancePenalty("ccdcov")(yhat, s)
    >>> penalty.backward(); bool(penalty > 0), yhat.grad.shape
    (True, torch.Size([64]))
    """

    def __init__(self, method: str = "ccdcov", c: float = 1.0, unbiased: bool = True):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
        if not (isinstance(c, (int, float)) and 0 < c < float("inf")):
            raise ValueError(f"c must be a finite number > 0, got {c!r}.")
        self.method = method
        self.c = float(c)
        self.unbiased = bool(unbiased)

    def _distances(self, attrs, attr_distances) -> list[torch.Tensor]:
        if (attrs is None) == (attr_distances is None):
            raise ValueError("give exactly one of attrs and attr_distances.")
        if attr_distances is None:
            return [distance_matrix(_as_matrix(a, f"attrs[{k}]")) for k, a in enumerate(_attribute_list(attrs))]
        return _attribute_list(attr_distances, "attr_distances")

    def attribute_kernel(self, attrs=None, *, attr_distances=None, dtype=torch.float64) -> torch.Tensor:
        """The matrix ``L`` ``(n, n)`` with ``D(yhat, attrs) = sum_ij |yhat_i - yhat_j| L_ij / norm``.

        The centring of the prediction's distances can move onto the attribute side: a centred
        matrix is orthogonal to row and column constants, so ``sum U(a) B = sum a U(B)`` for any
        ``B`` whose rows sum to zero. The penalty is then linear in the prediction's raw distances,
        which keeps its gradient cheap. ``L`` is minus the attributes' centred matrix
        (dCov, CCdCov, sum) or the centred product ``prod_k (U^k + c)`` (JdCov).
        """
        distances = [d.to(dtype) for d in self._distances(attrs, attr_distances)]
        n = distances[0].shape[0]
        if any(d.shape != (n, n) for d in distances):
            raise ValueError(f"the attributes must have the same rows, got distance matrices "
                             f"{[tuple(d.shape) for d in distances]}.")
        center = u_center if self.unbiased else double_center
        if self.method == "dcov" and len(distances) != 1:
            raise ValueError(f"method 'dcov' takes one attribute, got {len(distances)}; use 'ccdcov', 'jdcov' or 'sum'.")
        if self.method in ("ccdcov", "dcov"):
            joint = distances[0] if len(distances) == 1 else torch.sqrt(sum(d ** 2 for d in distances))
            return -center(joint)
        centred = [center(d) for d in distances]
        if self.method == "sum":
            return -sum(centred)
        product = torch.ones_like(centred[0])
        for u in centred:
            product = product * (u + self.c)
        if self.unbiased:
            product = product.fill_diagonal_(0.0)  # the prediction's U is 0 there
        return center(product)

    def forward(self, yhat: torch.Tensor, attrs=None, *, attr_distances=None) -> torch.Tensor:
        distances = distance_matrix(_as_matrix(yhat, "yhat"))
        kernel = self.attribute_kernel(attrs, attr_distances=attr_distances, dtype=distances.dtype)
        if kernel.shape != distances.shape:
            raise ValueError(f"yhat has {distances.shape[0]} rows but the attributes have {kernel.shape[0]}; "
                             "they must have the same rows.")
        return (distances * kernel).sum() / _normaliser(distances.shape[0], self.unbiased)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, c={self.c}, unbiased={self.unbiased}"
