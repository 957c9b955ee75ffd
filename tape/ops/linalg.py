"""Matrix products, determinants, inverses and factorizations. ``matmul`` records the node
torch's decomposition ends in; ``tape.linalg`` builds on the ops here."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np

from tape import _program_store, creation
from tape._dtype import scalar_type_name
from tape.ops.reduction import _dims, _return_type, _vector_norm
from tape.ops.registry import SAME, dispatch, register

_mm = register("mm", jnp.matmul, "MmBackward0", SAME, "partners", remat=False)
_bmm = register("bmm", jnp.matmul, "BmmBackward0", SAME, "partners", remat=False)
_mv = register("mv", jnp.matmul, "MvBackward0", SAME, "partners", remat=False)
_dot = register("dot", jnp.dot, "DotBackward0", SAME, "partners", remat=False)
_vm = register("vecmat", jnp.matmul, "SqueezeBackward4", SAME, "partners", remat=False)
_batched = register("matmul", jnp.matmul, "UnsafeViewBackward0", SAME, "partners", remat=False)
# torch computes 2-D @ N-D (N >= 3) with a grad-requiring matrix as (b.mT @ a.mT).mT.contiguous().
_folded_t = register("matmul_folded_t", jnp.matmul, "CloneBackward0", SAME, "partners", remat=False)


def _einsum_fwd(*xs, eq):
    return jnp.einsum(eq, *xs)


# torch's einsum ends in a different op depending on the equation; see ``_einsum_last_op``.
_einsum_ops = {
    name: register(
        f"einsum_{name}", _einsum_fwd, f"{name}Backward{n}", SAME, "partners", remat=False
    )
    for name, n in (("View", 0), ("Mul", 0), ("Sum", 1), ("Permute", 0))
}


# C++ type names, as torch's matrix-product dtype errors print them.
_CPP_NAMES = {
    "float32": "float",
    "float64": "double",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
}


def cpp_type_name(d) -> str:
    """torch's C++ name of a dtype ("double", "long int")."""
    return _CPP_NAMES[d.name]


def check_same_dtype(input, other) -> None:
    """torch multiplies matrices of one dtype only (no promotion): its error otherwise."""
    if input.dtype != other.dtype:
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{cpp_type_name(input.dtype)} != {cpp_type_name(other.dtype)}"
        )


def _check_dims(name: str, input, want: int, other=None) -> None:
    if input.dim() != want:
        raise RuntimeError(f"{input.dim()}D tensor passed to {name} (expected {want}D)")


def matmul(input, other):
    """Matrix product with torch's broadcasting rules for 1-D and batched operands."""
    a, b = input.dim(), other.dim()
    if a == 0 or b == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a}D and {b}D"
        )
    sa, sb = tuple(input.shape), tuple(other.shape)
    k_a = sa[-1]
    k_b = sb[0] if b == 1 else sb[-2]
    if k_a != k_b:
        if a == 1 and b == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have "
                f"the same number of elements, but got {sa[0]} and {sb[0]} elements respectively"
            )
        left = f"{sa[0]}x{sa[1]}" if a == 2 else f"{'x'.join(map(str, sa))}"
        right = f"{sb[0]}x{sb[1]}" if b == 2 else f"{'x'.join(map(str, sb))}"
        if a >= 2 and b >= 2:
            rows = 1
            for s in sa[:-1]:
                rows *= s
            left = f"{rows}x{sa[-1]}"
            right = f"{sb[-2]}x{sb[-1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")
    if input.dtype != other.dtype:
        x, y = scalar_type_name(input.dtype), scalar_type_name(other.dtype)
        if a == 1 and b == 1:
            raise RuntimeError(
                f"dot : expected both vectors to have same dtype, but found {x} and {y}"
            )
        if a == 2 and b == 1:
            raise RuntimeError(
                f"addmv input tensors must have the same dtype, but got {y}, {x}, and {y}"
            )
        check_same_dtype(input, other)
    op = {(1, 1): _dot, (2, 2): _mm, (2, 1): _mv, (1, 2): _vm}.get((a, b), _batched)
    if a == 2 and b >= 3 and input.requires_grad:
        op = _folded_t
    return dispatch(op, (input, other))


