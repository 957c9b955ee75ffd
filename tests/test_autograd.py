"""Autograd semantics, checked against torch: every test runs the same code under both libraries.

Error tests check the exception type, that tape's message starts like torch's, and that the
tensors and the graph are unchanged after the error (a correct call afterwards still works).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import LIBS, assert_same, assert_same_error, normalize

import tape


def both(fn):
    """``fn(lib)`` under tape and under torch."""
    return fn(tape), fn(torch)


def check(fn, **kw):
    got, want = both(fn)
    assert_same(got, want, **kw)
    return got, want


def leaf(lib, values, dtype=None, requires_grad=True):
    return lib.tensor(values, dtype=dtype or lib.float32, requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------------
# backward: seeds, dtypes, shapes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(), (1,), (1, 1), (1, 1, 1)],
    ids=str,
)
def test_implicit_grad_for_single_element_outputs(shape):
    def f(lib):
        x = lib.full(shape, 3.0, requires_grad=True)
        (x * x).backward()
        return x.grad

    check(f)


@pytest.mark.parametrize("shape", [(2,), (2, 3), (0,)], ids=str)
def test_implicit_grad_only_for_scalars(shape):
    objs = {}

    def make(lib):
        x = lib.ones(shape, requires_grad=True)
        y = x * 2
        objs[lib.__name__] = (x, y)
        return lambda: y.backward()

    assert_same_error(make(tape), make(torch))
    for name, lib in LIBS.items():
        x, y = objs[lib.__name__]
        assert x.grad is None
        # The graph is intact: a correct backward afterwards works.
        y.sum().backward()
    assert_same(objs["tape"][0].grad, objs["torch"][0].grad)


def test_implicit_grad_needs_float_output():
    # An integer result of a graph has no grad_fn, so torch complains about requires_grad.
    def make(lib):
        x = leaf(lib, [1.5, 2.5])
        y = x.sum().long()
        return lambda: y.backward()

    assert_same_error(make(tape), make(torch))


@pytest.mark.parametrize(
    "grad",
    [[1, 1], [1.0, 1.0], [2, -3]],
    ids=["int", "float", "int-values"],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_is_cast_to_output_dtype(grad, dtype):
    def f(lib):
        a = lib.tensor([2.0, 3.0], dtype=getattr(lib, dtype), requires_grad=True)
        b = lib.tensor([6.0, 4.0], dtype=getattr(lib, dtype), requires_grad=True)
        Q = 3 * a**3 - b**2
        Q.backward(lib.tensor(grad))
        return a.grad, b.grad

    check(f)


def test_gradient_of_other_float_dtype_is_cast():
    def f(lib):
        a = leaf(lib, [2.0, 3.0])
        (a * a).backward(lib.tensor([1.0, 0.5], dtype=lib.float64))
        return a.grad

    got, want = check(f)
    assert got.dtype == tape.float32


@pytest.mark.parametrize("gshape", [(3,), (2, 1), (1, 2), ()], ids=str)
def test_gradient_shape_mismatch(gshape):
    objs = {}

    def make(lib):
        x = leaf(lib, [1.0, 2.0])
        y = x.exp()
        objs[lib.__name__] = (x, y)
        return lambda: y.backward(lib.ones(gshape))

    assert_same_error(make(tape), make(torch))
    for name in ("tape", "torch"):
        x, y = objs[name]
        assert x.grad is None
        y.backward(y.detach() * 0 + 1)
    assert_same(objs["tape"][0].grad, objs["torch"][0].grad)


def test_backward_on_tensor_not_requiring_grad():
    def make(lib):
        x = lib.ones(2)
        return lambda: x.sum().backward()

    assert_same_error(make(tape), make(torch))


def test_autograd_backward_function_multiple_roots():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        y1 = (x * x).sum()
        y2 = x.exp()
        lib.autograd.backward([y1, y2], [None, lib.ones(3)])
        return x.grad

    check(f)


def test_autograd_backward_function_without_grad_tensors():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        lib.autograd.backward([(x * x).sum(), x.exp().sum()])
        lib.autograd.backward(x.sin().sum(), inputs=[x])
        return x.grad

    check(f)


# ---------------------------------------------------------------------------------------------
# accumulation, retain_graph, freed graphs
# ---------------------------------------------------------------------------------------------


def test_grad_accumulates_across_backward_calls():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        out = []
        for k in range(3):
            (x * x * (k + 1)).sum().backward()
            out.append(x.grad.clone())
        return out

    check(f)


def test_grad_accumulates_over_paths_and_is_same_object():
    def f(lib):
        x = leaf(lib, [1.0, -2.0])
        y = x * 3 + x.exp() + x.sin() * x
        y.sum().backward()
        g = x.grad
        y2 = (x**2).sum()
        y2.backward()
        # torch accumulates in place into the existing .grad tensor
        return x.grad, g is x.grad

    got, want = check(f)


def test_zero_grad_and_none_grad():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        (x * x).sum().backward()
        x.grad.zero_()
        (x * x).sum().backward()
        a = x.grad.clone()
        x.grad = None
        (x * 3).sum().backward()
        return a, x.grad

    check(f)


def test_retain_graph_allows_second_backward():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        g1 = x.grad.clone()
        y.backward()
        return g1, x.grad

    check(f)


SAVING = [
    "(a * b).sum()",
    "(a * 2).sum()",
    "a.exp().sum()",
    "(a / b).sum()",
    "(a ** 2).sum()",
    "a.sigmoid().sum()",
    "a.tanh().sum()",
    "(a @ b).sum()",
    "a.pow(3).mean()",
    "a.max()",
    "a.sqrt().sum()",
    "a.log().sum()",
    "(a.relu() * b).sum()",
    "a.sort(1)[0].sum()",
    "a.topk(1)[0].sum()",
    "a.median(1)[0].sum()",
    "a.max(0)[0].sum()",
]
NOT_SAVING = [
    "(a + b).sum()",
    "(a - b).sum()",
    "a.sum()",
    "(-a).sum()",
    "a.mean()",
    "a.reshape(-1).sum()",
    "a.t().sum()",
    "(a + 1).sum()",
    "a[0].sum()",
    "a.clone().sum()",
]


@pytest.mark.parametrize("expr", SAVING + NOT_SAVING)
def test_second_backward_raises_iff_torch_does(expr):
    objs = {}

    def make(lib):
        a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        b = lib.tensor([[0.5, 1.5], [2.5, 3.5]], requires_grad=True)
        y = eval(expr, {"a": a, "b": b})
        y.backward()
        objs[lib.__name__] = (a, b)
        return lambda: y.backward()

    et_fn, eo_fn = make(tape), make(torch)
    from conftest import capture_error

    eo = capture_error(eo_fn)
    if eo is None:
        assert capture_error(et_fn) is None
    else:
        assert_same_error(et_fn, lambda: (_ for _ in ()).throw(eo))
    for i in range(2):
        assert_same(objs["tape"][i].grad, objs["torch"][i].grad)


def test_freed_graph_error_after_autograd_grad():
    def make(lib):
        x = leaf(lib, [1.0, 2.0])
        y = (x * x).sum()
        lib.autograd.grad(y, x)
        return lambda: lib.autograd.grad(y, x)

    assert_same_error(make(tape), make(torch))


# ---------------------------------------------------------------------------------------------
# .grad of non-leaves, retain_grad, hooks
# ---------------------------------------------------------------------------------------------


def test_non_leaf_grad_is_none_with_warning():
    for lib in (tape, torch):
        x = leaf(lib, [1.0, 2.0])
        y = x * 2
        y.sum().backward()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert y.grad is None
        assert len(w) == 1 and issubclass(w[0].category, UserWarning)
        assert str(w[0].message).startswith(
            "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed"
        )
        # A leaf and a retained non-leaf do not warn.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x.grad  # noqa: B018
            z = x * 3
            z.retain_grad()
            z.grad  # noqa: B018
            # Nor does a non-leaf whose .grad backward(inputs=...) filled.
            v = x * 3
            (v * v).sum().backward(inputs=[v])
            assert v.grad is not None


@pytest.mark.parametrize(
    "case", ["larger", "extra dim", "named function", "dtype", "leaf dtype", "grad of no graph"]
)
def test_hook_and_grad_errors_match_torch(case):
    """A tensor hook may not change the gradient's size or dtype; autograd.grad checks its
    outputs before its inputs."""

    def run(lib):
        def enlarge(g):
            return lib.ones(3)

        x = leaf(lib, [1.0, 2.0])
        y = x * 2
        if case == "larger":
            y.register_hook(lambda g: lib.ones(3))
        elif case == "extra dim":
            x.register_hook(lambda g: lib.ones(2, 1))
        elif case == "named function":
            y.register_hook(enlarge)  # the message names the hook
        elif case == "dtype":
            y.register_hook(lambda g: g.double())
        elif case == "leaf dtype":
            x.register_hook(lambda g: g.double())
        else:
            z = lib.tensor([1.0, 2.0])
            lib.autograd.grad((z * 2).sum(), z)
        y.sum().backward()

    assert_same_error(lambda: run(tape), lambda: run(torch))


def test_retain_grad():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        y = x * x
        y.retain_grad()
        z = y.exp()
        z.retain_grad()
        w = (z * y).sum()
        w.retain_grad()
        w.backward()
        x.retain_grad()  # a no-op on leaves
        return (
            x.grad,
            y.grad,
            z.grad,
            w.grad,
            y.retains_grad,
            x.retains_grad,
            (x * 1).retains_grad,
        )

    check(f)


def test_retain_grad_accumulates():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        y = x * x
        y.retain_grad()
        y.sum().backward(retain_graph=True)
        (y * 3).sum().backward()
        return y.grad, x.grad

    check(f)


def test_retain_grad_on_tensor_not_requiring_grad():
    assert_same_error(lambda: tape.ones(2).retain_grad(), lambda: torch.ones(2).retain_grad())


def test_hook_on_leaf_modifies_accumulated_grad():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        seen = []
        x.register_hook(lambda g: seen.append(g.clone()))
        x.register_hook(lambda g: g * 10)
        x.register_hook(lambda g: seen.append(g.clone()))
        (x * x).sum().backward()
        return x.grad, seen

    check(f)


def test_hook_on_non_leaf_modifies_flowing_grad():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        y = x * x
        y.retain_grad()
        y.register_hook(lambda g: g + 1)
        z = y.sin()
        seen = []
        z.register_hook(lambda g: seen.append(g.clone()))
        (z * 2).sum().backward()
        # retain_grad's value is the gradient after the hooks, whatever the registration order
        return x.grad, y.grad, seen

    check(f)


def test_hook_handle_remove():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        h = x.register_hook(lambda g: g * 100)
        h.remove()
        y = x * 2
        h2 = y.register_hook(lambda g: g * 100)
        h2.remove()
        y.sum().backward()
        return x.grad

    check(f)


def test_hook_on_shared_subexpression_runs_once_with_summed_grad():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        y = x * 2
        calls = []
        y.register_hook(lambda g: calls.append(g.clone()))
        (y * y + y).sum().backward()
        return calls, x.grad

    check(f)


def test_register_hook_on_tensor_not_requiring_grad():
    assert_same_error(
        lambda: tape.ones(2).register_hook(lambda g: g),
        lambda: torch.ones(2).register_hook(lambda g: g),
    )


def test_grad_fn_hooks():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        y = x * 3
        seen = []
        y.grad_fn.register_hook(lambda gi, go: seen.append((gi[0].clone(), go[0].clone())))
        y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
        y.sum().backward()
        return x.grad, seen[0]

    check(f)


# ---------------------------------------------------------------------------------------------
# requires_grad, detach, .data
# ---------------------------------------------------------------------------------------------

PROPAGATION = [
    ("x + y", False),
    ("x + z", True),
    ("z * 0", True),
    ("x.exp() + y", False),
    ("z.detach() + x", False),
    ("z[0]", True),
    ("z.sum()", True),
    ("(z > 0).float()", False),
    ("z.argmax()", False),
    ("z.max(0)[0]", True),
    ("z.max(0)[1]", False),
    ("z.long()", False),
    ("z.double()", True),
    ("lib.cat([x, z])", True),
    ("lib.stack([x, y])", False),
    ("lib.where(x > 0.5, z, y)", True),
    ("lib.zeros_like(z)", False),
    ("z.clone()", True),
]


@pytest.mark.parametrize("expr,expected", PROPAGATION, ids=[e for e, _ in PROPAGATION])
def test_requires_grad_propagation(expr, expected):
    def f(lib):
        lib.manual_seed(0)
        x = lib.rand(5, 5)
        y = lib.rand(5, 5)
        z = lib.rand((5, 5), requires_grad=True)
        r = eval(expr, {"x": x, "y": y, "z": z, "lib": lib})
        return r.requires_grad, r.is_leaf, r.grad_fn is None

    got, want = check(f)
    assert got[0] is expected


def test_requires_grad_setter_and_method():
    def f(lib):
        x = lib.ones(3)
        r0 = x.requires_grad
        x.requires_grad = True
        r1 = x.requires_grad
        x.requires_grad_(False)
        r2 = x.requires_grad
        ret = x.requires_grad_()
        return r0, r1, r2, x.requires_grad, ret is x, x.is_leaf

    check(f)


def test_requires_grad_false_on_non_leaf():
    def make(lib):
        x = leaf(lib, [1.0])
        y = x * 2
        return lambda: y.requires_grad_(False)

    assert_same_error(make(tape), make(torch))

    def f(lib):  # requires_grad_(True) on a non-leaf is fine
        x = leaf(lib, [1.0])
        y = (x * 2).requires_grad_(True)
        return y.requires_grad, y.is_leaf

    check(f)


INT_DTYPES = ["int64", "int32", "uint8", "bool"]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_int_tensors_cannot_require_grad(dtype):
    assert_same_error(
        lambda: tape.tensor([1, 0], dtype=getattr(tape, dtype)).requires_grad_(),
        lambda: torch.tensor([1, 0], dtype=getattr(torch, dtype)).requires_grad_(),
    )
    for lib in (tape, torch):
        t = lib.tensor([1, 0], dtype=getattr(lib, dtype))
        with pytest.raises(RuntimeError):
            t.requires_grad = True
        assert not t.requires_grad and t.is_leaf


@pytest.mark.parametrize("factory", ["tensor", "zeros"])
def test_int_factories_cannot_require_grad(factory):
    args = {"tensor": ([1, 0],), "zeros": (2,)}[factory]
    assert_same_error(
        lambda: getattr(tape, factory)(*args, dtype=tape.int64, requires_grad=True),
        lambda: getattr(torch, factory)(*args, dtype=torch.int64, requires_grad=True),
    )


def test_detach_shares_storage_and_cuts_graph():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        y = x * 2
        d = y.detach()
        flags = (d.requires_grad, d.is_leaf, d.grad_fn is None, y.requires_grad)
        d[0] = 100.0  # visible through y
        z = (y * x).sum()  # x*y saves y; y changed through d before this op: fine
        z.backward()
        return flags, y.detach().clone(), x.grad

    check(f)


def test_detach_version_counter_is_shared():
    """An in-place change through a detached alias of a saved tensor is caught at backward."""
    objs = {}

    def make(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        y = x.exp()  # saves its output
        y.detach().zero_()
        objs[lib.__name__] = y
        return lambda: y.sum().backward()

    et, eo = assert_same_error(make(tape), make(torch))
    assert "modified by an inplace operation" in str(et)


def test_detach_():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        y = x * 2
        r = y.detach_()
        z = leaf(lib, [3.0, 4.0])
        z.detach_()
        return r is y, y.requires_grad, y.is_leaf, y.grad_fn is None, z.requires_grad, y

    check(f)


def test_data_attribute():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        d = x.data
        flags = (d.requires_grad, d.is_leaf, x.requires_grad)
        d.mul_(3)  # in-place on .data is allowed and shows in x
        y = (x * x).sum()
        y.backward()
        return flags, x.detach().clone(), x.grad

    check(f)


def test_data_has_its_own_version_counter():
    """torch: an in-place change through .data is NOT seen by autograd (silently uses the new values)."""

    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        y = (x * x).sum()
        x.data.mul_(2)
        y.backward()
        return x.grad

    check(f)


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "sqrt", "relu", "reciprocal"])
@pytest.mark.parametrize("change", ["in place", "no_grad leaf", ".data"])
def test_input_changed_after_an_op_that_saves_its_output(op, change):
    """torch saves exp's output, not its input: changing the input afterwards does not change
    the gradient. Three rounds: the first runs node by node, later ones compiled."""

    def f(lib):
        grads = []
        for _ in range(3):
            x = leaf(lib, [0.1, 0.3])  # tanh unsaturated: float32 1 - y**2 stays accurate
            y = x * 2 if change == "in place" else x
            z = getattr(y, op)()
            if change == "in place":
                y.add_(1)
                y.mul_(-1)
            elif change == "no_grad leaf":
                with lib.no_grad():
                    x.mul_(3)
            else:
                x.data.mul_(3)
            (z * lib.tensor([1.0, 3.0])).sum().backward()
            grads.append(x.grad)
        return grads

    check(f)


def test_input_changed_after_a_cheap_op_recomputed_in_the_compiled_backward():
    """The compiled backward recomputes cheap ops' outputs; it must use their inputs as they
    were, not as an in-place change under no_grad left them."""

    def f(lib):
        grads = []
        for _ in range(3):
            a = leaf(lib, [1.0, 2.0])
            z = (a + lib.tensor([3.0, 4.0])).exp()
            with lib.no_grad():
                a.mul_(3)
            z.sum().backward()
            grads.append(a.grad)
        return grads

    check(f, rtol=1e-6)


def test_data_setter():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        x.data = lib.tensor([5.0, 6.0])
        (x * x).sum().backward()
        return x.grad, x.requires_grad, x.is_leaf

    check(f)


# ---------------------------------------------------------------------------------------------
# grad modes
# ---------------------------------------------------------------------------------------------


def test_no_grad_context():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        with lib.no_grad():
            y = x * 2
            inside = lib.is_grad_enabled()
        return y.requires_grad, y.grad_fn is None, inside, lib.is_grad_enabled()

    check(f)


def test_no_grad_decorators():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])

        @lib.no_grad()
        def g1(t):
            return t * 2

        @lib.no_grad
        def g2(t):
            """doc"""
            return t * 3

        return (
            g1(x).requires_grad,
            g2(x).requires_grad,
            g2.__name__,
            g2.__doc__,
            (x * 1).requires_grad,
        )

    check(f)


def test_no_grad_restores_on_exception():
    for lib in (tape, torch):
        with pytest.raises(ValueError):
            with lib.no_grad():
                raise ValueError
        assert lib.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        with lib.no_grad():
            with lib.enable_grad():
                y = x * 2
            z = x * 2

            @lib.enable_grad()
            def g(t):
                return t * 3

            @lib.enable_grad
            def h(t):
                return t * 3

            w, v = g(x), h(x)
        return y.requires_grad, z.requires_grad, w.requires_grad, v.requires_grad

    check(f)


def test_set_grad_enabled():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        out = []
        with lib.set_grad_enabled(False):
            out.append((x * 2).requires_grad)
            with lib.set_grad_enabled(True):
                out.append((x * 2).requires_grad)
        out.append(lib.is_grad_enabled())
        lib.set_grad_enabled(False)  # a bare call switches the mode
        out.append(lib.is_grad_enabled())
        out.append((x * 2).requires_grad)
        lib.set_grad_enabled(True)
        out.append(lib.is_grad_enabled())

        @lib.set_grad_enabled(False)
        def g(t):
            return t * 2

        out.append(lib.is_grad_enabled())  # constructing the decorator does not switch it
        out.append(g(x).requires_grad)
        out.append(lib.is_grad_enabled())
        return out

    check(f)


def test_inference_mode():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        with lib.inference_mode():
            y = x * 2
            inside = lib.is_grad_enabled()
        with lib.inference_mode(False):
            z = x * 2

        @lib.inference_mode()
        def g(t):
            return t * 2

        return y.requires_grad, inside, z.requires_grad, g(x).requires_grad, lib.is_grad_enabled()

    check(f)


def _outcome(fn):
    """``fn()``'s value as plain Python (a tensor's values, flag or shape), or its error."""
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return out.tolist() if hasattr(out, "tolist") else out


# Inference tensors: ``a`` was made in inference mode (a leaf of ones), ``e`` too with
# requires_grad, ``n`` is a normal tensor and ``w`` requires grad. Each case runs outside the
# mode unless named ``inside_``.
INFERENCE_CASES = {
    "made_inside": lambda lib, a, e, n, w: [
        t.is_inference() for t in _made_in_inference_mode(lib, n, w, a)
    ],
    "outside_ops_are_normal": lambda lib, a, e, n, w: [
        (a * 1).is_inference(),
        a.clone().is_inference(),
        (a + n).is_inference(),
    ],
    "aliases_stay": lambda lib, a, e, n, w: [
        a.detach().is_inference(),
        a.data.is_inference(),
        a[1:].is_inference(),
    ],
    "in_place": lambda lib, a, e, n, w: a.add_(1),
    "in_place_under_no_grad": lambda lib, a, e, n, w: _under(lib.no_grad(), lambda: a.mul_(2)),
    "zero_": lambda lib, a, e, n, w: a.zero_(),
    "setitem": lambda lib, a, e, n, w: a.__setitem__(0, 5.0),
    "view_in_place": lambda lib, a, e, n, w: a[1:].add_(1),
    "requires_grad_": lambda lib, a, e, n, w: a.requires_grad_(),
    "version": lambda lib, a, e, n, w: a._version,
    "saved_for_backward": lambda lib, a, e, n, w: (a * w).sum().backward(),
    "matmul_saves": lambda lib, a, e, n, w: a @ w,
    "not_saved": lambda lib, a, e, n, w: _grad_of(w, (a + w).sum()),
    "inference_requires_grad": lambda lib, a, e, n, w: (e.requires_grad, (e * w).sum()),
    "inside_in_place": lambda lib, a, e, n, w: _under(lib.inference_mode(), lambda: a.add_(1)),
    "inside_requires_grad_": lambda lib, a, e, n, w: _under(
        lib.inference_mode(), lambda: a.requires_grad_().requires_grad
    ),
    "inside_normal_in_place": lambda lib, a, e, n, w: _under(
        lib.inference_mode(), lambda: (n.add_(1).tolist(), n.is_inference(), n._version)
    ),
    "read": lambda lib, a, e, n, w: (repr(a), a.exp().sum().item(), a.numpy().tolist()),
}


def _made_in_inference_mode(lib, n, w, a) -> list:
    with lib.inference_mode():
        return [
            lib.ones(2), lib.zeros(2), lib.tensor([1.0]), lib.arange(3), lib.full((2,), 3.0),
            lib.randn(2), n * 2, w * 2, n[0:2], n.view(3), a.view(3), a[0:1], n.detach(),
        ]  # fmt: skip


def _under(mode, fn):
    with mode:
        return fn()


def _grad_of(w, loss):
    loss.backward()
    return w.grad


@pytest.mark.parametrize("case", INFERENCE_CASES)
def test_inference_tensors(case):
    """Tensors made in inference mode are torch's inference tensors: no in-place change,
    requires_grad or saving for backward outside the mode, no version counter. tape raises
    before an in-place op writes (torch writes, then raises)."""

    def run(lib):
        n, w = lib.ones(3), lib.ones(3, requires_grad=True)
        with lib.inference_mode():
            a, e = lib.ones(3), lib.ones(3, requires_grad=True)
        return _outcome(lambda: INFERENCE_CASES[case](lib, a, e, n, w))

    assert run(tape) == run(torch)


def test_is_grad_enabled_in_backward_hooks():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        seen = []
        x.register_hook(lambda g: seen.append(lib.is_grad_enabled()))
        (x * x).sum().backward()
        (x * x).sum().backward(create_graph=True)
        return seen

    check(f)


# ---------------------------------------------------------------------------------------------
# in-place ops and version counters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        "add_(1)",
        "mul_(2)",
        "zero_()",
        "fill_(3.0)",
        "sub_(x.detach())",
        "__setitem__(0, 5.0)",
    ],
)
def test_inplace_on_leaf_requiring_grad(op):
    objs = {}

    def make(lib):
        x = leaf(lib, [1.0, 2.0])
        objs[lib.__name__] = x
        return lambda: eval(f"x.{op}", {"x": x})

    assert_same_error(make(tape), make(torch))
    for lib in (tape, torch):
        x = objs[lib.__name__]
        assert x.detach().tolist() == [1.0, 2.0] and x.is_leaf and x.requires_grad
        with lib.no_grad():  # allowed under no_grad
            eval(f"x.{op}", {"x": x})
    assert_same(objs["tape"], objs["torch"])


def test_inplace_on_non_leaf_is_recorded():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        y = x + 1  # AddBackward saves nothing
        y.mul_(x)
        y.add_(1)
        y[1] = 0.0
        name = y.grad_fn.name()
        y.sum().backward()
        return x.grad, name, y.is_leaf

    check(f)


SAVED_MODIFIED = [
    # (setup, in-place on saved tensor)
    ("y = x.exp(); r = y", "y.add_(1)"),
    ("y = x.sigmoid(); r = y.sum()", "y.mul_(2)"),
    ("r = x * x", "with torch.no_grad(): x.add_(1)"),  # a leaf: no "which is output ..."
    ("a = x * 2; r = a.sin()", "a.clamp_(0)"),
    ("c = torch.ones(3); r = x * c", "c.add_(1)"),
    ("v, i = x.max(0); r = v * x", "v.add_(1)"),
    ("a = x * 2; r = a.sin()", "a.detach().add_(1)"),
    ("a = x * 1; r = a * a", "a.add_(1)"),
    ("a = x * 1; r = a.pow(2)", "a[0] = 3.0"),
    ("a = x + 0; r = a.sin()", "a.zero_()"),
    # in-place ops that save their output: the value now held by `a`
    ("a = x * 2; a.sigmoid_(); r = a", "a.mul_(3)"),
    ("a = x * 2; a.exp_(); r = a * 1", "a.add_(1)"),
    ("a = x * 2; a.tanh_(); r = a", "a[0] = 1.0"),
    ("a = x * 2; r = a.take(torch.tensor([0, 2]))", "a.add_(1)"),
    ("a = x * 2; r = a.cummax(0)[0]", "a.add_(1)"),
]
# (values, indices) ops save their indices only: a change to the input or the values is fine.
UNSAVED_MODIFIED = [
    (f"a = x * 2; r, i = a.{op}", f"{m}.mul_(3)")
    for op in ("sort()", "topk(2)", "median(0)", "kthvalue(2)", "mode(0)", "max(0)", "min(0)")
    for m in ("a", "r")
]


@pytest.mark.parametrize("setup,mod", SAVED_MODIFIED)
def test_modified_saved_tensor_is_detected_at_backward(setup, mod):
    objs = {}

    def make(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        ns = {"x": x, "torch": lib}
        exec(setup, ns)
        exec(mod, ns)
        objs[lib.__name__] = x
        return lambda: ns["r"].sum().backward()

    et, eo = assert_same_error(make(tape), make(torch))
    # torch's full message: which tensor, which node, which versions.
    assert normalize(str(et)) == normalize(str(eo))
    assert objs["tape"].grad is None


@pytest.mark.parametrize("setup,mod", UNSAVED_MODIFIED)
def test_modified_unsaved_tensor_is_fine(setup, mod):
    def f(lib):
        x = leaf(lib, [1.0, 3.0, 2.0])
        ns = {"x": x, "torch": lib}
        exec(setup, ns)
        exec(mod, ns)
        ns["r"].sum().backward()
        return x.grad

    check(f)


def test_inplace_on_tensor_multiplied_by_scalar():
    # torch's MulBackward0 saves self only when other requires grad: `a * 2` does not pin `a`
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        a = x + 0
        r = a * 2
        a.add_(1)
        r.sum().backward()
        return x.grad

    check(f)


def test_inplace_on_unsaved_tensor_is_fine():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        a = x * 1
        b = a + 2  # AddBackward0 saves nothing
        a.add_(1)
        (b * 1).sum().backward()
        return x.grad, a._version, b._version

    check(f)


def test_version_counter():
    def f(lib):
        x = lib.ones(3)
        v = [x._version]
        x.add_(1)
        v.append(x._version)
        x[0] = 2.0
        v.append(x._version)
        d = x.detach()
        d.mul_(2)
        v.append(x._version)
        return v

    check(f)


# ---------------------------------------------------------------------------------------------
# tape.autograd.grad
# ---------------------------------------------------------------------------------------------


def test_autograd_grad_basic_and_no_accumulation():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        w = leaf(lib, [0.5, -1.0, 2.0])
        y = (x * w).exp().sum()
        gx, gw = lib.autograd.grad(y, [x, w])
        return gx, gw, x.grad, w.grad, y.requires_grad

    check(f)


def test_autograd_grad_single_input_and_non_leaf_input():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        h = x.sin()
        y = (h * h).sum()
        (gh,) = lib.autograd.grad(y, h, retain_graph=True)
        (gx,) = lib.autograd.grad(y, x)
        return gh, gx

    check(f)


def test_autograd_grad_outputs():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        y = x**2
        z = x.exp()
        return lib.autograd.grad(
            [y, z], [x], grad_outputs=[lib.tensor([1.0, 0.0, -1.0]), lib.ones(3)]
        )

    check(f)


def test_autograd_grad_allow_unused():
    def f(lib):
        x = leaf(lib, [1.0, 2.0])
        u = leaf(lib, [3.0])
        y = (x * 2).sum()
        return lib.autograd.grad(y, [x, u], allow_unused=True)

    check(f)

    def make(lib):
        x = leaf(lib, [1.0, 2.0])
        u = leaf(lib, [3.0])
        y = (x * 2).sum()
        return lambda: lib.autograd.grad(y, [x, u])

    assert_same_error(make(tape), make(torch))

    def g(lib):
        x = leaf(lib, [1.0, 2.0])
        u = leaf(lib, [3.0])
        y = (x * 2).sum()
        return lib.autograd.grad(y, [x, u], materialize_grads=True)

    check(g)


def test_autograd_grad_input_not_requiring_grad():
    def make(lib):
        x = leaf(lib, [1.0, 2.0])
        c = lib.ones(2)
        y = (x * c).sum()
        return lambda: lib.autograd.grad(y, [c])

    assert_same_error(make(tape), make(torch))


def test_second_derivative_of_cube():
    def f(lib):
        x = leaf(lib, [1.0, -2.0, 3.0])
        y = x**3
        (dy,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        flags = (dy.requires_grad, dy.grad_fn is not None)
        (d2y,) = lib.autograd.grad(dy.sum(), x, create_graph=True)
        (d3y,) = lib.autograd.grad(d2y.sum(), x)
        return dy, d2y, d3y, flags

    check(f)


def test_create_graph_gradient_depends_only_on_what_the_vjp_reads():
    """A gradient constant in x has no graph, and a parameter that only shifts the loss
    (b in x * x + b) gets no gradient (None, not zeros) from a second backward."""

    def f(lib):
        x, b = leaf(lib, [1.0, 2.0]), leaf(lib, 0.5)
        (g,) = lib.autograd.grad((x * 2).sum(), x, create_graph=True)
        out = [g, g.requires_grad, g.grad_fn is None]
        gx, gb = lib.autograd.grad((x * x + b).sum(), [x, b], create_graph=True)
        out += [gx, gb, gb.requires_grad, gx.requires_grad]
        gx.sum().backward()
        out += [x.grad, b.grad]
        gx, gb = lib.autograd.grad((x.sin() * b).sum(), [x, b], create_graph=True)
        (gx.sum() + gb).backward()
        return [*out, gx, gb, x.grad, b.grad]

    check(f)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_double_backward_via_backward_create_graph():
    def f(lib):
        x = leaf(lib, [0.5, 1.5])
        y = (x.sin() * x).sum()
        y.backward(create_graph=True)
        g = x.grad
        flags = (g.requires_grad,)
        x.grad = None
        g.sum().backward()
        return x.grad, flags

    check(f)


def test_gradient_penalty():
    def f(lib):
        lib.manual_seed(0)
        w = lib.randn(4, 3, requires_grad=True)
        inp = lib.randn(5, 4, requires_grad=True)
        out = (inp @ w).tanh().sum(1)
        (g,) = lib.autograd.grad(out, inp, grad_outputs=lib.ones_like(out), create_graph=True)
        penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
        loss = out.mean() + 10 * penalty
        loss.backward()
        return loss, w.grad, inp.grad

    check(f, rtol=1e-4, atol=1e-5)


def test_hessian_vector_product():
    def f(lib):
        x = leaf(lib, [1.0, 2.0, 3.0])
        v = lib.tensor([1.0, 0.0, -1.0])
        y = (x.exp() * x.sum()).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (hv,) = lib.autograd.grad(g, x, grad_outputs=v)
        return hv

    check(f)


# ---------------------------------------------------------------------------------------------
# backward(inputs=...)
# ---------------------------------------------------------------------------------------------


def test_backward_inputs():
    def f(lib):
        a = leaf(lib, [1.0, 2.0])
        b = leaf(lib, [3.0, 4.0])
        c = leaf(lib, [5.0, 6.0])
        h = a * b
        h.retain_grad()
        y = (h * c).sum()
        y.backward(inputs=[a, c], retain_graph=True)
        r1 = (a.grad, b.grad, c.grad, h.grad)
        y.backward(inputs=b)
        return r1, b.grad

    check(f)


def test_backward_inputs_non_leaf():
    def f(lib):
        a = leaf(lib, [1.0, 2.0])
        h = a.exp()
        y = (h * h).sum()
        y.backward(inputs=[h])
        return a.grad, h.grad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(f)


def test_backward_inputs_empty():
    def make(lib):
        a = leaf(lib, [1.0, 2.0])
        y = (a * a).sum()
        return lambda: y.backward(inputs=[])

    assert_same_error(make(tape), make(torch))


# ---------------------------------------------------------------------------------------------
# graph structure
# ---------------------------------------------------------------------------------------------


def describe(fn, depth=0):
    """A comparable picture of a graph: names and output numbers, recursively."""
    if fn is None:
        return None
    if depth > 12:
        return "..."
    return (
        type(fn).__name__,
        tuple((describe(n, depth + 1), nr) for n, nr in fn.next_functions),
    )


GRAPHS = [
    "3*a**3 - b**2",
    "(a * b).sum()",
    "a.exp() + b",
    "(a + 1) / b",
    "a.sin().cos().tanh()",
    "a.reshape(2, 1).t().sum(0)",
    "a[0] * b[1]",
    "lib.stack([a, b]).mean()",
    "lib.cat([a, a * 2]).max()",
    "(a @ b)",
    "a.unsqueeze(0).expand(3, 2)",
    "a.sigmoid() - b.relu()",
    "a.pow(2) + a.sqrt()",
    "(a - 1).abs().log()",
    "a * 2.0",
    "2.0 - a",
    "a.mean() + b.sum()",
    "lib.where(a > 2.5, a, b)",
    "a.double() * 3",
    "-a",
    "a.clamp(min=2.5)",
    "a.view(-1)",
    "a.transpose(0, 0)",
    "lib.matmul(a.reshape(1, 2), b.reshape(2, 1))",
]


@pytest.mark.parametrize("expr", GRAPHS)
def test_grad_fn_structure(expr):
    def f(lib):
        a = leaf(lib, [2.0, 3.0])
        b = leaf(lib, [6.0, 4.0])
        r = eval(expr, {"a": a, "b": b, "lib": lib})
        g = r.sum() if r.dim() else r
        g.backward()
        return describe(r.grad_fn), r.is_leaf, r.requires_grad, r, a.grad, b.grad

    got, want = both(f)
    assert got[0] == want[0]
    assert_same(got[1:], want[1:])


def test_accumulate_grad_node():
    for lib in (tape, torch):
        a = leaf(lib, [2.0, 3.0])
        y = a * 2
        acc = y.grad_fn.next_functions[0][0]
        assert type(acc).__name__ == "AccumulateGrad"
        assert acc.variable is a
        assert acc.next_functions == ()
        # the same node for every use of the leaf, while a graph holds it
        assert (a + 1).grad_fn.next_functions[0][0] is acc
        assert a.is_leaf and not y.is_leaf and a.grad_fn is None
        assert lib.ones(2).is_leaf
        assert (lib.ones(2) * 2).is_leaf
        assert "AccumulateGrad object at 0x" in repr(acc)
        assert y.grad_fn.name() == "MulBackward0"


def test_node_metadata_is_a_dict_that_stays():
    for lib in (tape, torch):
        a = leaf(lib, [2.0, 3.0])
        y = a * 2
        for node in (y.grad_fn, y.grad_fn.next_functions[0][0]):
            assert node.metadata == {}
            node.metadata["step"] = 3
            assert node.metadata == {"step": 3}


def test_accumulator_hooks_match_torch():
    """A leaf's own hook, then the accumulator's pre-hook (which may replace the gradient), the
    accumulation, and its post-hook: torch's order, on every step of a repeated graph."""
    results = {}
    for lib in (tape, torch):
        seen = []
        for step in range(3):
            a = leaf(lib, [2.0, 3.0])
            y = a * 2
            acc = y.grad_fn.next_functions[0][0]
            a.register_hook(lambda g: seen.append(("tensor", g.tolist())) or g + 1)
            acc.register_prehook(
                lambda go, step=step: (
                    seen.append(("pre", step, [g.tolist() for g in go])) or (go[0] * 10,)
                )
            )
            acc.register_hook(lambda gi, go: seen.append(("post", gi, [g.tolist() for g in go])))
            y.sum().backward()
            seen.append(a.grad.tolist())
        results[lib] = seen
    assert results[tape] == results[torch]


