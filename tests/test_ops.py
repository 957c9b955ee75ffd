"""Differential OpInfo-style table: every case runs on torch and on tape with the same inputs.

Each ``OpCase`` names a lambda ``fn(t, *inputs)`` written once for both libraries (``t`` is the
module ``torch`` or ``tape``). The generic test compares forward values, dtype, shape,
``requires_grad`` and the ``grad_fn`` name, then back-propagates the same random cotangent and
compares every leaf's ``.grad``. Multi-output ops back-propagate a sum over their outputs.
"""

from __future__ import annotations

import zlib

import numpy as np
import op_cases_linalg
import op_cases_math
import op_cases_shape
import pytest
import torch
from op_case import F16, F32, F64, I32, I64, B, OpCase, at

import tape


def _unfold_write(x):
    """A write through the base shows in an ``unfold`` view of it (windows share memory)."""
    y = x * 1
    windows = y.unfold(1, 2, 1)
    y[0, 1] = 5.0
    return windows * 2


def _setitem(index, value=None):
    """``y = x.clone(); y[index] = value``: the value is a scalar or the case's second input.

    ``index`` is a literal or ``index(t, y)``, for indices that are tensors.
    """

    def fn(t, x, *v):
        y = x.clone()
        y[index(t, y) if callable(index) else index] = v[0] if v else value
        return y

    return fn


def _iadd_item(x, index, value):
    """``y = x.clone(); y[index] += value``."""
    y = x.clone()
    y[index] += value
    return y


def _nonleaf(x):
    """A non-leaf copy of ``x`` for in-place ops (a leaf requiring grad cannot be modified)."""
    return x * 1


def _inplace_view(x):
    """Scale rows 1: through a view; the base sees it (its grad_fn becomes CopySlices)."""
    base = _nonleaf(x)
    base[1:].mul_(2)
    return base


