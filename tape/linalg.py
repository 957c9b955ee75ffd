"""``torch.linalg``: norms, decompositions and solvers, on the ops of ``tape.ops.linalg``.

>>> a = tape.randn(3, 3, dtype=tape.float64)
>>> tape.linalg.solve(a, tape.ones(3))   # x with a @ x == 1
"""

from __future__ import annotations

import numpy as np

from tape._dtype import scalar_type_name
from tape.ops import linalg as _ops
from tape.ops.linalg import det, matmul, matrix_exp, matrix_power
from tape.ops.linalg import inverse as inv
from tape.ops.reduction import _dims, _norm
from tape.ops.registry import dispatch
from tape.ops.shape import cat
from tape.ops.shape import diagonal as _diagonal
from tape.tensor import Tensor

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "inv_ex",
    "lstsq",
    "lu",
    "lu_factor",
    "lu_solve",
    "matmul",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "svd",
    "svdvals",
    "vander",
    "vecdot",
    "vector_norm",
]

_INF = float("inf")


LinAlgError = _ops._LinAlgError


def vector_norm(
    x: Tensor, ord: float = 2, dim=None, keepdim: bool = False, *, dtype=None
) -> Tensor:
    """The ``ord``-norm of ``x``'s entries over ``dim`` (all of them by default)."""
    _ops._check_float("linalg.vector_norm", x)
    if dtype is not None:
        x = x.to(dtype)
    static = (("ord", float(ord)), ("axis", _dims(dim, x.dim())), ("keepdims", keepdim))
    return dispatch(_norm, (x,), static)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """A matrix norm over the two dims ``dim``: "fro", "nuc", or ord 1, -1, 2, -2, inf, -inf
    (computed as torch does, so with its gradient nodes: an amax or amin, or a sum)."""
    if dtype is not None:
        A = A.to(dtype)
    if ord not in ("fro", "nuc", 1, -1, 2, -2, _INF, -_INF):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    d0, d1 = _dims(dim, A.dim())
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    _ops._check_float("linalg.matrix_norm", A)
    if ord in ("nuc", 2, -2):
        # The singular values of the matrices moved to the last two dims.
        back = [d for d in range(A.dim()) if d not in (d0, d1)] + [d0, d1]
        s = svdvals(A.permute(back))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        if keepdim:
            out = out.unsqueeze(-1).unsqueeze(-1).permute(list(np.argsort(back)))
        return out
    if abs(ord) == _INF:
        d0, d1 = d1, d0
    sums = A.abs().sum(d0, keepdim=keepdim)
    if not keepdim and d0 < d1:
        d1 -= 1
    return sums.amax(d1, keepdim) if ord > 0 else sums.amin(d1, keepdim)


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """A vector norm (``dim`` an int, or a 1-D input) or a matrix norm (``dim`` a pair, or a
    2-D input with ``ord`` given); with neither, the 2-norm of all entries."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is not None and A.dim() == 2:
        return matrix_norm(A, ord, keepdim=keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, None, keepdim, dtype=dtype)


def slogdet(A: Tensor):
    """(sign, log|det|) of a (batch of) square matrix."""
    return _ops.linalg_slogdet_type(*_ops.slogdet(A))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with ``A @ X == B`` (``X @ A == B`` when not ``left``); B may be a (batch of)
    vector."""
    out = _solve(A, B, left)
    message = _SINGULAR_SOLVE.format(name="solve")
    _ops._check_factorization(out, _ops._singular_info, (A,), (), message)
    return out


def _solve(A: Tensor, B: Tensor, left: bool) -> Tensor:
    _ops._check_square("linalg.solve", A)
    if A.dtype != B.dtype:
        raise RuntimeError(
            "linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{scalar_type_name(A.dtype)} and B of type {scalar_type_name(B.dtype)} instead"
        )
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    return _ops._lapack_dispatch(_ops._solve, (A, B), (("left", bool(left)), ("vector", vector)))


_SINGULAR_SOLVE = (
    "torch.linalg.{name}: {{where}}The solver failed because the input matrix is singular."
)


