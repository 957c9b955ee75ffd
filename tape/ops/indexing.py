"""Indexing: ``t[...]`` and ``t[...] = v``, gather/scatter, index_select, masked_fill, nonzero.

An index is split into a static part (ints, slices, None, Ellipsis: baked into the compiled op)
and dynamic integer arrays (tensor indices), so one compiled op serves every index of a kind.
Boolean masks become integer indices first, since their result shape depends on the values.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from tape import _device, _dtype, _views
from tape._dispatch import _raise_broadcast_error
from tape.autograd import grad_mode
from tape.ops.registry import NONE, dispatch, register

_ARRAY = "array"


def _encode(index, tensor_cls):
    """(static key, dynamic index arrays, torch's grad_fn kind, masks) for a __getitem__ index.

    ``masks`` maps the position in the static key of each boolean mask's first index array to
    the mask's shape, for ``_check_bounds``.
    """
    items = index if isinstance(index, tuple) else (index,)
    static, dynamic, kind, masks = [], [], None, {}
    for item in items:
        if isinstance(item, tensor_cls) or isinstance(item, (list, np.ndarray)):
            arr = item if isinstance(item, tensor_cls) else tensor_cls._wrap(np.asarray(item))
            if arr.dtype.name == "bool":
                masks[len(static)] = tuple(arr.shape)
                for nz in np.nonzero(np.asarray(arr._storage.array)):
                    static.append(_ARRAY)
                    dynamic.append(tensor_cls._wrap(nz.astype(np.int64)))
            else:
                if arr.dtype.is_floating_point:
                    raise IndexError(
                        "tensors used as indices must be long, int, byte or bool tensors"
                    )
                static.append(_ARRAY)
                dynamic.append(arr)
            kind = "index"
        elif isinstance(item, slice):
            if item.step == 0:
                raise ValueError("slice step cannot be zero")
            if item.step is not None and item.step < 0:
                raise ValueError("step must be greater than zero")
            static.append(("slice", item.start, item.stop, item.step))
            if kind != "index" and item != slice(None):
                kind = "slice"
        elif item is None:
            static.append(None)
            if kind != "index":
                kind = "unsqueeze"
        elif item is Ellipsis:
            static.append(Ellipsis)
        elif isinstance(item, (bool, np.bool_)):
            static.append(bool(item))
            kind = "index"
        else:
            static.append(int(item.__index__()))
            if kind != "index":
                kind = "select"
    if kind is None:
        kind = "slice" if any(isinstance(i, slice) for i in items) else "alias"
    return tuple(static), dynamic, kind, masks


def _decode(static, arrays):
    it = iter(arrays)
    out = []
    for s in static:
        if s == _ARRAY:
            out.append(next(it))
        elif isinstance(s, tuple):
            out.append(slice(*s[1:]))
        else:
            out.append(s)
    return tuple(out)


def _getitem(x, *arrays, index):
    return x[_decode(index, arrays)]


def _setitem(x, value, *arrays, index):
    return x.at[_decode(index, arrays)].set(value.astype(x.dtype))


_get_ops = {
    kind: register(f"getitem_{kind}", _getitem, name, NONE, "none")
    for kind, name in (
        ("select", "SelectBackward0"),
        ("slice", "SliceBackward0"),
        ("unsqueeze", "UnsqueezeBackward0"),
        ("alias", "AliasBackward0"),
        ("index", "IndexBackward0"),
    )
}
_VIEW_KINDS = ("select", "slice", "unsqueeze", "alias")
for _kind in _VIEW_KINDS:
    _views.SETTERS[_get_ops[_kind]] = lambda x, value, index: x.at[_decode(index, ())].set(value)
_index_put = register("index_put", _setitem, "IndexPutBackward0", NONE, "none")


def _consumes(s) -> bool:
    return s is not None and s is not Ellipsis and not isinstance(s, bool)


def _check_bounds(static, dynamic, masks, shape) -> None:
    """torch's IndexErrors for too many indices, out-of-range integers (index tensors too, where
    their values are on the host: ``tape._device.host_values``) and boolean masks of the wrong
    shape."""
    if sum(map(_consumes, static)) > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    dim = arrays = 0
    for pos, s in enumerate(static):
        if s is Ellipsis:
            dim = len(shape) - sum(map(_consumes, static[pos + 1 :]))
        elif _consumes(s):
            if isinstance(s, int) and not -shape[dim] <= s < shape[dim]:
                raise IndexError(
                    f"index {s} is out of bounds for dimension {dim} with size {shape[dim]}"
                )
            if pos in masks:
                _check_mask(masks[pos], shape, dim)
            if s == _ARRAY:
                # torch numbers the dimension among the index tensors, not the tensor's dims.
                bad = _out_of_range(dynamic[arrays], -shape[dim], shape[dim])
                if bad is not None:
                    raise IndexError(
                        f"index {bad} is out of bounds for dimension {arrays} with size "
                        f"{shape[dim]}"
                    )
                arrays += 1
            dim += 1


def _check_mask(mask_shape, shape, dim) -> None:
    for i, size in enumerate(mask_shape):
        if size != shape[dim + i]:
            raise IndexError(
                f"The shape of the mask {list(mask_shape)} at index {i} does not match the shape "
                f"of the indexed tensor {list(shape)} at index {dim + i}"
            )


def _out_of_range(index, low: int, high: int):
    """The first value of ``index`` outside ``[low, high)``, or None (also when not on the host)."""
    values = _device.host_values(index)
    if values is None or values.size == 0 or (values.min() >= low and values.max() < high):
        return None
    return int(values[(values < low) | (values >= high)][0])


def getitem(input, index):
    from tape.tensor import Tensor

    static, dynamic, kind, masks = _encode(index, Tensor)
    _check_bounds(static, dynamic, masks, tuple(input.shape))
    op = _get_ops[kind]
    out = dispatch(op, (input, *dynamic), (("index", static),))
    if kind == "index":
        return out
    shape, strides, offset = _views.geometry(input)
    _, strides, offset = _views.index_geometry(static, shape, strides, offset)
    return _views.make(input, out, op, (("index", static),), strides, offset)


def setitem(input, index, value) -> None:
    """``input[index] = value`` in place: CopySlices for basic indices, IndexPutBackward0 else."""
    from tape import creation
    from tape.tensor import Tensor

    if index is False:  # selects nothing: torch writes nothing, and bumps no version
        return
    if input._inference and not grad_mode.state.inference:
        raise RuntimeError(grad_mode.INFERENCE_INPLACE)
    if (
        input._requires_grad
        and input._grad_fn is None
        and input._view is None  # a view made under no_grad: the write's own error
        and grad_mode.state.enabled
    ):
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    static, dynamic, kind, masks = _encode(index, Tensor)
    _check_bounds(static, dynamic, masks, tuple(input.shape))
    if not isinstance(value, Tensor):
        if isinstance(value, int | float | np.generic):
            _dtype.check_scalar(value, input.dtype)
        value = creation.tensor(value, dtype=input.dtype)
    if kind == "index":
        if input._view is not None:
            _views.check_inplace(input, through=_last_view(static, tuple(input.shape)))
        result = dispatch(_index_put, (input._snapshot(), value, *dynamic), (("index", static),))
        input._assign(result)
        return
    # basic indexing: one scatter into the root base along the view chain plus this index
    shape, strides, offset = _views.geometry(input)
    region, region_strides, _ = _views.index_geometry(static, shape, strides, offset)
    extra = value.dim() - len(region)
    if extra > 0 and all(n == 1 for n in value.shape[:extra]):  # torch drops leading ones
        value = value.reshape(tuple(value.shape[extra:]))
    _check_expands(tuple(value.shape), tuple(region))
    step = (_get_ops[kind], (("index", static),), None)
    info = input._view
    if info is None:
        _views.write(input, (step,), value)
    else:
        _views.check_inplace(input, region, region_strides, _last_view(static, shape))
        _views.write(info.base, info.chain + (step,), value, info.creation != _views.DETACHED)


def _last_view(static: tuple, shape: tuple) -> str | None:
    """The view op torch applies last for an index (``Select``, ``Slice``, ``Unsqueeze``; index
    arrays come after the views), None when it takes all of the tensor: whole slices are
    skipped, as in torch."""
    last, dim = None, 0
    for k, item in enumerate(static):
        if item is Ellipsis:  # the dims it spans: those the items after it do not take
            dim = len(shape) - sum(type(i) is int or type(i) is tuple for i in static[k + 1 :])
        elif item is None or type(item) is bool:
            last = "Unsqueeze"
        elif type(item) is int:
            last, dim = "Select", dim + 1
        elif item == _ARRAY:  # an index array: taken after the views, by index_put_
            dim += 1
        else:  # ("slice", start, stop, step)
            if slice(*item[1:]).indices(shape[dim]) != (0, shape[dim], 1):
                last = "Slice"
            dim += 1
    return last


def _check_expands(size: tuple, target: tuple) -> None:
    """torch's error when a value assigned to a region does not expand to the region's shape."""
    for k in range(1, min(len(size), len(target)) + 1):
        if size[-k] not in (1, target[-k]):
            raise RuntimeError(
                f"The expanded size of the tensor ({target[-k]}) must match the existing size "
                f"({size[-k]}) at non-singleton dimension {len(target) - k}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(size)}"
            )


def _grid(idx, axis: int) -> tuple:
    """Index arrays that address ``idx``'s positions, with ``idx`` itself along ``axis``: what
    gather reads and scatter writes (``take_along_axis`` would broadcast ``idx`` instead)."""
    grid = list(jnp.indices(idx.shape, sparse=True))
    grid[axis] = idx
    return tuple(grid)


def _gather_fwd(x, idx, axis):
    if x.ndim == 0:
        return jnp.take_along_axis(x, idx, axis=axis)
    return x[_grid(idx, axis)]


_gather = register("gather", _gather_fwd, "GatherBackward0", NONE, "none")


def _check_scatter_index(input, axis, index) -> None:
    """torch's error for a gather/scatter index outside ``[0, size)`` (no negative indices)."""
    size = input.shape[axis] if input.dim() else 1
    bad = _out_of_range(index, 0, size)
    if bad is not None:
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {size}")


