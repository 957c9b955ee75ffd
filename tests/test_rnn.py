"""torch-differential tests for ``tape.nn`` RNN, LSTM, GRU and their cells, and for packed
sequences (``tape.nn.utils.rnn``).

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

# torch's CPU LSTM says once that it projects without oneDNN; tape has nothing to say.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

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
    Case("lstm_proj", "LSTM", {"proj_size": 2}),
    Case(
        "lstm_proj_2l_bi_bf_h0",
        "LSTM",
        {"proj_size": 3, "num_layers": 2, "bidirectional": True, "batch_first": True},
        h0=True,
    ),
    Case("lstm_proj_unbatched_bi_h0", "LSTM", {"proj_size": 2, "bidirectional": True}, False, True),
    Case("lstm_proj_nobias_2l", "LSTM", {"proj_size": 1, "bias": False, "num_layers": 2}),
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
    lead = (case.kwargs.get("num_layers", 1) * d, *((BATCH,) if case.batched else ()))
    h = rng.standard_normal((*lead, case.kwargs.get("proj_size") or HID)).astype(np.float32)
    if case.cls != "LSTM":
        return x, h
    return x, (h, rng.standard_normal((*lead, HID)).astype(np.float32))


def _leaf_states(lib, h0):
    """The initial states (from ``_arrays``) as leaves that require grad, or None."""
    if h0 is None:
        return None
    if isinstance(h0, tuple):
        return tuple(lib.tensor(s, requires_grad=True) for s in h0)
    return lib.tensor(h0, requires_grad=True)


def _backward(out, hidden, states) -> tuple:
    """Backward of ``out.sum() + h.sum() (+ c.sum())``; the final states and the grads of the
    initial ones."""
    finals = hidden if isinstance(hidden, tuple) else (hidden,)
    loss = out.sum()
    for h in finals:
        loss = loss + h.sum()
    loss.backward()
    if states is None:
        return finals, ()
    return finals, tuple(s.grad for s in (states if isinstance(states, tuple) else (states,)))


def _run(lib, module, x, h0) -> tuple:
    """Forward and backward of ``out.sum() + h.sum() (+ c.sum())``; returns what to compare."""
    xt = lib.tensor(x, requires_grad=True)
    states = _leaf_states(lib, h0)
    out, hidden = module(xt, states)
    finals, state_grads = _backward(out, hidden, states)
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
    assert [tuple(w.shape) for w in mods["tape"]._flat_weights] == [
        tuple(w.shape) for w in mods["torch"]._flat_weights
    ]
    assert [[tuple(p.shape) for p in ps] for ps in mods["tape"].all_weights] == [
        [tuple(p.shape) for p in ps] for ps in mods["torch"].all_weights
    ]
    assert list(mods["tape"].state_dict()) == list(mods["torch"].state_dict())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_forward_backward(case: Case) -> None:
    _compare_twice(_build(case), _run, *_arrays(case))


# (class, extra keywords) of the dropout and compiled-step tests
MODULES = [("RNN", {}), ("LSTM", {}), ("LSTM", {"proj_size": 2}), ("GRU", {})]


def _module_id(module: tuple) -> str:
    cls, kwargs = module
    return cls + "".join(f"_{k}{v}" for k, v in kwargs.items())


@pytest.mark.parametrize("module", MODULES, ids=_module_id)
def test_dropout_between_layers(module: tuple) -> None:
    """Training dropout draws torch's masks from the default generator, in torch's order."""
    cls, kwargs = module
    kwargs = {"num_layers": 3, "dropout": 0.5, "bidirectional": True, **kwargs}
    case = Case(f"dropout_{cls}", cls, kwargs)
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


def _packed(lib, lengths=(5, 3, 2), size=IN, enforce_sorted=True):
    """A packed batch of zeros, (LEN, BATCH, size) before packing."""
    return lib.nn.utils.rnn.pack_padded_sequence(
        _zeros(lib, LEN, BATCH, size), list(lengths), enforce_sorted=enforce_sorted
    )


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
    "packed_input_size": ("GRU", {}, lambda lib, m: m(_packed(lib, size=IN + 1))),
    "packed_input_dtype": ("RNN", {}, lambda lib, m: m(_packed(lib).double())),
    "packed_h0_batch": ("RNN", {}, lambda lib, m: m(_packed(lib), _zeros(lib, 1, 2, HID))),
    "packed_h0_layers": ("GRU", {}, lambda lib, m: m(_packed(lib), _zeros(lib, 2, 3, HID))),
    "packed_h0_dim_unsorted": (  # the permutation runs first: torch shows the permuted shape
        "RNN",
        {},
        lambda lib, m: m(_packed(lib, (3, 5, 2), enforce_sorted=False), _zeros(lib, 3, HID)),
    ),
    "lstm_proj_h0_size": (
        "LSTM",
        {"proj_size": 2},
        lambda lib, m: m(_zeros(lib, 5, 3, IN), (_zeros(lib, 1, 3, HID), _zeros(lib, 1, 3, HID))),
    ),
    "lstm_proj_c0_size": (
        "LSTM",
        {"proj_size": 2, "bidirectional": True},
        lambda lib, m: m(_zeros(lib, 5, 3, IN), (_zeros(lib, 2, 3, 2), _zeros(lib, 2, 3, 2))),
    ),
    "lstm_proj_unbatched_h0_size": (
        "LSTM",
        {"proj_size": 3, "num_layers": 2},
        lambda lib, m: m(_zeros(lib, 5, IN), (_zeros(lib, 2, 2), _zeros(lib, 2, HID))),
    ),
    "packed_h0_permutation": (
        "LSTM",
        {},
        lambda lib, m: m(
            _packed(lib, (3, 5, 2), enforce_sorted=False),
            (_zeros(lib, 1, 2, HID), _zeros(lib, 1, 2, HID)),
        ),
    ),
}


def _assert_same_error_exactly(call) -> None:
    """``call(lib)`` raises the same exception type and message in tape as in torch."""
    got, want = (capture_error(lambda n=n: call(LIBS[n])) for n in ("tape", "torch"))
    assert want is not None and got is not None, (got, want)
    assert type(got) is type(want), (got, want)
    assert normalize(str(got)) == normalize(str(want))  # dtypes print as tape.float32


@pytest.mark.parametrize("name", list(ERRORS))
def test_forward_errors(name: str) -> None:
    cls, kwargs, call = ERRORS[name]
    mods = {n: getattr(lib.nn, cls)(IN, HID, **kwargs) for n, lib in LIBS.items()}
    _assert_same_error_exactly(lambda lib: call(lib, mods["tape" if lib is tape else "torch"]))


CTOR_ERRORS = {
    "dropout_range": ("LSTM", {"dropout": 1.5}),
    "dropout_bool": ("GRU", {"dropout": True}),
    "hidden_zero": ("RNN", {"hidden_size": 0}),
    "input_type": ("LSTM", {"input_size": 2.0}),
    "layers_zero": ("GRU", {"num_layers": 0}),
    "bias_type": ("RNN", {"bias": 1}),
    "nonlinearity": ("RNN", {"nonlinearity": "sigmoid"}),
    "proj_size_gru": ("GRU", {"proj_size": 2}),
    "proj_size_rnn": ("RNN", {"proj_size": 0}),
    "proj_size_negative": ("LSTM", {"proj_size": -1}),
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


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("module", MODULES[1:], ids=_module_id)
def test_compiled_training_step(module: tuple, packed: bool) -> None:
    """A whole step (forward, backward, SGD) under ``tape.compile`` tracks torch's eager step,
    on a padded batch or on the same batch packed (pack, module, pad)."""
    cls, kwargs = module
    kwargs = {"num_layers": 2, "bidirectional": True, "batch_first": True, **kwargs}
    case = Case(f"step_{cls}", cls, kwargs)
    mods = _build(case)
    x, _ = _arrays(case)
    width = 2 * (kwargs.get("proj_size") or HID)
    target = np.random.default_rng(1).standard_normal((BATCH, LEN, width)).astype(np.float32)

    def forward(lib, module):
        if not packed:
            return module(lib.tensor(x))[0]
        utils = lib.nn.utils.rnn
        seq = utils.pack_padded_sequence(lib.tensor(x), [4, 5, 2], True, enforce_sorted=False)
        return utils.pad_packed_sequence(module(seq)[0], True, total_length=LEN)[0]

    def step(lib, module, opt):
        opt.zero_grad()
        out = forward(lib, module)
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


# ------------------------------------------------------------------------------------------------
# packed sequences
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PackedCase:
    name: str
    cls: str
    kwargs: dict
    lengths: tuple  # one per batch column, at most LEN
    enforce_sorted: bool = True
    h0: bool = False


PACKED_CASES = [
    PackedCase("rnn_sorted", "RNN", {}, (5, 3, 2)),
    PackedCase(
        "rnn_relu_unsorted_bf",
        "RNN",
        {"nonlinearity": "relu", "batch_first": True},
        (3, 5, 1),
        False,
    ),
    PackedCase(
        "rnn_2l_bi_unsorted_h0",
        "RNN",
        {"num_layers": 2, "bidirectional": True},
        (2, 5, 5),
        False,
        True,
    ),
    PackedCase(
        "rnn_relu_bi_sorted_h0",
        "RNN",
        {"nonlinearity": "relu", "bidirectional": True},
        (5, 4, 4),
        h0=True,
    ),
    PackedCase("lstm_sorted_h0", "LSTM", {}, (5, 5, 1), h0=True),
    PackedCase(
        "lstm_bi_unsorted_bf",
        "LSTM",
        {"bidirectional": True, "batch_first": True},
        (1, 4, 3),
        False,
    ),
    PackedCase(
        "lstm_2l_bi_unsorted_h0",
        "LSTM",
        {"num_layers": 2, "bidirectional": True},
        (3, 1, 5),
        False,
        True,
    ),
    PackedCase("lstm_2l_bf_shorter", "LSTM", {"num_layers": 2, "batch_first": True}, (4, 2, 2)),
    PackedCase("lstm_proj_sorted_h0", "LSTM", {"proj_size": 2}, (5, 3, 3), h0=True),
    PackedCase(
        "lstm_proj_2l_bi_unsorted_bf_h0",
        "LSTM",
        {"proj_size": 3, "num_layers": 2, "bidirectional": True, "batch_first": True},
        (2, 5, 4),
        False,
        True,
    ),
    PackedCase(
        "lstm_proj_nobias_bi_unsorted",
        "LSTM",
        {"proj_size": 1, "bias": False, "bidirectional": True},
        (4, 1, 5),
        False,
    ),
    PackedCase("gru_sorted", "GRU", {}, (5, 3, 2)),
    PackedCase("gru_unsorted_bf_h0", "GRU", {"batch_first": True}, (2, 4, 4), False, True),
    PackedCase("gru_2l_bi_sorted", "GRU", {"num_layers": 2, "bidirectional": True}, (5, 2, 2)),
    PackedCase(
        "gru_nobias_bi_ties_h0",
        "GRU",
        {"bias": False, "bidirectional": True},
        (3, 5, 3),
        False,
        True,
    ),
]


def _run_packed(lib, module, case: PackedCase, x, h0) -> tuple:
    """pack -> module -> pad, then ``_backward`` with the padded output squared (so that each
    step's gradient differs); returns what to compare."""
    utils = lib.nn.utils.rnn
    first = case.kwargs.get("batch_first", False)
    xt = lib.tensor(x, requires_grad=True)
    states = _leaf_states(lib, h0)
    packed = utils.pack_padded_sequence(xt, list(case.lengths), first, case.enforce_sorted)
    out, hidden = module(packed, states)
    padded, lengths = utils.pad_packed_sequence(out, batch_first=first)
    finals, state_grads = _backward(padded * padded, hidden, states)
    names = tuple(type(t.grad_fn).__name__ for t in (packed.data, out.data, padded, *finals))
    shares = (out.batch_sizes is packed.batch_sizes, out.sorted_indices is packed.sorted_indices)
    return packed, out, padded, lengths, finals, names, shares, xt.grad, state_grads


@pytest.mark.parametrize("case", PACKED_CASES, ids=lambda c: c.name)
def test_packed_forward_backward(case: PackedCase) -> None:
    mods = _build(case)
    x, h0 = _arrays(Case(case.name, case.cls, case.kwargs, h0=case.h0))
    _compare_twice(mods, _run_packed, case, x, h0)


@pytest.mark.parametrize("module", MODULES, ids=_module_id)
def test_packed_dropout_between_layers(module: tuple) -> None:
    """torch drops out the packed rows between layers: tape draws the same masks."""
    cls, kwargs = module
    kwargs = {"num_layers": 3, "dropout": 0.5, **kwargs}
    case = PackedCase(f"packed_dropout_{cls}", cls, kwargs, (4, 5, 2))
    mods = _build(case)
    x, _ = _arrays(Case(case.name, cls))
    outs = {}
    for name, lib in LIBS.items():
        lib.manual_seed(7)
        packed = lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(x), [4, 5, 2], False, False)
        outs[name] = mods[name](packed)
    assert_same(outs["tape"], outs["torch"], **TOL)
    assert tape.rand(3).tolist() == torch.rand(3).tolist()  # the streams stay in step


