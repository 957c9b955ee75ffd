"""ResNet in Flax linen, in the style of flax ``examples/imagenet/models.py``: conv, norm and pool
are passed in as partials, so the same code builds the stock-Flax network (``flax.linen.Conv``,
``flax.linen.max_pool``) and the one tape runs (``Conv`` and ``max_pool`` below, which avoid XLA
CPU's slow paths; see ../shared/DESIGN.md §3).

Layout NHWC/HWIO. Padding is explicit (``'SAME'`` with stride 2 is asymmetric and breaks parity
with torch). BatchNorm is torch's: momentum 0.9 here is torch's 0.1, eps 1e-5, two-pass variance,
and torch's backward formula.
Blocks follow torchvision (ResNet v1.5: the Bottleneck's stride sits on its 3x3 conv).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from tape.nn import _conv_lowering as lowering
from tape.nn._batch_norm import batch_norm_train
from tape.ops.elementwise import torch_relu

ModuleDef = Any

# torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"), a plain (untruncated) normal.
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")
# The same for a kernel held in torch's OIHW layout.
torch_conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal", in_axis=1, out_axis=0)


def conv2d(x, weight, strides=(1, 1), padding=((0, 0), (0, 0))):
    """NHWC x OIHW convolution, lowered per shape by tape's rule (im2col plus one dot where XLA
    CPU's convolution is slow, else XLA's; see ``tape.nn._conv_lowering``)."""
    return lowering.conv2d(x, weight, tuple(strides), padding, layout="NHWC")


class Conv(nn.Module):
    """A drop-in for ``flax.linen.Conv`` (2-D, explicit padding, no groups or dilation) that
    lowers through :func:`conv2d`. Its kernel is ``weight`` in torch's OIHW layout, so tape
    hands it over as it is: no transpose of the kernel or of its gradient in a step."""

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] = (1, 1)
    padding: Sequence[tuple[int, int]] = ((0, 0), (0, 0))
    use_bias: bool = True
    kernel_init: Callable = torch_conv_init
    bias_init: Callable = nn.initializers.zeros_init()
    param_dtype: Any = jnp.float32  # not JAX's default float, which is float64 under tape

    @nn.compact
    def __call__(self, x):
        kh, kw = self.kernel_size
        shape = (self.features, x.shape[-1], kh, kw)
        weight = self.param("weight", self.kernel_init, shape, self.param_dtype)
        dtype = jnp.result_type(x, weight)
        y = conv2d(x.astype(dtype), weight.astype(dtype), tuple(self.strides), self.padding)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            y = y + bias.astype(dtype)
        return y


def max_pool(x, window_shape=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1))):
    """Max pooling over shifted strided slices (XLA CPU's ``select_and_scatter`` backward is
    slow); the maximum, and so the gradient, is the element torch picks."""
    out_hw = tuple(
        lowering.conv_out(x.shape[1 + a], window_shape[a], strides[a], *padding[a])
        for a in range(2)
    )
    xp = jnp.pad(x, ((0, 0), *padding, (0, 0)), constant_values=-jnp.inf)
    return lowering.window_max(xp, window_shape, strides, (1, 1), out_hw, (1, 2))


class BatchNorm(nn.BatchNorm):
    """``flax.linen.BatchNorm`` whose training-mode gradient is torch's formula
    (``tape.nn._batch_norm``) rather than JAX's derivative of the statistics. Named
    ``BatchNorm`` so that Flax names its instances ``BatchNorm_0``, ... as it names the stock
    module's (``models.resnet`` maps those names to torchvision's)."""

    @nn.compact
    def __call__(self, x, use_running_average=None, *, mask=None):
        use_ra = nn.merge_param(
            "use_running_average", self.use_running_average, use_running_average
        )
        stock = (
            self.axis not in (-1, x.ndim - 1)
            or self.axis_name is not None
            or mask is not None
            or self.dtype is not None
            or jnp.dtype(x.dtype).itemsize < 4  # Flax reduces half floats in float32
        )
        if use_ra or stock or self.use_fast_variance or self.is_initializing():
            return super().__call__(x, use_running_average, mask=mask)
        c = x.shape[-1]
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (c,), jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
        pd = self.param_dtype
        scale = self.param("scale", self.scale_init, (c,), pd) if self.use_scale else None
        bias = self.param("bias", self.bias_init, (c,), pd) if self.use_bias else None
        y, mean, var = batch_norm_train(x, scale, bias, self.epsilon, x.ndim - 1)
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
        ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        return y


# torch's BatchNorm2d defaults, in Flax terms.
_TORCH_BN = {"momentum": 0.9, "epsilon": 1e-5, "use_fast_variance": False}
TorchBatchNorm = partial(BatchNorm, **_TORCH_BN)
StockBatchNorm = partial(nn.BatchNorm, **_TORCH_BN)
TorchConv = partial(Conv, use_bias=False)
StockConv = partial(nn.Conv, use_bias=False, kernel_init=conv_init)
_P1 = ((1, 1), (1, 1))
_P0 = ((0, 0), (0, 0))


class Stem(nn.Module):
    """conv1 (7x7, stride 2) - bn1 - relu - maxpool (3x3, stride 2)."""

    conv: ModuleDef = TorchConv
    norm: ModuleDef = TorchBatchNorm
    pool: Callable = max_pool
    num_filters: int = 64
    act: Callable = torch_relu

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = self.conv(self.num_filters, (7, 7), strides=(2, 2), padding=((3, 3), (3, 3)))(x)
        x = self.norm(use_running_average=not train)(x)
        x = self.act(x)
        return self.pool(x, window_shape=(3, 3), strides=(2, 2), padding=_P1)


class _Block(nn.Module):
    """The fields torchvision's two blocks share."""

    filters: int
    strides: tuple[int, int] = (1, 1)
    conv: ModuleDef = TorchConv
    norm: ModuleDef = TorchBatchNorm
    zero_init_residual: bool = False
    act: Callable = torch_relu


