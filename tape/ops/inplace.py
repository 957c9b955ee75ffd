"""In-place ops. Each runs its out-of-place op on a snapshot of the tensor, then makes the tensor
hold the result and its history (bumping the version counter autograd checks)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tape import _device, _dtype, _random
from tape.autograd import grad_mode
from tape.ops import elementwise, indexing, linalg, reduction, shape
from tape.ops.registry import NONE, OPS, dispatch, register

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


def inplace(fn, shape_message: str | None = None):
    """The in-place form of ``fn(input, *args)``: ``x.add_(y)`` from ``add``. ``shape_message``:
    the op's own error (formatted with the two shapes) for a result of another shape than the
    input's, where torch does not raise the broadcasting one."""

    def method(self, *args, **kwargs):
        self._check_inplace()
        result = fn(self._snapshot(), *args, **kwargs)
        if shape_message is not None and tuple(result.shape) != tuple(self.shape):
            raise RuntimeError(shape_message.format(list(self.shape), list(result.shape)))
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
    return _copy_with(_copy, input, src)


def _copy_with(op, input, src):
    """``src`` as ``input``'s new value, recorded as ``op`` (a copy, or a random fill's own
    ``grad_fn``) where autograd must see it."""
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
    return dispatch(op, (input, src))


_zero_fn.__name__, _fill_fn.__name__, _copy_fn.__name__ = "zero", "fill", "copy"
zero_ = inplace(_zero_fn)
fill_ = inplace(_fill_fn)
copy_ = inplace(_copy_fn)


# The random fills' grad_fn names, each a copy of the drawn values (gradient zero, as in torch).
_RANDOM_FILL_OPS = {
    name: register(f"fill_{name}", _copy.fwd, name, NONE, "none")
    for name in (
        "UniformBackward0 NormalBackward0 RandomBackward0 RandomBackward1 RandomBackward2 "
        "BernoulliBackward1 BernoulliBackward2 ExponentialBackward0 CauchyBackward0 "
        "LogNormalBackward0 GeometricBackward0"
    ).split()
}


def _random_fill(name: str, sample, backward):
    """``Tensor.<name>_``: fill with ``sample(generator, shape, dtype, *args)``, recorded as
    ``backward`` (a grad_fn name, or a function of the arguments where torch's depends on
    them, as ``random_(to)``'s does)."""

    def fill(input, *args, generator=None):
        from tape import creation

        gen = generator or _random.default_generator
        values = sample(gen, tuple(input.shape), input.dtype.np, *args)
        op = _RANDOM_FILL_OPS[backward(*args) if callable(backward) else backward]
        return _copy_with(op, input, creation.tensor(values, dtype=input.dtype))

    fill.__name__ = name
    return inplace(fill)


uniform_ = _random_fill(
    "uniform", lambda g, shape, dt, a=0.0, b=1.0: g.uniform(shape, dt, a, b), "UniformBackward0"
)
normal_ = _random_fill(
    "normal",
    lambda g, shape, dt, mean=0.0, std=1.0: g.normal(shape, dt, mean, std),
    "NormalBackward0",
)


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


def _continuous(name: str, dtype, spelled) -> None:
    """torch's error for a continuous distribution drawn into an integer tensor; ``spelled``
    names the dtype as that distribution's check does ("Long", or C++'s "long int")."""
    d = _dtype._FROM_NP[np.dtype(dtype)]
    if not d.is_floating_point:
        raise RuntimeError(
            f"{name} distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {spelled(d)}"
        )


def _exponential_sample(gen, shape, dtype, lambd=1.0):
    _continuous("Exponential", dtype, _dtype.scalar_type_name)
    return gen.exponential(shape, dtype, lambd)


def _cauchy_sample(gen, shape, dtype, median=0.0, sigma=1.0):
    _continuous("Cauchy", dtype, linalg.cpp_type_name)
    return gen.cauchy(shape, dtype, median, sigma)


def _kernel_dtypes(kernel: str, dtype, floating: bool) -> None:
    """torch's NotImplementedError for a dtype its CPU kernel was not built for."""
    d = _dtype._FROM_NP[np.dtype(dtype)]
    if d == _dtype.bool_ or (floating and not d.is_floating_point):
        raise _dtype.kernel_missing(kernel, d)