def mm(input, mat2):
    _check_dims("mm", input, 2)
    _check_dims("mm", mat2, 2)
    return matmul(input, mat2)


_baddbmm = register(
    "baddbmm",
    lambda x, b1, b2, beta, alpha: (0 if beta == 0 else beta * x) + alpha * jnp.matmul(b1, b2),
    "BaddbmmBackward0",
    SAME,
)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)``, batched; ``input`` broadcasts, and with
    ``beta=0`` it is not read (NaN in it does not propagate)."""
    if batch1.dim() != 3 or batch2.dim() != 3:
        raise RuntimeError(f"batch{1 if batch1.dim() != 3 else 2} must be a 3D tensor")
    want = [batch1.shape[0], batch1.shape[2]]
    if list(batch2.shape[:2]) != want:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: {want} but got: "
            f"{list(batch2.shape[:2])}."
        )
    return dispatch(_baddbmm, (input, batch1, batch2), (("beta", beta), ("alpha", alpha)))


def bmm(input, mat2):
    if input.dim() != 3 or mat2.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if input.dtype != mat2.dtype:
        raise RuntimeError(
            f"expected scalar type {scalar_type_name(input.dtype)} but found "
            f"{scalar_type_name(mat2.dtype)}"
        )
    return dispatch(_bmm, (input, mat2))


def mv(input, vec):
    return dispatch(_mv, (input, vec))


def dot(input, other):
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors"
        )
    return matmul(input, other)


inner = dot


def outer(input, vec2):
    return input.reshape(-1, 1) * vec2


ger = outer


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    return dispatch(_einsum_ops[_einsum_last_op(eq, len(operands))], operands, (("eq", eq),))


def _einsum_last_op(eq: str, n: int) -> str:
    """The op torch's einsum ends in: one operand is permuted, then summed over dropped indices;
    two or more are multiplied, or contracted by bmm and viewed when some index is dropped."""
    lhs, arrow, out = eq.partition("->")
    letters = [c for c in lhs if c.isalpha()]
    if not arrow:
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    dropped = any(c not in out for c in letters)
    if n == 1:
        return "Sum" if dropped else "Permute"
    return "View" if dropped else "Mul"


def _lapack_dispatch(op, args: tuple, static: tuple = ()):
    """``dispatch`` for an op that calls LAPACK, looked up first (``ensure_lapack``)."""
    _program_store.ensure_lapack()
    return dispatch(op, args, static)


class _LinAlgError(RuntimeError):
    """Raised for a singular or non-positive-definite input (``torch._C._LinAlgError``)."""


def _raise_for_info(info, message: str) -> None:
    """torch's LinAlgError for the first batch element whose LAPACK ``info`` is nonzero;
    ``message`` has ``{where}`` (the batch element) and ``{i}`` (the info) to fill in."""
    for batch, i in enumerate(info.reshape(-1).tolist()):
        if i:
            where = f"(Batch element {batch}): " if info.dim() else ""
            raise _LinAlgError(message.format(where=where, i=i))


def _check_factorization(out, info_op, args: tuple, static: tuple, message: str) -> None:
    """Raise as torch does when LAPACK would have reported a failed factorization of
    ``args[0]``. JAX reports none: the factor or inverse comes out non-finite instead. So a
    finite result needs nothing more, and otherwise ``info_op`` finds LAPACK's ``info``.
    Reading the result computes it now; inside a compiled program (a tracer) there is nothing
    to read."""
    array = out._storage.array
    if isinstance(array, jax.core.Tracer) or bool(jnp.isfinite(array).all()):
        return
    _raise_for_info(_lapack_dispatch(info_op, args, static), message)


slogdet_type = _return_type("slogdet", "sign logabsdet")
linalg_slogdet_type = _return_type("linalg_slogdet", "sign logabsdet")
qr_type = _return_type("qr", "Q R")
linalg_qr_type = _return_type("linalg_qr", "Q R")
svd_type = _return_type("svd", "U S V")
linalg_svd_type = _return_type("linalg_svd", "U S Vh")
linalg_lstsq_type = _return_type("linalg_lstsq", "solution residuals rank singular_values")
linalg_inv_ex_type = _return_type("linalg_inv_ex", "inverse info")
linalg_solve_ex_type = _return_type("linalg_solve_ex", "result info")
linalg_cholesky_ex_type = _return_type("linalg_cholesky_ex", "L info")
linalg_lu_factor_type = _return_type("linalg_lu_factor", "LU pivots")
linalg_lu_type = _return_type("linalg_lu", "P L U")
linalg_eigh_type = _return_type("linalg_eigh", "eigenvalues eigenvectors")
triangular_solve_type = _return_type("triangular_solve", "solution cloned_coefficient")


# --- scaled products: beta * input + alpha * product -------------------------------------------


def _scaled(x, product, beta, alpha):
    """With ``beta=0`` the input is not read, so NaN in it does not propagate (as in torch)."""
    return (0 if beta == 0 else beta * x) + alpha * product


_addmm = register(
    "addmm",
    lambda x, a, b, beta, alpha: _scaled(x, a @ b, beta, alpha),
    "AddmmBackward0",
    SAME,
    remat=False,
)
_addmv = register(
    "addmv",
    lambda x, a, v, beta, alpha: _scaled(x, a @ v, beta, alpha),
    "AddmvBackward0",
    SAME,
    remat=False,
)
_addr = register(
    "addr",
    lambda x, v, w, beta, alpha: _scaled(x, jnp.outer(v, w), beta, alpha),
    "AddrBackward0",
    SAME,
)
_addbmm = register(
    "addbmm",
    lambda x, a, b, beta, alpha: _scaled(x, jnp.einsum("bij,bjk->ik", a, b), beta, alpha),
    "AddbmmBackward0",
    SAME,
    remat=False,
)


def _check_scaled_dtypes(input, mat1, mat2) -> None:
    """torch's addmm and addbmm take one dtype only: its error otherwise."""
    for what, a in (("self", input), ("mat1", mat1)):
        if a.dtype != mat2.dtype:
            raise RuntimeError(
                f"{what} and mat2 must have the same dtype, but got "
                f"{scalar_type_name(a.dtype)} and {scalar_type_name(mat2.dtype)}"
            )


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``; ``input`` broadcasts to the product's shape."""
    _check_dims("addmm", mat1, 2)
    _check_dims("addmm", mat2, 2)
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x{mat1.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]})"
        )
    _check_scaled_dtypes(input, mat1, mat2)
    return dispatch(_addmm, (input, mat1, mat2), (("beta", beta), ("alpha", alpha)))


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``."""
    if mat.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got {input.dim()}, {mat.dim()}, {vec.dim()}"
        )
    if mat.shape[1] != vec.shape[0] or input.shape[-1:] not in ((1,), (mat.shape[0],), ()):
        raise RuntimeError(
            f"size mismatch, got input ({input.shape[0] if input.dim() else 1}), "
            f"mat ({mat.shape[0]}x{mat.shape[1]}), vec ({vec.shape[0]})"
        )
    if not input.dtype == mat.dtype == vec.dtype:
        names = ", ".join(scalar_type_name(t.dtype) for t in (input, mat))
        raise RuntimeError(
            f"addmv input tensors must have the same dtype, but got {names}, and "
            f"{scalar_type_name(vec.dtype)}"
        )
    return dispatch(_addmv, (input, mat, vec), (("beta", beta), ("alpha", alpha)))


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    if vec1.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(
            f"addr: Expected 1-D argument vec1, but got {vec1.dim()}-D"
            if vec1.dim() != 1
            else f"addr: Expected 1-D argument vec2, but got {vec2.dim()}-D"
        )
    return dispatch(_addr, (input, vec1, vec2), (("beta", beta), ("alpha", alpha)))


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    if batch1.dim() != 3 or batch2.dim() != 3:
        raise RuntimeError(f"batch{1 if batch1.dim() != 3 else 2} must be a 3D tensor")
    _check_scaled_dtypes(input, batch1, batch2)
    return dispatch(_addbmm, (input, batch1, batch2), (("beta", beta), ("alpha", alpha)))


# --- vector products -----------------------------------------------------------------------------

_vdot = register("vdot", jnp.dot, "VdotBackward0", SAME, "partners", remat=False)
_cross = register(
    "cross", lambda a, b, axis: jnp.cross(a, b, axis=axis), "LinalgCrossBackward0", SAME
)
_kron = register("kron", jnp.kron, "UnsafeViewBackward0", SAME, "partners", remat=False)


def vdot(input, other):
    """The dot product of two 1-D tensors (real tensors: no conjugation)."""
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors"
        )
    if input.dtype != other.dtype:
        raise RuntimeError(
            "dot : expected both vectors to have same dtype, but found "
            f"{scalar_type_name(input.dtype)} and {scalar_type_name(other.dtype)}"
        )
    return dispatch(_vdot, (input, other))


def cross(input, other, dim=None):
    """The cross product along ``dim``: without one, the first dim of size 3 (deprecated)."""
    if dim is None:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, s in enumerate(shape) if s == 3), -1)
    return _cross_along(input, other, dim)


def _cross_along(input, other, dim: int):
    if input.dim() != other.dim():
        raise RuntimeError(
            f"linalg.cross: inputs must have the same number of dimensions. Got {input.dim()} "
            f"and {other.dim()}"
        )
    axis = _dims(dim, input.dim())[0]
    if input.shape[axis] != 3 or other.shape[axis] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got "
            f"{input.shape[axis]} and {other.shape[axis]}"
        )
    return dispatch(_cross, (input, other), (("axis", axis),))


def kron(input, other):
    """The Kronecker product (the lower-rank operand gets leading dims of size 1)."""
    return dispatch(_kron, (input, other))


_dist = register(
    "dist",
    lambda a, b, ord: _vector_norm(a - b, ord=ord, axis=None, keepdims=False),
    "DistBackward0",
    SAME,
)


def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast)."""
    return dispatch(_dist, (input, other), (("ord", float(p)),))


