"""Reductions over all elements or over ``dim`` (an int or a tuple), with ``keepdim``."""

from __future__ import annotations

import builtins
from collections import namedtuple

import jax
import jax.numpy as jnp
from jax import lax

from tape import _dtype
from tape.ops.registry import dispatch, register


def _return_type(name: str) -> type:
    """torch.return_types.<name>: a (values, indices) namedtuple printed on several lines."""
    base = namedtuple(name, ["values", "indices"])

    def __repr__(self) -> str:
        return f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__str__": __repr__})


values_indices = {
    name: _return_type(name)
    for name in ("max", "min", "sort", "topk", "kthvalue", "median", "mode")
}


def _dims(dim, ndim: int):
    """A canonical tuple of non-negative dims, or None for 'all dims'."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return None
    n = builtins.max(ndim, 1)  # this module's max() is torch.max
    out = []
    for d in dims:
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
            )
        out.append(d % n)
    return tuple(out) if ndim else None


def _accum_dtype(x, dtype):
    """torch sums and products of bools and integers in int64."""
    if dtype is not None:
        return _dtype.to_dtype(dtype).np
    if x.dtype.np.kind in "biu":
        return jnp.int64
    return None


def _sum(x, axis, keepdims, dtype):
    return jnp.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)


_sum_all = register("sum", lambda x, dtype: jnp.sum(x, dtype=dtype), "SumBackward0", saves="none")
_sum_dim = register("sum_dim", _sum, "SumBackward1", saves="none")


def sum(input, dim=None, keepdim=False, *, dtype=None):
    acc = _accum_dtype(input, dtype)
    axis = _dims(dim, input.dim())
    if axis is None and dim is None:
        return dispatch(_sum_all, (input,), (("dtype", acc),))
    return dispatch(_sum_dim, (input,), (("axis", axis), ("keepdims", keepdim), ("dtype", acc)))


_mean_all = register(
    "mean", lambda x, dtype: jnp.mean(x, dtype=dtype), "MeanBackward0", saves="none"
)
_mean_dim = register(
    "mean_dim",
    lambda x, axis, keepdims, dtype: jnp.mean(x, axis, dtype, keepdims=keepdims),
    "MeanBackward1",
    saves="none",
)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    d = _dtype.to_dtype(dtype) if dtype is not None else input.dtype
    if not d.is_floating_point:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_legacy_name(d)}"
        )
    acc = None if dtype is None else d.np
    if dim is None:
        return dispatch(_mean_all, (input,), (("dtype", acc),))
    axis = _dims(dim, input.dim())
    return dispatch(_mean_dim, (input,), (("axis", axis), ("keepdims", keepdim), ("dtype", acc)))


def _legacy_name(d: _dtype.dtype) -> str:
    return {
        "int64": "Long",
        "int32": "Int",
        "int16": "Short",
        "int8": "Char",
        "uint8": "Byte",
        "bool": "Bool",
    }.get(d.name, d.name.capitalize())


_prod_all = register("prod", lambda x, dtype: jnp.prod(x, dtype=dtype), "ProdBackward0")
_prod_dim = register(
    "prod_dim",
    lambda x, axis, keepdims, dtype: jnp.prod(x, axis, dtype, keepdims=keepdims),
    "ProdBackward1",
)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    acc = _accum_dtype(input, dtype)
    if dim is None:
        return dispatch(_prod_all, (input,), (("dtype", acc),))
    (axis,) = _dims(dim, input.dim()) or (0,)
    return dispatch(_prod_dim, (input,), (("axis", axis), ("keepdims", keepdim), ("dtype", acc)))


def _pick(reduce_arg):
    """values and indices along one axis; the gradient goes to the picked index only, as torch's."""

    def fwd(x, axis, keepdims):
        idx = reduce_arg(x, axis=axis, keepdims=True)
        values = jnp.take_along_axis(x, idx, axis=axis)
        if not keepdims:
            values, idx = jnp.squeeze(values, axis), jnp.squeeze(idx, axis)
        return values, idx.astype(jnp.int64)

    return fwd


