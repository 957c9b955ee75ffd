"""torch-differential tests for ``F.grid_sample`` and ``F.affine_grid`` (tape.nn._grid_sample).

Every row of the table runs the same call on torch and on tape with the same inputs and
compares the output (values, dtype, shape), ``grad_fn``'s name, the warnings, and the gradient
of every input that requires grad under the same random cotangent; error rows compare the
exception's type and message.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_same, assert_same_error

import tape

LIBS = {
    "tape": (tape, tape.nn.functional.grid_sample, tape.nn.functional.affine_grid),
    "torch": (torch, TF.grid_sample, TF.affine_grid),
}
TOL = {
    "float32": (1e-4, 1e-5),
    "float64": (1e-9, 1e-12),
    "float16": (1e-2, 2e-2),
    "bfloat16": (2e-2, 5e-2),
}


@dataclass(frozen=True)
class Case:
    name: str
    op: str  # "sample", "affine", or "stn" (affine_grid then grid_sample)
    shape: tuple  # the input's shape (sample, stn) or theta's (affine)
    grid: tuple | list  # the grid's shape (sample) or affine_grid's size (affine, stn)
    kw: tuple = ()  # (name, value) pairs passed on
    dtype: str = "float32"
    grid_dtype: str | None = None  # None: the input's
    fill: str = "wide"  # how the grid is filled: wide, mixed or nonfinite (_grid)
    grads: str = "both"  # which of input and grid require grad: both, input, grid, none
    error: bool = False


def _grid(rng, case: Case, spatial: tuple) -> np.ndarray:
    """A grid of ``case.grid``'s shape; ``spatial`` are the input's sizes (slowest first)."""
    shape = case.grid
    if case.fill == "wide":  # outside [-1, 1] too, for the padding modes
        return rng.uniform(-1.6, 1.6, shape)
    if case.fill == "nonfinite":  # NaN, infinities and huge values among ordinary ones
        odd = rng.choice([np.nan, np.inf, -np.inf, 1e20, -1e20], shape)
        return np.where(rng.uniform(size=shape) < 0.3, odd, rng.uniform(-1.6, 1.6, shape))
    # "mixed": each coordinate is one of: within or a little outside [-1, 1]; far outside
    # (several reflections); exactly -1 or 1 (the extreme pixels' borders or centres, where
    # torch's gradient of border and reflection padding is zero); half way between two pixels
    # (where nearest rounds half to even; the sizes in GEOMETRY keep these exact)
    align = dict(case.kw).get("align_corners")
    out = np.empty(shape)
    for axis, size in enumerate(spatial[::-1]):  # the grid lists x first
        pixel = np.arange(-1, size) + 0.5
        ties = 2 * pixel / (size - 1) - 1 if align else (2 * pixel + 1) / size - 1
        choices = np.stack(
            [
                rng.uniform(-1.6, 1.6, shape[:-1]),
                rng.uniform(-5, 5, shape[:-1]),
                rng.choice([-1.0, 1.0], shape[:-1]),
                rng.choice(ties, shape[:-1]),
            ]
        )
        pick = rng.choice(4, shape[:-1], p=[0.4, 0.2, 0.2, 0.2])
        out[..., axis] = np.take_along_axis(choices, pick[None], 0)[0]
    return out


def _inputs(case: Case) -> list:
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    first = rng.standard_normal(case.shape)
    if case.op == "sample":
        second = _grid(rng, case, case.shape[2:])
    else:
        second = None
    return [first, second]


def _tensor(lib, arr, dtype: str, grad: bool):
    t = lib.tensor(arr).to(getattr(lib, dtype))
    return t.requires_grad_() if grad else t


def _run(case: Case, name: str):
    """The case's call under ``name``: (output, the tensors that require grad, warnings)."""
    lib, sample, affine = LIBS[name]
    first, second = _inputs(case)
    float_in = case.dtype.startswith(("float", "bfloat"))
    grad_in = case.grads in ("both", "input") and float_in
    x = _tensor(lib, first, case.dtype, grad_in)
    leaves = [x] if grad_in else []
    kw = dict(case.kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if case.op == "sample":
            gdt = case.grid_dtype or case.dtype
            grad_grid = case.grads in ("both", "grid") and gdt.startswith(("float", "bfloat"))
            grid = _tensor(lib, second, gdt, grad_grid)
            leaves += [grid] if grad_grid else []
            out = sample(x, grid, **kw)
        elif case.op == "affine":
            size = lib.Size(case.grid) if kw.pop("as_size", False) else case.grid
            out = affine(x, size, **kw)
        else:  # a spatial transformer: the grid comes from theta
            n = case.grid[0]
            rng = np.random.default_rng(zlib.crc32(case.name.encode()) + 1)
            k = len(case.grid) - 2
            theta = np.eye(k, k + 1) + 0.3 * rng.standard_normal((n, k, k + 1))
            theta = _tensor(lib, theta, case.dtype, True)
            leaves.append(theta)
            out = sample(x, affine(theta, case.grid, **kw), **kw)
    said = [(w.category.__name__, str(w.message), w.filename) for w in caught]
    return out, leaves, said


C, G, A = "sample", "affine", "stn"
BI, NE, BC = (("mode", m) for m in ("bilinear", "nearest", "bicubic"))
ZE, BO, RE = (("padding_mode", p) for p in ("zeros", "border", "reflection"))
AT, AF, AN = (("align_corners", a) for a in (True, False, None))


# Each mode x padding x align_corners is one row, of one geometry and one dtype (float64 and
# float32 in a checkerboard). Sizes where (size - 1) (align_corners=True) or size (False) is a
# power of two keep the grid's half-pixel points exact.
GEOMETRY = {
    (2, True): ((2, 3, 5, 3), (2, 5, 6, 2)),
    (2, False): ((2, 3, 4, 8), (2, 5, 6, 2)),
    (3, True): ((1, 2, 3, 5, 3), (1, 2, 4, 5, 3)),
    (3, False): ((1, 2, 2, 4, 8), (1, 2, 4, 5, 3)),
}


def _modes() -> list:
    rows = []
    for k, modes in ((2, (BI, NE, BC)), (3, (BI, NE))):
        for i, mode in enumerate(modes):
            for j, pad in enumerate((ZE, BO, RE)):
                for align in (AT, AF):
                    dt = "float64" if (i + j + align[1]) % 2 else "float32"
                    shape, grid = GEOMETRY[k, align[1]]
                    name = f"{k}d-{mode[1]}-{pad[1]}-{'ac' if align[1] else 'nac'}"
                    rows.append(Case(name, C, shape, grid, (mode, pad, align), dt, fill="mixed"))
    return rows


CASES = [
    *_modes(),
    # unit spatial axes (align_corners=True reflects them to 0)
    Case("2d-unit-refl-ac", C, (1, 2, 1, 4), (1, 3, 3, 2), (BI, RE, AT), "float64"),
    Case("2d-unit-bicubic", C, (1, 2, 1, 1), (1, 3, 3, 2), (BC, RE, AT), "float64"),
    Case("3d-unit-refl-ac", C, (1, 2, 1, 3, 1), (1, 2, 3, 2, 3), (BI, RE, AT), "float64"),
    # NaN, inf and huge coordinates land where torch's kernels put them
    Case(
        "2d-nonfinite-bilinear",
        C,
        (2, 3, 4, 5),
        (2, 5, 6, 2),
        (BI, BO, AF),
        fill="nonfinite",
        grads="none",
    ),
    Case(
        "2d-nonfinite-nearest",
        C,
        (2, 3, 4, 5),
        (2, 5, 6, 2),
        (NE, RE, AT),
        fill="nonfinite",
        grads="none",
    ),
    Case(
        "2d-nonfinite-bicubic",
        C,
        (2, 3, 4, 5),
        (2, 5, 6, 2),
        (BC, ZE, AF),
        fill="nonfinite",
        grads="none",
    ),
    Case(
        "3d-nonfinite-bilinear",
        C,
        (1, 2, 3, 4, 5),
        (1, 2, 4, 5, 3),
        (BI, RE, AF),
        fill="nonfinite",
        grads="none",
    ),
    Case(
        "3d-nonfinite-nearest",
        C,
        (1, 2, 3, 4, 5),
        (1, 2, 4, 5, 3),
        (NE, BO, AT),
        fill="nonfinite",
        grads="none",
    ),
    # the default align_corners warns (and is False); which inputs require grad
    Case("2d-default", C, (2, 3, 4, 8), (2, 4, 6, 2), (AN,)),
    Case("3d-default", C, (1, 2, 2, 4, 8), (1, 2, 3, 4, 3), (BI, ZE)),
    Case("2d-grad-input", C, (2, 3, 4, 8), (2, 4, 6, 2), (BI, ZE, AF), grads="input"),
    Case("2d-grad-grid", C, (2, 3, 4, 8), (2, 4, 6, 2), (BI, ZE, AF), grads="grid"),
    Case("2d-no-grad", C, (2, 3, 4, 8), (2, 4, 6, 2), (BI, ZE, AF), grads="none"),
    # empty batch, channels and grid; a larger image
    Case("2d-empty-batch", C, (0, 3, 4, 5), (0, 3, 6, 2), (NE, ZE, AF)),
    Case("2d-no-channels", C, (2, 0, 4, 5), (2, 3, 6, 2), (BC, ZE, AF)),
    Case("3d-empty-grid", C, (2, 3, 4, 5, 2), (2, 0, 6, 1, 3), (NE, ZE, AT)),
    Case("2d-large", C, (2, 4, 33, 47), (2, 40, 30, 2), (BI, RE, AF)),
    # half and bfloat16, computed in their own precision as torch does
    Case("2d-half", C, (2, 3, 4, 8), (2, 4, 6, 2), (BI, BO, AF), "float16"),
    Case("2d-bf16-bicubic", C, (2, 3, 5, 3), (2, 4, 6, 2), (BC, ZE, AT), "bfloat16", grads="none"),
    Case("3d-bf16", C, (1, 2, 3, 5, 3), (1, 2, 3, 4, 3), (BI, RE, AT), "bfloat16", grads="none"),
    # affine_grid
    Case("affine-2d-ac", G, (2, 2, 3), (2, 3, 4, 5), (AT,)),
    Case("affine-2d-nac", G, (2, 2, 3), (2, 3, 7, 11), (AF,), "float64"),
    Case("affine-2d-default", G, (3, 2, 3), [3, 1, 5, 4]),
    Case("affine-2d-size", G, (2, 2, 3), (2, 3, 13, 8), (AF, ("as_size", True))),
    Case("affine-2d-unit", G, (2, 2, 3), (2, 3, 1, 6), (AT,)),
    Case("affine-3d-ac", G, (2, 3, 4), (2, 3, 4, 5, 6), (AT,), "float64"),
    Case("affine-3d-nac", G, (2, 3, 4), (2, 1, 3, 7, 5), (AF,)),
    Case("affine-3d-unit", G, (1, 3, 4), (1, 1, 3, 1, 5), (AT,), "float64"),
    Case("affine-no-grad", G, (2, 2, 3), (2, 3, 4, 5), (AF,), grads="none"),
    Case("affine-half", G, (2, 2, 3), (2, 3, 4, 5), (AF,), "float16"),
    # a spatial transformer: gradients reach theta through the grid
    Case("stn-2d", A, (2, 3, 6, 7), (2, 3, 5, 4), (AF,)),
    Case("stn-3d", A, (2, 2, 4, 5, 3), (2, 2, 3, 4, 5), (AT,), "float64"),
]

E = True
ERRORS = [
    Case("bad-mode", C, (2, 3, 4, 5), (2, 3, 6, 2), (("mode", "linear"), AF), error=E),
    Case("bad-padding", C, (2, 3, 4, 5), (2, 3, 6, 2), (("padding_mode", "wrap"),), error=E),
    Case("bicubic-3d", C, (2, 3, 4, 5, 2), (2, 3, 6, 2, 3), (BC, AT), error=E),
    Case("batch", C, (2, 3, 4, 5), (1, 3, 6, 2), (AF,), error=E),
    Case("last-dim", C, (2, 3, 4, 5), (2, 3, 6, 3), (AF,), error=E),
    Case("last-dim-3d", C, (2, 3, 4, 5, 2), (2, 3, 6, 2, 2), (AF,), error=E),
    Case("grid-dims", C, (2, 3, 4, 5), (2, 3, 6, 1, 2), (AF,), error=E),
    Case("input-3-d", C, (2, 3, 4), (2, 3, 1), (AF,), error=E),
    Case("input-6-d", C, (2, 3, 4, 5, 6, 7), (2, 3, 1, 1, 1, 4), (AF,), error=E),
    Case("unbatched", C, (3, 4, 5), (3, 6, 2), (AF,), error=E),
    Case("empty-spatial", C, (2, 3, 4, 0), (2, 3, 6, 2), (AF,), error=E),
    Case("empty-depth", C, (2, 3, 0, 4, 5), (2, 3, 6, 2, 3), (AT,), error=E),
    Case("int-input", C, (2, 3, 4, 5), (2, 3, 6, 2), (AF,), "int64", "float32", error=E),
    Case("int-input-3d", C, (2, 3, 4, 5, 2), (2, 3, 6, 2, 3), (AF,), "int64", error=E),
    Case("mixed-dtypes", C, (2, 3, 4, 5), (2, 3, 6, 2), (AF,), "float32", "float64", error=E),
    Case("mixed-half", C, (2, 3, 4, 5, 2), (2, 1, 6, 2, 3), (AF,), "float16", "float32", error=E),
    Case("affine-int", G, (2, 2, 3), (2, 3, 4, 5), (AF,), "int64", error=E),
    Case("affine-2d-theta", G, (2, 3, 4), (2, 3, 4, 5), (AF,), error=E),
    Case("affine-3d-theta", G, (2, 2, 3), (2, 3, 4, 5, 6), (AF, ("as_size", True)), error=E),
    Case("affine-unbatched", G, (2, 3), (2, 3, 4, 5), (AF,), error=E),
    Case("affine-size-3", G, (2, 2, 3), [2, 3, 4], (AF,), error=E),
    Case("affine-zero-size", G, (2, 2, 3), [2, 3, 0, 5], (AT,), error=E),
    Case("affine-zero-width", G, (2, 2, 3), (2, 3, 1, 0), (AT,), error=E),
    Case("affine-batch", G, (2, 2, 3), (3, 3, 4, 5), (AF,), error=E),
    Case("affine-batch-3d", G, (2, 3, 4), (3, 3, 1, 5, 2), (AT,), error=E),
    Case("affine-align-int", G, (2, 2, 3), (2, 3, 4, 5), (("align_corners", 1),), error=E),
    Case("affine-align-np", G, (2, 2, 3), (2, 3, 4, 5), (("align_corners", np.bool_(1)),), error=E),
    Case("align-int", C, (2, 3, 4, 5), (2, 3, 6, 2), (("align_corners", 1),), error=E),
    Case(
        "align-np-bool", C, (2, 3, 4, 5), (2, 3, 6, 2), (("align_corners", np.bool_(0)),), error=E
    ),
    Case("scalar-input", C, (), (2, 3, 6, 2), (AF,), error=E),
]


def _compare(got, want, rtol: float, atol: float) -> None:
    """assert_same, through float32 for bfloat16 (which torch cannot hand to numpy)."""
    if want.dtype == torch.bfloat16:
        assert got.dtype == tape.bfloat16, got.dtype
        got, want = got.float(), want.float()
    assert_same(got, want, rtol=rtol, atol=atol)


def _grad_name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


@pytest.mark.parametrize("case", CASES + ERRORS, ids=lambda c: c.name)
def test_against_torch(case: Case):
    if case.error:
        assert_same_error(lambda: _run(case, "tape"), lambda: _run(case, "torch"))
        return
    got, got_leaves, got_said = _run(case, "tape")
    want, want_leaves, want_said = _run(case, "torch")
    rtol, atol = TOL[case.dtype]
    assert got_said == want_said
    _compare(got, want, rtol, atol)
    assert _grad_name(got) == _grad_name(want)
    if not want_leaves:
        return
    cot = np.random.default_rng(7).standard_normal(tuple(want.shape))
    got.backward(tape.tensor(cot).to(got.dtype))
    want.backward(torch.tensor(cot).to(want.dtype))
    for g, w in zip(got_leaves, want_leaves, strict=True):
        # a grid's gradient sums terms far larger than itself: scale atol to them
        scale = max(1.0, float(w.grad.abs().max())) if w.grad.numel() else 1.0
        _compare(g.grad, w.grad, rtol, atol * scale)
