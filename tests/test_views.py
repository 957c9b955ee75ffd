"""Views share memory with their base, as in torch: torch-differential, table-driven.

Each case is written once for both libraries (``t`` is ``torch`` or ``tape``) and returns the
tensors to compare: values, ``_version``, ``requires_grad`` and ``grad_fn`` name; then a fixed
cotangent is back-propagated through every returned tensor that requires grad and the leaves'
gradients are compared. Every case runs for several rounds with new data, so that the deferred
forward (2nd round) and the compiled backward (3rd round on) are compared too.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

import tape

ROUNDS = 3
SHAPE = (3, 4)

# --- view ops: name -> fn(t, b) making a view of the (3, 4) tensor b ----------------------------
# fmt: off
VIEWS = {
    "view": lambda t, b: b.view(4, 3),
    "view_flat": lambda t, b: b.view(-1),
    "view_as": lambda t, b: b.view_as(t.zeros(2, 6)),
    "reshape": lambda t, b: b.reshape(2, 6),
    "flatten": lambda t, b: b.unsqueeze(0).flatten(0, 1),
    "unflatten": lambda t, b: b.unflatten(1, (2, 2)),
    "squeeze": lambda t, b: b[None].squeeze(0),
    "squeeze_all": lambda t, b: b.view(1, 3, 1, 4).squeeze(),
    "unsqueeze": lambda t, b: b.unsqueeze(1),
    "transpose": lambda t, b: b.transpose(0, 1),
    "t": lambda t, b: b.t(),
    "T": lambda t, b: b.T,
    "permute": lambda t, b: b.permute(1, 0),
    "movedim": lambda t, b: b.view(3, 2, 2).movedim(0, 2),
    "narrow": lambda t, b: b.narrow(1, 1, 2),
    "select": lambda t, b: b.select(1, 2),
    "getitem_int": lambda t, b: b[1],
    "getitem_slice": lambda t, b: b[1:],
    "getitem_step": lambda t, b: b[:, ::2],
    "getitem_none": lambda t, b: b[None, 1],
    "getitem_ellipsis": lambda t, b: b[..., 1],
    "getitem_mixed": lambda t, b: b[1:, None, 2],
    "alias": lambda t, b: b[...],
    "diagonal": lambda t, b: b.diagonal(),
    "diagonal_offset": lambda t, b: b.diagonal(1),
    "diagonal_neg": lambda t, b: b.t().diagonal(-1),
    "t_select": lambda t, b: b.t()[1],
    "slice_t": lambda t, b: b[1:].t(),
    "view_slice": lambda t, b: b.view(-1)[2:7],
    "t_step_slice": lambda t, b: b.t()[::2, 1:],
    "unflatten_t": lambda t, b: b.t().unflatten(0, (2, 2)),
}

# in-place ops on a view v; s is a scalar leaf that requires grad
INPLACE = {
    "add_": lambda t, v, s: v.add_(1.5),
    "mul_": lambda t, v, s: v.mul_(-2.0),
    "add_tensor_": lambda t, v, s: v.add_(s * t.ones_like(v)),
    "mul_tensor_": lambda t, v, s: v.mul_(s),
    "zero_": lambda t, v, s: v.zero_(),
    "fill_": lambda t, v, s: v.fill_(3.0),
    "fill_tensor_": lambda t, v, s: v.fill_(s),
    "copy_": lambda t, v, s: v.copy_(s * t.ones_like(v) + 1),
    "setitem": lambda t, v, s: v.__setitem__(0, 5.0),
    "setitem_tensor": lambda t, v, s: v.__setitem__(0, s * 2),
    "setitem_slice": lambda t, v, s: v.__setitem__((Ellipsis, slice(0, 1)), -1.0),
    "iadd_item": lambda t, v, s: v.__setitem__(0, v[0] + s),
    "sigmoid_": lambda t, v, s: v.sigmoid_(),
}
# fmt: on


def _inputs(lib, name, rnd):
    rng = np.random.default_rng(zlib.crc32(name.encode()) + rnd)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    s = np.float32(rng.standard_normal())
    return lib.tensor(x, requires_grad=True), lib.tensor(s, requires_grad=True)


def _name(t):
    fn = t.grad_fn
    return None if fn is None else type(fn).__name__


def _describe(outs):
    return [(tuple(o.shape), o._version, o.requires_grad, _name(o)) for o in outs]


def _backward(lib, outs):
    loss = None
    for i, o in enumerate(outs):
        if o.requires_grad:
            n = o.numel()
            ct = lib.tensor(np.linspace(-1, 1, n).astype(np.float32) + i).reshape(o.shape)
            term = (o * ct).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()


def _compare(case_fn, name):
    for rnd in range(ROUNDS):
        results = {}
        for lib in (torch, tape):
            x, s = _inputs(lib, name, rnd)
            outs = case_fn(lib, x, s)
            desc = _describe(outs)
            values = [o.detach().numpy().copy() for o in outs]
            _backward(lib, outs)
            grads = [None if g is None else g.numpy().copy() for g in (x.grad, s.grad)]
            results[lib.__name__] = desc, values, grads
        (d_r, v_r, g_r), (d_t, v_t, g_t) = results["torch"], results["tape"]
        assert d_t == d_r, f"round {rnd}"
        for a, b in zip(v_t, v_r, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"round {rnd}")
        for a, b in zip(g_t, g_r, strict=True):
            assert (a is None) == (b is None), f"round {rnd}"
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"round {rnd}")


# every view with a few in-place ops, and every in-place op with a few views
CORE_OPS = ["mul_tensor_", "setitem_tensor", "copy_"]
CORE_VIEWS = ["view_flat", "t", "getitem_step", "t_select", "diagonal_neg"]
PAIRS = [(v, op) for v in VIEWS for op in CORE_OPS] + [
    (v, op) for v in CORE_VIEWS for op in INPLACE if op not in CORE_OPS
]


@pytest.mark.parametrize(("view", "op"), PAIRS, ids=lambda p: str(p))
def test_inplace_through_view(view, op):
    """An in-place op on a view changes the base and the base's other views."""

    def case(t, x, s):
        b = x * 1
        other = b[0]  # a view that exists before the write
        v = VIEWS[view](t, b)
        INPLACE[op](t, v, s)
        return [b, v, other]

    _compare(case, f"{view}-{op}")


