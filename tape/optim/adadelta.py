"""Adadelta (``torch.optim.Adadelta``), built from optax's ``scale_by_adadelta``."""

from __future__ import annotations

from tape.optim._args import check_non_negative, check_value, defaults_of
from tape.optim.optimizer import Optimizer, Part, grad_prelude, stateless, step_counter, zero_state


class Adadelta(Optimizer):
    """Adadelta. optax pieces, exact for torch's rule: ``scale(-1)`` (maximize),
    ``add_decayed_weights``, ``scale_by_adadelta`` (``square_avg`` and ``acc_delta`` are its
    ``e_g`` and ``e_x``), ``scale_by_learning_rate``; plus a step counter for ``state['step']``.
    """

    _hyper_keys = ("lr", "rho", "eps", "weight_decay")
    _state_writes = {"square_avg": 2, "acc_delta": 2}

    def __init__(
        self,
        params,
        lr=1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach=None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = defaults_of(locals())
        check_non_negative(lr=lr)
        check_value(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        check_non_negative(eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _static(self, group) -> tuple:
        return (bool(group["maximize"]), group["weight_decay"] != 0)

    def _state_init(self, p, group):
        return zero_state(p, "square_avg", "acc_delta")

    @classmethod
    def _parts(cls, static, hyper) -> list[Part]:
        import optax

        maximize, decay = static
        h = hyper
        return [
            step_counter(),
            *grad_prelude(maximize, decay, h),
            Part(
                optax.scale_by_adadelta(h["rho"], h["eps"]),
                pack=lambda s, p: optax.ScaleByAdaDeltaState(
                    e_g=s["square_avg"], e_x=s["acc_delta"]
                ),
                unpack=lambda st: {"square_avg": st.e_g, "acc_delta": st.e_x},
            ),
            stateless(optax.scale_by_learning_rate(h["lr"])),
        ]