def test_post_accumulate_grad_hooks_match_torch():
    """A leaf's post-accumulate hook sees its accumulated .grad after every backward (also of a
    repeated graph, which would otherwise run compiled), in the order the hooks and the
    accumulator's own post-hook run, until removed; it may change the grad in place."""
    results = {}
    for lib in (tape, torch):
        seen = []
        a = leaf(lib, [2.0, 3.0])
        first = a.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
        a.register_post_accumulate_grad_hook(lambda p: [p.grad.mul_(0.5), None][1])
        for step in range(4):
            if step == 2:
                first.remove()
            (a * a * 3).sum().backward()
            seen.append(("after", step, a.grad.tolist()))
        results[lib] = seen
    assert results[tape] == results[torch]


@pytest.mark.parametrize(
    "register",
    [
        lambda lib, x: (x * 2).register_post_accumulate_grad_hook(print),
        lambda lib, x: lib.ones(2).register_post_accumulate_grad_hook(print),
        lambda lib, x: (x.register_post_accumulate_grad_hook(lambda p: 5), x.sum().backward()),
        lambda lib, x: (
            x.register_post_accumulate_grad_hook(lambda p: p.grad * 2),
            x.sum().backward(),
        ),
    ],
    ids=["non-leaf", "no grad", "returns an int", "returns a tensor"],
)
def test_post_accumulate_grad_hook_errors_match_torch(register):
    errors = []
    for lib in (tape, torch):
        with pytest.raises(Exception) as info:
            register(lib, leaf(lib, [1.0, 2.0]))
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]


