"""``tape.func`` against ``torch.func``: every case runs the same code under both libraries.

One table: each case is ``call(L, F, d)`` with ``L`` the library, ``F`` its ``func`` namespace
and ``d`` the same data as that library's tensors. Results are compared by structure, value,
shape, dtype and ``requires_grad``; a case named ``error_*`` must raise the same exception type
with the same message (tape's module prefix spelled as torch's).
"""

from __future__ import annotations

import collections
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import assert_same, capture_error, normalize

import tape

_RNG = np.random.default_rng(7)
_ARRAYS = {
    "s": _RNG.standard_normal(()).astype(np.float32),  # a scalar
    "x": _RNG.standard_normal(3).astype(np.float32),
    "v": _RNG.standard_normal(3).astype(np.float32),
    "w": _RNG.standard_normal(2).astype(np.float32),
    "y": _RNG.standard_normal((2, 3)).astype(np.float32),
    "b": _RNG.standard_normal((4, 3)).astype(np.float32),  # a batch of 4 x-like rows
    "c": _RNG.standard_normal((4, 2, 3)).astype(np.float32),
    "x64": _RNG.standard_normal(3),
}

Pair = collections.namedtuple("Pair", "first second")


def _data(L) -> SimpleNamespace:
    return SimpleNamespace(**{k: L.tensor(a) for k, a in _ARRAYS.items()})


def _vjp(F, f, *primals, cotangent, **kw):
    out, fn, *aux = F.vjp(f, *primals, **kw)
    return (out, fn(cotangent), *aux)


def _cube(x):
    return (x**3).sum()


def _mlp(p, x):
    """A pytree of parameters: a dict holding a tuple and a list."""
    w, b = p["layer"]
    return ((x @ w.T + b).tanh() * p["scale"][0]).sum()


def _per_sample_grads(L, F, d):
    """Per-sample gradients of a module called with the given parameters."""
    model = L.nn.Linear(3, 2)  # made outside vmap: its init draws random numbers

    def loss(p, x, y):
        return ((F.functional_call(model, p, (x,)) - y) ** 2).mean()

    params = {"weight": d.y, "bias": d.w}
    return F.vmap(F.grad(loss), in_dims=(None, 0, 0))(params, d.b, d.b[:, 1:])


def _params(L, d):
    return {"layer": (d.y, d.w), "scale": [d.s]}