# in-place ops on the base b; s is a scalar leaf that requires grad
BASE_INPLACE = {
    "mul_": lambda t, b, s: b.mul_(2.0),
    "add_tensor_": lambda t, b, s: b.add_(s),
    "setitem_row": lambda t, b, s: b.__setitem__(1, s),
    "setitem_col": lambda t, b, s: b.__setitem__((slice(None), 2), 7.0),
    "zero_": lambda t, b, s: b.zero_(),
    "copy_": lambda t, b, s: b.copy_(s.expand(3, 4)),
}


BASE_PAIRS = [(v, "add_tensor_") for v in VIEWS] + [
    (v, op) for v in CORE_VIEWS for op in BASE_INPLACE if op != "add_tensor_"
]


@pytest.mark.parametrize(("view", "op"), BASE_PAIRS, ids=lambda p: str(p))
def test_inplace_on_base_seen_by_view(view, op):
    def case(t, x, s):
        b = x * 1
        v = VIEWS[view](t, b)
        w = v.view(-1) if v.is_contiguous() else v[..., None]  # a view of the view
        BASE_INPLACE[op](t, b, s)
        return [b, v, w, v * 1]

    _compare(case, f"base-{view}-{op}")


# fmt: off
CHAINS = {
    "index_index_set": lambda t, b, s: b[0].__setitem__(1, 5.0),
    "t_select_fill": lambda t, b, s: b.t()[0].fill_(1.0),
    "view_setitem": lambda t, b, s: b.view(-1).__setitem__(2, 7.0),
    "view_then_view_write": lambda t, b, s: b.view(2, 6)[1].view(3, 2)[:, 1].mul_(s),
    "two_writes": lambda t, b, s: (b[1].add_(s), b[:, 1].mul_(3.0)),
    "write_base_then_view": lambda t, b, s: (b.add_(1.0), b[2].mul_(s)),
    "nested_setitem": lambda t, b, s: b[1:][0].__setitem__(slice(1, 3), s),
    "iadd_getitem": lambda t, b, s: b.__setitem__(1, b[1] + s),
    "iadd_operator": lambda t, b, s: _iadd(b, 1, s),
    "unsqueeze_expand_read": lambda t, b, s: (b[0].mul_(s), b[0].unsqueeze(0).expand(2, 4) * 1),
    "split_no_write_grad": lambda t, b, s: b.split(2)[1] * s,
    "detach_write": lambda t, b, s: b.detach()[1].fill_(9.0),
    "view_detach_write": lambda t, b, s: b[1].detach().fill_(9.0),
    "swapaxes": lambda t, b, s: b.swapaxes(0, 1)[2].add_(s),
    "chunk_read": lambda t, b, s: t.stack(b.chunk(2, 1)).sum(0) * s,
    "unbind_read": lambda t, b, s: t.stack(b.unbind(1)) * s,
    "index_put_on_view": lambda t, b, s: b.t().__setitem__(t.tensor([0, 2]), s),
    "mask_put_on_view": lambda t, b, s: b[1:].__setitem__(b[1:] > 0, s),
    "masked_fill_view": lambda t, b, s: b[:, 1:].masked_fill_(b[:, 1:] > 0, 0.5),
}
# fmt: on


