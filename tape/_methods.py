"""Bind the registry's functions to ``Tensor`` as methods and Python operators."""

from __future__ import annotations

import numpy as np

from tape import _dtype, creation
from tape.ops import FUNCTIONS, _keywords, elementwise, indexing, linalg, shape
from tape.ops.inplace import INPLACE
from tape.tensor import Size, Tensor

# Functions that torch.Tensor has no method for: most take no ``self`` first.
_NOT_METHODS = {
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "einsum",
    "where",
    "meshgrid",
    "broadcast_tensors",
    "std_mean",
    "var_mean",
    "normal",
    "poisson",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block_diag",
    "bucketize",
    "cartesian_prod",
    "cdist",
    "column_stack",
    "combinations",
    "cumulative_trapezoid",
    "rsub",
    "dstack",
    "isin",
    "row_stack",
    "searchsorted",
    "tensordot",
    "trapezoid",
    "trapz",
    "tril_indices",
    "triu_indices",
    "vander",
    "broadcast_shapes",
    "result_type",
    "pdist",
    "unravel_index",
    "chain_matmul",
}
_PROPERTIES = {"T": shape.T, "mT": shape.mT}


def _where(self, condition, other):
    return elementwise.where(condition, self, other)


def _polygamma(self, n):
    return elementwise.polygamma(n, self)  # the method takes n second, the function first


def _rtruediv(self, other):
    return elementwise.reciprocal(self) * other


def _rfloordiv(self, other):
    return elementwise.floor_divide(_full_like(self, other), self)


def _rmod(self, other):
    return elementwise.remainder(other, self)


def _full_like(self, value):
    from tape import creation

    return creation.tensor(value, dtype=_dtype_for(self, value))


def _dtype_for(self, value):
    from tape import _dtype

    return _dtype.result_type([], [self.dtype], [_dtype.scalar_rank(value)])


@_keywords
def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``torch.softmax`` and ``Tensor.softmax``: ``F.softmax`` with ``dtype`` third."""
    from tape.nn import functional

    return functional.softmax(input, dim, dtype=dtype)


@_keywords
def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``torch.log_softmax`` and ``Tensor.log_softmax``: ``F.log_softmax`` with ``dtype`` third."""
    from tape.nn import functional

    return functional.log_softmax(input, dim, dtype=dtype)


def _new(fn):
    """``Tensor.new_<fn>``: ``fn`` making a tensor of ``self``'s dtype and device unless given."""

    def new(
        self, *args, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False
    ):
        dtype = self.dtype if dtype is None else dtype
        device = self.device if device is None else device
        return fn(*args, dtype=dtype, device=device, requires_grad=requires_grad)

    new.__name__ = new.__qualname__ = f"new_{fn.__name__}"
    return new


_NEW = {
    f"new_{fn.__name__}": _new(fn)
    for fn in (creation.zeros, creation.ones, creation.empty, creation.full, creation.tensor)
}


def _legacy_new(self, *args, device=None):
    """torch's legacy ``Tensor.new``, in ``self``'s dtype and on its device unless given:
    ``x.new()`` is empty, ``x.new(2, 3)`` and ``x.new(torch.Size([2, 3]))`` are uninitialized,
    ``x.new([1, 2])`` copies the data, and ``x.new(t)`` aliases ``t`` (of ``x``'s dtype)."""
    device = self.device if device is None else device
    dtype = self.dtype
    if not args:
        return creation.empty(0, dtype=dtype, device=device)
    if len(args) == 1 and isinstance(args[0], Tensor):
        (other,) = args
        if other.dtype != dtype:
            raise TypeError(
                f"expected {_tensor_options(dtype, self.device)} (got "
                f"{_tensor_options(other.dtype, other.device)})"
            )
        return other[...]
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        (data,) = args
        if isinstance(data, Size):
            return creation.empty(data, dtype=dtype, device=device)
        if not isinstance(data, (list, tuple, np.ndarray)):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        return creation.tensor(data, dtype=dtype, device=device)
    for pos, n in enumerate(args, 1):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(
                f"new(): argument 'size' failed to unpack the object at pos {pos} with error "
                f'"type must be tuple of ints,but got {type(n).__name__}"'
            )
    return creation.empty(*args, dtype=dtype, device=device)


def _tensor_options(dtype, device) -> str:
    return (
        f"TensorOptions(dtype={linalg.cpp_type_name(dtype)}, device={device}, layout=Strided, "
        "requires_grad=false (default), pinned_memory=false (default), "
        "memory_format=(nullopt))"
    )


def _invert(self):
    if self.dtype.name == "bool":
        return elementwise.logical_not(self)
    return elementwise.bitwise_not(self)