# --- diagonals -----------------------------------------------------------------------------------


def _diag_embed_fwd(x, offset, dim1, dim2):
    n = x.shape[-1]
    m = n + abs(offset)
    rows = jnp.arange(n) + max(-offset, 0)
    cols = jnp.arange(n) + max(offset, 0)
    out = jnp.zeros((*x.shape[:-1], m, m), x.dtype).at[..., rows, cols].set(x)
    return jnp.moveaxis(out, (-2, -1), (dim1, dim2))


_diag_embed = register("diag_embed_nd", _diag_embed_fwd, "DiagEmbedBackward0", saves="none")


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """A tensor whose ``(dim1, dim2)`` diagonals at ``offset`` hold ``input``'s last dim.

    >>> tape.diag_embed(tape.ones(2, 3)).shape
    tape.Size([2, 3, 3])
    """
    d1, d2 = _dims((dim1, dim2), input.dim() + 1)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    static = (("offset", offset), ("dim1", d1), ("dim2", d2))
    return dispatch(_diag_embed, (input,), static)


def diagflat(input, offset: int = 0):
    """A 2-D matrix with the flattened ``input`` on its ``offset`` diagonal."""
    return diag_embed(input.reshape(-1), offset)


# --- determinants and inverses -------------------------------------------------------------------


