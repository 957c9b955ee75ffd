"""tape.optim.swa_utils against torch.optim.swa_utils: AveragedModel, SWALR, update_bn and the
averaging functions, each row run as the same program under both libraries."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.optim.swa_utils  # noqa: F401
from conftest import LIBS, assert_same, assert_same_error, normalize

import tape
import tape.optim.swa_utils  # noqa: F401


def _swa(lib):
    return lib.optim.swa_utils


def _arr(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _net(lib):
    """Linear -> BatchNorm1d -> ReLU -> Linear, the last bias frozen (requires_grad False)."""
    lib.manual_seed(0)
    nn = lib.nn
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    net[3].bias.requires_grad_(False)
    return net


def _perturb(lib, net, step):
    """Move every parameter, and the BatchNorm buffers with one training forward."""
    rng = np.random.default_rng(step)
    with lib.no_grad():
        for p in net.parameters():
            p.add_(lib.tensor(_arr(rng, *p.shape) * 0.3))
    net.train()
    net(lib.tensor(_arr(rng, 5, 4)))


def _snapshot(module):
    return [(k, v.detach().clone()) for k, v in module.state_dict().items()]


def _recording_multi_avg(calls):
    """A custom multi_avg_fn: records each call's group (size, dtype, n) and halves the gap."""

    def fn(avgs, currents, n):
        calls.append((len(avgs), str(avgs[0].dtype).split(".")[-1], int(n)))
        for a, c in zip(avgs, currents):
            a.copy_(a * 0.5 + c * 0.5)

    return fn


# (id, AveragedModel kwargs from (swa_utils module, call log)).
AVERAGED = [
    ("swa-default", lambda su, calls: {}),
    ("swa-default-buffers", lambda su, calls: dict(use_buffers=True)),
    ("swa-device-cpu", lambda su, calls: dict(device="cpu")),
    ("swa-avg-fn-buffers", lambda su, calls: dict(avg_fn=su.get_swa_avg_fn(), use_buffers=True)),
    ("swa-multi", lambda su, calls: dict(multi_avg_fn=su.get_swa_multi_avg_fn())),
    ("ema-avg-fn", lambda su, calls: dict(avg_fn=su.get_ema_avg_fn(0.9))),
    ("ema-avg-fn-buffers", lambda su, calls: dict(avg_fn=su.get_ema_avg_fn(0.7), use_buffers=True)),
    ("ema-multi", lambda su, calls: dict(multi_avg_fn=su.get_ema_multi_avg_fn())),
    ("ema-multi-buffers", lambda su, calls: dict(multi_avg_fn=su.get_ema_multi_avg_fn(0.6), use_buffers=True)),
    ("ema-multi-decay-0", lambda su, calls: dict(multi_avg_fn=su.get_ema_multi_avg_fn(0.0))),
    ("ema-multi-decay-1", lambda su, calls: dict(multi_avg_fn=su.get_ema_multi_avg_fn(1.0), use_buffers=True)),
    ("custom-avg-fn", lambda su, calls: dict(avg_fn=lambda a, c, n: a + (c - a) * 0.25)),
    ("custom-avg-fn-n", lambda su, calls: dict(avg_fn=lambda a, c, n: a * n / (n + 1) + c / (n + 1), use_buffers=True)),
    ("custom-multi-buffers", lambda su, calls: dict(multi_avg_fn=_recording_multi_avg(calls), use_buffers=True)),
]  # fmt: skip


def _averaged_run(lib, make_kw, steps=4):
    net = _net(lib)
    calls = []
    avg = _swa(lib).AveragedModel(net, **make_kw(_swa(lib), calls))
    out = {"n0": avg.n_averaged.clone(), "snapshots": []}
    for step in range(steps):
        _perturb(lib, net, step)
        avg.update_parameters(net)
        out["snapshots"].append(_snapshot(avg))
    avg.eval()
    out["y"] = avg(lib.tensor(_arr(np.random.default_rng(99), 3, 4)))
    out["n"] = avg.n_averaged
    out["repr"] = normalize(repr(avg))
    out["requires_grad"] = [p.requires_grad for p in avg.parameters()]
    out["training"] = [m.training for m in avg.modules()]
    out["calls"] = sorted(calls)  # torch's grouping by (device, dtype) has no fixed order
    # the wrapped copy is independent of the source model
    out["independent"] = all(
        a.data_ptr() != b.data_ptr() for a, b in zip(avg.module.parameters(), net.parameters())
    )
    return out


