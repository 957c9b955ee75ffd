"""Training steps on small models: an MLP and a small CNN, each with cross-entropy and SGD with
momentum. tape, PyTorch eager and plain JAX (jax.jit of the whole step) in one process.

    python -m bench.bench_train [--device cuda]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import tape
from bench._harness import compare, device_option, jax_device, report, waited


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


def cnn(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip


def lib_step(lib, build, x, y, device: str = "cpu", compiled: bool = False):
    """The step for ``lib`` (tape or torch); ``compiled`` wraps it in ``tape.compile``."""
    lib.manual_seed(0)
    model = build(lib).to(device)
    opt = lib.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    x, y = lib.tensor(x, device=device), lib.tensor(y, device=device)
    loss_fn = lib.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return waited(lib.compile(step) if compiled else step)


def jax_step(build_params, apply, x, y, device: str = "cpu"):
    params, x, y = jax.device_put((build_params(), x, y), jax_device(device))
    tx = optax.sgd(1e-2, momentum=0.9)
    state = tx.init(params)

    def loss_fn(p):
        logits = apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, loss

    box = [params, state]

    def run():
        box[0], box[1], loss = step(*box)
        return loss

    return waited(run)


def _uniform(key, shape, bound):
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound, dtype=jnp.float32)


def _dense(key, n_in, n_out):
    bound = 1 / np.sqrt(n_in)
    k1, k2 = jax.random.split(key)
    return _uniform(k1, (n_in, n_out), bound), _uniform(k2, (n_out,), bound)


def jax_mlp():
    def build():
        keys = jax.random.split(jax.random.key(0), 3)
        return [_dense(keys[0], 256, 512), _dense(keys[1], 512, 512), _dense(keys[2], 512, 10)]

    def apply(p, x):
        for i, (w, b) in enumerate(p):
            x = x @ w + b
            if i < len(p) - 1:
                x = jax.nn.relu(x)
        return x

    return build, apply


def jax_cnn():
    def conv(key, c_in, c_out):
        bound = 1 / np.sqrt(c_in * 9)
        return jax.random.uniform(
            key, (c_out, c_in, 3, 3), minval=-bound, maxval=bound, dtype=jnp.float32
        )

    def build():
        k = jax.random.split(jax.random.key(0), 3)
        return [conv(k[0], 1, 16), conv(k[1], 16, 32), _dense(k[2], 32 * 7 * 7, 10)]

    def apply(p, x):
        for w in p[:2]:
            x = jax.lax.conv_general_dilated(
                x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW")
            )
            x = jax.nn.relu(x)
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        w, b = p[2]
        return x.reshape(x.shape[0], -1) @ w + b

    return build, apply


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser()
    device_option(ap)
    dev = ap.parse_args([] if argv is None and __name__ != "__main__" else argv).device
    on = "" if dev == "cpu" else f" on {dev}"
    rng = np.random.default_rng(0)
    rows = []
    for title, build, jax_model, x in (
        ("MLP 256-512-512-10, B=64", mlp, jax_mlp(), rng.standard_normal((64, 256))),
        ("small CNN 1x28x28, B=32", cnn, jax_cnn(), rng.standard_normal((32, 1, 28, 28))),
    ):
        x = x.astype(np.float32)
        y = rng.integers(0, 10, x.shape[0])
        medians = compare(
            {
                "tape": lib_step(tape, build, x, y, dev),
                "tape.compile": lib_step(tape, build, x, y, dev, compiled=True),
                "torch eager": lib_step(torch, build, x, y, dev),
                "jax jit(step)": jax_step(*jax_model, x, y, dev),
            },
            number=20,
        )
        rows += report(title + on, medians)
    return rows


if __name__ == "__main__":
    main()
