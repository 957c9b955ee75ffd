"""torch-differential tests for ``tape.nn`` RNN, LSTM, GRU and their cells.

Each case builds the module in torch and in tape after the same ``manual_seed``, so the
parameters must come out bit-identical, then runs forward and backward twice (the second run
replays tape's recorded programs) and compares outputs, final states, ``grad_fn`` names and the
gradients of the input, the initial states and every parameter.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from conftest import assert_same, assert_same_error, capture_error, normalize

import tape

LIBS = {"tape": tape, "torch": torch}
IN, HID, LEN, BATCH = 4, 6, 5, 3
TOL = {"rtol": 1e-4, "atol": 1e-5}


@dataclass(frozen=True)
class Case:
    name: str
    cls: str  # "RNN", "LSTM" or "GRU"
    kwargs: dict = field(default_factory=dict)
    batched: bool = True
    h0: bool = False


CASES = [
    Case("rnn", "RNN"),
    Case("rnn_relu", "RNN", {"nonlinearity": "relu"}),
    Case("rnn_relu_2l_bi", "RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
    Case("rnn_batch_first_h0", "RNN", {"batch_first": True}, h0=True),
    Case("rnn_unbatched_h0", "RNN", {"num_layers": 2}, batched=False, h0=True),
    Case("rnn_nobias", "RNN", {"bias": False}),
    Case("lstm", "LSTM"),
    Case("lstm_2l", "LSTM", {"num_layers": 2}),
    Case("lstm_bi", "LSTM", {"bidirectional": True}),
    Case(
        "lstm_2l_bi_bf_h0",
        "LSTM",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        h0=True,
    ),
    Case("lstm_batch_first", "LSTM", {"batch_first": True}),
    Case("lstm_unbatched", "LSTM", {"num_layers": 2}, batched=False),
    Case("lstm_unbatched_bf_h0", "LSTM", {"batch_first": True, "bidirectional": True}, False, True),
    Case("lstm_nobias_h0", "LSTM", {"bias": False, "num_layers": 2}, h0=True),
    Case("gru", "GRU"),
    Case("gru_2l", "GRU", {"num_layers": 2}),
    Case("gru_bi_h0", "GRU", {"bidirectional": True}, h0=True),
    Case("gru_2l_bi_bf", "GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    Case("gru_unbatched_h0", "GRU", {"bidirectional": True}, batched=False, h0=True),
    Case("gru_nobias", "GRU", {"bias": False, "batch_first": True}),
]


def _seed(name: str) -> int:
    return zlib.crc32(name.encode()) % 10_000


def _build(case: Case) -> dict:
    """The module in both libraries, each built right after ``manual_seed`` of the same seed."""
    mods = {}
    for lib_name, lib in LIBS.items():
        lib.manual_seed(_seed(case.name))
        mods[lib_name] = getattr(lib.nn, case.cls)(IN, HID, **case.kwargs)
    return mods


def _arrays(case: Case) -> tuple:
    """The input and the initial states (None without ``h0``) as numpy arrays."""
    rng = np.random.default_rng(_seed(case.name))
    first = case.kwargs.get("batch_first", False)
    shape = ((BATCH, LEN) if first else (LEN, BATCH)) if case.batched else (LEN,)
    x = rng.standard_normal((*shape, IN)).astype(np.float32)
    if not case.h0:
        return x, None
    d = 2 if case.kwargs.get("bidirectional") else 1
    hshape = (case.kwargs.get("num_layers", 1) * d, *((BATCH,) if case.batched else ()), HID)
    states = [rng.standard_normal(hshape).astype(np.float32) for _ in range(2)]
    return x, (tuple(states) if case.cls == "LSTM" else states[0])


def _run(lib, module, x, h0) -> tuple:
    """Forward and backward of ``out.sum() + h.sum() (+ c.sum())``; returns what to compare."""
    xt = lib.tensor(x, requires_grad=True)
    if h0 is None:
        states = None
    elif isinstance(h0, tuple):
        states = tuple(lib.tensor(s, requires_grad=True) for s in h0)
    else:
        states = lib.tensor(h0, requires_grad=True)
    out, hidden = module(xt, states)
    finals = hidden if isinstance(hidden, tuple) else (hidden,)
    loss = out.sum()
    for h in finals:
        loss = loss + h.sum()
    loss.backward()
    if states is None:
        state_grads = ()
    else:
        state_grads = tuple(s.grad for s in (states if isinstance(states, tuple) else (states,)))
    names = tuple(type(t.grad_fn).__name__ for t in (out, *finals))
    return out, finals, names, xt.grad, state_grads


def _assert_same_init(mods: dict) -> None:
    """Same parameter names, shapes and bit-identical values, and the same printed module."""
    got = list(mods["tape"].named_parameters())
    want = list(mods["torch"].named_parameters())
    assert [n for n, _ in got] == [n for n, _ in want]
    for (name, g), (_, w) in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape), name
        assert np.array_equal(g.detach().numpy(), w.detach().numpy()), name
    assert normalize(repr(mods["tape"])) == normalize(repr(mods["torch"]))


def _compare_twice(mods: dict, run, *args) -> None:
    """``run(lib, module, *args)`` in both libraries, twice (the second run replays tape's
    recorded forward and backward): what it returns, then every parameter's gradient."""
    for _ in range(2):
        for m in mods.values():
            m.zero_grad()
        assert_same(run(tape, mods["tape"], *args), run(torch, mods["torch"], *args), **TOL)
        for g, w in zip(mods["tape"].parameters(), mods["torch"].parameters(), strict=True):
            assert_same(g.grad, w.grad, **TOL)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_parameters_and_repr(case: Case) -> None:
    mods = _build(case)
    _assert_same_init(mods)
    assert mods["tape"]._flat_weights_names == mods["torch"]._flat_weights_names
    assert [[tuple(p.shape) for p in ps] for ps in mods["tape"].all_weights] == [
        [tuple(p.shape) for p in ps] for ps in mods["torch"].all_weights
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_forward_backward(case: Case) -> None:
    _compare_twice(_build(case), _run, *_arrays(case))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers(cls: str) -> None:
    """Training dropout draws torch's masks from the default generator, in torch's order."""
    case = Case(f"dropout_{cls}", cls, {"num_layers": 3, "dropout": 0.5, "bidirectional": True})
    mods = _build(case)
    x, _ = _arrays(case)
    for lib in LIBS.values():
        lib.manual_seed(7)
    outs = {n: mods[n](LIBS[n].tensor(x)) for n in LIBS}
    assert_same(outs["tape"], outs["torch"], **TOL)
    assert tape.rand(3).tolist() == torch.rand(3).tolist()  # the streams stay in step
    for m in mods.values():
        m.eval()
    assert_same(mods["tape"](tape.tensor(x)), mods["torch"](torch.tensor(x)), **TOL)


# ------------------------------------------------------------------------------------------------
# cells
# ------------------------------------------------------------------------------------------------
CELL_CASES = [
    Case("rnncell", "RNNCell"),
    Case("rnncell_relu_h0", "RNNCell", {"nonlinearity": "relu"}, h0=True),
    Case("rnncell_unbatched", "RNNCell", {"bias": False}, batched=False, h0=True),
    Case("lstmcell", "LSTMCell"),
    Case("lstmcell_h0", "LSTMCell", h0=True),
    Case("lstmcell_unbatched_nobias", "LSTMCell", {"bias": False}, batched=False, h0=True),
    Case("grucell", "GRUCell"),
    Case("grucell_h0", "GRUCell", h0=True),
    Case("grucell_unbatched", "GRUCell", batched=False),
]


def _run_cell(lib, module, x, h0) -> tuple:
    xt = lib.tensor(x, requires_grad=True)
    states = None if h0 is None else tuple(lib.tensor(s, requires_grad=True) for s in h0)
    if states is None:
        out = module(xt)
    else:
        out = module(xt, states if len(states) == 2 else states[0])
    outs = out if isinstance(out, tuple) else (out,)
    loss = outs[0].sum()
    for o in outs[1:]:
        loss = loss + o.sum()
    loss.backward()
    names = tuple(type(o.grad_fn).__name__ for o in outs)
    return outs, names, xt.grad, () if states is None else tuple(s.grad for s in states)


@pytest.mark.parametrize("case", CELL_CASES, ids=lambda c: c.name)
def test_cells(case: Case) -> None:
    mods = _build(case)
    _assert_same_init(mods)
    rng = np.random.default_rng(_seed(case.name))
    batch = (BATCH,) if case.batched else ()
    x = rng.standard_normal((*batch, IN)).astype(np.float32)
    n = 2 if case.cls == "LSTMCell" else 1
    h0 = tuple(rng.standard_normal((*batch, HID)).astype(np.float32) for _ in range(n))
    _compare_twice(mods, _run_cell, x, h0 if case.h0 else None)


# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------
def _zeros(lib, *shape):
    return lib.zeros(*shape)


ERRORS = {
    "input_size": ("LSTM", {}, lambda lib, m: m(_zeros(lib, 5, 3, IN + 1))),
    "input_dim": ("GRU", {}, lambda lib, m: m(_zeros(lib, 2, 5, 3, IN))),
    "input_dim_rnn": ("RNN", {}, lambda lib, m: m(_zeros(lib, IN))),
    "input_dtype": ("RNN", {}, lambda lib, m: m(_zeros(lib, 5, 3, IN).double())),
    "h0_shape": ("GRU", {}, lambda lib, m: m(_zeros(lib, 5, 3, IN), _zeros(lib, 1, 2, HID))),
    "h0_shape_bi": (
        "RNN",
        {"bidirectional": True},
        lambda lib, m: m(_zeros(lib, 5, 3, IN), _zeros(lib, 1, 3, HID)),
    ),
    "h0_dim": ("RNN", {}, lambda lib, m: m(_zeros(lib, 5, 3, IN), _zeros(lib, 3, HID))),
    "h0_dim_unbatched": ("GRU", {}, lambda lib, m: m(_zeros(lib, 5, IN), _zeros(lib, 1, 1, HID))),
    "lstm_c0_shape": (
        "LSTM",
        {},
        lambda lib, m: m(_zeros(lib, 5, 3, IN), (_zeros(lib, 1, 3, HID), _zeros(lib, 1, 3, 2))),
    ),
    "lstm_h0_shape": (
        "LSTM",
        {"batch_first": True},
        lambda lib, m: m(_zeros(lib, 5, 3, IN), (_zeros(lib, 1, 3, HID), _zeros(lib, 1, 5, HID))),
    ),
    "lstm_h0_dim": (
        "LSTM",
        {},
        lambda lib, m: m(_zeros(lib, 5, 3, IN), (_zeros(lib, 3, HID), _zeros(lib, 1, 3, HID))),
    ),
    "lstm_unbatched_h0_dim": (
        "LSTM",
        {},
        lambda lib, m: m(_zeros(lib, 5, IN), (_zeros(lib, 1, 1, HID), _zeros(lib, 1, HID))),
    ),
    "cell_input_size": ("LSTMCell", {}, lambda lib, m: m(_zeros(lib, 3, IN + 2))),
    "cell_input_dim": ("GRUCell", {}, lambda lib, m: m(_zeros(lib, 2, 3, IN))),
    "cell_hidden_dim": (
        "RNNCell",
        {},
        lambda lib, m: m(_zeros(lib, 3, IN), _zeros(lib, 1, 3, HID)),
    ),
    "cell_batch": ("GRUCell", {}, lambda lib, m: m(_zeros(lib, 3, IN), _zeros(lib, 2, HID))),
    "cell_hidden_size": ("RNNCell", {}, lambda lib, m: m(_zeros(lib, 3, IN), _zeros(lib, 3, 2))),
    "lstmcell_c_size": (
        "LSTMCell",
        {},
        lambda lib, m: m(_zeros(lib, 3, IN), (_zeros(lib, 3, HID), _zeros(lib, 3, 1))),
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_forward_errors(name: str) -> None:
    cls, kwargs, call = ERRORS[name]
    mods = {n: getattr(lib.nn, cls)(IN, HID, **kwargs) for n, lib in LIBS.items()}
    got, want = (capture_error(lambda n=n: call(LIBS[n], mods[n])) for n in ("tape", "torch"))
    assert want is not None and got is not None, (got, want)
    assert type(got) is type(want), (got, want)
    assert normalize(str(got)) == normalize(str(want))  # dtypes print as tape.float32


CTOR_ERRORS = {
    "dropout_range": ("LSTM", {"dropout": 1.5}),
    "dropout_bool": ("GRU", {"dropout": True}),
    "hidden_zero": ("RNN", {"hidden_size": 0}),
    "input_type": ("LSTM", {"input_size": 2.0}),
    "layers_zero": ("GRU", {"num_layers": 0}),
    "bias_type": ("RNN", {"bias": 1}),
    "nonlinearity": ("RNN", {"nonlinearity": "sigmoid"}),
    "proj_size_gru": ("GRU", {"proj_size": 2}),
    "proj_size_too_big": ("LSTM", {"proj_size": HID}),
}


@pytest.mark.parametrize("name", list(CTOR_ERRORS))
def test_constructor_errors(name: str) -> None:
    cls, kwargs = CTOR_ERRORS[name]
    kwargs = {"input_size": IN, "hidden_size": HID, **kwargs}
    assert_same_error(
        lambda: getattr(tape.nn, cls)(**kwargs), lambda: getattr(torch.nn, cls)(**kwargs)
    )


def test_dropout_single_layer_warns(caught_warnings) -> None:
    tape.nn.LSTM(IN, HID, dropout=0.2)
    assert any(
        "non-zero dropout expects num_layers greater than 1" in str(w.message)
        for w in caught_warnings
    )


def test_proj_size_unsupported() -> None:
    with pytest.raises(NotImplementedError, match="proj_size"):
        tape.nn.LSTM(IN, HID, proj_size=2)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_compiled_training_step(cls: str) -> None:
    """A whole step (forward, backward, SGD) under ``tape.compile`` tracks torch's eager step."""
    case = Case(f"step_{cls}", cls, {"num_layers": 2, "bidirectional": True, "batch_first": True})
    mods = _build(case)
    x, _ = _arrays(case)
    target = np.random.default_rng(1).standard_normal((BATCH, LEN, 2 * HID)).astype(np.float32)

    def step(lib, module, opt):
        opt.zero_grad()
        out, _ = module(lib.tensor(x))
        loss = ((out - lib.tensor(target)) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    opts = {n: LIBS[n].optim.SGD(mods[n].parameters(), lr=0.5) for n in LIBS}
    compiled = tape.compile(lambda: step(tape, mods["tape"], opts["tape"]))
    for _ in range(4):
        assert_same(compiled(), step(torch, mods["torch"], opts["torch"]), **TOL)
    for g, w in zip(mods["tape"].parameters(), mods["torch"].parameters(), strict=True):
        assert_same(g, w, **TOL)
