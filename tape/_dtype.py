"""torch-style dtypes on top of numpy/JAX dtypes, and torch's type promotion rules."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np


class dtype:
    """A tensor element type, printed the way torch prints it (``tape.float32``)."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_rank")

    def __init__(self, name: str, np_dtype, rank: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = name in _FLOAT_NAMES
        self.is_complex = False
        self.is_signed = name not in ("uint8", "bool")
        self.itemsize = self.np.itemsize
        self._rank = rank  # 0 bool, 1 integer, 2 floating: the torch category

    def __repr__(self) -> str:
        return f"tape.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self) -> dtype:
        return self


_FLOAT_NAMES = ("float16", "bfloat16", "float32", "float64")

bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


def _by_name(name: str) -> dtype:
    return _NAMES[name]


_default_float = float32

# torch's legacy tensor type names, as its messages print them ("torch.FloatTensor").
LEGACY_TYPES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d: dtype) -> None:
    global _default_float
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype) -> dtype:
    """The tape dtype of a numpy/JAX dtype, e.g. ``np.float32 -> tape.float32``."""
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            "float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8, and bool."
        ) from None


def to_dtype(d) -> dtype:
    """Accept a tape dtype, a torch-style name, a Python type or a numpy dtype."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in _NAMES:
        return _NAMES[d]
    return from_numpy_dtype(d)


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both can be cast to safely."""
    if a is b:
        return a
    return _PROMOTE[a, b]


def _build_promotion_table() -> dict:
    table = {}
    for a in ALL:
        for b in ALL:
            if a is b:
                table[a, b] = a
            elif {a.name, b.name} == {"float16", "bfloat16"}:
                table[a, b] = float32  # torch's choice; numpy has no bfloat16 rule
            elif a.is_floating_point != b.is_floating_point:
                table[a, b] = a if a.is_floating_point else b
            else:
                table[a, b] = from_numpy_dtype(np.promote_types(a.np, b.np))
    return table


_PROMOTE = _build_promotion_table()


def scalar_type_name(d: dtype) -> str:
    """torch's ScalarType name, as its cast errors print it ("Float", "Long")."""
    return LEGACY_TYPES[d.name].removesuffix("Tensor")


def kernel_missing(kernel: str, d: dtype) -> NotImplementedError:
    """torch's error for a CPU kernel not built for ``d``: raise what this returns."""
    return NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_type_name(d)}'")


def can_cast(source: dtype, target: dtype) -> bool:
    """torch.can_cast: no float to integer or bool, no integer to bool."""
    return source._rank <= target._rank


def scalar_rank(x) -> int:
    """torch category of a Python or numpy scalar: 0 bool, 1 int, 2 float.

    A numpy integer counts as an int; a numpy bool as a float, as torch treats it.
    """
    if isinstance(x, bool):
        return 0
    if isinstance(x, (int, np.integer)):
        return 1
    return 2


# The C types torch's scalar conversions name in their errors ("cannot be converted to type int").
_C_NAMES = {
    "uint8": "uint8_t",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int",
    "int64": "int64_t",
    "float32": "float",
}


def check_scalar(value, d: dtype) -> None:
    """torch's errors where a Python scalar becomes an element of ``d`` (``x[i] = v``,
    ``fill_``, ``full``): an integer beyond int64, or a value outside ``d``'s range. Negative
    integers wrap into unsigned types; float16, bfloat16 and float64 take any float."""
    if isinstance(value, bool | np.bool_) or d is bool_:
        return
    if isinstance(value, int | np.integer):
        value = int(value)
        if not -(2**63) <= value < 2**63:
            raise ValueError("Overflow when unpacking long long")
    name = _C_NAMES.get(d.name)
    if name is None:
        return
    if d.is_floating_point:
        ok = not math.isfinite(value) or abs(value) <= float(np.finfo(d.np).max)
    else:
        info = np.iinfo(d.np)
        lo = -int(info.max) if info.min == 0 and isinstance(value, int) else int(info.min)
        ok = lo <= value <= int(info.max)  # False for NaN
    if not ok:
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")


def category_default(rank: int) -> dtype:
    return (bool_, int64, _default_float)[rank]


def result_type(tensor_dtypes, zero_dim_dtypes, scalar_ranks) -> dtype:
    """torch's three-tier promotion: dimensioned tensors, then 0-dim tensors, then Python scalars.

    A lower tier only matters when it is of a higher category (bool < int < float).
    """
    result = None
    for d in tensor_dtypes:
        result = d if result is None else promote_types(result, d)
    zero = None
    for d in zero_dim_dtypes:
        zero = d if zero is None else promote_types(zero, d)
    if zero is not None and (result is None or zero._rank > result._rank):
        result = zero
    if scalar_ranks:
        top = max(scalar_ranks)
        if result is None or top > result._rank:
            result = category_default(top)
    return result


class _Info:
    """Equal when of one kind and one dtype, as torch's finfo and iinfo."""

    dtype: str

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.dtype))

    def _checked(self, d: dtype) -> dtype:
        """``d``, when of this kind (floating for finfo, integer for iinfo); else torch's error."""
        this = type(self).__name__
        floating = this == "finfo"
        if d.is_floating_point != floating:
            kind, other = ("a floating point", "iinfo") if floating else ("an integer", "finfo")
            raise TypeError(
                f"torch.{this}() requires {kind} input type. Use torch.{other} to handle "
                f"'torch.{this}'"
            )
        return d


class finfo(_Info):
    """torch.finfo: the limits of a floating dtype (the default dtype when none is given)."""

    def __init__(self, type: dtype | None = None) -> None:
        d = self._checked(get_default_dtype() if type is None else to_dtype(type))
        info = ml_dtypes.finfo(d.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = d.name

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo(_Info):
    """torch.iinfo: the limits of an integer dtype."""

    def __init__(self, type: dtype) -> None:
        d = to_dtype(type)
        if d.name == "bool":
            raise TypeError("torch.bool is not supported by torch.iinfo")
        self._checked(d)
        info = np.iinfo(d.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
