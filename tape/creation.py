"""Tensor creation. New tensors live in host numpy memory until an op first uses them: handing a
numpy array to a compiled op is far cheaper than an explicit device transfer."""

from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from tape import _device, _dtype, _random
from tape.autograd import grad_mode
from tape.tensor import Storage, Tensor

__all__ = [
    "arange",
    "as_tensor",
    "asarray",
    "empty",
    "empty_like",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "logspace",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "scalar_tensor",
    "tensor",
    "zeros",
    "zeros_like",
]

_FLOATS = (float, np.floating)


def _new(array: np.ndarray, device=None, requires_grad: bool = False) -> Tensor:
    if device is not None and not _device.names_cpu(device):
        import jax

        array = jax.device_put(array, _device.jax_device(device))
    t = object.__new__(Tensor)
    t._init(Storage(array), False, None, 0)
    if grad_mode.state.inference:
        grad_mode.mark_inference(t)
    if requires_grad:
        if not _dtype._FROM_NP[array.dtype].is_floating_point:
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t._requires_grad = True
    return t


def _is_sequence(x) -> bool:
    return isinstance(x, list | tuple | range) or (isinstance(x, np.ndarray) and x.ndim > 0)


def _leaves(data) -> tuple[tuple, list]:
    """(shape, elements) of nested sequences, as torch walks them: the first element of each
    level gives the shape, and a tensor inside a list is one element (it must hold one value)."""
    sizes = []
    obj = data
    while _is_sequence(obj):
        sizes.append(len(obj))
        if not len(obj):
            break
        obj = obj[0]
    leaves: list = []
    if 0 not in sizes:  # torch stores nothing, and checks no lengths, when there is nothing
        _collect(data, sizes, 0, leaves)
    return tuple(sizes), leaves


def _collect(obj, sizes: list, dim: int, leaves: list) -> None:
    if dim == len(sizes):
        leaves.append(obj)
        return
    if not _is_sequence(obj):
        raise TypeError("not a sequence")
    if len(obj) != sizes[dim]:
        raise ValueError(f"expected sequence of length {sizes[dim]} at dim {dim} (got {len(obj)})")
    if dim + 1 == len(sizes):
        leaves.extend(obj)
    else:
        for x in obj:
            _collect(x, sizes, dim + 1, leaves)


def _leaf_dtype(x) -> _dtype.dtype:
    """torch's dtype for one element: numpy scalars and tensors keep theirs, Python floats
    give the default dtype, ints int64."""
    if isinstance(x, np.generic):
        return _dtype.from_numpy_dtype(x.dtype)
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, bool):
        return _dtype.bool_
    if isinstance(x, int):
        return _dtype.int64
    if isinstance(x, float):
        return _dtype.get_default_dtype()
    if _is_sequence(x):  # deeper than the first element's nesting: its elements count
        return _infer_dtype(list(x))
    if isinstance(x, str):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _infer_dtype(leaves: list) -> _dtype.dtype:
    """torch.promote_types over the elements (not the category rule of ops)."""
    if not leaves:
        return _dtype.get_default_dtype()
    d = None
    for kind in set(map(type, leaves)):
        if issubclass(kind, Tensor):
            found = {x.dtype for x in leaves if isinstance(x, Tensor)}
        else:
            found = {_leaf_dtype(next(x for x in leaves if type(x) is kind))}
        for f in found:
            d = f if d is None else _dtype.promote_types(d, f)
    return d


def _item(x):
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return x.item()
    return x


def _int_value(x, lo: int, hi: int, name: str) -> int:
    """One element as an integer of range [lo, hi], with torch's errors: a float must be in
    range (and not NaN), other values must be integers (``operator.index``)."""
    if isinstance(x, float):
        if not lo <= x <= hi:
            raise RuntimeError(f"value cannot be converted to type {name} without overflow")
        return int(x)
    return operator.index(x)


def _store(leaves: list, d: _dtype.dtype) -> np.ndarray:
    """The elements as a flat array of ``d``, checked the way torch stores Python scalars."""
    if d.is_floating_point:
        with np.errstate(over="ignore"):
            return np.array(leaves, dtype=np.float64).astype(d.np)
    if d is _dtype.bool_:
        return np.fromiter(map(bool, leaves), bool, len(leaves))
    info = np.iinfo(d.np)
    # unsigned types take negative integers down to -max, wrapping as two's complement
    lo = -int(info.max) if info.min == 0 else int(info.min)
    if not set(map(type, leaves)) <= {int, bool}:
        leaves = [_int_value(x, int(info.min), int(info.max), d.name) for x in leaves]
    try:
        values = np.array(leaves, dtype=np.int64)
    except OverflowError:
        raise ValueError("Overflow when unpacking long long") from None
    if values.size and (values.min() < lo or values.max() > info.max):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")
    return values.astype(d.np)


_PLAIN = frozenset({bool, int, float})
_SINGLE_ROUNDING = (_dtype.float32, _dtype.float64)  # numpy rounds a Python float once, as torch
_F32_MAX = float(np.finfo(np.float32).max)