# fmt: off
CASES = [
    # --- creation ------------------------------------------------------------------------------
    OpCase("tensor_float", lambda t: t.tensor([[1.5, 2.0], [3.0, -4.25]])),
    OpCase("tensor_int", lambda t: t.tensor([1, 2, -3])),
    OpCase("tensor_bool", lambda t: t.tensor([True, False])),
    OpCase("tensor_scalar", lambda t: t.tensor(3.5)),
    OpCase("tensor_mixed", lambda t: t.tensor([1, 2.5, True])),
    OpCase("tensor_dtype", lambda t: t.tensor([1, 2], dtype=t.float64)),
    OpCase("tensor_requires_grad", lambda t: t.tensor([1.0, 2.0], requires_grad=True)),
    OpCase("zeros", lambda t: t.zeros(2, 3)),
    OpCase("zeros_tuple_int", lambda t: t.zeros((2, 3), dtype=t.int64)),
    OpCase("ones", lambda t: t.ones(3, 2)),
    OpCase("ones_f64", lambda t: t.ones(4, dtype=t.float64)),
    OpCase("full_float", lambda t: t.full((2, 3), 1.5)),
    OpCase("full_int", lambda t: t.full((2,), 7)),
    OpCase("full_bool", lambda t: t.full((2, 2), True)),
    OpCase("full_dtype", lambda t: t.full((3,), 2, dtype=t.float32)),
    OpCase("empty", lambda t: t.empty(2, 3), values=False),
    OpCase("empty_int", lambda t: t.empty((4,), dtype=t.int32), values=False),
    OpCase("eye", lambda t: t.eye(3)),
    OpCase("eye_rect", lambda t: t.eye(2, 4)),
    OpCase("arange_end", lambda t: t.arange(5)),
    OpCase("arange_step", lambda t: t.arange(1, 8, 2)),
    OpCase("arange_neg_step", lambda t: t.arange(10, 0, -3)),
    OpCase("arange_float_step", lambda t: t.arange(0, 1, 0.1)),
    OpCase("arange_float_start", lambda t: t.arange(0.5, 3)),
    OpCase("arange_dtype", lambda t: t.arange(4, dtype=t.float64)),
    OpCase("linspace", lambda t: t.linspace(0, 1, 5)),
    OpCase("linspace_odd", lambda t: t.linspace(-2, 3, 7)),
    OpCase("linspace_one", lambda t: t.linspace(0, 1, 1)),
    OpCase("linspace_two", lambda t: t.linspace(-2, 3, 2)),
    OpCase("linspace_zero", lambda t: t.linspace(0, 1, 0)),
    OpCase("logspace_one", lambda t: t.logspace(0, 1, 1)),
    OpCase("zeros_like", lambda t, x: t.zeros_like(x), [(2, 3)]),
    OpCase("ones_like", lambda t, x: t.ones_like(x), [(2, 3)]),
    OpCase("ones_like_int", lambda t, x: t.ones_like(x), [(4,)], I64),
    OpCase("ones_like_dtype", lambda t, x: t.ones_like(x, dtype=t.float64), [(2,)]),
    OpCase("full_like", lambda t, x: t.full_like(x, 2.5), [(3, 1)]),
    OpCase("full_like_int", lambda t, x: t.full_like(x, 2.5), [(3,)], I64),
    OpCase("empty_like", lambda t, x: t.empty_like(x), [(2, 5)], values=False),
    OpCase("new_zeros", lambda t, x: x.new_zeros(2, 3), [(4,)]),
    OpCase("new_zeros_tuple_int", lambda t, x: x.new_zeros((2, 3)), [(4,)], I32),
    OpCase("new_zeros_dtype", lambda t, x: x.new_zeros([3], dtype=t.float64), [(4,)], I64),
    OpCase("new_ones", lambda t, x: x.new_ones(3, 1), [(2,)], F64),
    OpCase("new_ones_requires_grad", lambda t, x: x.new_ones(2, requires_grad=True), [(2,)]),
    OpCase("new_full", lambda t, x: x.new_full((2, 2), 1.5), [(3,)]),
    OpCase("new_full_int_truncates", lambda t, x: x.new_full((2,), 1.7), [(3,)], I32),
    OpCase("new_full_dtype", lambda t, x: x.new_full((2,), 3, dtype=t.bool), [(3,)]),
    OpCase("new_empty", lambda t, x: x.new_empty(2, 5), [(3,)], I64, values=False),
    OpCase("new_empty_tuple", lambda t, x: x.new_empty((4,)), [(3,)], F16, values=False),
    OpCase("new_tensor", lambda t, x: x.new_tensor([[1.5, 2.0], [3.0, -4.25]]), [(3,)], F64),
    OpCase("new_tensor_int", lambda t, x: x.new_tensor([1.7, -2.2]), [(3,)], I32),
    OpCase("new_tensor_dtype", lambda t, x: x.new_tensor([1, 2], dtype=t.float32, requires_grad=True), [(3,)], I64),
    OpCase("new_tensor_scalar", lambda t, x: x.new_tensor(3), [(3,)]),
    OpCase("tensor_of_one_element_tensors", lambda t: t.tensor([t.tensor([1.0]), t.tensor([2.0])])),
    OpCase("tensor_of_f64_tensor", lambda t: t.tensor([t.tensor(1.5, dtype=t.float64), 2])),
    OpCase("tensor_of_tensors_promote", lambda t: t.tensor([t.tensor(1, dtype=t.uint8), t.tensor(1, dtype=t.int8)])),
    OpCase("tensor_numpy_float64", lambda t: t.tensor([np.float64(1.0), 2.0])),
    OpCase("tensor_numpy_int32", lambda t: t.tensor([np.int32(1)])),
    OpCase("tensor_numpy_int32_int", lambda t: t.tensor([np.int32(1), 2])),
    OpCase("tensor_numpy_float16_int", lambda t: t.tensor([np.float16(1), 2])),
    OpCase("tensor_numpy_arrays", lambda t: t.tensor([np.array([1, 2], np.int32), np.array([3, 4], np.int32)])),
    OpCase("tensor_nested_empty", lambda t: t.tensor([[], [1]])),
    OpCase("as_tensor_numpy_float64", lambda t: t.as_tensor([np.float64(1.0), 2.0])),
    OpCase("tensor_uint8_wraps_negative", lambda t: t.tensor([-1, -255], dtype=t.uint8)),
    OpCase("tensor_float_big_int", lambda t: t.tensor([2**70, 1.5])),
    OpCase("cat_empty_promotes", lambda t: t.cat([t.tensor([]), t.tensor([1, 2])])),
    OpCase("error_tensor_of_two_element_tensors", lambda t: t.tensor([t.tensor([1.0, 3.0]), t.tensor([2.0, 4.0])]), message=True),
    OpCase("error_tensor_ragged", lambda t: t.tensor([[1, 2], [3]]), message=True),
    OpCase("error_tensor_not_a_sequence", lambda t: t.tensor([[1, 2], 3]), message=True),
    OpCase("error_tensor_none", lambda t: t.tensor([1, None]), message=True),
    OpCase("error_tensor_str", lambda t: t.tensor([1, "a"]), message=True),
    OpCase("error_tensor_numpy_bool_int", lambda t: t.tensor([np.bool_(True), 2]), message=True),
    OpCase("error_tensor_int64_overflow", lambda t: t.tensor([2**63]), message=True),
    OpCase("error_tensor_int64_underflow", lambda t: t.tensor(-(2**63) - 1), message=True),
    OpCase("error_tensor_uint8_overflow", lambda t: t.tensor([300], dtype=t.uint8), message=True),
    OpCase("error_tensor_uint8_negative_float", lambda t: t.tensor([-1.0], dtype=t.uint8), message=True),
    OpCase("error_tensor_int32_overflow", lambda t: t.tensor(2**40, dtype=t.int32), message=True),
    OpCase("error_tensor_int64_float_overflow", lambda t: t.tensor([1e20], dtype=t.int64), message=True),
    OpCase("error_tensor_int_nan", lambda t: t.tensor([float("nan")], dtype=t.int32), message=True),
    OpCase("error_tensor_tensor_overflow", lambda t: t.tensor([t.tensor(300)], dtype=t.uint8), message=True),
    OpCase("error_full_int32_overflow", lambda t: t.full((2,), 2**40, dtype=t.int32), message=True),
    OpCase("error_full_float32_overflow", lambda t: t.full((2,), 1e300), message=True),
    OpCase("error_new_zeros_int_grad", lambda t, x: x.new_zeros(2, requires_grad=True), [(3,)], I64),
    OpCase("random_int64", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.int64).random_())[1]),
    OpCase("random_int32", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.int32).random_())[1]),
    OpCase("random_int16", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.int16).random_())[1]),
    OpCase("random_int8", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.int8).random_())[1]),
    OpCase("random_uint8", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.uint8).random_())[1]),
    OpCase("random_bool", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.bool).random_())[1]),
    OpCase("random_float32", lambda t: (t.manual_seed(0), t.zeros(5).random_())[1]),
    OpCase("random_float64", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.float64).random_())[1]),
    OpCase("random_float16", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.float16).random_())[1]),
    OpCase("random_bfloat16", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.bfloat16).random_().float())[1]),
    OpCase("random_to", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.int32).random_(10))[1]),
    OpCase("random_from_to", lambda t: (t.manual_seed(0), t.zeros(5).random_(-5, 5))[1]),
    OpCase("random_wide", lambda t: (t.manual_seed(0), t.zeros(5, dtype=t.int64).random_(3, 2**40))[1]),
    OpCase("error_random_to_int8", lambda t: t.zeros(5, dtype=t.int8).random_(1000), message=True),
    OpCase("error_random_from_uint8", lambda t: t.zeros(5, dtype=t.uint8).random_(-5, 5), message=True),
    OpCase("error_random_bool", lambda t: t.zeros(5, dtype=t.bool).random_(10), message=True),
    OpCase("error_random_half", lambda t: t.zeros(5, dtype=t.float16).random_(2**30), message=True),
    # sampling: seeded alike, so the draws are equal; normal's gradient is zero, as in torch
    OpCase("exponential", lambda t: (t.manual_seed(0), t.empty(20).exponential_(1.5))[1]),
    OpCase("exponential_f64", lambda t: (t.manual_seed(1), t.empty(3, dtype=t.float64).exponential_())[1]),
    OpCase("cauchy", lambda t: (t.manual_seed(0), t.empty(20).cauchy_(0.5, 2.0))[1]),
    OpCase("cauchy_f64", lambda t: (t.manual_seed(1), t.empty(3, dtype=t.float64).cauchy_())[1]),
    OpCase("log_normal", lambda t: (t.manual_seed(0), t.empty(20).log_normal_(0.0, 0.5))[1]),
    OpCase("log_normal_odd", lambda t: (t.manual_seed(2), t.empty(3).log_normal_(), t.empty(4).log_normal_())[2]),
    OpCase("geometric", lambda t: (t.manual_seed(0), t.empty(20).geometric_(0.2))[1]),
    OpCase("geometric_int32", lambda t: (t.manual_seed(3), t.empty(2, 3, dtype=t.int32).geometric_(0.7))[1]),
    # a fill of a non-leaf records its own grad_fn (the name depends on the arguments), and the
    # gradient through it is zero
    *(
        OpCase(f"fill_grad_{name}", lambda t, x, fill=fill: (t.manual_seed(0), fill(x * 1))[1], [(5,)])
        for name, fill in {
            "uniform": lambda y: y.uniform_(), "normal": lambda y: y.normal_(1.0, 2.0),
            "random_from_to": lambda y: y.random_(0, 5), "random_to": lambda y: y.random_(5),
            "random": lambda y: y.random_(), "bernoulli": lambda y: y.bernoulli_(0.5),
            "bernoulli_tensor": lambda y: y.bernoulli_(y.detach().sigmoid()),
            "exponential": lambda y: y.exponential_(), "cauchy": lambda y: y.cauchy_(),
            "log_normal": lambda y: y.log_normal_(), "geometric": lambda y: y.geometric_(0.5),
        }.items()
    ),
    OpCase("normal_tensor_tensor", lambda t, m, s: (t.manual_seed(0), t.normal(m, s.abs()))[1], [(4, 5), (4, 5)]),
    OpCase("normal_tensor_float", lambda t, m: (t.manual_seed(0), t.normal(m, 0.7))[1], [(17,)]),
    OpCase("normal_float_tensor", lambda t, s: (t.manual_seed(0), t.normal(1.5, s.abs()))[1], [(3, 1)]),
    OpCase("normal_broadcast", lambda t, m, s: (t.manual_seed(0), t.normal(m, s.abs()))[1], [(2, 1), (3,)]),
    OpCase("normal_size", lambda t: (t.manual_seed(0), t.normal(2.0, 3.0, size=(2, 9)))[1]),
    OpCase("normal_size_f64", lambda t: (t.manual_seed(0), t.normal(0.0, 1.0, (4,), dtype=t.float64))[1]),
    OpCase("poisson", lambda t, r: (t.manual_seed(0), t.poisson(r))[1], [(4, 5)], low=0.0, high=30.0),
    OpCase("poisson_f64", lambda t, r: (t.manual_seed(2), t.poisson(r))[1], [(9,)], F64, low=5.0, high=15.0),
    OpCase("error_poisson_negative", lambda t: t.poisson(t.tensor([1.0, -1.0])), message=True),
    OpCase("error_poisson_int", lambda t: t.poisson(t.tensor([1, 2])), message=True),
    OpCase("bernoulli", lambda t, p: (t.manual_seed(0), t.bernoulli(p))[1], [(4, 5)], low=0.0, high=1.0),
    OpCase("bernoulli_f64", lambda t, p: (t.manual_seed(3), t.bernoulli(p))[1], [(17,)], F64, low=0.0, high=1.0),
    OpCase("bernoulli_float_p", lambda t, x: (t.manual_seed(0), t.bernoulli(x, 0.3))[1], [(3, 4)], grad=False),
    OpCase("bernoulli_float_p_int", lambda t, x: (t.manual_seed(0), t.bernoulli(x, p=0.6))[1], [(6,)], I64),
    OpCase("error_bernoulli_above_one", lambda t: t.bernoulli(t.tensor([0.5, 2.0])), message=True),
    OpCase("error_bernoulli_nan", lambda t: t.bernoulli(t.tensor([0.5, float("nan")])), message=True),
    OpCase("error_bernoulli_int", lambda t: t.bernoulli(t.tensor([1, 0])), message=True),
    OpCase("error_bernoulli_float_p", lambda t: t.bernoulli(t.tensor([0.5]), p=1.5), message=True),
    OpCase("error_bernoulli__p", lambda t: t.zeros(3).bernoulli_(-0.25), message=True),
    OpCase("error_normal__std", lambda t: t.zeros(3).normal_(0.0, -1.5), message=True),
    OpCase("error_normal__std_int", lambda t: t.zeros(3).normal_(0, -1), message=True),
    OpCase("error_uniform__range", lambda t: t.zeros(3).uniform_(2.0, 1.0), message=True),
    OpCase("multinomial", lambda t, w: (t.manual_seed(0), t.multinomial(w, 3))[1], [(4, 6)], low=0.1, high=1.0),
    OpCase("multinomial_replacement", lambda t, w: (t.manual_seed(0), w.multinomial(8, True))[1], [(6,)], low=0.1, high=1.0),
    OpCase("multinomial_one", lambda t, w: (t.manual_seed(2), t.multinomial(w, 1))[1], [(3, 5)], F64, low=0.0, high=1.0),
    OpCase("error_multinomial_0d", lambda t: t.multinomial(t.tensor(0.5), 1), message=True),
    OpCase("error_multinomial_3d", lambda t: t.multinomial(t.ones(2, 2, 2), 1), message=True),
    OpCase("error_multinomial_int", lambda t: t.multinomial(t.tensor([1, 2]), 1), message=True),
    OpCase("error_multinomial_no_samples", lambda t: t.multinomial(t.ones(3), 0), message=True),
    OpCase("error_multinomial_too_many", lambda t: t.multinomial(t.ones(3), 4), message=True),
    OpCase("error_multinomial_float_count", lambda t: t.multinomial(t.ones(3), 2.0), message=True),
    OpCase("error_multinomial_negative", lambda t: t.multinomial(t.tensor([1.0, -1.0]), 1), message=True),
    OpCase("error_multinomial_inf", lambda t: t.multinomial(t.tensor([1.0, float("inf")]), 2), message=True),
    OpCase("error_multinomial_nan", lambda t: t.multinomial(t.tensor([1.0, float("nan")]), 1), message=True),
    OpCase("error_multinomial_zero_row", lambda t: t.multinomial(t.zeros(2, 3), 2), message=True),
    OpCase("error_multinomial_rep_negative", lambda t: t.multinomial(t.tensor([1.0, -1.0]), 3, True), message=True),
    OpCase("error_multinomial_rep_inf", lambda t: t.multinomial(t.tensor([1.0, float("inf")]), 3, True), message=True),
    OpCase("error_multinomial_rep_nan", lambda t: t.multinomial(t.tensor([1.0, float("nan")]), 3, True), message=True),
    OpCase("error_multinomial_rep_zero", lambda t: t.multinomial(t.zeros(3), 3, True), message=True),
    OpCase("error_exponential_negative", lambda t: t.empty(3).exponential_(-1.0), message=True),
    OpCase("error_exponential_zero", lambda t: t.empty(3).exponential_(0), message=True),
    OpCase("error_exponential_int", lambda t: t.empty(3, dtype=t.int64).exponential_(), message=True),
    OpCase("error_cauchy_sigma", lambda t: t.empty(3).cauchy_(0, -1), message=True),
    OpCase("error_cauchy_int", lambda t: t.empty(3, dtype=t.int64).cauchy_(), message=True),
    OpCase("error_cauchy_uint8", lambda t: t.empty(3, dtype=t.uint8).cauchy_(), message=True),
    OpCase("error_log_normal_std", lambda t: t.empty(3).log_normal_(0, 0), message=True),
    OpCase("error_log_normal_int", lambda t: t.empty(3, dtype=t.int64).log_normal_(), message=True),
    OpCase("error_geometric_p", lambda t: t.empty(3).geometric_(1), message=True),
    OpCase("error_geometric_bool", lambda t: t.empty(3, dtype=t.bool).geometric_(0.5), message=True),
    OpCase("error_fill_leaf", lambda t, x: x.cauchy_(), [(3,)], message=True),
    OpCase("error_normal_negative_std", lambda t: t.normal(t.zeros(2), t.tensor([1.0, -1.0])), message=True),
    OpCase("error_normal_negative_float_std", lambda t: t.normal(t.zeros(2), -1.0), message=True),
    OpCase("error_normal_size_negative_std", lambda t: t.normal(0.0, -1.0, (2,)), message=True),
    OpCase("error_normal_shapes", lambda t: t.normal(t.zeros(2), t.ones(3)), message=True),
    OpCase("error_normal_int", lambda t: t.normal(t.zeros(2, dtype=t.int64), 1.0), message=True),
    # --- casts ---------------------------------------------------------------------------------
    OpCase("float_of_int", lambda t, x: x.float(), [(5,)], I64),
    OpCase("float_of_float", lambda t, x: x.float(), [(5,)]),
    OpCase("double", lambda t, x: x.double(), [(2, 3)]),
    OpCase("half", lambda t, x: x.half(), [(2, 3)], rtol=1e-3, atol=1e-3),
    OpCase("long", lambda t, x: x.long(), [(8,)], low=-4, high=4),
    OpCase("int", lambda t, x: x.int(), [(8,)], low=-4, high=4),
    OpCase("bool", lambda t, x: x.bool(), [(6,)], I64),
    OpCase("bool_of_float", lambda t, x: (x * (x > 0)).bool(), [(6,)]),
    OpCase("to_f64", lambda t, x: x.to(t.float64), [(3,)]),
    OpCase("to_int32", lambda t, x: x.to(t.int32), [(3,)], I64),
    OpCase("to_dtype_kw", lambda t, x: x.to(dtype=t.float16), [(3,)], rtol=1e-3, atol=1e-3),
    OpCase("half_back_to_float", lambda t, x: x.half().float() * 2, [(4,)], F64, rtol=1e-3, atol=1e-3),
    # --- metadata (several values at once: compared as their printed tuple) --------------------
    OpCase("nbytes", lambda t, x: str((x.nbytes, x.itemsize, x.element_size())), [(2, 3)], F64),
    OpCase("get_device", lambda t, x: str((x.get_device(), x.is_cpu, x.is_cuda)), [(2,)]),
    *(
        OpCase(f"is_signed_{d}", lambda t, x: str((x.is_signed(), x.is_floating_point())), [(2,)], d)
        for d in (F32, F16, I64, I32, B, "uint8", "int8")
    ),
    OpCase("is_nonzero", lambda t, x: (x * 0).is_nonzero(), [(1, 1)]),
    OpCase("error_is_nonzero_many", lambda t, x: x.is_nonzero(), [(2,)], message=True),
    OpCase("conj_is_self", lambda t, x: str((x.conj() is x, x.resolve_conj() is x, x.resolve_neg() is x, x.is_conj(), x.is_neg())), [(2,)]),
    OpCase("mH", lambda t, x: x.mH, [(2, 3, 4)]),
    OpCase("H", lambda t, x: x.H, [(3, 4)]),
    OpCase("adjoint", lambda t, x: x.adjoint(), [(3, 4)]),
    OpCase("error_H_batched", lambda t, x: x.H, [(2, 3, 4)], message=True),
    OpCase("error_mH_vector", lambda t, x: x.mH, [(3,)], message=True),
    OpCase("mT", lambda t, x: x.mT, [(2, 3, 4)]),
    OpCase("error_mT_vector", lambda t, x: x.mT, [(3,)], message=True),
    OpCase("error_adjoint_vector", lambda t, x: x.adjoint(), [(3,)], message=True),
    # --- type promotion ------------------------------------------------------------------------
    OpCase("int_mul_float_scalar", lambda t, x: x * 2.5, [(4,)], I64),
    OpCase("int_div_int", lambda t, x, y: x / y, [(4,), (4,)], I64, low=1, high=5),
    OpCase("int_add_int_scalar", lambda t, x: x + 2, [(4,)], I64),
    OpCase("int32_add_int64", lambda t, x, y: x + y, [(3,), (3,)], [I32, I64]),
    OpCase("int32_add_scalar", lambda t, x: x + 1.5, [(3,)], I32),
    OpCase("bool_add_int_scalar", lambda t, x: x + 1, [(3,)], B),
    OpCase("bool_mul_float_scalar", lambda t, x: x * 1.5, [(3,)], B),
    OpCase("int_lt_float", lambda t, x: x < 0.5, [(5,)], I64),
    OpCase("half_add_float", lambda t, x, y: x + y, [(3,), (3,)], [F16, F32], rtol=1e-3, atol=1e-3),
    OpCase("half_mul_scalar", lambda t, x: x * 2.5, [(3,)], F16, rtol=1e-3, atol=1e-3),
    OpCase("f64_zerodim_add_f32", lambda t, x, y: x + y, [(), (3,)], [F64, F32]),
    OpCase("f32_add_f64_zerodim", lambda t, x, y: x * y, [(2, 3), ()], [F32, F64]),
    OpCase("int_zerodim_add_int32", lambda t, x, y: x + y, [(), (3,)], [I64, I32]),
    OpCase("f32_zerodim_add_int", lambda t, x, y: x + y, [(), (3,)], [F32, I64]),
    OpCase("f64_dim_add_f32_dim", lambda t, x, y: x + y, [(3,), (3,)], [F64, F32]),
    OpCase("int_pow_int", lambda t, x: x ** 2, [(4,)], I64),
    OpCase("int_pow_float", lambda t, x: x ** 0.5, [(4,)], I64, low=0, high=9),
    OpCase("float_pow_int_tensor", lambda t, x: 2.5 ** x, [(4,)], I64),
    OpCase("int_rpow_int", lambda t, x: 2 ** x, [(4,)], I64, low=0, high=5),
    OpCase("bool_pow", lambda t, x: x ** 2, [(4,)], B),
    OpCase("float_rsub_int", lambda t, x: 1.5 - x, [(4,)], I64),
    OpCase("int_mod_float", lambda t, x: x % 1.5, [(4,)], I64),
    OpCase("int_clamp_float", lambda t, x: x.clamp(0.5), [(4,)], I64),
    OpCase("int_clamp_int", lambda t, x: x.clamp(0, 2), [(4,)], I64),
    OpCase("f32_mul_int_tensor", lambda t, x, y: x * y, [(3,), (3,)], [F32, I64]),
    OpCase("int_mul_numpy_int64", lambda t, x: x * np.int64(2), [(4,)], I64),
    OpCase("int_add_numpy_int32", lambda t, x: x + np.int32(1), [(4,)], I64),
    OpCase("int32_mul_numpy_int64", lambda t, x: x * np.int64(3), [(4,)], I32),
    OpCase("int_add_numpy_float32", lambda t, x: x + np.float32(0.5), [(4,)], I64),
    OpCase("half_mul_numpy_float64", lambda t, x: x * np.float64(3), [(4,)], F16, rtol=1e-3, atol=1e-3),
    OpCase("int_add_numpy_bool", lambda t, x: x + np.bool_(True), [(4,)], I64),  # torch: float
    OpCase("numpy_int64_mul_int", lambda t, x: np.int64(2) * x, [(4,)], I64),
    OpCase("numpy_int64_add_float", lambda t, x: np.int64(2) + x, [(4,)]),
    OpCase("numpy_float64_sub", lambda t, x: np.float64(2) - x, [(4,)]),
    OpCase("numpy_float64_rsub_int", lambda t, x: np.float64(2) - x, [(4,)], I64),
    OpCase("numpy_float32_div", lambda t, x: np.float32(2) / x, [(4,)], low=0.5, high=2),
    OpCase("numpy_float64_pow", lambda t, x: np.float64(2) ** x, [(4,)]),
    OpCase("numpy_float64_floordiv_int", lambda t, x: np.float64(7) // x, [(4,)], I64, low=1, high=5),
    OpCase("numpy_int64_mod_int", lambda t, x: np.int64(7) % x, [(4,)], I64, low=1, high=5),
    OpCase("numpy_float64_lt", lambda t, x: np.float64(0) < x, [(4,)]),
    OpCase("numpy_float64_eq", lambda t, x: np.float64(0) == x.round(), [(4,)]),
    OpCase("add_numpy_int_array", lambda t, x: x + np.array([1, 2, 3]), [(3,)], grad=False),
    OpCase("mul_numpy_float32_array", lambda t, x: x * np.array([1, 2, 3], np.float32), [(3,)], grad=False),
    OpCase("int_add_numpy_zerodim", lambda t, x: x + np.array(2.5), [(3,)], I64),
    OpCase("numpy_array_div", lambda t, x: np.array([1.0, 2.0, 3.0]) / x, [(3,)], low=0.5, high=2, grad=False),
    OpCase("numpy_array_eq", lambda t, x: np.array([1, 2, 3]) == x, [(3,)], I64),
    OpCase("eq_none", lambda t, x: x == None, [(3,)], I64),  # noqa: E711
    OpCase("ne_none", lambda t, x: x != None, [(3,)], I64),  # noqa: E711
    OpCase("eq_str", lambda t, x: x == "a", [(3,)]),
    OpCase("error_lt_none", lambda t, x: x < None, [(3,)]),
    OpCase("error_add_none", lambda t, x: x + None, [(3,)], message=True),
    OpCase("error_numpy_array_sub", lambda t, x: np.array([1.0, 2.0, 3.0]) - x, [(3,)], message=True),
    OpCase("error_numpy_array_add", lambda t, x: np.array([1.0, 2.0, 3.0]) + x, [(3,)], message=True),
    OpCase("error_numpy_scalar_matmul", lambda t, x: np.float64(2) @ x, [(3,)], message=True),
    # --- arithmetic ----------------------------------------------------------------------------
    OpCase("add", lambda t, x, y: x + y, [(3, 4), (3, 4)]),
    OpCase("add_scalar", lambda t, x: x + 2.5, [(3, 4)]),
    OpCase("radd_scalar", lambda t, x: 2.5 + x, [(3, 4)]),
    OpCase("add_alpha", lambda t, x, y: t.add(x, y, alpha=2), [(3,), (3,)]),
    OpCase("add_broadcast", lambda t, x, y: x + y, [(3, 1), (1, 4)]),
    OpCase("add_broadcast_rank", lambda t, x, y: x + y, [(4,), (2, 3, 4)]),
    OpCase("add_f64", lambda t, x, y: x + y, [(3,), (3,)], F64),
    OpCase("add_int", lambda t, x, y: x + y, [(3,), (3,)], I64),
    OpCase("add_noncontig", lambda t, x, y: x.t() + y[:, ::2], [(4, 3), (3, 8)]),
    OpCase("sub", lambda t, x, y: x - y, [(3, 4), (3, 4)]),
    OpCase("sub_scalar", lambda t, x: x - 1, [(3,)]),
    OpCase("rsub_scalar", lambda t, x: 1 - x, [(3,)]),
    OpCase("rsub_fn", lambda t, x: t.rsub(x, 2), [(3,)]),
    OpCase("sub_alpha", lambda t, x, y: t.sub(x, y, alpha=3), [(3,), (3,)]),
    OpCase("sub_broadcast", lambda t, x, y: x - y, [(3, 1), (1, 4)]),
    OpCase("mul", lambda t, x, y: x * y, [(3, 4), (3, 4)]),
    OpCase("mul_scalar", lambda t, x: x * 3, [(3,)]),
    OpCase("rmul_scalar", lambda t, x: 3 * x, [(3,)]),
    OpCase("mul_broadcast", lambda t, x, y: x * y, [(4,), (2, 3, 4)]),
    OpCase("mul_int", lambda t, x, y: x * y, [(3,), (3,)], I64),
    OpCase("div", lambda t, x, y: x / y, [(3, 4), (3, 4)], low=0.5, high=2),
    OpCase("div_scalar", lambda t, x: x / 4, [(3,)]),
    OpCase("rdiv_scalar", lambda t, x: 2 / x, [(3,)], low=0.5, high=2),
    OpCase("div_broadcast", lambda t, x, y: x / y, [(3, 1), (1, 4)], low=0.5, high=2),
    OpCase("div_trunc", lambda t, x, y: t.div(x, y, rounding_mode="trunc"), [(6,), (6,)], low=-3, high=3),
    OpCase("div_floor", lambda t, x, y: t.div(x, y, rounding_mode="floor"), [(6,), (6,)], low=-3, high=3),
    OpCase("div_floor_int", lambda t, x, y: t.div(x, y, rounding_mode="floor"), [(6,), (6,)], I64, low=1, high=6),
    OpCase("floordiv", lambda t, x, y: x // y, [(6,), (6,)], low=0.5, high=4),
    OpCase("floordiv_scalar", lambda t, x: x // 0.7, [(6,)]),
    OpCase("floordiv_int", lambda t, x, y: x // y, [(6,), (6,)], I64, low=1, high=6),
    OpCase("rfloordiv_scalar", lambda t, x: 5 // x, [(6,)], I64, low=1, high=6),
    OpCase("rfloordiv_float", lambda t, x: 5 // x, [(6,)], low=0.5, high=3),
    OpCase("floordiv_fn", lambda t, x, y: t.floor_divide(x, y), [(6,), (6,)], low=0.5, high=3),
    OpCase("mod", lambda t, x, y: x % y, [(6,), (6,)], low=0.5, high=4),
    OpCase("mod_scalar", lambda t, x: x % 1.5, [(6,)]),
    OpCase("mod_int", lambda t, x: x % 3, [(6,)], I64),
    OpCase("rmod_scalar", lambda t, x: 7 % x, [(6,)], I64, low=1, high=6),
    OpCase("rmod_float", lambda t, x: 7 % x, [(6,)], low=0.5, high=3),
    OpCase("remainder_fn_scalar_first", lambda t, x: t.remainder(7.5, x), [(6,)], low=0.5, high=3),
    OpCase("pow_tensor", lambda t, x, y: x ** y, [(3, 4), (3, 4)], low=0.5, high=2),
    OpCase("pow_scalar", lambda t, x: x ** 3, [(3, 4)]),
    OpCase("pow_float_scalar", lambda t, x: x ** 1.5, [(3, 4)], low=0.5, high=2),
    OpCase("rpow_scalar", lambda t, x: 2 ** x, [(3, 4)]),
    OpCase("pow_fn", lambda t, x: t.pow(x, 2), [(3,)]),
    OpCase("pow_fn_rscalar", lambda t, x: t.pow(3.0, x), [(3,)]),
    OpCase("pow_broadcast", lambda t, x, y: x ** y, [(3, 1), (4,)], low=0.5, high=2),
    OpCase("neg_op", lambda t, x: -x, [(3,)]),
    OpCase("neg_int", lambda t, x: -x, [(3,)], I64),
    # --- unary math ----------------------------------------------------------------------------
    OpCase("neg", lambda t, x: t.neg(x), [(3, 4)]),
    OpCase("abs", lambda t, x: t.abs(x), [(3, 4)]),
    OpCase("abs_op", lambda t, x: abs(x), [(3,)]),
    OpCase("abs_int", lambda t, x: x.abs(), [(5,)], I64),
    OpCase("exp", lambda t, x: t.exp(x), [(3, 4)]),
    OpCase("exp_f64", lambda t, x: x.exp(), [(3,)], F64),
    OpCase("exp_int", lambda t, x: t.exp(x), [(3,)], I64),
    OpCase("exp_noncontig", lambda t, x: x.t()[::2].exp(), [(4, 3)]),
    OpCase("log", lambda t, x: t.log(x), [(3, 4)], low=0.1, high=3),
    OpCase("log_int", lambda t, x: t.log(x), [(3,)], I64, low=1, high=9),
    OpCase("log2", lambda t, x: t.log2(x), [(3, 4)], low=0.1, high=3),
    OpCase("log1p", lambda t, x: t.log1p(x), [(3, 4)], low=-0.5, high=3),
    OpCase("expm1", lambda t, x: t.expm1(x), [(3, 4)]),
    OpCase("sqrt", lambda t, x: t.sqrt(x), [(3, 4)], low=0.1, high=3),
    OpCase("sqrt_f64", lambda t, x: x.sqrt(), [(3,)], F64, low=0.1, high=3),
    OpCase("rsqrt", lambda t, x: t.rsqrt(x), [(3, 4)], low=0.1, high=3),
    OpCase("sin", lambda t, x: t.sin(x), [(3, 4)]),
    OpCase("cos", lambda t, x: t.cos(x), [(3, 4)]),
    OpCase("tan", lambda t, x: t.tan(x), [(3, 4)], low=-1, high=1),
    OpCase("tanh", lambda t, x: t.tanh(x), [(3, 4)]),
    OpCase("sigmoid", lambda t, x: t.sigmoid(x), [(3, 4)]),
    OpCase("relu", lambda t, x: t.relu(x), [(3, 4)]),
    OpCase("relu_int", lambda t, x: x.relu(), [(5,)], I64),
    OpCase("relu_", lambda t, x: _nonleaf(x).relu_(), [(3, 4)]),
    OpCase("softmax", lambda t, x: t.softmax(x, 1), [(3, 4)]),
    OpCase("softmax_method", lambda t, x: x.softmax(-1), [(2, 3, 4)]),
    OpCase("softmax_method_dtype", lambda t, x: x.softmax(0, t.float64), [(3, 4)]),
    OpCase("softmax_int", lambda t, x: t.softmax(x, 0), [(5,)], I64),
    OpCase("softmax_zerodim", lambda t, x: x.softmax(0), [()]),
    OpCase("log_softmax", lambda t, x: t.log_softmax(x, dim=0), [(3, 4)]),
    OpCase("log_softmax_method", lambda t, x: x.log_softmax(1, dtype=t.float64), [(3, 4)]),
    OpCase("error_softmax_no_dim", lambda t, x: x.softmax(), [(3, 4)]),
    OpCase("error_log_softmax_dim", lambda t, x: t.log_softmax(x, 2), [(3, 4)]),
    OpCase("sign", lambda t, x: t.sign(x), [(3, 4)]),
    OpCase("floor", lambda t, x: t.floor(x), [(3, 4)], low=-3, high=3),
    OpCase("ceil", lambda t, x: t.ceil(x), [(3, 4)], low=-3, high=3),
    OpCase("round", lambda t, x: t.round(x), [(3, 4)], low=-3, high=3),
    OpCase("round_half_even", lambda t, x: (x * 0 + t.tensor([0.5, 1.5, 2.5, -0.5])).round(), [(4,)]),
    OpCase("trunc", lambda t, x: t.trunc(x), [(3, 4)], low=-3, high=3),
    OpCase("reciprocal", lambda t, x: t.reciprocal(x), [(3, 4)], low=0.5, high=2),
    OpCase("square", lambda t, x: t.square(x), [(3, 4)]),
    OpCase("square_method", lambda t, x: x.square(), [(3,)], F64),
    OpCase("nan_to_num", lambda t, x: t.nan_to_num(x.log()), [(3, 4)]),
    OpCase(
        "nan_to_num_args",
        lambda t, x: x.mul(x.abs()).mul(1e38).nan_to_num(nan=0.5, posinf=2.0, neginf=-3.0),
        [(3, 4)],
    ),
    OpCase("nan_to_num_default_inf", lambda t, x: t.nan_to_num(x.mul(x.abs()).mul(1e38)), [(8,)]),
    OpCase("nan_to_num_", lambda t, x: _nonleaf(x).log().nan_to_num_(posinf=1.0), [(3, 4)]),
    OpCase("nan_to_num_int", lambda t, x: x.nan_to_num(), [(4,)], I64),
    OpCase("clamp", lambda t, x: t.clamp(x, -0.5, 0.5), [(3, 4)]),
    OpCase("clamp_min", lambda t, x: t.clamp(x, min=0.0), [(3, 4)]),
    OpCase("clamp_max", lambda t, x: x.clamp(max=0.2), [(3, 4)]),
    OpCase("clamp_min_fn", lambda t, x: t.clamp_min(x, 0.1), [(3, 4)]),
    OpCase("clamp_max_fn", lambda t, x: x.clamp_max(0.1), [(3, 4)]),
    OpCase("clamp_min_fn_tensor", lambda t, x, y: x.clamp_min(y), [(3, 4), (4,)]),
    OpCase("clamp_max_fn_tensor", lambda t, x, y: t.clamp_max(x, y), [(3, 4), (3, 4)]),
    OpCase("clamp_min_fn_", lambda t, x: _nonleaf(x).clamp_min_(0.0), [(3, 4)]),
    OpCase("clip", lambda t, x: t.clip(x, -0.3, 0.3), [(3, 4)]),
    OpCase("clamp_int", lambda t, x: x.clamp(-2, 2), [(6,)], I64),
    OpCase("clamp_tensors", lambda t, x, lo, hi: t.clamp(x, lo, hi - 2 * lo.abs()), [(3, 4), (3, 4), (4,)]),
    OpCase("clamp_tensor_min", lambda t, x, lo: t.clamp(x, min=lo), [(3, 4), (3, 4)]),
    OpCase("clamp_tensor_max", lambda t, x, hi: x.clamp(max=hi), [(3, 4), (1, 4)]),
    OpCase("maximum", lambda t, x, y: t.maximum(x, y), [(3, 4), (3, 4)]),
    OpCase("maximum_broadcast", lambda t, x, y: t.maximum(x, y), [(3, 1), (1, 4)]),
    OpCase("minimum", lambda t, x, y: t.minimum(x, y), [(3, 4), (3, 4)]),
    OpCase("minimum_int", lambda t, x, y: t.minimum(x, y), [(5,), (5,)], I64),
    OpCase("where", lambda t, x, y: t.where(x > 0, x, y), [(3, 4), (3, 4)]),
    OpCase("where_broadcast", lambda t, x, y: t.where(x > y, x, y), [(3, 1), (4,)]),
    OpCase("where_scalar", lambda t, x: t.where(x > 0, x, 0.0), [(3, 4)]),
    OpCase("where_scalar_first", lambda t, x: t.where(x > 0, 1.5, x), [(3, 4)]),
    OpCase("where_method", lambda t, x, y: x.where(x > 0, y), [(3, 4), (3, 4)]),
    OpCase("where_mixed_dtype", lambda t, x, y: t.where(x > 0, x, y), [(4,), (4,)], [F32, F64]),
    OpCase("lerp_scalar", lambda t, x, y: t.lerp(x, y, 0.3), [(3, 4), (3, 4)]),
    OpCase("lerp_tensor", lambda t, x, y, w: t.lerp(x, y, w), [(3, 4), (3, 4), (3, 4)]),
    OpCase("lerp_broadcast", lambda t, x, y, w: x.lerp(y, w), [(3, 4), (4,), (3, 1)]),
    # --- matrix products -----------------------------------------------------------------------
    OpCase("matmul_1d_1d", lambda t, x, y: x @ y, [(3,), (3,)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_2d_1d", lambda t, x, y: x @ y, [(2, 3), (3,)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_1d_2d", lambda t, x, y: x @ y, [(3,), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_2d_2d", lambda t, x, y: x @ y, [(2, 3), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_3d_2d", lambda t, x, y: t.matmul(x, y), [(2, 2, 3), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_2d_3d", lambda t, x, y: t.matmul(x, y), [(2, 3), (2, 3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_3d_3d", lambda t, x, y: x @ y, [(2, 2, 3), (2, 3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_3d_1d", lambda t, x, y: x @ y, [(2, 2, 3), (3,)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_1d_3d", lambda t, x, y: x @ y, [(3,), (2, 3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_bcast_batch", lambda t, x, y: x @ y, [(2, 1, 2, 3), (3, 3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("matmul_f64", lambda t, x, y: x @ y, [(2, 3), (3, 4)], F64),
    OpCase("matmul_int", lambda t, x, y: x @ y, [(2, 3), (3, 4)], I64),
    OpCase("matmul_noncontig", lambda t, x, y: x.t() @ y, [(3, 2), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("mm", lambda t, x, y: t.mm(x, y), [(2, 3), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("mm_method", lambda t, x, y: x.mm(y.t()), [(2, 3), (4, 3)], rtol=1e-4, atol=1e-5),
    OpCase("bmm", lambda t, x, y: t.bmm(x, y), [(2, 2, 3), (2, 3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("baddbmm", lambda t, x, a, b: t.baddbmm(x, a, b), [(2, 3, 5), (2, 3, 4), (2, 4, 5)], rtol=1e-4, atol=1e-5),
    OpCase("baddbmm_scaled_broadcast", lambda t, x, a, b: x.baddbmm(a, b, beta=0.5, alpha=2.0), [(3, 5), (2, 3, 4), (2, 4, 5)], rtol=1e-4, atol=1e-5),
    OpCase("baddbmm_beta0_nan", lambda t, a, b: t.full((2, 3, 5), float("nan")).baddbmm(a, b, beta=0), [(2, 3, 4), (2, 4, 5)], rtol=1e-4, atol=1e-5),
    OpCase("error_baddbmm_batch2", lambda t: t.baddbmm(t.ones(3, 5), t.ones(2, 3, 4), t.ones(2, 5, 5)), message=True),
    OpCase("mv", lambda t, x, y: t.mv(x, y), [(2, 3), (3,)], rtol=1e-4, atol=1e-5),
    OpCase("dot", lambda t, x, y: t.dot(x, y), [(5,), (5,)], rtol=1e-4, atol=1e-5),
    OpCase("outer", lambda t, x, y: t.outer(x, y), [(3,), (4,)]),
    OpCase("einsum_mm", lambda t, x, y: t.einsum("ij,jk->ik", x, y), [(2, 3), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("einsum_bmm", lambda t, x, y: t.einsum("bij,bjk->bik", x, y), [(2, 2, 3), (2, 3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("einsum_dot", lambda t, x, y: t.einsum("i,i->", x, y), [(5,), (5,)], rtol=1e-4, atol=1e-5),
    OpCase("einsum_outer", lambda t, x, y: t.einsum("i,j->ij", x, y), [(3,), (4,)]),
    OpCase("einsum_transpose", lambda t, x: t.einsum("ij->ji", x), [(2, 3)]),
    OpCase("einsum_sum", lambda t, x: t.einsum("ij->i", x), [(2, 3)]),
    OpCase("einsum_sum_all", lambda t, x: t.einsum("ij->", x), [(2, 3)]),
    OpCase("einsum_diag", lambda t, x: t.einsum("ii->i", x), [(3, 3)]),
    OpCase("einsum_trace", lambda t, x: t.einsum("ii", x), [(3, 3)]),
    OpCase("einsum_implicit", lambda t, x, y: t.einsum("ij,jk", x, y), [(2, 3), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("einsum_hadamard", lambda t, x, y: t.einsum("ij,ij->ij", x, y), [(2, 3), (2, 3)]),
    OpCase("einsum_partial", lambda t, x, y: t.einsum("ij,jk->ij", x, y), [(2, 3), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("einsum_three", lambda t, x, y, z: t.einsum("ij,jk,kl->il", x, y, z), [(2, 3), (3, 4), (4, 2)], rtol=1e-4, atol=1e-5),
    OpCase("einsum_three_mul", lambda t, x, y, z: t.einsum("i,j,k->ijk", x, y, z), [(2,), (3,), (4,)]),
    OpCase("einsum_list", lambda t, x, y: t.einsum("ij,j->i", [x, y]), [(2, 3), (3,)], rtol=1e-4, atol=1e-5),
    # --- reductions ----------------------------------------------------------------------------
    OpCase("sum", lambda t, x: x.sum(), [(3, 4)]),
    OpCase("sum_dim", lambda t, x: t.sum(x, dim=1), [(3, 4)]),
    OpCase("sum_axis", lambda t, x: x.sum(axis=0), [(3, 4)]),
    OpCase("sum_axis_fn", lambda t, x: t.sum(x, axis=1, keepdim=True), [(3, 4)]),
    OpCase("mean_axis", lambda t, x: x.mean(axis=1), [(3, 4)]),
    OpCase("std_axis", lambda t, x: x.std(axis=0), [(3, 4)]),
    OpCase("max_axis", lambda t, x: x.max(axis=0), [(3, 4)]),
    OpCase("argmax_axis", lambda t, x: x.argmax(axis=1), [(3, 4)]),
    OpCase("softmax_axis", lambda t, x: x.softmax(axis=1), [(3, 4)]),
    OpCase("cumsum_axis", lambda t, x: t.cumsum(x, axis=1), [(3, 4)]),
    OpCase("cat_axis", lambda t, x, y: t.cat([x, y], axis=1), [(2, 3), (2, 2)]),
    OpCase("stack_axis", lambda t, x, y: t.stack([x, y], axis=1), [(2, 3), (2, 3)]),
    OpCase("unsqueeze_axis", lambda t, x: x.unsqueeze(axis=0), [(2, 3)]),
    OpCase("permute_dims_kw", lambda t, x: x.permute(dims=(1, 0)), [(2, 3)]),
    OpCase("flip_dims_kw", lambda t, x: t.flip(x, dims=(0,)), [(2, 3)]),
    OpCase("reshape_shape_kw", lambda t, x: x.reshape(shape=(3, 2)), [(2, 3)]),
    OpCase("error_sum_dim_and_axis", lambda t, x: x.sum(0, axis=0), [(3, 4)]),
    OpCase("sum_dim_keepdim", lambda t, x: x.sum(0, keepdim=True), [(3, 4)]),
    OpCase("sum_neg_dim", lambda t, x: x.sum(-1), [(2, 3, 4)]),
    OpCase("sum_dims", lambda t, x: x.sum((0, 2)), [(2, 3, 4)]),
    OpCase("sum_int", lambda t, x: x.sum(), [(3, 4)], I64),
    OpCase("sum_int32_dim", lambda t, x: x.sum(0), [(3, 4)], I32),
    OpCase("sum_bool", lambda t, x: x.sum(), [(3, 4)], B),
    OpCase("sum_dtype", lambda t, x: x.sum(dtype=t.float64), [(3, 4)]),
    OpCase("sum_zerodim", lambda t, x: x.sum(), [()]),
    OpCase("sum_noncontig", lambda t, x: x.t()[1:].sum(0), [(4, 3)]),
    OpCase("mean", lambda t, x: x.mean(), [(3, 4)]),
    OpCase("mean_dim", lambda t, x: t.mean(x, 1), [(3, 4)]),
    OpCase("mean_dim_keepdim", lambda t, x: x.mean(dim=(0, 1), keepdim=True), [(2, 3, 4)]),
    OpCase("mean_f64", lambda t, x: x.mean(0), [(3, 4)], F64),
    OpCase("prod", lambda t, x: x.prod(), [(3, 4)], low=0.5, high=1.5),
    OpCase("prod_dim", lambda t, x: t.prod(x, 1), [(3, 4)], low=0.5, high=1.5),
    OpCase("prod_dim_keepdim", lambda t, x: x.prod(0, keepdim=True), [(3, 4)], low=0.5, high=1.5),
    OpCase("prod_int", lambda t, x: x.prod(1), [(3, 4)], I64),
    OpCase("max", lambda t, x: x.max(), [(3, 4)]),
    OpCase("max_dim", lambda t, x: x.max(dim=1), [(3, 4)]),
    OpCase("max_dim_keepdim", lambda t, x: t.max(x, 0, keepdim=True), [(3, 4)]),
    OpCase("max_dim_values", lambda t, x: x.max(-1).values, [(2, 3, 4)]),
    OpCase("max_dim_indices", lambda t, x: x.max(-1)[1], [(2, 3, 4)]),
    OpCase("max_binary", lambda t, x, y: t.max(x, y), [(3, 4), (4,)]),
    OpCase("max_int", lambda t, x: x.max(), [(7,)], I64),
    OpCase("min", lambda t, x: t.min(x), [(3, 4)]),
    OpCase("min_dim", lambda t, x: x.min(0), [(3, 4)]),
    OpCase("min_dim_keepdim", lambda t, x: x.min(1, keepdim=True), [(3, 4)]),
    OpCase("amax", lambda t, x: t.amax(x, 1), [(3, 4)]),
    OpCase("amax_dims_keepdim", lambda t, x: x.amax((0, 2), keepdim=True), [(2, 3, 4)]),
    OpCase("amax_all", lambda t, x: x.amax(), [(2, 3)]),
    OpCase("amin", lambda t, x: t.amin(x, 0), [(3, 4)]),
    OpCase("amin_keepdim", lambda t, x: x.amin(-1, keepdim=True), [(3, 4)]),
    OpCase("argmax", lambda t, x: x.argmax(), [(3, 4)]),
    OpCase("argmax_dim", lambda t, x: t.argmax(x, 1), [(3, 4)]),
    OpCase("argmax_keepdim", lambda t, x: x.argmax(0, keepdim=True), [(3, 4)]),
    OpCase("argmin", lambda t, x: t.argmin(x), [(3, 4)]),
    OpCase("argmin_dim", lambda t, x: x.argmin(dim=-1), [(2, 3, 4)]),
    OpCase("argmax_int_ties", lambda t, x: x.argmax(1), [(4, 6)], I64, low=0, high=3),
    OpCase("max_dim_int_ties", lambda t, x: x.max(0), [(6, 4)], I64, low=0, high=3),
    OpCase("std_f64", lambda t, x: x.std(1), [(3, 4)], F64),
    OpCase("std", lambda t, x: x.std(), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("std_dim", lambda t, x: t.std(x, 1), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("std_correction0", lambda t, x: x.std(0, correction=0), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("std_unbiased_false", lambda t, x: x.std(unbiased=False), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("std_keepdim", lambda t, x: x.std(dim=(0, 1), keepdim=True), [(2, 3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("var", lambda t, x: x.var(), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("var_dim", lambda t, x: t.var(x, 0), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("var_correction2", lambda t, x: x.var(1, correction=2), [(3, 5)], rtol=1e-4, atol=1e-5),
    OpCase("var_keepdim", lambda t, x: x.var(-1, keepdim=True), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("norm", lambda t, x: x.norm(), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("norm_fn", lambda t, x: t.norm(x), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("norm_p1", lambda t, x: x.norm(p=1), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("norm_dim", lambda t, x: x.norm(dim=1), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("norm_dim_keepdim", lambda t, x: x.norm(2, dim=0, keepdim=True), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("logsumexp", lambda t, x: t.logsumexp(x, 1), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("logsumexp_keepdim", lambda t, x: x.logsumexp(dim=0, keepdim=True), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("logsumexp_dims", lambda t, x: x.logsumexp((0, 1)), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("all", lambda t, x: x.all(), [(3, 4)], B),
    OpCase("all_dim", lambda t, x: t.all(x, 1), [(3, 4)], B),
    OpCase("all_float", lambda t, x: (x > -3).all(), [(3, 4)]),
    OpCase("any", lambda t, x: t.any(x), [(3, 4)], B),
    OpCase("any_dim_keepdim", lambda t, x: x.any(0, keepdim=True), [(3, 4)], B),
    OpCase("any_int", lambda t, x: x.any(), [(3, 4)], I64),
    OpCase("cumsum", lambda t, x: t.cumsum(x, 1), [(3, 4)]),
    OpCase("cumsum_neg_dim", lambda t, x: x.cumsum(dim=-2), [(2, 3, 4)]),
    OpCase("cumsum_int", lambda t, x: x.cumsum(0), [(5,)], I32),
    OpCase("cumprod", lambda t, x: t.cumprod(x, 1), [(3, 4)], low=0.5, high=1.5),
    OpCase("cumprod_dim0", lambda t, x: x.cumprod(0), [(3, 4)], rtol=1e-4, atol=1e-5),
    # --- sorting -------------------------------------------------------------------------------
    OpCase("sort", lambda t, x: t.sort(x), [(3, 5)]),
    OpCase("sort_dim0_descending", lambda t, x: x.sort(0, descending=True), [(4, 3)]),
    OpCase("sort_values", lambda t, x: x.sort(dim=-2).values, [(2, 4, 3)]),
    OpCase("sort_stable_ties", lambda t, x: x.sort(stable=True), [(3, 8)], I64, low=0, high=3),
    OpCase("sort_descending_ties", lambda t, x: t.sort(x, stable=True, dim=1, descending=True), [(3, 8)], I64, low=0, high=3),
    OpCase("sort_ties_grad", lambda t, x: at(t, x, [2.0, 1.0, 2.0, 2.0, 1.0, 0.0]).sort(descending=True), [(6,)]),
    OpCase("sort_nan_inf", lambda t, x: at(t, x, [1.0, float("nan"), -float("inf"), 0.0, -0.0]).sort(), [(5,)]),
    OpCase("sort_zerodim", lambda t, x: x.sort(), [()]),
    OpCase("sort_bool", lambda t, x: x.sort(), [(7,)], B),
    OpCase("argsort", lambda t, x: t.argsort(x), [(3, 5)]),
    OpCase("argsort_descending_ties", lambda t, x: x.argsort(dim=0, descending=True, stable=True), [(8, 2)], I64, low=0, high=3),
    OpCase("topk", lambda t, x: t.topk(x, 3), [(4, 6)]),
    OpCase("topk_dim0_smallest", lambda t, x: x.topk(2, dim=0, largest=False), [(4, 3)]),
    OpCase("topk_unsorted", lambda t, x: x.topk(3, sorted=False).values.sort().values, [(2, 6)]),
    OpCase("topk_all", lambda t, x: x.topk(5), [(5,)], F64),
    OpCase("topk_zero", lambda t, x: t.topk(x, 0, 1), [(3, 4)]),
    OpCase("topk_int", lambda t, x: x.topk(2), [(3, 4)], I64, low=-50, high=50),
    OpCase("error_topk_k", lambda t, x: x.topk(5), [(3, 4)]),
    OpCase("error_sort_dim", lambda t, x: x.sort(2), [(3, 4)]),
    # --- shape ---------------------------------------------------------------------------------
    OpCase("reshape", lambda t, x: x.reshape(4, 3), [(3, 4)]),
    OpCase("reshape_infer", lambda t, x: t.reshape(x, (-1,)), [(3, 4)]),
    OpCase("reshape_noncontig", lambda t, x: x.t().reshape(-1), [(3, 4)]),
    OpCase("contiguous_of_t", lambda t, x: x.t().contiguous(), [(3, 4)]),
    OpCase("reshape_contig_slice", lambda t, x: x[1:].reshape(-1), [(3, 4)]),
    OpCase("view", lambda t, x: x.view(2, 6), [(3, 4)]),
    OpCase("view_tuple", lambda t, x: x.view((-1, 2)), [(3, 4)]),
    OpCase("view_as", lambda t, x, y: x.view_as(y), [(3, 4), (6, 2)]),
    OpCase("flatten", lambda t, x: x.flatten(), [(2, 3, 4)]),
    OpCase("flatten_start", lambda t, x: t.flatten(x, 1), [(2, 3, 4)]),
    OpCase("flatten_range", lambda t, x: x.flatten(0, 1), [(2, 3, 4)]),
    OpCase("squeeze", lambda t, x: x.squeeze(), [(3, 1, 4, 1)]),
    OpCase("squeeze_dim", lambda t, x: t.squeeze(x, 1), [(3, 1, 4)]),
    OpCase("squeeze_dim_noop", lambda t, x: x.squeeze(0), [(3, 1, 4)]),
    OpCase("squeeze_dims", lambda t, x: x.squeeze((1, 3)), [(3, 1, 4, 1)]),
    OpCase("unsqueeze", lambda t, x: x.unsqueeze(0), [(3, 4)]),
    OpCase("unsqueeze_neg", lambda t, x: t.unsqueeze(x, -1), [(3, 4)]),
    OpCase("permute", lambda t, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    OpCase("permute_tuple", lambda t, x: t.permute(x, (1, 0, 2)), [(2, 3, 4)]),
    OpCase("transpose", lambda t, x: x.transpose(0, 2), [(2, 3, 4)]),
    OpCase("transpose_fn", lambda t, x: t.transpose(x, -1, -2), [(2, 3, 4)]),
    OpCase("t", lambda t, x: x.t(), [(3, 4)]),
    OpCase("t_fn", lambda t, x: t.t(x), [(3, 4)]),
    OpCase("T", lambda t, x: x.T, [(3, 4)]),
    OpCase("unfold_view", lambda t, x: x.unfold(1, 2, 1), [(3, 4)]),
    OpCase("unfold_step", lambda t, x: x.unfold(-1, 3, 2), [(2, 3, 7)]),
    OpCase("unfold_scalar", lambda t, x: x.unfold(0, 1, 1), [()]),
    OpCase("unfold_write_through", lambda t, x: _unfold_write(x), [(3, 4)]),
    OpCase("error_unfold_size", lambda t: t.ones(3, 4).unfold(1, 5, 1), message=True),
    OpCase("error_unfold_step", lambda t: t.ones(3, 4).unfold(1, 2, 0), message=True),
    OpCase("error_F_unfold_2d", lambda t: t.nn.functional.unfold(t.ones(3, 4), 2), message=True),
    OpCase("error_F_unfold_5d", lambda t: t.nn.functional.unfold(t.ones(1, 1, 1, 3, 4), 2), message=True),
    OpCase("error_F_unfold_no_blocks", lambda t: t.nn.functional.unfold(t.ones(1, 3, 4, 4), 5), message=True),
    OpCase("error_F_fold_channels", lambda t: t.nn.functional.fold(t.ones(1, 5, 9), 4, 2), message=True),
    OpCase("error_F_fold_4d", lambda t: t.nn.functional.fold(t.ones(1, 2, 3, 4), 4, 2), message=True),
    OpCase("error_F_fold_blocks", lambda t: t.nn.functional.fold(t.ones(1, 4, 5), 4, 2), message=True),
    OpCase("expand", lambda t, x: x.expand(2, 3, 4), [(3, 1)]),
    OpCase("expand_neg", lambda t, x: x.expand(-1, 5), [(3, 1)]),
    OpCase("expand_as", lambda t, x, y: x.expand_as(y), [(4,), (3, 4)]),
    OpCase("error_expand_fewer_sizes", lambda t, x: x.expand(3), [(2, 3)], message=True),
    OpCase("error_expand_fewer_sizes_int", lambda t, x: x.expand(1), [(2, 3)], I64, message=True),
    OpCase("repeat", lambda t, x: x.repeat(2, 3), [(3, 4)]),
    OpCase("repeat_more_dims", lambda t, x: x.repeat(2, 1, 2), [(3, 4)]),
    OpCase("contiguous_noop", lambda t, x: x.contiguous(), [(3, 4)]),
    OpCase("flip", lambda t, x: x.flip(0), [(3, 4)]),
    OpCase("flip_dims", lambda t, x: t.flip(x, (0, 1)), [(3, 4)]),
    OpCase("roll", lambda t, x: x.roll(1, 0), [(3, 4)]),
    OpCase("roll_dims", lambda t, x: t.roll(x, (1, -2), (0, 1)), [(3, 4)]),
    OpCase("roll_flat", lambda t, x: x.roll(5), [(3, 4)]),
    OpCase("cat", lambda t, x, y: t.cat([x, y]), [(2, 4), (3, 4)]),
    OpCase("cat_dim1", lambda t, x, y: t.cat((x, y), dim=1), [(3, 2), (3, 4)]),
    OpCase("cat_neg_dim", lambda t, x, y, z: t.cat([x, y, z], -1), [(2, 1), (2, 3), (2, 2)]),
    OpCase("cat_mixed_dtype", lambda t, x, y: t.cat([x, y]), [(2,), (3,)], [F32, F64]),
    OpCase("cat_int", lambda t, x, y: t.cat([x, y]), [(2,), (3,)], I64),
    OpCase("stack", lambda t, x, y: t.stack([x, y]), [(3, 4), (3, 4)]),
    OpCase("stack_dim", lambda t, x, y: t.stack((x, y), dim=-1), [(3, 4), (3, 4)]),
    OpCase("stack_dim_too_big", lambda t, x, y: t.stack([x, y], 3), [(3,), (3,)]),
    OpCase("stack_dim_too_small", lambda t, x, y: t.stack([x, y], -3), [(3,), (3,)]),
    OpCase("unsqueeze_dim_too_big", lambda t, x: x.unsqueeze(2), [(3,)]),
    OpCase("split", lambda t, x: x.split(2), [(5, 3)]),
    OpCase("split_sizes", lambda t, x: t.split(x, [1, 3], dim=1), [(2, 4)]),
    OpCase("chunk", lambda t, x: x.chunk(3), [(7, 2)]),
    OpCase("chunk_dim", lambda t, x: t.chunk(x, 2, dim=1), [(2, 4)]),
    OpCase("unbind", lambda t, x: x.unbind(), [(3, 4)]),
    OpCase("unbind_dim", lambda t, x: t.unbind(x, 1), [(3, 4)]),
    OpCase("gather", lambda t, x: t.gather(x, 1, t.tensor([[0, 2], [1, 1], [3, 0]])), [(3, 4)]),
    OpCase("gather_dim0", lambda t, x: x.gather(0, t.tensor([[2, 0, 1, 1]])), [(3, 4)]),
    OpCase("scatter_src", lambda t, x, y: t.scatter(x, 1, t.tensor([[0, 2], [1, 3]]), y), [(2, 4), (2, 2)]),
    OpCase("scatter_value", lambda t, x: x.scatter(0, t.tensor([[1, 0, 1, 0]]), 2.5), [(2, 4)]),
    OpCase("index_select", lambda t, x: t.index_select(x, 0, t.tensor([2, 0, 2])), [(3, 4)]),
    OpCase("index_select_dim1", lambda t, x: x.index_select(1, t.tensor([3, 1])), [(3, 4)]),
    OpCase("gather_index_smaller_than_input", lambda t, x: x.gather(0, t.tensor([[0], [1]])), [(2, 3)]),
    OpCase("gather_index_smaller_dim1", lambda t, x: x.gather(1, t.tensor([[2, 0]])), [(3, 4)]),
    OpCase("error_gather_bounds", lambda t, x: x.gather(0, t.tensor([3])), [(3,)], message=True),
    OpCase("error_gather_negative", lambda t, x: x.gather(-1, t.tensor([[-1]])), [(2, 3)], message=True),
    OpCase("error_scatter_bounds", lambda t, x: x.scatter(0, t.tensor([3]), 1.0), [(3,)], message=True),
    OpCase("error_scatter_src_bounds", lambda t, x, y: t.scatter(x, 1, t.tensor([[0, 4]]), y), [(2, 4), (1, 2)], message=True),
    OpCase("error_scatter_add_negative", lambda t, x, y: x.scatter_add(0, t.tensor([-1]), y), [(3,), (1,)], message=True),
    OpCase("error_scatter_", lambda t, x: _nonleaf(x).scatter_(0, t.tensor([3]), 1.0), [(3,)], message=True),
    OpCase("error_index_select_bounds", lambda t, x: x.index_select(0, t.tensor([5])), [(3,)], message=True),
    OpCase("error_index_select_negative", lambda t, x: t.index_select(x, 0, t.tensor([-1])), [(3,)], message=True),
    OpCase("error_index_select_dim1", lambda t, x: x.index_select(1, t.tensor([3])), [(2, 3)], message=True),
    OpCase("error_index_select_dim2", lambda t, x: x.index_select(2, t.tensor([4])), [(2, 3, 4)], message=True),
    OpCase("masked_select_broadcast_mask", lambda t, x: t.masked_select(x, t.tensor([True, False, True])), [(2, 3)], I64),
    OpCase("masked_select_broadcast_both", lambda t, x: t.masked_select(x, t.tensor([[True], [False]])), [(3,)], I64),
    OpCase("error_masked_select_shapes", lambda t, x: t.masked_select(x, t.tensor([[True, False]] * 3)), [(2, 3)], message=True),
    OpCase("error_masked_select_int_mask", lambda t, x: t.masked_select(x, t.tensor([1, 0, 1])), [(3,)], message=True),
    OpCase("masked_fill", lambda t, x: x.masked_fill(x > 0, 0.5), [(3, 4)]),
    OpCase("masked_fill_fn", lambda t, x, y: t.masked_fill(x, y > 0, -1.0), [(3, 4), (4,)]),
    OpCase("masked_fill_tensor", lambda t, x, v: x.masked_fill(x < 0, v), [(3, 4), ()]),
    OpCase("masked_fill_int", lambda t, x: x.masked_fill(x > 0, 9), [(5,)], I64),
    OpCase("tril", lambda t, x: t.tril(x), [(4, 4)]),
    OpCase("tril_diag", lambda t, x: x.tril(-1), [(3, 4)]),
    OpCase("triu", lambda t, x: t.triu(x), [(4, 4)]),
    OpCase("triu_diag", lambda t, x: x.triu(1), [(3, 4)]),
    # --- __getitem__ ---------------------------------------------------------------------------
    OpCase("getitem_int", lambda t, x: x[1], [(3, 4)]),
    OpCase("getitem_neg_int", lambda t, x: x[-1], [(3, 4)]),
    OpCase("getitem_two_ints", lambda t, x: x[1, -2], [(3, 4)]),
    OpCase("getitem_slice", lambda t, x: x[1:3], [(4, 3)]),
    OpCase("getitem_slice_step", lambda t, x: x[::2], [(5, 3)]),
    OpCase("getitem_slice_2d", lambda t, x: x[:, 1:], [(3, 4)]),
    OpCase("getitem_slice_neg", lambda t, x: x[-3:-1, ::3], [(4, 5)]),
    OpCase("getitem_full_slice", lambda t, x: x[:], [(3, 4)]),
    OpCase("getitem_none", lambda t, x: x[None], [(3, 4)]),
    OpCase("getitem_none_mid", lambda t, x: x[:, None], [(3, 4)]),
    OpCase("getitem_ellipsis", lambda t, x: x[..., 1], [(2, 3, 4)]),
    OpCase("getitem_ellipsis_only", lambda t, x: x[...], [(2, 3)]),
    OpCase("getitem_ellipsis_none", lambda t, x: x[1, ..., None], [(2, 3, 4)]),
    OpCase("getitem_int_slice", lambda t, x: x[1, 1:3], [(3, 4)]),
    OpCase("getitem_bool_mask", lambda t, x: x[x > 0], [(3, 4)]),
    OpCase("getitem_bool_row_mask", lambda t, x: x[t.tensor([True, False, True])], [(3, 4)]),
    OpCase("getitem_int_tensor", lambda t, x: x[t.tensor([0, 2, 2])], [(3, 4)]),
    OpCase("getitem_int_tensor_2d", lambda t, x: x[t.tensor([[0, 1], [2, 0]])], [(3, 4)]),
    OpCase("getitem_list", lambda t, x: x[[0, 2]], [(3, 4)]),
    OpCase("getitem_two_tensors", lambda t, x: x[t.tensor([0, 1]), t.tensor([1, 3])], [(3, 4)]),
    OpCase("getitem_slice_list", lambda t, x: x[1:, [0, 2]], [(3, 4)]),
    OpCase("getitem_int_list", lambda t, x: x[1, [0, 3]], [(3, 4)]),
    OpCase("getitem_none_tensor", lambda t, x: x[None, t.tensor([2, 0])], [(3, 4)]),
    OpCase("getitem_noncontig", lambda t, x: x.t()[1:, 0], [(3, 4)]),
    OpCase("getitem_int_input", lambda t, x: x[1:, 0], [(3, 4)], I64),
    OpCase("getitem_index_tensor_edges", lambda t, x: x[t.tensor([-6, 5])], [(6,)]),
    OpCase("error_getitem_index_tensor_high", lambda t, x: x[t.tensor([7])], [(6,)], message=True),
    OpCase("error_getitem_index_tensor_low", lambda t, x: x[t.tensor([-7])], [(6,)], message=True),
    OpCase("error_getitem_index_tensor_first_bad", lambda t, x: x[t.tensor([1, 9, -8])], [(6,)], message=True),
    OpCase("error_getitem_index_int32", lambda t, x: x[t.tensor([7], dtype=t.int32)], [(6,)], message=True),
    OpCase("error_getitem_list_bounds", lambda t, x: x[[0, 6]], [(6,)], message=True),
    OpCase("error_getitem_index_after_slice", lambda t, x: x[:, t.tensor([3])], [(2, 3)], message=True),
    OpCase("error_getitem_index_after_int", lambda t, x: x[1, t.tensor([4])], [(2, 3, 4)], message=True),
    OpCase("error_getitem_second_index", lambda t, x: x[t.tensor([0]), :, t.tensor([5])], [(2, 3, 4)], message=True),
    OpCase("error_getitem_index_after_mask", lambda t, x: x[t.ones(2, 3, dtype=t.bool), t.tensor([5])], [(2, 3, 4)], message=True),
    OpCase("error_getitem_mask_shape", lambda t, x: x[t.tensor([True, False, True])], [(2, 3)], message=True),
    OpCase("error_getitem_mask_after_slice", lambda t, x: x[:, t.tensor([True, False])], [(2, 3)], message=True),
    OpCase("error_getitem_mask_after_ellipsis", lambda t, x: x[..., t.tensor([True, False])], [(2, 3)], message=True),
    OpCase("error_getitem_mask_2d", lambda t, x: x[t.ones(2, 2, dtype=t.bool)], [(2, 3)], message=True),
    OpCase("error_getitem_mask_too_many", lambda t, x: x[t.ones(2, 2, dtype=t.bool)], [(3,)], message=True),
    OpCase("error_getitem_negative_step", lambda t, x: x[::-1], [(5,)], message=True),
    OpCase("error_getitem_negative_step_2d", lambda t, x: x[:, 3:0:-2], [(2, 5)], message=True),
    OpCase("error_getitem_zero_step", lambda t, x: x[::0], [(5,)], message=True),
    # --- __setitem__ on a non-leaf -------------------------------------------------------------
    OpCase("setitem_int_scalar", _setitem(0, 1.5), [(3, 4)]),
    OpCase("setitem_slice_scalar", _setitem((slice(None), 1), -2.0), [(3, 4)]),
    OpCase("setitem_slice_tensor", _setitem((slice(None), 1)), [(3, 4), (3,)]),
    OpCase("setitem_broadcast_tensor", _setitem((slice(1, 3), slice(None, None, 2))), [(3, 4), (2,)]),
    OpCase("setitem_ellipsis", _setitem((Ellipsis, 0)), [(2, 3, 4), (2, 3)]),
    OpCase("setitem_mask_scalar", _setitem(lambda t, y: y > 0, 0.0), [(3, 4)]),
    OpCase("setitem_list_tensor", _setitem([0, 2]), [(3, 4), (2, 4)]),
    OpCase("setitem_tensor_index", _setitem(lambda t, y: t.tensor([1, 0])), [(3, 4), (4,)]),
    OpCase("setitem_iadd", lambda t, x: _iadd_item(x, 1, 2.0), [(3, 4)]),
    OpCase("setitem_int_dtype", _setitem(1, 7), [(3, 2)], I64),
    OpCase("setitem_f64_value", _setitem(1), [(3, 2), (2,)], [F32, F64]),
    OpCase("error_setitem_index_tensor", _setitem(lambda t, y: t.tensor([5]), 1.0), [(3,)], message=True),
    OpCase("error_setitem_index_negative", _setitem(lambda t, y: t.tensor([0, -4])), [(3,), (2,)], message=True),
    OpCase("error_setitem_mask_shape", _setitem(lambda t, y: t.tensor([True, False, True]), 0.0), [(2, 3)], message=True),
    OpCase("setitem_uint8_wraps", _setitem(0, -255), [(3,)], "uint8", low=0, high=5),
    OpCase("setitem_float16_overflow_inf", _setitem(0, 1e10), [(3,)], F16),
    OpCase("error_setitem_int64_float_overflow", _setitem(0, 1e20), [(3,)], I64, message=True),
    OpCase("error_setitem_int64_overflow", _setitem(0, 2**63), [(3,)], I64, message=True),
    OpCase("error_setitem_int32_overflow", _setitem(slice(None), 2**40), [(3,)], I32, message=True),
    OpCase("error_setitem_uint8_overflow", _setitem(0, 300), [(3,)], "uint8", low=0, high=5, message=True),
    OpCase("error_setitem_int_nan", _setitem(lambda t, y: t.tensor([True, False, True]), float("nan")), [(3,)], I32, message=True),
    OpCase("error_setitem_float32_overflow", _setitem(0, 1e300), [(3,)], grad=False, message=True),
    OpCase("error_fill_uint8_overflow", lambda t, x: x.clone().fill_(300), [(3,)], "uint8", low=0, high=5, message=True),
    OpCase("error_setitem_negative_step", _setitem(slice(None, None, -1), 0.0), [(5,)], message=True),
    OpCase("error_setitem_value_shape", _setitem((slice(0, 2), 0)), [(3, 2, 3), (2, 4)], message=True),
    OpCase("error_setitem_value_length", _setitem(0), [(3, 4), (3,)], message=True),
    OpCase("setitem_value_leading_ones", _setitem(slice(0, 2)), [(3, 4), (1, 1, 4)]),
    OpCase("error_setitem_iadd_int_float", lambda t, x: _iadd_item(x, 1, 1.5), [(3, 4)], I64, message=True),
    # --- comparisons and logic -----------------------------------------------------------------
    OpCase("eq", lambda t, x, y: t.eq(x, y), [(6,), (6,)], I64, low=0, high=3),
    OpCase("eq_op_scalar", lambda t, x: x == 1, [(6,)], I64, low=0, high=3),
    OpCase("ne", lambda t, x, y: t.ne(x, y), [(6,), (6,)], I64, low=0, high=3),
    OpCase("ne_op", lambda t, x, y: x != y, [(3, 1), (4,)], I64, low=0, high=3),
    OpCase("lt", lambda t, x, y: t.lt(x, y), [(3, 4), (3, 4)]),
    OpCase("lt_op", lambda t, x: x < 0, [(3, 4)]),
    OpCase("le", lambda t, x, y: t.le(x, y), [(6,), (6,)], I64, low=0, high=3),
    OpCase("le_op", lambda t, x, y: x <= y, [(3, 1), (1, 4)]),
    OpCase("gt", lambda t, x, y: t.gt(x, y), [(3, 4), (3, 4)]),
    OpCase("gt_op_scalar", lambda t, x: x > 0.25, [(3, 4)]),
    OpCase("gt_reflected", lambda t, x: 0.25 < x, [(3, 4)]),
    OpCase("ge", lambda t, x, y: t.ge(x, y), [(6,), (6,)], I64, low=0, high=3),
    OpCase("ge_op_mixed", lambda t, x, y: x >= y, [(4,), (4,)], [F32, I64]),
    OpCase("equal_true", lambda t, x: t.equal(x, x.clone()), [(3, 4)]),
    OpCase("equal_false", lambda t, x, y: t.equal(x, y), [(3, 4), (3, 4)]),
    OpCase("equal_shape", lambda t, x: x.equal(x[:2]), [(3, 4)]),
    OpCase("allclose", lambda t, x: t.allclose(x, x + 1e-7), [(3, 4)]),
    OpCase("allclose_false", lambda t, x, y: x.allclose(y), [(3, 4), (3, 4)]),
    OpCase("isclose", lambda t, x, y: t.isclose(x, x + y * 1e-3, atol=1e-3), [(3, 4), (3, 4)]),
    OpCase("isnan", lambda t, x: t.isnan(t.log(x)), [(3, 4)]),
    OpCase("isinf", lambda t, x: t.isinf(t.exp(x * 100)), [(3, 4)]),
    OpCase("isfinite", lambda t, x: x.log().isfinite(), [(3, 4)]),
    OpCase("isnan_int", lambda t, x: x.isnan(), [(3,)], I64),
    OpCase("logical_and", lambda t, x, y: t.logical_and(x, y), [(3, 4), (3, 4)], B),
    OpCase("logical_or", lambda t, x, y: t.logical_or(x, y), [(3, 4), (4,)], B),
    OpCase("logical_not", lambda t, x: t.logical_not(x), [(3, 4)], B),
    OpCase("logical_not_float", lambda t, x: (x * (x > 0)).logical_not(), [(3, 4)]),
    OpCase("logical_xor", lambda t, x, y: x.logical_xor(y), [(3, 4), (3, 4)], B),
    OpCase("logical_and_float", lambda t, x, y: t.logical_and(x > 0, y), [(5,), (5,)], I64),
    OpCase("invert_bool", lambda t, x: ~x, [(5,)], B),
    # --- in-place on a non-leaf ----------------------------------------------------------------
    OpCase("add_", lambda t, x, y: _nonleaf(x).add_(y), [(3, 4), (3, 4)]),
    OpCase("add_scalar_", lambda t, x: _nonleaf(x).add_(2), [(3, 4)]),
    OpCase("add_alpha_", lambda t, x, y: _nonleaf(x).add_(y, alpha=0.5), [(3, 4), (4,)]),
    OpCase("iadd", lambda t, x, y: _nonleaf(x).__iadd__(y), [(3, 4), (3, 4)]),
    OpCase("sub_", lambda t, x, y: _nonleaf(x).sub_(y), [(3, 4), (1, 4)]),
    OpCase("mul_", lambda t, x, y: _nonleaf(x).mul_(y), [(3, 4), (3, 4)]),
    OpCase("mul_scalar_", lambda t, x: _nonleaf(x).mul_(3), [(3, 4)]),
    OpCase("div_", lambda t, x, y: _nonleaf(x).div_(y), [(3, 4), (3, 4)], low=0.5, high=2),
    OpCase("div_scalar_", lambda t, x: _nonleaf(x).div_(4), [(3, 4)]),
    OpCase("pow_", lambda t, x: _nonleaf(x).pow_(2), [(3, 4)]),
    OpCase("pow_tensor_", lambda t, x, y: _nonleaf(x).pow_(y), [(3, 4), (3, 4)], low=0.5, high=2),
    OpCase("zero_", lambda t, x: _nonleaf(x).zero_(), [(3, 4)]),
    OpCase("fill_", lambda t, x: _nonleaf(x).fill_(1.5), [(3, 4)]),
    OpCase("fill_tensor_", lambda t, x, v: _nonleaf(x).fill_(v), [(3, 4), ()]),
    OpCase("copy_", lambda t, x, y: _nonleaf(x).copy_(y), [(3, 4), (3, 4)]),
    OpCase("copy_broadcast_", lambda t, x, y: _nonleaf(x).copy_(y), [(3, 4), (4,)]),
    OpCase("copy_dtype_", lambda t, x, y: _nonleaf(x).copy_(y), [(3, 4), (3, 4)], [F32, F64]),
    OpCase("clamp_", lambda t, x: _nonleaf(x).clamp_(-0.5, 0.5), [(3, 4)]),
    OpCase("clamp_min_", lambda t, x: _nonleaf(x).clamp_(min=0), [(3, 4)]),
    # in-place forms of unary math ops, each on inputs in its domain
    *(
        OpCase(f"{name}_", lambda t, x, name=name: getattr(_nonleaf(x), f"{name}_")(), [(3, 4)], low=low, high=high)
        for name, low, high in (
            ("absolute", None, None), ("acos", -0.9, 0.9), ("asin", -0.9, 0.9), ("atan", None, None),
            ("cosh", None, None), ("sinh", None, None), ("tan", -1.0, 1.0), ("expm1", None, None),
            ("erf", None, None), ("exp2", None, None), ("log10", 0.5, 3.0), ("log1p", 0.0, 3.0),
            ("log2", 0.5, 3.0), ("negative", None, None), ("logit", 0.1, 0.9), ("lgamma", 0.5, 3.0),
            ("digamma", 0.5, 3.0), ("erfc", None, None), ("erfinv", -0.9, 0.9), ("i0", None, None),
            ("sinc", None, None), ("frac", None, None), ("fix", None, None), ("deg2rad", None, None),
            ("rad2deg", None, None), ("acosh", 1.5, 3.0), ("asinh", None, None), ("atanh", -0.9, 0.9),
            ("arccos", -0.9, 0.9), ("arcsin", -0.9, 0.9), ("arctan", None, None), ("arccosh", 1.5, 3.0),
            ("arcsinh", None, None), ("arctanh", -0.9, 0.9),
        )
    ),
    *(
        OpCase(f"{name}_", lambda t, x, y, name=name: getattr(_nonleaf(x), f"{name}_")(y), [(3, 4), (4,)], low=0.5, high=2.0)
        for name in ("hypot", "xlogy", "copysign", "nextafter", "igamma", "igammac")
    ),
    # sgn's gradient is torch's ZeroTensor, which numpy cannot read: summed with x's own
    OpCase("sgn_", lambda t, x: (_nonleaf(x).sgn_(), x * 1), [(3, 4)]),
    OpCase("addcmul_", lambda t, x, a, b: _nonleaf(x).addcmul_(a, b, value=0.5), [(3, 4), (3, 4), (4,)]),
    OpCase("addcdiv_", lambda t, x, a, b: _nonleaf(x).addcdiv_(a, b, value=2), [(3, 4), (3, 4), (4,)], low=0.5, high=2.0),
    OpCase("ldexp_", lambda t, x, e: _nonleaf(x).ldexp_(e), [(3, 4), (4,)], [F32, I64]),
    OpCase("polygamma_", lambda t, x: _nonleaf(x).polygamma_(1), [(3, 4)], low=0.5, high=3.0, rtol=1e-4),
    OpCase("mvlgamma_", lambda t, x: _nonleaf(x).mvlgamma_(2), [(3, 4)], low=1.5, high=3.0),
    OpCase("float_power_", lambda t, x: _nonleaf(x).float_power_(2), [(3, 4)], F64),
    OpCase("error_float_power_float32_", lambda t, x: _nonleaf(x).float_power_(2), [(3, 4)], message=True),
    OpCase("heaviside_", lambda t, x, v: x.clone().heaviside_(v), [(3, 4), (4,)], grad=False),
    OpCase("gcd_", lambda t, x, y: x.clone().gcd_(y), [(3, 4), (4,)], I64),
    OpCase("lcm_", lambda t, x, y: x.clone().lcm_(y), [(3, 4), (4,)], I64),
    OpCase("clip_", lambda t, x: _nonleaf(x).clip_(-0.5, 0.5), [(3, 4)]),
    *(
        OpCase(f"{name}_", lambda t, x, y, name=name: getattr(x.clone(), f"{name}_")(y), [(3, 4), (4,)], I64)
        for name in ("bitwise_and", "bitwise_or", "bitwise_xor")
    ),
    OpCase("bitwise_not_", lambda t, x: x.clone().bitwise_not_(), [(3, 4)], I64),
    OpCase("bitwise_not_bool_", lambda t, x: x.clone().bitwise_not_(), [(3, 4)], B),
    # torch records no node for a logical op in place: the gradient is the input's history's
    *(
        OpCase(f"{name}_", lambda t, x, y, name=name: getattr(_nonleaf(x), f"{name}_")(y), [(3, 4), (4,)], low=-1, high=1)
        for name in ("logical_and", "logical_or", "logical_xor")
    ),
    OpCase("logical_and_int_", lambda t, x, y: x.clone().logical_and_(y), [(3, 4), (4,)], [I64, B]),
    OpCase("logical_not_", lambda t, x: _nonleaf(x).logical_not_(), [(3, 4)], low=-1, high=1),
    *(
        OpCase(f"{name}_", lambda t, x, y, name=name: getattr(_nonleaf(x), f"{name}_")(y), [(3, 4), (4,)], low=-1, high=1)
        for name in ("eq", "ne", "lt", "le", "gt", "ge", "not_equal", "less", "less_equal", "greater", "greater_equal")
    ),
    OpCase("eq_equal_", lambda t, x, y: _nonleaf(x).eq_(x), [(3, 4), (4,)]),
    OpCase("lt_scalar_", lambda t, x: _nonleaf(x).lt_(0.25), [(3, 4)], low=-1, high=1),
    OpCase("ge_int_", lambda t, x, y: x.clone().ge_(y), [(3, 4), (4,)], I64),
    OpCase("ne_int_float_", lambda t, x, y: x.clone().ne_(y), [(3, 4), (4,)], [I64, F32], grad=False),
    OpCase("gt_bool_scalar_", lambda t, x: x.clone().gt_(0), [(3, 4)], B),
    OpCase("error_eq_broadcast_", lambda t, x, y: _nonleaf(x).eq_(y), [(4,), (3, 4)], message=True),
    OpCase("addmm_", lambda t, x, a, b: _nonleaf(x).addmm_(a, b, beta=0.5, alpha=2), [(3, 5), (3, 4), (4, 5)], F64),
    OpCase("addmv_", lambda t, x, a, v: _nonleaf(x).addmv_(a, v), [(2,), (2, 3), (3,)], F64),
    OpCase("addr_", lambda t, x, v, w: _nonleaf(x).addr_(v, w, alpha=-1), [(2, 3), (2,), (3,)], F64),
    *(
        OpCase(f"error_addr_input_{'x'.join(map(str, shape)) or 'scalar'}_", lambda t, x, v, w: _nonleaf(x).addr_(v, w), [shape, (3,), (4,)], message=True)
        for shape in ((3,), (4,), (1, 4), (3, 1), (2, 3, 4), ())
    ),
    OpCase("error_addr_vec_rank_", lambda t, x, v, w: _nonleaf(x).addr_(v, w), [(3, 4), (3, 1), (4,)], message=True),
    OpCase("addbmm_", lambda t, x, a, b: _nonleaf(x).addbmm_(a, b), [(3, 5), (2, 3, 4), (2, 4, 5)], F64),
    OpCase("baddbmm_", lambda t, x, a, b: _nonleaf(x).baddbmm_(a, b, beta=2), [(2, 3, 5), (2, 3, 4), (2, 4, 5)], F64),
    OpCase("error_addmm_shape_", lambda t, x, a, b: _nonleaf(x).addmm_(a, b), [(5,), (3, 4), (4, 5)], message=True),
    OpCase("error_addmv_shape_", lambda t, x, a, v: _nonleaf(x).addmv_(a, v), [(1,), (2, 3), (3,)], message=True),
    OpCase("error_baddbmm_shape_", lambda t, x, a, b: _nonleaf(x).baddbmm_(a, b), [(3, 5), (2, 3, 4), (2, 4, 5)], message=True),
    OpCase("index_copy_", lambda t, x, s: _nonleaf(x).index_copy_(0, t.tensor([2, 0]), s), [(3, 4), (2, 4)]),
    OpCase("masked_scatter_", lambda t, x, s: _nonleaf(x).masked_scatter_(x > 0, s), [(3, 4), (12,)]),
    OpCase("scatter_reduce_", lambda t, x, s: _nonleaf(x).scatter_reduce_(0, t.tensor([[0, 1, 0, 2], [2, 0, 1, 1]]), s, "amax"), [(3, 4), (2, 4)]),
    OpCase("renorm_", lambda t, x: _nonleaf(x).renorm_(2, 0, 1.0), [(3, 4)]),
    OpCase("subtract_", lambda t, x, y: _nonleaf(x).subtract_(y, alpha=2), [(3, 4), (4,)]),
    OpCase("multiply_", lambda t, x, y: _nonleaf(x).multiply_(y), [(3, 4), (3, 4)]),
    OpCase("divide_", lambda t, x, y: _nonleaf(x).divide_(y, rounding_mode="floor"), [(3, 4), (3, 4)], low=0.5, high=2),
    OpCase("true_divide_", lambda t, x, y: _nonleaf(x).true_divide_(y), [(3, 4), (3, 4)], low=0.5, high=2),
    OpCase("cumsum_", lambda t, x: _nonleaf(x).cumsum_(1), [(3, 4)]),
    OpCase("cumprod_", lambda t, x: _nonleaf(x).cumprod_(0), [(3, 4)], low=0.5, high=1.5),
    OpCase("tril_", lambda t, x: _nonleaf(x).tril_(), [(3, 4)]),
    OpCase("triu_", lambda t, x: _nonleaf(x).triu_(1), [(3, 4)]),
    OpCase("fill_diagonal_", lambda t, x: _nonleaf(x).fill_diagonal_(2.5), [(4, 3)]),
    OpCase("fill_diagonal_wide_", lambda t, x: _nonleaf(x).fill_diagonal_(-1), [(2, 5)]),
    OpCase("fill_diagonal_wrap_", lambda t, x: _nonleaf(x).fill_diagonal_(2.5, wrap=True), [(8, 3)]),
    OpCase("fill_diagonal_cube_", lambda t, x: _nonleaf(x).fill_diagonal_(0), [(3, 3, 3)]),
    OpCase("fill_diagonal_int_", lambda t, x: x.clone().fill_diagonal_(1.5), [(3, 3)], I64),
    OpCase("error_fill_diagonal_vector_", lambda t, x: x.clone().fill_diagonal_(1), [(3,)], message=True),
    OpCase("error_fill_diagonal_unequal_", lambda t, x: x.clone().fill_diagonal_(1), [(2, 3, 3)], message=True),
    OpCase("error_cumsum_int_into_", lambda t, x: x.clone().cumsum_(0, dtype=t.float32), [(3,)], I64, message=True),
    OpCase("inplace_int", lambda t, x: x.clone().add_(3).mul_(2), [(4,)], I64),
    OpCase("add_int32_int64_", lambda t, x, y: x.clone().add_(y), [(3,), (3,)], [I32, I64]),
    OpCase("add_half_float_", lambda t, x, y: x.clone().add_(y), [(3,), (3,)], [F16, F32], grad=False),
    OpCase("floor_int_", lambda t, x: x.clone().floor_(), [(3,)], I64),
    OpCase("error_idiv_int", lambda t, x: x.clone().__itruediv__(2), [(3,)], I64, message=True),
    OpCase("error_iadd_int_float", lambda t, x: x.clone().__iadd__(1.5), [(3,)], I64, message=True),
    OpCase("error_imul_int32_float", lambda t, x: x.clone().__imul__(2.0), [(3,)], I32, message=True),
    OpCase("error_add_int_float_", lambda t, x: x.clone().add_(1.0), [(3,)], I64, message=True),
    OpCase("error_mul_int_float_", lambda t, x: x.clone().mul_(1.5), [(3,)], I64, message=True),
    OpCase("error_div_int_", lambda t, x: x.clone().div_(2), [(3,)], I64, message=True),
    OpCase("error_add_int_float_tensor_", lambda t, x, y: x.clone().add_(y), [(3,), (3,)], [I64, F32], message=True),
    OpCase("error_add_int_float_zerodim_", lambda t, x, y: x.clone().add_(y), [(3,), ()], [I64, F32], message=True),
    OpCase("error_add_bool_int_", lambda t, x: x.clone().add_(1), [(3,)], B, message=True),
    OpCase("error_sqrt_int_", lambda t, x: x.clone().sqrt_(), [(3,)], I64, message=True),
    OpCase("error_div_int_view_", lambda t, x: x.clone()[1:].div_(2), [(3,)], I64, message=True),
    OpCase("inplace_chain", lambda t, x, y: (x.exp() * 1).mul_(y).add_(x), [(3, 4), (3, 4)]),
    OpCase("inplace_then_use", lambda t, x: _nonleaf(x).add_(1).sum(1), [(3, 4)]),
    OpCase("inplace_through_view", lambda t, x: _inplace_view(x), [(3, 4)]),
    # --- subgradients at ties, zeros and clamp boundaries --------------------------------------
    OpCase("abs_at_zero", lambda t, x: at(t, x, [-1.0, 0.0, 2.0]).abs(), [(3,)]),
    OpCase("relu_at_zero", lambda t, x: at(t, x, [-1.0, 0.0, 2.0]).relu(), [(3,)]),
    # torch passes NaN through with gradient 1, and -inf gives 0 with gradient 0.
    OpCase(
        "relu_special",
        lambda t, x: at(t, x, [-0.0, float("nan"), -float("inf"), float("inf")]).relu(),
        [(4,)],
    ),
    OpCase("sign_at_zero", lambda t, x: at(t, x, [-1.0, 0.0, 2.0]).sign(), [(3,)]),
    OpCase("clamp_at_bounds", lambda t, x: at(t, x, [-2.0, -1.0, 0.0, 1.0, 2.0]).clamp(-1, 1), [(5,)]),
    OpCase("clamp_nan_inf", lambda t, x: at(t, x, [float("nan"), -float("inf"), float("inf")]).clamp(-1, 1), [(3,)]),
    OpCase("clamp_tensor_at_bounds", lambda t, x, lo: at(t, x, [-1.0, 0.0, 1.0]).clamp(at(t, lo, [-1.0, -1.0, 1.0])), [(3,), (3,)]),
    OpCase("maximum_ties", lambda t, x, y: t.maximum(at(t, x, [1.0, 2.0]), at(t, y, [1.0, 0.0])), [(2,), (2,)]),
    OpCase("minimum_ties", lambda t, x, y: t.minimum(at(t, x, [1.0, 2.0]), at(t, y, [1.0, 0.0])), [(2,), (2,)]),
    OpCase("max_all_ties", lambda t, x: at(t, x, [3.0, 1.0, 3.0, 3.0]).max(), [(4,)]),
    OpCase("min_dim_ties", lambda t, x: at(t, x, [[1.0, 0.0, 0.0], [2.0, 2.0, 5.0]]).min(1), [(2, 3)]),
    OpCase("amax_ties", lambda t, x: at(t, x, [[3.0, 1.0, 3.0], [0.0, 0.0, 0.0]]).amax(1), [(2, 3)]),
    OpCase("argmax_ties", lambda t, x: at(t, x, [1.0, 3.0, 3.0, 0.0]).argmax(), [(4,)]),
    OpCase("prod_with_zero", lambda t, x: at(t, x, [[1.5, 0.0, 2.0], [0.0, 0.0, 3.0]]).prod(1), [(2, 3)]),
    OpCase("prod_all_with_zero", lambda t, x: at(t, x, [1.5, 0.0, 2.0]).prod(), [(3,)]),
    OpCase("cumprod_with_zero", lambda t, x: at(t, x, [1.5, 0.0, 2.0, 3.0]).cumprod(0), [(4,)]),
    OpCase("norm_at_zero", lambda t, x: (x * 0).norm(), [(3,)]),
    OpCase("norm_dim_at_zero", lambda t, x: at(t, x, [[0.0, 0.0], [3.0, 4.0]]).norm(dim=1), [(2, 2)]),
    OpCase("norm_p1_at_zero", lambda t, x: at(t, x, [0.0, -2.0, 1.0]).norm(p=1), [(3,)]),
    OpCase("norm_p3", lambda t, x: x.norm(p=3), [(3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("norm_inf_dim", lambda t, x: x.norm(p=float("inf"), dim=1), [(3, 4)]),
    OpCase("clamp_min_above_max", lambda t, x: x.clamp(1, -1), [(5,)]),
    OpCase("sqrt_at_zero", lambda t, x: at(t, x, [0.0, 4.0]).sqrt(), [(2,)]),
    OpCase("pow_zero_exponent", lambda t, x: at(t, x, [0.0, 2.0]) ** 0, [(2,)]),
    OpCase("pow_tensor_zero_base", lambda t, x, y: at(t, x, [0.0, 2.0]) ** y, [(2,), (2,)], low=0.5, high=2),
    OpCase("std_single", lambda t, x: x.std(), [(1,)]),
    OpCase("where_nan_branch", lambda t, x: t.where(x > 0, x.sqrt(), x), [(6,)]),
    # --- more math, reductions, selection, joins and index updates ------------------------------
    OpCase("fmod", lambda t, x, y: t.fmod(x * 3, y.abs() + 0.5), [(3, 4), (3, 4)]),
    OpCase("fmod_scalar", lambda t, x: x.fmod(0.7), [(3, 4)]),
    OpCase("fmod_int", lambda t, x: t.fmod(x, 3), [(6,)], I64),
    OpCase("fmod_int_tensor", lambda t, x, y: t.fmod(x - 3, y), [(6,), (6,)], I64, low=1, high=5),
    OpCase("fmod_int_float_scalar", lambda t, x: t.fmod(x, 1.5), [(6,)], I64),
    OpCase("fmod_", lambda t, x: _nonleaf(x).fmod_(0.7), [(3, 4)]),
    OpCase("atan2", lambda t, x, y: t.atan2(x, y), [(3, 4), (3, 4)]),
    OpCase("arctan2_broadcast", lambda t, x, y: x.arctan2(y), [(3, 4), (4,)]),
    OpCase("atan2_int", lambda t, x, y: t.atan2(x, y), [(5,), (5,)], I64),
    OpCase("atan2_", lambda t, x, y: _nonleaf(x).atan2_(y), [(3, 4), (3, 4)]),
    OpCase("nansum", lambda t, x: t.nansum(x.log()), [(3, 4)]),
    OpCase("nansum_dim", lambda t, x: x.log().nansum(1), [(3, 4)]),
    OpCase("nansum_dims_keepdim", lambda t, x: t.nansum(x.log(), (0, 1), keepdim=True), [(3, 4)]),
    OpCase("nansum_int", lambda t, x: t.nansum(x, 0), [(3, 4)], I32),
    OpCase("nanmean", lambda t, x: t.nanmean(x.log()), [(3, 4)]),
    OpCase("nanmean_dim", lambda t, x: x.log().nanmean(1, keepdim=True), [(3, 4)]),
    OpCase("error_nanmean_int", lambda t, x: t.nanmean(x), [(3,)], I64, message=True),
    OpCase("count_nonzero", lambda t, x: t.count_nonzero(x.relu()), [(3, 4)]),
    OpCase("count_nonzero_dim", lambda t, x: x.count_nonzero(1), [(3, 4)], I64, low=0, high=2),
    OpCase("count_nonzero_dims", lambda t, x: t.count_nonzero(x, (0, 1)), [(2, 3, 2)], B),
    OpCase("std_mean", lambda t, x: t.std_mean(x), [(3, 4)]),
    OpCase("std_mean_dim", lambda t, x: t.std_mean(x, 1), [(3, 4)]),
    OpCase("var_mean_keepdim", lambda t, x: t.var_mean(x, 0, keepdim=True), [(3, 4)]),
    OpCase("var_mean_correction", lambda t, x: t.var_mean(x, correction=0), [(3, 4)]),
    OpCase("var_mean_unbiased", lambda t, x: t.var_mean(x, dim=1, unbiased=False), [(3, 4)]),
    OpCase("median", lambda t, x: x.median(), [(3, 5)]),
    OpCase("median_even", lambda t, x: t.median(x), [(4,)]),
    OpCase("median_ties", lambda t, x: at(t, x, [1.0, 2.0, 2.0, 0.0, 2.0]).median(), [(5,)]),
    OpCase("median_nan", lambda t, x: at(t, x, [1.0, float("nan"), 0.0]).median(), [(3,)]),
    OpCase("median_dim", lambda t, x: t.median(x, 1), [(3, 5)]),
    OpCase("median_dim_even_keepdim", lambda t, x: x.median(0, keepdim=True), [(4, 3)]),
    OpCase("median_dim_nan", lambda t, x: at(t, x, [[1.0, float("nan"), 0.0, float("nan")], [3.0, 1.0, 2.0, 0.0]]).median(1), [(2, 4)]),
    OpCase("median_int", lambda t, x: x.median(), [(7,)], I64),
    OpCase("kthvalue", lambda t, x: t.kthvalue(x, 2), [(3, 5)]),
    OpCase("kthvalue_dim_keepdim", lambda t, x: x.kthvalue(3, 0, True), [(4, 2)]),
    OpCase("error_kthvalue_k", lambda t, x: t.kthvalue(x, 5), [(3,)], message=True),
    OpCase("mode_int", lambda t, x: t.mode(x), [(3, 8)], I64, low=0, high=3),
    OpCase("mode_ties", lambda t, x: at(t, x, [[1.0, 2.0, 2.0, 1.0, 3.0], [5.0, 5.0, 4.0, 4.0, 0.0]]).mode(1), [(2, 5)]),
    OpCase("mode_dim0", lambda t, x: x.mode(0, keepdim=True), [(6, 2)], I64, low=0, high=2),
    OpCase("cummax", lambda t, x: t.cummax(x, 1), [(3, 5)]),
    OpCase("cummin", lambda t, x: x.cummin(0), [(4, 3)]),
    OpCase("cummax_ties", lambda t, x: at(t, x, [1.0, 3.0, 3.0, 2.0, 5.0]).cummax(0), [(5,)]),
    OpCase("cummin_ties", lambda t, x: at(t, x, [4.0, 1.0, 3.0, 1.0, 0.0]).cummin(0), [(5,)]),
    OpCase("cummax_nan", lambda t, x: at(t, x, [1.0, float("nan"), 2.0, float("nan"), 0.0]).cummax(0), [(5,)]),
    OpCase("cummin_int", lambda t, x: t.cummin(x, -1), [(2, 6)], I64),
    OpCase("unique", lambda t, x: t.unique(x), [(10,)], I64, low=0, high=4),
    OpCase("unique_inverse_counts", lambda t, x: t.unique(x, return_inverse=True, return_counts=True), [(3, 4)], I64, low=0, high=4),
    OpCase("unique_float", lambda t, x: at(t, x, [2.0, 1.0, 2.0, 3.0]).unique(return_counts=True), [(4,)]),
    OpCase("unique_nan", lambda t, x: at(t, x, [1.0, float("nan"), float("nan"), 0.0]).unique(return_inverse=True, return_counts=True), [(4,)], grad=False),
    OpCase("unique_method_inverse", lambda t, x: x.unique(return_inverse=True), [(5,)], I32, low=0, high=3),
    # unique with a dim: sorted slices (sorted=False too); float inputs record UniqueDimBackward0,
    # whose backward raises. More than 16 slices go through another sort (see _sorted_rows).
    OpCase("unique_dim0", lambda t, x: t.unique(x, dim=0, return_inverse=True, return_counts=True), [(8, 2)], I64, low=0, high=2),
    OpCase("unique_dim1_method", lambda t, x: x.unique(dim=1, return_counts=True), [(2, 9)], I64, low=0, high=2),
    OpCase("unique_dim_negative_unsorted", lambda t, x: t.unique(x, sorted=False, return_inverse=True, dim=-1), [(3, 2, 5)], I32, low=0, high=2),
    OpCase("unique_dim_3d_middle", lambda t, x: t.unique(x, dim=1, return_inverse=True, return_counts=True), [(2, 6, 2)], I64, low=0, high=2),
    OpCase("unique_dim_many", lambda t, x: t.unique(x, dim=0, return_inverse=True, return_counts=True), [(40, 3)], I64, low=-1, high=1),
    OpCase("unique_dim_float", lambda t, x: at(t, x, [[1.0, 2.0], [0.0, 5.0], [1.0, 2.0]]).unique(dim=0, return_inverse=True), [(3, 2)]),
    OpCase("unique_dim_float_many", lambda t, x: x.round().unique(dim=0, return_counts=True), [(30, 2)], low=0.0, high=1.0),
    OpCase("unique_dim_f64_column", lambda t, x: t.unique(x.round(), dim=-1, return_inverse=True), [(2, 12)], F64, low=0.0, high=2.0),
    OpCase("unique_dim_f16", lambda t, x: at(t, x, [[2.0, 1.0], [1.0, 3.0], [2.0, 1.0]]).unique(dim=0, return_counts=True), [(3, 2)], F16),
    OpCase("unique_dim_bf16", lambda t, x: t.unique(at(t, x, [[2.0, 1.0], [1.0, 3.0], [2.0, 1.0]]).bfloat16(), dim=0).float(), [(3, 2)]),
    OpCase("unique_dim_bool", lambda t, x: t.unique(x, dim=0, return_inverse=True, return_counts=True), [(6, 2)], B),
    OpCase("unique_dim_negative_zero", lambda t, x: at(t, x, [[-0.0, 1.0], [0.0, 1.0]]).unique(dim=0, return_inverse=True, return_counts=True), [(2, 2)]),
    # a slice holding NaN equals no other; NaN is ordered with nothing, so it keeps slices where
    # std::sort's insertion sort leaves them: two 1.0 apart, not merged
    OpCase("unique_dim_nan", lambda t, x: at(t, x, [[1.0, float("nan")], [1.0, float("nan")], [0.0, 1.0]]).unique(dim=0, return_inverse=True, return_counts=True), [(3, 2)], grad=False),
    OpCase("unique_dim_nan_1d", lambda t, x: at(t, x, [float("nan"), 1.0, float("nan"), 1.0, 0.0]).unique(dim=0, return_inverse=True, return_counts=True), [(5,)], grad=False),
    OpCase("unique_dim_nan_rows", lambda t, x: at(t, x, [[float("nan"), 0.0], [1.0, 1.0], [2.0, -1.0], [1.0, 1.0], [float("nan"), 0.0]]).unique(dim=0, return_inverse=True), [(5, 2)], grad=False),
    OpCase("unique_dim_empty", lambda t, x: t.unique(x, dim=0, return_inverse=True, return_counts=True), [(0, 3)]),
    OpCase("unique_dim_empty_1d", lambda t, x: x.unique(dim=-1, return_counts=True), [(0,)], I64),
    OpCase("unique_dim_selected_size0", lambda t, x: t.unique(x, dim=1, return_inverse=True, return_counts=True), [(2, 0, 3)], I64),
    OpCase("error_unique_dim_out_of_range", lambda t, x: t.unique(x, dim=2), [(2, 3)], message=True),
    OpCase("error_unique_dim_negative_out_of_range", lambda t, x: x.unique(dim=-3, return_counts=True), [(2, 3)], I64, message=True),
    OpCase("error_unique_dim_zero_dim", lambda t, x: t.unique(x.sum(), dim=0), [(3,)], message=True),
    OpCase("error_unique_dim_zero_dim_negative", lambda t, x: t.unique(x.sum(), dim=-1), [(3,)], I64, message=True),
    OpCase("error_unique_dim_unselected_size0", lambda t, x: t.unique(x, dim=0), [(3, 0)], message=True),
    OpCase("error_unique_dim_two_size0", lambda t, x: t.unique(x, dim=1), [(0, 0)], message=True),
    OpCase("error_unique_dim_float", lambda t, x: t.unique(x, dim=0.0), [(3,)], message=True),
    OpCase("error_unique_dim_bool", lambda t, x: x.unique(dim=True), [(3,)], message=True),
    OpCase("repeat_interleave", lambda t, x: x.repeat_interleave(2), [(2, 3)]),
    OpCase("repeat_interleave_dim", lambda t, x: t.repeat_interleave(x, 3, dim=1), [(2, 3)]),
    OpCase("repeat_interleave_tensor", lambda t, x: x.repeat_interleave(t.tensor([1, 0, 2]), dim=0), [(3, 2)]),
    OpCase("repeat_interleave_counts", lambda t, x: t.repeat_interleave(x), [(4,)], I64, low=0, high=3),
    OpCase("repeat_interleave_zerodim_tensor", lambda t, x: x.repeat_interleave(t.tensor(2), dim=1), [(3, 2)]),
    OpCase("error_repeat_interleave_sizes", lambda t, x: x.repeat_interleave(t.tensor([1, 2])), [(3, 2)], message=True),
    OpCase("error_repeat_interleave_negative_counts", lambda t: t.repeat_interleave(t.tensor([1, -2])), message=True),
    OpCase("error_repeat_interleave_float_counts", lambda t: t.repeat_interleave(t.tensor([1.0, 2.0])), message=True),
    OpCase("error_repeat_interleave_negative", lambda t, x: x.repeat_interleave(-1), [(3,)], message=True),
    OpCase("tile", lambda t, x: x.tile((2,)), [(2, 3)]),
    OpCase("tile_more_dims", lambda t, x: t.tile(x, (2, 1, 2)), [(2, 3)]),
    OpCase("diag_embed", lambda t, x: t.diag(x), [(3,)]),
    OpCase("diag_embed_offset", lambda t, x: x.diag(1), [(3,)]),
    OpCase("diag_matrix", lambda t, x: t.diag(x), [(3, 4)]),
    OpCase("diag_matrix_offset", lambda t, x: x.diag(-1), [(4, 3)]),
    OpCase("error_diag_3d", lambda t, x: t.diag(x), [(2, 2, 2)], message=True),
    OpCase("trace", lambda t, x: t.trace(x), [(3, 4)]),
    OpCase("trace_int", lambda t, x: x.trace(), [(3, 3)], I32),
    OpCase("error_trace_1d", lambda t, x: t.trace(x), [(3,)], message=True),
    OpCase("take", lambda t, x: t.take(x, t.tensor([0, 5, -1, 5])), [(3, 4)]),
    OpCase("take_2d_index", lambda t, x: x.take(t.tensor([[0, 1], [2, 0]])), [(3,)]),
    OpCase("error_take_range", lambda t, x: t.take(x, t.tensor([12])), [(3, 4)], message=True),
    OpCase("meshgrid_ij", lambda t, x, y: t.meshgrid(x, y, indexing="ij"), [(3,), (2,)]),
    OpCase("meshgrid_xy", lambda t, x, y, z: t.meshgrid(x, y, z, indexing="xy"), [(3,), (2,), (4,)]),
    OpCase("meshgrid_list", lambda t, x, y: t.meshgrid([x, y], indexing="ij"), [(2,), ()]),
    OpCase("meshgrid_default", lambda t, x, y: t.meshgrid(x, y), [(3,), (2,)]),
    OpCase("broadcast_tensors", lambda t, x, y: t.broadcast_tensors(x, y), [(3, 1), (4,)]),
    OpCase("broadcast_tensors_same", lambda t, x, y: t.broadcast_tensors(x, y), [(3, 4), (1, 4)]),
    OpCase("error_broadcast_tensors", lambda t, x, y: t.broadcast_tensors(x, y), [(3,), (4,)], message=True),
    OpCase("finfo_default", lambda t: repr(t.finfo())),
    OpCase("finfo_fields", lambda t: str([(f.bits, f.eps, f.max, f.min, f.tiny, f.resolution, f.dtype) for f in map(t.finfo, (t.float16, t.bfloat16, t.float32, t.float64))])),
    OpCase("iinfo_fields", lambda t: str([(i.bits, i.max, i.min, i.dtype) for i in map(t.iinfo, (t.uint8, t.int8, t.int16, t.int32, t.int64))])),
    OpCase("error_finfo_int", lambda t: t.finfo(t.int32), message=True),
    OpCase("error_iinfo_float", lambda t: t.iinfo(t.float32), message=True),
    OpCase("error_iinfo_bool", lambda t: t.iinfo(t.bool), message=True),
    OpCase("index_add", lambda t, x, y: x.index_add(0, t.tensor([0, 2, 0]), y), [(3, 4), (3, 4)]),
    OpCase("index_add_alpha_", lambda t, x, y: _nonleaf(x).index_add_(1, t.tensor([1, 0]), y, alpha=2), [(3, 4), (3, 2)]),
    OpCase("index_add_int", lambda t, x, y: t.index_add(x, 0, t.tensor([1, 1]), y), [(3,), (2,)], I64),
    OpCase("index_fill", lambda t, x: x.index_fill(1, t.tensor([0, 2]), 1.5), [(3, 4)]),
    OpCase("index_fill_tensor", lambda t, x, v: t.index_fill(x, 0, t.tensor([1]), v), [(3, 4), ()]),
    OpCase("index_fill_", lambda t, x: _nonleaf(x).index_fill_(0, t.tensor([2, 0]), -1), [(3, 4)]),
    OpCase("index_fill_negative", lambda t, x: x.index_fill(1, t.tensor([-1]), 0.5), [(2, 3)]),
    OpCase("error_index_add_range", lambda t, x, y: x.index_add(1, t.tensor([-4]), y), [(2, 3), (2, 1)], message=True),
    OpCase("error_index_add_matrix", lambda t, x, y: x.index_add(1, t.tensor([[0]]), y), [(2, 3), (2, 1)], message=True),
    OpCase("error_index_add_float_index", lambda t, x, y: x.index_add(1, t.tensor([0.0]), y), [(2, 3), (2, 1)], message=True),
    OpCase("error_index_add_count", lambda t, x, y: x.index_add(0, t.tensor([0]), y), [(2, 3), (2, 1)], message=True),
    OpCase("error_index_fill_range", lambda t, x: x.index_fill(1, t.tensor([-4]), 1.0), [(2, 3)], message=True),
    OpCase("error_index_fill_matrix", lambda t, x: x.index_fill(1, t.tensor([[0]]), 1.0), [(2, 3)], message=True),
    OpCase("error_index_fill_int32_index", lambda t, x: x.index_fill(1, t.tensor([0], dtype=t.int32), 1.0), [(2, 3)], message=True),
    OpCase("error_take_float_index", lambda t, x: t.take(x, t.tensor([1.0])), [(2, 3)], message=True),
    OpCase("median_empty", lambda t, x: x.median(), [(0,)]),
    OpCase("index_put_", lambda t, x, v: _nonleaf(x).index_put_((t.tensor([0, 2]), t.tensor([1, 3])), v), [(3, 4), (2,)]),
    OpCase("index_put_accumulate", lambda t, x, v: x.index_put((t.tensor([0, 0]),), v, accumulate=True), [(3, 4), (4,)]),
    OpCase("index_put_mask", lambda t, x: t.index_put(x, (x > 0,), t.tensor(0.5)), [(3, 4)]),
    OpCase("error_index_put_dtype", lambda t, x, v: x.index_put((t.tensor([0]),), v), [(3,), (1,)], [F32, F64], message=True),
    OpCase("type_name", lambda t, x: x.type(), [(3,)]),
    OpCase("type_name_int", lambda t, x: x.type(), [(3,)], I64),
    OpCase("type_dtype", lambda t, x: x.type(t.float64), [(3,)]),
    OpCase("type_string", lambda t, x: x.type("torch.IntTensor"), [(3,)]),
    OpCase("round_decimals", lambda t, x: t.round(x * 100, decimals=1), [(3, 4)]),
    OpCase("round_negative_decimals", lambda t, x: (x * 100).round(decimals=-1), [(3, 4)]),
    OpCase("round_decimals_", lambda t, x: _nonleaf(x).round_(decimals=2), [(3, 4)]),
    OpCase("error_round_decimals_int", lambda t, x: x.round(decimals=1), [(3,)], I64, message=True),
    OpCase("lshift", lambda t, x: x << 2, [(6,)], I64),
    OpCase("rshift", lambda t, x: x >> 1, [(6,)], I64),
    OpCase("lshift_tensor", lambda t, x, y: t.bitwise_left_shift(x, y), [(6,), (6,)], I32, low=0, high=5),
    OpCase("rshift_tensor", lambda t, x, y: x.bitwise_right_shift(y), [(6,), (6,)], [I64, I32], low=0, high=5),
    OpCase("rshift_wide", lambda t, x: x >> 70, [(6,)], I32),
    OpCase("lshift_wide", lambda t, x: x << 65, [(6,)], I64),
    OpCase("rlshift", lambda t, x: 2 << x, [(4,)], I64, low=0, high=4),
    OpCase("ilshift", lambda t, x: x.clone().__ilshift__(3), [(4,)], I64),
    OpCase("irshift", lambda t, x, y: x.clone().__irshift__(y), [(4,), (4,)], I64, low=0, high=3),
    OpCase("bitwise_left_shift_", lambda t, x: x.clone().bitwise_left_shift_(1), [(4,)], I32),
    # --- errors: torch raises, so tape must raise the same exception type ----------------------
    OpCase("error_mean_int", lambda t, x: x.mean(), [(3,)], I64),
    OpCase("error_view_size", lambda t, x: x.view(5), [(2, 3)]),
    OpCase("error_matmul_shapes", lambda t, x, y: x @ y, [(2, 3), (2, 3)]),
    OpCase("error_broadcast", lambda t, x, y: x + y, [(3, 4), (3,)]),
    OpCase("error_leaf_inplace", lambda t, x: x.add_(1), [(3,)]),
    OpCase("error_index_bounds", lambda t, x: x[3], [(3,)]),
    OpCase("error_linspace_negative_steps", lambda t: t.linspace(0, 1, -1)),
    OpCase("error_stack_sizes", lambda t, x, y: t.stack([x, y]), [(2,), (3,)], message=True),
    OpCase("error_stack_sizes_later", lambda t, x, y: t.stack([x, x, y], 1), [(2, 3), (3, 2)], message=True),
    OpCase("error_cat_shapes", lambda t, x, y: t.cat([x, y], 1), [(2, 3), (3, 3)]),
    # torch multiplies matrices of one dtype only: no promotion, and each product its own text
    OpCase("error_matmul_dtypes", lambda t, x, y: x @ y, [(2, 3), (3, 2)], [F64, F32], message=True),
    OpCase("error_matmul_int_float", lambda t, x, y: x @ y, [(2, 3), (3, 2)], [I64, F32], message=True),
    OpCase("error_matmul_batched_dtypes", lambda t, x, y: x @ y, [(2, 2, 3), (3, 2)], [F64, F32], message=True),
    OpCase("error_mv_dtypes", lambda t, x, y: x @ y, [(2, 3), (3,)], [F64, F32], message=True),
    OpCase("error_dot_dtypes", lambda t, x, y: t.dot(x, y), [(3,), (3,)], [F64, F32], message=True),
    OpCase("error_bmm_dtypes", lambda t, x, y: t.bmm(x, y), [(1, 2, 3), (1, 3, 2)], [F64, F32], message=True),
]
# fmt: on
# Rows kept beside this table, by area.
CASES += op_cases_math.CASES + op_cases_linalg.CASES + op_cases_shape.CASES


def _by_name(name: str, *args):
    """``torch.<name>(input, *inputs, *args)``: a Tensor method reached through torch's function
    of the same name (``tape/_method_functions.py``); an in-place one gets a non-leaf input."""

    def fn(t, x, *inputs):
        return getattr(t, name)(_nonleaf(x) if name.endswith("_") else x, *inputs, *args)

    return fn


# Every name in tape._method_functions.NAMES, by the inputs it needs: (low, high) or extra rows.
_UNARY_RANGES = {
    **dict.fromkeys("acos_ arccos_ asin_ arcsin_ atanh_ arctanh_".split(), (-0.9, 0.9)),
    **dict.fromkeys("acosh_ arccosh_".split(), (1.1, 3.0)),
    **dict.fromkeys("log10_ log1p_ log2_ log_ reciprocal_ rsqrt_ sqrt_".split(), (0.5, 2.0)),
    "logit_": (0.1, 0.9),
    # Near 0 sinc's float32 gradient cancels: sin/cos one ulp apart move it by 1e-5 relative.
    "sinc_": (0.25, 2.0),
    **dict.fromkeys(
        "abs_ arctan_ atan_ asinh_ arcsinh_ ceil_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ "
        "fix_ floor_ frac_ i0_ nan_to_num_ neg_ negative_ rad2deg_ relu_ round_ sigmoid_ sin_ "
        "sinh_ square_ tan_ tanh_ trunc_ zero_ detach_ adjoint conj detach get_device "
        "is_complex is_conj is_floating_point is_inference is_neg numel resolve_conj "
        "resolve_neg".split(),
        (None, None),
    ),
}
# fmt: off
METHOD_FUNCTION_CASES = [
    OpCase(f"fn_{name}", _by_name(name), [(3, 4)], low=low, high=high)
    for name, (low, high) in _UNARY_RANGES.items()
] + [
    OpCase("fn_clamp_", _by_name("clamp_", -0.5, 0.5), [(3, 4)]),
    OpCase("fn_clip_", _by_name("clip_", -0.5, 0.5), [(3, 4)]),
    OpCase("fn_clamp_max_", _by_name("clamp_max_", 0.3), [(3, 4)]),
    OpCase("fn_clamp_min_", _by_name("clamp_min_", -0.3), [(3, 4)]),
    OpCase("fn_fill_", _by_name("fill_", 2.5), [(3, 4)]),
    OpCase("fn_addmv_", _by_name("addmv_"), [(2,), (2, 3), (3,)]),
    OpCase("fn_xlogy_", _by_name("xlogy_"), [(3, 4), (3, 4)], low=0.5, high=2),
    OpCase("fn_ldexp_", _by_name("ldexp_"), [(3, 4), (3, 4)], [F32, I64]),
    OpCase("fn_gcd_", _by_name("gcd_"), [(4,), (4,)], I64, low=1, high=20),
    OpCase("fn_lcm_", _by_name("lcm_"), [(4,), (4,)], I64, low=1, high=20),
    OpCase("fn_index_put_", lambda t, x, v: t.index_put_(_nonleaf(x), (t.tensor([0, 2]),), v, True), [(3, 4), (2, 4)]),
    OpCase("fn_is_nonzero", _by_name("is_nonzero"), [(1,)]),
    OpCase("fn_is_signed", _by_name("is_signed"), [(3,)], I64),
    OpCase("fn_is_signed_uint8", _by_name("is_signed"), [(3,)], "uint8", low=0, high=5),
    OpCase("fn_exp_input_keyword", lambda t, x: t.exp_(input=_nonleaf(x)), [(3,)]),
    OpCase("error_fn_exp__not_tensor", lambda t: t.exp_(3), message=True),
    OpCase("error_fn_numel_not_tensor", lambda t: t.numel([1.0]), message=True),
]
# fmt: on
CASES += METHOD_FUNCTION_CASES

WINDOWS = ("hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window")
# fmt: off
WINDOW_CASES = [
    OpCase(f"{name}_{n}_{periodic}_{dtype}", lambda t, name=name, n=n, p=periodic, d=dtype: getattr(t, name)(n, p, dtype=getattr(t, d)))
    for name in WINDOWS
    for n in (0, 1, 2, 7, 64, 1000)
    for periodic in (True, False)
    for dtype in (F32, F64, F16, "bfloat16")
] + [
    OpCase("hann_window_default", lambda t: t.hann_window(12)),
    OpCase("hamming_window_alpha_beta", lambda t: t.hamming_window(9, False, 0.6, 0.3)),
    OpCase("kaiser_window_beta", lambda t: t.kaiser_window(9, True, 5.0)),
    OpCase("hann_window_requires_grad", lambda t: t.hann_window(6, requires_grad=True) * 2),
    OpCase("blackman_window_default_dtype", lambda t: (t.set_default_dtype(t.float64), t.blackman_window(5), t.set_default_dtype(t.float32))[1]),
    OpCase("error_hann_window_negative", lambda t: t.hann_window(-1), message=True),
    OpCase("error_kaiser_window_negative", lambda t: t.kaiser_window(-3), message=True),
    OpCase("error_hann_window_int_dtype", lambda t: t.hann_window(4, dtype=t.int64), message=True),
    OpCase("error_bartlett_window_float_length", lambda t: t.bartlett_window(4.0), message=True),
]
# fmt: on
CASES += WINDOW_CASES


def _memory_relations(t, x):
    """How ``data_ptr`` relates tensors that share memory, and the memory flags: the numbers
    are addresses, so only their differences can match torch's."""
    y = x * 1
    p = y.data_ptr()
    y.add_(1)
    return {
        "aliases": [a.data_ptr() == x.data_ptr() for a in (x.detach(), x.data, x.t(), x[...])],
        "offsets": [
            v.data_ptr() - x.data_ptr() for v in (x[1], x[:, 2], x[1:, 1:], x.view(-1)[5:])
        ],
        "kept_by_inplace": y.data_ptr() == p,
        "copy_differs": x.clone().data_ptr() != x.data_ptr(),
        "empty": t.ones(0).data_ptr(),
        "flags": (x.is_pinned(), x.is_shared()),
    }


# fmt: off
NEW_CASES = [
    OpCase("legacy_new_empty", lambda t, x: x.new(), [(2, 3)], F64, values=False),
    OpCase("legacy_new_sizes", lambda t, x: x.new(2, 3), [(2,)], F64, values=False),
    OpCase("legacy_new_zero_size", lambda t, x: x.new(0), [(2,)], values=False),
    OpCase("legacy_new_size_object", lambda t, x: x.new(t.Size([4, 1])), [(2,)], I32, values=False),
    OpCase("legacy_new_data", lambda t, x: x.new([1, 2]), [(2, 3)]),
    OpCase("legacy_new_data_int", lambda t, x: x.new([1.5, -2.0]), [(2,)], I64),
    OpCase("legacy_new_tuple_is_data", lambda t, x: x.new((2,)), [(2,)]),
    OpCase("legacy_new_numpy", lambda t, x: x.new(np.array([3, 4])), [(2,)], F64),
    OpCase("legacy_new_alias", lambda t, x, y: x.new(y) * 2, [(2,), (3,)]),
    OpCase("legacy_new_device", lambda t, x: x.new(2, device="cpu"), [(2,)], values=False),
    OpCase("error_legacy_new_dtype", lambda t, x: x.new(t.ones(2, dtype=t.int64)), [(2,)], message=True),
    OpCase("error_legacy_new_float_size", lambda t, x: x.new(2, 3.0), [(2,)], message=True),
    OpCase("error_legacy_new_scalar", lambda t, x: x.new(2.5), [(2,)], message=True),
    OpCase("error_legacy_new_dtype_keyword", lambda t, x: x.new([1], dtype=t.float64), [(2,)]),
    OpCase("data_ptr_relations", _memory_relations, [(3, 4)]),
]
# fmt: on
CASES += NEW_CASES

# fmt: off
TOP_LEVEL_CASES = [
    OpCase("unravel_index", lambda t, i: t.unravel_index(i, (2, 3)), [(4,)], I64, low=-7, high=9),
    OpCase("unravel_index_2d_int32", lambda t, i: t.unravel_index(i, (3, 1, 4)), [(2, 3)], I32, low=0, high=12),
    OpCase("unravel_index_int_shape", lambda t, i: t.unravel_index(i, 6), [(3,)], I64, low=0, high=6),
    OpCase("unravel_index_scalar", lambda t: t.unravel_index(t.tensor(4), (2, 3))),
    OpCase("unravel_index_empty_shape", lambda t, i: t.unravel_index(i, ()), [(3,)], I64),
    OpCase("error_unravel_index_float", lambda t, i: t.unravel_index(i, (2, 3)), [(3,)], message=True),
    OpCase("error_unravel_index_bool", lambda t, i: t.unravel_index(i, (2, 3)), [(3,)], B, message=True),
    OpCase("error_unravel_index_negative_shape", lambda t, i: t.unravel_index(i, (2, -3)), [(3,)], I64, message=True),
    OpCase("range", lambda t: t.range(1, 4, 0.5)),
    OpCase("error_range_one_argument", lambda t: t.range(3), message=True),
    OpCase("range_int64", lambda t: t.range(0, 3, dtype=t.int64)),
    OpCase("range_down", lambda t: t.range(3, 0, -1)),
    OpCase("range_single", lambda t: t.range(0, 0)),
    OpCase("range_requires_grad", lambda t: t.range(0, 2, requires_grad=True) * 2),
    OpCase("error_range_step_zero", lambda t: t.range(0, 1, 0), message=True),
    OpCase("error_range_inconsistent", lambda t: t.range(1, 0), message=True),
    OpCase("error_arange_step_zero", lambda t: t.arange(0, 3, 0), message=True),
    OpCase("error_arange_inconsistent", lambda t: t.arange(3, 0), message=True),
    OpCase("error_arange_negative_step", lambda t: t.arange(0, 3, -1), message=True),
    OpCase("error_arange_infinite", lambda t: t.arange(0, float("inf")), message=True),
    OpCase("error_arange_nan", lambda t: t.arange(0.5, float("nan")), message=True),
    OpCase("arange_empty", lambda t: t.arange(3, 3)),
    OpCase("scalar_tensor", lambda t: t.scalar_tensor(3)),
    OpCase("scalar_tensor_bool", lambda t: t.scalar_tensor(True, dtype=t.bool)),
    OpCase("scalar_tensor_int64", lambda t: t.scalar_tensor(2, dtype=t.int64)),
    OpCase("scalar_tensor_requires_grad", lambda t: t.scalar_tensor(2.5, requires_grad=True) * 3),
    OpCase("chain_matmul_one", lambda t, a: t.chain_matmul(a), [(2, 3)]),
    OpCase("chain_matmul_two", lambda t, a, b: t.chain_matmul(a, b), [(2, 3), (3, 4)]),
    OpCase("chain_matmul_three", lambda t, a, b, c: t.chain_matmul(a, b, c), [(2, 3), (3, 4), (4, 2)]),
    OpCase("error_chain_matmul_none", lambda t: t.chain_matmul(), message=True),
    OpCase("unsafe_split", lambda t, x: t.unsafe_split(x, 2, 1), [(3, 5)]),
    OpCase("unsafe_split_method", lambda t, x: x.unsafe_split(1), [(3, 2)]),
    OpCase("unsafe_split_with_sizes", lambda t, x: x.unsafe_split_with_sizes([1, 4], 1), [(3, 5)]),
    OpCase("unsafe_chunk", lambda t, x: t.unsafe_chunk(x, 3, 0), [(7, 2)]),
    OpCase("unsafe_chunk_method", lambda t, x: x.unsafe_chunk(2, -1), [(3, 5)]),
    OpCase("error_unsafe_split_with_sizes_sum", lambda t, x: x.unsafe_split_with_sizes([1, 2], 1), [(3, 5)], message=True),
    OpCase("constant_pad_nd", lambda t, x: t.constant_pad_nd(x, (1, 0, 0, 2), 3.0), [(2, 3)]),
    OpCase("constant_pad_nd_default", lambda t, x: t.constant_pad_nd(x, [2, 1]), [(2, 3)]),
    OpCase("typename", lambda t, x: {"names": [t.typename(x), t.typename(x.long()), t.typename(3), t.typename(x.double()), t.typename(int)]}, [(2,)]),
    OpCase("is_storage", lambda t, x: {"storage": [t.is_storage(x), t.is_storage(3)]}, [(2,)]),
]
# fmt: on
CASES += TOP_LEVEL_CASES

# fmt: off
ALPHA_CASES = [
    OpCase("error_add_int_float_alpha", lambda t, x, y: x.add(y, alpha=1.0), [(3,), (3,)], I64, message=True),
    OpCase("error_add_int_scalar_float_alpha", lambda t, x: x.add(2, alpha=1.5), [(3,)], I64, message=True),
    OpCase("error_sub_int_float_alpha_", lambda t, x, y: x.clone().sub_(y, alpha=0.5), [(3,), (3,)], I64, message=True),
    OpCase("error_rsub_int_float_alpha", lambda t, x: t.rsub(x, 2, alpha=0.5), [(3,)], I64, message=True),
    OpCase("error_add_float_bool_alpha", lambda t, x, b: x.add(b, alpha=True), [(3,), (3,)], [F32, B], message=True),
    OpCase("error_sub_int_bool_alpha", lambda t, x, y: x.sub(y, alpha=True), [(3,), (3,)], I64, message=True),
    OpCase("error_add_bool_float_alpha", lambda t, x, y: x.add(y, alpha=1.5), [(3,), (3,)], B, message=True),
    OpCase("add_bool_int_alpha", lambda t, x, y: x.add(y, alpha=2), [(3,), (3,)], B),
    OpCase("add_bool_bool_alpha", lambda t, x, y: x.add(y, alpha=True), [(3,), (3,)], B),
    OpCase("add_int_float_scalar_int_alpha", lambda t, x: x.add(1.5, alpha=2), [(3,)], I64),
    OpCase("add_float_int_float_alpha", lambda t, x, y: x.add(y, alpha=0.5), [(3,), (3,)], [F32, I64]),
    OpCase("add_int_numpy_int_alpha", lambda t, x, y: x.add(y, alpha=np.int64(3)), [(3,), (3,)], I64),
]
# fmt: on
CASES += ALPHA_CASES

# Quotients by a broadcast divisor, bit for bit (XLA's reciprocal product is one ulp off).
# fmt: off
EXACT_DIVISION = [
    OpCase("div_scalar_exact", lambda t, x: x / 3, [(64, 64)], rtol=0, atol=0),
    # the divisor's own gradient is a sum over the broadcast, in another order than torch's
    OpCase("div_zero_dim_exact", lambda t, x, y: x / y.detach(), [(64, 64), ()], low=0.5, high=3, rtol=0, atol=0),
    OpCase("div_channels_exact", lambda t, x, y: x / y.detach(), [(8, 3, 16), (3, 1)], low=0.5, high=3, rtol=0, atol=0),
    OpCase("div_tensors_exact", lambda t, x, y: x / y, [(64, 64), (64, 64)], low=0.5, high=3, rtol=0, atol=0),
    OpCase("div_half_scalar_exact", lambda t, x: x / 7, [(64, 64)], F16, rtol=0, atol=0),
    OpCase("div_inplace_scalar_exact", lambda t, x: _nonleaf(x).div_(3.7), [(64, 64)], rtol=0, atol=0),
    OpCase("rdiv_scalar", lambda t, x: 3 / x, [(64, 64)], low=0.5, high=3, rtol=0, atol=0),
]
# fmt: on
CASES += EXACT_DIVISION

# torch's lerp starts from end for weights of one half and above (weight 1 gives end exactly):
# the values bit for bit (the gradients, autodiff's rounding, are in the rows with tolerances).
# fmt: off
EXACT_LERP = [
    OpCase(f"lerp_exact_{w}_{dt}", lambda t, x, y, w=w: x.lerp(y, w), [(64, 64), (64, 64)], dt, grad=False, rtol=0, atol=0)
    for w in (0.1, 0.5, 0.7, 1.0)
    for dt in (F32, F64)
] + [
    OpCase("lerp_exact_tensor_weight", lambda t, x, y, w: x.lerp(y, w.detach()), [(64, 64), (64, 64), (64, 64)], grad=False, low=0, high=1, rtol=0, atol=0),
    OpCase("lerp_exact_half", lambda t, x, y: x.lerp(y, 0.8), [(64, 64), (64, 64)], F16, grad=False, rtol=0, atol=0),
]
# fmt: on
CASES += EXACT_LERP


_DEPRECATED_CALLS = """
import warnings
import {lib} as t
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t.range(0, 2)
    t.chain_matmul(t.ones(2, 2), t.ones(2, 2))
    t.chain_matmul(t.ones(2, 2), t.ones(2, 2))
print(repr([str(w.message).split(" (Triggered")[0] for w in caught]))
"""


def test_deprecated_top_level_functions_warn_as_torch():
    """torch.range warns at every call, chain_matmul once per process: a fresh process each."""
    import subprocess
    import sys

    def warned(lib):
        code = _DEPRECATED_CALLS.format(lib=lib)
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout

    assert warned("tape") == warned("torch")


def _make_inputs(case: OpCase) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    dtypes = [case.dtypes] * len(case.shapes) if isinstance(case.dtypes, str) else case.dtypes
    arrays = []
    for shape, dtype in zip(case.shapes, dtypes, strict=True):
        if dtype == B:
            a = rng.random(shape) < 0.5
        elif dtype in (I64, I32):
            lo = -5 if case.low is None else int(case.low)
            hi = 6 if case.high is None else int(case.high)
            a = rng.integers(lo, hi, shape)
        elif case.low is not None:
            a = rng.uniform(case.low, case.high, shape)
        else:
            a = rng.standard_normal(shape)
        arrays.append(np.asarray(a, dtype=dtype))
    return arrays


def _name(t) -> str:
    return str(t.dtype).rsplit(".", 1)[-1]


def _grad_fn_names(out) -> tuple | None:
    """The node's class name and its ``name()`` (``torch::autograd::CopySlices`` for C++ nodes)."""
    if out.grad_fn is None:
        return None
    return type(out.grad_fn).__name__, out.grad_fn.name()


def _numpy(x) -> np.ndarray:
    if _name(x) == "bfloat16":  # numpy has no bfloat16 (tape's is ml_dtypes'); exact in float32
        x = x.float()
    return np.asarray(x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x))


def _compare_tensor(expected, actual, case: OpCase, what: str, values: bool = True) -> None:
    assert isinstance(actual, tape.Tensor), f"{what}: {type(actual).__name__} is not a Tensor"
    assert _name(actual) == _name(expected), f"{what}: dtype {_name(actual)} != {_name(expected)}"
    assert tuple(actual.shape) == tuple(expected.shape), f"{what}: shape"
    if not values:
        return
    e, a = _numpy(expected), _numpy(actual)
    if e.dtype.kind == "f":
        half = e.dtype == np.float16
        np.testing.assert_allclose(
            a.astype(np.float64),
            e.astype(np.float64),
            rtol=max(case.rtol, 1e-3 if half else 0),
            atol=max(case.atol, 1e-3 if half else 0),
            err_msg=what,
        )
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _run(lib, case: OpCase, arrays: list[np.ndarray], cotangent_seed: int):
    leaves = [
        lib.tensor(a, requires_grad=case.grad and a.dtype.kind == "f" and case.values)
        for a in arrays
    ]
    try:
        out = case.fn(lib, *leaves)
    except (RuntimeError, IndexError, TypeError, ValueError) as e:
        return {"raised": type(e).__name__, "message": str(e), "leaves": leaves}
    result = {"out": out, "leaves": leaves}
    if not isinstance(out, (lib.Tensor, tuple, list)):
        return result
    outs = [o for o in _outputs(out) if o.requires_grad]
    if not (case.grad and outs):
        return result
    rng = np.random.default_rng(cotangent_seed)
    cts = [rng.standard_normal(tuple(o.shape)).astype(_name(o)) for o in outs]
    try:
        if isinstance(out, lib.Tensor):
            out.backward(lib.tensor(cts[0]))
        else:
            loss = sum((o * lib.tensor(c)).sum() for o, c in zip(outs, cts, strict=True))
            loss.backward()
    except (RuntimeError, NotImplementedError) as e:  # floor_divide's, unique's backward
        result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    return result


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op_matches_torch(case: OpCase) -> None:
    arrays = _make_inputs(case)
    seed = zlib.crc32(case.name.encode()) + 1
    expected = _run(torch, case, arrays, seed)
    actual = _run(tape, case, arrays, seed)

    if "raised" in expected or "raised" in actual:
        assert actual.get("raised") == expected.get("raised"), "exception type"
        if case.message:
            assert actual["message"] == expected["message"], "exception message"
        return
    e_out, a_out = expected["out"], actual["out"]
    if not isinstance(e_out, (torch.Tensor, tuple, list)):
        assert type(a_out) is type(e_out) and a_out == e_out, f"{a_out!r} != {e_out!r}"
        return
    e_outs, a_outs = _outputs(e_out), _outputs(a_out)
    assert isinstance(a_out, (tuple, list)) == isinstance(e_out, (tuple, list)), "output kind"
    assert len(a_outs) == len(e_outs), "number of outputs"
    for i, (e, a) in enumerate(zip(e_outs, a_outs, strict=True)):
        what = f"output {i}"
        _compare_tensor(e, a, case, what, case.values)
        assert a.requires_grad == e.requires_grad, f"{what}: requires_grad"
        assert a.is_leaf == e.is_leaf, f"{what}: is_leaf"
        assert _grad_fn_names(a) == _grad_fn_names(e), f"{what}: grad_fn"

    assert actual.get("error") == expected.get("error"), "backward error"
    for i, (e, a) in enumerate(zip(expected["leaves"], actual["leaves"], strict=True)):
        if e.grad is None:
            assert a.grad is None, f"input {i}: grad should be None"
        else:
            assert a.grad is not None, f"input {i}: grad is None"
            _compare_tensor(e.grad, a.grad, case, f"input {i} grad")


def test_every_method_function_has_a_row():
    from tape._method_functions import NAMES

    covered = {c.name.removeprefix("fn_") for c in METHOD_FUNCTION_CASES}
    assert set(NAMES) <= covered


def test_a_computed_index_out_of_range_raises_every_time():
    """An index computed by ops (still pending when it is used) is checked like any other: JAX
    would clamp it silently."""

    def run(lib):
        seen = []
        for _ in range(3):  # from the second round on, the index is deferred
            w = lib.ones(3, 2, requires_grad=True)
            idx = lib.tensor([0, 1]) * 2 + 1
            for f in (lambda: w[idx], lambda: w.index_select(0, idx)):
                try:
                    f().sum().backward()
                    seen.append(w.grad.tolist())
                except IndexError as e:
                    seen.append(str(e))
        return seen

    assert run(tape) == run(torch)


def test_meshgrid_warns_without_indexing():
    """torch's UserWarning when ``indexing`` is left out (torch warns once per process, so its
    text is quoted here), raised at the caller's line."""
    x = tape.arange(3.0)
    with pytest.warns(UserWarning) as caught:
        tape.meshgrid(x, x)
    message = str(caught[0].message)
    assert message == (
        "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."
    )
    assert caught[0].filename == __file__


# Functions of dtypes and shapes: their results (dtypes, Sizes, flags) printed as torch's.
HELPERS = {
    "broadcast_shapes": lambda t: t.broadcast_shapes((2, 1), (3,)),
    "broadcast_shapes_ints": lambda t: t.broadcast_shapes(2, (3, 1), (1, 1, 1)),
    "broadcast_shapes_none": lambda t: t.broadcast_shapes(),
    "broadcast_shapes_error": lambda t: t.broadcast_shapes((2, 3), (4,)),
    "result_type_tensor_scalar": lambda t: t.result_type(t.ones(2, dtype=t.int32), 2.5),
    "result_type_scalars": lambda t: t.result_type(2, 3.0),
    "result_type_zero_dim": lambda t: t.result_type(t.ones(2, dtype=t.int32), t.tensor(1.0)),
    "result_type_bool_int": lambda t: t.result_type(t.tensor([True]), 5),
    "can_cast": lambda t: [
        t.can_cast(a, b)
        for a in (t.bool, t.uint8, t.int32, t.float16, t.float64)
        for b in (t.bool, t.uint8, t.int32, t.float16, t.float64)
    ],
    "is_complex": lambda t: (t.is_complex(t.ones(2)), t.ones(2).is_complex()),
    "conj": lambda t: (t.conj(t.ones(2)), t.resolve_conj(t.ones(1)), t.resolve_neg(t.ones(1))),
}


@pytest.mark.parametrize("name", HELPERS)
def test_dtype_and_shape_helpers_match_torch(name):
    def run(lib):
        try:
            return str(HELPERS[name](lib)).replace("tape.", "torch.")
        except Exception as e:  # noqa: BLE001
            return f"{type(e).__name__}: {e}"

    assert run(tape) == run(torch)


def test_inference_mode_is_reported():
    def run(lib):
        seen = [lib.is_inference_mode_enabled()]
        with lib.inference_mode():
            seen.append(lib.is_inference_mode_enabled())
            with lib.inference_mode(False):
                seen.append(lib.is_inference_mode_enabled())
            seen.append(lib.is_inference_mode_enabled())
        return [*seen, lib.is_inference_mode_enabled()]

    assert run(tape) == run(torch)


def test_namespaces_hold_only_torch_names():
    """Every public Tensor attribute is one torch.Tensor has, and every public function of
    tape's top level is one torch has: no internal helper leaks as API."""
    extra_methods = {n for n in dir(tape.Tensor) if n[0] != "_" and not hasattr(torch.Tensor, n)}
    assert extra_methods == set()
    functions = {
        n
        for n, v in vars(tape).items()
        if n[0] != "_" and callable(v) and not isinstance(v, type) and not hasattr(torch, n)
    }
    assert functions == set()
    # Nor modules that tape's own files import (numpy, jax, ...): only tape's submodules.
    leftovers = {
        n
        for n, v in vars(tape).items()
        if n[0] != "_"
        and not hasattr(torch, n)
        and not getattr(v, "__name__", "").startswith("tape.")
    }
    assert leftovers == set()