def gather(input, dim, index):
    axis = dim % max(input.dim(), 1)
    _check_scatter_index(input, axis, index)
    return dispatch(_gather, (input, index), (("axis", axis),))


def _scatter_fwd(x, idx, src, axis, reduce):
    src = (
        jnp.broadcast_to(src, idx.shape)
        if jnp.ndim(src) == 0
        else src[tuple(slice(0, s) for s in idx.shape)]
    )
    src = src.astype(x.dtype)
    at = x.at[_grid(idx, axis)]
    if reduce == "add":
        return at.add(src)
    if reduce == "multiply":
        return at.multiply(src)
    return at.set(src)


_scatter = register("scatter", _scatter_fwd, "ScatterBackward0", NONE, "none")
_scatter_value = register("scatter_value", _scatter_fwd, "ScatterBackward1", NONE, "none")
_scatter_add = register("scatter_add", _scatter_fwd, "ScatterAddBackward0", NONE, "none")


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    src = value if src is None else src
    axis = dim % max(input.dim(), 1)
    _check_scatter_index(input, axis, index)
    if isinstance(src, (int, float, bool)):
        return dispatch(_scatter_value, (input, index, src), (("axis", axis), ("reduce", reduce)))
    return dispatch(_scatter, (input, index, src), (("axis", axis), ("reduce", reduce)))


