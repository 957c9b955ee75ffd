"""tape.optim against torch.optim: the same program under both, step by step."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from conftest import assert_same, assert_same_error, capture_error

import tape
from tape import optim
from tape.optim import optimizer as optimizer_mod

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LIBS = {"tape": tape, "torch": torch}

# (optimizer name, kwargs): each runs the same trajectory under tape and torch.
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.05, eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.3, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=2, weight_decay=0.1, maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CONFIGS]

RTOL, ATOL = 2e-5, 2e-6


def _data():
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    return dict(
        x=f(16, 5), y=f(16, 2), w1=f(5, 6) * 0.5, b1=f(6) * 0.1, w2=f(6, 2) * 0.5, late=f(6),
        frozen=f(3),
    )  # fmt: skip


def _trajectory(lib, name, kw, steps=20, roundtrip_at=12, lr_change_at=8, late_from=5):
    """A two-layer tanh regression with two param groups, a parameter that never gets a grad
    (frozen), one that first gets one at step ``late_from``, an lr change mid-run and a
    state_dict round trip into a fresh optimizer."""
    d = _data()
    T = lambda a, rg=True: lib.tensor(a, requires_grad=rg)
    x, y = T(d["x"], False), T(d["y"], False)
    w1, b1, w2, late, frozen = T(d["w1"]), T(d["b1"]), T(d["w2"]), T(d["late"]), T(d["frozen"])
    cls = getattr(lib.optim, name)
    groups = lambda: [
        {"params": [w1, b1, frozen, late]},
        {"params": [w2], "lr": kw["lr"] * 0.5},
    ]
    opt = cls(groups(), **kw)
    losses, snapshots, versions = [], [], []
    for i in range(steps):
        opt.zero_grad()
        h = lib.tanh(x @ w1 + b1)
        if i >= late_from:
            h = h * late
        loss = ((h @ w2 - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        snapshots.append([p.detach().numpy().copy() for p in (w1, b1, w2, late, frozen)])
        versions.append([p._version for p in (w1, b1, w2, late, frozen)])
        if i == lr_change_at:
            for g in opt.param_groups:
                g["lr"] = g["lr"] * 0.5
        if i == roundtrip_at:
            sd = opt.state_dict()
            if lib is torch:
                sd = copy.deepcopy(sd)
            opt = cls(groups(), **kw)
            opt.load_state_dict(sd)
    return np.array(losses), snapshots, opt, versions


def _state_versions(lib, name, kw) -> list[dict]:
    opt = _trajectory(lib, name, kw, steps=7, roundtrip_at=-1)[2]
    return [
        {key: v._version for key, v in opt.state[p].items() if isinstance(v, lib.Tensor)}
        for group in opt.param_groups
        for p in group["params"]
    ]


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=IDS)
def test_trajectory_matches_torch(name, kw):
    lt, st, ot, vt = _trajectory(tape, name, kw)
    lo, so, oo, vo = _trajectory(torch, name, kw)
    np.testing.assert_allclose(lt, lo, rtol=RTOL, atol=ATOL)
    # torch's in-place writes per step, counted in each parameter's version, and in each state
    # tensor's (without the state_dict round trip, whose copies start again from 0 in torch)
    assert vt == vo
    assert _state_versions(tape, name, kw) == _state_versions(torch, name, kw)
    for step, (a, b) in enumerate(zip(st, so)):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=RTOL, atol=ATOL, err_msg=f"step {step}")
    # The frozen parameter never moved and has no state, in both.
    assert np.array_equal(st[-1][4], _data()["frozen"])
    sdt, sdo = ot.state_dict(), oo.state_dict()
    assert sdt["param_groups"] == sdo["param_groups"]
    assert sdt["state"].keys() == sdo["state"].keys()
    for k in sdo["state"]:
        assert list(sdt["state"][k]) == list(sdo["state"][k])  # torch's key order too
        for key, want in sdo["state"][k].items():
            got = sdt["state"][k][key]
            assert isinstance(got, tape.Tensor)
            assert str(got.dtype) == str(want.dtype).replace("torch", "tape")
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


# (optimizer, kwargs, param_group changes made mid-run): each change alters the update's structure.
GROUP_CHANGES = [
    ("SGD", dict(lr=0.1), dict(weight_decay=0.1)),
    ("SGD", dict(lr=0.1), dict(momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(maximize=True)),
    ("Adam", dict(lr=0.1), dict(weight_decay=0.1)),
    ("Adam", dict(lr=0.1), dict(maximize=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.1), dict(weight_decay=0.0)),
    ("AdamW", dict(lr=0.1, weight_decay=0.0), dict(weight_decay=0.3)),
    ("AdamW", dict(lr=0.1), dict(maximize=True)),
    ("Adagrad", dict(lr=0.1), dict(weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1), dict(lr_decay=0.1)),
    ("NAdam", dict(lr=0.1), dict(weight_decay=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1), dict(decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adamax", dict(lr=0.1), dict(maximize=True)),
    ("Adadelta", dict(lr=1.0), dict(weight_decay=0.1)),
    ("Rprop", dict(lr=0.05), dict(maximize=True)),
    ("Rprop", dict(lr=0.05), dict(etas=(0.4, 1.3), step_sizes=(1e-3, 0.1), lr=0.5)),
    ("ASGD", dict(lr=0.05), dict(lr=0.1, t0=1, maximize=True)),
    ("ASGD", dict(lr=0.05, t0=1), dict(lambd=0.1, alpha=0.9, weight_decay=0.1)),
]


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize(("name", "kw", "change"), GROUP_CHANGES)
def test_param_group_change_mid_run_matches_torch(name, kw, change, groups):
    d = _data()
    out = {}
    for lib in (tape, torch):
        w1, w2 = (lib.tensor(d[k], requires_grad=True) for k in ("w1", "w2"))
        x = lib.tensor(d["x"])
        params = [{"params": [w1, w2]}] if groups == 1 else [{"params": [w1]}, {"params": [w2]}]
        opt = getattr(lib.optim, name)(params, **kw)
        for i in range(6):
            if i == 3:
                for g in opt.param_groups:
                    g.update(change)
            opt.zero_grad()
            (lib.tanh(x @ w1) @ w2).sum().backward()
            opt.step()
        out[lib] = [w.detach().numpy() for w in (w1, w2)]
    for a, b in zip(out[tape], out[torch]):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def _to_tape(obj):
    if isinstance(obj, torch.Tensor):
        return tape.tensor(obj.detach().numpy())
    if isinstance(obj, dict):
        return {k: _to_tape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_tape(v) for v in obj]
    return obj


def _to_torch(obj):
    if isinstance(obj, tape.Tensor):
        return torch.tensor(obj.numpy())
    if isinstance(obj, dict):
        return {k: _to_torch(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_torch(v) for v in obj]
    return obj


@pytest.mark.parametrize(("name", "kw"), [CONFIGS[2], CONFIGS[9], CONFIGS[14], CONFIGS[19]])
def test_state_dict_crosses_between_torch_and_tape(name, kw):
    """A torch state dict (tensors converted) loads into tape's optimizer and vice versa; both
    continue on the same trajectory."""
    rng = np.random.default_rng(1)
    w0, x0 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((6, 4))
    x0 = x0.astype(np.float32)

    def run(lib, w, opt, n):
        x = lib.tensor(x0)
        for _ in range(n):
            opt.zero_grad()
            ((x @ w).sin() ** 2).sum().backward()
            opt.step()

    def make(lib):
        w = lib.tensor(w0, requires_grad=True)
        return w, getattr(lib.optim, name)([w], **kw)

    (wt, ot), (wo, oo) = make(tape), make(torch)
    run(tape, wt, ot, 4)
    run(torch, wo, oo, 4)
    # swap: torch's state into a fresh tape optimizer, tape's into a fresh torch one
    wt2, ot2 = make(tape)
    wo2, oo2 = make(torch)
    with torch.no_grad():
        wo2.copy_(torch.tensor(wt.detach().numpy()))
    wt2 = tape.tensor(wo.detach().numpy(), requires_grad=True)
    ot2 = getattr(optim, name)([wt2], **kw)
    ot2.load_state_dict(_to_tape(copy.deepcopy(oo.state_dict())))
    oo2.load_state_dict(_to_torch(ot.state_dict()))
    run(tape, wt2, ot2, 4)
    run(torch, wo2, oo2, 4)
    run(tape, wt, ot, 4)
    run(torch, wo, oo, 4)
    np.testing.assert_allclose(wt2.detach().numpy(), wo.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wo2.detach().numpy(), wt.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_second_step_and_lr_change_do_not_retrace(name):
    shape = {"SGD": (7, 11), "Adam": (7, 12), "RMSprop": (7, 13), "Adagrad": (7, 14)}[name]
    w = tape.randn(*shape, requires_grad=True)
    b = tape.randn(shape[1], requires_grad=True)
    kw = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    opt = getattr(optim, name)([w, b], lr=0.01, **kw)

    def step():
        opt.zero_grad()
        (w * w).sum().backward()
        (b * 3).sum().backward()
        opt.step()

    step()
    after_first = optimizer_mod.TRACE_COUNTS[name]
    step()
    for g in opt.param_groups:
        g["lr"] = 0.5
        if "momentum" in g:
            g["momentum"] = 0.5
    step()
    step()
    assert optimizer_mod.TRACE_COUNTS[name] == after_first


def test_one_jitted_call_per_group(monkeypatch):
    calls = []
    real = optimizer_mod._run_update
    monkeypatch.setattr(
        optimizer_mod, "_run_update", lambda *a: calls.append(len(a[-1][0])) or real(*a)
    )
    ps = [tape.randn(3, requires_grad=True) for _ in range(5)]
    opt = optim.SGD([{"params": ps[:3]}, {"params": ps[3:], "lr": 0.5}], lr=0.1, momentum=0.9)
    sum((p * p).sum() for p in ps[:4]).backward()  # ps[4] has no grad
    opt.step()
    assert calls == [3, 1]


def _params(lib, n=2):
    rng = np.random.default_rng(2)
    return [
        lib.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True) for _ in range(n)
    ]


def test_failed_step_changes_nothing():
    a, b = _params(tape)
    opt = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1, momentum=0.9)
    ((a * a).sum() + (b * b).sum()).backward()
    opt.step()
    before = [a.detach().numpy().copy(), b.detach().numpy().copy()]
    buf = opt.state[a]["momentum_buffer"].numpy().copy()
    versions = (a._version, b._version)
    b._grad = tape.zeros(4)  # bypasses the .grad setter's check, like a corrupted grad would
    with pytest.raises(RuntimeError, match=r"shape \(3,\) but its .grad has shape \(4,\)"):
        opt.step()
    assert np.array_equal(a.detach().numpy(), before[0])  # group 0 was computed but not written
    assert np.array_equal(b.detach().numpy(), before[1])
    assert np.array_equal(opt.state[a]["momentum_buffer"].numpy(), buf)
    assert (a._version, b._version) == versions


def test_stored_update_that_donates_is_not_loaded_for_several_groups(tmp_path, monkeypatch):
    """One group updates its weights in place (their buffers given to XLA); several groups must
    not, since a later group may still fail. Both programs are kept on disk under keys of their
    own: the in-place one, stored first, is never loaded for a step over two groups."""
    import jax

    from tape.optim import optimizer as optimizer_module

    old_dir = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    try:
        (p,) = _params(tape, 1)
        one = optim.SGD([p], lr=0.1, momentum=0.9)
        for _ in range(2):  # the second step has momentum state: the program a later step runs
            (p * p).sum().backward()
            one.step()
        assert list((tmp_path / "tape-programs").iterdir())
        # a new process: nothing in memory, the programs on disk
        monkeypatch.setattr(optimizer_module, "_by_signature", {})
        test_failed_step_changes_nothing()
    finally:
        jax.config.update("jax_compilation_cache_dir", old_dir)


def test_bad_state_shape_raises_and_changes_nothing():
    (a,) = _params(tape, 1)
    opt = optim.Adam([a], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = tape.zeros(5)
    opt.load_state_dict(sd)
    before = a.detach().numpy().copy()
    with pytest.raises(RuntimeError, match="optimizer state 'exp_avg'"):
        opt.step()
    assert np.array_equal(a.detach().numpy(), before)


def test_in_place_update_bumps_version_and_keeps_identity():
    (a,) = _params(tape, 1)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    (a * a).sum().backward()
    v = a._version
    opt.step()
    buf = opt.state[a]["momentum_buffer"]
    assert a._version == v + 1 and a.is_leaf and a.requires_grad and a.grad_fn is None
    (a * a).sum().backward()
    opt.step()
    assert opt.state[a]["momentum_buffer"] is buf  # updated in place, like torch


def test_zero_grad_and_closure():
    for lib in (tape, torch):
        (a,) = _params(lib, 1)
        opt = lib.optim.SGD([a], lr=0.1)
        (a * a).sum().backward()
        opt.zero_grad(set_to_none=False)
        assert a.grad is not None and not a.grad.any()
        opt.zero_grad()
        assert a.grad is None

    results = {}
    for name, lib in LIBS.items():
        (a,) = _params(lib, 1)
        opt = lib.optim.SGD([a], lr=0.1)

        def closure():
            opt.zero_grad()
            loss = (a * a).sum()
            loss.backward()
            return loss

        with lib.no_grad():
            losses = [opt.step(closure).item() for _ in range(3)]
        results[name] = (losses, a.detach().numpy())
    np.testing.assert_allclose(results["tape"][0], results["torch"][0], rtol=1e-6)
    np.testing.assert_allclose(results["tape"][1], results["torch"][1], rtol=1e-6)


def test_add_param_group_and_repr():
    outs = {}
    for name, lib in LIBS.items():
        a, b = _params(lib)
        opt = lib.optim.SGD([a], lr=0.1, momentum=0.9)
        opt.add_param_group({"params": b, "lr": 0.01})
        assert len(opt.param_groups) == 2 and opt.param_groups[1]["momentum"] == 0.9
        outs[name] = repr(opt)
    assert outs["tape"] == outs["torch"]


ERRORS = [
    ("SGD", lambda P: ([P()], dict(lr=-1.0))),
    ("SGD", lambda P: ([P()], dict(lr=0.1, momentum=-0.5))),
    ("SGD", lambda P: ([P()], dict(lr=0.1, nesterov=True))),
    ("SGD", lambda P: ([], dict(lr=0.1))),
    ("SGD", lambda P: (P(), dict(lr=0.1))),
    ("SGD", lambda P: ([P(), 3], dict(lr=0.1))),
    ("SGD", lambda P: ((lambda p: [{"params": [p]}, {"params": [p]}])(P()), dict(lr=0.1))),
    ("SGD", lambda P: ([P() * 2], dict(lr=0.1))),
    ("Adam", lambda P: ([P()], dict(betas=(1.0, 0.999)))),
    ("Adam", lambda P: ([P()], dict(eps=-1.0))),
    ("RMSprop", lambda P: ([P()], dict(alpha=-0.1))),
    ("Adagrad", lambda P: ([P()], dict(lr_decay=-0.1))),
    ("Adamax", lambda P: ([P()], dict(betas=(0.9, 1.0)))),
    ("NAdam", lambda P: ([P()], dict(momentum_decay=-0.1))),
    ("RAdam", lambda P: ([P()], dict(weight_decay=-0.1))),
    ("Adadelta", lambda P: ([P()], dict(rho=1.1))),
    ("Rprop", lambda P: ([P()], dict(lr=-0.1))),
    ("Rprop", lambda P: ([P()], dict(etas=(0.5, 0.9)))),
    ("ASGD", lambda P: ([P()], dict(lr=-0.1))),
    ("ASGD", lambda P: ([P()], dict(weight_decay=-0.1))),
]


@pytest.mark.parametrize(("name", "make"), ERRORS)
def test_constructor_errors_match_torch(name, make):
    def build(lib):
        P = lambda: lib.ones(3, requires_grad=True)
        args, kw = make(P)
        return lambda: getattr(lib.optim, name)(args, **kw)

    assert_same_error(build(tape), build(torch))


def test_load_state_dict_errors_match_torch():
    def build(lib):
        a, b = _params(lib)
        small = lib.optim.SGD([a], lr=0.1)
        big = lib.optim.SGD([a, b], lr=0.1)
        two = lib.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
        return [lambda: big.load_state_dict(small.state_dict()),
                lambda: small.load_state_dict(two.state_dict())]  # fmt: skip

    for ft, fo in zip(build(tape), build(torch)):
        assert_same_error(ft, fo)


@pytest.mark.parametrize(("name", "kw"), [CONFIGS[1], CONFIGS[6], CONFIGS[11]])
def test_loaded_state_tensors_are_the_live_state_like_torch(name, kw):
    """torch keeps the tensors of the state dict it loads: a step updates them in place."""

    def run(lib):
        a, b = _params(lib)

        def step(opt):
            opt.zero_grad()
            (a * b).pow(2).sum().backward()
            opt.step()

        opt = getattr(lib.optim, name)([a, b], **kw)
        step(opt)
        sd = opt.state_dict()
        opt = getattr(lib.optim, name)([a, b], **kw)
        opt.load_state_dict(sd)
        step(opt)
        live = opt.state[a]
        return [(k, v is live[k], v.numpy().copy()) for k, v in sd["state"][0].items()]

    got, want = run(tape), run(torch)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g[2], w[2], rtol=RTOL, atol=ATOL)


# --- a small CNN, once tape.nn has the layers ------------------------------------------------


def _has_nn() -> bool:
    nn = getattr(tape, "nn", None)
    return all(hasattr(nn, k) for k in ("Conv2d", "Linear", "Module", "Parameter"))


CNN_CONFIGS = [CONFIGS[2], CONFIGS[6], CONFIGS[11]]


def _cnn_run(lib, name, kw, steps=20):
    nn = lib.nn
    lib.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 4, 3, stride=2)
            self.fc = nn.Linear(4 * 3 * 3, 3)

        def forward(self, x):
            x = lib.relu(self.conv(x))
            x = lib.tanh(self.conv2(x))
            return self.fc(x.reshape(x.shape[0], -1))

    net = Net()
    rng = np.random.default_rng(3)
    init = {k: rng.standard_normal(tuple(v.shape)).astype(np.float32) * 0.3
            for k, v in net.state_dict().items()}  # fmt: skip
    net.load_state_dict({k: lib.tensor(v) for k, v in init.items()})
    net.conv.bias.requires_grad_(False)  # frozen: its grad stays None
    x = lib.tensor(rng.standard_normal((4, 2, 8, 8)).astype(np.float32))
    y = lib.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    params = [p for p in net.parameters()]
    opt = getattr(lib.optim, name)(params, **kw)
    losses = []
    for i in range(steps):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if i == 7:
            for g in opt.param_groups:
                g["lr"] *= 0.5
        if i == 11:
            sd = opt.state_dict()
            sd = copy.deepcopy(sd) if lib is torch else sd
            opt = getattr(lib.optim, name)(params, **kw)
            opt.load_state_dict(sd)
    return np.array(losses), {k: v.detach().numpy() for k, v in net.state_dict().items()}


@pytest.mark.skipif(not _has_nn(), reason="tape.nn has no Conv2d/Linear/Module yet")
@pytest.mark.parametrize(("name", "kw"), CNN_CONFIGS)
def test_small_cnn_trajectory_matches_torch(name, kw):
    lt, pt = _cnn_run(tape, name, kw)
    lo, po = _cnn_run(torch, name, kw)
    np.testing.assert_allclose(lt, lo, rtol=1e-4, atol=1e-5)
    assert pt.keys() == po.keys()
    for k in po:
        np.testing.assert_allclose(pt[k], po[k], rtol=1e-4, atol=1e-5, err_msg=k)


# --- schedulers -------------------------------------------------------------------------------


def _lam(epoch):
    return 0.95**epoch


class _Mul:
    """A callable object: its ``__dict__`` is saved in the scheduler's state_dict."""

    def __init__(self):
        self.factor = 0.97

    def __call__(self, epoch):
        return self.factor + 0.001 * (epoch % 3)