def _from_data(data, dtype) -> np.ndarray:
    """``data`` (scalars and nested sequences of them, numpy scalars, arrays and one-element
    tensors) as a new array, inferring torch's dtype unless given."""
    if type(data) in (list, tuple) and data:
        kinds = set(map(type, data))
        if kinds <= _PLAIN:  # the common case, a flat list of Python numbers: no walk
            if dtype is not None:
                d = _dtype.to_dtype(dtype)
            elif float in kinds:
                d = _dtype.get_default_dtype()
            else:
                d = _dtype.int64 if int in kinds else _dtype.bool_
            if d in _SINGLE_ROUNDING and max(map(abs, data)) < _F32_MAX:
                return np.array(data, dtype=d.np)  # no overflow: no errstate (2 us) needed
            return _store(data, d)
    shape, leaves = _leaves(data)
    leaves = list(map(_item, leaves)) if dtype is not None else leaves
    d = _infer_dtype(leaves) if dtype is None else _dtype.to_dtype(dtype)
    if dtype is None:
        leaves = list(map(_item, leaves))
    return _store(leaves, d).reshape(shape)


def tensor(
    data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory=False
) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (nested lists, scalars, arrays, tensors)."""
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach()."
            "clone() or sourceTensor.detach().clone().requires_grad_(True), rather than "
            "torch.tensor(sourceTensor).",
            UserWarning,
            stacklevel=2,
        )
        d = data.dtype if dtype is None else _dtype.to_dtype(dtype)
        arr = np.array(data._storage.array, dtype=d.np)
    elif isinstance(data, np.ndarray):  # cast as numpy casts, unchecked as in torch
        d = _dtype.from_numpy_dtype(data.dtype) if dtype is None else _dtype.to_dtype(dtype)
        arr = np.array(data, dtype=d.np)
    else:
        arr = _from_data(data, dtype)
    return _new(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    t = as_tensor(obj, dtype=dtype, device=device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor from a numpy array. Unlike torch, later writes to the array are not seen."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    return _new(np.array(ndarray))


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], list | tuple):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, int | np.integer):
            raise TypeError(
                f"zeros(): argument 'size' (position 1) must be tuple of ints, but found element "
                f"of type {type(s).__name__} at pos 0"
            )
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _float_dtype(dtype) -> _dtype.dtype:
    return _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _new(np.zeros(_size(size), _float_dtype(dtype).np), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _new(np.ones(_size(size), _float_dtype(dtype).np), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = _dtype.category_default(_dtype.scalar_rank(fill_value))
    d = _dtype.to_dtype(dtype)
    _dtype.check_scalar(fill_value, d)
    return _new(np.full(_size((size,)), fill_value, d.np), device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(np.eye(n, m, dtype=_float_dtype(dtype).np), device, requires_grad)


def _check_range(start, end, step) -> None:
    """torch's errors for a range it cannot make, in its order."""
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start:g} -> {end:g}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")


def _range(start, end, step, n: int, d, device, requires_grad) -> Tensor:
    values = start + np.arange(n, dtype=np.float64 if d.is_floating_point else np.int64) * step
    return _new(values.astype(d.np), device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    _check_range(start, end, step)
    if dtype is None:
        floats = any(isinstance(v, _FLOATS) for v in (start, end, step))
        dtype = _dtype.get_default_dtype() if floats else _dtype.int64
    n = max(math.ceil((end - start) / step), 0)
    return _range(start, end, step, n, _dtype.to_dtype(dtype), device, requires_grad)


def inclusive_range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """``torch.range`` (tape/__init__ names it so, not to shadow Python's ``range`` here),
    deprecated in torch: ``arange`` with ``end`` included, floating by default."""
    warnings.warn(
        "torch.range is deprecated and will be removed in a future release because its behavior "
        "is inconsistent with Python's range builtin. Instead, use torch.arange, which produces "
        "values in [start, end).",
        stacklevel=2,
    )
    if end is None:
        raise TypeError('range() missing 1 required positional arguments: "end"')
    _check_range(start, end, step)
    n = int((end - start) / step) + 1
    return _range(start, end, step, n, _float_dtype(dtype), device, requires_grad)


def scalar_tensor(
    s, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False
) -> Tensor:
    """A 0-d tensor holding ``s``, of the default floating dtype unless given."""
    return full((), s, dtype=_float_dtype(dtype), device=device, requires_grad=requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = _float_dtype(dtype)
    # torch fills the first half from the start and the second half from the end.
    i = np.arange(steps, dtype=np.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    half = max(steps // 2, 1)  # one step: the start
    values = np.where(i < half, start + step * i, end - step * (steps - 1 - i))
    return _new(values.astype(d.np), device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    d = _float_dtype(dtype)
    values = np.power(base, np.linspace(start, end, steps, dtype=np.float64)).astype(d.np)
    return _new(values, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    gen = generator or _random.default_generator
    return _new(gen.rand(_size(size), _float_dtype(dtype).np), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    gen = generator or _random.default_generator
    return _new(gen.randn(_size(size), _float_dtype(dtype).np), device, requires_grad)


def randint(
    low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    if size is None:
        low, high, size = 0, low, high
    gen = generator or _random.default_generator
    d = _dtype.int64 if dtype is None else _dtype.to_dtype(dtype)
    return _new(gen.randint(low, high, _size((size,)), d.np), device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    gen = generator or _random.default_generator
    d = _dtype.int64 if dtype is None else _dtype.to_dtype(dtype)
    return _new(gen.randperm(n).astype(d.np), device, requires_grad)


def _like(fn):
    def like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
        dtype = input.dtype if dtype is None else dtype
        device = input.device if device is None else device
        return fn(tuple(input.shape), dtype=dtype, device=device, requires_grad=requires_grad)

    like.__name__ = f"{fn.__name__}_like"
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(
    input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None
):
    return full(
        tuple(input.shape),
        fill_value,
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
        requires_grad=requires_grad,
    )


def randint_like(
    input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, memory_format=None
):
    if high is None:
        low, high = 0, low
    return randint(
        low,
        high,
        tuple(input.shape),
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
    )
