"""Reductions over all elements or over ``dim`` (an int or a tuple), with ``keepdim``."""

from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from tape import _dtype
from tape.ops.registry import SAME, dispatch, register


def _return_type(name: str, fields: tuple | str = ("values", "indices")) -> type:
    """torch.return_types.<name>: a namedtuple (values, indices unless ``fields`` says
    otherwise) printed one field a line, as torch's."""
    base = namedtuple(name, fields)

    def __repr__(self) -> str:
        parts = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
        return f"torch.return_types.{name}(\n{parts})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__str__": __repr__})


values_indices = {
    name: _return_type(name)
    for name in "max min sort topk kthvalue median nanmedian mode cummax cummin".split()
}
_aminmax_type = _return_type("aminmax", ("min", "max"))


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
_max_dim = register("max_dim", _pick(jnp.argmax), "MaxBackward0", saves="indices")
_min_dim = register("min_dim", _pick(jnp.argmin), "MinBackward0", saves="indices")


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


_sort = register("sort", _sort_fwd, "SortBackward0", saves="indices")
_argsort_op = register("argsort", _argsort, None)
_topk = register("topk", _topk_fwd, "TopkBackward0", saves="indices")


def _axis(input, dim: int) -> int:
    (axis,) = _dims(dim, input.dim()) or (0,)
    return axis


def msort(input):
    """``input`` sorted along its first dimension."""
    return sort(input, 0)[0]


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


def _nansum_fwd(x, axis, keepdims, dtype):
    return jnp.nansum(x, axis=axis, keepdims=keepdims, dtype=dtype)


_nansum = register("nansum", _nansum_fwd, "NansumBackward0")


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum with NaNs counted as zero."""
    static = (
        ("axis", _dims(dim, input.dim())),
        ("keepdims", keepdim),
        ("dtype", _accum_dtype(input, dtype)),
    )
    return dispatch(_nansum, (input,), static)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """torch's composite: nansum over the count of non-NaN elements (DivBackward0)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{_legacy_name(input.dtype)}"
        )
    from tape.ops.elementwise import div, isnan, logical_not

    count = sum(logical_not(isnan(input)), dim, keepdim)
    return div(nansum(input, dim, keepdim, dtype=dtype), count)


_count_nonzero = register(
    "count_nonzero",
    lambda x, axis: jnp.count_nonzero(x, axis=axis).astype(jnp.int64),
    None,
)


def count_nonzero(input, dim=None):
    return dispatch(_count_nonzero, (input,), (("axis", _dims(dim, input.dim())),))


def _moment_mean(fn):
    def fwd(x, axis, correction, keepdims):
        return (
            fn(x, axis=axis, ddof=correction, keepdims=keepdims),
            jnp.mean(x, axis=axis, keepdims=keepdims),
        )

    return fwd


_var_mean = register("var_mean", _moment_mean(jnp.var), "VarMeanBackward0")
_std_mean = register("std_mean", _moment_mean(jnp.std), "StdMeanBackward0")


def _moment_static(input, dim, unbiased, keepdim, correction) -> tuple:
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (
        ("axis", _dims(dim, input.dim())),
        ("correction", _correction(unbiased, correction)),
        ("keepdims", keepdim),
    )


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) in one op."""
    return dispatch(_var_mean, (input,), _moment_static(input, dim, unbiased, keepdim, correction))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) in one op."""
    return dispatch(_std_mean, (input,), _moment_static(input, dim, unbiased, keepdim, correction))


@jax.custom_jvp
def _zero_slope_one(x):
    """Zeros whose gradient is the identity (``x - stop_gradient(x)`` is NaN at inf and NaN)."""
    return jnp.zeros_like(x)


_zero_slope_one.defjvp(lambda primals, tangents: (jnp.zeros_like(primals[0]), tangents[0]))