_WARMUP = ("LinearLR", dict(start_factor=0.1, total_iters=5))

SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 9, 9, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=_lam)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=40)),
    (
        "OneCycleLR",
        dict(max_lr=[0.5, 0.2], total_steps=40, three_phase=True, anneal_strategy="linear"),
    ),  # fmt: skip
    ("LinearLR", dict(start_factor=0.25, total_iters=6)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", dict(total_iters=25, power=2.0)),
    ("MultiplicativeLR", dict(lr_lambda=_lam)),
    ("MultiplicativeLR", dict(lr_lambda=[_lam, _Mul()])),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.01)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=3, step_size_down=5,
                      mode="triangular2", base_momentum=[0.7, 0.8])),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=4, mode="exp_range",
                      gamma=0.9)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False)),
    ("SequentialLR", dict(schedulers=[_WARMUP, ("ExponentialLR", dict(gamma=0.9))],
                          milestones=[5])),
    ("SequentialLR", dict(schedulers=[("ConstantLR", dict(factor=0.5, total_iters=3)),
                                      ("StepLR", dict(step_size=3, gamma=0.5)),
                                      ("CosineAnnealingLR", dict(T_max=8))],
                          milestones=[4, 12])),
    ("ChainedScheduler", dict(schedulers=[_WARMUP, ("ExponentialLR", dict(gamma=0.9))])),
    ("ChainedScheduler", dict(schedulers=[("ConstantLR", dict(factor=0.5, total_iters=4)),
                                          ("PolynomialLR", dict(total_iters=30))])),
]  # fmt: skip