def scatter_add(input, dim, index, src):
    axis = dim % max(input.dim(), 1)
    _check_scatter_index(input, axis, index)
    return dispatch(_scatter_add, (input, index, src), (("axis", axis), ("reduce", "add")))


_index_select = register(
    "index_select",
    lambda x, idx, axis: jnp.take(x, idx, axis=axis),
    "IndexSelectBackward0",
    NONE,
    "none",
)


def index_select(input, dim, index):
    axis = dim % max(input.dim(), 1)
    size = input.shape[axis] if input.dim() else 1
    bad = _out_of_range(index, 0, size)
    if bad is not None:
        if axis == 1:  # torch's CPU kernel for dimension 1 raises its own error
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={size}")
        raise IndexError("index out of range in self")
    return dispatch(_index_select, (input, index), (("axis", axis),))


def _masked_fill_fwd(x, mask, value):
    return jnp.where(mask, jnp.asarray(value, x.dtype), x)


_masked_fill = register("masked_fill", _masked_fill_fwd, "MaskedFillBackward0", NONE, "none")
_masked_fill_tensor = register(
    "masked_fill_tensor", _masked_fill_fwd, "MaskedFillBackward1", NONE, "none"
)


def masked_fill(input, mask, value):
    if not isinstance(value, (int, float, bool)):
        if value.dim() != 0:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.dim()} dimension(s)."
            )
    if mask.dtype.name != "bool":
        raise RuntimeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}"
        )
    op = _masked_fill if isinstance(value, (int, float, bool)) else _masked_fill_tensor
    return dispatch(op, (input, mask, value))


def masked_select(input, mask):
    if mask.dtype.name != "bool":
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    try:
        shape = np.broadcast_shapes(tuple(mask.shape), tuple(input.shape))
    except ValueError as error:
        _raise_broadcast_error((mask, input), error)  # torch names the mask tensor a
        raise
    if input.shape != shape:
        input = input.expand(shape)
    if mask.shape != shape:
        mask = mask.expand(shape)
    return getitem(input, mask)


def nonzero(input, *, as_tuple=False):
    from tape.tensor import Tensor

    idx = np.nonzero(np.asarray(input._storage.array))
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in idx)
    return Tensor._wrap(np.stack(idx, axis=1).astype(np.int64))


def argwhere(input):
    return nonzero(input)


def narrow(input, dim, start, length):
    index = (slice(None),) * (dim % input.dim()) + (slice(start, start + length),)
    return getitem(input, index)


_narrow_copy = register(
    "narrow_copy",
    lambda x, axis, start, length: lax.slice_in_dim(x, start, start + length, axis=axis),
    "NarrowCopyBackward0",
    NONE,
    "none",
)


