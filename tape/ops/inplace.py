"""In-place ops. Each runs its out-of-place op on a snapshot of the tensor, then makes the tensor
hold the result and its history (bumping the version counter autograd checks)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tape import _device, _dtype, _random
from tape.autograd import grad_mode
from tape.ops import elementwise, indexing
from tape.ops.registry import NONE, dispatch, register

_zero = register("zero", lambda x: jnp.zeros_like(x), "ZeroBackward0", NONE, "none")
# torch names the in-place fills' backward FillBackward2 (scalar) and FillBackward3 (tensor).
_fill = register("fill", lambda x, value: jnp.full_like(x, value), "FillBackward2", NONE, "none")
_fill_tensor = register(
    "fill_tensor",
    lambda x, value: jnp.broadcast_to(value.astype(x.dtype), x.shape),
    "FillBackward3",
    NONE,
    "none",
)
_copy = register(
    "copy",
    lambda x, src: jnp.broadcast_to(src.astype(x.dtype), x.shape),
    "CopyBackwards",
    NONE,
    "none",
)


def inplace(fn):
    """The in-place form of ``fn(input, *args)``: ``x.add_(y)`` from ``add``."""

    def method(self, *args, **kwargs):
        self._check_inplace()
        result = fn(self._snapshot(), *args, **kwargs)
        if not _dtype.can_cast(result.dtype, self.dtype):
            raise RuntimeError(
                f"result type {_dtype.scalar_type_name(result.dtype)} can't be cast to the "
                f"desired output type {_dtype.scalar_type_name(self.dtype)}"
            )
        return self._assign(result)

    method.__name__ = f"{fn.__name__}_"
    method.__doc__ = f"In-place ``{fn.__name__}``."
    return method


def _host_fill(input, value):
    """``value`` broadcast to ``input``'s shape as a host numpy array, or None where that would
    not be what the fill op makes: a fill that would record a node (the op must run), a value
    not on the CPU (a CUDA tensor stays on its device), or a value numpy casts differently
    (out-of-range integers, floats into integer tensors). Creating the array here instead of
    running the op compiles no program: a model's ``__init__`` fills dozens of new buffers
    and weights, one program per shape otherwise."""
    if grad_mode.state.enabled and input._requires_grad:
        return None
    meta = input._storage.meta
    if isinstance(value, float) and not np.issubdtype(meta.dtype, np.inexact):
        return None
    if _device.storage_device(input._storage) != _device.CPU:
        return None
    try:
        return np.full(meta.shape, value, meta.dtype)
    except OverflowError:
        return None


def _zero_fn(input):
    host = _host_fill(input, 0)
    if host is not None:
        return _new(host)
    return dispatch(_zero, (input,))


def _fill_fn(input, value):
    if not isinstance(value, (int, float, bool)):
        if value.dim() != 0:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.dim()} dimensions."
            )
        return dispatch(_fill_tensor, (input, value))
    _dtype.check_scalar(value, input.dtype)
    host = _host_fill(input, value)
    if host is not None:
        return _new(host)
    return dispatch(_fill, (input,), (("value", value),))


def _new(array):
    from tape import creation

    return creation._new(array)


def _copy_fn(input, src, non_blocking=False):
    from tape.tensor import Tensor

    if not isinstance(src, Tensor):
        from tape import creation

        src = creation.tensor(src)
    a, b = input._storage.meta, src._storage.meta
    recorded = grad_mode.state.enabled and (input._requires_grad or src._requires_grad)
    if (
        not recorded
        and a.shape == b.shape
        and a.dtype == b.dtype
        and _device.storage_device(src._storage) == _device.storage_device(input._storage)
    ):
        # Nothing to record, convert or move: take src's value as it is (pending values stay
        # so). Across devices the op runs, so that the tensor stays on its own device.
        return src.detach()
    return dispatch(_copy, (input, src))


_zero_fn.__name__, _fill_fn.__name__, _copy_fn.__name__ = "zero", "fill", "copy"
zero_ = inplace(_zero_fn)
fill_ = inplace(_fill_fn)
copy_ = inplace(_copy_fn)


def _random_fill(sample):
    def fill(self, *args, generator=None):
        from tape import creation

        gen = generator or _random.default_generator
        values = sample(gen, tuple(self.shape), self.dtype.np, *args)
        return copy_(self, creation.tensor(values, dtype=self.dtype))

    return fill


uniform_ = _random_fill(lambda g, shape, dt, a=0.0, b=1.0: g.uniform(shape, dt, a, b))
normal_ = _random_fill(lambda g, shape, dt, mean=0.0, std=1.0: g.normal(shape, dt, mean, std))


# torch's random_(from, to) bounds, with the C type its error names, where int64 can exceed them.
_RANDOM_BOUNDS = {
    "bool": ("bool", 0, 1),
    "uint8": ("unsigned char", 0, 255),
    "int8": ("signed char", -128, 127),
    "int16": ("short int", -(2**15), 2**15 - 1),
    "int32": ("int", -(2**31), 2**31 - 1),
    "float16": ("c10::Half", -65504, 65504),
}


def _random_sample(gen, shape, dtype, low=None, high=None):
    """``random_()``, ``random_(to)`` or ``random_(from, to)``."""
    if low is None:
        return gen.random(shape, dtype)
    if high is None:
        low, high = 0, low
    bounds = _RANDOM_BOUNDS.get(_dtype._FROM_NP[np.dtype(dtype)].name)
    if bounds is not None and low < high:
        name, lo, hi = bounds
        for value, what in ((low, "from"), (high - 1, "to - 1")):
            if not lo <= value <= hi:
                raise RuntimeError(f"{what} is out of bounds for {name}")
    return gen.randint(low, high, shape, dtype)


def _exponential_sample(gen, shape, dtype, lambd=1.0):
    d = _dtype._FROM_NP[np.dtype(dtype)]
    if not d.is_floating_point:
        raise RuntimeError(
            "Exponential distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {_dtype.scalar_type_name(d)}"
        )
    return gen.exponential(shape, dtype, lambd)


random_ = _random_fill(_random_sample)
exponential_ = _random_fill(_exponential_sample)
bernoulli_ = _random_fill(lambda g, shape, dt, p=0.5: g.bernoulli(p, shape, dt))

INPLACE = {
    name: inplace(getattr(module, name))
    for module, names in (
        (
            elementwise,
            "add sub mul div pow clamp clamp_min clamp_max neg abs exp log sqrt rsqrt sigmoid "
            "tanh relu floor ceil round trunc sign reciprocal lerp sin cos square remainder "
            "floor_divide fmod atan2 arctan2 bitwise_left_shift bitwise_right_shift nan_to_num",
        ),
        (indexing, "masked_fill scatter scatter_add index_add index_fill index_put"),
    )
    for name in names.split()
}
INPLACE.update(
    zero_=zero_,
    fill_=fill_,
    copy_=copy_,
    uniform_=uniform_,
    normal_=normal_,
    random_=random_,
    bernoulli_=bernoulli_,
    exponential_=exponential_,
)
INPLACE = {k if k.endswith("_") else f"{k}_": v for k, v in INPLACE.items()}
