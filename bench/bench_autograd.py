"""Core autograd overhead: the seed's Q-step and a 100-op elementwise chain, each with backward.

Runs tape, PyTorch eager and plain JAX in one process, interleaved, and prints tape/torch.
    python -m bench.bench_autograd [--device cuda]

Each call waits for the gradient it returns, so on a GPU a step is charged for its device work.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import torch

import tape
from bench._harness import compare, device_option, jax_device, report, waited


def _q(a, b, lib):
    q = 3 * a**3 - b**2
    q.backward(gradient=lib.tensor([1.0, 1.0], device=a.device))


def q_step(lib, device: str = "cpu", compiled: bool = False):
    """The seed's step; ``compiled`` runs its autograd part under ``tape.compile``."""
    body = tape.compile(_q) if compiled else _q

    def step():
        a = lib.tensor([2.0, 3.0], requires_grad=True, device=device)
        b = lib.tensor([6.0, 4.0], requires_grad=True, device=device)
        body(a, b, lib)
        return a.grad

    return waited(step)


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


def chain_step(lib, data, device: str = "cpu", compiled: bool = False):
    body = tape.compile(_chain_backward) if compiled else _chain_backward

    def step():
        x = lib.tensor(data, requires_grad=True, device=device)
        body(x)
        return x.grad

    return waited(step)


def jax_q(device: str = "cpu"):
    f = jax.jit(jax.grad(lambda a, b: jnp.vdot(3 * a**3 - b**2, jnp.ones(2)), argnums=(0, 1)))
    # Already on the device: plain JAX is the floor, so it is not charged for the transfer.
    a, b = jax.device_put((np.float32([2.0, 3.0]), np.float32([6.0, 4.0])), jax_device(device))
    return waited(lambda: f(a, b))


def jax_chain(data, device: str = "cpu"):
    f = jax.jit(jax.grad(lambda x: _chain(x).sum()))
    data = jax.device_put(data, jax_device(device))
    return waited(lambda: f(data))


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser()
    device_option(ap)
    dev = ap.parse_args([] if argv is None and __name__ != "__main__" else argv).device
    on = "" if dev == "cpu" else f" on {dev}"
    data = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    rows = report(
        f"Q-step{on}",
        compare(
            {
                "tape": q_step(tape, dev),
                "tape.compile": q_step(tape, dev, compiled=True),
                "torch eager": q_step(torch, dev),
                "jax jit(grad)": jax_q(dev),
            },
            number=200,
        ),
    )
    rows += report(
        f"100-op chain{on}",
        compare(
            {
                "tape": chain_step(tape, data, dev),
                "tape.compile": chain_step(tape, data, dev, compiled=True),
                "torch eager": chain_step(torch, data, dev),
                "jax jit(grad)": jax_chain(data, dev),
            },
            number=20,
        ),
    )
    return rows


if __name__ == "__main__":
    main()