@pytest.mark.parametrize(("name", "make_kw"), AVERAGED, ids=[c[0] for c in AVERAGED])
def test_averaged_model_matches_torch(name, make_kw):
    got, want = (_averaged_run(lib, make_kw) for lib in (tape, torch))
    assert got.keys() == want.keys()
    for key in want:
        assert_same(got[key], want[key], rtol=1e-6, atol=1e-7)


def test_averaged_model_state_dict_round_trip_matches_torch():
    """A state_dict saved from one averaged model loads into a fresh one, n_averaged included."""
    out = {}
    for name, lib in LIBS.items():
        net = _net(lib)
        avg = _swa(lib).AveragedModel(net, multi_avg_fn=_swa(lib).get_ema_multi_avg_fn(0.5))
        for step in range(2):
            _perturb(lib, net, step)
            avg.update_parameters(net)
        fresh = _swa(lib).AveragedModel(_net(lib), multi_avg_fn=_swa(lib).get_ema_multi_avg_fn(0.5))
        result = fresh.load_state_dict(avg.state_dict())
        _perturb(lib, net, 5)
        fresh.update_parameters(net)
        out[name] = (repr(result), _snapshot(fresh))
    assert_same(out["tape"], out["torch"], rtol=1e-6, atol=1e-7)


# (id, SWALR kwargs, how it is driven): "alone"; "switch" steps a CosineAnnealingLR made beside it
# until epoch 8, then SWALR; "sequential" / "chained" wrap [ExponentialLR, SWALR]; "epoch" passes
# step(epoch) once; "sched-first" steps the scheduler before the optimizer.
SWALR_CASES = [
    ("cos-default", dict(swa_lr=0.05), "alone"),
    ("linear-3", dict(swa_lr=0.01, anneal_epochs=3, anneal_strategy="linear"), "alone"),
    ("list-cos-5", dict(swa_lr=[0.02, 0.2], anneal_epochs=5), "alone"),
    ("tuple-linear-1", dict(swa_lr=(0.5, 0.001), anneal_epochs=1, anneal_strategy="linear"), "alone"),
    ("anneal-0", dict(swa_lr=0.03, anneal_epochs=0), "alone"),
    ("anneal-0-linear", dict(swa_lr=[0.3, 0.0], anneal_epochs=0, anneal_strategy="linear"), "alone"),
    ("swa-lr-above-lr", dict(swa_lr=0.4, anneal_epochs=6), "alone"),
    ("after-cosine", dict(swa_lr=0.01, anneal_epochs=4), "switch"),
    ("after-cosine-linear", dict(swa_lr=[0.05, 0.001], anneal_epochs=7, anneal_strategy="linear"), "switch"),
    ("sequential", dict(swa_lr=0.01, anneal_epochs=3), "sequential"),
    ("chained", dict(swa_lr=0.02, anneal_epochs=5, anneal_strategy="linear"), "chained"),
    ("epoch", dict(swa_lr=0.02, anneal_epochs=4), "epoch"),
    ("sched-first", dict(swa_lr=0.02, anneal_epochs=4), "sched-first"),
]  # fmt: skip


def _plain(sd):
    return {k: v for k, v in sd.items() if not callable(v)}


def _swalr_run(lib, kw, mode, steps=20, resume_at=11):
    a = lib.nn.Parameter(lib.ones(2))
    b = lib.nn.Parameter(lib.ones(3))
    opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, momentum=0.9)
    sched_mod = lib.optim.lr_scheduler
    rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        swa = _swa(lib).SWALR(opt, **kw)
        driver = swa
        if mode == "switch":
            before = sched_mod.CosineAnnealingLR(opt, T_max=10)
        elif mode == "sequential":
            driver = sched_mod.SequentialLR(
                opt, [sched_mod.ExponentialLR(opt, 0.8), swa], milestones=[5]
            )
        elif mode == "chained":
            driver = sched_mod.ChainedScheduler([sched_mod.ExponentialLR(opt, 0.9), swa])
        rows.append(("get_lr", swa.get_lr(), swa.get_last_lr()))  # outside step(): a warning
        for i in range(steps):
            if not (mode == "sched-first" and i == 0):
                opt.step()
            if mode == "switch" and i < 8:
                before.step()
            elif mode == "epoch" and i == 6:
                driver.step(9)
            else:
                driver.step()
            rows.append((i, list(driver.get_last_lr()), [g["lr"] for g in opt.param_groups]))
            if i == resume_at and driver is swa:
                sd = swa.state_dict()
                driver = swa = _swa(lib).SWALR(opt, **kw, last_epoch=swa.last_epoch)
                swa.load_state_dict(sd)
                rows.append(("resumed", swa.get_last_lr(), [g["lr"] for g in opt.param_groups]))
    return {
        "rows": rows,
        # each warning, and whether it points at this file (the caller) as torch's does
        "warnings": [(w.category.__name__, str(w.message), w.filename == __file__) for w in caught],
        "state_dict": _plain(swa.state_dict()),
        "swa_lrs": [g["swa_lr"] for g in opt.param_groups],
        "anneal_func": swa.anneal_func(0.25),
    }


