"""Elementwise ops: arithmetic, unary math, comparisons and logic, casts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from tape import _device, _dtype
from tape._dispatch import _FLOATS, promote
from tape.ops.reduction import _return_type
from tape.ops.registry import COMPARE, FLOAT, NONE, SAME, binary, dispatch, register, unary

# --- arithmetic ---------------------------------------------------------------------------------
# ``y * alpha`` kept in the operands' dtype: True + 2 * True stays a bool, as in torch.
_add = register(
    "add",
    lambda x, y, alpha=1: x + (y * alpha).astype(y.dtype) if alpha != 1 else x + y,
    "AddBackward0",
    SAME,
    saves="none",
)
_sub = register(
    "sub",
    lambda x, y, alpha=1: x - (y * alpha).astype(y.dtype) if alpha != 1 else x - y,
    "SubBackward0",
    SAME,
    saves="none",
)
_rsub = register(
    "rsub", lambda x, other, alpha=1: other - x * alpha, "RsubBackward1", SAME, saves="none"
)
mul = binary("mul", jnp.multiply, "MulBackward0", saves="partners")
# XLA turns a division by a broadcast divisor (x / 3, x / std[:, None]) into a product with
# its reciprocal, one ulp off torch's quotient in a third of the elements. A float32 quotient
# computed in float64 and rounded once is correctly rounded (53 >= 2 * 24 + 2 bits), as is a
# half one computed in float32; float64 keeps XLA's.
_WIDER = {np.dtype(np.float32): jnp.float64, np.dtype(jnp.float16): jnp.float32}
_WIDER[np.dtype(jnp.bfloat16)] = jnp.float32


@jax.custom_jvp
def _true_divide(x, y):
    wider = _WIDER.get(np.dtype(x.dtype))
    if wider is None or np.size(y) >= np.size(x):
        return jnp.true_divide(x, y)
    return jnp.true_divide(x.astype(wider), y.astype(wider)).astype(x.dtype)


@_true_divide.defjvp
def _true_divide_jvp(primals, tangents):
    # torch's formulas, rounding as its do: grad / other, and -grad * ((self / other) / other);
    # the barrier keeps XLA from folding (x / y) / y into x / (y * y), which rounds otherwise
    (x, y), (tx, ty) = primals, tangents
    q = _true_divide(x, y)
    return q, _true_divide(tx, y) - ty * _true_divide(lax.optimization_barrier(q), y)


_div = register("div", _true_divide, "DivBackward0", FLOAT)


def _not_implemented(
    fn,
    aten: str,
    message: str = "derivative for aten::{} is not implemented",
    error: type[Exception] = RuntimeError,
):
    """``fn`` with torch's "NotImplemented" backward: building the graph works, backward raises
    ``error`` with ``message`` (formatted with the aten op's name)."""

    def f_bwd(_, g):
        raise error(message.format(aten))

    def wrapped(*xs, **static):
        @jax.custom_vjp
        def f(*xs):
            return fn(*xs, **static)

        f.defvjp(lambda *xs: (fn(*xs, **static), None), f_bwd)
        return f(*xs)

    return wrapped


# Rounded quotients have a zero gradient in torch (DivBackward2), not a missing one.
_div_trunc = register(
    "div_trunc",
    lambda x, y: lax.stop_gradient(jnp.trunc(x / y).astype(x.dtype)),
    "DivBackward2",
    SAME,
    saves="none",
)
_div_floor = register(
    "div_floor",
    lambda x, y: lax.stop_gradient(jnp.floor_divide(x, y)),
    "DivBackward2",
    SAME,
    saves="none",
)
_floor_divide = register(
    "floor_divide", _not_implemented(jnp.floor_divide, "floor_divide"), "NotImplemented", SAME
)
_remainder = register("remainder", jnp.remainder, "RemainderBackward1", SAME)
_remainder_scalar = register(
    "remainder_scalar", lambda x, other: jnp.remainder(x, other), "RemainderBackward0", SAME
)
_rremainder = register(
    "rremainder",
    _not_implemented(lambda x, base: jnp.remainder(jnp.asarray(base, x.dtype), x), "remainder"),
    "NotImplemented",
    SAME,
)
_fmod = register("fmod", jnp.fmod, "FmodBackward1", SAME)
_fmod_scalar = register(
    "fmod_scalar", lambda x, other: jnp.fmod(x, other), "FmodBackward0", SAME, saves="none"
)
atan2 = binary("atan2", jnp.arctan2, "Atan2Backward0", FLOAT)
arctan2 = atan2
_pow = register("pow", jnp.power, "PowBackward1", SAME)
_pow_scalar = register("pow_scalar", lambda x, exponent: x**exponent, "PowBackward0", SAME)
_rpow = register(
    "rpow", lambda x, base: jnp.power(jnp.asarray(base, x.dtype), x), "PowBackward2", SAME
)


def _lerp_fwd(x, end, weight):
    """torch's two formulas: from ``x`` for weights below one half, from ``end`` above, so a
    weight of 1 gives ``end`` exactly; half precision computes in float32, as torch's does."""
    dtype = x.dtype
    wide = jnp.float32 if dtype in (jnp.float16, jnp.bfloat16) else dtype
    x, end, w = x.astype(wide), end.astype(wide), jnp.asarray(weight, wide)
    small = x + w * (end - x)
    large = end - (end - x) * (1 - w)
    return jnp.where(jnp.abs(w) < 0.5, small, large).astype(dtype)


_lerp_scalar = register("lerp_scalar", _lerp_fwd, "LerpBackward0", SAME)
_lerp = register("lerp", _lerp_fwd, "LerpBackward1", SAME)
maximum = binary("maximum", jnp.maximum, "MaximumBackward0")
minimum = binary("minimum", jnp.minimum, "MinimumBackward0")
_where = register(
    "where",
    lambda c, x, y, dtype: jnp.where(c, jnp.asarray(x, dtype), jnp.asarray(y, dtype)),
    "WhereBackward0",
    NONE,
)


def _clip(x, min=None, max=None):
    """torch's clamp, min(max(x, lo), hi), with its gradient: at a bound, all of it goes to ``x``
    (``jnp.clip`` splits ties in half), and none to a NaN."""
    x = jnp.where(x == x, x, lax.stop_gradient(x))
    if min is not None:
        x = jnp.where(x < min, jnp.asarray(min, x.dtype), x)
    if max is not None:
        x = jnp.where(x > max, jnp.asarray(max, x.dtype), x)
    return x


_clamp = register("clamp", _clip, "ClampBackward1", SAME)
_clamp_tensor = register("clamp_tensor", _clip, "ClampBackward0", SAME)
_clamp_min = register("clamp_min", _clip, "ClampMinBackward0", SAME)
_clamp_min_tensor = register("clamp_min_tensor", _clip, "ClampMinBackward1", SAME)
_clamp_max = register("clamp_max", _clip, "ClampMaxBackward0", SAME)
_clamp_max_tensor = register(
    "clamp_max_tensor", lambda x, max: _clip(x, None, max), "ClampMaxBackward1", SAME
)


_nan_to_num = register("nan_to_num", jnp.nan_to_num, "NanToNumBackward0", SAME)


def nan_to_num(input, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):
    """NaN becomes ``nan``, and infinities ``posinf``/``neginf`` (by default the dtype's largest
    and smallest finite values); the gradient flows only where ``input`` is finite."""
    return dispatch(_nan_to_num, (input,), (("nan", nan), ("posinf", posinf), ("neginf", neginf)))


# Python numbers that ops bake in as static arguments (bool is an int); tested inline with
# isinstance, as a helper function's call costs as much as the test.
_SCALARS = (int, float)


def _lift(input, *scalars):
    """``input`` cast to torch's result type with Python ``scalars`` that are baked into an op as
    static arguments (``int_tensor ** 0.5`` is float32). Only integer and bool tensors change,
    and those never require grad, so the cast records nothing."""
    if input._storage.meta.dtype in _FLOATS:  # a float tensor keeps its dtype with any number
        return input
    dtype = promote((input, *scalars), SAME)
    if dtype == input.dtype.np:
        return input
    return to_dtype(input, _dtype.from_numpy_dtype(dtype))


def _alpha(input, other, alpha) -> tuple:
    """The static argument for ``alpha``, after torch's checks of its type against the
    result's: no floating alpha for an integral result, no boolean one but for booleans."""
    if type(alpha) is not int:  # the usual 1 and other ints pass unchecked
        kind = promote((input, other), SAME).kind
        if isinstance(alpha, (bool, np.bool_)):
            if kind != "b":
                raise RuntimeError("Boolean alpha only supported for Boolean results.")
        elif isinstance(alpha, (float, np.floating)) and kind in "biu":
            raise RuntimeError(
                "For integral input tensors, argument alpha must not be a floating point number."
            )
    return (("alpha", alpha),) if alpha != 1 else ()


def add(input, other, *, alpha=1):
    """input + alpha * other."""
    return dispatch(_add, (input, other), _alpha(input, other, alpha))


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    return dispatch(_sub, (input, other), _alpha(input, other, alpha))


subtract = sub


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    if not isinstance(other, _SCALARS):
        return sub(other, input, alpha=alpha)
    if isinstance(other, np.floating):  # a static argument: JAX would compute in its dtype
        other = float(other)
    _alpha(input, other, alpha)
    input = _lift(input, other, alpha)
    return dispatch(_rsub, (input,), (("other", other), ("alpha", alpha)))


multiply = mul


def result_type(tensor1, tensor2):
    """The dtype torch's type promotion gives an op on ``tensor1`` and ``tensor2`` (tensors or
    Python numbers)."""
    return _dtype.from_numpy_dtype(promote((tensor1, tensor2), SAME))


def _check_integer_division(kernel: str, input, other) -> None:
    """torch's errors for a quotient or remainder computed in integers: ``RuntimeError:
    ZeroDivisionError`` for a zero divisor (a tensor's values are read on the host, see
    ``tape._device.host_values``), and ``NotImplementedError`` for bools. ``kernel`` is the
    name of torch's CPU kernel, which the bool error names."""
    dtype = promote((input, other), SAME)
    if dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for 'Bool'")
    if dtype.kind not in "iu" or 0 in np.shape(input):
        return
    values = _device.host_values(other) if hasattr(other, "_storage") else np.asarray(other)
    if values is not None and not values.all():
        raise RuntimeError("ZeroDivisionError")


def div(input, other, *, rounding_mode=None):
    """True division; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        return dispatch(_div, (input, other))
    if rounding_mode == "trunc":
        _check_integer_division("div_trunc", input, other)
        return dispatch(_div_trunc, (input, other))
    if rounding_mode == "floor":
        return _floored(_div_floor, input, other)
    raise RuntimeError(
        "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"'{rounding_mode}'"
    )


divide = true_divide = div


def floor_divide(input, other):
    """input // other."""
    return _floored(_floor_divide, input, other)


def _floored(op, input, other):
    """A floored quotient recorded as ``op``: torch's ``floor_divide`` has no gradient,
    ``div(rounding_mode='floor')`` a zero one."""
    _check_integer_division("div_floor", input, other)
    return dispatch(op, (input, other))


def remainder(input, other):
    _check_integer_division("remainder", input, other)
    if isinstance(input, _SCALARS):
        return dispatch(_rremainder, (_lift(other, input),), (("base", input),))
    if isinstance(other, _SCALARS):
        return dispatch(_remainder_scalar, (_lift(input, other),), (("other", other),))
    return dispatch(_remainder, (input, other))


def fmod(input, other):
    """C's fmod: the remainder takes the sign of ``input``."""
    _check_integer_division("fmod", input, other)
    if isinstance(other, _SCALARS):
        return dispatch(_fmod_scalar, (_lift(input, other),), (("other", other),))
    return dispatch(_fmod, (input, other))


def pow(input, exponent):
    """input ** exponent; a Python exponent is baked into the compiled op so x**2 is exact."""
    if isinstance(input, _SCALARS):
        return dispatch(_rpow, (_lift(exponent, input),), (("base", input),))
    if isinstance(exponent, _SCALARS):
        return dispatch(_pow_scalar, (_lift(input, exponent),), (("exponent", exponent),))
    return dispatch(_pow, (input, exponent))


def square(input):
    return pow(input, 2)


def lerp(input, end, weight):
    if isinstance(weight, _SCALARS):
        return dispatch(_lerp_scalar, (_lift(input, weight), end), (("weight", weight),))
    return dispatch(_lerp, (input, end, weight))


def where(condition, input=None, other=None):
    """Pick ``input`` where ``condition`` holds, else ``other`` (either may be a Python scalar)."""
    if input is None and other is None:
        from tape.ops.indexing import nonzero

        return nonzero(condition, as_tuple=True)
    dtype = promote((input, other), SAME)
    return dispatch(_where, (condition, input, other), (("dtype", dtype),))


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if (min is None or isinstance(min, _SCALARS)) and (max is None or isinstance(max, _SCALARS)):
        input = _lift(input, *(v for v in (min, max) if v is not None))
        return dispatch(_clamp, (input,), (("min", min), ("max", max)))
    return dispatch(_clamp_tensor, (input, min, max))


clip = clamp


def clamp_min(input, min):
    if isinstance(min, _SCALARS):
        return dispatch(_clamp_min, (_lift(input, min),), (("min", min),))
    return dispatch(_clamp_min_tensor, (input, min))


def clamp_max(input, max):
    if isinstance(max, _SCALARS):
        return dispatch(_clamp_max, (_lift(input, max),), (("max", max),))
    return dispatch(_clamp_max_tensor, (input, max))


# --- unary math ---------------------------------------------------------------------------------
neg = unary("neg", jnp.negative, "NegBackward0", NONE, saves="none")
negative = neg


@jax.custom_jvp
def _abs(x):
    return jnp.abs(x)


@_abs.defjvp
def _abs_jvp(primals, tangents):
    # torch's d|x| is sign(x): 0 at 0, where JAX's is 1.
    (x,), (t,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * t


abs = unary("abs", _abs, "AbsBackward0", NONE)
absolute = abs


def _sign(x):
    # torch's sign: 0 for NaN and for -0.0 (jnp.sign keeps both), and defined for bool.
    return jnp.where(x > 0, 1, jnp.where(x < 0, -1, 0)).astype(x.dtype)


sign = unary("sign", _sign, "SignBackward0", NONE, saves="none")
floor = unary("floor", jnp.floor, "FloorBackward0", NONE, saves="none")
ceil = unary("ceil", jnp.ceil, "CeilBackward0", NONE, saves="none")
_round = register("round", jnp.round, "RoundBackward0", NONE, saves="none")


def _round_decimals_fwd(x, decimals):
    """torch's rounding to ``decimals`` places: through a power of ten, half to even."""
    scale = jnp.asarray(10.0 ** (decimals if decimals > 0 else -decimals), x.dtype)
    if decimals > 0:
        return jnp.round(x * scale) / scale
    return jnp.round(x / scale) * scale


_round_decimals = register(
    "round_decimals", _round_decimals_fwd, "RoundBackward1", NONE, saves="none"
)


def round(input, *, decimals=0):
    if decimals == 0:
        return dispatch(_round, (input,))
    if not input.dtype.is_floating_point:
        raise _dtype.kernel_missing("round_cpu", input.dtype)
    return dispatch(_round_decimals, (input,), (("decimals", int(decimals)),))


trunc = unary("trunc", jnp.trunc, "TruncBackward0", NONE, saves="none")
fix = trunc
exp = unary("exp", jnp.exp, "ExpBackward0", FLOAT, saves="output")
exp2 = unary("exp2", jnp.exp2, "Exp2Backward0", FLOAT, saves="output")
expm1 = unary("expm1", jnp.expm1, "Expm1Backward0", FLOAT, saves="output")
log = unary("log", jnp.log, "LogBackward0", FLOAT)
log2 = unary("log2", jnp.log2, "Log2Backward0", FLOAT)
log10 = unary("log10", jnp.log10, "Log10Backward0", FLOAT)
log1p = unary("log1p", jnp.log1p, "Log1PBackward0", FLOAT)
sqrt = unary("sqrt", jnp.sqrt, "SqrtBackward0", FLOAT, saves="output")
rsqrt = unary("rsqrt", lax.rsqrt, "RsqrtBackward0", FLOAT, saves="output")


@jax.custom_jvp
def _reciprocal(x):
    return jnp.reciprocal(x)


@_reciprocal.defjvp
def _reciprocal_jvp(primals, tangents):
    # torch's formula, -grad * (result * result), rounding as its does (3 / x is built on it)
    r = _reciprocal(primals[0])
    return r, -tangents[0] * (r * r)


reciprocal = unary("reciprocal", _reciprocal, "ReciprocalBackward0", FLOAT, saves="output")
sin = unary("sin", jnp.sin, "SinBackward0", FLOAT)
cos = unary("cos", jnp.cos, "CosBackward0", FLOAT)
tan = unary("tan", jnp.tan, "TanBackward0", FLOAT, saves="output")
asin = unary("asin", jnp.arcsin, "AsinBackward0", FLOAT)
acos = unary("acos", jnp.arccos, "AcosBackward0", FLOAT)
atan = unary("atan", jnp.arctan, "AtanBackward0", FLOAT)
sinh = unary("sinh", jnp.sinh, "SinhBackward0", FLOAT)
cosh = unary("cosh", jnp.cosh, "CoshBackward0", FLOAT)
tanh = unary("tanh", jnp.tanh, "TanhBackward0", FLOAT, saves="output")
sigmoid = unary("sigmoid", jax.nn.sigmoid, "SigmoidBackward0", FLOAT, saves="output")


def torch_relu(x):
    """torch's relu: ``x`` where it is not negative (so -0.0 and NaN pass through), else 0;
    its gradient is 0 where ``x <= 0`` and 1 elsewhere, NaN included. Plain primitives, no
    custom rule, so that a jaxpr holding it can key a stored program (tape._program_store)."""
    return jnp.where(x <= 0, lax.stop_gradient(jnp.where(x < 0, 0, x)), x)


relu = unary("relu", torch_relu, "ReluBackward0", NONE, saves="output")
erf = unary("erf", jax.scipy.special.erf, "ErfBackward0", FLOAT)
clone = unary("clone", lambda x: x, "CloneBackward0", NONE, saves="none")

# --- comparisons and logic ----------------------------------------------------------------------
eq = binary("eq", jnp.equal, None, COMPARE)
ne = binary("ne", jnp.not_equal, None, COMPARE)
lt = binary("lt", jnp.less, None, COMPARE)
le = binary("le", jnp.less_equal, None, COMPARE)
gt = binary("gt", jnp.greater, None, COMPARE)
ge = binary("ge", jnp.greater_equal, None, COMPARE)
less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne
logical_and = binary("logical_and", jnp.logical_and, None, NONE)
logical_or = binary("logical_or", jnp.logical_or, None, NONE)
logical_xor = binary("logical_xor", jnp.logical_xor, None, NONE)
logical_not = unary("logical_not", jnp.logical_not, None, NONE)
bitwise_and = binary("bitwise_and", jnp.bitwise_and, None, SAME)
bitwise_or = binary("bitwise_or", jnp.bitwise_or, None, SAME)
bitwise_xor = binary("bitwise_xor", jnp.bitwise_xor, None, SAME)
bitwise_left_shift = binary("bitwise_left_shift", jnp.left_shift, None, SAME)
bitwise_right_shift = binary("bitwise_right_shift", jnp.right_shift, None, SAME)
bitwise_not = unary("bitwise_not", jnp.invert, None, NONE)
isnan = unary("isnan", jnp.isnan, None, NONE)
isinf = unary("isinf", jnp.isinf, None, NONE)
isfinite = unary("isfinite", jnp.isfinite, None, NONE)
_isclose = register(
    "isclose",
    lambda x, y, rtol, atol, equal_nan: jnp.isclose(
        x, y, rtol=rtol, atol=atol, equal_nan=equal_nan
    ),
    None,
    SAME,
)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return dispatch(
        _isclose, (input, other), (("rtol", rtol), ("atol", atol), ("equal_nan", equal_nan))
    )


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    """True when both have the same shape and elements."""
    return tuple(input.shape) == tuple(other.shape) and bool(eq(input, other).all())


# --- casts and moves ----------------------------------------------------------------------------
_to_dtype = register(
    "to_dtype", lambda x, dtype: x.astype(dtype), "ToCopyBackward0", NONE, saves="none"
)
_to_device = register(
    "to_device", lambda x, device: jax.device_put(x, device), "ToCopyBackward0", NONE, saves="none"
)


def to_dtype(input, dtype: _dtype.dtype):
    return dispatch(_to_dtype, (input,), (("dtype", dtype.np),))


def to_device(input, device):
    return dispatch(_to_device, (input,), (("device", device),))


# --- more math ----------------------------------------------------------------------------------
_special = jax.scipy.special


def _kernel_check(kernel: str, inputs: tuple, floating: bool = True) -> None:
    """torch's error when a kernel has no version for the inputs' common dtype: floating-only
    kernels (hypot) reject integers and bool, integer-only ones (gcd) floats and bool."""
    d = _dtype.from_numpy_dtype(promote(inputs, SAME))
    if d.is_floating_point != floating or d is _dtype.bool_:
        raise _dtype.kernel_missing(f"{kernel}_cpu", d)


def _float_binary(name: str, fwd, grad_fn: str, saves: str = "inputs"):
    """A two-tensor op whose torch kernel takes floating dtypes only."""
    op = register(name, fwd, grad_fn, SAME, saves)

    def front(input, other):
        _kernel_check(name, (input, other))
        return dispatch(op, (input, other))

    front.__name__ = front.__qualname__ = name
    front.__doc__ = f"torch.{name}, for floating tensors."
    return front


def _addcmul_fwd(x, t1, t2, value):
    return x + value * t1 * t2


def _addcdiv_fwd(x, t1, t2, value):
    return x + value * t1 / t2


_addcmul = register("addcmul", _addcmul_fwd, "AddcmulBackward0", SAME, saves="partners")
_addcdiv = register("addcdiv", _addcdiv_fwd, "AddcdivBackward0", SAME, saves="partners")


def _value(value, inputs: tuple):
    """torch casts ``value`` to the result dtype first: 0.5 is 0 for integer tensors."""
    if _dtype.from_numpy_dtype(promote(inputs, SAME)).is_floating_point:
        return value
    return int(value)


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    args = (input, tensor1, tensor2)
    return dispatch(_addcmul, args, (("value", _value(value, args)),))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    if not (tensor1.dtype.is_floating_point or tensor2.dtype.is_floating_point):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes."
        )
    return dispatch(_addcdiv, (input, tensor1, tensor2), (("value", value),))


logaddexp = _float_binary("logaddexp", jnp.logaddexp, "LogaddexpBackward0")
logaddexp2 = _float_binary("logaddexp2", jnp.logaddexp2, "Logaddexp2Backward0")
hypot = _float_binary("hypot", jnp.hypot, "HypotBackward0", saves="both")


@jax.custom_jvp
def _nextafter(x, y):
    return jnp.nextafter(x, y)


@_nextafter.defjvp
def _nextafter_jvp(primals, tangents):
    # torch passes the whole gradient to ``input``, none to ``other``.
    return _nextafter(*primals), tangents[0]


nextafter = _float_binary("nextafter", _nextafter, "NextafterBackward0")


@jax.custom_jvp
def _xlogy(x, y):
    return jnp.where((x == 0) & ~jnp.isnan(y), jnp.zeros_like(x), x * jnp.log(y))


@_xlogy.defjvp
def _xlogy_jvp(primals, tangents):
    # torch's formula: log(y) for x, zero where x == 0 and y <= 0; x / y for y.
    (x, y), (tx, ty) = primals, tangents
    dx = jnp.where((x == 0) & (y <= 0), jnp.zeros_like(y), jnp.log(y))
    return _xlogy(x, y), tx * dx + ty * x / y


_xlogy_op = register("xlogy", _xlogy, "XlogyBackward0", FLOAT)
_xlogy_scalar_self = register("xlogy_scalar_self", _xlogy, "XlogyBackward1", FLOAT)
_xlogy_scalar_other = register("xlogy_scalar_other", _xlogy, "XlogyBackward2", FLOAT)


def xlogy(input, other):
    """input * log(other), and 0 where input is 0 (unless other is NaN)."""
    if isinstance(input, _SCALARS):
        return dispatch(_xlogy_scalar_self, (input, other))
    if isinstance(other, _SCALARS):
        return dispatch(_xlogy_scalar_other, (input, other))
    return dispatch(_xlogy_op, (input, other))


# torch's tie goes to ``input``, and a NaN loses to a number.
fmax = binary("fmax", lambda x, y: jnp.where((x >= y) | jnp.isnan(y), x, y), "FmaxBackward0")
fmin = binary("fmin", lambda x, y: jnp.where((x <= y) | jnp.isnan(y), x, y), "FminBackward0")


def _copysign_fwd(x, y):
    # Through torch's |x| (gradient sign(x), 0 at 0); ``y`` gets a zero gradient.
    return jnp.where(jnp.signbit(y), -_abs(x), _abs(x))


_copysign = register("copysign", _copysign_fwd, "CopysignBackward0", FLOAT, saves="both")
_copysign_scalar = register(
    "copysign_scalar", _copysign_fwd, "CopysignBackward1", FLOAT, saves="both"
)


def copysign(input, other):
    """|input| with the sign of ``other``."""
    return dispatch(_copysign_scalar if isinstance(other, _SCALARS) else _copysign, (input, other))


lgamma = unary("lgamma", _special.gammaln, "LgammaBackward0", FLOAT)


def _digamma(x):
    # torch's poles at zero: -inf at +0.0 and inf at -0.0, where JAX gives NaN.
    return jnp.where(x == 0, jnp.copysign(jnp.inf, -x), _special.digamma(x))


digamma = unary("digamma", _digamma, "DigammaBackward0", FLOAT)
erfc = unary("erfc", _special.erfc, "ErfcBackward0", FLOAT)
erfinv = unary("erfinv", _special.erfinv, "ErfinvBackward0", FLOAT)
i0 = unary("i0", _special.i0, "I0Backward0", FLOAT)


@jax.custom_jvp
def _sinc(x):
    return jnp.sinc(x)


@_sinc.defjvp
def _sinc_jvp(primals, tangents):
    # torch's formula and rounding order; JAX's quotient rule differs by up to 1e-4 relative in
    # float32 near zero, where the numerator cancels.
    (x,), (t,) = primals, tangents
    px = x * np.pi
    d = (px * jnp.cos(px) - jnp.sin(px)) / (x * x * np.pi)
    return _sinc(x), t * jnp.where(x == 0, jnp.zeros_like(d), d)


sinc = unary("sinc", _sinc, "SincBackward0", FLOAT)
acosh = unary("acosh", jnp.arccosh, "AcoshBackward0", FLOAT)
asinh = unary("asinh", jnp.arcsinh, "AsinhBackward0", FLOAT)
atanh = unary("atanh", jnp.arctanh, "AtanhBackward0", FLOAT)
arccos, arcsin, arctan = acos, asin, atan
arccosh, arcsinh, arctanh = acosh, asinh, atanh
deg2rad = unary("deg2rad", lambda x: x * (np.pi / 180), "Deg2RadBackward0", FLOAT, saves="none")
rad2deg = unary("rad2deg", lambda x: x * (180 / np.pi), "Rad2DegBackward0", FLOAT, saves="none")
sgn = unary("sgn", _sign, "SgnBackward0", NONE, saves="both")
signbit = unary("signbit", jnp.signbit, None, NONE)
isposinf = unary("isposinf", jnp.isposinf, None, NONE)
isneginf = unary("isneginf", jnp.isneginf, None, NONE)
isreal = unary("isreal", jnp.isreal, None, NONE)
_frac = register("frac", lambda x: x - jnp.trunc(x), "FracBackward0", NONE, saves="none")


def frac(input):
    """input - trunc(input), for floating tensors."""
    _kernel_check("frac", (input,))
    return dispatch(_frac, (input,))


def positive(input):
    """``input`` itself, as torch returns it."""
    if input.dtype is _dtype.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


@jax.custom_jvp
def _logit(x):
    return jnp.log(x / (1 - x))


@_logit.defjvp
def _logit_jvp(primals, tangents):
    # torch's 1 / (x (1 - x)): infinite at 0 and 1, where autodiff of the log gives NaN.
    (x,), (t,) = primals, tangents
    return _logit(x), t / (x * (1 - x))


_logit_op = register(
    "logit",
    lambda x, eps: _logit(x if eps is None else _clip(x, eps, 1 - eps)),
    "LogitBackward0",
    FLOAT,
)


def logit(input, eps: float | None = None):
    """log(p / (1 - p)), with ``p`` clamped to [eps, 1 - eps] when ``eps`` is given."""
    return dispatch(_logit_op, (input,), (("eps", eps),))


def float_power(input, exponent):
    """pow in float64."""

    def f64(x):
        return x if isinstance(x, _SCALARS) else x.to(_dtype.float64)

    return pow(f64(input), f64(exponent))


def _heaviside_fwd(x, values):
    return jnp.where(x == 0, values, (x > 0).astype(x.dtype))


_heaviside = register(
    "heaviside", _not_implemented(_heaviside_fwd, "heaviside"), "NotImplemented", NONE
)


def heaviside(input, values):
    """0 below zero, 1 above, ``values`` at zero (a NaN gives 0, as in torch)."""
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return dispatch(_heaviside, (input, values))


_gcd = register("gcd", jnp.gcd, None, SAME)
_lcm = register("lcm", jnp.lcm, None, SAME)


def gcd(input, other):
    """Greatest common divisor, for integer tensors."""
    _kernel_check("gcd", (input, other), floating=False)
    return dispatch(_gcd, (input, other))


def lcm(input, other):
    """Least common multiple, for integer tensors."""
    _kernel_check("lcm", (input, other), floating=False)
    return dispatch(_lcm, (input, other))


@jax.custom_jvp
def _ldexp_int(x, y):
    return x * jnp.exp2(y)


@_ldexp_int.defjvp
def _ldexp_int_jvp(primals, tangents):
    # torch scales the gradient by 2 ** other computed in integers: 0 for a negative exponent.
    (x, y), (t, _) = primals, tangents
    return _ldexp_int(x, y), t * jnp.floor(jnp.exp2(y))


_ldexp = register(
    "ldexp",
    lambda x, y, int_exponent: _ldexp_int(x, y) if int_exponent else x * jnp.exp2(y),
    "LdexpBackward0",
    FLOAT,
    saves="both",
)


def ldexp(input, other):
    """input * 2 ** other."""
    int_exponent = not other.dtype.is_floating_point
    return dispatch(_ldexp, (input, other), (("int_exponent", int_exponent),))


def _igamma_op(name: str, gammainc):
    """igamma or igammac: torch has no gradient for ``input`` (the shape parameter), and its
    backward raises when that input requires grad."""
    no_grad = _not_implemented(
        lambda a: a,
        f"{name}: input",
        "the derivative for '{}' is not implemented.",
        NotImplementedError,
    )
    return _float_binary(name, lambda a, x: gammainc(no_grad(a), x), f"{name.title()}Backward0")


igamma = _igamma_op("igamma", _special.gammainc)
igammac = _igamma_op("igammac", _special.gammaincc)

_polygamma = register(
    "polygamma", lambda x, n: _special.polygamma(n, x), "PolygammaBackward0", FLOAT
)


# ``x.polygamma_(n)`` records torch's other node name.
_polygamma_inplace = register("polygamma_", _polygamma.fwd, "PolygammaBackward1", FLOAT)


def polygamma(n: int, input):
    """The ``n``-th derivative of digamma."""
    return _polygamma_as(_polygamma, n, input)


def _polygamma_as(op, n: int, input):
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return dispatch(op, (input,), (("n", int(n)),))


_mvlgamma = register(
    "mvlgamma", lambda x, p: _special.multigammaln(x, p), "MvlgammaBackward0", FLOAT
)


def mvlgamma(input, p: int):
    """The multivariate log-gamma function of dimension ``p``."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return dispatch(_mvlgamma, (input,), (("p", int(p)),))


@jax.custom_jvp
def _mantissa(x):
    return jnp.frexp(x)[0]


@_mantissa.defjvp
def _mantissa_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    mantissa, exponent = jnp.frexp(x)
    return mantissa, t / jnp.exp2(exponent.astype(x.dtype))


_frexp = register(
    "frexp", lambda x: (_mantissa(x), jnp.frexp(x)[1]), "FrexpBackward0", NONE, saves="indices"
)


def frexp(input):
    """(mantissa, exponent): input = mantissa * 2 ** exponent, |mantissa| in [0.5, 1)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return _frexp_type(*dispatch(_frexp, (input,)))


_frexp_type = _return_type("frexp", ("mantissa", "exponent"))