def narrow_copy(input, dim, start, length):
    """``narrow`` as a new tensor, not a view."""
    axis = dim % max(input.dim(), 1)
    size = input.shape[axis]
    start = start + size if start < 0 else start
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    static = (("axis", axis), ("start", int(start)), ("length", int(length)))
    return dispatch(_narrow_copy, (input,), static)


def select(input, dim, index):
    return getitem(input, (slice(None),) * (dim % input.dim()) + (index,))


def _along(axis: int, idx) -> tuple:
    """The index that addresses ``idx`` along ``axis`` and everything along the other axes."""
    return (slice(None),) * axis + (idx,)


def _index_add_fwd(x, idx, src, axis, alpha):
    src = src.astype(x.dtype) if alpha == 1 else (src * alpha).astype(x.dtype)
    return x.at[_along(axis, idx)].add(src) if x.ndim else x + src.sum()


_index_add = register("index_add", _index_add_fwd, "IndexAddBackward0", NONE, "none")


def _check_index_range(input, axis: int, index, low: int, error: type) -> None:
    """torch's ``error`` for an index value outside ``[low, size)`` along ``axis``."""
    size = input.shape[axis] if input.dim() else 1
    bad = _out_of_range(index, low * size, size)
    if bad is not None:
        raise error(f"index {bad} is out of bounds for dimension {axis} with size {size}")


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source`` slices added at ``index`` along ``dim``."""
    axis = dim % max(input.dim(), 1)
    if index.dim() > 1:
        raise IndexError(
            f"index_add_(): Index is supposed to be a vector, but got dim: {index.dim()} with "
            f"type: {_dtype.scalar_type_name(index.dtype)} and size: {list(index.shape)}"
        )
    if index.dtype.name not in ("int64", "int32"):
        raise RuntimeError(
            "index_add_(): Expected dtype int32/int64 for index but got: "
            f"{_dtype.scalar_type_name(index.dtype)}"
        )
    n, m = index.numel(), source.shape[axis] if source.dim() else 1
    if n != m:
        raise RuntimeError(
            f"index_add_(): Number of indices ({n}) should be equal to source.size(dim): ({m}), "
            f"for dim: {axis}"
        )
    _check_index_range(input, axis, index, 0, RuntimeError)
    if source.dtype != input.dtype:
        raise RuntimeError(
            f"index_add_(): self ({_dtype.scalar_type_name(input.dtype)}) and source "
            f"({_dtype.scalar_type_name(source.dtype)}) must have the same scalar type"
        )
    static = (("axis", axis), ("alpha", alpha))
    return dispatch(_index_add, (input, index, source), static)


def _index_fill_fwd(x, idx, value, axis):
    value = jnp.asarray(value, x.dtype)
    return x.at[_along(axis, idx)].set(value) if x.ndim else jnp.where(idx.size > 0, value, x)


_index_fill = register("index_fill", _index_fill_fwd, "IndexFillBackward0", NONE, "none")
_index_fill_tensor = register(
    "index_fill_tensor", _index_fill_fwd, "IndexFillBackward1", NONE, "none"
)


def index_fill(input, dim, index, value):
    """``input`` with ``value`` written at ``index`` along ``dim``."""
    axis = dim % max(input.dim(), 1)
    if index.dim() > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    if index.dtype.name != "int64":
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    _check_index_range(input, axis, index, -1, IndexError)
    if isinstance(value, (int, float, bool)):
        return dispatch(_index_fill, (input, index, value), (("axis", axis),))
    if value.dim() != 0:
        raise RuntimeError(
            "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.dim()} dimension(s)."
        )
    return dispatch(_index_fill_tensor, (input, index, value), (("axis", axis),))


def _index_put_add(x, value, *arrays, index):
    return x.at[_decode(index, arrays)].add(value.astype(x.dtype))


_index_put_accumulate = register(
    "index_put_accumulate", _index_put_add, "IndexPutBackward0", NONE, "none"
)


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` written (or added) at the tensor ``indices``."""
    from tape.tensor import Tensor

    if values.dtype != input.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{_dtype.scalar_type_name(input.dtype)} for the destination and "
            f"{_dtype.scalar_type_name(values.dtype)} for the source."
        )
    static, dynamic, _, masks = _encode(tuple(indices), Tensor)
    _check_bounds(static, dynamic, masks, tuple(input.shape))
    op = _index_put_accumulate if accumulate else _index_put
    return dispatch(op, (input, values, *dynamic), (("index", static),))


def _take_fwd(x, idx):
    flat = x.ravel()
    return flat[jnp.where(idx < 0, idx + flat.size, idx)]


_take = register("take", _take_fwd, "TakeBackward0", NONE)