# name: (input shape, lengths, lengths dtype (None: a list), batch_first, enforce_sorted,
# pad_packed_sequence's keywords)
PACK_CASES = {
    "sorted": ((5, 3, 4), [5, 3, 2], None, False, True, {}),
    "unsorted_bf_total_length": ((3, 5, 4), [2, 5, 3], None, True, False, {"total_length": 7}),
    "ties_padding_value": ((4, 4, 2), [2, 4, 2, 4], "int64", False, False, {"padding_value": -1.5}),
    "int32_lengths_bf_pad": ((2, 6, 3), [6, 1], "int32", True, True, {"batch_first": True}),
    "float_lengths_truncated": ((5, 2), [4.7, 2.2], "float32", False, True, {}),
    "trailing_dims_shorter": ((6, 2, 3, 2), [3, 4], None, False, False, {"total_length": 6}),
    "one_sequence": ((3, 1, 2), [2], None, False, True, {"batch_first": True}),
}


@pytest.mark.parametrize("name", list(PACK_CASES))
def test_pack_and_pad(name: str) -> None:
    shape, lengths, dtype, first, enforce_sorted, pad_kwargs = PACK_CASES[name]
    x = np.random.default_rng(_seed(name)).standard_normal(shape).astype(np.float32)

    def run(lib) -> tuple:
        utils = lib.nn.utils.rnn
        xt = lib.tensor(x, requires_grad=True)
        lens = lengths if dtype is None else lib.tensor(lengths, dtype=getattr(lib, dtype))
        packed = utils.pack_padded_sequence(xt, lens, first, enforce_sorted)
        padded, out_lengths = utils.pad_packed_sequence(packed, **pad_kwargs)
        (padded * padded).sum().backward()
        names = tuple(type(t.grad_fn).__name__ for t in (packed.data, padded))
        return packed, padded, out_lengths, names, xt.grad

    assert_same(run(tape), run(torch))


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack(enforce_sorted: bool) -> None:
    rng = np.random.default_rng(3)
    sizes = (4, 3, 1) if enforce_sorted else (2, 4, 1)
    arrays = [rng.standard_normal((n, 3)).astype(np.float32) for n in sizes]

    def run(lib) -> tuple:
        seqs = [lib.tensor(a, requires_grad=True) for a in arrays]
        packed = lib.nn.utils.rnn.pack_sequence(seqs, enforce_sorted)
        unpacked = lib.nn.utils.rnn.unpack_sequence(packed)
        sum((u * u).sum() for u in unpacked).backward()
        return packed, unpacked, [s.grad for s in seqs], type(packed.data.grad_fn).__name__

    assert_same(run(tape), run(torch))


