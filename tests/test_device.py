"""Devices behave like torch's on a machine without a GPU (CI has none): same reprs, same moves,
same errors. Each case is one expression run under both libraries."""

import subprocess
import sys

import pytest
import torch

import tape

CASES = [
    "repr(lib.device('cpu'))",
    "str(lib.device('cuda:1'))",
    "repr(lib.device('cuda', 0))",
    "lib.device('cuda:0') == lib.device('cuda', 0)",
    "lib.device('cpu') == 'cpu'",
    "str(lib.ones(2).device)",
    "str(lib.ones(2).to('cpu').device)",
    "str(lib.ones(2).cpu().device)",
    "str(lib.zeros(2, device='cpu').device)",
    "str(lib.tensor([1.0], device=lib.device('cpu')).device)",
    "lib.ones(2).is_cuda",
    "lib.cuda.is_available()",
    "lib.cuda.device_count()",
    "lib.ones(2).to('cpu', lib.float64).dtype == lib.float64",
    "lib.ones(2).to(device='cpu', dtype=lib.int32).dtype == lib.int32",
]

ERRORS = [
    "lib.ones(2).cuda()",
    "lib.ones(2).to('cuda')",
    "lib.ones(2).to('cuda:0')",
    "lib.zeros(2, device='cuda')",
    "lib.device('tpu')",
]


def _run(expr, lib):
    return eval(expr, {"lib": lib})


@pytest.mark.parametrize("expr", CASES)
def test_device_matches_torch(expr):
    assert _run(expr, tape) == _run(expr, torch)


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch only raises these without a GPU")
@pytest.mark.parametrize("expr", ERRORS)
def test_device_errors_match_torch(expr):
    with pytest.raises(Exception) as expected:
        _run(expr, torch)
    with pytest.raises(type(expected.value)) as got:
        _run(expr, tape)
    assert str(got.value).split(":")[0] == str(expected.value).split(":")[0]


def test_moving_keeps_the_graph():
    x = tape.ones(3, requires_grad=True)
    y = x.to("cpu", tape.float64)
    assert y.grad_fn.name() == "ToCopyBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


# A handler registered between JAX's import and tape's runs right after tape's at exit, and
# sees whether the program still running when the script ended has finished by then.
EXIT_CHILD = """
import atexit, jax, jax.numpy as jnp
atexit.register(lambda: print("ready" if out.is_ready() else "running"))
import tape
step = jax.jit(lambda x: [x := jnp.tanh(x @ x) for _ in range(40)][-1])
x = jnp.ones((512, 512))
step(x).block_until_ready()  # compiled now, so the next call is only dispatched
out = step(x)
"""


def test_exit_waits_for_running_programs():
    """A script ending while XLA still runs its last step (one ending in ``opt.step()``) may
    crash in JAX's teardown: tape waits for every running program first."""
    done = subprocess.run(
        [sys.executable, "-c", EXIT_CHILD], check=True, capture_output=True, text=True
    )
    assert done.stdout.split() == ["ready"]
