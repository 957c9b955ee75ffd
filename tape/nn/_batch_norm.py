"""Training-mode batch norm with its gradient written out, shared by ``F.batch_norm`` (NCHW) and
the Flax ResNets' ``BatchNorm`` (NHWC).

JAX's derivative of the two-pass statistics differentiates the mean and the variance each
through their own reductions and elementwise passes. torch's formula needs two sums (of the
gradient, and of the gradient times the normalized input) and one elementwise pass:
``dx = w * rstd * (dy - (sum(dy) + xhat * sum(dy * xhat)) / n)``. On XLA CPU it makes a
ResNet18 train step (B=16, 64x64) 3-5% faster, and one 16x32x32x64 batch norm's forward and
backward 2.7 ms against 3.4 ms.

As in torch's ``native_batch_norm``, the batch statistics it returns carry no gradient: they
only feed the running statistics.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax


def _layout(x, axis: int) -> tuple[tuple, list]:
    """The reduced axes, and the shape that broadcasts a per-channel vector against ``x``."""
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return tuple(i for i in range(x.ndim) if i != axis), shape


def _forward(x, weight, bias, eps: float, axis: int):
    axes, shape = _layout(x, axis)
    mean = jnp.mean(x, axis=axes)
    centered = x - mean.reshape(shape)
    var = jnp.mean(centered * centered, axis=axes)
    rstd = lax.rsqrt(var + eps)
    out = centered * rstd.reshape(shape)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return (out, mean, var), (x, mean, rstd, weight, bias)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def batch_norm_train(x, weight, bias, eps: float, axis: int):
    """``(out, mean, var)``: ``x`` normalized over every axis but ``axis`` (the channels) with
    the batch mean and biased variance, then scaled by ``weight`` and shifted by ``bias`` (either
    may be None).

    >>> out, mean, var = batch_norm_train(x, w, b, 1e-5, 1)  # doctest: +SKIP
    """
    return _forward(x, weight, bias, eps, axis)[0]


def _backward(eps: float, axis: int, residuals, cotangents):
    x, mean, rstd, weight, bias = residuals
    dy = cotangents[0]
    axes, shape = _layout(x, axis)
    n = x.size // x.shape[axis]
    xhat = (x - mean.reshape(shape)) * rstd.reshape(shape)
    sum_dy = jnp.sum(dy, axis=axes)
    sum_dy_xhat = jnp.sum(dy * xhat, axis=axes)
    gain = rstd if weight is None else rstd * weight
    mean_terms = (sum_dy.reshape(shape) + xhat * sum_dy_xhat.reshape(shape)) / n
    dx = gain.reshape(shape) * (dy - mean_terms)
    return (
        dx,
        None if weight is None else sum_dy_xhat,
        None if bias is None else sum_dy,
    )


batch_norm_train.defvjp(_forward, _backward)
