"""NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum and torch's momentum decay."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tape.optim._args import defaults_of
from tape.optim.adam import AdamFamily, adam_hyper
from tape.optim.optimizer import Part, hyper_float, per_parameter, zero_state

_KEYS = ("step", "mu_product", "exp_avg", "exp_avg_sq")


def torch_nadam(h: dict[str, float]) -> Part:
    """torch's NAdam step, lr included (custom: optax's ``nadam`` has no momentum decay and keeps
    one step count per group). Scalars in float64 as torch computes them in Python:

        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)); mu_product *= mu_t
        m = lerp(m, g, 1 - beta1); v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p += -lr * ((1 - mu_t) / (1 - mu_product) * g + mu_{t+1} / (1 - mu_product * mu_{t+1}) * m)
             / denom
    """
    lr, beta1, beta2, eps = h["lr"], h["beta1"], h["beta2"], h["eps"]
    momentum_decay = h["momentum_decay"]

    def mu_at(t):
        return beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))

    def rule(g, p, st):
        dt = g.dtype
        step = st["step"] + 1
        t = step.astype(jnp.float64)
        mu, mu_next = mu_at(t), mu_at(t + 1)
        mu_product = st["mu_product"] * mu.astype(st["mu_product"].dtype)
        m = st["exp_avg"] + (1 - beta1) * (g - st["exp_avg"])
        v = st["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
        denom = jnp.sqrt(v / (1 - beta2**t).astype(dt)) + eps
        mp = mu_product.astype(jnp.float64)
        g_scale = (-lr * (1.0 - mu) / (1.0 - mp)).astype(dt)
        m_scale = (-lr * mu_next / (1.0 - mp * mu_next)).astype(dt)
        new = {"step": step, "mu_product": mu_product, "exp_avg": m, "exp_avg_sq": v}
        return g_scale * g / denom + m_scale * m / denom, new

    return per_parameter(_KEYS, rule)


class NAdam(AdamFamily):
    """NAdam. optax pieces: ``scale(-1)`` (maximize), ``add_decayed_weights`` (L2 weight decay),
    the custom ``torch_nadam`` above, and for decoupled decay ``add_decayed_weights(-lr * wd)``
    after it."""

    _scalar_state = ("step", "mu_product")
    _own_param_writes = 2  # torch: two addcdiv_, for the momentum and the gradient terms
    _non_negative = ("weight_decay", "momentum_decay")
    _step = staticmethod(torch_nadam)

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, defaults_of(locals()))

    def _hyper(self, group) -> dict[str, float]:
        return {**adam_hyper(group), "momentum_decay": hyper_float(group["momentum_decay"])}

    def _state_init(self, p, group):
        state = zero_state(p, "exp_avg", "exp_avg_sq")
        step = state.pop("step")
        return {"step": step, "mu_product": np.ones_like(step), **state}