def _iadd(b, index, value):
    b[index] += value


@pytest.mark.parametrize("chain", CHAINS, ids=str)
def test_chained_views(chain):
    def case(t, x, s):
        b = x * 1
        keep = [b[1], b.t(), b.view(-1)]  # views alive across the writes
        extra = CHAINS[chain](t, b, s)
        extra = [e for e in (extra if isinstance(extra, tuple) else (extra,)) if e is not None]
        return [b, *keep, *extra]

    _compare(case, chain)


def _plain(lib):
    return lib.arange(12.0).reshape(3, 4) * 1


@pytest.mark.parametrize("view", VIEWS, ids=str)
def test_inplace_through_view_without_grad(view):
    for op in INPLACE:
        got = []
        for lib in (torch, tape):
            b = _plain(lib)
            other = b[1]
            v = VIEWS[view](lib, b)
            INPLACE[op](lib, v, lib.tensor(2.5))
            got.append([(o.tolist(), o._version, o.requires_grad) for o in (b, v, other)])
        assert got[1] == got[0], op


@pytest.mark.parametrize("view", ["split", "chunk", "unbind", "expand_read"])
def test_multi_output_views_without_grad(view):
    def run(lib):
        b = _plain(lib)
        if view == "split":
            parts = b.split(2, 1)
            parts[1].mul_(10)
        elif view == "chunk":
            parts = b.chunk(3, 0)
            parts[2].fill_(-1)
        elif view == "unbind":
            parts = b.unbind(1)
            parts[0].add_(100)
        else:
            e = b[1].expand(2, 4)
            b[1, 1] = 50
            parts = (e,)
        return [b.tolist(), b._version] + [(p.tolist(), p._version) for p in parts]

    assert run(tape) == run(torch)


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e), str(e).split("\n")[0]
    return None