def take(input, index):
    """The flattened ``input`` at ``index`` (negative values count from the end)."""
    if index.dtype.name != "int64":
        raise RuntimeError(
            "take(): Expected a long tensor for index, but got "
            f"{_dtype.scalar_type_name(index.dtype)}"
        )
    n = input.numel()
    bad = _out_of_range(index, -n, n)
    if bad is not None:
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return dispatch(_take, (input, index))


def _not_implemented(fn, aten):
    from tape.ops.elementwise import _not_implemented

    return _not_implemented(
        fn, aten, "the derivative for '{}' is not implemented.", NotImplementedError
    )


def _unique_fwd(x, size):
    values, inverse, counts = jnp.unique(
        x.ravel(), return_inverse=True, return_counts=True, size=size, equal_nan=False
    )
    return values, inverse.reshape(x.shape).astype(jnp.int64), counts.astype(jnp.int64)


_unique = register(
    "unique", _not_implemented(_unique_fwd, "_unique2"), "Unique2Backward0", NONE, "none"
)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (or slices along ``dim``), sorted, with where each element (slice)
    went and how many there were. Their number depends on the values, so it is read on the
    host first."""
    if dim is not None:
        dim = _unique_dim(input, dim, "unique_dim(): argument 'dim' (position 2)")
        out = _unique_runs(_unique_dim_op, input, dim, sort=True)  # sorted, even if not asked
    else:
        size = len(np.unique(np.asarray(input._storage.array), equal_nan=False))  # NaNs apart
        out = dispatch(_unique, (input,), (("size", size),))
    return _unique_outputs(out, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Each run of equal consecutive values (or slices along ``dim``) as one, with the run of
    each element (slice) and the runs' lengths. Where the runs start is read on the host."""
    if dim is not None:
        dim = _unique_dim(input, dim, "unique_consecutive(): argument 'dim'")
    out = _unique_runs(_unique_consecutive, input, dim, sort=False)
    return _unique_outputs(out, return_inverse, return_counts)


def _unique_runs_fwd(x, starts, *order, dim):
    """For the runs of equal slices of ``x`` along ``dim`` (elements if None) that start at
    ``starts`` in ``order`` (as they are if none): one slice per run, each slice's run, the
    runs' lengths."""
    n = x.size if dim is None else x.shape[dim]
    run = jnp.cumsum(jnp.zeros(n, jnp.int64).at[starts[1:]].set(1))
    keep, inverse = starts, run
    if order:
        keep, inverse = order[0][starts], jnp.zeros(n, jnp.int64).at[order[0]].set(run)
    values = jnp.take(x, keep, axis=dim)
    return values, inverse.reshape(x.shape if dim is None else n), jnp.diff(starts, append=n)


_unique_dim_op = register(
    "unique_dim",
    _not_implemented(_unique_runs_fwd, "unique_dim"),
    "UniqueDimBackward0",
    NONE,
    "none",
)
_unique_consecutive = register(
    "unique_consecutive",
    _not_implemented(_unique_runs_fwd, "unique_consecutive"),
    "UniqueConsecutiveBackward0",
    NONE,
    "none",
)


def _unique_runs(op, input, dim, sort):
    """``op`` on the runs of equal slices of ``input`` along ``dim`` (elements if None), sorted
    first when ``sort``; where the runs start depends on the values, so it is found here."""
    from tape.tensor import Tensor

    a = np.asarray(input._storage.array)
    if input.dtype.is_floating_point:
        a = a.astype(np.float64)  # exact, and NumPy sorts its NaNs last (not bfloat16's)
    rows = a.reshape(-1) if dim is None else np.moveaxis(a, dim, 0)
    rows = rows.reshape(len(rows), math.prod(rows.shape[1:]))
    order = _sorted_rows(rows) if sort else np.arange(len(rows))
    ordered = rows[order]
    new = np.any(ordered[1:] != ordered[:-1], axis=1)  # NaN != NaN: a slice with one stays apart
    starts = Tensor._wrap(np.flatnonzero(np.r_[len(rows) > 0, new]).astype(np.int64))
    args = (input, starts, Tensor._wrap(order)) if sort else (input, starts)
    return dispatch(op, args, (("dim", dim),))


def _sorted_rows(rows):
    """The order in which torch's CPU unique_dim sorts the rows of ``rows``: std::sort, where a
    row is less than another when its first element that is ordered with the other's is less
    (NaN ties with everything). With NaNs that is no strict weak order and the result depends
    on the algorithm: libstdc++ sorts up to 16 elements by insertion, replayed here; more rows
    are sorted with NaN last."""
    if len(rows) > 16:
        return np.lexsort(rows.T[::-1])

    def less(i, j):
        lt, gt = rows[i] < rows[j], rows[i] > rows[j]
        return bool(lt[np.argmax(lt | gt)])

    order = []
    for i in range(len(rows)):
        k = 0
        if order and not less(i, order[0]):
            k = len(order)
            while less(i, order[k - 1]):  # stops at 1, as i is not less than order[0]
                k -= 1
        order.insert(k, i)
    return np.asarray(order, np.int64)