CASES = {
    # grad / grad_and_value
    "grad": lambda L, F, d: F.grad(_cube)(d.x),
    "grad_scalar_input": lambda L, F, d: F.grad(lambda s: s.sin() * s**2)(d.s),
    "grad_argnums_tuple": lambda L, F, d: F.grad(lambda x, y: (y @ x).tanh().sum(), argnums=(0, 1))(
        d.x, d.y
    ),
    "grad_argnums_negative": lambda L, F, d: F.grad(lambda x, y: (y @ x).sum(), argnums=-1)(
        d.x, d.y
    ),
    "grad_unused_argument": lambda L, F, d: F.grad(lambda x, y: x.exp().sum(), argnums=(0, 1))(
        d.x, d.y
    ),
    "grad_has_aux": lambda L, F, d: F.grad(
        lambda x: ((x**2).sum(), (x.sin(), [x * 2])), has_aux=True
    )(d.x),
    "grad_kwargs": lambda L, F, d: F.grad(lambda x, scale: (x * scale).exp().sum())(d.x, scale=d.v),
    "grad_pytree": lambda L, F, d: F.grad(_mlp)(_params(L, d), d.x),
    "grad_namedtuple": lambda L, F, d: F.grad(lambda p: (p.first * p.second.sum()).sum())(
        Pair(d.x, d.v)
    ),
    "grad_float64": lambda L, F, d: F.grad(lambda x: (x.sin() * x).sum())(d.x64),
    "grad_input_requires_grad": lambda L, F, d: F.grad(_cube)(d.x.requires_grad_()),
    "grad_closure_requires_grad": lambda L, F, d: (
        lambda v: F.grad(lambda x: (x * v).sin().sum())(d.x)
    )(d.v.requires_grad_()),
    "grad_under_no_grad": lambda L, F, d: _under_no_grad(L, lambda: F.grad(_cube)(d.x)),
    "grad_inner_no_grad": lambda L, F, d: F.grad(lambda x: x.sum() * _no_grad_copy(L, x).sum())(
        d.x
    ),
    "grad_and_value": lambda L, F, d: F.grad_and_value(_cube)(d.x),
    "grad_and_value_aux": lambda L, F, d: F.grad_and_value(
        lambda x, y: ((y @ x).sum(), y.sum()), argnums=1, has_aux=True
    )(d.x, d.y),
    "grad_of_grad": lambda L, F, d: F.grad(F.grad(lambda s: s.sin() * s**3))(d.s),
    "grad_of_grad_closure": lambda L, F, d: F.grad(lambda a: F.grad(lambda b: a.exp() * b**2)(a))(
        d.s
    ),
    "grad_of_grad_argnums": lambda L, F, d: F.grad(
        lambda x, y: F.grad(lambda x, y: (x * y).sin().sum(), argnums=1)(x, y).sum()
    )(d.x, d.v),
    # vjp
    "vjp": lambda L, F, d: _vjp(F, lambda x: x.sin() * x, d.x, cotangent=d.v),
    "vjp_tuples": lambda L, F, d: _vjp(
        F, lambda x, y: ((y @ x).tanh(), x.exp().sum()), d.x, d.y, cotangent=(d.w, d.s)
    ),
    "vjp_dict_output": lambda L, F, d: _vjp(
        F, lambda x: {"a": x * 2, "b": [x.sum()]}, d.x, cotangent={"a": d.v, "b": [d.s]}
    ),
    "vjp_pytree_primal": lambda L, F, d: _vjp(
        F, lambda p: (p["w"] * p["x"][0]).sum(), {"w": d.v, "x": [d.x]}, cotangent=d.s
    ),
    "vjp_has_aux": lambda L, F, d: _vjp(
        F, lambda x: (x.exp(), x.cos()), d.x, cotangent=d.v, has_aux=True
    ),
    "vjp_fn_twice": lambda L, F, d: (lambda r: (r[1](d.v), r[1](d.x)))(F.vjp(L.tanh, d.x)),
    "vjp_create_graph": lambda L, F, d: F.vjp(L.sin, d.x)[1](d.v.requires_grad_()),
    # jvp
    "jvp": lambda L, F, d: F.jvp(lambda x: x.sin() * x, (d.x,), (d.v,)),
    "jvp_two_primals": lambda L, F, d: F.jvp(lambda x, y: (y @ x).tanh(), (d.x, d.y), (d.v, d.y)),
    "jvp_tuple_output": lambda L, F, d: F.jvp(lambda x: (x.exp(), [x.sum()]), (d.x,), (d.v,)),
    "jvp_has_aux": lambda L, F, d: F.jvp(lambda x: (x**2, x.sum()), (d.x,), (d.v,), has_aux=True),
    "jvp_integer_output": lambda L, F, d: F.jvp(lambda x: (x.argmax(), x * 2), (d.x,), (d.v,)),
    "jvp_pytree_primal": lambda L, F, d: F.jvp(
        lambda p: p["a"] * p["b"][0], ({"a": d.x, "b": [d.v]},), ({"a": d.v, "b": [d.x]},)
    ),
    "jvp_strict": lambda L, F, d: F.jvp(L.exp, (d.x,), (d.v,), strict=True),
    # jacrev / jacfwd / hessian
    "jacrev": lambda L, F, d: F.jacrev(lambda x: x.sin() * x.sum())(d.x),
    "jacrev_argnums": lambda L, F, d: F.jacrev(lambda x, y: (y @ x).tanh(), argnums=(0, 1))(
        d.x, d.y
    ),
    "jacrev_tuple_output": lambda L, F, d: F.jacrev(lambda x: (x.exp(), x.sum(), x[:2] * 3))(d.x),
    "jacrev_dict_output_has_aux": lambda L, F, d: F.jacrev(
        lambda x: ({"a": x**2, "b": x.prod()}, x.mean()), has_aux=True
    )(d.x),
    "jacrev_pytree_input": lambda L, F, d: F.jacrev(_mlp)(_params(L, d), d.x),
    "jacrev_scalar": lambda L, F, d: F.jacrev(lambda s: s.exp() * 2)(d.s),
    "jacrev_chunk_size": lambda L, F, d: F.jacrev(lambda y: y.sin(), chunk_size=2)(d.y),
    "jacrev_float64": lambda L, F, d: F.jacrev(lambda x: x.cumsum(0))(d.x64),
    "jacrev_input_requires_grad": lambda L, F, d: F.jacrev(lambda x: x**2)(d.x.requires_grad_()),
    "jacfwd": lambda L, F, d: F.jacfwd(lambda x: x.sin() * x.sum())(d.x),
    "jacfwd_argnums": lambda L, F, d: F.jacfwd(lambda x, y: (y @ x).tanh(), argnums=(0, 1))(
        d.x, d.y
    ),
    "jacfwd_tuple_output": lambda L, F, d: F.jacfwd(lambda x: (x.exp(), x.sum(), x[:2] * 3))(d.x),
    "jacfwd_has_aux": lambda L, F, d: F.jacfwd(lambda x: (x**2, x.mean()), has_aux=True)(d.x),
    "jacfwd_pytree_input": lambda L, F, d: F.jacfwd(_mlp)(_params(L, d), d.x),
    "jacfwd_matrix": lambda L, F, d: F.jacfwd(lambda y: y.softmax(1))(d.y),
    "jacfwd_float64": lambda L, F, d: F.jacfwd(lambda x: x.cumsum(0))(d.x64),
    "jacfwd_randomness_same": lambda L, F, d: _seeded(
        L, lambda: F.jacfwd(lambda x: x * L.ones(3).bernoulli_(0.5), randomness="same")(d.x)
    ),
    "hessian": lambda L, F, d: F.hessian(lambda x: (x.sin() * x**2).sum())(d.x),
    "hessian_argnums": lambda L, F, d: F.hessian(lambda x, y: (y @ x).pow(2).sum(), (0, 1))(
        d.x, d.y
    ),
    "hessian_pytree": lambda L, F, d: F.hessian(lambda p: (p["a"] ** 3).sum() * p["b"])(
        {"a": d.x, "b": d.s}
    ),
    "jacrev_of_jacfwd": lambda L, F, d: F.jacrev(F.jacfwd(lambda x: x.exp() * x.sum()))(d.x),
    "jacrev_of_jacrev": lambda L, F, d: F.jacrev(F.jacrev(lambda x: x.tanh() * x[0]))(d.x),
    "jacfwd_of_jacfwd": lambda L, F, d: F.jacfwd(F.jacfwd(lambda x: x.sin().sum() * x))(d.x),
    "grad_of_jacrev": lambda L, F, d: F.grad(lambda x: F.jacrev(L.sin)(x).sum())(d.x),
    # vmap
    "vmap": lambda L, F, d: F.vmap(lambda x: x.sin() * x.sum())(d.b),
    "vmap_dot": lambda L, F, d: F.vmap(L.dot)(d.b, d.b.cos()),
    "vmap_in_dims": lambda L, F, d: F.vmap(lambda a, x: a * x, in_dims=(1, None))(d.b.T, d.v),
    "vmap_negative_in_dim": lambda L, F, d: F.vmap(lambda y: y.sum(0), in_dims=-1)(d.c),
    "vmap_nested_in_dims": lambda L, F, d: F.vmap(
        lambda p, x: p["a"][0] * p["a"][1] + x, in_dims=({"a": (0, None)}, 1)
    )({"a": (d.b, d.x)}, d.b.T),
    "vmap_tuple_outputs": lambda L, F, d: F.vmap(lambda x: (x.exp(), [x.sum()]))(d.b),
    "vmap_out_dims": lambda L, F, d: F.vmap(lambda x: (x * 2, x.sum(), d.v), out_dims=(1, 0, None))(
        d.b
    ),
    "vmap_out_dims_negative": lambda L, F, d: F.vmap(lambda y: y * 2, out_dims=-1)(d.c),
    "vmap_out_dims_one_tuple": lambda L, F, d: F.vmap(lambda x: x * 2, out_dims=(1,))(d.b),
    "vmap_non_tensor_output": lambda L, F, d: F.vmap(lambda x: (x, 3.0), out_dims=(0, None))(d.b),
    "vmap_kwargs": lambda L, F, d: F.vmap(lambda x, scale: x * scale)(d.b, scale=2.0),
    "vmap_nested": lambda L, F, d: F.vmap(F.vmap(lambda a, b: (a * b).sum()))(d.c, d.c.exp()),
    "vmap_nested_with_dims": lambda L, F, d: F.vmap(
        F.vmap(lambda a: a * 2, in_dims=1, out_dims=1), in_dims=2, out_dims=0
    )(d.c),
    "vmap_chunk_size": lambda L, F, d: F.vmap(lambda x: x.cumsum(0), chunk_size=3)(d.b),
    "vmap_empty_batch": lambda L, F, d: F.vmap(lambda y: y.sum(0), out_dims=1)(L.ones(0, 3, 4)),
    "vmap_unbatched_output": lambda L, F, d: F.vmap(lambda x: d.v * 2)(d.b),
    "vmap_requires_grad": lambda L, F, d: F.vmap(lambda x: x * 2)(d.b.requires_grad_()),
    "vmap_randomness_same": lambda L, F, d: _seeded(
        L, lambda: F.vmap(lambda x: x + L.rand(3), randomness="same")(d.b)
    ),
    "vmap_of_grad": lambda L, F, d: F.vmap(F.grad(lambda x: (x.sin() * x).sum()))(d.b),
    "vmap_of_jacrev": lambda L, F, d: F.vmap(F.jacrev(lambda x: x.exp() * x.sum()))(d.b),
    "vmap_of_hessian": lambda L, F, d: F.vmap(F.hessian(lambda x: (x**3).sum()))(d.b),
    "vmap_of_vjp": lambda L, F, d: F.vmap(lambda x, v: F.vjp(L.sin, x)[1](v)[0])(d.b, d.b),
    "vmap_per_sample_grads": _per_sample_grads,
    "grad_of_vmap": lambda L, F, d: F.grad(lambda b: F.vmap(lambda x: x.sin().sum())(b).sum())(d.b),
    "names": lambda L, F, d: [
        t(_cube).__name__ for t in (F.grad, F.grad_and_value, F.jacrev, F.jacfwd, F.hessian, F.vmap)
    ],
    # errors: grad
    "error_grad_non_scalar": lambda L, F, d: F.grad(lambda x: x * 2)(d.x),
    "error_grad_non_tensor_output": lambda L, F, d: F.grad(lambda x: 1.0)(d.x),
    "error_grad_argnum_out_of_range": lambda L, F, d: F.grad(_cube, argnums=2)(d.x),
    "error_grad_argnums_not_unique": lambda L, F, d: F.grad(lambda a, b: a.sum(), (0, -2))(
        d.x, d.x
    ),
    "error_grad_argnums_empty": lambda L, F, d: F.grad(_cube, argnums=())(d.x),
    "error_grad_argnums_list": lambda L, F, d: F.grad(_cube, argnums=[0])(d.x),
    "error_grad_argnum_float": lambda L, F, d: F.grad(_cube, argnums=(0.0,))(d.x),
    "error_grad_has_aux_not_pair": lambda L, F, d: F.grad(_cube, has_aux=True)(d.x),
    "error_grad_aux_not_tensor": lambda L, F, d: F.grad(lambda x: (x.sum(), 1.0), has_aux=True)(
        d.x
    ),
    "error_grad_of_number": lambda L, F, d: F.grad(lambda x: x * 2)(2.0),
    "error_grad_of_integer_tensor": lambda L, F, d: F.grad(lambda x: x.sum())(L.arange(3)),
    # errors: vjp / jvp / jacrev / jacfwd
    "error_vjp_integer_output": lambda L, F, d: F.vjp(lambda x: x.argmax(), d.x),
    "error_vjp_non_tensor_output": lambda L, F, d: F.vjp(lambda x: (x, 1.0), d.x),
    "error_vjp_none_output": lambda L, F, d: F.vjp(lambda x: None, d.x),
    "error_vjp_has_aux_not_pair": lambda L, F, d: F.vjp(L.sin, d.x, has_aux=True),
    "error_vjp_cotangent_structure": lambda L, F, d: F.vjp(L.sin, d.x)[1]((d.v,)),
    "error_vjp_cotangent_shape": lambda L, F, d: F.vjp(L.sin, d.x)[1](d.w),
    "error_jvp_primals_not_tuple": lambda L, F, d: F.jvp(L.sin, d.x, (d.v,)),
    "error_jvp_structure": lambda L, F, d: F.jvp(L.sin, (d.x,), d.v),
    "error_jvp_tangent_shape": lambda L, F, d: F.jvp(L.sin, (d.x,), (d.w,)),
    "error_jvp_no_primals": lambda L, F, d: F.jvp(L.sin, (), ()),
    "error_jvp_number_primal": lambda L, F, d: F.jvp(L.sin, (1.0,), (1.0,)),
    "error_jvp_strict": lambda L, F, d: F.jvp(lambda x: L.ones(3), (d.x,), (d.v,), strict=True),
    "error_jvp_has_aux_not_pair": lambda L, F, d: F.jvp(L.sin, (d.x,), (d.v,), has_aux=True),
    "error_jacrev_chunk_size": lambda L, F, d: F.jacrev(L.sin, chunk_size=0),
    "error_jacrev_argnum_out_of_range": lambda L, F, d: F.jacrev(L.sin, argnums=1)(d.x),
    "error_jacrev_integer_output": lambda L, F, d: F.jacrev(lambda x: x.argsort())(d.x),
    "error_jacfwd_randomness": lambda L, F, d: F.jacfwd(lambda x: x * L.rand(3))(d.x),
    "error_jacfwd_bad_randomness": lambda L, F, d: F.jacfwd(L.sin, randomness="no")(d.x),
    "error_jacfwd_has_aux_not_pair": lambda L, F, d: F.jacfwd(L.sin, has_aux=True)(d.x),
    "error_hessian_argnum_out_of_range": lambda L, F, d: F.hessian(_cube, argnums=3)(d.x),
    # errors: vmap
    "error_vmap_batch_sizes": lambda L, F, d: F.vmap(L.add)(d.b, d.y),
    "error_vmap_in_dims_list": lambda L, F, d: F.vmap(L.add, in_dims=[0, 0])(d.b, d.b),
    "error_vmap_in_dims_none": lambda L, F, d: F.vmap(L.add, in_dims=None)(d.b, d.b),
    "error_vmap_in_dims_structure": lambda L, F, d: F.vmap(L.add, in_dims=(0, 0, 0))(d.b, d.b),
    "error_vmap_in_dims_nested_structure": lambda L, F, d: F.vmap(
        lambda p: p[0], in_dims=((0, None),)
    )([d.b, d.b]),
    "error_vmap_in_dim_out_of_range": lambda L, F, d: F.vmap(L.add, in_dims=(0, 2))(d.b, d.b),
    "error_vmap_in_dim_negative_out_of_range": lambda L, F, d: F.vmap(L.sin, in_dims=-3)(d.b),
    "error_vmap_in_dim_float": lambda L, F, d: F.vmap(L.add, in_dims=(0, 1.0))(d.b, d.b),
    "error_vmap_in_dim_for_number": lambda L, F, d: F.vmap(L.add, in_dims=(0, 0))(d.b, 1.0),
    "error_vmap_nothing_mapped": lambda L, F, d: F.vmap(L.add, in_dims=(None, None))(d.b, d.b),
    "error_vmap_no_inputs": lambda L, F, d: F.vmap(L.sin)(),
    "error_vmap_non_tensor_output": lambda L, F, d: F.vmap(lambda x: 1.0)(d.b),
    "error_vmap_batched_output_out_dim_none": lambda L, F, d: F.vmap(L.sin, out_dims=None)(d.b),
    "error_vmap_out_dims_float": lambda L, F, d: F.vmap(L.sin, out_dims=1.0)(d.b),
    "error_vmap_out_dims_structure": lambda L, F, d: F.vmap(lambda x: (x, x), out_dims=(0, 0, 0))(
        d.b
    ),
    "error_vmap_out_dims_list_for_tensor": lambda L, F, d: F.vmap(L.sin, out_dims=[0])(d.b),
    "error_vmap_out_dims_pair_for_tensor": lambda L, F, d: F.vmap(L.sin, out_dims=(0, 0))(d.b),
    "error_vmap_out_dim_out_of_range": lambda L, F, d: F.vmap(L.sin, out_dims=2)(d.b),
    "error_vmap_randomness": lambda L, F, d: F.vmap(lambda x: x + L.randn(3))(d.b),
    "error_vmap_nested_randomness": lambda L, F, d: F.vmap(
        F.vmap(lambda x: x.bernoulli(), randomness="different")
    )(d.c.sigmoid()),
    "error_vmap_bad_randomness": lambda L, F, d: F.vmap(L.sin, randomness="sometimes"),
    "error_vmap_chunk_size": lambda L, F, d: F.vmap(L.sin, chunk_size=0),
    "error_vmap_named_partial": lambda L, F, d: F.vmap(__import__("functools").partial(L.add))(
        d.b, d.y
    ),
}