def _block_norms(block: _Block, train: bool):
    """A block's norm, and the init of its last norm's scale (zeros under zero_init_residual)."""
    last_init = nn.initializers.zeros if block.zero_init_residual else nn.initializers.ones
    return partial(block.norm, use_running_average=not train), last_init


def _add_shortcut(block: _Block, x, y, norm):
    """``relu(shortcut + y)``; a 1x1 conv + norm projects ``x`` where its shape is not ``y``'s."""
    if x.shape != y.shape:
        x = block.conv(y.shape[-1], (1, 1), strides=block.strides, padding=_P0, name="conv_proj")(x)
        x = norm(name="norm_proj")(x)
    return block.act(x + y)


class BasicBlock(_Block):
    """torchvision's BasicBlock: two 3x3 convs; a 1x1 conv + norm projects the shortcut."""

    @nn.compact
    def __call__(self, x, train: bool = True):
        norm, last_init = _block_norms(self, train)
        y = self.conv(self.filters, (3, 3), strides=self.strides, padding=_P1)(x)
        y = self.act(norm()(y))
        y = self.conv(self.filters, (3, 3), strides=(1, 1), padding=_P1)(y)
        y = norm(scale_init=last_init)(y)
        return _add_shortcut(self, x, y, norm)


class Bottleneck(_Block):
    """torchvision's Bottleneck (v1.5): 1x1, 3x3 (strided), 1x1 to 4x the width."""

    expansion: int = 4

    @nn.compact
    def __call__(self, x, train: bool = True):
        norm, last_init = _block_norms(self, train)
        y = self.act(norm()(self.conv(self.filters, (1, 1), strides=(1, 1), padding=_P0)(x)))
        y = self.conv(self.filters, (3, 3), strides=self.strides, padding=_P1)(y)
        y = self.act(norm()(y))
        y = self.conv(self.filters * self.expansion, (1, 1), strides=(1, 1), padding=_P0)(y)
        y = norm(scale_init=last_init)(y)
        return _add_shortcut(self, x, y, norm)


class ResNet(nn.Module):
    """The whole network in Flax (NHWC in, logits out): what the stock-Flax benchmark runs."""

    stage_sizes: Sequence[int]
    block_cls: ModuleDef
    num_classes: int = 1000
    num_filters: int = 64
    conv: ModuleDef = TorchConv
    norm: ModuleDef = TorchBatchNorm
    pool: Callable = max_pool
    act: Callable = torch_relu

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = Stem(self.conv, self.norm, self.pool, self.num_filters, self.act)(x, train)
        for i, n in enumerate(self.stage_sizes):
            for j in range(n):
                strides = (2, 2) if i > 0 and j == 0 else (1, 1)
                x = self.block_cls(
                    self.num_filters * 2**i, strides, conv=self.conv, norm=self.norm, act=self.act
                )(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes)(x)


ResNet18 = partial(ResNet, stage_sizes=(2, 2, 2, 2), block_cls=BasicBlock)
ResNet34 = partial(ResNet, stage_sizes=(3, 4, 6, 3), block_cls=BasicBlock)
ResNet50 = partial(ResNet, stage_sizes=(3, 4, 6, 3), block_cls=Bottleneck)
# Stock Flax: flax.linen.Conv, max_pool and relu, no lowering fixes.
StockResNet18 = partial(
    ResNet18, conv=StockConv, norm=StockBatchNorm, pool=nn.max_pool, act=nn.relu
)

# Flax submodule names -> torchvision's.
STEM_NAMES = {"Conv_0": "conv1", "BatchNorm_0": "bn1"}
BLOCK_NAMES = {
    "Conv_0": "conv1",
    "BatchNorm_0": "bn1",
    "Conv_1": "conv2",
    "BatchNorm_1": "bn2",
    "Conv_2": "conv3",
    "BatchNorm_2": "bn3",
    "conv_proj": "downsample.0",
    "norm_proj": "downsample.1",
}

__all__ = [
    "Conv",
    "conv2d",
    "max_pool",
    "Stem",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "StockResNet18",
    "STEM_NAMES",
    "BLOCK_NAMES",
]
