"""Indexing: ``t[...]`` and ``t[...] = v``, gather/scatter, index_select, masked_fill, nonzero.

An index is split into a static part (ints, slices, None, Ellipsis: baked into the compiled op)
and dynamic integer arrays (tensor indices), so one compiled op serves every index of a kind.
Boolean masks become integer indices first, since their result shape depends on the values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

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
    their values are on the host: ``_host_values``) and boolean masks of the wrong shape."""
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


def _host_values(index):
    """An index tensor's values as a host array, or None where reading them is not cheap: a
    pending value (computing it would split a deferred program), one traced by tape.compile,
    or one on a GPU (a device-to-host copy). JAX then clamps or drops what is out of range."""
    storage = index._storage
    if storage.pending() is not None:
        return None
    array = storage.array
    if isinstance(array, np.ndarray):
        return array
    if isinstance(array, jax.core.Tracer) or _device.device_of(array) != _device.CPU:
        return None
    return np.asarray(array)


def _out_of_range(index, low: int, high: int):
    """The first value of ``index`` outside ``[low, high)``, or None (also when not on the host)."""
    values = _host_values(index)
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

    if input._requires_grad and input._grad_fn is None and grad_mode.state.enabled:
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
            _views.check_inplace(input)
        result = dispatch(_index_put, (input._snapshot(), value, *dynamic), (("index", static),))
        input._assign(result)
        return
    # basic indexing: one scatter into the root base along the view chain plus this index
    shape, strides, offset = _views.geometry(input)
    region, region_strides, _ = _views.index_geometry(static, shape, strides, offset)
    step = (_get_ops[kind], (("index", static),), None)
    info = input._view
    if info is None:
        _views.write(input, (step,), value)
    else:
        _views.check_inplace(input, region, region_strides)
        _views.write(info.base, info.chain + (step,), value, info.creation != _views.DETACHED)


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
    """The distinct values, sorted, with where each element went and how many there were.
    Their number depends on the values, so it is read on the host first."""
    if dim is not None:
        raise NotImplementedError("tape's unique supports dim=None only")
    size = len(np.unique(np.asarray(input._storage.array), equal_nan=False))  # NaNs apart
    values, inverse, counts = dispatch(_unique, (input,), (("size", size),))
    out = (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return out[0] if len(out) == 1 else out