def _make_sched(lib, opt, name, kw, last_epoch=-1):
    """``name(opt, **kw)``; the ``schedulers`` of SequentialLR and ChainedScheduler are
    (name, kw) rows built the same way."""
    cls = getattr(lib.optim.lr_scheduler, name)
    if "schedulers" not in kw:
        return cls(opt, **kw, last_epoch=last_epoch)
    subs = [_make_sched(lib, opt, n, k, last_epoch) for n, k in kw["schedulers"]]
    if name == "ChainedScheduler":
        return cls(subs, opt)
    return cls(opt, subs, kw["milestones"], last_epoch=last_epoch)


def _sched_run(lib, name, kw, steps=35, resume_at=17):
    a, b = _params(lib)
    opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, momentum=0.9)
    sched = _make_sched(lib, opt, name, kw)
    rows = [(sched.get_last_lr(), [g["lr"] for g in opt.param_groups], None)]
    for i in range(steps):
        opt.zero_grad()
        (a * a + b * b).sum().backward()
        opt.step()
        sched.step()
        rows.append(
            (list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
             [g["momentum"] for g in opt.param_groups])
        )  # fmt: skip
        if i == resume_at:
            sd = sched.state_dict()
            sched = _make_sched(lib, opt, name, kw, getattr(sched, "last_epoch", -1))
            sched.load_state_dict(sd)
    return rows, sched.state_dict()