def _unique_dim(input, dim, argument: str) -> int:
    """``dim`` as a non-negative int, with torch's errors (also for the size-0 dims it rejects)."""
    from tape.tensor import _canonical_dim

    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{argument} must be int, not {type(dim).__name__}")
    if input.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    dim = int(_canonical_dim(dim, input.dim()))
    shape = tuple(input.shape)
    if shape.count(0) > (shape[dim] == 0):
        raise RuntimeError(
            "Number of zero sized dimensions is more than one, so unique cannot be applied "
            if shape[dim] == 0
            else "There are 0 sized dimensions, and they aren't selected, so unique cannot be "
            "applied"
        )
    return dim


def _unique_outputs(out, return_inverse, return_counts):
    values, inverse, counts = out
    out = (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return out[0] if len(out) == 1 else out


def take_along_dim(input, indices, dim=None):
    """``input`` at ``indices`` along ``dim`` (the two broadcast elsewhere); flattened if None."""
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    if indices.dtype.name != "int64":
        raise RuntimeError(
            "torch.take_along_dim(): dtype of indices should be Long but got "
            f"{_dtype.scalar_type_name(indices.dtype)}"
        )
    if input.dim() != indices.dim():
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {input.dim()} dimensions for input, and {indices.dim()} "
            "dimensions for indices"
        )
    axis = dim % max(input.dim(), 1)
    a, i = list(input.shape), list(indices.shape)
    a[axis], i[axis] = i[axis], a[axis]
    indices = indices.broadcast_to(tuple(np.broadcast_shapes(tuple(a), tuple(indices.shape))))
    input = input.broadcast_to(tuple(np.broadcast_shapes(tuple(i), tuple(input.shape))))
    return gather(input, axis, indices)


def _index_copy_fwd(x, idx, src, axis):
    return x.at[_along(axis, idx)].set(src) if x.ndim else jnp.where(idx.size > 0, src, x)


_index_copy = register("index_copy", _index_copy_fwd, "IndexCopyBackward0", NONE, "none")


def index_copy(input, dim, index, source):
    """``input`` with the slices of ``source`` written at ``index`` along ``dim``."""
    axis = dim % max(input.dim(), 1)
    if source.dim() and input.dim() and source.dim() != input.dim():
        raise IndexError(
            "index_copy_(): When source and destination are not scalars, their dimensionality "
            f"must match. Source dimensionality ({source.dim()}), destination dimensionality "
            f"({input.dim()})"
        )
    if source.dtype != input.dtype:
        raise RuntimeError(
            f"index_copy_(): self and source expected to have the same dtype, but got (self) "
            f"{_dtype.scalar_type_name(input.dtype)} and (source) "
            f"{_dtype.scalar_type_name(source.dtype)}"
        )
    size = input.shape[axis] if input.dim() else 1
    bad = _out_of_range(index, 0, size)
    if bad is not None:
        raise IndexError(
            f"index_copy_(): index {bad} is out of bounds for dimension {axis} with size {size}"
        )
    return dispatch(_index_copy, (input, index, source), (("axis", axis),))


def _masked_scatter_fwd(x, mask, src):
    mask = jnp.broadcast_to(mask, x.shape)
    flat = src.ravel()
    # the i-th True position takes the i-th element of ``src``
    at = jnp.clip(jnp.cumsum(mask.ravel()) - 1, 0, max(flat.size - 1, 0))
    return jnp.where(mask, flat[at].reshape(x.shape), x) if flat.size else x


_masked_scatter = register(
    "masked_scatter", _masked_scatter_fwd, "MaskedScatterBackward0", NONE, "none"
)


def masked_scatter(input, mask, source):
    """``input`` with its masked positions filled, in order, from ``source``'s elements."""
    if mask.dtype.name != "bool":
        raise RuntimeError(
            "masked_scatter_ only supports boolean masks, but got mask with dtype "
            f"{_dtype.scalar_type_name(mask.dtype)}"
        )
    if source.dtype != input.dtype:
        raise RuntimeError(
            "masked_scatter: expected self and source to have same dtypes but got"
            f"{_dtype.scalar_type_name(input.dtype)} and {_dtype.scalar_type_name(source.dtype)}"
        )
    values = mask._storage.array  # torch too reads the mask to check the source's size
    if not isinstance(values, jax.core.Tracer):
        values = np.asarray(values)
        count = np.broadcast_to(values, np.broadcast_shapes(values.shape, tuple(input.shape)))
        if count.sum() > source.numel():
            raise RuntimeError("Number of elements of source < number of ones in mask")
    return dispatch(_masked_scatter, (input, mask, source))