# fmt: off
ERRORS = {
    "leaf_view_inplace": lambda t, x: x[0].mul_(2),
    "leaf_view_setitem": lambda t, x: x.t().__setitem__(0, 1.0),
    "leaf_setitem": lambda t, x: x.__setitem__(0, 1.0),
    "split_output_inplace": lambda t, x: (x * 1).split(2)[0].mul_(2),
    "unbind_output_inplace": lambda t, x: (x * 1).unbind()[1].add_(1),
    "chunk_view_of_output": lambda t, x: (x * 1).chunk(2)[0][0].zero_(),
    "expanded_write": lambda t, x: (x * 1)[0:1].expand(3, 4).mul_(2),
    "expanded_setitem": lambda t, x: (x * 1)[0:1].expand(3, 4).__setitem__((slice(None), 0), 2.0),
    "no_grad_view": lambda t, x: _no_grad_view(t, x).mul_(2),
    "no_grad_view_of_leaf": lambda t, x: _no_grad_view(t, x, leaf=True).add_(1),
    "no_grad_view_copy_": lambda t, x: _no_grad_view(t, x, leaf=True).copy_(t.ones(4)),
    "no_grad_view_setitem": lambda t, x: _no_grad_view(t, x).__setitem__(0, 1.0),
    "no_grad_view_of_leaf_setitem": lambda t, x: _no_grad_view(t, x, True).__setitem__(0, 1.0),
    "no_grad_view_slice_setitem": lambda t, x: _no_grad_view(t, x, True).__setitem__(
        slice(0, 2), 1.0
    ),
    "no_grad_view_index_put": lambda t, x: _no_grad_view(t, x, True).__setitem__(
        t.tensor([0]), 1.0
    ),
    "no_grad_view_setitem_none": lambda t, x: _no_grad_view(t, x).__setitem__(None, 1.0),
    "no_grad_view_setitem_bool": lambda t, x: _no_grad_view(t, x).__setitem__(True, 1.0),
    "no_grad_view_setitem_all": lambda t, x: _no_grad_view(t, x).__setitem__(slice(0, 4), 1.0),
    "no_grad_view_setitem_ellipsis": lambda t, x: _no_grad_view(t, x).__setitem__(
        (Ellipsis, 1), 1.0
    ),
    "no_grad_view_setitem_false": lambda t, x: _no_grad_rows(t, x).__setitem__((False,), 1.0),
    "no_grad_view_index_put_select": lambda t, x: _no_grad_rows(t, x).__setitem__(
        (t.tensor([1]), 0), 1.0
    ),
    "no_grad_view_index_put_slice": lambda t, x: _no_grad_rows(t, x).__setitem__(
        (slice(0, 1), t.tensor([1])), 1.0
    ),
    "view_of_no_grad_view_inplace": lambda t, x: _no_grad_view(t, x, True)[1:].mul_(2),
    "view_noncontiguous": lambda t, x: x.t().view(-1),
    "view_slice": lambda t, x: x[:, 1:].view(-1),
    "view_expand": lambda t, x: x[0].expand(2, 4).view(8),
    "int_view_float_inplace": lambda t, x: x.long()[1:].div_(2),
    "view_negative_step_setitem": lambda t, x: (x * 1).t().__setitem__(slice(None, None, -1), 0.0),
    "leaf_t_": lambda t, x: x.t_(),
    "t_3d": lambda t, x: (x * 1).view(3, 2, 2).t_(),
    "transpose_out_of_range": lambda t, x: (x * 1).transpose_(0, 2),
    "squeeze_out_of_range": lambda t, x: (x * 1).squeeze_(-3),
    "unsqueeze_out_of_range": lambda t, x: (x * 1).unsqueeze_(3),
    "split_output_t_": lambda t, x: (x * 1).split(2)[0].t_(),
}
# fmt: on


def _no_grad_rows(t, x):
    with t.no_grad():
        return x[0:2]


def _no_grad_view(t, x, leaf=False):
    y = x if leaf else x * 1
    with t.no_grad():
        return y[0]


@pytest.mark.parametrize("name", ERRORS, ids=str)
def test_errors_match_torch(name):
    got = []
    for lib in (torch, tape):
        x, _ = _inputs(lib, name, 0)
        got.append(_error(lambda lib=lib, x=x: ERRORS[name](lib, x)))
    assert got[1] == got[0]
    assert got[0] is not None


@pytest.mark.parametrize("view", VIEWS, ids=str)
def test_geometry(view):
    def run(lib):
        x, _ = _inputs(lib, view, 0)
        b = x * 1
        v = VIEWS[view](lib, b)
        c = v.contiguous()
        r = v.reshape(-1)
        viewable = _error(lambda: v.view(-1))
        return (
            v.is_contiguous(),
            v.stride(),
            v.storage_offset(),
            v._is_view(),
            v._base is b,
            c is v,
            _name(c),
            _name(r),
            [type(n).__name__ for n, _ in r.grad_fn.next_functions],
            viewable,
            v.detach()._base is None,
        )

    assert run(tape) == run(torch)