def _plain(sd):
    return {k: v for k, v in sd.items() if not callable(v)}


@pytest.mark.parametrize(("name", "kw"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_scheduler_matches_torch(name, kw):
    rt, sdt = _sched_run(tape, name, kw)
    ro, sdo = _sched_run(torch, name, kw)
    assert len(rt) == len(ro)
    for i, (x, y) in enumerate(zip(rt, ro)):
        for u, v in zip(x, y):
            if v is None:
                assert u is None
                continue
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=0, err_msg=f"step {i}")
    assert _plain(sdt).keys() == _plain(sdo).keys()
    for k, v in _plain(sdo).items():
        assert _plain(sdt)[k] == v or (isinstance(v, float) and math.isclose(sdt[k], v)), k


# (scheduler, kwargs, the epochs passed to step(epoch)): torch's closed forms, and the fractional
# epochs of CosineAnnealingWarmRestarts.
SCHEDULER_EPOCHS = [
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2, eta_min=0.01), [i / 2 for i in range(60)]),
    ("CosineAnnealingWarmRestarts", dict(T_0=3), [0.1, 0.7, 2.9, 3.0, 3.4, 7.25, 1.5, 10, 31.9]),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=3), [1, 2, 7.5, 8, 30, 0.25]),
    ("ConstantLR", dict(factor=0.5, total_iters=4), [1, 3, 4, 9, 2]),
    ("LinearLR", dict(start_factor=0.2, total_iters=5), [1, 2, 4, 8, 3]),
    ("PolynomialLR", dict(total_iters=6, power=1.5), [1, 2, 5, 6, 9, 4]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kw", "epochs"), SCHEDULER_EPOCHS)
def test_scheduler_step_epoch_matches_torch(name, kw, epochs):
    out = {}
    for lib in (tape, torch):
        a, b = _params(lib)
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kw)
        rows = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in epochs:
                opt.step()
                sched.step(epoch)
                rows.append((sched.get_last_lr(), sched.last_epoch))
        out[lib] = (
            rows,
            [(w.category, str(w.message)) for w in caught],
            _plain(sched.state_dict()),
        )
    assert out[tape] == out[torch]