def inv_ex(A: Tensor, *, check_errors: bool = False):
    """(inverse, info): ``info`` is LAPACK's, nonzero for a singular matrix."""
    inverse = _ops._unchecked_inverse(A)
    info = _ops._lapack_dispatch(_ops._lu_info, (A,))
    if check_errors:
        _ops._raise_for_info(info, _ops._SINGULAR_INV.format(name="linalg.inv_ex"))
    return _ops.linalg_inv_ex_type(inverse, info)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False):
    """(result, info) of ``solve``: ``info`` is LAPACK's, nonzero for a singular A."""
    result = _solve(A, B, left)
    info = _ops._lapack_dispatch(_ops._lu_info, (A,))
    if check_errors:
        _ops._raise_for_info(info, _SINGULAR_SOLVE.format(name="solve_ex"))
    return _ops.linalg_solve_ex_type(result, info)


def lu_factor(A: Tensor, *, pivot: bool = True):
    """(LU, pivots): L below the diagonal and U on and above it, with LAPACK's 1-based row
    swaps."""
    if not pivot:
        raise NotImplementedError("tape.linalg.lu_factor: only pivot=True is supported")
    _ops._check_float("linalg.lu_factor", A)
    return _ops.linalg_lu_factor_type(*_ops._lapack_dispatch(_ops._lu_factor, (A,)))


def lu(A: Tensor, *, pivot: bool = True):
    """(P, L, U) with ``A = P @ L @ U``, L unit lower and U upper triangular."""
    if not pivot:
        raise NotImplementedError("tape.linalg.lu: only pivot=True is supported")
    _ops._check_float("linalg.lu", A)
    lower, upper, perm = _ops._lapack_dispatch(_ops._lu, (A,))
    p = dispatch(_ops._permutation_matrix, (perm,), (("dtype", A.dtype.np),))
    return _ops.linalg_lu_type(p, lower, upper)


def lu_solve(
    LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False
) -> Tensor:
    """X with ``A @ X == B`` (``X @ A == B`` when not ``left``; A's transpose if
    ``adjoint``), for A given by ``lu_factor``."""
    static = (("left", bool(left)), ("adjoint", bool(adjoint)))
    return _ops._lapack_dispatch(_ops._lu_solve, (LU, pivots, B), static)


def solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False
) -> Tensor:
    """X with ``A @ X == B`` (``X @ A == B`` when not ``left``) for a triangular A, read from
    its ``upper`` or lower triangle (with ones on the diagonal if ``unitriangular``)."""
    if A.dtype != B.dtype:
        raise RuntimeError(
            "linalg.solve_triangular: Expected A and B to have the same dtype, but found A of "
            f"type {scalar_type_name(A.dtype)} and B of type {scalar_type_name(B.dtype)} instead"
        )
    static = (("upper", bool(upper)), ("left", bool(left)), ("unitriangular", bool(unitriangular)))
    return _ops._lapack_dispatch(_ops._solve_triangular, (A, B), static)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonal of each matrix of A (a view), as ``torch.diagonal`` with the last dims."""
    return _diagonal(A, offset, dim1, dim2)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of a symmetric positive-definite matrix (lower, or upper)."""
    _ops._check_square("linalg.cholesky", A)
    return _ops._checked_cholesky("linalg.cholesky", _ops._linalg_cholesky, A, upper)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """(L, info) of ``cholesky``: ``info`` is LAPACK's, the order of the first leading minor
    that is not positive-definite (0 if none); L is then NaN where LAPACK leaves it partial."""
    _ops._check_square("linalg.cholesky", A)
    static = (("upper", bool(upper)),)
    factor = _ops._lapack_dispatch(_ops._linalg_cholesky, (A,), static)
    info = _ops._lapack_dispatch(_ops._cholesky_info, (A,), static)
    if check_errors:
        _ops._raise_for_info(info, _ops._NOT_POSITIVE_DEFINITE.format(name="linalg.cholesky_ex"))
    return _ops.linalg_cholesky_ex_type(factor, info)


def qr(A: Tensor, mode: str = "reduced"):
    """(Q, R) with Q orthonormal and R upper triangular; ``mode="complete"``: Q square."""
    return _ops.linalg_qr_type(*_ops._qr_of(A, mode))


def svd(A: Tensor, full_matrices: bool = True):
    """(U, S, Vh) with ``A = U @ diag(S) @ Vh``."""
    return _ops.linalg_svd_type(*_ops._svd_of(A, full_matrices))


