"""Core autograd overhead: the seed's Q-step and a 100-op elementwise chain, each with backward.

Runs tape, PyTorch eager and plain JAX in one process, interleaved, and prints tape/torch.
    python bench/bench_autograd.py
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import torch

import tape
from bench._harness import compare, report


def _q(a, b, lib):
    q = 3 * a**3 - b**2
    q.backward(gradient=lib.tensor([1.0, 1.0]))


def q_step(lib, compiled: bool = False):
    """The seed's step; ``compiled`` runs its autograd part under ``tape.compile``."""
    body = tape.compile(_q) if compiled else _q

    def step():
        a = lib.tensor([2.0, 3.0], requires_grad=True)
        b = lib.tensor([6.0, 4.0], requires_grad=True)
        body(a, b, lib)
        return a.grad

    return step


def _chain(x, n: int = 100):
    for i in range(n):
        k = i % 4
        if k == 0:
            x = x * 1.01
        elif k == 1:
            x = x + 0.1
        elif k == 2:
            x = x.sin() if hasattr(x, "sin") else jnp.sin(x)
        else:
            x = x.tanh() if hasattr(x, "tanh") else jnp.tanh(x)
    return x


def _chain_backward(x):
    _chain(x).sum().backward()


def chain_step(lib, data, compiled: bool = False):
    body = tape.compile(_chain_backward) if compiled else _chain_backward

    def step():
        x = lib.tensor(data, requires_grad=True)
        body(x)
        return x.grad

    return step


def jax_q():
    f = jax.jit(jax.grad(lambda a, b: jnp.vdot(3 * a**3 - b**2, jnp.ones(2)), argnums=(0, 1)))
    a, b = np.array([2.0, 3.0], np.float32), np.array([6.0, 4.0], np.float32)
    return lambda: jax.block_until_ready(f(a, b))


def jax_chain(data):
    f = jax.jit(jax.grad(lambda x: _chain(x).sum()))
    return lambda: f(data).block_until_ready()


def main() -> list[str]:
    data = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    block = lambda f: lambda: jax.block_until_ready(f()._storage.array)  # noqa: E731
    rows = report(
        "Q-step",
        compare(
            {
                "tape": block(q_step(tape)),
                "tape.compile": block(q_step(tape, compiled=True)),
                "torch eager": q_step(torch),
                "jax jit(grad)": jax_q(),
            },
            number=200,
        ),
    )
    rows += report(
        "100-op chain",
        compare(
            {
                "tape": block(chain_step(tape, data)),
                "tape.compile": block(chain_step(tape, data, compiled=True)),
                "torch eager": chain_step(torch, data),
                "jax jit(grad)": jax_chain(data),
            },
            number=20,
        ),
    )
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
