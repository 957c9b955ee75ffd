"""tape.compile: a captured whole step must leave exactly the state eager execution leaves
(parameters, buffers, optimizer state, .grad), call the Python function only while capturing,
re-capture when something it baked in changes, and fall back to eager with one warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tape
from tape import nn, optim


def _mlp(seed: int = 0):
    tape.manual_seed(seed)
    # BatchNorm after the ReLU: a bias just before BatchNorm has a gradient of rounding noise
    # only, which Adam would amplify into different (equally valid) steps.
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 2))


def _state(model, opt) -> dict:
    out = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    for i, (p, st) in enumerate(opt.state.items()):
        for k, v in st.items():
            out[f"opt.{i}.{k}"] = np.asarray(v)
    for name, p in model.named_parameters():
        out[f"grad.{name}"] = None if p.grad is None else p.grad.numpy().copy()
    return out


def _assert_same(a: dict, b: dict, tol: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if a[k] is None or b[k] is None:
            assert a[k] is None and b[k] is None, k
        else:
            np.testing.assert_allclose(a[k], b[k], rtol=tol, atol=tol, err_msg=k)


def _train(make_opt, compiled: bool, steps: int = 5, lr_schedule=None):
    model = _mlp()
    opt = make_opt(model.parameters())
    tape.manual_seed(1)
    x, y = tape.randn(16, 4), tape.randn(16, 2)
    calls = []

    def step(x, y):
        calls.append(1)
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    run = tape.compile(step) if compiled else step
    losses = []
    for i in range(steps):
        if lr_schedule is not None:
            opt.param_groups[0]["lr"] = lr_schedule(i)
        losses.append(run(x, y).item())
        if i == 2:
            captured = len(calls)
    if compiled:
        assert len(calls) == captured  # from the third step on, Python no longer runs
    return losses, _state(model, opt), len(calls)


OPTIMIZERS = {
    "sgd-momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd-nesterov-wd": lambda p: optim.SGD(
        p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1
    ),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adamw-amsgrad": lambda p: optim.AdamW(p, lr=0.01, amsgrad=True),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5),
    "asgd": lambda p: optim.ASGD(p, lr=0.05, t0=2),  # averages from the third step on
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_whole_step_matches_eager(name):
    eager_losses, eager_state, _ = _train(OPTIMIZERS[name], compiled=False)
    losses, state, calls = _train(OPTIMIZERS[name], compiled=True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    # Two XLA programs, each rounding in its own way: the eager update runs on flattened
    # arrays, the compiled one inside the step's program. RMSprop's division by sqrt(v) + eps
    # magnifies that rounding: after five steps the two differ by 1.4e-6 in a momentum buffer,
    # where torch's own float32 result is 3.3e-6 from the float64 one.
    _assert_same(state, eager_state, tol=1e-5 if name == "rmsprop" else 1e-6)
    # The eager discovery run, and the trace, traced again when the first step created
    # the optimizer's state; later steps replay the program.
    assert calls <= 3


def test_learning_rate_changes_reach_the_compiled_step():
    schedule = [0.1, 0.05, 0.02, 0.3, 0.01, 0.0].__getitem__
    sgd = OPTIMIZERS["sgd-momentum"]
    eager_losses, eager_state, _ = _train(sgd, compiled=False, steps=6, lr_schedule=schedule)
    losses, state, calls = _train(sgd, compiled=True, steps=6, lr_schedule=schedule)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    _assert_same(state, eager_state)
    assert calls <= 3


def test_seed_q_step_accumulates_into_argument_grads():
    def q_step(a, b):
        Q = 3 * a**3 - b**2
        Q.backward(gradient=tape.tensor([1.0, 1.0]))
        return Q

    compiled = tape.compile(q_step)
    a = tape.tensor([2.0, 3.0], requires_grad=True)
    b = tape.tensor([6.0, 4.0], requires_grad=True)
    ea = tape.tensor([2.0, 3.0], requires_grad=True)
    eb = tape.tensor([6.0, 4.0], requires_grad=True)
    for _ in range(4):
        q = compiled(a, b)
        eq = q_step(ea, eb)
        np.testing.assert_array_equal(q.detach().numpy(), eq.detach().numpy())
        np.testing.assert_array_equal(a.grad.numpy(), ea.grad.numpy())
        np.testing.assert_array_equal(b.grad.numpy(), eb.grad.numpy())
    assert a.grad.tolist() == [144.0, 324.0]  # 4 accumulated steps of 9 a**2


def test_guards_recapture_on_shape_mode_and_frozen_params():
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    calls = []

    @tape.compile
    def step(x):
        calls.append(1)
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    for _ in range(3):
        step(tape.ones(16, 4))
    assert len(calls) == 2
    for _ in range(3):
        step(tape.ones(8, 4))  # new shape: discover and trace again
    assert len(calls) == 4
    model.eval()  # BatchNorm now uses running stats
    before = model[2].running_mean.numpy().copy()
    step(tape.ones(8, 4))
    # Traced again (twice: the first trace finds the running stats no longer written, so
    # they are not handed over for reuse), and not again after.
    assert len(calls) == 6
    step(tape.ones(8, 4))
    assert len(calls) == 6
    np.testing.assert_array_equal(model[2].running_mean.numpy(), before)
    model.train()
    model[0].weight.requires_grad_(False)
    w = model[0].weight.numpy().copy()
    step(tape.ones(8, 4))
    step(tape.ones(8, 4))
    np.testing.assert_array_equal(model[0].weight.numpy(), w)
    assert model[0].weight.grad is None


def test_grad_none_or_not_is_guarded():
    """A step without zero_grad creates .grad on the first call and accumulates after."""
    model = _mlp()
    emodel = _mlp()

    def make(m):
        def step(x):
            m(x).sum().backward()

        return step

    compiled, eager = tape.compile(make(model)), make(emodel)
    x = tape.ones(4, 4)
    for _ in range(4):
        compiled(x)
        eager(x)
    for (name, p), q in zip(model.named_parameters(), emodel.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, err_msg=name)
    for p in model.parameters():
        p.grad = None
    compiled(x)
    for p in emodel.parameters():
        p.grad = None
    eager(x)
    for p, q in zip(model.parameters(), emodel.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


def _warns_once(fn, match):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [fn() for _ in range(4)]
    messages = [str(w.message) for w in caught if "tape.compile" in str(w.message)]
    assert len(messages) == 1, messages
    assert match in messages[0]
    return results


def test_python_value_read_falls_back_with_one_warning():
    w = tape.tensor([1.0, 2.0], requires_grad=True)

    @tape.compile
    def step(x):
        loss = (w * x).sum()
        if loss.item() > 0:  # data-dependent Python control flow
            loss = loss * 2
        loss.backward()
        return loss

    results = _warns_once(lambda: step(tape.tensor([1.0, 1.0])).item(), "reads a tensor's value")
    assert results == [6.0] * 4
    assert w.grad.tolist() == [8.0, 8.0]


# Changes to a tensor itself rather than to its values, made inside a compiled step.
_TENSOR_CHANGES = {
    "t_": lambda s: s.t_(),
    "unsqueeze_": lambda s: s.unsqueeze_(0),
    "transpose_": lambda s: s.transpose_(0, -1),
    "squeeze_": lambda s: s.squeeze_(),
    "data": lambda s: setattr(s, "data", s * 2),
    "requires_grad_": lambda s: s.requires_grad_(not s.requires_grad),
}


@pytest.mark.parametrize("change", _TENSOR_CHANGES)
def test_changing_an_outside_tensor_itself_falls_back(change):
    """A compiled program replays values only: a step that changes the shape, storage or
    requires_grad of a tensor from outside runs eagerly, with one warning, and leaves what
    torch leaves (a trace that ran the change once more would not)."""
    import torch

    def run(lib):
        state = lib.arange(6.0).reshape(2, 3)
        w = lib.ones(2, 3, requires_grad=True)

        def step(x):
            _TENSOR_CHANGES[change](state)
            loss = (state.detach().reshape(2, 3) * w * x).sum()
            loss.backward()
            return loss

        run_step = tape.compile(step) if lib is tape else step
        calls = iter(range(1, 5))

        def call():
            loss = run_step(lib.tensor(float(next(calls)))).item()
            return loss, tuple(state.shape), state.tolist(), state.requires_grad, w.grad.tolist()

        if lib is tape:
            return _warns_once(call, "a tensor from outside the function")
        return [call() for _ in range(4)]

    assert run(tape) == run(torch)


def test_changing_a_tensor_made_inside_is_captured():
    """An in-place view op on a tensor the step makes itself is part of the program."""
    import torch

    def run(lib):
        w = lib.ones(3, 2, requires_grad=True)
        calls = []

        def step(x):
            calls.append(1)
            y = lib.arange(6.0).reshape(2, 3) * x
            y.t_()
            loss = (y.unsqueeze_(0) * w).sum()
            loss.backward()
            return loss

        run_step = tape.compile(step, fullgraph=True) if lib is tape else step
        losses = [run_step(lib.tensor(float(i))).item() for i in range(1, 4)]
        captured = len(calls)
        losses += [run_step(lib.tensor(float(i))).item() for i in range(4, 6)]
        return losses, w.grad.tolist(), len(calls) == captured

    losses, grad, _ = run(torch)
    # From the fourth call on the compiled program ran, not the Python.
    assert run(tape) == (losses, grad, True)


# Between calls of a compiled forward and backward: what replaces a parameter's .grad.
_GRAD_RESETS = {
    "zero_grad": lambda lib, w, opt, i: i % 3 == 2 and (opt.step(), opt.zero_grad()),
    "assign": lambda lib, w, opt, i: i == 3 and setattr(w, "grad", lib.zeros(3)),
    "none": lambda lib, w, opt, i: i % 2 and setattr(w, "grad", None),
}


@pytest.mark.parametrize("reset", _GRAD_RESETS)
def test_gradient_accumulation_follows_the_grad_there_is_now(reset):
    """A program traced with one .grad tensor accumulates into whichever tensor the parameter
    holds later (zero_grad() sets None, the next backward makes a new one)."""
    import torch

    def run(lib):
        w = lib.nn.Parameter(lib.ones(3))
        opt = lib.optim.SGD([w], lr=0.1)

        def fwd_bwd(x):
            (w * x).sum().backward()

        step = tape.compile(fwd_bwd) if lib is tape else fwd_bwd
        seen = []
        for i in range(9):
            step(lib.arange(3.0) + i)
            seen.append(None if w.grad is None else w.grad.tolist())
            _GRAD_RESETS[reset](lib, w, opt, i)
        return seen, w.tolist()

    assert run(tape) == run(torch)


# Python state a step changes itself, which a program would not change again: name ->
# (change made inside the step, cause named in the warning).
_PYTHON_CHANGES = {
    "scheduler": (lambda lib, opt, sched, m: sched.step(), "optimizer's options"),
    "lr": (
        lambda lib, opt, sched, m: opt.param_groups[0].update(lr=opt.param_groups[0]["lr"] / 2),
        "optimizer's options",
    ),  # noqa: E501
    "mode": (lambda lib, opt, sched, m: m.train(not m.training), "train and eval mode"),
}


@pytest.mark.parametrize("change", _PYTHON_CHANGES)
def test_a_step_that_changes_python_state_runs_eagerly(change):
    """Found on the eager first call, so that no trace repeats the change: the step then runs
    eagerly, with one warning, and leaves what torch leaves."""
    import torch

    fn, cause = _PYTHON_CHANGES[change]

    def run(lib):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))
        opt = lib.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        sched = lib.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
        x = lib.tensor([[1.0, 2.0], [3.0, 5.0]])

        def step(x):
            opt.zero_grad()
            m(x).square().sum().backward()
            opt.step()
            fn(lib, opt, sched, m)

        run_step = tape.compile(step) if lib is tape else step

        def call():
            run_step(x)
            state = [v.tolist() for v in m.state_dict().values()]
            return state, opt.param_groups[0]["lr"], m.training

        if lib is tape:
            return _warns_once(call, cause)
        return [call() for _ in range(4)]

    got, want = run(tape), run(torch)
    assert [g[1:] for g in got] == [w[1:] for w in want]
    for g, w in zip(got, want, strict=True):
        flat = [np.concatenate([np.ravel(v) for v in r[0]]) for r in (g, w)]
        np.testing.assert_allclose(*flat, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("option", [("nesterov", True), ("maximize", True), ("momentum", 0.0)])
def test_optimizer_flags_changed_between_calls_trace_again(option):
    """Flags that choose the update (nesterov, maximize, momentum on or off) are checked
    before each call: a program traced with others is not run."""
    import torch

    key, value = option

    def run(lib):
        w = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)

        def step(x):
            opt.zero_grad()
            (w * w * x).sum().backward()
            opt.step()

        run_step = tape.compile(step) if lib is tape else step
        seen = []
        for i in range(6):
            if i == 3:
                opt.param_groups[0][key] = value
            run_step(lib.ones(2))
            seen.append(w.tolist() + opt.state[w]["momentum_buffer"].tolist())
        return seen

    np.testing.assert_allclose(run(tape), run(torch), rtol=1e-5)


def test_a_loss_returned_after_backward_still_requires_grad():
    """The returned loss keeps requires_grad and a node; a second backward through it raises
    torch's error (the graph was used up inside the step)."""
    import torch

    def run(lib):
        w = lib.ones(3, requires_grad=True)

        def step(x):
            loss = (w * x).sum()
            loss.backward()
            return loss

        run_step = tape.compile(step) if lib is tape else step
        seen = []
        for i in range(4):
            loss = run_step(lib.ones(3) * i)
            error = None
            try:
                loss.backward()
            except RuntimeError as e:
                error = str(e)
            seen.append((loss.item(), loss.requires_grad, loss.is_leaf, error, w.grad.tolist()))
        return seen

    assert run(tape) == run(torch)


