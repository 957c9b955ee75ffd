"""ASGD (``torch.optim.ASGD``): averaged SGD, a custom optax piece (optax has no ASGD)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tape.optim._args import check_non_negative, defaults_of
from tape.optim.optimizer import (
    Optimizer,
    Part,
    _scalar_dtype,
    grad_prelude,
    per_parameter,
    step_zeros,
)


def torch_asgd(h: dict[str, float]) -> Part:
    """torch's ASGD step for one parameter, with its per-parameter ``eta`` (this step's rate)
    and ``mu`` (the averaging weight), which torch computes in Python floats (here float64):

        p = p * (1 - lambd * eta) - eta * g
        ax = p if mu == 1 else ax + (p - ax) * mu
        eta = lr / (1 + lambd * lr * step) ** alpha; mu = 1 / max(1, step - t0)
    """

    def rule(g, p, st):
        step = st["step"] + 1
        t = step.astype(jnp.float64)
        eta = st["eta"].astype(jnp.float64)
        update = (-h["lambd"] * eta).astype(p.dtype) * p - eta.astype(p.dtype) * g
        new_p = (p + update).astype(p.dtype)  # as the update is applied (optimizer._group_update)
        mu = st["mu"].astype(p.dtype)
        ax = jnp.where(mu != 1, st["ax"] + (new_p - st["ax"]) * mu, new_p)
        return update, {
            "step": step,
            "eta": h["lr"] / (1 + h["lambd"] * h["lr"] * t) ** h["alpha"],
            "mu": 1 / jnp.maximum(1.0, t - h["t0"]),
            "ax": ax,
        }

    return per_parameter(("step", "eta", "mu", "ax"), rule)


class ASGD(Optimizer):
    """ASGD. optax pieces: ``scale(-1)`` (maximize), ``add_decayed_weights`` and the custom
    ``torch_asgd``. ``state['ax']`` holds the running average of each parameter."""

    _hyper_keys = ("lr", "lambd", "alpha", "t0", "weight_decay")
    _own_param_writes = 2  # torch: p.mul_(1 - lambd * eta), then p.add_(g, alpha=-eta)
    _scalar_state = ("step", "eta", "mu")

    def __init__(
        self,
        params,
        lr=1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach=None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = defaults_of(locals())
        check_non_negative(lr=lr, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _static(self, group) -> tuple:
        return (bool(group["maximize"]), group["weight_decay"] != 0)

    def _state_init(self, p, group):
        return {
            "step": step_zeros([p])[0],
            "eta": np.full((), group["lr"], _scalar_dtype()),
            "mu": np.ones((), _scalar_dtype()),
            "ax": np.zeros(tuple(p.shape), p.dtype.np),
        }

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        maximize, decay = static
        return [*grad_prelude(maximize, decay, hyper), torch_asgd(hyper)]