def _logdet_fwd(x):
    sign, logabs = jnp.linalg.slogdet(x)
    return jnp.where(sign < 0, jnp.nan, logabs)


_det = register("det", jnp.linalg.det, "LinalgDetBackward0", saves="both")
_logdet = register("logdet", _logdet_fwd, "WhereBackward0", saves="both")
_slogdet = register("slogdet", lambda x: tuple(jnp.linalg.slogdet(x)), "LinalgSlogdetBackward0")
_inverse = register("inverse", jnp.linalg.inv, "LinalgInvExBackward0", saves="output")


def _check_square(name: str, input) -> None:
    """torch's errors for a non-float or non-square (batch of) matrix."""
    if input.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if input.shape[-1] != input.shape[-2]:
        raise RuntimeError(
            f"{name}: A must be batches of square matrices, but they are "
            f"{input.shape[-2]} by {input.shape[-1]} matrices"
        )
    _check_float(name, input)


def _check_float(name: str, input) -> None:
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. "
            f"Got {scalar_type_name(input.dtype)}"
        )


def det(input):
    """The determinant of a (batch of) square matrix."""
    _check_square("linalg.det", input)
    return _lapack_dispatch(_det, (input,))


def logdet(input):
    """``log(det(input))``: NaN where the determinant is negative."""
    _check_square("linalg.slogdet", input)
    return _lapack_dispatch(_logdet, (input,))