def _two_groups(lib, opt_name="SGD", **kw):
    a, b = _params(lib)
    return getattr(lib.optim, opt_name)([{"params": [a]}, {"params": [b]}], lr=0.1, **kw)


def _sched(lib, name, *args, **kw):
    return getattr(lib.optim.lr_scheduler, name)(*args, **kw)


# Each builds a scheduler (or steps one) that torch rejects, from a torch-like module.
SCHEDULER_ERRORS = [
    lambda L, o: _sched(L, "ConstantLR", o, factor=1.5),
    lambda L, o: _sched(L, "LinearLR", o, start_factor=0),
    lambda L, o: _sched(L, "LinearLR", o, end_factor=1.5),
    lambda L, o: _sched(L, "MultiplicativeLR", o, lr_lambda=3),
    lambda L, o: _sched(L, "MultiplicativeLR", o, lr_lambda=[_lam]),
    lambda L, o: _sched(L, "CosineAnnealingWarmRestarts", o, T_0=0),
    lambda L, o: _sched(L, "CosineAnnealingWarmRestarts", o, T_0=2.5),
    lambda L, o: _sched(L, "CosineAnnealingWarmRestarts", o, T_0=2, T_mult=0),
    lambda L, o: _sched(L, "CosineAnnealingWarmRestarts", o, T_0=2, eta_min="0"),
    lambda L, o: _sched(L, "CosineAnnealingWarmRestarts", o, T_0=2).step(-1),
    lambda L, o: _sched(L, "CyclicLR", o, 0.01, 0.1, mode="sine"),
    lambda L, o: _sched(L, "CyclicLR", o, [0.01], 0.1),
    lambda L, o: _sched(L, "CyclicLR", _two_groups(L, "Adagrad"), 0.01, 0.1),
    lambda L, o: _sched(L, "SequentialLR", o, [], []),
    lambda L, o: _sched(L, "SequentialLR", o, [_sched(L, "StepLR", o, 2)], [3]),
    lambda L, o: _sched(L, "SequentialLR", o, [_sched(L, "ReduceLROnPlateau", o)], []),
    lambda L, o: _sched(L, "SequentialLR", o, [_sched(L, "StepLR", _two_groups(L), 2)], []),
    lambda L, o: _sched(L, "SequentialLR", o, [3], []),
    lambda L, o: _sched(L, "ChainedScheduler", []),
    lambda L, o: _sched(L, "ChainedScheduler", [_sched(L, "StepLR", o, 2)], _two_groups(L)),
    lambda L, o: _sched(L, "StepLR", o, 2, last_epoch=3),  # resumed without initial_lr
]