def test_an_argument_computed_outside_that_requires_grad_runs_eagerly():
    """The step's backward reaches the argument's own graph, which a program cannot hold: it
    runs eagerly, with one warning, and gradients reach the argument's leaf as in torch."""
    import torch

    def run(lib):
        w = lib.ones(3, requires_grad=True)

        def step(x):
            (w * x).sum().backward()

        run_step = tape.compile(step) if lib is tape else step
        calls = iter(range(1, 5))

        def call():
            a = lib.ones(3, requires_grad=True)
            run_step(a * next(calls))
            return w.grad.tolist(), a.grad.tolist()

        if lib is tape:
            return _warns_once(call, "graph of an argument")
        return [call() for _ in range(4)]

    assert run(tape) == run(torch)


def test_random_numbers_fall_back():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))

    @tape.compile
    def step(x):
        model(x).sum().backward()

    _warns_once(lambda: step(tape.ones(2, 4)), "random numbers")


def test_compiled_module_is_one_differentiable_op():
    """``tape.compile(model)``, backward outside: the forward is one op whose backward is its
    VJP; gradients, BatchNorm's running stats and its counter match eager execution."""
    model, ref = _mlp(), _mlp()
    fwd = tape.compile(model)
    x = tape.randn(5, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(4):
            out = fwd(x)
            out.sum().backward()
            ref(x).sum().backward()
            if i:  # the first call runs eagerly
                assert type(out.grad_fn).__name__ == "CompiledFunctionBackward"
                assert out.requires_grad and out.shape == (5, 2)
    _assert_same(
        _state(model, optim.SGD(model.parameters())), _state(ref, optim.SGD(ref.parameters()))
    )
    assert model[2].num_batches_tracked.item() == 4


def test_compiled_forward_results_without_grad_come_back_detached():
    """Backward called outside: results the function returns detached (or not depending on
    anything that requires grad) do not require grad, as in torch."""
    import torch

    def run(lib):
        w = lib.ones(3, requires_grad=True)

        def fwd(x):
            return w * x, (w * x).detach(), x + 1

        run_fwd = tape.compile(fwd) if lib is tape else fwd
        seen = []
        for i in range(4):
            a, b, c = run_fwd(lib.ones(3) * i)
            (a.sum() * 2).backward()
            seen.append([t.requires_grad for t in (a, b, c)] + [b.tolist(), w.grad.tolist()])
        return seen

    assert run(tape) == run(torch)


def test_compiled_module_reads_as_the_module():
    model = _mlp()
    compiled = tape.compile(model)
    assert compiled._orig_mod is model
    assert list(compiled.parameters()) == list(model.parameters())
    assert compiled.state_dict().keys() == model.state_dict().keys()
    compiled.eval()
    assert not model.training


def test_classification_step_with_integer_targets_is_captured():
    """cross_entropy's target check reads values: skipped under capture, as torch.compile does."""
    tape.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = tape.randn(8, 4), tape.tensor([0, 1, 2, 0, 1, 2, 0, 1])

    @tape.compile(fullgraph=True)
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    losses = [step(x, y).item() for _ in range(4)]
    assert losses == sorted(losses, reverse=True)


def test_fullgraph_raises_and_disable_returns_the_function():
    @tape.compile(fullgraph=True)
    def step(x):
        return x.sum().item()

    step(tape.ones(2))  # the eager discovery run
    with pytest.raises(RuntimeError, match="reads a tensor's value"):
        step(tape.ones(2))

    def f(x):
        return x

    assert tape.compile(f, disable=True) is f


def test_resnet18_step_matches_eager():
    import models

    def run(compiled: bool):
        tape.manual_seed(0)
        model = models.resnet18(num_classes=10)
        opt = optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        tape.manual_seed(1)
        data, labels = tape.rand(2, 3, 32, 32), tape.rand(2, 10)

        def step(data, labels):
            opt.zero_grad()
            loss = (model(data) - labels).sum()
            loss.backward()
            opt.step()
            return loss

        f = tape.compile(step) if compiled else step
        losses = [f(data, labels).item() for _ in range(3)]
        return losses, _state(model, opt)

    eager_losses, eager_state = run(False)
    losses, state = run(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-4)
    for k in state:
        if state[k] is not None:
            np.testing.assert_allclose(state[k], eager_state[k], rtol=1e-3, atol=1e-4, err_msg=k)


def test_written_state_reuses_its_buffers_unless_something_else_holds_them():
    """The step updates weights and momentum buffers in place (donation), but never under a
    reader's feet: a pending clone and a numpy view of a weight keep the values they had."""
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    @tape.compile
    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    x = tape.ones(16, 4)
    for _ in range(3):
        step(x)
    w = model[0].weight
    momentum = opt.state[w]["momentum_buffer"]  # created by the first (eager) call
    buffers = [t._storage.array.unsafe_buffer_pointer() for t in (w, momentum)]
    step(x)
    assert [t._storage.array.unsafe_buffer_pointer() for t in (w, momentum)] == buffers
    clone, expected = w.detach().clone(), w.detach().numpy().copy()
    view = model[3].weight.detach().numpy()
    seen = view.copy()
    step(x)
    np.testing.assert_array_equal(clone.numpy(), expected)
    np.testing.assert_array_equal(view, seen)
    assert not np.array_equal(w.detach().numpy(), expected)


def test_same_shaped_weights_each_keep_their_own_buffer():
    """Three 16x16 layers: each weight and momentum buffer is updated in its own buffer. (JAX
    gives a donated buffer to the first free output of its shape, so outputs in another order
    swapped buffers between the layers, and XLA copied to undo it.)"""
    tape.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16), nn.Linear(16, 16))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = tape.randn(4, 16)

    @tape.compile
    def step():
        opt.zero_grad()
        model(x).square().sum().backward()
        opt.step()

    def buffers() -> list:
        params = list(model.parameters())
        held = params + [opt.state[p]["momentum_buffer"] for p in params]
        return [t._storage.array.unsafe_buffer_pointer() for t in held]

    for _ in range(3):
        step()
    before = buffers()
    step()
    assert buffers() == before


def test_evaluating_between_epochs_does_not_recapture():
    """model.eval() for evaluation, model.train() again: the step's program is still valid, as
    it guards on the train/eval mode of the modules it calls, and it matches eager training."""

    def run(compiled: bool):
        model = _mlp()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, calls, history = tape.ones(16, 4), [], []

        def step(x):
            calls.append(1)
            opt.zero_grad()
            loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        f = tape.compile(step) if compiled else step
        for epoch in range(4):
            model.train()
            history += [f(x).item() for _ in range(3)]
            model.eval()
            with tape.no_grad():
                history.append(model(x).sum().item())
            if epoch == 1:
                settled = len(calls)
        return history, len(calls), settled

    eager, _, _ = run(False)
    history, calls, settled = run(True)
    np.testing.assert_allclose(history, eager, rtol=1e-5)
    assert calls == settled
