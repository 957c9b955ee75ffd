"""Tensor creation. New tensors live in host numpy memory until an op first uses them: handing a
numpy array to a compiled op is far cheaper than an explicit device transfer."""

from __future__ import annotations

import math
import warnings

import numpy as np

from tape import _device, _dtype, _random
from tape.tensor import Storage, Tensor

_FLOATS = (float, np.floating)


def _new(array: np.ndarray, device=None, requires_grad: bool = False) -> Tensor:
    if device is not None and _device.device(device).type != "cpu":
        import jax

        array = jax.device_put(array, _device.jax_device(device))
    t = object.__new__(Tensor)
    t._init(Storage(array), False, None, 0)
    if requires_grad:
        if not _dtype._FROM_NP[array.dtype].is_floating_point:
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t._requires_grad = True
    return t


def _infer_dtype(data, arr: np.ndarray) -> _dtype.dtype:
    """torch's inference: Python floats give the default dtype, ints int64, numpy keeps its own."""
    if isinstance(data, np.ndarray | np.generic):
        return _dtype.from_numpy_dtype(arr.dtype)
    kind = arr.dtype.kind
    if kind == "b":
        return _dtype.bool_
    if kind in "iu":
        return _dtype.int64
    if kind == "f":
        return _dtype.get_default_dtype()
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _to_numpy(data) -> np.ndarray:
    if isinstance(data, Tensor):
        return np.asarray(data._storage.array)
    if isinstance(data, list | tuple):
        if any(isinstance(x, Tensor) for x in data):
            return np.stack([_to_numpy(x) for x in data]) if data else np.asarray([])
    return np.asarray(data)


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
        arr = _to_numpy(data)
    else:
        arr = _to_numpy(data)
        if arr.dtype == object:
            raise TypeError(f"Could not infer dtype of {type(data).__name__}")
        d = _infer_dtype(data, arr) if dtype is None else _dtype.to_dtype(dtype)
    # A copy, in the tensor's dtype: the tensor must not share memory with ``data``.
    return _new(np.array(arr, dtype=d.np), device, requires_grad)


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
    return _new(
        np.full(_size((size,)), fill_value, _dtype.to_dtype(dtype).np), device, requires_grad
    )


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(np.eye(n, m, dtype=_float_dtype(dtype).np), device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        floats = any(isinstance(v, _FLOATS) for v in (start, end, step))
        dtype = _dtype.get_default_dtype() if floats else _dtype.int64
    d = _dtype.to_dtype(dtype)
    n = max(math.ceil((end - start) / step), 0)
    values = start + np.arange(n, dtype=np.float64 if d.is_floating_point else np.int64) * step
    return _new(values.astype(d.np), device, requires_grad)


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