def svdvals(A: Tensor) -> Tensor:
    """The singular values of A, in descending order."""
    _ops._check_float("linalg.svd", A)
    return _ops._lapack_dispatch(_ops._svdvals, (A,))


def eigh(A: Tensor, UPLO: str = "L"):
    """(eigenvalues ascending, eigenvectors) of a symmetric matrix, read from its ``UPLO``
    triangle."""
    _ops._check_square("linalg.eigh", A)
    return _ops.linalg_eigh_type(
        *_ops._lapack_dispatch(_ops._eigh, (A,), (("lower", UPLO == "L"),))
    )


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues of a symmetric matrix, ascending."""
    _ops._check_square("linalg.eigh", A)
    return _ops._lapack_dispatch(_ops._eigvalsh, (A,), (("lower", UPLO == "L"),))


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The pseudo-inverse. Only relative cut-offs (``rtol``) are supported."""
    if atol:
        raise NotImplementedError("tape.linalg.pinv: atol is not supported; use rtol")
    return _ops._pinv(A, rtol, hermitian)


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values above ``max(atol, rtol * largest)``; by default, above
    the dtype's epsilon times the larger matrix size times the largest."""
    _ops._check_float("linalg.matrix_rank", A)
    if rtol is None:
        eps = float(np.finfo(A.dtype.np).eps)
        rtol = eps * max(A.shape[-2:]) if not atol else 0.0
    static = (("atol", float(atol or 0.0)), ("rtol", float(rtol)), ("hermitian", hermitian))
    return _ops._lapack_dispatch(_ops._matrix_rank, (A,), static)


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values) of ``min |A X - B|``, as torch's default
    CPU driver "gelsy" gives them: the minimum-norm solution and the numerical rank, with
    residuals and singular values empty."""
    if driver not in (None, "gelsy"):
        raise NotImplementedError(f"tape.linalg.lstsq: driver {driver!r}; only 'gelsy'")
    _ops._check_float("linalg.lstsq", A)
    if A.dtype != B.dtype:
        raise RuntimeError(
            "torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
            f"input's dtype {scalar_type_name(A.dtype)} and other's dtype "
            f"{scalar_type_name(B.dtype)}"
        )
    if rcond is None:
        rcond = float(np.finfo(A.dtype.np).eps) * max(A.shape[-2:])
    vector = B.dim() == A.dim() - 1
    static = (("rcond", float(rcond)), ("vector", vector))
    x, residuals, rank = _ops._lapack_dispatch(_ops._lstsq, (A, B), static)
    return _ops.linalg_lstsq_type(x, residuals, rank, A.new_empty(0))


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product along ``dim`` (of size 3); batch dims broadcast."""
    return _ops._cross_along(input, other, dim)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product along ``dim``, with broadcasting."""
    if x.dtype != y.dtype:
        raise RuntimeError(
            "linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
            f"{scalar_type_name(x.dtype)} and y of type {scalar_type_name(y.dtype)} instead"
        )
    return (x * y).sum(dim)


def vander(x: Tensor, N: int | None = None) -> Tensor:
    """The Vandermonde matrix: columns ``x ** 0, ..., x ** (N - 1)``."""
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    column = x.unsqueeze(-1)
    powers = column.expand(*x.shape, n - 1).cumprod(-1)
    return cat([column.new_ones(column.shape), powers], -1)


def multi_dot(tensors) -> Tensor:
    """The product of a chain of matrices; the first may be a row vector and the last a
    column vector (1-D). Three matrices are multiplied in the cheaper order, as in torch."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0], tensors[-1]
    shape = [*first.shape[:-1], *last.shape[1:]]
    if first.dim() == 1:
        tensors[0] = first.unsqueeze(0)
    if last.dim() == 1:
        tensors[-1] = last.unsqueeze(-1)
    if len(tensors) == 3:
        a, b, c = tensors
        (p, q), r, s = a.shape, b.shape[1], c.shape[1]
        if p * r * (q + s) > q * s * (p + r):
            return _ops.mm(a, _ops.mm(b, c)).view(shape)
    out = tensors[0]
    for t in tensors[1:]:
        out = _ops.mm(out, t)
    return out.view(shape)
