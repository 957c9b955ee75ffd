"""tape._tensor_str must print exactly what torch 2.13 prints for the same values."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

try:
    from tape import _tensor_str as ts
except ImportError:
    # The package __init__ may be mid-edit; this module has no tape dependencies.
    _path = pathlib.Path(__file__).resolve().parents[1] / "tape" / "_tensor_str.py"
    _spec = importlib.util.spec_from_file_location("_tape_tensor_str", _path)
    ts = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(ts)


NP_DTYPES = {
    "bool": np.bool_,
    "uint8": np.uint8,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
}
FLOAT_DTYPES = ["float16", "bfloat16", "float32", "float64"]
INT_DTYPES = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.fixture(autouse=True)
def _reset_printoptions():
    torch.set_printoptions(profile="default")
    ts.set_printoptions(profile="default")
    yield
    torch.set_printoptions(profile="default")
    ts.set_printoptions(profile="default")


def set_both(**kwargs):
    torch.set_printoptions(**kwargs)
    ts.set_printoptions(**kwargs)


def make_pair(values, dtype: str) -> tuple[np.ndarray, torch.Tensor]:
    """Same values as a numpy array (tape's host data) and as a torch tensor."""
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.asarray(values).astype(NP_DTYPES[dtype])
    if dtype == "bfloat16":
        # Exact widening, so both sides hold identical bfloat16 values.
        t = torch.from_numpy(arr.astype(np.float32)).to(torch.bfloat16)
    else:
        t = torch.from_numpy(arr.copy())
    return arr, t


def tape_repr(arr: np.ndarray, t: torch.Tensor, **kwargs) -> str:
    """format_tensor called the way tape's Tensor.__repr__ will call it.

    The dtype is named ``torch.*`` here: suffix wrapping depends on the text's
    length and "tape." is one character shorter than "torch.", so comparing
    against ``repr(t).replace("torch.", "tape.")`` would differ at the 80-column
    boundary even though the layout rule is the same.
    """
    grad_fn = t.grad_fn
    kwargs.setdefault("grad_fn_name", type(grad_fn).__name__ if grad_fn is not None else None)
    kwargs.setdefault("requires_grad", t.requires_grad)
    return ts.format_tensor(
        arr,
        dtype_name=str(t.dtype),
        show_dtype=t.dtype not in (torch.float32, torch.int64, torch.bool),
        **kwargs,
    )


def torch_repr(t: torch.Tensor) -> str:
    return repr(t)


def check(values, dtype: str) -> None:
    arr, t = make_pair(values, dtype)
    assert tape_repr(arr, t) == torch_repr(t)


def check_grad(values, dtype: str) -> None:
    """Leaf with requires_grad, and a non-leaf carrying grad_fn."""
    arr, t = make_pair(values, dtype)
    leaf = t.requires_grad_()
    assert tape_repr(arr, leaf) == torch_repr(leaf)
    out = leaf * 1  # exact, so arr still holds out's values
    assert tape_repr(arr, out, grad_fn_name="MulBackward0") == torch_repr(out)


nan, inf = math.nan, math.inf

FLOAT_CASES = {
    "scalar_int": 3.0,
    "scalar_frac": 1.5,
    "scalar_neg_zero": -0.0,
    "scalar_zero": 0.0,
    "scalar_nan": nan,
    "scalar_inf": inf,
    "scalar_ninf": -inf,
    "scalar_tiny": 1e-5,
    "scalar_big": 1e10,
    "scalar_1e8": 123456789.0,
    "scalar_neg": -2.71828,
    "vec_int": [1.0, 2.0, 3.0],
    "vec_frac": [1.5, 2.25, -3.125],
    "vec_ratio_sci": [0.1, 1000.5],
    "vec_ratio_edge": [1.0, 1000.0],
    "vec_ratio_edge_above": [1.0, 1001.0],
    "vec_tiny": [1e-5, 1.0],
    "vec_big": [1e8, 1.0],
    "vec_big_int": [1e9, 2.0],
    "vec_nan": [nan, 1.0],
    "vec_nan_frac": [nan, 1.5, -2.0],
    "vec_nonfinite": [inf, -inf, nan],
    "vec_zeros": [0.0, 0.0, 0.0],
    "vec_signed_zeros": [-0.0, 0.0, 1.0],
    "vec_neg_zero_frac": [-0.0, 0.5],
    "vec_precision": [1.123456789, -0.000123],
    "vec_rounding": [0.00005, 0.99995, 2.5],
    "vec_tiny_sci": [1e-30, 1e-31],
    "vec_neg_int": [-1.0, -100.0, 5.0],
    "vec_wide_neg": [-1e-3, 1e5, inf, nan],
    "long_vec": np.arange(100) * 1.0,
    "long_vec_frac": np.linspace(-1, 1, 77),
    "long_vec_sci": np.geomspace(1e-6, 1e6, 50),
    "mat": np.arange(12.0).reshape(3, 4) / 7,
    "mat_wide": np.arange(60.0).reshape(2, 30) - 30,
    "cube": np.arange(24.0).reshape(2, 3, 4),
    "hyper": np.arange(16.0).reshape(2, 2, 2, 2) * -0.5,
    "five_d": np.arange(32.0).reshape(2, 2, 2, 2, 2),
    "thresh_1000": np.arange(1000.0),
    "thresh_1001": np.arange(1001.0),
    "thresh_2d": np.arange(1001.0).reshape(1001, 1),
    "thresh_row": np.arange(1001.0).reshape(1, 1001),
    "summ_mat": np.linspace(-5, 5, 1600).reshape(40, 40),
    "summ_cube": np.arange(1100.0).reshape(10, 10, 11) / 3,
    "summ_small_dim": np.arange(2000.0).reshape(2, 1000),
    "summ_edges_define_format": np.concatenate([[1.0, 2, 3], np.full(1000, 0.123), [4.0, 5, 6]]),
    "empty": np.zeros(0),
    "empty_2d": np.zeros((0, 3)),
    "empty_2d_b": np.zeros((3, 0)),
    "empty_3d": np.zeros((2, 0, 3)),
    "single": [7.0],
    "nested_single": [[[7.25]]],
}

INT_CASES = {
    "scalar": 3,
    "scalar_zero": 0,
    "vec": [1, 2, 3],
    "vec_neg": [-1, 100, -127],
    "long": np.arange(100),
    "mat": np.arange(12).reshape(3, 4) - 6,
    "cube": np.arange(24).reshape(2, 3, 4),
    "thresh": np.arange(1001) % 100,
    "summ_2d": np.arange(3000).reshape(30, 100) % 120,
    "empty": np.zeros(0, dtype=np.int64),
    "empty_2d": np.zeros((0, 3), dtype=np.int64),
}

BOOL_CASES = {
    "scalar_true": True,
    "scalar_false": False,
    "vec": [True, False, True],
    "mat": np.eye(3, dtype=bool),
    "long": np.arange(100) % 3 == 0,
    "summ": np.arange(1500).reshape(3, 500) % 7 == 0,
    "empty": np.zeros(0, dtype=bool),
    "empty_2d": np.zeros((2, 0), dtype=bool),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("values", FLOAT_CASES.values(), ids=FLOAT_CASES.keys())
def test_float_cases(values, dtype):
    check(values, dtype)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("values", INT_CASES.values(), ids=INT_CASES.keys())
def test_int_cases(values, dtype):
    check(values, dtype)


@pytest.mark.parametrize("values", BOOL_CASES.values(), ids=BOOL_CASES.keys())
def test_bool_cases(values):
    check(values, "bool")


@pytest.mark.parametrize(
    "values,dtype",
    [
        (np.array([0, 255], dtype=np.uint8), "uint8"),
        (np.array([-128, 127], dtype=np.int8), "int8"),
        (np.array([-32768, 7], dtype=np.int16), "int16"),
        (np.array([-(2**31), 2**31 - 1]), "int32"),
        (np.array([-(2**63), 2**63 - 1, 0]), "int64"),
        (np.array([65504.0, -65504.0, 6e-8]), "float16"),
        (np.array([3.0e38, 1e-38, 1e-45]), "float32"),
        (np.array([1e-300, 1e300, 5e-324]), "float64"),
        (np.array([1.7e308, 5e-324]), "float64"),
        (np.array([3.3e38, 9.2e-41]), "bfloat16"),
        (np.array([1.0 + 2**-7, 256.0, 257.0]), "bfloat16"),
        (np.array([0.1, 0.2, 0.3]), "bfloat16"),
    ],
)
def test_dtype_extremes(values, dtype):
    check(values, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "values",
    [
        3.0,
        [1.5, -2.0],
        np.arange(12.0).reshape(3, 4),
        np.arange(1001.0),
        np.zeros((0, 3)),
        np.zeros(0),
        np.arange(40.0).reshape(2, 20) / 3,
    ],
    ids=["scalar", "vec", "mat", "summ", "empty_2d", "empty", "wrapped"],
)
def test_autograd_suffixes(values, dtype):
    check_grad(values, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("n", range(1, 16))
def test_suffix_wrap_boundary(n, dtype):
    # Lengths chosen so the closing suffixes land on both sides of the 80-column limit.
    check_grad(np.arange(n) + 0.25, dtype)
    check_grad(np.arange(n * 3).reshape(3, n) * 11.0, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
@pytest.mark.parametrize(
    "values", [2.0, np.arange(30.0), np.zeros((0, 2)), np.zeros(0)], ids=["s", "v", "e2", "e"]
)
def test_device_suffix(values, dtype, monkeypatch):
    # CPU-only torch prints a device only for non-default devices; pretend the
    # default is cuda so real torch emits device='cpu' and we can check placement.
    monkeypatch.setattr(torch._C, "_get_default_device", lambda: "cuda")
    arr, t = make_pair(values, dtype)
    assert tape_repr(arr, t, device="cpu") == torch_repr(t)
    if dtype.startswith("float"):
        t = t.requires_grad_()
        assert tape_repr(arr, t, device="cpu") == torch_repr(t)


def test_parameter_and_subclass_prefix():
    arr, t = make_pair(np.arange(40.0).reshape(2, 20) / 3, "float64")
    param = torch.nn.Parameter(t.clone())
    assert repr(param) == "Parameter containing:\n" + tape_repr(arr, param)

    class MyT(torch.Tensor):
        pass

    sub = t.as_subclass(MyT)
    assert tape_repr(arr, sub, prefix="MyT(") == torch_repr(sub)


def test_tape_dtype_names():
    arr, t = make_pair(np.arange(6).reshape(2, 3), "int32")
    got = ts.format_tensor(arr, dtype_name="tape.int32", show_dtype=True)
    assert got == repr(t).replace("torch.", "tape.")
    arr, t = make_pair(np.zeros((0, 2)), "int64")
    got = ts.format_tensor(arr, dtype_name="tape.int64", show_dtype=False)
    assert got == "tensor([], size=(0, 2), dtype=tape.int64)"
    # Wrapping is decided on the text actually printed: the 80-column limit
    # is crossed by torch's longer "torch." name but not by "tape.".
    arr, t = make_pair(np.arange(10.0) * 11, "bfloat16")
    assert repr(t).endswith("],\n       dtype=torch.bfloat16)")
    got = ts.format_tensor(arr, dtype_name="tape.bfloat16", show_dtype=True)
    assert got.endswith("], dtype=tape.bfloat16)")


OPTION_SETS = [
    {"precision": 2},
    {"precision": 0},
    {"precision": 8},
    {"sci_mode": True},
    {"sci_mode": False},
    {"precision": 2, "sci_mode": True},
    {"threshold": 5},
    {"threshold": 5, "edgeitems": 1},
    {"threshold": 5, "edgeitems": 0},
    {"edgeitems": 0},
    {"linewidth": 20},
    {"linewidth": 200},
    {"linewidth": 1},
    {"profile": "full"},
    {"profile": "short"},
    {"profile": "short", "precision": 6},
    {"profile": "full", "threshold": 10},
]

OPTION_VALUES = {
    "scalar": 3.14159,
    "scalar_int": 2.0,
    "vec": [1.123456789, -22.5, 0.001],
    "vec_int": [1.0, -20.0, 300.0],
    "vec_sci": [1e-5, 3.0, 1e9],
    "vec_nonfinite": [nan, inf, 0.0, -0.0],
    "zeros": np.zeros(4),
    "mat": np.arange(30.0).reshape(5, 6) / 7,
    "cube": np.arange(60.0).reshape(3, 4, 5) - 30,
    "big": np.linspace(-3, 3, 2000).reshape(2, 10, 100),
    "long": np.arange(1500.0),
    "empty": np.zeros((0, 4)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int64", "int16", "bool"])
@pytest.mark.parametrize("values", OPTION_VALUES.values(), ids=OPTION_VALUES.keys())
@pytest.mark.parametrize(
    "options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items())
)
def test_printoptions(options, values, dtype):
    set_both(**options)
    assert ts.get_printoptions() == torch._tensor_str.get_printoptions()
    check(values, dtype)
    if dtype.startswith(("float", "bfloat")):
        check_grad(values, dtype)


def test_printoptions_roundtrip():
    set_both(precision=3, threshold=50, edgeitems=2, linewidth=60, sci_mode=True)
    saved = ts.get_printoptions()
    assert saved == torch._tensor_str.get_printoptions()
    ts.set_printoptions(profile="default")
    assert ts.get_printoptions()["precision"] == 4
    assert ts.get_printoptions()["sci_mode"] is None
    ts.set_printoptions(**saved)
    assert ts.get_printoptions() == saved


# ---------------------------------------------------------------- property tests


@st.composite
def float_values(draw, shape):
    """A float64 array whose values share one regime, so every format mode comes up."""
    regime = draw(st.sampled_from(["int", "unit", "wide", "tiny", "huge", "special", "any"]))
    elements = {
        "int": st.integers(-2000, 2000).map(float),
        "unit": st.floats(-10, 10),
        "wide": st.floats(-1e6, 1e6),
        "tiny": st.floats(-1e-3, 1e-3),
        "huge": st.floats(-1e30, 1e30),
        "special": st.sampled_from([0.0, -0.0, nan, inf, -inf, 1.0, -1.0, 0.5, 1e-4, 1e8]),
        "any": st.floats(allow_nan=True, allow_infinity=True, width=64),
    }[regime]
    # Sprinkle in non-finite values and zeros without changing the regime.
    elements = st.one_of(elements, elements, elements, st.sampled_from([0.0, -0.0, nan, inf]))
    return draw(hnp.arrays(np.float64, shape, elements=elements))


@st.composite
def arrays_and_dtype(draw):
    dtype = draw(st.sampled_from(list(NP_DTYPES)))
    shape = draw(
        st.one_of(
            hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
            st.tuples(st.integers(990, 1010)),
            st.sampled_from([(1001, 1), (2, 501), (10, 101), (4, 5, 50), (3, 3, 3, 40)]),
        )
    )
    if dtype in FLOAT_DTYPES:
        values = draw(float_values(shape))
    elif dtype == "bool":
        values = draw(hnp.arrays(np.bool_, shape))
    else:
        info = np.iinfo(NP_DTYPES[dtype])
        lo, hi = draw(st.sampled_from([(int(info.min), int(info.max)), (-9, 9), (0, 120)]))
        lo = max(lo, int(info.min))
        values = draw(hnp.arrays(NP_DTYPES[dtype], shape, elements=st.integers(lo, hi)))
    return values, dtype


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays_and_dtype())
def test_random_arrays(case):
    values, dtype = case
    check(values, dtype)
    if dtype in FLOAT_DTYPES:
        check_grad(values, dtype)


printoption_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "precision": st.integers(0, 10),
        "threshold": st.sampled_from([0, 1, 5, 20, 100, 1000, math.inf]),
        "edgeitems": st.integers(0, 4),
        "linewidth": st.integers(1, 160),
        "sci_mode": st.sampled_from([None, True, False]),
        "profile": st.sampled_from(["default", "short", "full"]),
    },
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(arrays_and_dtype(), printoption_kwargs)
def test_random_arrays_with_printoptions(case, options):
    values, dtype = case
    set_both(profile="default")
    set_both(**options)
    try:
        check(values, dtype)
        if dtype in FLOAT_DTYPES:
            check_grad(values, dtype)
    finally:
        set_both(profile="default")


def test_qualified_grad_fn_name():
    """A C++ node's ``name()`` is ``torch::autograd::CopySlices``; the repr prints CopySlices."""
    a = torch.ones(3, requires_grad=True)
    b = a * 2
    b[0] = 5
    arr = np.array([5.0, 2.0, 2.0], np.float32)
    assert tape_repr(arr, b, grad_fn_name=b.grad_fn.name()) == torch_repr(b)