def test_grad_fn_is_callable():
    # (torch records the call when grad mode is on; tape does not: compare values only)
    def f(lib):
        a = leaf(lib, [2.0, 3.0])
        b = leaf(lib, [6.0, 4.0])
        ga, gb = (a * b).grad_fn(lib.ones(2))
        ge = a.exp().grad_fn(lib.tensor([1.0, 2.0]))
        gs = (a * 2.0).grad_fn(lib.ones(2))
        return ga.detach(), gb.detach(), ge.detach(), [g if g is None else g.detach() for g in gs]

    check(f)


def test_output_nr_for_multi_output_ops():
    def f(lib):
        a = leaf(lib, [[2.0, 3.0], [1.0, 7.0]])
        vals, idx = a.max(1)
        parts = a.unbind(0)
        return (
            vals.output_nr,
            idx.output_nr,
            idx.requires_grad,
            type(vals.grad_fn).__name__,
            [p.output_nr for p in parts],
            type(parts[1].grad_fn).__name__,
        )

    check(f)


# ---------------------------------------------------------------------------------------------
# conversions and printing of tensors in a graph
# ---------------------------------------------------------------------------------------------


def test_numpy_on_requires_grad_tensor():
    objs = {}

    def make(lib):
        x = leaf(lib, [1.0, 2.0])
        objs[lib.__name__] = x
        return lambda: x.numpy()

    assert_same_error(make(tape), make(torch))
    assert_same_error(lambda: (objs["tape"] * 2).numpy(), lambda: (objs["torch"] * 2).numpy())
    np.testing.assert_array_equal(objs["tape"].detach().numpy(), objs["torch"].detach().numpy())
    np.testing.assert_array_equal(objs["tape"].numpy(force=True), [1.0, 2.0])


