"""``nn.utils.parametrize``, ``parametrizations.weight_norm``/``spectral_norm`` and the older
hook-based ``nn.utils.weight_norm`` against torch's: parameters and state-dict keys, reprs and
class names, values and gradients, assignment through ``right_inverse``, caching, removal, old
checkpoints, warnings and errors."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import tape


def _sym(lib, right_inverse: bool = True):
    """torch's tutorial parametrization: a symmetric matrix from its upper triangle."""

    class Symmetric(lib.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(-1, -2)

    if right_inverse:
        Symmetric.right_inverse = lambda self, a: a.triu()
    return Symmetric()


def _scale(lib, k: float):
    class Scale(lib.nn.Module):
        def forward(self, x):
            return x * k

        def right_inverse(self, x):
            return x / k

    return Scale()


def _split(lib):
    """A parametrization over two originals, as weight_norm's."""

    class Sum(lib.nn.Module):
        def forward(self, a, b):
            return a + b

        def right_inverse(self, w):
            return w * 0.25, w * 0.75

    return Sum()


def _to_double(lib):
    class Double(lib.nn.Module):
        def forward(self, x):
            return x.double()

    return Double()


def _bad_inverse(lib):
    class Flat(lib.nn.Module):
        def forward(self, x):
            return x

        def right_inverse(self, x):
            return x.flatten()

    return Flat()


def _facts(m, lib, x):
    """What torch shows of a parametrized module: names, keys, repr, values, gradients."""
    out = m(x)
    out.sum().backward()
    named = list(m.named_parameters())
    return [
        type(m).__name__,
        [(n, tuple(p.shape), p.requires_grad) for n, p in named],
        list(m.state_dict()),
        str(m),
        type(m.weight.grad_fn).__name__,
        out,
        [p.grad for _, p in named],
    ]


def _weight_norm(lib, dim=0, conv=False):
    lib.manual_seed(0)
    m = lib.nn.Conv2d(3, 4, 2) if conv else lib.nn.Linear(3, 2)
    lib.nn.utils.parametrizations.weight_norm(m, dim=dim)
    x = lib.ones(2, 3, 3, 3) if conv else lib.ones(4, 3)
    return _facts(m, lib, x)


def _spectral_norm(lib, make, x_shape, steps: int = 3, eval_after: bool = False, **kw):
    """Power iterations as torch's, from the same draws: the buffers, the normalized weight
    over a few training forwards (each refines ``_u``/``_v`` in place), their versions."""
    lib.manual_seed(0)
    m = make(lib.nn)
    lib.nn.utils.parametrizations.spectral_norm(m, **kw)
    sn = m.parametrizations.weight[0]
    x = lib.ones(x_shape)
    outs = []
    for _ in range(steps):
        outs.append(m(x).sum())
    if eval_after:
        m.eval()
        outs.append(m(x).sum())
    outs[-1].backward()
    return [
        list(m.state_dict()),
        sn._u,
        sn._v,
        sn._u._version > 0,
        m.weight,
        outs,
        m.parametrizations.weight.original.grad,
        type(m.weight.grad_fn).__name__,
    ]


def _old_weight_norm(lib, make, x_shape, dim=0, remove=False):
    """The deprecated hook-based weight_norm: its parameters, the recomputed weight before each
    call, its warning, and remove_weight_norm."""
    import warnings

    lib.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = lib.nn.utils.weight_norm(make(lib.nn), dim=dim)
    with lib.no_grad():
        m.weight_g.mul_(2)  # the hook recomputes the weight from the new magnitude
    facts = _facts(m, lib, lib.ones(x_shape))
    if remove:
        lib.nn.utils.remove_weight_norm(m)
        facts += [
            list(m.state_dict()),
            m.weight,
            type(m.weight).__name__,
            len(m._forward_pre_hooks),
        ]
    return facts + [[(w.category.__name__, str(w.message)) for w in caught]]


def _registered(lib, *parametrizations, unsafe=False):
    lib.manual_seed(0)
    m = lib.nn.Linear(3, 3)
    for p in parametrizations:
        lib.nn.utils.parametrize.register_parametrization(m, "weight", p(lib), unsafe=unsafe)
    return _facts(m, lib, lib.ones(2, 3))


def _assigned(lib):
    lib.manual_seed(0)
    m = lib.nn.Linear(3, 3)
    P = lib.nn.utils.parametrize
    P.register_parametrization(m, "weight", _sym(lib))
    P.register_parametrization(m, "weight", _scale(lib, 2.0))
    m.weight = lib.arange(9.0).view(3, 3)
    return [m.parametrizations.weight.original, m.weight]


def _removed(lib, leave: bool, split: bool = False):
    lib.manual_seed(0)
    m = lib.nn.Linear(3, 3)
    P = lib.nn.utils.parametrize
    P.register_parametrization(m, "weight", _split(lib) if split else _sym(lib))
    original = m.parametrizations.weight.original0 if split else m.parametrizations.weight.original
    P.remove_parametrizations(m, "weight", leave_parametrized=leave)
    return [
        type(m).__name__,
        list(m.state_dict()),
        type(m.weight).__name__,
        m.weight,
        m.weight is original,
        hasattr(m, "parametrizations"),
        P.is_parametrized(m),
    ]


def _cached(lib):
    lib.manual_seed(0)
    m = lib.nn.Linear(3, 3)
    P = lib.nn.utils.parametrize
    P.register_parametrization(m, "weight", _sym(lib))
    with P.cached():
        inside = m.weight is m.weight
    return [inside, m.weight is m.weight]


def _copied(lib):
    lib.manual_seed(0)
    m = lib.nn.Linear(3, 3)
    lib.nn.utils.parametrize.register_parametrization(m, "weight", _sym(lib))
    c = copy.deepcopy(m)
    c.parametrizations.weight.original.data.mul_(0)  # the copy's own storage
    return [type(c).__name__, c.weight, m.weight]


def _old_checkpoint(lib):
    """weight_norm loads a state dict saved with the old weight_g/weight_v keys."""
    m = lib.nn.Linear(3, 2)
    lib.nn.utils.parametrizations.weight_norm(m)
    rng = np.random.default_rng(1)
    sd = {
        "weight_g": lib.tensor(rng.uniform(1, 2, (2, 1)), dtype=lib.float32),
        "weight_v": lib.tensor(rng.standard_normal((2, 3)), dtype=lib.float32),
        "bias": lib.zeros(2),
    }
    m.load_state_dict(sd)
    return [m.weight, list(m.state_dict())]


def _queries(lib):
    m = lib.nn.Linear(3, 3)
    P = lib.nn.utils.parametrize
    before = [P.is_parametrized(m), P.type_before_parametrizations(m).__name__]
    P.register_parametrization(m, "weight", _sym(lib))
    after = [P.is_parametrized(m), P.is_parametrized(m, "bias"), P.is_parametrized(m, "weight")]
    return before + after + [P.type_before_parametrizations(m).__name__]


def _error(lib, make):
    try:
        make(lib)
    except Exception as e:  # noqa: BLE001
        return [type(e).__name__, str(e).replace("tape.", "torch.")]
    return ["no error"]


def _register(lib, module, p, name="weight", **kw):
    return lib.nn.utils.parametrize.register_parametrization(module, name, p, **kw)


CASES = {
    "weight_norm_dim0": lambda L: _weight_norm(L),
    "weight_norm_dim1": lambda L: _weight_norm(L, dim=1),
    "weight_norm_none": lambda L: _weight_norm(L, dim=None),
    "weight_norm_conv_dim0": lambda L: _weight_norm(L, conv=True),
    "weight_norm_conv_dim1": lambda L: _weight_norm(L, dim=1, conv=True),
    "weight_norm_conv_last": lambda L: _weight_norm(L, dim=3, conv=True),
    "spectral_norm_linear": lambda L: _spectral_norm(L, lambda nn: nn.Linear(3, 5), (2, 3)),
    "spectral_norm_conv_eval": lambda L: _spectral_norm(L, lambda nn: nn.Conv2d(2, 3, 3), (2, 2, 4, 4), eval_after=True),
    "spectral_norm_conv_transpose": lambda L: _spectral_norm(L, lambda nn: nn.ConvTranspose2d(2, 3, 3), (2, 2, 4, 4), n_power_iterations=2),
    "spectral_norm_dim1": lambda L: _spectral_norm(L, lambda nn: nn.Linear(4, 3), (2, 4), dim=1, eps=1e-6),
    "error_spectral_norm_name": lambda L: _error(L, lambda L: L.nn.utils.parametrizations.spectral_norm(L.nn.Linear(2, 2), "nope")),
    "error_spectral_norm_dim": lambda L: _error(L, lambda L: L.nn.utils.parametrizations.spectral_norm(L.nn.Linear(2, 2), dim=2)),
    "error_spectral_norm_iterations": lambda L: _error(L, lambda L: L.nn.utils.parametrizations.spectral_norm(L.nn.Linear(2, 2), n_power_iterations=0)),
    "old_weight_norm_conv": lambda L: _old_weight_norm(L, lambda nn: nn.Conv1d(2, 3, 3), (2, 2, 5)),
    "old_weight_norm_linear_dim1_removed": lambda L: _old_weight_norm(L, lambda nn: nn.Linear(3, 2), (4, 3), dim=1, remove=True),
    "old_weight_norm_none": lambda L: _old_weight_norm(L, lambda nn: nn.Linear(3, 2), (4, 3), dim=None),
    "error_old_weight_norm_twice": lambda L: _error(L, lambda L: L.nn.utils.weight_norm(L.nn.utils.weight_norm(L.nn.Linear(2, 2)))),
    "error_old_weight_norm_not_found": lambda L: _error(L, lambda L: L.nn.utils.remove_weight_norm(L.nn.Linear(2, 2))),
    "symmetric": lambda L: _registered(L, _sym),
    "symmetric_without_inverse": lambda L: _registered(L, lambda L: _sym(L, False)),
    "chained": lambda L: _registered(L, _sym, lambda L: _scale(L, 3.0)),
    "two_originals": lambda L: _registered(L, _split),
    "assigned_through_right_inverse": _assigned,
    "removed_leaving_parametrized": lambda L: _removed(L, True),
    "removed_leaving_original": lambda L: _removed(L, False),
    "removed_two_originals": lambda L: _removed(L, True, split=True),
    "cached": _cached,
    "deepcopy": _copied,
    "old_checkpoint": _old_checkpoint,
    "queries": _queries,
    "error_no_such_tensor": lambda L: _error(L, lambda L: _register(L, L.nn.Linear(2, 2), _sym(L), "nope")),
    "error_not_parametrized": lambda L: _error(L, lambda L: L.nn.utils.parametrize.remove_parametrizations(L.nn.Linear(2, 2), "weight")),
    "error_shape_changed": lambda L: _error(L, lambda L: _register(L, L.nn.Linear(3, 2), L.nn.Flatten(0))),
    "error_shape_changed_chained": lambda L: _error(L, lambda L: _register(L, _register(L, L.nn.Linear(3, 3), _sym(L)), L.nn.Flatten(0))),
    "error_dtype_changed_chained": lambda L: _error(L, lambda L: _register(L, _register(L, L.nn.Linear(3, 3), _sym(L)), _to_double(L))),
    "error_right_inverse_shape_chained": lambda L: _error(L, lambda L: _register(L, _register(L, L.nn.Linear(3, 3), _sym(L)), _bad_inverse(L))),
    "error_no_right_inverse_on_assign": lambda L: _error(L, lambda L: setattr(_register(L, L.nn.Linear(3, 3), _sym(L, False)), "weight", L.eye(3))),
    "error_leave_two_originals": lambda L: _error(L, lambda L: L.nn.utils.parametrize.remove_parametrizations(_register(L, L.nn.Linear(3, 3), _split(L)), "weight", leave_parametrized=False)),
    "error_pickle": lambda L: _error(L, lambda L: pickle.dumps(_register(L, L.nn.Linear(3, 3), _sym(L)))),
}  # fmt: skip


def _same(got, want, where="") -> None:
    if isinstance(want, torch.Tensor):
        assert isinstance(got, tape.Tensor), where
        assert tuple(got.shape) == tuple(want.shape), where
        np.testing.assert_allclose(
            got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=where
        )
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    elif want is None:
        assert got is None, where
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize("name", CASES)
def test_parametrize_matches_torch(name):
    _same(CASES[name](tape), CASES[name](torch))