@pytest.mark.parametrize(("name", "kw", "mode"), SWALR_CASES, ids=[c[0] for c in SWALR_CASES])
def test_swalr_matches_torch(name, kw, mode):
    got, want = (_swalr_run(lib, kw, mode) for lib in (tape, torch))
    assert got["warnings"] == want["warnings"]
    assert got["state_dict"].keys() == want["state_dict"].keys()
    # the same float arithmetic in Python: equal to the last bit
    assert got == want


def _bn_net(lib, kind):
    lib.manual_seed(0)
    nn = lib.nn
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 5),
            nn.BatchNorm1d(5, momentum=0.3, affine=False),
        )  # fmt: skip
    if kind == "conv":
        # InstanceNorm keeps its running stats: torch's update_bn resets BatchNorms only
        return nn.Sequential(
            nn.Conv2d(4, 3, 1), nn.BatchNorm2d(3, momentum=None),
            nn.InstanceNorm2d(3, track_running_stats=True), nn.ReLU(),
        )  # fmt: skip
    if kind == "untracked":
        return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6, track_running_stats=False))
    if kind == "no-bn":
        return nn.Sequential(nn.Linear(4, 6), nn.ReLU())
    if kind == "averaged":
        return _swa(lib).AveragedModel(_bn_net(lib, "mlp"))
    raise ValueError(kind)


def _loader(lib, kind, conv):
    rng = np.random.default_rng(3)
    xs = [_arr(rng, 4, 4, 2, 2) if conv else _arr(rng, 4, 4) * 2 + 1 for _ in range(3)]
    ys = [rng.integers(0, 3, 4) for _ in range(3)]
    if kind == "tensors":
        return [lib.tensor(x) for x in xs]
    if kind == "pairs":
        return [(lib.tensor(x), lib.tensor(y)) for x, y in zip(xs, ys)]
    if kind == "lists":
        return [[lib.tensor(x), lib.tensor(y)] for x, y in zip(xs, ys)]
    if kind == "dataloader":
        data = lib.utils.data.TensorDataset(
            lib.tensor(np.concatenate(xs)), lib.tensor(np.concatenate(ys))
        )
        return lib.utils.data.DataLoader(data, batch_size=5)
    raise ValueError(kind)


# (net, loader, training before, device)
UPDATE_BN = [
    ("mlp", "tensors", True, None),
    ("mlp", "pairs", False, None),
    ("mlp", "lists", False, "cpu"),
    ("mlp", "dataloader", True, None),
    ("conv", "tensors", False, None),
    ("conv", "pairs", True, "cpu"),
    ("untracked", "tensors", False, None),
    ("no-bn", "pairs", False, None),
    ("averaged", "pairs", False, None),
]


@pytest.mark.parametrize(("kind", "loader", "training", "device"), UPDATE_BN)
def test_update_bn_matches_torch(kind, loader, training, device):
    out = {}
    for name, lib in LIBS.items():
        net = _bn_net(lib, kind)
        conv = kind == "conv"
        net.train()
        for x in _loader(lib, "tensors", conv):  # statistics for update_bn to reset
            net(x * 3 - 2)
        net.train(training)
        _swa(lib).update_bn(_loader(lib, loader, conv), net, device=device)
        out[name] = (
            _snapshot(net),
            [getattr(m, "momentum", "-") for m in net.modules()],
            [m.training for m in net.modules()],
        )
    assert_same(out["tape"], out["torch"], rtol=1e-5, atol=1e-6)


def _two_groups(lib):
    a = lib.nn.Parameter(lib.ones(2))
    b = lib.nn.Parameter(lib.ones(2))
    return lib.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)


