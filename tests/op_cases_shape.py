"""Rows of the differential op table (``test_ops.py``): shape, indexing and reduction ops."""

from op_case import F16, F32, F64, I32, I64, B, OpCase  # noqa: F401

# fmt: off
CASES: list[OpCase] = [
]
# fmt: on