_max_all = register("max", jnp.max, "MaxBackward1", saves="both")
_min_all = register("min", jnp.min, "MinBackward1", saves="both")
_max_dim = register("max_dim", _pick(jnp.argmax), "MaxBackward0")
_min_dim = register("min_dim", _pick(jnp.argmin), "MinBackward0")


def _extreme(all_op, dim_op, binary, name):
    def reduce(input, dim=None, keepdim=False):
        if dim is None:
            if input.numel() == 0:
                raise RuntimeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument."
                )
            return dispatch(all_op, (input,))
        if not isinstance(dim, int):
            return binary(input, dim)
        (axis,) = _dims(dim, input.dim()) or (0,)
        values, indices = dispatch(dim_op, (input,), (("axis", axis), ("keepdims", keepdim)))
        return values_indices[name](values, indices)

    reduce.__name__ = name
    return reduce


def _maximum(a, b):
    from tape.ops.elementwise import maximum

    return maximum(a, b)


def _minimum(a, b):
    from tape.ops.elementwise import minimum

    return minimum(a, b)


max = _extreme(_max_all, _max_dim, _maximum, "max")
min = _extreme(_min_all, _min_dim, _minimum, "min")

_amax = register(
    "amax",
    lambda x, axis, keepdims: jnp.max(x, axis, keepdims=keepdims),
    "AmaxBackward0",
    saves="both",
)
_amin = register(
    "amin",
    lambda x, axis, keepdims: jnp.min(x, axis, keepdims=keepdims),
    "AminBackward0",
    saves="both",
)


def amax(input, dim=(), keepdim=False):
    return dispatch(_amax, (input,), (("axis", _dims(dim, input.dim())), ("keepdims", keepdim)))


def amin(input, dim=(), keepdim=False):
    return dispatch(_amin, (input,), (("axis", _dims(dim, input.dim())), ("keepdims", keepdim)))


_argmax = register(
    "argmax",
    lambda x, axis, keepdims: jnp.argmax(x, axis, keepdims=keepdims).astype(jnp.int64),
    None,
)
_argmin = register(
    "argmin",
    lambda x, axis, keepdims: jnp.argmin(x, axis, keepdims=keepdims).astype(jnp.int64),
    None,
)


def argmax(input, dim=None, keepdim=False):
    axis = None if dim is None else _dims(dim, input.dim())
    return dispatch(_argmax, (input,), (("axis", axis and axis[0]), ("keepdims", keepdim)))


def argmin(input, dim=None, keepdim=False):
    axis = None if dim is None else _dims(dim, input.dim())
    return dispatch(_argmin, (input,), (("axis", axis and axis[0]), ("keepdims", keepdim)))


def _moment(fn):
    def fwd(x, axis, correction, keepdims):
        return fn(x, axis=axis, ddof=correction, keepdims=keepdims)

    return fwd


_var = register("var", _moment(jnp.var), "VarBackward0")
_std = register("std", _moment(jnp.std), "StdBackward0", saves="both")


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    static = (
        ("axis", _dims(dim, input.dim())),
        ("correction", _correction(unbiased, correction)),
        ("keepdims", keepdim),
    )
    return dispatch(_var, (input,), static)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    static = (
        ("axis", _dims(dim, input.dim())),
        ("correction", _correction(unbiased, correction)),
        ("keepdims", keepdim),
    )
    return dispatch(_std, (input,), static)


def _vector_norm(x, ord, axis, keepdims):
    if ord == 2:
        # torch's gradient of a zero norm is 0, not the NaN of d sqrt(s) at s = 0.
        sq = jnp.sum(x * x, axis=axis, keepdims=keepdims)
        zero = sq == 0
        return jnp.where(zero, 0, jnp.sqrt(jnp.where(zero, 1, sq))).astype(sq.dtype)
    if ord == 1:
        from tape.ops.elementwise import _abs

        return jnp.sum(_abs(x), axis=axis, keepdims=keepdims)
    return jnp.linalg.vector_norm(x, ord=ord, axis=axis, keepdims=keepdims)


