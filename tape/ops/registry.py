"""The op table: every op is registered here once, by name, and gets a front-end function.

>>> exp = unary("exp", jnp.exp, "ExpBackward0", promote=FLOAT, saves="output")
>>> tape.exp(x)   # the same function is also bound as Tensor.exp
"""

from __future__ import annotations

from collections.abc import Callable

from tape._dispatch import COMPARE, FLOAT, NONE, SAME, Op, dispatch

__all__ = ["OPS", "register", "unary", "binary", "NONE", "SAME", "FLOAT", "COMPARE", "dispatch"]

OPS: dict[str, Op] = {}


def register(
    name: str,
    fwd: Callable,
    grad_fn: str | None,
    promote: int = NONE,
    saves: str = "inputs",
    remat: bool = True,
    source: bytes | None = None,
) -> Op:
    """Add an op to the table; the name must be new. ``remat=False`` for costly ops (matmul,
    conv) whose outputs a compiled backward should take as inputs rather than recompute;
    ``source`` keys their stored programs without tracing ``fwd`` (``tape._dispatch.Op``)."""
    if name in OPS:
        raise ValueError(f"op {name!r} is registered twice")
    op = OPS[name] = Op(name, fwd, grad_fn, promote, saves, remat, source)
    return op


def unary(
    name: str, fwd: Callable, grad_fn: str | None, promote: int = SAME, saves: str = "inputs"
) -> Callable:
    """Register a one-tensor op and return its front end ``f(input)``."""
    op = register(name, fwd, grad_fn, promote, saves)

    def front(input):
        return dispatch(op, (input,))

    front.__name__ = front.__qualname__ = name
    front.__doc__ = f"torch.{name}, computed by ``{getattr(fwd, '__name__', name)}`` in JAX."
    return front


def binary(
    name: str, fwd: Callable, grad_fn: str | None, promote: int = SAME, saves: str = "inputs"
) -> Callable:
    """Register a two-operand op (tensor or Python scalar) and return ``f(input, other)``."""
    op = register(name, fwd, grad_fn, promote, saves)

    def front(input, other):
        return dispatch(op, (input, other))

    front.__name__ = front.__qualname__ = name
    front.__doc__ = f"torch.{name}, elementwise with broadcasting and torch's type promotion."
    return front