@pytest.mark.parametrize("make", SCHEDULER_ERRORS)
def test_scheduler_errors_match_torch(make):
    assert_same_error(*(lambda lib=lib: make(lib, _two_groups(lib)) for lib in (tape, torch)))


def test_resume_without_initial_lr_explains_as_torch():
    """The whole message: its lines after the first say how this happens."""
    errors = [
        str(capture_error(lambda lib=lib: _sched(lib, "StepLR", _two_groups(lib), 2, last_epoch=3)))
        for lib in (tape, torch)
    ]
    assert errors[0] == errors[1] and "\\n" in errors[1]


def test_reduce_lr_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.9, 0.91, 0.95, 0.9, 0.85, 0.86, 0.86, 0.87] * 4
    out = {}
    for name, lib in LIBS.items():
        a, b = _params(lib)
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(
            opt, patience=2, factor=0.5, cooldown=1, min_lr=[0.01, 0.02]
        )
        rows = []
        for i, m in enumerate(metrics):
            opt.step()
            sched.step(m)
            rows.append((sched.get_last_lr(), sched.num_bad_epochs, sched.best))
            if i == 20:
                sd = sched.state_dict()
                sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max")
                sched.load_state_dict(sd)
        out[name] = (rows, sched.state_dict())
    assert out["tape"][0] == out["torch"][0]
    assert out["tape"][1] == out["torch"][1]


