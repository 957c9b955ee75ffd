"""The graph log (tape.autograd.log): a repeated step takes it, anything that could make its
entries stale sends the backward the long way, and either way every value matches torch."""

import numpy as np
import pytest
import torch
from conftest import to_numpy
from test_random_graphs import _loss, draw, examples, graphs, run

import tape
from tape.autograd import log

ROUNDS = 4


@pytest.fixture
def verdicts(monkeypatch):
    """What the log said at each backward: "hit", "first" or "miss"."""
    seen = []
    real = log.try_run

    def spy(*args):
        out = real(*args)
        seen.append("miss" if out is log.MISS else "first" if out is log.FIRST else "hit")
        return out

    monkeypatch.setattr(log, "try_run", spy)
    return seen


def _step(lib, disrupt, x_np, w_np):
    x = lib.tensor(x_np, requires_grad=True)
    w = lib.tensor(w_np, requires_grad=True)
    y = (x * w).tanh()
    seen = disrupt(lib, x, w, y)
    z = y * 3 + 1
    loss = (z * z).sum() + (w.sin() * 0.5).sum()
    loss.backward()
    return loss, x.grad, w.grad, seen


def _nothing(lib, x, w, y):
    return None


def _hook_on_intermediate(lib, x, w, y):
    y.register_hook(lambda g: g * 2)


def _node_hook(lib, x, w, y):
    y.grad_fn.register_hook(lambda gi, go: None)


def _leaf_hook(lib, x, w, y):
    w.register_hook(lambda g: g + 1)


def _retain_grad(lib, x, w, y):
    y.retain_grad()
    return y


def _item_mid_forward(lib, x, w, y):
    return y.sum().item()


def _side_branch(lib, x, w, y):
    return (y * 2).exp()  # recorded, kept, not part of the loss


def _inplace_on_input(lib, x, w, y):
    with lib.no_grad():
        x.mul_(2)  # x is saved by x * w: backward must raise, as torch's does


def _print(lib, x, w, y):
    return repr(y * 1)


DISRUPTIONS = [
    _nothing,
    _hook_on_intermediate,
    _node_hook,
    _leaf_hook,
    _retain_grad,
    _item_mid_forward,
    _side_branch,
    _print,
]


@pytest.mark.parametrize("disrupt", DISRUPTIONS, ids=lambda f: f.__name__)
def test_repeated_step_matches_torch_on_or_off_the_log(disrupt, verdicts):
    rng = np.random.default_rng(0)
    for step in range(ROUNDS):
        x_np, w_np = rng.standard_normal((2, 3, 3)).astype(np.float32)
        got = _step(tape, disrupt, x_np, w_np)
        want = _step(torch, disrupt, x_np, w_np)
        for a, b in zip(got[:3], want[:3], strict=True):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-6)
        if disrupt is _retain_grad:
            np.testing.assert_allclose(to_numpy(got[3].grad), to_numpy(want[3].grad), rtol=1e-5)
        if disrupt is _item_mid_forward:
            assert got[3] == pytest.approx(want[3], rel=1e-6)
    if disrupt is _nothing:  # compiled on its second sighting once the forward is deferred
        assert verdicts[-2:] == ["hit", "hit"]
    else:
        assert verdicts == ["miss"] * ROUNDS


def test_inplace_change_to_a_saved_input_still_raises(verdicts):
    rng = np.random.default_rng(1)
    for _ in range(ROUNDS):
        x_np, w_np = rng.standard_normal((2, 3, 3)).astype(np.float32)
        for lib in (torch, tape):
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                _step(lib, _inplace_on_input, x_np, w_np)
    assert "hit" not in verdicts


def test_training_loop_takes_the_log():
    """An optimizer step between backwards changes parameters in place, after the log ended."""
    results = {}
    for lib in (torch, tape):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Linear(8, 3))
        with lib.no_grad():  # the same start in both
            for p, v in zip(model.parameters(), _weights(), strict=True):
                p.copy_(lib.tensor(v))
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = lib.tensor(np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4))
        y = lib.tensor([0, 1, 2, 0, 1])
        losses = []
        for _ in range(6):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results[lib] = losses, [to_numpy(p) for p in model.parameters()]
    np.testing.assert_allclose(results[tape][0], results[torch][0], rtol=1e-5)
    for a, b in zip(results[tape][1], results[torch][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_training_loop_hits(verdicts):
    tape.manual_seed(0)
    model = tape.nn.Sequential(tape.nn.Linear(4, 8), tape.nn.ReLU(), tape.nn.Linear(8, 3))
    opt = tape.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = tape.randn(5, 4), tape.tensor([0, 1, 2, 0, 1])
    for _ in range(6):
        opt.zero_grad()
        tape.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    assert verdicts[-3:] == ["hit"] * 3


def _weights():
    rng = np.random.default_rng(3)
    shapes = [(8, 4), (8,), (3, 8), (3,)]
    return [rng.uniform(-0.5, 0.5, s).astype(np.float32) for s in shapes]


def test_graph_from_before_the_log_goes_the_long_way(verdicts):
    """A node recorded before the previous backward is not in the new log."""
    for _ in range(ROUNDS):
        x = tape.tensor([1.0, 2.0], requires_grad=True)
        shared = x.exp()
        shared.sum().backward(retain_graph=True)
        (shared * 2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp([1.0, 2.0]), rtol=1e-6)
    assert verdicts[1::2] == ["miss"] * ROUNDS


@examples(40)
@graphs
def test_random_graphs_same_gradients_with_and_without_the_log(n_leaves, n_steps, seed):
    """The log's signature and the walked graph's give the same gradients, to the bit."""
    leaves, const, program, weights, outputs, values = draw(n_leaves, n_steps, seed)
    if not outputs:
        return
    grads = {}
    for enabled in (True, False):
        log.enabled = enabled
        try:
            for _ in range(3):  # the third run is compiled either way
                pool, leaf_ts = run(tape, leaves, const, program, values)
                loss = _loss(tape, pool, weights, outputs)
                if not loss.requires_grad:
                    return
                loss.backward()
        finally:
            log.enabled = True
        grads[enabled] = [None if t.grad is None else to_numpy(t.grad) for t in leaf_ts]
    for a, b in zip(grads[True], grads[False], strict=True):
        assert (a is None) == (b is None), program
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=str(program))