_REDUCE_IDENTITY = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}


def _scatter_reduce_fwd(x, idx, src, axis, reduce, include_self):
    """Each output position reduced over the ``src`` values scattered to it (and itself when
    ``include_self``), through a dense (index, position) match so that ties share the gradient
    of amax/amin and products of zeros differentiate, as torch's backward does."""
    if x.ndim == 0:
        x, idx, src = x[None], idx[None], src[None]
        return _scatter_reduce_fwd(x, idx, src, 0, reduce, include_self)[0]
    block = tuple(slice(0, s) for s in idx.shape)
    src = jnp.moveaxis(src[block], axis, -1)
    idx = jnp.moveaxis(idx, axis, -1)
    part = tuple(slice(None) if d == axis else block[d] for d in range(x.ndim))
    own = jnp.moveaxis(x[part], axis, -1)
    hit = idx[..., :, None] == jnp.arange(own.shape[-1])
    ident = _REDUCE_IDENTITY[reduce]
    if jnp.issubdtype(x.dtype, jnp.integer) and ident in (-np.inf, np.inf):
        info = jnp.iinfo(x.dtype)
        ident = info.min if ident < 0 else info.max
    values = jnp.where(hit, src[..., :, None].astype(x.dtype), jnp.asarray(ident, x.dtype))
    count = hit.sum(-2)
    if include_self:
        values = jnp.concatenate([values, own[..., None, :]], -2)
        count = count + 1
    if reduce in ("sum", "mean"):
        out = values.sum(-2, dtype=x.dtype)
        if reduce == "mean":
            n = jnp.maximum(count, 1).astype(x.dtype)
            out = out // n if jnp.issubdtype(x.dtype, jnp.integer) else out / n
    elif reduce == "prod":
        out = values.prod(-2, dtype=x.dtype)
    else:
        out = values.max(-2) if reduce == "amax" else values.min(-2)
    out = jnp.where(count > 0, out, own)
    return x.at[part].set(jnp.moveaxis(out, -1, axis))


_scatter_reduce = register(
    "scatter_reduce", _scatter_reduce_fwd, "ScatterReduceBackward0", NONE, "none"
)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with ``src`` reduced into the positions ``index`` names along ``dim``."""
    if reduce not in _REDUCE_IDENTITY:
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    if index.dtype.name not in ("int64", "int32"):
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if src.dtype != input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    axis = dim % max(input.dim(), 1)
    _check_scatter_index(input, axis, index)
    static = (("axis", axis), ("reduce", reduce), ("include_self", bool(include_self)))
    return dispatch(_scatter_reduce, (input, index, src), static)


def _embed_fwd(x, src, index):
    return x.at[_decode(index, ())].set(src.astype(x.dtype))


def _diagonal_embed_fwd(x, src, offset, a, b):
    n = src.shape[-1]
    rows = np.arange(n) + max(-offset, 0)
    cols = np.arange(n) + max(offset, 0)
    y = jnp.moveaxis(x, (a, b), (-2, -1))
    return jnp.moveaxis(y.at[..., rows, cols].set(src.astype(x.dtype)), (-2, -1), (a, b))


_select_scatter = register("select_scatter", _embed_fwd, "SelectScatterBackward0", NONE, "none")
_slice_scatter = register("slice_scatter", _embed_fwd, "SliceScatterBackward0", NONE, "none")
_diagonal_scatter = register(
    "diagonal_scatter", _diagonal_embed_fwd, "DiagonalScatterBackward0", NONE, "none"
)


def _check_embed(src, part) -> None:
    if tuple(src.shape) != tuple(part.shape):
        raise RuntimeError(
            "expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(part.shape)}"
        )


def _scatter_into(op, input, src, index):
    from tape.tensor import Tensor

    static, _, _, _ = _encode(index, Tensor)
    _check_embed(src, getitem(input.detach(), index))
    return dispatch(op, (input, src), (("index", static),))


def select_scatter(input, src, dim: int, index: int):
    """``input`` with ``src`` written at ``input.select(dim, index)``."""
    return _scatter_into(_select_scatter, input, src, _along(dim % input.dim(), index))


def slice_scatter(input, src, dim: int = 0, start=None, end=None, step: int = 1):
    """``input`` with ``src`` written at ``input[start:end:step]`` along ``dim``."""
    return _scatter_into(
        _slice_scatter, input, src, _along(dim % input.dim(), slice(start, end, step))
    )


def diagonal_scatter(input, src, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """``input`` with ``src`` written on ``input.diagonal(offset, dim1, dim2)``."""
    _check_embed(src, input.detach().diagonal(offset, dim1, dim2))
    a, b = dim1 % input.dim(), dim2 % input.dim()
    static = (("offset", offset), ("a", a), ("b", b))
    return dispatch(_diagonal_scatter, (input, src), static)


def _search_fwd(seq, values, right, dtype):
    """torch's binary search for each value along ``seq``'s last axis, step for step, so that
    NaNs land where torch's do."""
    n = seq.shape[-1]
    lo = jnp.zeros(values.shape, jnp.int64)
    hi = jnp.full(values.shape, n, jnp.int64)
    for _ in range(n.bit_length()):
        mid = (lo + hi) // 2
        at = jnp.minimum(mid, max(n - 1, 0))
        m = seq[at] if seq.ndim == 1 else jnp.take_along_axis(seq, at, -1)
        up = ~(m > values) if right else ~(m >= values)
        active = lo < hi
        lo = jnp.where(active & up, mid + 1, lo)
        hi = jnp.where(active & ~up, mid, hi)
    return lo.astype(dtype)


