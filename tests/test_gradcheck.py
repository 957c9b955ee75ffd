"""``autograd.gradcheck`` and ``gradgradcheck`` against torch's: the same verdict, the same
exception type and message (the Jacobians printed in it too), and the same warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tape


def _inputs(lib, *shapes, dtype="float64", grad=True):
    rng = np.random.default_rng(len(shapes) + sum(map(len, shapes)))
    return tuple(
        lib.tensor(rng.uniform(0.5, 1.5, s), dtype=getattr(lib, dtype), requires_grad=grad)
        for s in shapes
    )


def _function(lib, forward, backward, materialize=True):
    """A custom autograd.Function from ``forward(ctx, *xs)`` and ``backward(ctx, *gs)``."""

    class Custom(lib.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.set_materialize_grads(materialize)
            ctx.save_for_backward(*xs)
            return forward(ctx, *xs)

        @staticmethod
        def backward(ctx, *gs):
            return backward(ctx, *gs)

    return Custom.apply


def _cube(lib, wrong=False):
    """x**3 with a backward that is right (3x^2), or whose own gradient is wrong (x detached)."""

    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * (x.detach() if wrong else x) ** 2

    return _function(lib, lambda ctx, x: x**3, backward)


def _noisy(lib):
    """A backward that differs between runs: not reentrant."""
    calls = []

    def backward(ctx, g):
        calls.append(1)
        return g * 2 + len(calls) * 1e-3

    return _function(lib, lambda ctx, x: x * 2, backward)


def _no_undefined(lib):
    """A backward that cannot take an output gradient that never arrived (None)."""
    return _function(lib, lambda ctx, x: x * 2, lambda ctx, g: g * 2, materialize=False)


# name -> call(lib): what gradcheck/gradgradcheck return or raise.
CASES = {
    "elementwise": lambda L: L.autograd.gradcheck(lambda a, b: (a * b).sin().sum(0), _inputs(L, (3,), (2, 3))),
    "matmul": lambda L: L.autograd.gradcheck(lambda a, b: a @ b, _inputs(L, (2, 3), (3, 2))),
    "two_outputs": lambda L: L.autograd.gradcheck(lambda a: (a.exp(), a.log().sum()), _inputs(L, (4,))),
    "an_integer_output": lambda L: L.autograd.gradcheck(lambda a: (a * 2, a.argmax()), _inputs(L, (3,))),
    "one_input_without_grad": lambda L: L.autograd.gradcheck(lambda a, b: a * b, _inputs(L, (3,)) + _inputs(L, (3,), grad=False)),
    "no_differentiable_output": lambda L: L.autograd.gradcheck(lambda a: a.detach() * 2, _inputs(L, (3,))),
    "a_leaf_returned": lambda L: L.autograd.gradcheck(lambda a: a, _inputs(L, (2,))),
    "single_tensor_input": lambda L: L.autograd.gradcheck(L.tanh, _inputs(L, (2, 2))[0]),
    "custom_function": lambda L: L.autograd.gradcheck(_cube(L), _inputs(L, (3,))),
    "float32_with_eps": lambda L: L.autograd.gradcheck(lambda a: a * 2, _inputs(L, (2,), dtype="float32"), eps=1e-2, atol=1e-2),
    "gradgrad": lambda L: L.autograd.gradgradcheck(lambda a, b: (a * b).sin(), _inputs(L, (3,), (3,))),
    "gradgrad_given_cotangent": lambda L: L.autograd.gradgradcheck(lambda a: a**3, _inputs(L, (3,)), _inputs(L, (3,))),
    "gradgrad_custom_function": lambda L: L.autograd.gradgradcheck(_cube(L), _inputs(L, (3,))),
    "wrong_gradient_quiet": lambda L: L.autograd.gradcheck(lambda a: a * 2 + 1e-3 * (a - a.detach()), _inputs(L, (2,)), raise_exception=False),
    "error_wrong_gradient": lambda L: L.autograd.gradcheck(_function(L, lambda ctx, x: x * x, lambda ctx, g: g * 3 * ctx.saved_tensors[0]), _inputs(L, (2,))),
    "error_wrong_second_gradient": lambda L: L.autograd.gradgradcheck(_cube(L, wrong=True), _inputs(L, (3,)), _inputs(L, (3,))),
    "error_wrong_second_gradient_drawn": lambda L: L.autograd.gradgradcheck(_cube(L, wrong=True), _inputs(L, (3,))),
    "error_not_reentrant": lambda L: L.autograd.gradcheck(_noisy(L), _inputs(L, (2,)), atol=1e-2),
    "error_not_multiplied_by_grad_output": lambda L: L.autograd.gradcheck(_function(L, lambda ctx, x: x * 2, lambda ctx, g: g * 0 + 2), _inputs(L, (1,))),
    "error_undefined_grad": lambda L: L.autograd.gradcheck(_no_undefined(L), _inputs(L, (2,))),
    "undefined_grad_unchecked": lambda L: L.autograd.gradcheck(_no_undefined(L), _inputs(L, (2,)), check_undefined_grad=False),
    "error_nothing_requires_grad": lambda L: L.autograd.gradcheck(lambda a: a * 2, _inputs(L, (2,), grad=False)),
    "error_stride_zero_input": lambda L: L.autograd.gradcheck(lambda a: a * 2, (_inputs(L, (1,))[0].expand(3),)),
    "error_float32_default_eps": lambda L: L.autograd.gradcheck(lambda a: a * 2, _inputs(L, (2,), dtype="float32")),
}  # fmt: skip


# Where the message's Jacobians or advice differ, its first line: float32 differences at
# eps=1e-6 print rounding noise, drawn cotangents differ, and torch's advice on nondeterminism
# names its own test files.
FIRST_LINE_ONLY = {
    "error_float32_default_eps",
    "error_wrong_second_gradient_drawn",
    "error_not_reentrant",
}


def _run(lib, name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("returned", CASES[name](lib))
        except Exception as e:  # noqa: BLE001
            result = ("raised", type(e).__name__, str(e).replace("tape.", "torch."))
    return result, [str(w.message) for w in caught]


@pytest.mark.parametrize("name", CASES)
def test_gradcheck_matches_torch(name):
    (got, got_warnings), (want, want_warnings) = _run(tape, name), _run(torch, name)
    if want[0] == "raised" and name in FIRST_LINE_ONLY:
        want, got = want[:2] + (want[2].split("\n")[0],), got[:2] + (got[2].split("\n")[0],)
    assert got == want
    assert got_warnings == want_warnings


def test_gradcheck_error_is_a_runtime_error():
    from tape.autograd.gradcheck import GradcheckError

    assert issubclass(GradcheckError, RuntimeError)
