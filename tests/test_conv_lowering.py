"""Every convolution layer shape of torchvision's ResNet18/34/50 (3x64x64 input), and the
short-patch first layers of small CNNs, lowered by ``tape.nn._conv_lowering`` in both layouts,
against torch: forward, input and kernel gradients. Their one pooling shape too."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import tape
from tape.nn import _conv_lowering as lowering


def resnet_conv_shapes(blocks: tuple[int, ...], bottleneck: bool, size: int) -> list[tuple]:
    """(in channels, out channels, kernel, stride, padding, input size) of each conv, in order."""
    out = [(3, 64, 7, 2, 3, size)]
    s = (size - 1) // 2 + 1  # conv1 7x7/2
    s = (s - 1) // 2 + 1  # maxpool 3x3/2
    cin = 64
    for i, n in enumerate(blocks):
        w = 64 * 2**i
        cout = 4 * w if bottleneck else w
        for j in range(n):
            st = 2 if i > 0 and j == 0 else 1
            so = (s - 1) // st + 1
            if bottleneck:  # v1.5: the stride sits on the 3x3
                out += [(cin, w, 1, 1, 0, s), (w, w, 3, st, 1, s), (w, cout, 1, 1, 0, so)]
            else:
                out += [(cin, w, 3, st, 1, s), (w, w, 3, 1, 1, so)]
            if st != 1 or cin != cout:
                out.append((cin, cout, 1, st, 0, s))
            cin, s = cout, so
    return out


SHAPES = sorted(
    set(
        resnet_conv_shapes((2, 2, 2, 2), False, 64)
        + resnet_conv_shapes((3, 4, 6, 3), False, 64)
        + resnet_conv_shapes((3, 4, 6, 3), True, 64)
    )
)


# First layers over 1-4 channels (MNIST, CIFAR): short patches, which im2col lowers.
SMALL_CNN_SHAPES = [(1, 16, 3, 1, 1, 28), (2, 16, 5, 1, 2, 28), (3, 32, 3, 1, 1, 32)]


def test_shape_list_is_resnet():
    assert len(resnet_conv_shapes((2, 2, 2, 2), False, 64)) == 20  # ResNet18's 20 convs
    assert len(resnet_conv_shapes((3, 4, 6, 3), True, 64)) == 53  # ResNet50's 53
    assert len(SHAPES) == 29


def _torch_conv(x, w, g, stride, pad):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, stride=stride, padding=pad)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


@jax.jit(static_argnames=("stride", "pad"))
def _both_layouts(x, w, g, stride, pad):
    """Forward and VJP with NCHW and with NHWC activations (OIHW kernel in both), all results
    in torch's layout."""
    strides, pads = (stride, stride), ((pad, pad), (pad, pad))

    def nchw(x, w):
        return lowering.conv2d(x, w, strides, pads, layout="NCHW")

    def nhwc(x, w):
        y = lowering.conv2d(x.transpose(0, 2, 3, 1), w, strides, pads)
        return y.transpose(0, 3, 1, 2)

    out = []
    for f in (nchw, nhwc):
        y, vjp = jax.vjp(f, x, w)
        out.append((y, *vjp(g)))
    return out


@pytest.mark.parametrize("cin,cout,k,stride,pad,size", SHAPES + SMALL_CNN_SHAPES)
def test_resnet_conv_shape_matches_torch(cin, cout, k, stride, pad, size):
    rng = np.random.default_rng(0)
    o = (size + 2 * pad - k) // stride + 1
    x = rng.standard_normal((2, cin, size, size)).astype(np.float32)
    w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
    g = rng.standard_normal((2, cout, o, o)).astype(np.float32)
    want = _torch_conv(x, w, g, stride, pad)
    for got in _both_layouts(jnp.asarray(x), jnp.asarray(w), jnp.asarray(g), stride, pad):
        for a, b in zip(got, want, strict=True):
            scale = float(np.abs(b).max())
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize(
    "kernel,out_hw,im2col",
    [((1, 1), (32, 32), True), ((3, 3), (2, 2), True), ((3, 3), (4, 4), True),
     ((3, 3), (8, 8), False), ((7, 7), (32, 32), False)],
)  # fmt: skip
def test_rule(kernel, out_hw, im2col):
    assert lowering.use_im2col(kernel, out_hw) is im2col
    assert not lowering.use_im2col(kernel, out_hw, groups=2)


@pytest.mark.parametrize(
    "cin,kernel,im2col",
    [(1, (3, 3), True), (4, (3, 3), True), (2, (5, 5), True), (8, (3, 3), False),
     (3, (7, 7), False), (64, (3, 3), False)],
)  # fmt: skip
def test_rule_for_short_patches(cin, kernel, im2col):
    assert lowering.use_im2col(kernel, (28, 28), in_channels=cin) is im2col


def test_functional_conv2d_uses_the_lowering():
    """``tape.nn.functional.conv2d`` on a small-output (im2col) and a large-output shape."""
    rng = np.random.default_rng(1)
    for size, stride in ((4, 2), (16, 1)):
        x = rng.standard_normal((2, 8, size, size)).astype(np.float32)
        w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
        xt, wt = tape.tensor(x, requires_grad=True), tape.tensor(w, requires_grad=True)
        tape.nn.functional.conv2d(xt, wt, stride=stride, padding=1).sum().backward()
        xr, wr = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        torch.nn.functional.conv2d(xr, wr, stride=stride, padding=1).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(wt.grad.numpy(), wr.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_resnet_stem_maxpool_matches_torch_in_both_layouts():
    """The one pooling shape of ResNet18/34/50 (3x3/2 after the 7x7/2 stem, 32x32 at 3x64x64),
    with ties (a relu'd input), through the Flax stem's NHWC pool and ``F.max_pool2d``'s NCHW:
    values, and gradients reaching the element torch picks."""
    from models.flax_resnet import max_pool

    rng = np.random.default_rng(2)
    x = np.maximum(rng.standard_normal((2, 64, 32, 32)), 0).astype(np.float32)
    g = rng.standard_normal((2, 64, 16, 16)).astype(np.float32)
    xr = torch.tensor(x, requires_grad=True)
    want = torch.nn.functional.max_pool2d(xr, 3, 2, 1)
    want.backward(torch.tensor(g))

    y, vjp = jax.vjp(max_pool, jnp.asarray(x.transpose(0, 2, 3, 1)))
    (gx,) = vjp(jnp.asarray(g.transpose(0, 2, 3, 1)))
    np.testing.assert_array_equal(np.asarray(y).transpose(0, 3, 1, 2), want.detach().numpy())
    # Overlapping windows sum into shared elements in another order: last-bit differences only.
    np.testing.assert_allclose(np.asarray(gx).transpose(0, 3, 1, 2), xr.grad.numpy(), atol=1e-5)

    xt = tape.tensor(x, requires_grad=True)
    out = tape.nn.functional.max_pool2d(xt, 3, 2, 1)
    out.backward(tape.tensor(g))
    np.testing.assert_array_equal(out.detach().numpy(), want.detach().numpy())
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), atol=1e-5)
