"""The seed tutorials' code, run under tape and under torch, must print the same thing.

Each snippet is the tutorial's code with only ``import torch`` removed: it is exec'd with ``torch``
bound to either ``tape`` or ``torch``. Random inputs agree because ``tape.manual_seed`` drives a
torch-identical generator, so both runs call ``manual_seed(0)`` first and use the tutorials'
``rand``/``randn`` calls unchanged.

Notebook seeds (002) run cell by cell like Jupyter: a cell ending in an expression displays its
``repr``, and an exception ends the cell and prints ``TypeName: first line of message``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import pathlib
import sys
import warnings

import pytest
import torch
from conftest import normalize

import tape

# The snippets live beside the notebooks that are built from them.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "notebooks"))
from seeds import SEED_000, SEED_001, SEED_002, SEED_003  # noqa: E402

SEEDS = {"000": SEED_000, "001": SEED_001, "002": SEED_002, "003": SEED_003}


def run_cells(cells: list[str], module) -> str:
    """Exec ``cells`` in one namespace with ``torch`` bound to ``module``; return what they print."""
    module.manual_seed(0)
    ns = {"torch": module, "__name__": "__seed__"}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in cells:
            tree = ast.parse(cell)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            try:
                exec(compile(tree, "<seed>", "exec"), ns)
                if last is not None:
                    value = eval(compile(last, "<seed>", "eval"), ns)
                    if value is not None:
                        print(repr(value))
            except Exception as e:  # noqa: BLE001
                print(f"{type(e).__name__}: {str(e).splitlines()[0]}")
    return buf.getvalue()


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_prints_like_torch(seed):
    got = normalize(run_cells(SEEDS[seed], tape))
    want = normalize(run_cells(SEEDS[seed], torch))
    assert got == want


def test_seed_003_gradients_match_published_values():
    """The published output of 003's Jacobian-product section (no randomness involved)."""
    out = run_cells(SEED_003[-1:], tape)
    assert "First call\ntensor([[4., 2., 2., 2., 2.]," in out
    assert "Second call\ntensor([[8., 4., 4., 4., 4.]," in out
    assert "Call after zeroing gradients\ntensor([[4., 2., 2., 2., 2.]," in out


def test_seed_002_published_grads():
    out = run_cells(SEED_002[:4], tape)
    assert out.strip() == "(tensor([36., 81.]), tensor([-12.,  -8.]))"


def test_seed_003_grad_fn_names():
    out = run_cells(SEED_003[:2], tape)
    assert "Gradient function for z = <AddBackward0 object at 0x" in out
    assert "Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at 0x" in out