def test_versions_shared():
    def run(lib):
        b = _plain(lib)
        v = b[1]
        w = b.t()
        seen = [(b._version, v._version, w._version)]
        v.add_(1)
        seen.append((b._version, v._version, w._version))
        b.mul_(2)
        seen.append((b._version, v._version, w._version))
        w[0] = 3
        seen.append((b._version, v._version, w._version))
        u = b[2]  # made after the writes: starts at the shared count
        seen.append((u._version, b.tolist(), v.tolist(), w.tolist()))
        return seen

    assert run(tape) == run(torch)


def test_data_of_a_view_sees_later_writes():
    """``.data`` shares a view's memory: writes through the base or a sibling show in it."""

    def run(lib):
        b = _plain(lib)
        v = b[0]
        d, e = v.data, v.detach()
        b[0, 0] = 100
        b[1:].add_(1)  # a sibling view's write
        b.mul_(2)
        return d.tolist(), e.tolist(), v.tolist(), d._version, v._version

    assert run(tape) == run(torch)


# In-place view ops change a tensor's own sizes: name -> fn(t, v), applied to a (3, 1, 4) v.
# fmt: off
IN_PLACE_VIEWS = {
    "t_": lambda t, v: v.squeeze_(1).t_(),
    "transpose_": lambda t, v: v.transpose_(0, 2),
    "swapdims_": lambda t, v: v.swapdims_(0, 1),
    "swapaxes_": lambda t, v: v.swapaxes_(2, 0),
    "squeeze_": lambda t, v: v.squeeze_(),
    "squeeze_dim_": lambda t, v: v.squeeze_(-2),
    "squeeze_dims_": lambda t, v: v.squeeze_((0, 1)),
    "unsqueeze_": lambda t, v: v.unsqueeze_(0),
    "unsqueeze_last_": lambda t, v: v.unsqueeze_(-1),
}
# the tensor they change, made from b = x * 1: b's own reshape, or a view of b
TARGETS = {
    "tensor": lambda b: b.reshape(3, 1, 4) * 1,
    "view": lambda b: b.view(3, 1, 4)[1:],
}
# fmt: on


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("op", IN_PLACE_VIEWS)
def test_in_place_view_op(op, target):
    """The op returns the tensor itself with the view's shape, version and node; a later write
    through it reaches a view's base, and gradients flow through both."""

    def case(t, x, s):
        b = x * 1
        v = TARGETS[target](b)
        assert IN_PLACE_VIEWS[op](t, v) is v
        v.mul_(s)
        return [v, b]

    _compare(case, f"{op}-{target}")


@pytest.mark.parametrize("op", IN_PLACE_VIEWS)
def test_in_place_view_op_geometry(op):
    """A view keeps torch's strides and base through the op. (A tensor that is not a view
    stays one, but laid out contiguously: tape's non-views have no strides of their own.)"""

    def run(lib):
        b = _plain(lib)
        v = TARGETS["view"](b)
        IN_PLACE_VIEWS[op](lib, v)
        return v.stride(), v.storage_offset(), v.is_contiguous(), v._base is b, b._version

    assert run(tape) == run(torch)


@pytest.mark.parametrize("op", IN_PLACE_VIEWS)
def test_in_place_view_op_moves_the_shared_version(op):
    """The op moves the version counter its view shares with the base and the base's other
    views; a sibling saved for backward then fails it, named as torch names it (its history
    regenerated as AsStridedBackward0)."""

    def run(lib):
        b = _plain(lib).requires_grad_() * 1
        sibling = b[0]
        saved = sibling * sibling
        v = TARGETS["view"](b)
        IN_PLACE_VIEWS[op](lib, v)
        versions = (b._version, sibling._version, v._version, sibling.grad_fn.name())
        return versions, _error(lambda: saved.sum().backward())

    assert run(tape) == run(torch)


def test_in_place_view_op_keeps_earlier_views():
    """Views taken of a tensor before its t_() still share its memory afterwards."""

    def case(t, x, s):
        b = x * 1
        row = b[0]
        b.t_()
        row.add_(s)
        b.mul_(2)
        return [b * 1, row * 1]

    _compare(case, "keeps_earlier_views")


