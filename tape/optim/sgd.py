"""SGD with torch's momentum rule: ``buf = momentum * buf + (1 - dampening) * g``, and
``buf = g`` on a parameter's first step."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tape.optim._args import check_non_negative, defaults_of
from tape.optim.optimizer import Optimizer, Part, grad_prelude, required, stateless


def dampened_trace(momentum, dampening, nesterov: bool) -> Part:
    """torch's momentum with dampening (custom: ``optax.trace`` has no dampening, and torch starts
    the buffer at the first gradient rather than at zero). ``_fresh`` marks parameters whose
    buffer does not exist yet."""
    import optax

    def init(params):
        return ([jnp.zeros_like(p) for p in params], [True for _ in params])

    def update(updates, state, params=None):
        bufs, fresh = state
        new = [
            jnp.where(f, g, b * momentum + g * (1 - dampening))
            for g, b, f in zip(updates, bufs, fresh, strict=True)
        ]
        if nesterov:
            updates = [g + b * momentum for g, b in zip(updates, new, strict=True)]
        else:
            updates = new
        return updates, (new, fresh)

    return Part(
        optax.GradientTransformation(init, update),
        pack=lambda states, params: (states["momentum_buffer"], states["_fresh"]),
        unpack=lambda st: {"momentum_buffer": st[0]},
    )


def _trace(momentum, nesterov: bool) -> Part:
    import optax

    # With zero dampening optax.trace is torch's rule exactly: a zero buffer gives buf = g first.
    return Part(
        optax.trace(decay=momentum, nesterov=nesterov),
        pack=lambda states, params: optax.TraceState(trace=states["momentum_buffer"]),
        unpack=lambda st: {"momentum_buffer": st.trace},
    )


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    optax pieces: ``scale(-1)`` (maximize), ``add_decayed_weights`` (weight_decay), ``trace``
    (momentum without dampening) or a custom dampened trace, ``scale_by_learning_rate``.
    """

    _hyper_keys = ("lr", "momentum", "dampening", "weight_decay")
    _state_writes = {"momentum_buffer": 2}  # torch: buf.mul_(momentum).add_(g)
    _made_by_step = frozenset({"momentum_buffer"})  # torch: buf = clone(g) on the first step

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach=None,
        differentiable: bool = False,
        fused=None,
    ) -> None:
        defaults = defaults_of(locals())
        if lr is not required:
            check_non_negative(lr=lr)
        check_non_negative(momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def _static(self, group) -> tuple:
        return (
            bool(group["maximize"]),
            group["weight_decay"] != 0,
            group["momentum"] != 0,
            group["dampening"] != 0,
            bool(group["nesterov"]),
        )

    def _state_init(self, p, group):
        if group["momentum"] == 0:
            return {}
        return {"momentum_buffer": np.zeros(tuple(p.shape), p.dtype.np)}

    def _extra_state(self, params, states, fresh):
        if "momentum_buffer" in states:
            states = dict(states)
            states["_fresh"] = [np.bool_("momentum_buffer" in f) for f in fresh]
        return states

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        import optax

        maximize, decay, momentum, dampening, nesterov = static
        parts = grad_prelude(maximize, decay, hyper)
        if momentum:
            if dampening:
                parts.append(dampened_trace(hyper["momentum"], hyper["dampening"], nesterov))
            else:
                parts.append(_trace(hyper["momentum"], nesterov))
        parts.append(stateless(optax.scale_by_learning_rate(hyper["lr"])))
        return parts