def slogdet(input):
    """(sign, log|det|) of a (batch of) square matrix."""
    _check_square("linalg.slogdet", input)
    return slogdet_type(*_lapack_dispatch(_slogdet, (input,)))


def inverse(input):
    """The inverse of a (batch of) square matrix."""
    out = _unchecked_inverse(input)
    message = _SINGULAR_INV.format(name="linalg.inv")
    _check_factorization(out, _singular_info, (input,), (), message)
    return out


def _unchecked_inverse(input):
    """``inverse`` with no check of LAPACK's ``info`` (``linalg.inv_ex`` reads it itself)."""
    _check_square("linalg.inv", input)
    return _lapack_dispatch(_inverse, (input,))


_SINGULAR_INV = (
    "{name}: {{where}}The diagonal element {{i}} is zero, the inversion could not be completed "
    "because the input matrix is singular."
)
_NOT_POSITIVE_DEFINITE = (
    "{name}: {{where}}The factorization could not be completed because the input is not "
    "positive-definite (the leading minor of order {{i}} is not positive-definite)."
)


def matrix_power(input, n: int):
    """``input`` to the integer power ``n``, by torch's sequence of products (so also its
    gradient nodes): an inverse first for negative ``n``, then binary exponentiation."""
    _check_square("linalg.matrix_power", input)
    if n == 0:
        eye = creation.eye(input.shape[-1], dtype=input.dtype).expand_as(input)
        return input.clone().copy_(eye)
    if n == 1:
        return input.clone()
    if n < 0:
        input, n = inverse(input), -n
    result = square = None
    while n:
        n, bit = divmod(n, 2)
        square = input if square is None else matmul(square, square)
        if bit:
            result = square if result is None else matmul(result, square)
    return result


_matrix_exp = register("matrix_exp", jax.scipy.linalg.expm, "LinalgMatrixExpBackward0", remat=False)


def matrix_exp(input):
    """The matrix exponential of a (batch of) square matrix."""
    _check_square("linalg.matrix_exp", input)
    return _lapack_dispatch(_matrix_exp, (input,))


def _pinv_fwd(x, rtol, hermitian):
    return jnp.linalg.pinv(x, rtol=rtol, hermitian=hermitian)


_pinv_op = register("pinv", _pinv_fwd, "LinalgPinvBackward0", saves="both", remat=False)


def _pinv(input, rtol=None, hermitian: bool = False):
    """The pseudo-inverse; singular values below ``rtol`` times the largest count as zero
    (default: the dtype's epsilon times the larger matrix size)."""
    _check_float("linalg.pinv", input)
    if rtol is None:
        rtol = float(jnp.finfo(input.dtype.np).eps) * max(input.shape[-2:])
    return _lapack_dispatch(
        _pinv_op, (input,), (("rtol", float(rtol)), ("hermitian", bool(hermitian)))
    )


def pinverse(input, rcond: float = 1e-15):
    """The pseudo-inverse, with singular values below ``rcond`` times the largest as zero."""
    return _pinv(input, rcond)


# --- factorizations ------------------------------------------------------------------------------


def _hermitian(x, lower: bool):
    """The symmetric matrix that ``x``'s lower (or upper) triangle gives, as LAPACK reads it,
    differentiated as ``(x + x.mT) / 2``: torch's gradients are symmetric."""
    tri = jnp.tril(x) if lower else jnp.triu(x)
    sym = tri + (jnp.tril(x, -1) if lower else jnp.triu(x, 1)).mT
    mean = (x + x.mT) / 2
    return mean + jax.lax.stop_gradient(sym - mean)