def test_packed_sequence_methods() -> None:
    """The conversions, the constructor's forms, ``invert_permutation`` and the printed form."""
    x = np.random.default_rng(4).standard_normal((3, 3, 2)).astype(np.float32)

    def run(lib) -> tuple:
        utils = lib.nn.utils.rnn
        p = utils.pack_padded_sequence(lib.tensor(x, requires_grad=True), [2, 3, 1], False, False)
        double = p.double()
        ints = utils.pack_sequence(
            [lib.tensor([1, 2, 3]), lib.tensor([4]), lib.tensor([5, 6])], False
        )
        from_pair = utils.PackedSequence((p.data, p.batch_sizes), p.sorted_indices)
        return (
            (p.to(lib.float32) is p, p.float() is p, p.cpu() is p, p.is_cuda),
            (double, type(double.data.grad_fn).__name__, double.sorted_indices is p.sorted_indices),
            (
                p.long().data.dtype is lib.int64,
                p.int().data.dtype is lib.int32,
                p.half().data.dtype is lib.float16,
            ),
            (
                p.short().data.dtype is lib.int16,
                p.char().data.dtype is lib.int8,
                p.byte().data.dtype is lib.uint8,
            ),
            (from_pair, utils.PackedSequence(p.data, p.batch_sizes, p.sorted_indices)),
            utils.invert_permutation(lib.tensor([2, 0, 3, 1])),
            utils.invert_permutation(None),
            normalize(repr(ints)),
        )

    assert_same(run(tape), run(torch))