def _under_no_grad(L, fn):
    with L.no_grad():
        return fn()


def _no_grad_copy(L, x):
    with L.no_grad():
        return x * 2


def _seeded(L, fn):
    L.manual_seed(0)
    return fn()


def _same(got, want) -> None:
    """Same structure (container types, dict keys), and tensors with the same values, shape,
    dtype and requires_grad."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, tape.Tensor), type(got)
        assert got.requires_grad == want.requires_grad
        assert_same(got.detach(), want.detach(), rtol=1e-5, atol=1e-5)
    elif isinstance(want, (tuple, list, dict)):
        assert type(got).__name__ == type(want).__name__, (type(got), type(want))
        assert len(got) == len(want)
        if isinstance(want, dict):
            assert list(got) == list(want)
            got, want = list(got.values()), list(want.values())
        for g, w in zip(got, want, strict=True):
            _same(g, w)
    else:
        assert got == want, (got, want)


@pytest.mark.parametrize("name", CASES)
def test_func_matches_torch(name):
    def run(L):
        return CASES[name](L, L.func, _data(L))

    if not name.startswith("error_"):
        _same(run(tape), run(torch))
        return
    got, want = capture_error(lambda: run(tape)), capture_error(lambda: run(torch))
    assert want is not None, "torch did not raise"
    assert got is not None, f"tape did not raise; torch raised {type(want).__name__}: {want}"
    assert type(got).__name__ == type(want).__name__, (got, want)
    assert normalize(str(got)) == normalize(str(want))


def test_vmap_randomness_error_leaves_the_generator_alone():
    def run(L):
        L.manual_seed(0)
        capture_error(lambda: L.func.vmap(lambda x: x + L.rand(3))(L.ones(2, 3)))
        return L.rand(2)

    _same(run(tape), run(torch))
