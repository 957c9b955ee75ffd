"""``tape.func`` (``torch.func``): ``functional_call`` only; the JAX-style transforms (``grad``,
``vmap``, ``jacrev``) are not in tape (``tape.autograd.functional`` has the Jacobian products)."""

from __future__ import annotations

from tape.nn.utils.stateless import _functional_call


def functional_call(
    module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False
):
    """``module(*args, **kwargs)`` with the given parameters and buffers (one dict, or several
    whose keys do not overlap) in place of its own, restored afterwards."""
    return _functional_call(
        module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict
    )
