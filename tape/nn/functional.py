"""``tape.nn.functional``: activations and losses as registry ops."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tape.ops import elementwise
from tape.ops.registry import FLOAT, dispatch, register

relu = elementwise.relu
sigmoid = elementwise.sigmoid
tanh = elementwise.tanh

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction: str):
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _bce_logits(x, y, weight, pos_weight, reduction):
    log_sig = jax.nn.log_sigmoid(x)
    log_one_minus = jax.nn.log_sigmoid(-x)
    if pos_weight is None:
        loss = -(y * log_sig + (1 - y) * log_one_minus)
    else:
        loss = -(pos_weight * y * log_sig + (1 - y) * log_one_minus)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


_bce_with_logits = register(
    "binary_cross_entropy_with_logits",
    _bce_logits,
    "BinaryCrossEntropyWithLogitsBackward0",
    FLOAT,
)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """Sigmoid plus binary cross entropy in one numerically stable op."""
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    return dispatch(
        _bce_with_logits, (input, target, weight, pos_weight), (("reduction", reduction),)
    )


_mse = register(
    "mse_loss", lambda x, y, reduction: _reduce((x - y) ** 2, reduction), "MseLossBackward0", FLOAT
)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    _check_reduction(reduction)
    return dispatch(_mse, (input, target), (("reduction", reduction),))