def _update_with(lib, other, **kw):
    avg = _swa(lib).AveragedModel(_net(lib), **kw)
    avg.update_parameters(other)
    avg.update_parameters(other)


def _ints(lib):
    return [lib.tensor([10, 3, -7])], [lib.tensor([5, 8, 4])]


# Each does something torch rejects, written once for both libraries.
ERRORS = [
    lambda L: _swa(L).SWALR(_two_groups(L), 0.05, anneal_strategy="exp"),
    lambda L: _swa(L).SWALR(_two_groups(L), 0.05, anneal_strategy=None),
    lambda L: _swa(L).SWALR(_two_groups(L), 0.05, anneal_epochs=-1),
    lambda L: _swa(L).SWALR(_two_groups(L), 0.05, anneal_epochs=2.0),
    lambda L: _swa(L).SWALR(_two_groups(L), [0.1]),
    lambda L: _swa(L).SWALR(_two_groups(L), [0.1, 0.2, 0.3], anneal_strategy="exp"),
    lambda L: _swa(L).SWALR([L.ones(2)], 0.1),
    lambda L: _swa(L).get_ema_avg_fn(-0.1),
    lambda L: _swa(L).get_ema_multi_avg_fn(1.5),
    lambda L: _swa(L).AveragedModel(
        _net(L), avg_fn=_swa(L).get_swa_avg_fn(), multi_avg_fn=_swa(L).get_swa_multi_avg_fn()
    ),
    # the multi-tensor SWA cannot average integer buffers (num_batches_tracked)
    lambda L: _update_with(L, _net(L), multi_avg_fn=_swa(L).get_swa_multi_avg_fn(), use_buffers=True),
    lambda L: _swa(L).get_swa_multi_avg_fn()(*_ints(L), L.tensor(2)),
    lambda L: _swa(L).get_swa_multi_avg_fn()(*_ints(L), 2),
    # a source model without the buffers to copy
    lambda L: _update_with(L, L.nn.Sequential(L.nn.Linear(4, 6), L.nn.LayerNorm(6))),
    lambda L: _swa(L).update_bn([L.ones(2, 4, 1, 1)], _bn_net(L, "mlp")),
]  # fmt: skip


@pytest.mark.parametrize("make", ERRORS)
def test_errors_match_torch(make):
    assert_same_error(*(lambda lib=lib: make(lib) for lib in (tape, torch)))


# (factory name, its args, averaged, current, n): the helpers on their own; the multi-tensor
# ones update lists in place, the others return the average.
HELPERS = [
    ("get_swa_avg_fn", (), [1.0, -2.0, 3.5], [4.0, 0.5, -1.0], 3),
    ("get_ema_avg_fn", (), [1.0, -2.0, 3.5], [4.0, 0.5, -1.0], 0),
    ("get_ema_avg_fn", (0.25,), [1, 3, -7], [5, 8, 4], 1),
    ("get_swa_avg_fn", (), [10, 3, -7], [5, 8, 4], 2),
    ("get_swa_multi_avg_fn", (), [1.0, -2.0, 3.5], [4.0, 0.5, -1.0], 1),
    ("get_swa_multi_avg_fn", (), [1.0, -2.0, 3.5], [4.0, 0.5, -1.0], 5),
    ("get_ema_multi_avg_fn", (0.3,), [1.0, -2.0, 3.5], [4.0, 0.5, -1.0], 5),
    ("get_ema_multi_avg_fn", (0.0,), [1.0, -2.0, 3.5], [4.0, 0.5, -1.0], 5),
    ("get_ema_multi_avg_fn", (0.9,), [10, 3, -7], [5, 8, 4], 1),
]


@pytest.mark.parametrize(("factory", "args", "avg", "cur", "n"), HELPERS)
@pytest.mark.parametrize("n_as_tensor", [False, True])
def test_averaging_helpers_match_torch(factory, args, avg, cur, n, n_as_tensor):
    out = {}
    for name, lib in LIBS.items():
        fn = getattr(_swa(lib), factory)(*args)
        a, c = lib.tensor(avg), lib.tensor(cur)
        num = lib.tensor(n) if n_as_tensor else n
        if "multi" in factory:
            returned = fn([a], [c], num)
        else:
            returned = fn(a, c, num)
        out[name] = (fn.__name__, returned, a)
    assert_same(out["tape"], out["torch"], rtol=1e-6, atol=1e-7)
