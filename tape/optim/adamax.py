"""Adamax (``torch.optim.Adamax``)."""

from __future__ import annotations

import jax.numpy as jnp

from tape.optim._args import defaults_of
from tape.optim.adam import AdamFamily
from tape.optim.optimizer import Part, per_parameter


def torch_adamax(h: dict[str, float]) -> Part:
    """torch's Adamax step, lr included (custom: ``optax.scale_by_adamax`` keeps one step count
    per group where torch keeps one per parameter):

        m = lerp(m, g, 1 - beta1); u = max(beta2 * u, |g| + eps)
        p += -(lr / (1 - beta1**t)) * m / u
    """
    lr, beta1, beta2, eps = h["lr"], h["beta1"], h["beta2"], h["eps"]

    def rule(g, p, st):
        step = st["step"] + 1
        m = st["exp_avg"] + (1 - beta1) * (g - st["exp_avg"])
        u = jnp.maximum(st["exp_inf"] * beta2, jnp.abs(g) + eps)
        clr = (lr / (1 - beta1 ** step.astype(jnp.float64))).astype(g.dtype)
        return -clr * (m / u), {"step": step, "exp_avg": m, "exp_inf": u}

    return per_parameter(("step", "exp_avg", "exp_inf"), rule)


class Adamax(AdamFamily):
    """Adamax, Adam with the infinity norm. optax pieces: ``scale(-1)`` (maximize),
    ``add_decayed_weights`` (weight decay into the gradient), the custom ``torch_adamax``."""

    _moments = ("exp_avg", "exp_inf")
    _state_writes = {"exp_inf": 2}
    _step = staticmethod(torch_adamax)

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach=None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        super().__init__(params, defaults_of(locals()))
