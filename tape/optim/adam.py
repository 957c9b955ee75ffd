"""Adam, with torch's bias correction and amsgrad rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from tape.optim._args import check_non_negative, check_value, defaults_of
from tape.optim.optimizer import (
    Optimizer,
    Part,
    grad_prelude,
    hyper_float,
    stateless,
    step_zeros,
    zero_state,
)


def _moment_keys(amsgrad: bool) -> tuple[str, ...]:
    """torch's per-parameter Adam buffers (besides ``step``)."""
    return ("exp_avg", "exp_avg_sq", *(("max_exp_avg_sq",) if amsgrad else ()))


def torch_adam(lr, beta1, beta2, eps, amsgrad: bool) -> Part:
    """torch's Adam step, lr included (custom: ``optax.scale_by_adam`` keeps one step count per
    group where torch keeps one per parameter, and its amsgrad takes the max of the bias-corrected
    second moment where torch takes it of the raw one). Bias corrections are computed in float64
    as torch does in Python, then applied in the parameter's dtype:

        m = lerp(m, g, 1 - beta1); v = beta2 * v + (1 - beta2) * g * g
        p += -(lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """
    import optax

    keys = ("step", *_moment_keys(amsgrad))

    def init(params):
        zeros = [jnp.zeros_like(p) for p in params]
        return {"step": step_zeros(params), **{k: list(zeros) for k in keys[1:]}}

    def update(updates, state, params=None):
        out = {k: [] for k in state}
        new_updates = []
        for i, g in enumerate(updates):
            dt = g.dtype
            step = state["step"][i] + 1
            t = step.astype(jnp.float64)
            m = state["exp_avg"][i]
            m = m + (1 - beta1) * (g - m)
            v = state["exp_avg_sq"][i] * beta2 + (1 - beta2) * g * g
            step_size = (lr / (1 - beta1**t)).astype(dt)
            bc2_sqrt = jnp.sqrt(1 - beta2**t).astype(dt)
            if amsgrad:
                vmax = jnp.maximum(state["max_exp_avg_sq"][i], v)
                out["max_exp_avg_sq"].append(vmax)
            else:
                vmax = v
            denom = jnp.sqrt(vmax) / bc2_sqrt + eps
            new_updates.append(-step_size * (m / denom))
            out["step"].append(step)
            out["exp_avg"].append(m)
            out["exp_avg_sq"].append(v)
        return new_updates, out

    return Part(
        optax.GradientTransformation(init, update),
        pack=lambda states, params: {k: states[k] for k in keys},
        unpack=lambda st: st,
    )


def adam_hyper(group) -> dict[str, float]:
    """lr, beta1, beta2, eps and weight_decay of an Adam-family group."""
    b1, b2 = group["betas"]
    return {
        "lr": hyper_float(group["lr"]),
        "beta1": hyper_float(b1),
        "beta2": hyper_float(b2),
        "eps": hyper_float(group["eps"]),
        "weight_decay": hyper_float(group["weight_decay"]),
    }


def decoupled_decay(h) -> Part:
    """torch's decoupled weight decay ``p *= 1 - lr * weight_decay``, as an update."""
    import optax

    return stateless(optax.add_decayed_weights(-h["lr"] * h["weight_decay"]))


class AdamFamily(Optimizer):
    """Shared by Adam, Adamax, NAdam and RAdam: torch's argument checks, then per step the
    gradient prelude, ``cls._rule(static, hyper)`` (the optimizer's own piece) and decoupled
    weight decay where the group asks for it. ``_moments`` names the state zeroed like each
    parameter; ``_non_negative`` the options checked after the betas."""

    _moments: tuple[str, ...] = ()
    _non_negative: tuple[str, ...] = ("weight_decay",)
    _state_writes = {"exp_avg_sq": 2}  # torch: v.mul_(beta2).addcmul_(g, g, ...)

    def _param_writes(self, group) -> int:
        # decoupled decay first scales the parameter in place: p.mul_(1 - lr * wd)
        decoupled = group["weight_decay"] != 0 and group.get("decoupled_weight_decay", False)
        return self._own_param_writes + bool(decoupled)

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        check_non_negative(lr=defaults["lr"], eps=defaults["eps"])
        betas = defaults["betas"]
        for i in (0, 1):
            check_value(0.0 <= betas[i] < 1.0, f"Invalid beta parameter at index {i}: {betas[i]}")
        check_non_negative(**{k: defaults[k] for k in self._non_negative})
        super().__init__(params, defaults)

    def _static(self, group) -> tuple:
        return (
            bool(group["maximize"]),
            group["weight_decay"] != 0,
            bool(group.get("decoupled_weight_decay", False)),
        )

    def _hyper(self, group) -> dict[str, float]:
        return adam_hyper(group)

    def _state_init(self, p, group):
        return zero_state(p, *self._moments)

    #: The optimizer's own optax piece, built from the group's hyperparameters.
    _step: Callable[[dict[str, float]], Part]

    @classmethod
    def _rule(cls, static, hyper) -> Part:
        return cls._step(hyper)

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        maximize, decay, decoupled = static[:3]
        parts = grad_prelude(maximize, decay and not decoupled, hyper)
        parts.append(cls._rule(static, hyper))
        if decay and decoupled:
            parts.append(decoupled_decay(hyper))
        return parts


class Adam(AdamFamily):
    """Adam (``torch.optim.Adam``); ``decoupled_weight_decay=True`` is AdamW.

    optax pieces: ``scale(-1)`` (maximize), ``add_decayed_weights`` (L2 weight decay into the
    gradient), the custom ``torch_adam`` above, and for decoupled decay
    ``add_decayed_weights(-lr * weight_decay)`` after it (torch's ``p *= 1 - lr * wd``).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused=None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(params, defaults_of(locals()))

    def _static(self, group) -> tuple:
        return (*super()._static(group), bool(group["amsgrad"]))

    def _state_init(self, p, group):
        return zero_state(p, *_moment_keys(group["amsgrad"]))

    @classmethod
    def _rule(cls, static, hyper) -> Part:
        h = hyper
        return torch_adam(h["lr"], h["beta1"], h["beta2"], h["eps"], amsgrad=static[3])
