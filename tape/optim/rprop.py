"""Rprop (``torch.optim.Rprop``): resilient backpropagation, a custom optax piece."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tape.optim._args import check_value
from tape.optim.optimizer import (
    Optimizer,
    Part,
    grad_prelude,
    hyper_float,
    per_parameter,
    step_zeros,
)


def torch_rprop(h: dict[str, float]) -> Part:
    """torch's Rprop step (optax's ``scale_by_rprop`` keeps no ``step`` and rounds otherwise):
    each element's step size grows by ``etaplus`` while its gradient keeps its sign and shrinks
    by ``etaminus`` when it flips, within ``step_sizes``; after a flip that element rests a step
    (its gradient is taken as 0).

        s = sign(g * prev); size = clamp(size * eta(s), lo, hi); g = 0 where s < 0
        p -= sign(g) * size; prev = g
    """

    def rule(g, p, st):
        s = jnp.sign(g * st["prev"])
        eta = jnp.where(s > 0, h["etaplus"], jnp.where(s < 0, h["etaminus"], 1.0)).astype(g.dtype)
        size = jnp.clip(st["step_size"] * eta, h["step_size_min"], h["step_size_max"])
        g = jnp.where(s < 0, jnp.zeros_like(g), g)
        return -jnp.sign(g) * size, {"step": st["step"] + 1, "prev": g, "step_size": size}

    return per_parameter(("step", "prev", "step_size"), rule)


class Rprop(Optimizer):
    """Rprop. optax pieces: ``scale(-1)`` (maximize) and the custom ``torch_rprop``. ``lr`` is
    each element's first step size, as in torch: changing it later changes nothing."""

    _state_writes = {"step_size": 2}  # torch: step_size.mul_(sign factors).clamp_(...)

    def __init__(
        self,
        params,
        lr=1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach=None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_value(0.0 <= lr, f"Invalid learning rate: {lr}")
        check_value(0.0 < etas[0] < 1.0 < etas[1], f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {  # torch's order, which param_groups and state_dict() show
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _static(self, group) -> tuple:
        return (bool(group["maximize"]),)

    def _hyper(self, group) -> dict[str, float]:
        (etaminus, etaplus), (lo, hi) = group["etas"], group["step_sizes"]
        return {
            "etaminus": hyper_float(etaminus),
            "etaplus": hyper_float(etaplus),
            "step_size_min": hyper_float(lo),
            "step_size_max": hyper_float(hi),
        }

    def _state_init(self, p, group):
        return {
            "step": step_zeros([p])[0],
            "prev": np.zeros(tuple(p.shape), p.dtype.np),
            "step_size": np.full(tuple(p.shape), group["lr"], p.dtype.np),
        }

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        (maximize,) = static
        return [*grad_prelude(maximize, False, hyper), torch_rprop(hyper)]