def _cholesky_fwd(x, upper):
    lower = jax.lax.linalg.cholesky(_hermitian(x, not upper), symmetrize_input=False)
    return lower.mT if upper else lower


_cholesky = register("cholesky", _cholesky_fwd, "CholeskyBackward0", saves="output")
_linalg_cholesky = register(
    "linalg_cholesky", _cholesky_fwd, "LinalgCholeskyExBackward0", saves="output"
)


def _cholesky_info_fwd(x, upper):
    """LAPACK's potrf ``info``: the order of the first leading minor that is not
    positive-definite, 0 if none. JAX's cholesky fills a failed factor with NaNs instead, so
    this runs the unblocked factorization itself, a column at a time."""
    if upper:
        x = x.mT  # the upper triangle, read as the lower one of the transpose
    n = x.shape[-1]
    rows = jnp.arange(n)

    def column(j, carry):
        lower, info = carry
        done = jnp.where(rows < j, lower[..., j, :], 0)  # row j of the factor so far
        pivot = x[..., j, j] - jnp.sum(done * done, -1)
        info = jnp.where((info == 0) & ~(pivot > 0), j + 1, info)
        root = jnp.sqrt(jnp.where(pivot > 0, pivot, 1))
        below = (x[..., :, j] - jnp.sum(lower * done[..., None, :], -1)) / root[..., None]
        col = jnp.where(rows > j, below, jnp.where(rows == j, root[..., None], 0))
        return lower.at[..., :, j].set(col), info

    start = (jnp.zeros_like(x), jnp.zeros(x.shape[:-2], jnp.int32))
    return jax.lax.fori_loop(0, n, column, start)[1]


_cholesky_info = register("cholesky_info", _cholesky_info_fwd, None)


def _checked_cholesky(name: str, op, input, upper: bool):
    static = (("upper", bool(upper)),)
    out = _lapack_dispatch(op, (input,), static)
    message = _NOT_POSITIVE_DEFINITE.format(name=name)
    _check_factorization(out, _cholesky_info, (input,), static, message)
    return out


def cholesky(input, upper: bool = False):
    """The Cholesky factor of a symmetric positive-definite matrix (lower, or upper)."""
    _check_square("cholesky", input)
    return _checked_cholesky("cholesky", _cholesky, input, upper)


def _gram(factor, upper):
    """``L @ L.mT`` (``U.mT @ U``) of the factor's triangle, differentiated as that of the
    whole factor: torch's gradients of cholesky_solve and cholesky_inverse multiply by the
    factor as given, so they reach its unused triangle too."""
    tri = jnp.triu(factor) if upper else jnp.tril(factor)
    full = factor.mT @ factor if upper else factor @ factor.mT
    used = tri.mT @ tri if upper else tri @ tri.mT
    return full + jax.lax.stop_gradient(used - full)


_cholesky_solve = register(
    "cholesky_solve",
    lambda b, factor, upper: jnp.linalg.solve(_gram(factor, upper), b),
    "CholeskySolveBackward0",
    SAME,
    saves="both",
    remat=False,
)
_cholesky_inverse = register(
    "cholesky_inverse",
    lambda factor, upper: jnp.linalg.inv(_gram(factor, upper)),
    "CholeskyInverseBackward0",
    saves="both",
    remat=False,
)


def cholesky_solve(input, input2, upper: bool = False):
    """Solves ``A X = input`` for ``A`` given by its Cholesky factor ``input2``."""
    if input.dtype != input2.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type "
            f"{scalar_type_name(input.dtype)} and A of type {scalar_type_name(input2.dtype)} "
            "instead."
        )
    return _lapack_dispatch(_cholesky_solve, (input, input2), (("upper", bool(upper)),))


def cholesky_inverse(input, upper: bool = False):
    """The inverse of ``A`` given by its Cholesky factor ``input``."""
    _check_square("cholesky_inverse", input)
    return _lapack_dispatch(_cholesky_inverse, (input,), (("upper", bool(upper)),))


_qr = register(
    "qr", lambda x, mode: tuple(jnp.linalg.qr(x, mode=mode)), "LinalgQrBackward0", saves="both"
)


