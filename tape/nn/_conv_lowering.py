"""How 2-D convolution and pooling are lowered for XLA CPU, chosen per shape (DESIGN.md §3).

XLA CPU's convolution is pathological at small output size and wide channels (a 3x3 conv with a
2x2 output runs 20-50x slower than the same conv as im2col plus one dot), and a 1x1 convolution is
a plain matrix product anyway. Elsewhere (larger outputs) XLA's convolution beats im2col, whose
patch matrix is kh*kw times the input. :func:`use_im2col` is the rule, measured on every layer
shape of ResNet18/34/50; :func:`conv2d` applies it to NHWC (the Flax models) or NCHW
(``tape.nn.functional``) activations. The kernel is torch's OIHW in both: parameters are held in
torch's layout, and transposing a large kernel (and its gradient back) every step costs more than
the convolution at small spatial sizes. Pooling reads shifted strided slices too (:func:`windows`,
:func:`window_max`) instead of XLA's ``reduce_window``, whose ``select_and_scatter`` backward is
slow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp
from jax import lax

Pair = tuple[int, int]
# (lhs, rhs, out) dimension numbers, and where the spatial and channel axes of lhs/out lie.
_LAYOUTS = {
    "NHWC": (("NHWC", "OIHW", "NHWC"), (1, 2), 3),
    "NCHW": (("NCHW", "OIHW", "NCHW"), (2, 3), 1),
}


def conv_out(size: int, k: int, s: int, lo: int, hi: int, d: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis."""
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def use_im2col(kernel: Pair, out_hw: Pair, groups: int = 1, in_channels: int | None = None) -> bool:
    """True where im2col plus one dot beats ``lax.conv_general_dilated`` on XLA CPU.

    Measured forward+backward on every ResNet18/34/50 conv at B=16 and B=1 (3x64x64 input), and
    again for ResNet18 once XLA's own convolution replaced YNNPACK's (``tape/__init__.py``): the
    threshold held. A 1x1 kernel is a matrix product, as fast as XLA's or faster. Otherwise
    im2col from an output of 4x4 down (XLA's slow path: 3x3 convs with a 2x2 output run 9-30x
    torch, im2col 0.5-0.6x); from 8x8 up XLA's convolution is faster or even (0.4-1.0x torch),
    im2col's patch matrix being kh*kw times the input (at 7x7, ResNet18's layer4 at 224, the two
    are within noise). A short patch, ``in_channels * kh * kw`` of at most 50 values (a first
    layer over 1-4 channels), makes a small patch matrix: im2col ran 1.2-1.9x faster there (B=32,
    28x28 and 32x32; even at 54, XLA ahead from 72). Grouped convolutions stay in XLA.
    """
    if groups != 1:
        return False
    kh, kw = kernel
    return (
        (kh, kw) == (1, 1)
        or out_hw[0] * out_hw[1] <= 16
        or (in_channels is not None and in_channels * kh * kw <= 50)
    )