def test_in_place_view_op_fails_a_saved_value():
    """Like any in-place op, t_() invalidates a value saved for backward; the message shows the
    tensor's shape now."""
    got = []
    for lib in (torch, tape):
        b = lib.ones(2, 3, requires_grad=True) * 1
        y = b.sin()
        b.t_()
        got.append(_error(lambda y=y: y.sum().backward()))
    assert got[1] == got[0]
    assert got[0][0] is RuntimeError


def test_saved_view_modified_through_base_errors():
    def run(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = x * 1
        v = b[1:]
        y = v.exp()  # saves its output
        z = v * v  # saves v
        b.add_(1)
        return _error(lambda: z.sum().backward()), _error(lambda: y.sum().backward())

    got, want = run(tape), run(torch)
    assert [g and g[0] for g in got] == [w and w[0] for w in want]


def test_no_grad_init_through_view():
    """nn.init-style writes under no_grad into a leaf's views keep it a leaf."""

    def run(lib):
        w = lib.zeros(3, 4, requires_grad=True)
        with lib.no_grad():
            w[0].fill_(1.0)
            w.t()[1].add_(2.0)
            w.view(-1)[5:7] = 3.0
        (w * w).sum().backward()
        return w.tolist(), w.is_leaf, w._version, w.grad.tolist()

    assert run(tape) == run(torch)


def test_copy_slices_repr():
    """The repr names a C++ node by its short name, though ``name()`` is qualified."""
    got = []
    for lib in (torch, tape):
        a = lib.ones(3, requires_grad=True)
        b = a * 2
        b[0] = 5
        got.append((repr(b), b.grad_fn.name()))
    assert got[1] == got[0]


def test_in_place_view_op_on_a_leaf_without_grad():
    """Under no_grad a leaf that requires grad may change its shape; it stays a leaf, and its
    gradient takes the new shape."""

    def run(lib):
        w = lib.arange(6.0).reshape(2, 3).requires_grad_()
        with lib.no_grad():
            w.t_()
        (w * lib.arange(6.0).reshape(3, 2)).sum().backward()
        return tuple(w.shape), w.is_leaf, w.requires_grad, w.grad.tolist()

    assert run(tape) == run(torch)


@pytest.mark.parametrize("base", ["leaf", "view_leaf", "output"])
@pytest.mark.parametrize("view", VIEWS, ids=str)
def test_view_made_under_no_grad(view, base):
    """A view made under no_grad requires grad when its base does (for a leaf that is itself a
    view, the base is that view's, which does not), but it is a leaf with no grad_fn and no
    accumulator: an op on it is recorded, with no edge to it, and no gradient reaches the view
    or its base; backward on the view itself, or autograd.grad to it, raises torch's error."""

    def run(lib):
        if base == "view_leaf":  # reshape returns a view of arange's result
            x = lib.arange(12.0).reshape(3, 4).requires_grad_()
        else:
            x = lib.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4), requires_grad=True)
        b = x * 1 if base == "output" else x
        with lib.no_grad():
            v = VIEWS[view](lib, b)
        y = v * 3
        got = [(v.requires_grad, v.is_leaf, v.grad_fn), (y.requires_grad, y.grad_fn is None)]
        if y.requires_grad:
            names = [f if f is None else f.name() for f, _ in y.grad_fn.next_functions]
            got += [y.grad_fn.name(), names, _error(lambda: y.sum().backward())]
        return got + [
            (v.grad, x.grad),
            (v.detach().requires_grad, v.clone().requires_grad, v.unsqueeze(0).requires_grad),
            _error(lambda: v.backward(lib.ones_like(v))),
            _error(lambda: lib.autograd.grad((v * 2).sum(), v)),
        ]

    assert run(tape) == run(torch)


def test_setitem_false_writes_nothing():
    """``x[False] = v`` selects nothing: torch writes nothing, bumps no version and raises no
    error, even on a leaf that requires grad; ``x[(False,)]`` is an ordinary index."""

    def run(lib):
        x, w = lib.ones(3), lib.ones(3, requires_grad=True)
        x[False] = 5.0
        got = [x.tolist(), x._version, _error(lambda: w.__setitem__(False, 2.0)), w._version]
        x[(False,)] = 5.0
        return got + [x.tolist(), x._version, _error(lambda: w.__setitem__((False,), 2.0))]

    assert run(tape) == run(torch)