def _median_all_fwd(x):
    """The lower median; NaN if any element is NaN. The gradient is split evenly between the
    elements equal to it, as torch's (``evenly_distribute_backward``)."""
    flat = x.ravel()
    if flat.size == 0:
        return jnp.full((), jnp.nan, x.dtype)
    value = lax.stop_gradient(jnp.sort(flat)[(flat.size - 1) // 2])
    value = jnp.where(jnp.isnan(flat).any(), jnp.nan, value).astype(x.dtype)
    mask = jnp.where(jnp.isnan(value), jnp.isnan(flat), flat == value)
    share = jnp.where(mask, _zero_slope_one(flat), 0).sum() / mask.sum()
    return value + share.astype(x.dtype)


def _kth_fwd(x, k, axis, keepdims):
    """The ``k``-th smallest (from 0) along ``axis`` and its index; NaN sorts last."""
    if x.ndim == 0:
        return x, jnp.zeros((), jnp.int64)
    idx = lax.slice_in_dim(_argsort(x, axis, False), k, k + 1, axis=axis)
    values = jnp.take_along_axis(x, idx, axis=axis)
    if not keepdims:
        values, idx = jnp.squeeze(values, axis), jnp.squeeze(idx, axis)
    return values, idx


def _median_dim_fwd(x, axis, keepdims):
    """The lower median along ``axis``; where a row holds NaN, its first NaN."""
    if x.ndim == 0:
        return x, jnp.zeros((), jnp.int64)
    values, idx = _kth_fwd(x, (x.shape[axis] - 1) // 2, axis, keepdims)
    nan = jnp.isnan(x)
    first_nan = jnp.argmax(nan, axis=axis, keepdims=keepdims).astype(jnp.int64)
    idx = jnp.where(nan.any(axis=axis, keepdims=keepdims), first_nan, idx)
    return _take(x, idx, axis, keepdims), idx


def _take(x, idx, axis, keepdims):
    """``x`` at ``idx`` along ``axis`` (``idx`` without that axis unless ``keepdims``)."""
    picked = jnp.take_along_axis(x, idx if keepdims else jnp.expand_dims(idx, axis), axis=axis)
    return picked if keepdims else jnp.squeeze(picked, axis)


_median_all = register("median", _median_all_fwd, "MedianBackward0", saves="both")
_median_dim = register("median_dim", _median_dim_fwd, "MedianBackward1", saves="indices")
_kthvalue = register("kthvalue", _kth_fwd, "KthvalueBackward0", saves="indices")


def median(input, dim=None, keepdim=False):
    """The lower of the two middle values; with ``dim``, (values, indices)."""
    if dim is None:
        return dispatch(_median_all, (input,))
    static = (("axis", _axis(input, dim)), ("keepdims", keepdim))
    return values_indices["median"](*dispatch(_median_dim, (input,), static))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest value along ``dim`` (``k`` from 1) and its index."""
    axis = _axis(input, dim)
    size = input.shape[axis] if input.dim() else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis}")
    static = (("k", int(k) - 1), ("axis", axis), ("keepdims", keepdim))
    return values_indices["kthvalue"](*dispatch(_kthvalue, (input,), static))


def _mode_fwd(x, axis, keepdims):
    """The most frequent value along ``axis`` (the smallest of equally frequent ones) and the
    index of its last occurrence, as torch's CPU kernel."""
    if x.ndim == 0:
        return x, jnp.zeros((), jnp.int64)
    y = jnp.moveaxis(x, axis, -1)
    counts = (y[..., :, None] == y[..., None, :]).sum(-1)
    best = counts.max(-1, keepdims=True)
    value = jnp.where(counts == best, y, y.max(-1, keepdims=True)).min(-1, keepdims=True)
    n = y.shape[-1]
    last = n - 1 - jnp.argmax(jnp.flip(y == value, -1), -1, keepdims=True)
    idx = jnp.moveaxis(last.astype(jnp.int64), -1, axis)
    if not keepdims:
        idx = jnp.squeeze(idx, axis)
    return _take(x, idx, axis, keepdims), idx


_mode = register("mode", _mode_fwd, "ModeBackward0", saves="indices")


def mode(input, dim=-1, keepdim=False):
    static = (("axis", _axis(input, dim)), ("keepdims", keepdim))
    return values_indices["mode"](*dispatch(_mode, (input,), static))


def _cumulative_pick(better):
    """Running extreme along ``axis`` and the index where it was reached (the latest on ties;
    a NaN wins and stays), with the gradient going to that index."""

    def fwd(x, axis):
        if x.ndim == 0:
            return x, jnp.zeros((), jnp.int64)
        positions = lax.broadcasted_iota(jnp.int64, x.shape, axis)

        def combine(a, b):
            (va, ia), (vb, ib) = a, b
            take_b = jnp.isnan(vb) | (~jnp.isnan(va) & better(vb, va))
            return jnp.where(take_b, vb, va), jnp.where(take_b, ib, ia)

        _, idx = lax.associative_scan(combine, (lax.stop_gradient(x), positions), axis=axis)
        return jnp.take_along_axis(x, idx, axis=axis), idx

    return fwd


_cummax = register("cummax", _cumulative_pick(jnp.greater_equal), "CummaxBackward0")
_cummin = register("cummin", _cumulative_pick(jnp.less_equal), "CumminBackward0")


def cummax(input, dim):
    static = (("axis", _axis(input, dim)),)
    return values_indices["cummax"](*dispatch(_cummax, (input,), static))


def cummin(input, dim):
    static = (("axis", _axis(input, dim)),)
    return values_indices["cummin"](*dispatch(_cummin, (input,), static))


def _aminmax_fwd(x, axis, keepdims):
    return jnp.min(x, axis, keepdims=keepdims), jnp.max(x, axis, keepdims=keepdims)


_aminmax = register("aminmax", _aminmax_fwd, "AminmaxBackward0", saves="both")


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over all elements or along ``dim``; ties share the gradient evenly."""
    if dim is None and input.numel() == 0:
        raise RuntimeError(
            "aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
            "identity."
        )
    axis = None if dim is None else _axis(input, dim)
    return _aminmax_type(*dispatch(_aminmax, (input,), (("axis", axis), ("keepdims", keepdim))))


_logcumsumexp = register(
    "logcumsumexp",
    lambda x, axis: x if x.ndim == 0 else lax.cumlogsumexp(x, axis=axis),
    "LogcumsumexpBackward0",
    saves="both",
)


def logcumsumexp(input, dim: int):
    if not input.dtype.is_floating_point:
        raise NotImplementedError(
            f"\"logcumsumexp_out_cpu\" not implemented for '{_legacy_name(input.dtype)}'"
        )
    return dispatch(_logcumsumexp, (input,), (("axis", _axis(input, dim)),))


def _nanmedian_all_fwd(x):
    """The lower median of the non-NaN elements (NaN if there are none); the gradient is split
    evenly between the elements equal to it, as torch's."""
    flat = x.ravel()
    if flat.size == 0:
        return jnp.full((), jnp.nan, x.dtype)
    count = (~jnp.isnan(flat)).sum()
    value = lax.stop_gradient(jnp.sort(flat)[jnp.maximum(count - 1, 0) // 2])
    mask = flat == value
    share = jnp.where(mask, _zero_slope_one(flat), 0).sum() / jnp.maximum(mask.sum(), 1)
    return value + share.astype(x.dtype)


def _nanmedian_dim_fwd(x, axis, keepdims):
    """The lower median of each row's non-NaN values and its index (a row of NaNs: NaN)."""
    if x.ndim == 0:
        return x, jnp.zeros((), jnp.int64)
    count = (~jnp.isnan(x)).sum(axis, keepdims=True)
    order = _argsort(x, axis, False)  # NaNs last
    idx = jnp.take_along_axis(order, jnp.maximum(count - 1, 0) // 2, axis=axis)
    if not keepdims:
        idx = jnp.squeeze(idx, axis)
    return _take(x, idx, axis, keepdims), idx


_nanmedian_all = register("nanmedian", _nanmedian_all_fwd, "NanmedianBackward0", saves="both")
_nanmedian_dim = register(
    "nanmedian_dim", _nanmedian_dim_fwd, "NanmedianBackward1", saves="indices"
)


def nanmedian(input, dim=None, keepdim=False):
    """``median`` ignoring NaNs."""
    if dim is None:
        return dispatch(_nanmedian_all, (input,))
    static = (("axis", _axis(input, dim)), ("keepdims", keepdim))
    return values_indices["nanmedian"](*dispatch(_nanmedian_dim, (input,), static))


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_fwd(x, q, axis, keepdims, interpolation, ignore_nan):
    """torch's algorithm: sort, find each quantile's fractional rank, interpolate."""
    q = jnp.asarray(q, x.dtype)
    lead = q.shape
    s = jnp.sort(x.ravel() if axis is None else jnp.moveaxis(x, axis, -1), axis=-1)
    s = jnp.broadcast_to(s, q.shape + s.shape)
    q = q.reshape(q.shape + (1,) * (s.ndim - q.ndim))
    last = s.shape[-1] - 1
    nan = jnp.isnan(s)
    if ignore_nan:
        ranks = jnp.maximum(q * ((~nan).sum(-1, keepdims=True) - 1), 0)
    else:
        ranks = jnp.where(nan.any(-1, keepdims=True), last, q * last)
    rounding = {"lower": jnp.floor, "higher": jnp.ceil, "nearest": jnp.round}
    if interpolation in rounding:
        ranks = rounding[interpolation](ranks)
    below = ranks.astype(jnp.int64)
    out = jnp.take_along_axis(s, below, -1)
    if interpolation in ("linear", "midpoint"):
        weight = 0.5 if interpolation == "midpoint" else ranks - below
        above = jnp.take_along_axis(s, jnp.ceil(ranks).astype(jnp.int64), -1)
        out = out + weight * (above - out)
    out = out[..., 0]
    if keepdims:
        kept = (1,) * x.ndim if axis is None else x.shape[:axis] + (1,) + x.shape[axis + 1 :]
        out = out.reshape(lead + kept)
    return out


# torch's last step is an in-place squeeze_ (SqueezeBackward4)
_quantile_op = register("quantile", _quantile_fwd, "SqueezeBackward4")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    name = "nanquantile" if ignore_nan else "quantile"
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if input.dtype.name not in ("float32", "float64"):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if hasattr(q, "shape"):
        if q.dim() > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.dtype != input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        values = np.asarray(q._storage.array)
        if ((values < 0) | (values > 1)).any():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    elif not 0 <= q <= 1:
        raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
            f"but got {interpolation}"
        )
    static = (
        ("axis", None if dim is None else _axis(input, dim)),
        ("keepdims", keepdim),
        ("interpolation", interpolation),
        ("ignore_nan", ignore_nan),
    )
    return dispatch(_quantile_op, (input, q), static)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-th quantiles (a float or a 1-D tensor) over all elements or along ``dim``."""
    return _quantile(input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` ignoring NaNs."""
    return _quantile(input, q, dim, keepdim, interpolation, True)


def tensordot(a, b, dims=2):
    """The sum of products over ``dims`` (a count of trailing/leading dims, or two lists)."""
    from tape.ops.linalg import mm

    if isinstance(dims, int):
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da, db = list(_dims(da, a.dim()) or ()), list(_dims(db, b.dim()) or ())
    for i, j in zip(da, db, strict=True):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[i]} in dim "
                f"{i} and second has size {b.shape[j]} in dim {j}"
            )
    free_a = [d for d in range(a.dim()) if d not in da]
    free_b = [d for d in range(b.dim()) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    left = a.permute(free_a + da).reshape(-1, k)
    right = b.permute(db + free_b).reshape(k, -1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return mm(left, right).reshape(shape)


def _cdist_fwd(x1, x2, p):
    diff = x1[..., :, None, :] - x2[..., None, :, :]
    if p == 0:
        return (diff != 0).sum(-1).astype(x1.dtype)
    if p == math.inf:
        return jnp.abs(diff).max(-1)
    return _vector_norm(diff, p, -1, False)


_cdist = register("cdist", _cdist_fwd, "CdistBackward0", saves="both")


def _pdist_fwd(x, p):
    """The rows' distances for each pair i < j only: a pair of equal rows (i == j) has no
    finite norm gradient for some ``p``."""
    i, j = np.triu_indices(x.shape[0], 1)
    return _cdist_fwd(x[i][:, None, :], x[j][:, None, :], p)[:, 0, 0]


_pdist = register("pdist", _pdist_fwd, "PdistBackward0", saves="both")


def pdist(input, p: float = 2.0):
    """The ``p``-norm distance between each pair of rows of ``input`` (i < j), flattened."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return dispatch(_pdist, (input,), (("p", float(p)),))


def cdist(x1, x2, p: float = 2.0, compute_mode=None):
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2``."""
    for name, x in (("X1", x1), ("X2", x2)):
        if x.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.dim()}D")
        if not x.dtype.is_floating_point:
            raise RuntimeError(
                f"cdist only supports floating-point dtypes, {name} got: "
                f"{_dtype.scalar_type_name(x.dtype)}"
            )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return dispatch(_cdist, (x1, x2), (("p", float(p)),))


def _renorm_fwd(x, p, axis, maxnorm):
    norm = _vector_norm(x, p, tuple(d for d in range(x.ndim) if d != axis), True)
    return x * jnp.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1).astype(x.dtype)


_renorm = register("renorm", _renorm_fwd, "RenormBackward0")


def renorm(input, p: float, dim: int, maxnorm: float):
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to it."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    static = (("p", float(p)), ("axis", _axis(input, dim)), ("maxnorm", float(maxnorm)))
    return dispatch(_renorm, (input,), static)


def vander(x, N=None, increasing: bool = False):
    """The powers ``x**0 ... x**(N-1)`` of a vector as columns (highest first by default)."""
    from tape import creation
    from tape.ops.shape import flip

    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    out = creation.ones(x.shape[0], n, dtype=_dtype.promote_types(x.dtype, _dtype.int64))
    if n > 1:  # torch writes the running products into the ones (CopySlices)
        out[:, 1:] = cumprod(x.unsqueeze(1).expand(x.shape[0], n - 1), 1)
    return out if increasing else flip(out, 1)


def _cov_weights(name: str, w, n: int, integral: bool):
    """torch's checks of ``fweights`` (integral) or ``aweights`` (floating)."""
    kind = "integral" if integral else "floating point"
    if w.dim() > 1:
        raise RuntimeError(
            f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
            f"{w.dim()} dimensions"
        )
    if w.dtype.is_floating_point == integral:
        raise RuntimeError(
            f"cov(): expected {name} to have {kind} dtype but got {name} with "
            f"{_dtype.scalar_type_name(w.dtype)} dtype"
        )
    if w.numel() != n:
        raise RuntimeError(
            f"cov(): expected {name} to have the same numel as there are observations in the "
            f"input but got {w.numel()} != {n}"
        )
    if n and bool(w.min() < 0):
        raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input, *, correction: int = 1, fweights=None, aweights=None):
    """The covariance of the variables in ``input``'s rows, observed in its columns, with
    observations weighted by ``fweights`` (counts) and ``aweights`` (importance)."""
    from tape import creation
    from tape.ops.linalg import mm

    if input.dim() > 2:
        raise RuntimeError(
            "cov(): expected input to have two or fewer dimensions but got an input with "
            f"{input.dim()} dimensions"
        )
    if input.dtype.name == "bool":
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input if input.dim() == 2 else input.view(1, -1)
    n = x.shape[1]
    w = None
    if fweights is not None:
        _cov_weights("fweights", fweights, n, True)
        w = fweights
    if aweights is not None:
        _cov_weights("aweights", aweights, n, False)
        w = aweights if w is None else w * aweights
    if w is None:
        w_sum = creation.tensor(n)
    else:
        w_sum = w.sum()
        if not bool(w_sum != 0):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    avg = (x if w is None else x * w).sum(1) / w_sum
    if aweights is not None and correction != 0:
        factor = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        factor = w_sum - correction
    if bool(factor <= 0):
        warnings.warn(
            "cov(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "number of observations.",
            UserWarning,
            stacklevel=2,
        )
        factor = factor * 0
    centered = x - avg.unsqueeze(1)
    return (mm(centered, (centered if w is None else centered * w).t()) / factor).squeeze()


def corrcoef(input):
    """Pearson's correlation coefficients of the variables in ``input``'s rows."""
    from tape.ops.elementwise import clip, sqrt

    c = cov(input)
    if c.dim() == 0:
        return c / c
    stddev = sqrt(c.diagonal())
    c = c / stddev.view(-1, 1)
    c = c / stddev.view(1, -1)
    return clip(c, -1, 1)


# A tensor times (or over) a C++ double inside torch's composites: MulBackward1, DivBackward1.
_mul_double = register("mul_double", lambda x, c: x * c, "MulBackward1", SAME, saves="none")
_div_double = register("div_double", lambda x, c: x / c, "DivBackward1", SAME, saves="none")


def _spacing(y, x, axis: int, name: str):
    """The sample spacings of ``x`` along ``axis``, shaped to broadcast against ``y``'s."""
    if x.dim() == 1:
        if x.shape[0] != y.shape[axis]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        x = x.view([x.shape[0] if d == axis else 1 for d in range(y.dim())])
    elif x.dim() < y.dim():
        x = x.view((1,) * (y.dim() - x.dim()) + tuple(x.shape))
    size = x.shape[axis]
    index = (slice(None),) * axis
    return x[(*index, slice(1, size))] - x[(*index, slice(0, size - 1))]


def _halves(y, axis: int):
    size = y.shape[axis]
    index = (slice(None),) * axis
    return y[(*index, slice(0, size - 1))] + y[(*index, slice(1, size))]


def _check_not_bool(name: str, *tensors) -> None:
    if builtins.any(t is not None and t.dtype.name == "bool" for t in tensors):
        raise RuntimeError(
            f"{name}: received a bool input for `x` or `y`, but bool is not supported"
        )


def trapezoid(y, x=None, *, dx=None, dim: int = -1):
    """The trapezoidal-rule integral of ``y`` along ``dim`` (at points ``x``, or ``dx`` apart)."""
    from tape import creation

    axis = _axis(y, dim)
    if y.shape[axis] == 0:
        shape = tuple(y.shape)
        return creation.zeros(shape[:axis] + shape[axis + 1 :], dtype=y.dtype)
    _check_not_bool("trapezoid", y, x)
    if x is not None:
        integral = (_halves(y, axis) * _spacing(y, x, axis, "trapezoid")).sum(axis)
        return dispatch(_div_double, (integral, 2.0))
    ends = dispatch(_mul_double, (y.select(axis, 0) + y.select(axis, -1), 0.5))
    return dispatch(_mul_double, (y.sum(axis) - ends, float(1 if dx is None else dx)))


trapz = trapezoid  # torch's older name


def cumulative_trapezoid(y, x=None, *, dx=None, dim: int = -1):
    """The running trapezoidal-rule integral of ``y`` along ``dim``."""
    axis = _axis(y, dim)
    _check_not_bool("cumulative_trapezoid", y, x)
    if x is not None:
        spacing = _spacing(y, x, axis, "cumulative_trapezoid")
        return dispatch(_div_double, ((_halves(y, axis) * spacing).cumsum(axis), 2.0))
    dx = 1 if dx is None else dx
    return dispatch(_mul_double, (_halves(y, axis), dx / 2.0)).cumsum(axis)