def _utils(lib):
    return lib.nn.utils.rnn


PACK_ERRORS = {
    "unsorted": lambda lib: _packed(lib, (3, 5, 2)),
    "zero_length": lambda lib: _packed(lib, (5, 3, 0)),
    "zero_length_unsorted": lambda lib: _packed(lib, (0, 5, 3), enforce_sorted=False),
    "negative_length_unsorted": lambda lib: _packed(lib, (-1, 3, 2), enforce_sorted=False),
    "lengths_count": lambda lib: _packed(lib, (5, 3)),
    "lengths_2d": lambda lib: _utils(lib).pack_padded_sequence(
        _zeros(lib, 5, 3, 2), lib.tensor([[5, 3, 2]])
    ),
    "lengths_0d": lambda lib: _utils(lib).pack_padded_sequence(_zeros(lib, 5, 1, 2), lib.tensor(5)),
    "empty_input": lambda lib: _utils(lib).pack_padded_sequence(_zeros(lib, 0, 2, 3), [1, 1]),
    "input_1d": lambda lib: _utils(lib).pack_padded_sequence(_zeros(lib, 4), [4]),
    "input_1d_batch_first": lambda lib: _utils(lib).pack_padded_sequence(
        _zeros(lib, 4), [4], batch_first=True
    ),
    "total_length": lambda lib: _utils(lib).pad_packed_sequence(_packed(lib), total_length=4),
    "pack_sequence_unsorted": lambda lib: _utils(lib).pack_sequence(
        [_zeros(lib, 2), _zeros(lib, 3)]
    ),
    "pack_sequence_empty": lambda lib: _utils(lib).pack_sequence([]),
    "pack_sequence_zero_length": lambda lib: _utils(lib).pack_sequence(
        [_zeros(lib, 0, 2), _zeros(lib, 2, 2)], enforce_sorted=False
    ),
    "constructor_pair": lambda lib: _utils(lib).PackedSequence(_zeros(lib, 3)),
}


