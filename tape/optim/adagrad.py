"""Adagrad (``torch.optim.Adagrad``)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tape.optim._args import check_non_negative, defaults_of
from tape.optim.optimizer import Optimizer, Part, grad_prelude, step_zeros


def torch_adagrad(lr, lr_decay, eps) -> Part:
    """torch's Adagrad step, lr included (custom: ``optax.scale_by_rss`` adds eps inside the
    square root and has no lr decay):

        sum += g * g;  p += -(lr / (1 + (t - 1) * lr_decay)) * g / (sqrt(sum) + eps)
    """
    import optax

    def init(params):
        return {
            "step": step_zeros(params),
            "sum": [jnp.zeros_like(p) for p in params],
        }

    def update(updates, state, params=None):
        out = {"step": [], "sum": []}
        new_updates = []
        for g, step, acc in zip(updates, state["step"], state["sum"], strict=True):
            step = step + 1
            clr = (lr / (1 + (step.astype(jnp.float64) - 1) * lr_decay)).astype(g.dtype)
            acc = acc + g * g
            new_updates.append(-clr * (g / (jnp.sqrt(acc) + eps)))
            out["step"].append(step)
            out["sum"].append(acc)
        return new_updates, out

    return Part(
        optax.GradientTransformation(init, update),
        pack=lambda states, params: {"step": states["step"], "sum": states["sum"]},
        unpack=lambda st: st,
    )


class Adagrad(Optimizer):
    """Adagrad. optax pieces: ``scale(-1)`` (maximize), ``add_decayed_weights``, and the custom
    ``torch_adagrad`` above. Like torch, the state is created at construction."""

    _hyper_keys = ("lr", "lr_decay", "eps", "weight_decay")

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach=None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused=None,
    ) -> None:
        defaults = defaults_of(locals())
        check_non_negative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        super().__init__(params, defaults)
        from tape.tensor import Tensor

        for group in self.param_groups:
            for p in group["params"]:
                for k, v in self._state_init(p, group).items():
                    self.state[p][k] = Tensor._wrap(v)

    def _static(self, group) -> tuple:
        return (bool(group["maximize"]), group["weight_decay"] != 0)

    def _state_init(self, p, group):
        return {
            "step": step_zeros([p])[0],
            "sum": np.full(tuple(p.shape), group["initial_accumulator_value"], p.dtype.np),
        }

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        maximize, decay = static
        parts = grad_prelude(maximize, decay, hyper)
        parts.append(torch_adagrad(hyper["lr"], hyper["lr_decay"], hyper["eps"]))
        return parts
