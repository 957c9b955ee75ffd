"""Matrix products. ``matmul`` records the node torch's decomposition ends in."""

from __future__ import annotations

import jax.numpy as jnp

from tape._dtype import scalar_type_name
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