@pytest.mark.parametrize(
    "expr",
    [
        "x.sum().item()",
        "x[1].item()",
        "x.tolist()",
        "(x * 2).tolist()",
        "x.sum().tolist()",
        "len(x)",
        "len(x * 2)",
        "bool(x[0])",
        "bool(x.sum() > 3)",
        "float(x[1] * 2)",
        "int(x[1] * 2)",
        "f'{x.sum():.3f}'",
        "f'{x.sum()}'",
        "f'{x}'",
        "f'{x * 2}'",
        "f'{x[0] * 2:>12}'",
        "'%s' % (x * 2)",
        "str(x.sum() * 3)",
        "repr(x.sum())",
        "[float(t) for t in x]",
        "x.requires_grad",
    ],
)
def test_python_conversions(expr):
    def f(lib):
        x = leaf(lib, [1.5, 2.5, 3.25])
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = eval(expr, {"x": x})
        # float() of a tensor requiring grad warns once per process in both: not compared
        once = "Converting a tensor with requires_grad=True"
        return r, [(m.category, str(m.message)) for m in w if once not in str(m.message)]

    (got, gw), (want, ww) = both(f)
    assert gw == ww
    if isinstance(want, str):
        got, want = normalize(got), normalize(want)
    assert got == want


@pytest.mark.parametrize(
    "expr",
    [
        "len(x.sum())",
        "bool(x)",
        "bool(x[:0])",
        "x.item()",
        "format(x, '.2f')",
        "iter(x.sum())",
        "int(x)",
    ],
)
def test_python_conversion_errors(expr):
    def make(lib):
        x = leaf(lib, [1.5, 2.5, 3.25])
        return lambda: eval(expr, {"x": x})

    assert_same_error(make(tape), make(torch))