def _log_normal_sample(gen, shape, dtype, mean=1.0, std=2.0):
    _kernel_dtypes("log_normal_cpu", dtype, floating=True)
    return gen.log_normal(shape, dtype, mean, std)


def _geometric_sample(gen, shape, dtype, p):
    _kernel_dtypes("geometric_cpu", dtype, floating=False)
    return gen.geometric(shape, dtype, p)


def _random_backward(low=None, high=None):
    return f"RandomBackward{2 if low is None else 1 if high is None else 0}"


def _bernoulli_backward(p=0.5):
    return f"BernoulliBackward{2 if isinstance(p, (int, float)) else 1}"


random_ = _random_fill("random", _random_sample, _random_backward)
exponential_ = _random_fill("exponential", _exponential_sample, "ExponentialBackward0")
cauchy_ = _random_fill("cauchy", _cauchy_sample, "CauchyBackward0")
log_normal_ = _random_fill("log_normal", _log_normal_sample, "LogNormalBackward0")
geometric_ = _random_fill("geometric", _geometric_sample, "GeometricBackward0")
bernoulli_ = _random_fill(
    "bernoulli", lambda g, shape, dt, p=0.5: g.bernoulli(p, shape, dt), _bernoulli_backward
)

INPLACE = {
    name: inplace(getattr(module, name))
    for module, names in (
        (
            elementwise,
            "add sub mul div pow clamp clamp_min clamp_max neg abs exp log sqrt rsqrt sigmoid "
            "tanh relu floor ceil round trunc sign reciprocal lerp sin cos square remainder "
            "floor_divide fmod atan2 arctan2 bitwise_left_shift bitwise_right_shift nan_to_num "
            "absolute acos asin atan cosh sinh tan expm1 erf exp2 log10 log1p log2 clip "
            "negative subtract multiply divide true_divide addcmul addcdiv logit hypot xlogy "
            "copysign lgamma digamma erfc erfinv i0 sinc frac fix deg2rad rad2deg arccos arcsin "
            "arctan ldexp nextafter sgn mvlgamma igamma igammac heaviside gcd lcm bitwise_and "
            "bitwise_or bitwise_xor bitwise_not logical_and logical_or logical_xor logical_not",
        ),
        (
            indexing,
            "masked_fill scatter scatter_add index_add index_fill index_put index_copy "
            "masked_scatter scatter_reduce",
        ),
        (linalg, "addr addbmm"),
        (reduction, "renorm"),
        (shape, "tril triu"),
    )
    for name in names.split()
}
INPLACE.update(
    {
        name: inplace(
            getattr(linalg, name),
            "Bad in-place call: input tensor size {} and output tensor size {} should match",
        )
        for name in ("addmm", "addmv", "baddbmm")
    }
)
INPLACE.update(
    {
        name: shape.in_place_view(getattr(shape, name))
        for name in "t transpose squeeze unsqueeze".split()
    }
)
INPLACE["swapdims"] = INPLACE["swapaxes"] = INPLACE["transpose"]
_addr_broadcast = INPLACE["addr"]


def addr_(self, vec1, vec2, *, beta=1, alpha=1):
    """``addr_``: torch writes only into a matrix of the outer product's own size."""
    if vec1.dim() == 1 and vec2.dim() == 1:
        if self.dim() != 2:
            raise RuntimeError(f"2D tensor expected, got {self.dim()}D tensor for input")
        if tuple(self.shape) != (vec1.shape[0], vec2.shape[0]):
            raise RuntimeError(
                f"size mismatch, input: {list(self.shape)}, v1: {list(vec1.shape)}, "
                f"v2: {list(vec2.shape)}"
            )
    return _addr_broadcast(self, vec1, vec2, beta=beta, alpha=alpha)


INPLACE["addr"] = addr_


def _compare_in_place(name: str, compare, node: str):
    """``x.eq_(y)`` and the like: the comparison in ``x``'s dtype. torch records it, with a zero
    gradient, as ``EqBackward1`` against a tensor and ``EqBackward0`` against a number."""

    def cast(x, other):
        return compare(x, other).astype(x.dtype)

    against_tensor = register(f"{name}_in_place", cast, f"{node}1", NONE, "none")
    against_number = register(f"{name}_scalar_in_place", cast, f"{node}0", NONE, "none")

    def compare_as_self(input, other):
        if isinstance(other, (int, float, bool)):
            return dispatch(against_number, (input,), (("other", other),))
        return dispatch(against_tensor, (input, other))

    compare_as_self.__name__ = name
    return inplace(compare_as_self)