def windows(
    xp: jax.Array, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair, spatial: Pair
) -> Iterator[jax.Array]:
    """For each kernel offset (row-major), the strided slice of padded ``xp`` it reads: an array
    of the output's spatial size. ``spatial`` names the two spatial axes of ``xp``."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            start, limit, strides = [0] * xp.ndim, list(xp.shape), [1] * xp.ndim
            for ax, off, s, o in ((spatial[0], i * dh, sh, oh), (spatial[1], j * dw, sw, ow)):
                start[ax], limit[ax], strides[ax] = off, off + s * (o - 1) + 1, s
            yield lax.slice(xp, start, limit, strides)


def window_max(
    xp: jax.Array,
    kernel: Pair,
    stride: Pair,
    dilation: Pair,
    out_hw: Pair,
    spatial: Pair,
    offsets: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array, jax.Array]:
    """The max of each pooling window of padded ``xp``, taken as torch takes it: the first
    maximum in row-major window order, or the last NaN. With ``offsets``, also the window row
    and column of each maximum.

    Separable: a max along the width, then along the height of those maxima. It picks the same
    element as one scan over all ``kh*kw`` offsets (the earliest row holding the maximum, then
    the earliest column in it; NaN the same way), with ``kh+kw`` slices instead of ``kh*kw``:
    2-3x faster forward and backward on XLA CPU (3x3/2, 64 channels at 32x32, B=16: 3.9 against
    11.9 ms in NCHW, 1.4 against 3.1 ms in NHWC; torch 4.8 ms).
    """
    row, col = spatial
    best, kj, _ = _axis_max(xp, col, kernel[1], stride[1], dilation[1], out_hw[1], offsets)
    best, ki, kj = _axis_max(best, row, kernel[0], stride[0], dilation[0], out_hw[0], offsets, kj)
    return (best, ki, kj) if offsets else best


def _axis_max(x, axis: int, k: int, s: int, d: int, out: int, offsets: bool, carry=None):
    """Max over ``k`` taps along one axis: (max, tap of each max, ``carry`` at that tap)."""
    best = tap = picked = None
    for i in range(k):
        start, limit, strides = [0] * x.ndim, list(x.shape), [1] * x.ndim
        start[axis], limit[axis], strides[axis] = i * d, i * d + s * (out - 1) + 1, s
        v = lax.slice(x, start, limit, strides)
        c = None if carry is None else lax.slice(carry, start, limit, strides)
        if best is None:
            best, picked = v, c
            tap = jnp.zeros(v.shape, jnp.int32) if offsets else None
            continue
        take = (v > best) | jnp.isnan(v)  # strict: an equal later tap does not win
        best = jnp.where(take, v, best)
        if offsets:
            tap = jnp.where(take, i, tap)
            if carry is not None:
                picked = jnp.where(take, c, picked)
    return best, tap, picked


def _im2col(x, w, stride, pads, dilation, out_hw, layout):
    """Convolution as the patch matrix (the shifted slices) times the flattened kernel."""
    _, spatial, _ = _LAYOUTS[layout]
    cfg = [(0, 0)] * x.ndim
    cfg[spatial[0]], cfg[spatial[1]] = pads
    xp = jnp.pad(x, cfg) if any(map(any, pads)) else x
    cols = list(windows(xp, w.shape[2:], stride, dilation, out_hw, spatial))
    # Patch features in OIHW's (c, kh, kw) order, so the kernel is only reshaped: its gradient
    # comes out of the dot in torch's layout too.
    o = w.shape[0]
    if layout == "NHWC":
        cols = (
            cols[0] if len(cols) == 1 else jnp.stack(cols, axis=-1).reshape(*cols[0].shape[:3], -1)
        )
        return lax.dot_general(cols, w.reshape(o, -1), (((3,), (1,)), ((), ())))
    n, (oh, ow) = x.shape[0], out_hw
    cols = jnp.stack(cols, axis=2).reshape(n, -1, oh * ow)
    return jnp.einsum("ok,nkl->nol", w.reshape(o, -1), cols).reshape(n, o, oh, ow)


def conv2d(
    x: jax.Array,
    w: jax.Array,
    stride: Pair,
    pads: Sequence[Pair],
    dilation: Pair = (1, 1),
    groups: int = 1,
    layout: str = "NHWC",
) -> jax.Array:
    """2-D convolution without bias: ``x`` in ``layout`` (NHWC or NCHW), ``w`` in OIHW, explicit
    ``pads`` ((top, bottom), (left, right)), lowered per :func:`use_im2col`."""
    dims, spatial, channel = _LAYOUTS[layout]
    kernel = w.shape[2:]
    out_hw = tuple(
        conv_out(x.shape[a], k, s, *p, d)
        for a, k, s, p, d in zip(spatial, kernel, stride, pads, dilation, strict=True)
    )
    pads = tuple(tuple(p) for p in pads)
    if use_im2col(kernel, out_hw, groups, x.shape[channel]):
        return _im2col(x, w, tuple(stride), pads, tuple(dilation), out_hw, layout)
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=stride,
        padding=pads,
        rhs_dilation=dilation,
        dimension_numbers=dims,
        feature_group_count=groups,
    )