@pytest.mark.parametrize(
    "expr",
    [
        "x",
        "x * 2",
        "x.sum()",
        "x.exp() + 1",
        "x.double() * 2",
        "x.detach()",
        "x[0]",
        "x.max(0)",
        "x.max(0)[1]",
        "x.reshape(3, 1)",
        "(x * 2).long()",
        "x.sum() / 3",
        "lib.stack([x, x])",
        "x.mean()",
        "x - 1",
        "1 - x",
        "x.unsqueeze(0).t()",
    ],
)
def test_printing_tensors_with_grad_fn(expr):
    def f(lib):
        x = leaf(lib, [1.5, 2.5, 3.25])
        r = eval(expr, {"x": x, "lib": lib})
        return repr(r), str(r), f"{r}"

    got, want = both(f)
    assert tuple(map(normalize, got)) == tuple(map(normalize, want))


def test_printing_grad_fn():
    def f(lib):
        x = leaf(lib, [1.5, 2.5, 3.25])
        y = x * 2
        return str(y.grad_fn), repr(y.grad_fn), f"{y.grad_fn}", y.grad_fn.name()

    got, want = both(f)
    assert tuple(map(normalize, got)) == tuple(map(normalize, want))


# ---------------------------------------------------------------------------------------------
# custom autograd.Function
# ---------------------------------------------------------------------------------------------