def test_scheduler_order_warning_matches_torch(caught_warnings):
    for lib in (tape, torch):
        (a,) = _params(lib, 1)
        opt = lib.optim.SGD([a], lr=0.1)
        sched = lib.optim.lr_scheduler.StepLR(opt, 3)
        sched.step()
    msgs = [str(w.message) for w in caught_warnings if "lr_scheduler.step()" in str(w.message)]
    assert len(msgs) == 2 and msgs[0] == msgs[1]


def test_views_of_parameters_see_the_step():
    outputs = []
    for lib in (tape, torch):
        w = lib.nn.Parameter(lib.ones(2, 3))
        row = w[0]
        opt = lib.optim.SGD([w], lr=0.25, momentum=0.9)
        for _ in range(2):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
        outputs.append(
            (row.tolist(), type(row.grad_fn).__name__ if lib is torch else row.grad_fn.name())
        )
    assert outputs[0] == outputs[1]


def test_step_in_place_never_changes_a_value_someone_still_reads():
    """step() updates weights in the buffers they had (donation) unless anything else refers to
    those values: a pending clone, a numpy view, the same weight's optimizer state."""
    tape.manual_seed(0)
    lin = tape.nn.Linear(4, 3)
    opt = tape.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        lin(tape.ones(2, 4)).sum().backward()
        clone, expected = lin.weight.detach().clone(), lin.weight.detach().numpy().copy()
        view = lin.bias.detach().numpy()
        seen = view.copy()
        opt.step()
        np.testing.assert_array_equal(clone.numpy(), expected)
        np.testing.assert_array_equal(view, seen)
        assert not np.array_equal(lin.weight.detach().numpy(), expected)
    buffer = lin.weight._storage.array.unsafe_buffer_pointer()
    opt.zero_grad()
    lin(tape.ones(2, 4)).sum().backward()
    opt.step()
    assert lin.weight._storage.array.unsafe_buffer_pointer() == buffer


def test_host_arrays_are_never_copied_for_donation(monkeypatch):
    """A numpy array (a freshly initialised weight) reaches XLA as a copy, so donating never
    consumes it: it is passed on as it is, however many references it has. A device array that
    something else holds is copied. (Copying every weight before ResNet18's first step cost a
    compile in each new process.)"""
    from tape import _donate

    copied = []
    real = _donate._copy_all
    monkeypatch.setattr(_donate, "_copy_all", lambda xs: copied.append(len(xs)) or real(xs))
    host = np.ones(3, np.float32)
    held = jnp.ones(3)
    out = _donate.donation([host, host, held], [host, held])
    assert out[0] is host and out[1] is host and out[2] is not held
    assert copied == [1] and out[2].tolist() == [1.0, 1.0, 1.0]

    tape.manual_seed(0)
    lin = tape.nn.Linear(4, 3)
    assert type(lin.weight._storage.array) is np.ndarray
    keep = lin.weight._storage.array
    before = keep.copy()
    opt = tape.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    copied.clear()
    lin(tape.ones(2, 4)).sum().backward()
    opt.step()
    assert copied == []
    np.testing.assert_array_equal(keep, before)  # the host array itself is untouched
    np.testing.assert_allclose(lin.weight.detach().numpy(), before - 0.1 * 2.0, rtol=1e-6)


def test_copies_for_donation_keep_each_array_on_its_device():
    """Arrays that cannot be donated are copied in one program, or one by one where they live
    on several devices (two CPU devices stand in for a CPU and a GPU)."""
    code = (
        "import jax, jax.numpy as jnp; from tape import _donate\n"
        "d = jax.devices('cpu')\n"
        "xs = [jax.device_put(jnp.arange(3.0), d[0]), jax.device_put(jnp.ones(2), d[1])]\n"
        "ys = _donate.donation(xs, xs)\n"
        "assert [y.devices() for y in ys] == [x.devices() for x in xs]\n"
        "assert all(x.unsafe_buffer_pointer() != y.unsafe_buffer_pointer() for x, y in zip(xs, ys))\n"
        "assert [y.tolist() for y in ys] == [[0.0, 1.0, 2.0], [1.0, 1.0]]\n"
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)


def test_step_updates_every_weight_and_momentum_buffer_in_its_own_buffer():
    """Donation covers the optimizer state too, the last parameter's included (a loop variable
    left holding its momentum buffer once made every step copy it), and a conv kernel, which the
    update reads as one flat vector."""
    tape.manual_seed(0)
    nn = tape.nn
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(12, 3))
    opt = tape.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def step():
        opt.zero_grad()
        net(tape.ones(2, 2, 4, 4)).sum().backward()
        opt.step()

    def buffers():
        held = [p._storage for p in net.parameters()]
        held += [opt.state[p]["momentum_buffer"]._storage for p in net.parameters()]
        return [s.array.unsafe_buffer_pointer() for s in held]

    step()
    step()
    before = buffers()
    step()
    assert buffers() == before


