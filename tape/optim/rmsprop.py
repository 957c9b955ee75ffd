"""RMSprop (``torch.optim.RMSprop``), built from optax's ``scale_by_rms`` / ``scale_by_stddev``."""

from __future__ import annotations

from tape.optim._args import check_non_negative, defaults_of
from tape.optim.optimizer import Optimizer, Part, grad_prelude, stateless, step_counter, zero_state


class RMSprop(Optimizer):
    """RMSprop. optax pieces, all exact for torch's rule: ``scale(-1)`` (maximize),
    ``add_decayed_weights``, ``scale_by_rms`` or (centered) ``scale_by_stddev`` with
    ``eps_in_sqrt=False`` (torch adds eps outside the square root), ``trace`` (momentum: torch's
    buffer starts at zero), ``scale_by_learning_rate``; plus a step counter for ``state['step']``.
    """

    _hyper_keys = ("lr", "alpha", "eps", "weight_decay", "momentum")
    _state_writes = {"square_avg": 2, "momentum_buffer": 2}

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach=None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = defaults_of(locals())
        check_non_negative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        super().__init__(params, defaults)

    def _static(self, group) -> tuple:
        return (
            bool(group["maximize"]),
            group["weight_decay"] != 0,
            bool(group["centered"]),
            group["momentum"] > 0,
        )

    def _state_init(self, p, group):
        momentum = ("momentum_buffer",) if group["momentum"] > 0 else ()
        centered = ("grad_avg",) if group["centered"] else ()
        return zero_state(p, "square_avg", *momentum, *centered)

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        import optax

        maximize, decay, centered, momentum = static
        h = hyper
        parts = [step_counter(), *grad_prelude(maximize, decay, h)]
        if centered:
            parts.append(
                Part(
                    optax.scale_by_stddev(h["alpha"], h["eps"], eps_in_sqrt=False),
                    pack=lambda s, p: optax.ScaleByRStdDevState(
                        mu=s["grad_avg"], nu=s["square_avg"]
                    ),
                    unpack=lambda st: {"grad_avg": st.mu, "square_avg": st.nu},
                )
            )
        else:
            parts.append(
                Part(
                    optax.scale_by_rms(h["alpha"], h["eps"], eps_in_sqrt=False),
                    pack=lambda s, p: optax.ScaleByRmsState(nu=s["square_avg"]),
                    unpack=lambda st: {"square_avg": st.nu},
                )
            )
        if momentum:
            parts.append(
                Part(
                    optax.trace(decay=h["momentum"]),
                    pack=lambda s, p: optax.TraceState(trace=s["momentum_buffer"]),
                    unpack=lambda st: {"momentum_buffer": st.trace},
                )
            )
        parts.append(stateless(optax.scale_by_learning_rate(h["lr"])))
        return parts
