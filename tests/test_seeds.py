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
import warnings

import pytest
import torch
from conftest import normalize

import tape

# --- 001: "Practice automatic differentiation with autograd" (whole; pseudo-code lines left out).
SEED_001 = [
    """
x = torch.rand(3, 7, requires_grad=True)
print(x)
""",
    """
x = torch.ones(2, 4, requires_grad=True)
print(x)
y = x + 1
print(y)
print(y.grad_fn)
""",
    """
x = torch.rand(4, 3, requires_grad=True)
print(x)
print(x.detach_())
""",
    """
x = torch.rand(4, 3, requires_grad=True)
print(x)
print(x.requires_grad_(False))
""",
    """
real = torch.rand(3, 8)
print(real)
predicted = torch.rand(3, 8, requires_grad=True)
print(predicted)
loss = (predicted - real).pow(2).sum()
with torch.no_grad():
    manual_gradient_predicted = 2.0 * (predicted - real)
print(manual_gradient_predicted)
loss.backward()
auto_gradient_predicted = predicted.grad
print(auto_gradient_predicted)
print(manual_gradient_predicted.eq(auto_gradient_predicted).all())
""",
]

# --- 003: "Automatic Differentiation with torch.autograd" (Learn the Basics), whole.
SEED_003 = [
    """
x = torch.ones(5) # input tensor
y = torch.zeros(3) # expected output
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w)+b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
""",
    """
print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")
""",
    """
loss.backward()
print(w.grad)
print(b.grad)
""",
    """
z = torch.matmul(x, w)+b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w)+b
print(z.requires_grad)
""",
    """
z = torch.matmul(x, w)+b
z_det = z.detach()
print(z_det.requires_grad)
""",
    """
inp = torch.eye(5, requires_grad=True)
out = (inp+1).pow(2)
out.backward(torch.ones_like(inp), retain_graph=True)
print(f"First call\\n{inp.grad}")
out.backward(torch.ones_like(inp), retain_graph=True)
print(f"\\nSecond call\\n{inp.grad}")
inp.grad.zero_()
out.backward(torch.ones_like(inp), retain_graph=True)
print(f"\\nCall after zeroing gradients\\n{inp.grad}")
""",
]

# --- 000: the blitz tutorial's autograd sections (the resnet18 parts are out of scope).
SEED_000 = [
    """
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
""",
    """
Q = 3*a**3 - b**2
""",
    """
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
""",
    """
# check if collected gradients are correct
print(9*a**2 == a.grad)
print(-2*b == b.grad)
""",
    """
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)
a = x + y
print(f"Does `a` require gradients? : {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")
""",
]

# --- 002: the executed notebook, autograd cells in the order they appear (In [18] .. [22]).
SEED_002 = [
    """
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
""",
    "Q = 3*a**3 - b**2",
    "Q.backward(torch.tensor([1, 1]))",
    "a.grad, b.grad",
    # Q's graph was freed by the previous backward: torch raises here, and so must tape.
    "Q.sum().backward()",
    """
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
""",
    """
# check if collected gradients are correct
print(9*a**2 == a.grad)
print(-2*b == b.grad)
""",
    # The notebook's own order: recreate Q, then the cells again (In [19], [11], [12], [14]).
    "Q = 3*a**3 - b**2",
    "Q.backward(torch.tensor([1, 1]), retain_graph=True)",
    "a.grad, b.grad",
    "Q.sum().backward()",
    "a.grad, b.grad",
    """
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)

a = x + y
print(f"Does `a` require gradients? : {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")
""",
]

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
