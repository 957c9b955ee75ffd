"""The row type of the differential op table (``test_ops.py``), which other modules' rows
(``op_cases_*.py``) extend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

F32, F64, F16, I64, I32, B = "float32", "float64", "float16", "int64", "int32", "bool"


@dataclass(frozen=True)
class OpCase:
    name: str
    fn: Callable
    shapes: Sequence = ()  # one shape per input tensor
    dtypes: Sequence | str = F32  # one dtype for all inputs, or one per input
    grad: bool = True  # float inputs require grad and the result is back-propagated
    low: float | None = None  # uniform inputs in [low, high); default normal / ints in [-5, 5]
    high: float | None = None
    values: bool = True  # False: compare metadata only (empty, empty_like)
    rtol: float = 1e-5
    atol: float = 1e-6
    message: bool = False  # an error row: compare the message too, not only the type


def at(t, x, values):
    """``x`` with its values replaced by ``values`` but its gradient path kept (ties, zeros)."""
    return x - x.detach() + t.tensor(values, dtype=x.dtype)