def _scaled_exp(lib):
    class ScaledExp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            y = x.exp() * k
            ctx.save_for_backward(y)
            ctx.k = k
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y, None

    return ScaledExp


def test_function_forward_backward_and_graph_match_torch():
    """Three rounds of the same graph: a graph with a custom node is never compiled, so every
    round runs the user's backward."""

    def f(lib):
        fn = _scaled_exp(lib)
        out = []
        for _ in range(3):
            x = leaf(lib, [0.5, 1.5])
            y = fn.apply(x * 2, 3.0)
            (y * lib.tensor([1.0, 2.0])).sum().backward()
            node = y.grad_fn
            out += [y, x.grad, type(node).__name__, node.name(), node.needs_input_grad]
            out.append([type(n).__name__ for n, _ in node.next_functions])
        with lib.no_grad():
            out.append(fn.apply(leaf(lib, [1.0]), 2.0).requires_grad)
        out.append(fn.apply(lib.tensor([1.0]), 2.0).grad_fn)
        return out

    check(f)


def test_function_several_outputs_setup_context_and_non_differentiable():
    def f(lib):
        seen = []

        class SumProd(lib.autograd.Function):
            @staticmethod
            def forward(a, b):
                return a + b, a * b, (a > 1).to(a.dtype)

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(*inputs)
                ctx.mark_non_differentiable(output[2])

            @staticmethod
            def backward(ctx, g_sum, g_prod, g_mask):
                a, b = ctx.saved_tensors
                seen.append((g_sum, g_prod))  # the unused output's gradient comes as zeros
                return g_sum + g_prod * b, g_sum + g_prod * a

        a, b = leaf(lib, [1.0, 2.0]), leaf(lib, [3.0, 4.0])
        s, p, m = SumProd.apply(a, b)
        s.sum().backward()
        return a.grad, b.grad, seen, m.requires_grad, p.grad_fn is s.grad_fn, p.requires_grad

    check(f)