@pytest.mark.parametrize("name", list(PACK_ERRORS))
def test_pack_errors(name: str) -> None:
    _assert_same_error_exactly(PACK_ERRORS[name])


def test_pack_lengths_longer_than_input() -> None:
    """torch packs fewer rows than its batch_sizes count here (a broken PackedSequence); tape
    raises instead."""
    with pytest.raises(RuntimeError, match=r"length \(6\) is more than the input's 5 steps"):
        _packed(tape, (6, 3, 2))


@pytest.mark.parametrize(
    "kwargs, shapes, message",
    [
        ({}, ((1, 3, HID), (1, 3, 5)), r"hidden\[1\] size \(1, 3, 6\), got \[1, 3, 5\]"),
        ({}, ((2, 3, HID), (2, 3, HID)), r"hidden\[0\] size \(1, 3, 6\), got \[2, 3, 6\]"),
        (
            {"proj_size": 2},
            ((1, 3, HID), (1, 3, HID)),
            r"hidden\[0\] size \(1, 3, 2\), got \[1, 3, 6\]",
        ),
    ],
    ids=["c0_size", "layers", "proj_h0_size"],
)
def test_packed_lstm_hidden_checks(kwargs: dict, shapes: tuple, message: str) -> None:
    """torch's packed LSTM leaves these checks to its kernel, whose errors name its internals
    (``Expected more hidden states in stacked_rnn``, or with ``proj_size`` ``got an incorrect
    number of RNN parameters``); tape raises its unpacked LSTM's."""
    hx = tuple(_zeros(tape, *shape) for shape in shapes)
    with pytest.raises(RuntimeError, match=message):
        tape.nn.LSTM(IN, HID, **kwargs)(_packed(tape), hx)


@pytest.mark.skipif(not tape.cuda.is_available(), reason="needs a GPU visible to JAX")
def test_pack_lengths_on_the_gpu() -> None:
    with pytest.raises(RuntimeError, match="but got 1D cuda:0 Long tensor"):
        tape.nn.utils.rnn.pack_padded_sequence(_zeros(tape, 5, 3, 2), tape.tensor([5, 3, 2]).cuda())
    packed = _packed(tape, (3, 5, 2), enforce_sorted=False).cuda()
    assert packed.is_cuda and packed.sorted_indices.is_cuda and not packed.batch_sizes.is_cuda