def _qr_of(input, mode: str):
    if mode == "r":
        raise NotImplementedError("tape.linalg.qr: mode='r' is not supported")
    if mode not in ("reduced", "complete"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    _check_float("linalg.qr", input)
    return _lapack_dispatch(_qr, (input,), (("mode", mode),))


def qr(input, some: bool = True):
    """(Q, R) with Q orthonormal and R upper triangular (``some=False``: Q square)."""
    return qr_type(*_qr_of(input, "reduced" if some else "complete"))


def _svd_fwd(x, full_matrices):
    return tuple(jnp.linalg.svd(x, full_matrices=full_matrices))


_svd = register("svd", _svd_fwd, "LinalgSvdBackward0", saves="both", remat=False)
_svdvals = register(
    "svdvals",
    lambda x: jnp.linalg.svd(x, compute_uv=False),
    "LinalgSvdBackward0",
    saves="both",
    remat=False,
)


def _svd_of(input, full_matrices: bool):
    _check_float("linalg.svd", input)
    return _lapack_dispatch(_svd, (input,), (("full_matrices", bool(full_matrices)),))


def svd(input, some: bool = True, compute_uv: bool = True):
    """(U, S, V) with ``input = U @ diag(S) @ V.mT``; V, not its transpose as in linalg.svd."""
    if not compute_uv:
        s = _lapack_dispatch(_svdvals, (input,))
        m, n = input.shape[-2:]
        zeros = input.new_zeros
        return svd_type(zeros(*input.shape[:-2], m, m), s, zeros(*input.shape[:-2], n, n))
    u, s, vh = _svd_of(input, not some)
    return svd_type(u, s, vh.mT)


def _triangular_solve_fwd(b, a, upper, transpose, unitriangular):
    x = jax.scipy.linalg.solve_triangular(
        a, b, trans=int(transpose), lower=not upper, unit_diagonal=unitriangular
    )
    return x, a


_triangular_solve = register(
    "triangular_solve", _triangular_solve_fwd, "TriangularSolveBackward0", SAME, remat=False
)


def triangular_solve(
    b, A, upper: bool = True, transpose: bool = False, unitriangular: bool = False
):
    """(X, copy of A) with ``A X = b`` (``A.mT X = b`` with ``transpose``), for triangular A."""
    static = (
        ("upper", bool(upper)),
        ("transpose", bool(transpose)),
        ("unitriangular", bool(unitriangular)),
    )
    return triangular_solve_type(*_lapack_dispatch(_triangular_solve, (b, A), static))


# --- ops of tape.linalg only ---------------------------------------------------------------------


def _solve_fwd(a, b, left, vector):
    if not left:  # X A = B  <=>  A.mT X.mT = B.mT
        a, b = a.mT, b.mT
    x = jnp.linalg.solve(a, b[..., None] if vector else b)
    x = x[..., 0] if vector else x
    return x if left else x.mT


def _solve_triangular_fwd(a, b, upper, left, unitriangular):
    if not left:  # X A = B  <=>  A.mT X.mT = B.mT
        return _solve_triangular_fwd(a.mT, b.mT, not upper, True, unitriangular).mT
    return jax.scipy.linalg.solve_triangular(a, b, lower=not upper, unit_diagonal=unitriangular)


_solve_triangular = register(
    "solve_triangular",
    _solve_triangular_fwd,
    "LinalgSolveTriangularBackward0",
    SAME,
    "both",
    remat=False,
)
_solve = register("solve", _solve_fwd, "LinalgSolveExBackward0", SAME, "both", remat=False)


def _eigh_fwd(x, lower):
    w, v = jnp.linalg.eigh(_hermitian(x, lower), symmetrize_input=False)
    return w, v


_eigh = register("eigh", _eigh_fwd, "LinalgEighBackward0", saves="output", remat=False)
_eigvalsh = register(
    "eigvalsh", lambda x, lower: _eigh_fwd(x, lower)[0], "LinalgEighBackward0", saves="output"
)


def _matrix_rank_fwd(x, atol, rtol, hermitian):
    s = jnp.abs(jnp.linalg.eigvalsh(x)) if hermitian else jnp.linalg.svd(x, compute_uv=False)
    tol = jnp.maximum(atol, rtol * jnp.max(s, axis=-1, initial=0.0))
    return jnp.sum(s > tol[..., None], axis=-1).astype(jnp.int64)


_matrix_rank = register("matrix_rank", _matrix_rank_fwd, None)


def _lstsq_fwd(a, b, rcond, vector):
    """(solution, residuals, rank) as torch's default CPU driver (gelsy) gives them: the
    minimum-norm solution, residuals never computed (empty), and the numerical rank."""
    x = jnp.linalg.pinv(a, rtol=rcond) @ (b[..., None] if vector else b)
    rank = _matrix_rank_fwd(a, 0.0, rcond, False)
    return (x[..., 0] if vector else x), jnp.zeros((0,), x.dtype), rank


_lstsq = register("lstsq", _lstsq_fwd, "LinalgLstsqBackward0", SAME, remat=False)


def _lu_info_fwd(x):
    """LAPACK's getrf ``info``: the 1-based index of the first zero pivot, 0 if none."""
    lu = jax.lax.linalg.lu(x)[0]
    zero = jnp.diagonal(lu, axis1=-2, axis2=-1) == 0
    return jnp.where(zero.any(-1), jnp.argmax(zero, -1) + 1, 0).astype(jnp.int32)


_lu_info = register("lu_info", _lu_info_fwd, None)


def _singular_info_fwd(x):
    """``_lu_info`` as ``inv`` and ``solve`` report it: a matrix holding NaN is not singular
    (torch's LU pivots past the NaN and returns NaNs; JAX's pivot choice among NaNs can end in
    a zero pivot)."""
    return jnp.where(jnp.isnan(x).any((-2, -1)), 0, _lu_info_fwd(x))


_singular_info = register("singular_info", _singular_info_fwd, None)


def _lu_factor_fwd(x):
    lu, pivots, _ = jax.lax.linalg.lu(x)
    return lu, (pivots + 1).astype(jnp.int32)  # LAPACK's 1-based pivots, as torch's


def _lu_fwd(x):
    """(L, U, permutation) with ``x[..., permutation, :] == L @ U``."""
    lu, _, perm = jax.lax.linalg.lu(x)
    k = min(x.shape[-2:])
    lower = jnp.tril(lu[..., :k], -1) + jnp.eye(x.shape[-2], k, dtype=x.dtype)
    return lower, jnp.triu(lu[..., :k, :]), perm


def _lu_solve_fwd(lu, pivots, b, left, adjoint):
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _lu_solve_fwd(lu, pivots, b.mT, True, not adjoint).mT
    solve = jnp.vectorize(
        lambda lu, p, b: jax.scipy.linalg.lu_solve((lu, p - 1), b, trans=int(adjoint)),
        signature="(m,m),(m),(m,k)->(m,k)",
    )
    return solve(lu, pivots, b)


_lu_factor = register("lu_factor", _lu_factor_fwd, "LinalgLuFactorExBackward0", saves="both")
_lu = register("lu", _lu_fwd, "LinalgLuBackward0", saves="both")
# The permutation matrix P of ``A = P @ L @ U`` from the permutation: no gradient.
_permutation_matrix = register(
    "permutation_matrix",
    lambda perm, dtype: jnp.swapaxes(jax.nn.one_hot(perm, perm.shape[-1], dtype=dtype), -2, -1),
    None,
)
_lu_solve = register("lu_solve", _lu_solve_fwd, "LinalgLuSolveBackward0", saves="both")


_chain_matmul_warned = False


def chain_matmul(*matrices):
    """Deprecated in torch for ``linalg.multi_dot``: the product of the matrices."""
    global _chain_matmul_warned
    if not _chain_matmul_warned:  # torch warns once per process
        _chain_matmul_warned = True
        import warnings

        warnings.warn(
            "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
            "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors "
            "rather than multiple parameters.",
            stacklevel=3,  # past the keyword wrapper (tape.ops._keywords), at the caller
        )
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    if len(matrices) == 1:
        return matrices[0].clone()
    from tape import linalg

    return linalg.multi_dot(matrices)