_searchsorted = register("searchsorted", _search_fwd, None, NONE, "none")


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value of ``input`` would go in ``sorted_sequence`` (along its last dim)."""
    from tape import creation

    if sorter is not None:
        sorted_sequence = sorted_sequence.gather(-1, sorter)
    if not hasattr(input, "shape"):
        input = creation.tensor(input)
    seq_shape, value_shape = list(sorted_sequence.shape), list(input.shape)
    if sorted_sequence.dim() > 1 and seq_shape[:-1] != value_shape[:-1]:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {seq_shape} and input value tensor {value_shape}"
        )
    right = right or side == "right"
    dtype = jnp.int32 if out_int32 else jnp.int64
    return dispatch(_searchsorted, (sorted_sequence, input), (("right", right), ("dtype", dtype)))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The index of the bucket of ``boundaries`` each value falls in."""
    if boundaries.dim() != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


_isin = register(
    "isin",
    lambda x, test, invert: jnp.isin(x, test, invert=invert),
    None,
    NONE,
    "none",
)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` is among ``test_elements``."""
    from tape import creation

    if not hasattr(elements, "shape"):
        elements = creation.tensor(elements)
    if not hasattr(test_elements, "shape"):
        test_elements = creation.tensor(test_elements)
    return dispatch(_isin, (elements, test_elements), (("invert", bool(invert)),))


def bincount(input, weights=None, minlength: int = 0):
    """How many times each non-negative integer occurs (or its summed ``weights``)."""
    from tape.tensor import Tensor

    values = np.asarray(input._storage.array)
    if input.dim() != 1 or input.dtype.is_floating_point or (values < 0).any():
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return Tensor._wrap(np.bincount(values, minlength=minlength).astype(np.int64))
    w = np.asarray(weights._storage.array)
    dtype = w.dtype if w.dtype.kind == "f" else np.float64
    return Tensor._wrap(np.bincount(values, w, minlength).astype(dtype))


def histc(input, bins: int = 100, min=0, max=0):
    """A histogram of ``bins`` equal bins over [min, max] (the data's range when equal)."""
    from tape.tensor import Tensor

    if not input.dtype.is_floating_point:
        raise _dtype.kernel_missing("histogram_cpu", input.dtype)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    x = np.asarray(input._storage.array)
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(x, bins, (lo, hi))
    return Tensor._wrap(counts.astype(x.dtype))


def _triangle_indices(np_fn, row, col, offset, dtype):
    from tape import creation

    rows, cols = np_fn(row, offset, col)
    return creation.tensor(np.stack([rows, cols]).reshape(2, -1), dtype=dtype or _dtype.int64)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the lower triangle of a row x col matrix, row by row."""
    return _triangle_indices(np.tril_indices, row, col, offset, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the upper triangle of a row x col matrix, row by row."""
    return _triangle_indices(np.triu_indices, row, col, offset, dtype)


def unravel_index(indices, shape):
    """The coordinates of flat ``indices`` in a tensor of ``shape``, one int64 tensor per axis;
    out-of-range and negative indices wrap, as torch's floor remainders do."""
    # torch asks the tensor first, so a Python int fails as torch's does (AttributeError)
    if indices.is_complex() or indices.is_floating_point() or indices.dtype.name == "bool":
        raise TypeError(
            f"expected 'indices' to be integer dtype, but got {indices.dtype}".replace(
                "tape.", "torch."
            )
        )
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if not shape:
        return ()
    from tape.ops import elementwise
    from tape.ops import shape as shape_ops

    flat = indices.long()
    coords = []
    for d in reversed(shape):
        coords.append(elementwise.remainder(flat, d))
        flat = elementwise.floor_divide(flat, d)
    return shape_ops.stack(coords[::-1], -1).unbind(-1)
