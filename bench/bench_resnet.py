"""ResNet18 train step: tape vs torch eager vs stock Flax linen under jax.jit, in one process.

Step: forward, ``(out - labels).sum().backward()``, SGD(lr=1e-2, momentum=0.9). Interleaved
rounds (bench/_harness.py). Also B=1 (the tutorial's shape) and the time to the first step.

    python bench/bench_resnet.py [--batch 16] [--size 64] [--rounds 5] [--device cuda]

``--device cuda`` (or ``TAPE_BENCH_DEVICE=cuda``) moves tape's and torch's model and data to the
GPU with ``.to('cuda')`` and puts the Flax step's data and state on JAX's first GPU (tape keeps
JAX's default device on the CPU, so they must be placed explicitly). Each timed run ends with
``torch.cuda.synchronize()`` / ``jax.block_until_ready``; every step also returns its loss as a
Python float, which waits for it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import compare, device_option, device_waits, jax_device, report  # noqa: E402


def _sgd_step(lib, model, batch: int, size: int, device: str = "cpu", compiled: bool = False):
    """The train step, written once for tape and torch (``lib``): SGD on random data.
    ``compiled`` runs it under ``tape.compile``."""
    model = model.to(device)
    opt = lib.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    data = lib.rand(batch, 3, size, size).to(device)
    labels = lib.rand(batch, 1000).to(device)

    def train():
        opt.zero_grad()
        loss = (model(data) - labels).sum()
        loss.backward()
        opt.step()
        return loss

    run = lib.compile(train) if compiled else train
    return lambda: run().item()


def tape_step(batch: int, size: int, device: str = "cpu", compiled: bool = False):
    import models
    import tape
    import tape.optim

    tape.manual_seed(0)
    return _sgd_step(tape, models.resnet18(), batch, size, device, compiled)


def torch_step(batch: int, size: int, device: str = "cpu"):
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tests"))
    from test_models import RefResNet

    torch.manual_seed(0)
    return _sgd_step(torch, RefResNet(), batch, size, device)


def flax_step(batch: int, size: int, stock: bool = True, device: str = "cpu"):
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    from models import flax_resnet as F
    from tape.nn.flax_adapter import _torch_batchnorm

    net = F.StockResNet18() if stock else F.ResNet18()
    x = jnp.asarray(np.random.default_rng(0).random((batch, size, size, 3), np.float32))
    labels = jnp.asarray(np.random.default_rng(1).random((batch, 1000), np.float32))
    variables = net.init(jax.random.PRNGKey(0), x, train=False)
    tx = optax.sgd(1e-2, momentum=0.9)
    state = [variables["params"], variables["batch_stats"], tx.init(variables["params"])]
    if device != "cpu":
        # Committed to the GPU, so the jitted step (which closes over x and labels) runs there.
        x, labels, state = jax.device_put((x, labels, state), jax_device(device))

    @jax.jit
    def train(params, stats, opt_state):
        def loss_fn(p):
            # The same model as tape's: torch's BatchNorm statistics (as tape's adapter runs it).
            with contextlib.ExitStack() as stack:
                if not stock:
                    stack.enter_context(nn.intercept_methods(_torch_batchnorm))
                out, upd = net.apply(
                    {"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
                )
            return (out - labels).sum(), upd["batch_stats"]

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), stats, opt_state, loss

    def step():
        p, s, o, loss = train(*state)
        state[:] = [p, s, o]
        return float(loss)

    return step


def first_step(make, *args) -> float:
    t = time.perf_counter()
    step = make(*args)
    step()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--no-stock", action="store_true", help="skip stock Flax (slow)")
    device_option(ap)
    ap.add_argument("--number", type=int, default=None, help="steps per timed run")
    args = ap.parse_args([] if argv is None and __name__ != "__main__" else argv)
    dev = args.device

    t_first = first_step(tape_step, args.batch, args.size, dev)
    print(f"tape on {dev}: build + first step {t_first:.2f} s (JAX cache: {_cache_state()})")
    on = "" if dev == "cpu" else f" on {dev}"
    rows = []
    for batch, number in ((args.batch, 2), (1, 5)):
        work = {
            "torch eager": torch_step(batch, args.size, dev),
            "tape": tape_step(batch, args.size, dev),
            "tape.compile": tape_step(batch, args.size, dev, compiled=True),
            "jax jit (same model)": flax_step(batch, args.size, stock=False, device=dev),
        }
        if not args.no_stock:
            work["stock flax jit"] = flax_step(batch, args.size, stock=True, device=dev)
        syncs = device_waits(dev, work)
        medians = compare(
            work, number=args.number or number, rounds=args.rounds, warmup=3, syncs=syncs
        )
        rows += report(f"ResNet18 train step B={batch} 3x{args.size}x{args.size}{on}", medians)
        if "stock flax jit" in medians:
            print(f"  stock Flax over tape: {medians['stock flax jit'] / medians['tape']:.2f}x")
    print("\n".join(rows))
    return rows


def _cache_state() -> str:
    import jax

    d = jax.config.jax_compilation_cache_dir
    return f"persistent at {d}" if d else "cold (no persistent cache)"


if __name__ == "__main__":
    main()