_norm = register("norm", _vector_norm, "LinalgVectorNormBackward0", saves="both")


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    ord = 2 if p in ("fro", None) else p
    return dispatch(
        _norm, (input,), (("ord", ord), ("axis", _dims(dim, input.dim())), ("keepdims", keepdim))
    )


_logsumexp = register(
    "logsumexp",
    lambda x, axis, keepdims: jax.nn.logsumexp(x, axis=axis, keepdims=keepdims),
    "LogsumexpBackward0",
    saves="both",
)


def logsumexp(input, dim, keepdim=False):
    x = input if input.dtype.is_floating_point else input.float()
    return dispatch(_logsumexp, (x,), (("axis", _dims(dim, input.dim())), ("keepdims", keepdim)))


_all = register("all", lambda x, axis, keepdims: jnp.all(x, axis, keepdims=keepdims), None)
_any = register("any", lambda x, axis, keepdims: jnp.any(x, axis, keepdims=keepdims), None)


def all(input, dim=None, keepdim=False):
    return dispatch(_all, (input,), (("axis", _dims(dim, input.dim())), ("keepdims", keepdim)))


def any(input, dim=None, keepdim=False):
    return dispatch(_any, (input,), (("axis", _dims(dim, input.dim())), ("keepdims", keepdim)))


_cumsum = register(
    "cumsum", lambda x, axis, dtype: jnp.cumsum(x, axis, dtype), "CumsumBackward0", saves="none"
)
_cumprod = register(
    "cumprod", lambda x, axis, dtype: jnp.cumprod(x, axis, dtype), "CumprodBackward0", saves="both"
)


def cumsum(input, dim, *, dtype=None):
    (axis,) = _dims(dim, input.dim()) or (0,)
    return dispatch(_cumsum, (input,), (("axis", axis), ("dtype", _accum_dtype(input, dtype))))


def cumprod(input, dim, *, dtype=None):
    (axis,) = _dims(dim, input.dim()) or (0,)
    return dispatch(_cumprod, (input,), (("axis", axis), ("dtype", _accum_dtype(input, dtype))))


def _argsort(x, axis: int, descending: bool):
    """Stable, as torch's ``stable=True`` (NaN sorts as the largest value, as torch's)."""
    if x.ndim == 0:
        return jnp.zeros((), jnp.int64)
    return jnp.argsort(x, axis=axis, stable=True, descending=descending).astype(jnp.int64)


def _sort_fwd(x, axis: int, descending: bool):
    idx = _argsort(x, axis, descending)
    return (x, idx) if x.ndim == 0 else (jnp.take_along_axis(x, idx, axis=axis), idx)


def _topk_fwd(x, k: int, axis: int, largest: bool):
    values, idx = _sort_fwd(x, axis, largest)
    if x.ndim == 0:
        return values, idx
    return lax.slice_in_dim(values, 0, k, axis=axis), lax.slice_in_dim(idx, 0, k, axis=axis)


_sort = register("sort", _sort_fwd, "SortBackward0", saves="none")
_argsort_op = register("argsort", _argsort, None)
_topk = register("topk", _topk_fwd, "TopkBackward0", saves="none")


def _axis(input, dim: int) -> int:
    (axis,) = _dims(dim, input.dim()) or (0,)
    return axis


def sort(input, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """(values, indices) along ``dim``; always stable, so ties keep their order."""
    static = (("axis", _axis(input, dim)), ("descending", bool(descending)))
    return values_indices["sort"](*dispatch(_sort, (input,), static))


def argsort(input, dim: int = -1, descending: bool = False, *, stable: bool = False):
    static = (("axis", _axis(input, dim)), ("descending", bool(descending)))
    return dispatch(_argsort_op, (input,), static)


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, always sorted."""
    axis = _axis(input, dim)
    size = input.shape[axis] if input.dim() else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    static = (("k", int(k)), ("axis", axis), ("largest", bool(largest)))
    return values_indices["topk"](*dispatch(_topk, (input,), static))
