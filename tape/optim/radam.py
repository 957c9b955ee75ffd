"""RAdam (``torch.optim.RAdam``): Adam with the variance rectification term."""

from __future__ import annotations

import jax.numpy as jnp

from tape.optim._args import defaults_of
from tape.optim.adam import AdamFamily
from tape.optim.optimizer import Part, per_parameter


def torch_radam(h: dict[str, float]) -> Part:
    """torch's RAdam step, lr included (custom: ``optax.scale_by_radam`` keeps one step count per
    group). With ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``:

        m_hat = m / (1 - beta1**t)
        p += -lr * m_hat * rect * sqrt(1 - beta2**t) / (sqrt(v) + eps)   if rho_t > 5
        p += -lr * m_hat                                                  otherwise
    """
    lr, beta1, beta2, eps = h["lr"], h["beta1"], h["beta2"], h["eps"]

    def rule(g, p, st):
        dt = g.dtype
        step = st["step"] + 1
        t = step.astype(jnp.float64)
        m = st["exp_avg"] + (1 - beta1) * (g - st["exp_avg"])
        v = st["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
        bc2 = 1 - beta2**t
        m_hat = m / (1 - beta1**t).astype(dt)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bc2
        rectified = rho_t > 5.0
        rect_sq = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        rect = jnp.sqrt(jnp.where(rectified, rect_sq, 1.0)).astype(dt)
        adaptive = jnp.sqrt(bc2).astype(dt) / (jnp.sqrt(v) + eps)
        plain = m_hat * lr
        update = jnp.where(rectified, plain * adaptive * rect, plain)
        return -update, {"step": step, "exp_avg": m, "exp_avg_sq": v}

    return per_parameter(("step", "exp_avg", "exp_avg_sq"), rule)


class RAdam(AdamFamily):
    """RAdam. optax pieces: ``scale(-1)`` (maximize), ``add_decayed_weights`` (L2 weight decay),
    the custom ``torch_radam`` above, and for decoupled decay ``add_decayed_weights(-lr * wd)``
    after it."""

    _moments = ("exp_avg", "exp_avg_sq")
    _step = staticmethod(torch_radam)

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, defaults_of(locals()))