def test_alternating_optimizers_resolve_each_program_once(monkeypatch):
    """Two optimizers of one kind on different shapes (a GAN's): each step runs its own
    program; neither looks its program up again (on disk or in JAX) after its first step."""
    from tape import _program_store

    monkeypatch.setattr(optimizer_mod, "_by_signature", {})  # as in a fresh process
    lookups = []
    real = _program_store.load_or_compile

    def spy(jitted, static, args, identity, *rest):
        if not identity.startswith((b"graph:", b"op:")):  # graph and per-op programs
            lookups.append(args[0][0].shape)
        return real(jitted, static, args, identity, *rest)

    monkeypatch.setattr(_program_store, "load_or_compile", spy)
    results = {}
    for lib in (tape, torch):
        a, b = _params(lib, 1), [lib.ones(4, 2, requires_grad=True)]
        opts = [lib.optim.SGD(ps, lr=0.1, momentum=0.9) for ps in (a, b)]
        for _ in range(3):
            for ps, opt in zip((a, b), opts):
                opt.zero_grad()
                sum((p * p).sum() for p in ps).backward()
                opt.step()
        results[lib.__name__] = [p.detach().numpy() for p in a + b]
    assert lookups == [(3,), (4, 2)]
    for got, want in zip(results["tape"], results["torch"]):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def _lbfgs_run(lib, steps=3, **kw):
    """L-BFGS steps on a least-squares loss with a quartic term (two parameters)."""
    rng = np.random.default_rng(4)
    a = lib.tensor(rng.standard_normal((6, 4)).astype(np.float32))
    y = lib.tensor(rng.standard_normal(6).astype(np.float32))
    w = lib.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    b = lib.tensor([0.5], requires_grad=True)
    opt = lib.optim.LBFGS([w, b], **kw)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = ((a @ w + b - y) ** 2).mean() + (w**4).sum() * 0.1
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    state = opt.state[w]
    counts = (len(calls), state["n_iter"], state["func_evals"], len(state.get("old_dirs", ())))
    return losses, w.detach(), b.detach(), counts, state


# (options, steps): runs that stop on max_iter or max_eval take the same iterations as torch's;
# a run to convergence stops where tolerance_change compares losses equal to rounding, so
# there only the minimum it reaches is compared.
LBFGS_RUNS = {
    "few_iterations": ({"max_iter": 6}, 2),
    "short_history": ({"lr": 0.5, "max_iter": 5, "history_size": 2}, 3),
    "max_eval": ({"max_iter": 4, "max_eval": 2}, 3),
    "converged_at_once": ({"tolerance_grad": 10.0}, 2),
    "strong_wolfe": ({"line_search_fn": "strong_wolfe", "max_iter": 3}, 2),
    "strong_wolfe_short_history": (
        {"line_search_fn": "strong_wolfe", "max_iter": 6, "history_size": 3, "lr": 0.5},
        2,
    ),
    "defaults_to_convergence": ({}, 1),
    "strong_wolfe_to_convergence": ({"line_search_fn": "strong_wolfe"}, 2),
    "to_convergence": ({"max_iter": 50, "tolerance_change": 1e-12}, 3),
}


@pytest.mark.parametrize("name", LBFGS_RUNS)
def test_lbfgs_trajectory_matches_torch(name):
    kw, steps = LBFGS_RUNS[name]
    got, want = _lbfgs_run(tape, steps, **kw), _lbfgs_run(torch, steps, **kw)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    assert_same(got[1], want[1], rtol=1e-4, atol=1e-5)
    assert_same(got[2], want[2], rtol=1e-4, atol=1e-5)
    assert sorted(got[4]) == sorted(want[4])  # the state's keys
    if not name.endswith("to_convergence"):
        assert got[3] == want[3]  # closure calls, iterations, evaluations, history length
        # torch writes d and prev_flat_grad in place, and its errors quote their versions.
        versions = [
            {k: s[k]._version for k in ("d", "prev_flat_grad") if k in s} for s in (got[4], want[4])
        ]
        assert versions[0] == versions[1]


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.optim.LBFGS([L.ones(2, requires_grad=True)], lr=-1),
        lambda L: L.optim.LBFGS(
            [
                {"params": [L.ones(2, requires_grad=True)]},
                {"params": [L.ones(1, requires_grad=True)]},
            ]
        ),
        lambda L: _lbfgs_run(L, line_search_fn="cubic"),
    ],
    ids=["lr", "groups", "line_search"],
)
def test_lbfgs_errors_match_torch(make):
    assert_same_error(lambda: make(tape), lambda: make(torch))