def test_function_create_graph_gives_second_derivatives():
    def f(lib):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x**3

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 3 * x**2 * g

        x = leaf(lib, [1.0, 2.0])
        (g,) = lib.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        g.sum().backward()
        return g, x.grad

    check(f)


def _doubling(lib, backward):
    """A Function computing ``x * 2`` whose backward is ``backward(ctx, g)``."""
    body = {"forward": staticmethod(lambda ctx, x: x * 2), "backward": staticmethod(backward)}
    return type("Doubling", (lib.autograd.Function,), body)


@pytest.mark.parametrize("kind", ["broadcast", "once_differentiable"])
def test_function_backward_conventions(kind):
    """A gradient broadcast beyond the input's shape is summed back to it, and a
    ``once_differentiable`` backward runs with grad off."""

    def f(lib):
        if kind == "broadcast":
            fn = _doubling(lib, lambda ctx, g: g.unsqueeze(0).expand(3, 2))
        else:
            once = lib.autograd.function.once_differentiable
            fn = _doubling(lib, once(lambda ctx, g: None if lib.is_grad_enabled() else g * 2))
        x = leaf(lib, [1.0, 2.0])
        fn.apply(x).sum().backward()
        return x.grad

    check(f)


@pytest.mark.parametrize("case", ["count", "shape", "twice", "in place", "instantiate"])
def test_function_errors_match_torch(case):
    def run(lib):
        fn = _scaled_exp(lib)

        class Count(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g

        x = leaf(lib, [1.0, 2.0])
        if case == "count":
            Count.apply(x, 2.0).sum().backward()
        elif case == "shape":
            _doubling(lib, lambda ctx, g: lib.ones(3)).apply(x).sum().backward()
        elif case == "twice":
            y = fn.apply(x, 2.0).sum()
            y.backward()
            y.backward()
        elif case == "in place":
            y = fn.apply(x, 2.0)
            y.add_(1)
            y.sum().backward()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                fn()

    assert_same_error(lambda: run(tape), lambda: run(torch))


# autograd.functional: each case is call(lib, AF, x, y, v, w) on the same data under both.
_FX, _FY, _FV, _FW = (
    np.random.default_rng(11).standard_normal(s).astype(np.float32) for s in (3, (2, 3), 3, 2)
)
FUNCTIONAL = {
    "vjp_scalar": lambda L, AF, x, y, v, w: AF.vjp(lambda x: (x**3).sum(), x),
    "vjp_tuple_inputs": lambda L, AF, x, y, v, w: AF.vjp(lambda x, y: (y @ x).tanh(), (x, y), w),
    "vjp_tuple_outputs": lambda L, AF, x, y, v, w: AF.vjp(
        lambda x: (x.sin() * 2, x.exp().sum()), x, (v, L.tensor(1.0))
    ),
    "vjp_create_graph": lambda L, AF, x, y, v, w: AF.vjp(lambda x: x**2, x, v, create_graph=True),
    "jvp": lambda L, AF, x, y, v, w: AF.jvp(lambda x, y: (y @ x).tanh(), (x, y), (v, y * 0.5)),
    "jvp_single": lambda L, AF, x, y, v, w: AF.jvp(lambda x: x.sin() * x, x, v),
    "jacobian": lambda L, AF, x, y, v, w: AF.jacobian(lambda x, y: (y @ x).tanh(), (x, y)),
    "jacobian_single": lambda L, AF, x, y, v, w: AF.jacobian(lambda x: x.sin() * x, x),
    "jacobian_tuple_outputs": lambda L, AF, x, y, v, w: AF.jacobian(
        lambda x: (x.sin() * 2, x.exp().sum()), x
    ),
    "jacobian_create_graph": lambda L, AF, x, y, v, w: AF.jacobian(
        lambda x: x**2, x, create_graph=True
    ),
    "jacobian_unused_input": lambda L, AF, x, y, v, w: AF.jacobian(lambda x, y: x * 2, (x, y)),
    "jacobian_vectorize": lambda L, AF, x, y, v, w: AF.jacobian(
        lambda x: x.exp(), x, vectorize=True, strategy="forward-mode"
    ),
    "hessian": lambda L, AF, x, y, v, w: AF.hessian(lambda x: (x**3).sum(), x),
    "hessian_tuple": lambda L, AF, x, y, v, w: AF.hessian(
        lambda x, y: (y @ x).pow(2).sum(), (x, y)
    ),
    "vhp": lambda L, AF, x, y, v, w: AF.vhp(lambda x: (x.sin() * x).sum(), x, v),
    "hvp": lambda L, AF, x, y, v, w: AF.hvp(lambda x: (x.sin() * x).sum(), x, v),
    "hvp_tuple": lambda L, AF, x, y, v, w: AF.hvp(
        lambda x, y: (y @ x).pow(2).sum(), (x, y), (v, y)
    ),
    "error_vjp_without_v": lambda L, AF, x, y, v, w: AF.vjp(lambda x: x * 2, x),
    "error_vjp_v_size": lambda L, AF, x, y, v, w: AF.vjp(lambda x: x * 2, x, w),
    "error_inputs_type": lambda L, AF, x, y, v, w: AF.jacobian(lambda x: x, [x]),
    "error_strict_unused": lambda L, AF, x, y, v, w: AF.jacobian(
        lambda x, y: x * 2, (x, y), strict=True
    ),
    "error_strict_vjp": lambda L, AF, x, y, v, w: AF.vjp(lambda x: L.ones(3), x, v, strict=True),
    "error_hessian_vector_output": lambda L, AF, x, y, v, w: AF.hessian(lambda x: x * 2, x),
    "error_jvp_v_length": lambda L, AF, x, y, v, w: AF.jvp(lambda x, y: x, (x, y), (v,)),
}


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_autograd_functional_matches_torch(name):
    def run(lib):
        data = (lib.tensor(a) for a in (_FX, _FY, _FV, _FW))
        return FUNCTIONAL[name](lib, lib.autograd.functional, *data)

    if name.startswith("error_"):
        assert_same_error(lambda: run(tape), lambda: run(torch))
        return

    def same(got, want):
        assert isinstance(got, tuple) == isinstance(want, tuple)
        if isinstance(want, tuple):
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                same(g, w)
        else:
            assert got.requires_grad == want.requires_grad
            assert_same(got.detach(), want.detach(), rtol=1e-5, atol=1e-6)

    same(run(tape), run(torch))


def _undefined_grad_graph(lib, materialize: bool, through_builtin: bool, second_path: bool):
    """A custom Function whose backward sends no gradient (None) to a custom Function before it,
    directly or through a built-in op: torch still runs the earlier one, with zeros (or None
    without ``materialize_grads``). Returns what its backward saw and the leaf's gradient."""
    seen = []

    class Earlier(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            seen.append(None if g is None else g.tolist())
            return None if g is None else g * 2

    class Blocks(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return None

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = Earlier.apply(x)
    y = Blocks.apply(h * 3 if through_builtin else h)
    if second_path:
        y = y + Earlier.apply(x)
    (g,) = lib.autograd.grad(y.sum(), x, allow_unused=True)
    return seen, None if g is None else g.tolist()


@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("through_builtin", [True, False])
@pytest.mark.parametrize("second_path", [True, False])
def test_undefined_gradients_still_reach_custom_functions(
    materialize, through_builtin, second_path
):
    args = (materialize, through_builtin, second_path)
    assert _undefined_grad_graph(tape, *args) == _undefined_grad_graph(torch, *args)


def _variable_facts(lib, make):
    """What ``make(Variable, lib)`` gives: its value, flags and sharing, or its error."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            v, source = make(lib.autograd.Variable, lib)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    shares = source is not None and v.numel() and v.data_ptr() == source.data_ptr()
    return (
        v.tolist(),
        v.requires_grad,
        v.is_leaf,
        v.grad_fn is None,
        v is source,
        bool(shares),
        [str(w.message) for w in caught],
    )


VARIABLES = {
    "plain": lambda V, L: (V(x := L.ones(2)), x),
    "requires_grad": lambda V, L: (V(x := L.ones(2), requires_grad=True), x),
    "of_a_result": lambda V, L: (V(x := L.ones(2, requires_grad=True) * 3), x),
    "empty": lambda V, L: (V(), None),
    "volatile": lambda V, L: (V(x := L.ones(2), volatile=True), x),
    "error_not_a_tensor": lambda V, L: (V([1, 2]), None),
    "error_int_requires_grad": lambda V, L: (V(L.ones(2, dtype=L.int64), requires_grad=True), None),
    "error_setter_int": lambda V, L: (
        setattr(x := L.ones(2, dtype=L.int64), "requires_grad", True),
        x,
    ),
}


@pytest.mark.parametrize("name", VARIABLES)
def test_legacy_variable_matches_torch(name):
    assert _variable_facts(tape, VARIABLES[name]) == _variable_facts(torch, VARIABLES[name])


def test_every_tensor_is_a_variable():
    assert isinstance(tape.ones(2), tape.autograd.Variable)
    assert not isinstance(3, tape.autograd.Variable)


def _exp_changed_in_place(lib):
    x = lib.ones(2, requires_grad=True)
    y = x.exp()  # the forward line the anomaly warning shows
    y.add_(1)
    y.sum().backward()


def _nan_in_backward(lib):
    x = lib.ones(2, requires_grad=True)
    ((x * 0).sqrt() * 0).sum().backward()
    return str(x.grad.tolist())  # NaN != NaN


def _on(lib, fn, check_nan=True):
    with lib.autograd.detect_anomaly(check_nan=check_nan):
        return fn(lib)


def _set_then_query(lib):
    lib.autograd.set_detect_anomaly(True, check_nan=False)  # a call, not a with block
    return lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()


def _decorated(lib):
    @lib.autograd.detect_anomaly()
    def step():
        return lib.is_anomaly_enabled(), _nan_in_backward(lib)

    return step()


ANOMALY = {
    "inplace_change_off": _exp_changed_in_place,
    "inplace_change_on": lambda L: _on(L, _exp_changed_in_place),
    "nan_off": _nan_in_backward,
    "nan_on": lambda L: _on(L, _nan_in_backward),
    "nan_on_unchecked": lambda L: _on(L, _nan_in_backward, check_nan=False),
    "metadata_on": lambda L: _on(L, lambda L: sorted((L.ones(1, requires_grad=True) * 2).grad_fn.metadata)),
    "metadata_off": lambda L: sorted((L.ones(1, requires_grad=True) * 2).grad_fn.metadata),
    "state_inside": lambda L: _on(L, lambda L: (L.is_anomaly_enabled(), L.is_anomaly_check_nan_enabled())),
    "state_after": lambda L: (_on(L, lambda L: None), L.is_anomaly_enabled())[1],
    "set_without_with": _set_then_query,
    "set_in_with": lambda L: [(L.autograd.set_detect_anomaly(True).__enter__(), L.is_anomaly_enabled())[1]],
    "decorator": _decorated,
    "grad_on": lambda L: _on(L, lambda L: (x := L.ones(2, requires_grad=True), L.autograd.grad(((x * 0).sqrt() * 0).sum(), x))),
    # torch runs only the nodes with a path to the inputs asked for: no NaN from the others
    "grad_on_unused_branch": lambda L: _on(L, lambda L: (x := L.ones(2, requires_grad=True), str(L.autograd.grad(x.sum() + (L.ones(2, requires_grad=True) * 0).sqrt().sum() * 0, x)))[1]),
}  # fmt: skip


def _anomaly_facts(lib, name):
    """What the case returns or raises, and the warnings' first lines (and whether the forward
    line shows in a traceback warning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("returned", ANOMALY[name](lib))
        except Exception as e:  # noqa: BLE001
            result = ("raised", type(e).__name__, str(e))
        finally:
            lib.set_anomaly_enabled(False)
    messages = [str(w.message) for w in caught]
    shown = any("y = x.exp()" in m for m in messages)
    return result, [m.split("\n")[0] for m in messages], shown


@pytest.mark.parametrize("name", ANOMALY)
def test_anomaly_detection_matches_torch(name):
    got, want = _anomaly_facts(tape, name), _anomaly_facts(torch, name)
    assert got == want
    assert not tape.is_anomaly_enabled() and tape.is_anomaly_check_nan_enabled()


def _pruned_calls(lib, via: str):
    """autograd.grad (or backward with ``inputs``) to ``x`` only: which hooks run on the branch
    that leads elsewhere (torch runs none of it), and on the way to a non-leaf input."""
    calls = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    a = x * 2
    a.register_hook(lambda g: calls.append("a"))
    b = w * 3
    b.register_hook(lambda g: calls.append("b"))
    b.grad_fn.register_prehook(lambda gs: calls.append("b_node"))
    out = (a * b).sum()
    if via == "grad":
        got = lib.autograd.grad(out, x)[0].tolist()
    elif via == "grad_non_leaf":
        got = lib.autograd.grad(out, a)[0].tolist()
    elif via == "grad_create_graph":
        got = lib.autograd.grad(out, x, create_graph=True)[0].tolist()
    else:
        out.backward(inputs=[x])
        got = x.grad.tolist()
    return got, sorted(calls), w.grad


@pytest.mark.parametrize("via", ["grad", "grad_non_leaf", "grad_create_graph", "backward_inputs"])
def test_backward_to_some_inputs_runs_only_the_nodes_leading_there(via):
    assert _pruned_calls(tape, via) == _pruned_calls(torch, via)