for _name, _compare, _node in (
    ("eq", jnp.equal, "EqBackward"),
    ("ne", jnp.not_equal, "NeBackward"),
    ("lt", jnp.less, "LtBackward"),
    ("le", jnp.less_equal, "LeBackward"),
    ("gt", jnp.greater, "GtBackward"),
    ("ge", jnp.greater_equal, "GeBackward"),
):
    INPLACE[_name] = _compare_in_place(_name, _compare, _node)
for _alias, _name in (
    ("not_equal", "ne"),
    ("less", "lt"),
    ("less_equal", "le"),
    ("greater", "gt"),
    ("greater_equal", "ge"),
):
    INPLACE[_alias] = INPLACE[_name]
INPLACE.update(
    zero_=zero_,
    fill_=fill_,
    copy_=copy_,
    uniform_=uniform_,
    normal_=normal_,
    random_=random_,
    bernoulli_=bernoulli_,
    exponential_=exponential_,
    cauchy_=cauchy_,
    log_normal_=log_normal_,
    geometric_=geometric_,
)


def fill_diagonal_(self, fill_value, wrap: bool = False):
    """Fill the main diagonal (``x[i, i, ..., i]``) in place; ``wrap`` continues it below the
    first square block of a tall matrix, as torch does (through a strided view of the data,
    so autograd records torch's ``CopySlices``)."""
    shape = tuple(self.shape)
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if not self.is_contiguous():
        raise NotImplementedError(
            f"fill_diagonal_ needs a contiguous tensor (this one has strides {self.stride()}); "
            "call .contiguous() first"
        )
    # In the flat data, the diagonal steps by the sum of the strides.
    n, step = min(shape[0], shape[1]), sum(self.stride())
    flat = self.view(-1)
    flat[0 : (n - 1) * step + 1 : step].fill_(fill_value)
    height, width = shape[0], shape[1]
    if wrap and len(shape) == 2 and height > width + 1:
        start = width * (width + 1)
        flat[start::step].fill_(fill_value)
    return self


def _cumulative(fn):
    """``cumsum_``/``cumprod_``: a ``dtype`` must be the tensor's own, as torch checks."""

    def method(input, dim, *, dtype=None):
        if dtype is not None and _dtype.to_dtype(dtype) != input.dtype:
            raise RuntimeError(
                f"Bad in-place call: input tensor dtype {linalg.cpp_type_name(input.dtype)} and "
                f"output tensor dtype {linalg.cpp_type_name(_dtype.to_dtype(dtype))} should match"
            )
        return fn(input, dim)

    method.__name__ = fn.__name__
    return inplace(method)


def _float_power_(input, exponent):
    """``float_power_`` computes in float64, so only a float64 tensor can hold the result."""
    if input.dtype != _dtype.float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {_dtype.scalar_type_name(input.dtype)} "
            "but the operation's result requires dtype Double"
        )
    return elementwise.float_power(input, exponent)


def _no_derivative(name: str):
    """The in-place form of a one-input op whose node torch names ...Backward1 and whose
    backward it has not implemented (acosh_, asinh_, atanh_)."""
    source = OPS[name]
    fwd = elementwise._not_implemented(
        source.fwd,
        f"inplace version of {name}",
        "the derivative for '{}' is not implemented.",
        NotImplementedError,
    )
    op = register(f"{name}_", fwd, f"{name.title()}Backward1", source.promote, source.saves)

    def fn(input):
        return dispatch(op, (input,))

    fn.__name__ = name
    return inplace(fn)


def _polygamma_(input, n):
    return elementwise._polygamma_as(elementwise._polygamma_inplace, n, input)


_float_power_.__name__, _polygamma_.__name__ = "float_power", "polygamma"
INPLACE.update(
    cumsum_=_cumulative(reduction.cumsum),
    cumprod_=_cumulative(reduction.cumprod),
    fill_diagonal_=fill_diagonal_,
    float_power_=inplace(_float_power_),
    polygamma_=inplace(_polygamma_),
)
for _name in ("acosh", "asinh", "atanh"):
    INPLACE[f"{_name}_"] = INPLACE[f"arc{_name[1:]}_"] = _no_derivative(_name)
INPLACE = {k if k.endswith("_") else f"{k}_": v for k, v in INPLACE.items()}
