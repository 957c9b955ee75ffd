"""Every convolution and pooling shape of ResNet18 (B=16, 3x64x64 input), forward plus
backward, under tape (the lowering ``tape.nn._conv_lowering.use_im2col`` picks for the shape,
named in each title), PyTorch eager and plain
``lax.conv_general_dilated`` / ``reduce_window`` under ``jax.jit``, in one process.

    python -m bench.bench_layers
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import torch

import tape
from bench._harness import compare, report
from tape.nn import _conv_lowering as lowering

B = 16
# (name, in channels, out channels, kernel, stride, padding, input size)
CONVS = [
    ("conv1 7x7/2", 3, 64, 7, 2, 3, 64),
    ("layer1 3x3", 64, 64, 3, 1, 1, 16),
    ("layer2 3x3/2", 64, 128, 3, 2, 1, 16),
    ("layer2 3x3", 128, 128, 3, 1, 1, 8),
    ("layer2 down 1x1/2", 64, 128, 1, 2, 0, 16),
    ("layer3 3x3/2", 128, 256, 3, 2, 1, 8),
    ("layer3 3x3", 256, 256, 3, 1, 1, 4),
    ("layer3 down 1x1/2", 128, 256, 1, 2, 0, 8),
    ("layer4 3x3/2", 256, 512, 3, 2, 1, 4),
    ("layer4 3x3", 512, 512, 3, 1, 1, 2),
    ("layer4 down 1x1/2", 256, 512, 1, 2, 0, 4),
]


def _conv_lib(lib, x, w, stride, pad):
    def step():
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        lib.nn.functional.conv2d(xt, wt, stride=stride, padding=pad).sum().backward()
        return wt.grad

    return step


def _conv_jax(x, w, stride, pad):
    def loss(x, w):
        return jax.lax.conv_general_dilated(
            x, w, (stride, stride), ((pad, pad), (pad, pad)),
            dimension_numbers=("NCHW", "OIHW", "NCHW"),
        ).sum()  # fmt: skip

    # The loss too, as tape and torch compute it: jax.grad alone lets XLA drop the forward.
    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    return lambda: jax.block_until_ready(f(x, w))


def _pool_lib(lib, x):
    def step():
        xt = lib.tensor(x, requires_grad=True)
        lib.nn.functional.max_pool2d(xt, 3, 2, 1).sum().backward()
        return xt.grad

    return step


def _pool_jax(x):
    def loss(x):
        return jax.lax.reduce_window(
            x, -jnp.inf, jax.lax.max, (1, 1, 3, 3), (1, 1, 2, 2), ((0, 0), (0, 0), (1, 1), (1, 1))
        ).sum()

    f = jax.jit(jax.value_and_grad(loss))
    return lambda: jax.block_until_ready(f(x))


def _blocked(step):
    return lambda: jax.block_until_ready(step()._storage.array)


def main() -> list[str]:
    rng = np.random.default_rng(0)
    rows = []
    for name, cin, cout, k, stride, pad, size in CONVS:
        x = rng.standard_normal((B, cin, size, size)).astype(np.float32)
        w = (rng.standard_normal((cout, cin, k, k)) * 0.05).astype(np.float32)
        medians = compare(
            {
                "tape": _blocked(_conv_lib(tape, x, w, stride, pad)),
                "torch eager": _conv_lib(torch, x, w, stride, pad),
                "jax lax.conv": _conv_jax(x, w, stride, pad),
            },
            number=5,
            rounds=5,
        )
        out = lowering.conv_out(size, k, stride, pad, pad)
        im2col = lowering.use_im2col((k, k), (out, out), in_channels=cin)
        picked = "im2col" if im2col else "lax.conv"
        rows += report(f"{name} {cin}->{cout} @{size}x{size} (tape: {picked})", medians)
    x = rng.standard_normal((B, 64, 32, 32)).astype(np.float32)
    medians = compare(
        {"tape": _blocked(_pool_lib(tape, x)), "torch eager": _pool_lib(torch, x),
         "jax reduce_window": _pool_jax(x)},
        number=5,
        rounds=5,
    )  # fmt: skip
    rows += report("maxpool 3x3/2 64ch @32x32", medians)
    return rows


if __name__ == "__main__":
    main()