_OPERATORS = {
    "__add__": elementwise.add,
    "__radd__": elementwise.add,
    "__sub__": elementwise.sub,
    "__rsub__": elementwise.rsub,
    "__mul__": elementwise.mul,
    "__rmul__": elementwise.mul,
    "__truediv__": elementwise.div,
    "__rtruediv__": _rtruediv,
    "__floordiv__": elementwise.floor_divide,
    "__rfloordiv__": _rfloordiv,
    "__mod__": elementwise.remainder,
    "__rmod__": _rmod,
    "__pow__": elementwise.pow,
    "__rpow__": lambda self, other: elementwise.pow(other, self),
    "__matmul__": linalg.matmul,
    "__rmatmul__": lambda self, other: linalg.matmul(other, self),
    "__neg__": elementwise.neg,
    "__pos__": lambda self: self,
    "__abs__": elementwise.abs,
    "__invert__": _invert,
    "__and__": elementwise.bitwise_and,
    "__or__": elementwise.bitwise_or,
    "__xor__": elementwise.bitwise_xor,
    "__lshift__": elementwise.bitwise_left_shift,
    "__rshift__": elementwise.bitwise_right_shift,
    "__rlshift__": lambda self, other: elementwise.bitwise_left_shift(other, self),
    "__rrshift__": lambda self, other: elementwise.bitwise_right_shift(other, self),
    "__eq__": elementwise.eq,
    "__ne__": elementwise.ne,
    "__lt__": elementwise.lt,
    "__le__": elementwise.le,
    "__gt__": elementwise.gt,
    "__ge__": elementwise.ge,
    "__getitem__": indexing.getitem,
    "__setitem__": indexing.setitem,
    "__iadd__": INPLACE["add_"],
    "__isub__": INPLACE["sub_"],
    "__imul__": INPLACE["mul_"],
    "__itruediv__": INPLACE["div_"],
    "__idiv__": INPLACE["div_"],
    "__ifloordiv__": INPLACE["floor_divide_"],
    "__imod__": INPLACE["remainder_"],
    "__ipow__": INPLACE["pow_"],
    "__ilshift__": INPLACE["bitwise_left_shift_"],
    "__irshift__": INPLACE["bitwise_right_shift_"],
    "__iand__": INPLACE["bitwise_and_"],
    "__ior__": INPLACE["bitwise_or_"],
    "__ixor__": INPLACE["bitwise_xor_"],
}


def _operand(fn):
    """A binary operator as torch has it: with a numpy array on the right it computes in
    numpy's result dtype (torch hands the array to numpy), and an operand of no number type
    (None, str) gives NotImplemented, so ``x == None`` is False."""

    def op(self, other):
        if isinstance(other, np.ndarray):
            d = _dtype.from_numpy_dtype(np.result_type(self.dtype.np, other.dtype))
            self, other = self.to(d), creation.tensor(other, dtype=d)
        elif other is None or isinstance(other, str):
            return NotImplemented
        return fn(self, other)

    return op


def _reflected(fn):
    """A reflected operator: a numpy array on the left is not taken (numpy's own error)."""

    def op(self, other):
        if other is None or isinstance(other, np.ndarray | str):
            return NotImplemented
        return fn(self, other)

    return op


def _tensor_only(fn):
    """``@``: only between tensors (numpy's or Python's TypeError otherwise)."""

    def op(self, other):
        return fn(self, other) if isinstance(other, Tensor) else NotImplemented

    return op


_OPERATORS["__matmul__"] = _tensor_only(_OPERATORS["__matmul__"])
_OPERATORS["__rmatmul__"] = _tensor_only(_OPERATORS["__rmatmul__"])
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "eq", "ne"):
    _OPERATORS[f"__{_name}__"] = _operand(_OPERATORS[f"__{_name}__"])
for _name in ("radd", "rsub", "rmul", "rfloordiv", "rmod", "rpow"):
    _OPERATORS[f"__{_name}__"] = _reflected(_OPERATORS[f"__{_name}__"])


def _type(self, dtype=None, non_blocking=False, **kwargs):
    """``x.type()``: the legacy type name ('torch.FloatTensor'); ``x.type(dtype)``: ``x`` in
    that dtype, given as a dtype or a legacy type name."""
    if dtype is None:
        cuda = ".cuda" if self.device.type == "cuda" else ""
        return f"torch{cuda}.{_dtype.LEGACY_TYPES[self.dtype.name]}"
    if isinstance(dtype, str):
        names = {f"torch.{v}": k for k, v in _dtype.LEGACY_TYPES.items()}
        name = dtype.replace(".cuda.", ".")
        if name not in names:
            raise ValueError(f"invalid type: '{dtype}'")
        device = "cuda" if ".cuda." in dtype else "cpu"
        return self.to(_dtype.to_dtype(names[name]), device=device)
    return self.to(dtype)


def bind() -> None:
    for name, fn in FUNCTIONS.items():
        if name not in _NOT_METHODS and name not in _PROPERTIES and not hasattr(Tensor, name):
            setattr(Tensor, name, fn)
    for name, fn in INPLACE.items():
        setattr(Tensor, name, fn)
    for name, fn in _NEW.items():
        setattr(Tensor, name, fn)
    for name, fn in _PROPERTIES.items():
        setattr(Tensor, name, property(fn))
    for name, fn in _OPERATORS.items():
        setattr(Tensor, name, fn)
    Tensor.where = _where
    Tensor.polygamma = _polygamma
    Tensor.type = _type
    Tensor.new = _legacy_new
    Tensor.softmax = softmax
    Tensor.log_softmax = log_softmax
    Tensor.__hash__ = object.__hash__
    # numpy scalars and arrays on the left defer to Tensor's reflected operators, as in torch.
    Tensor.__array_priority__ = 1000
