"""Shared op machinery: an ``Op`` record, its jit caches, and ``dispatch`` which runs an op and
records it on the tape.

Every op is one ``Op``: a pure JAX forward, the torch name and the ``grad_fn`` name. The forward
and its VJP are each compiled once per (op, static arguments, promoted dtype); JAX's own cache then
keys on shapes and dtypes. The VJP is ``jax.vjp`` of the forward, traced inside ``jax.jit`` so that
it is never re-traced on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from tape import _dtype
from tape.autograd import grad_mode
from tape.autograd.graph import UNLISTED, Node, accumulator_of, node_class

# How an op picks the dtype it computes in.
NONE = 0  # no promotion: inputs go through as they are
SAME = 1  # torch's type promotion over all tensor and scalar inputs
FLOAT = 2  # like SAME, then integers and bools become the default float dtype
COMPARE = 3  # like SAME; the output is bool


class Op:
    """One registry entry.

    ``fwd(*inputs, **static)`` is a pure JAX function of arrays (and dynamic Python scalars);
    ``static`` holds hashable configuration such as ``dim`` or ``keepdim``.
    ``saves`` says which values torch would save for backward, so that in-place changes to them
    are detected: "inputs", "output", "both" or "none". ``remat`` says the op is cheap enough
    to recompute inside a compiled backward instead of passing its output in.
    """

    __slots__ = (
        "name",
        "fwd",
        "grad_fn",
        "promote",
        "saves",
        "remat",
        "_fwd_cache",
        "_bwd_cache",
        "_node",
    )

    def __init__(
        self,
        name: str,
        fwd: Callable,
        grad_fn: str | None,
        promote: int = NONE,
        saves: str = "inputs",
        remat: bool = True,
    ) -> None:
        self.name = name
        self.remat = remat
        self.fwd = fwd
        self.grad_fn = grad_fn
        self.promote = promote
        self.saves = saves
        self._fwd_cache: dict = {}
        self._bwd_cache: dict = {}
        self._node = node_class(grad_fn) if grad_fn else None

    def __repr__(self) -> str:
        return f"Op({self.name!r}, grad_fn={self.grad_fn!r})"

    def pure(self, static: tuple, cast) -> Callable:
        """The forward with static arguments bound and inputs cast to the compute dtype."""
        kwargs = dict(static)
        fwd = self.fwd
        if cast is None:
            return lambda *xs: fwd(*xs, **kwargs)
        return lambda *xs: fwd(*(x if x is None else jnp.asarray(x, cast) for x in xs), **kwargs)

    def compiled(self, static: tuple, cast) -> Callable:
        key = (static, cast)
        fn = self._fwd_cache.get(key)
        if fn is None:
            fn = self._fwd_cache[key] = jax.jit(self.pure(static, cast))
        return fn

    def compiled_vjp(self, static: tuple, cast, diff: tuple, float_outs: tuple | None) -> Callable:
        """``bwd(inputs, cotangents) -> grads of inputs[diff]``, compiled once per key.

        ``float_outs`` is None for single-output ops, else the indices of the outputs that
        carry gradient (integer outputs such as argmax indices do not).
        """
        key = (static, cast, diff, float_outs)
        fn = self._bwd_cache.get(key)
        if fn is None:
            fn = self._bwd_cache[key] = jax.jit(
                _make_vjp(self.pure(static, cast), diff, float_outs)
            )
        return fn


def _make_vjp(pure: Callable, diff: tuple, float_outs: tuple | None) -> Callable:
    def bwd(inputs, cotangents):
        def of_diff(*d):
            full = list(inputs)
            for i, v in zip(diff, d, strict=True):
                full[i] = v
            out = pure(*full)
            return out if float_outs is None else tuple(out[i] for i in float_outs)

        out, vjp = jax.vjp(of_diff, *(inputs[i] for i in diff))
        if float_outs is not None:
            cotangents = tuple(
                jnp.zeros_like(o) if c is None else c for o, c in zip(out, cotangents, strict=True)
            )
        return vjp(cotangents)

    return bwd


_Tensor = None  # set by tape.tensor, which imports this module


def _bind_tensor(cls) -> None:
    global _Tensor
    _Tensor = cls


_promotions: dict = {}


def promote(args: tuple, mode: int):
    """The numpy dtype an op computes in, by torch's rules (cached by the argument kinds)."""
    Tensor = _Tensor
    key = [mode]
    for a in args:
        if isinstance(a, Tensor):
            array = a._storage.array
            key.append(array.dtype)
            key.append(array.ndim == 0)
        else:
            key.append(type(a))
    key = tuple(key)
    d = _promotions.get(key)
    if d is None:
        d = _promotions[key] = _promote_slow(args, mode)
    return d


def _promote_slow(args: tuple, mode: int):
    Tensor = _Tensor
    dims, zeros, scalars = [], [], []
    for a in args:
        if isinstance(a, Tensor):
            (dims if a._storage.array.ndim else zeros).append(a.dtype)
        elif a is not None:
            scalars.append(_dtype.scalar_rank(a))
    d = _dtype.result_type(dims, zeros, scalars)
    if mode == FLOAT and not d.is_floating_point:
        d = _dtype.get_default_dtype()
    return d.np


def dispatch(op: Op, args: tuple, static: tuple = ()):
    """Run ``op`` on ``args`` (Tensors and Python scalars) and record it when grad is on.

    Returns a Tensor, or a tuple of Tensors for multi-output ops.
    """
    Tensor = _Tensor
    arrays = []
    needs_grad = False
    for a in args:
        if isinstance(a, Tensor):
            arrays.append(a._storage.array)
            if a._requires_grad:
                needs_grad = True
        else:
            arrays.append(a)
    cast = promote(args, op.promote) if op.promote else None
    fn = op._fwd_cache.get((static, cast))
    if fn is None:
        fn = op.compiled(static, cast)
    try:
        out = fn(*arrays)
    except (ValueError, TypeError) as error:
        _raise_broadcast_error(arrays, error)
        raise
    if needs_grad and op._node is not None and grad_mode.state.enabled:
        return record(op, args, static, cast, out)
    if type(out) is tuple:
        return tuple(Tensor._wrap(o) for o in out)
    return Tensor._wrap(out)


def _raise_broadcast_error(arrays, error: Exception) -> None:
    """torch's RuntimeError when tensor shapes do not broadcast (JAX raises ValueError)."""
    shapes = [a.shape for a in arrays if hasattr(a, "shape") and a.ndim]
    for i, a in enumerate(shapes):
        for b in shapes[i + 1 :]:
            for k in range(1, min(len(a), len(b)) + 1):
                if a[-k] != b[-k] and 1 not in (a[-k], b[-k]):
                    raise RuntimeError(
                        f"The size of tensor a ({a[-k]}) must match the size of tensor b "
                        f"({b[-k]}) at non-singleton dimension {max(len(a), len(b)) - k}"
                    ) from error


def record(op: Op, args: tuple, static: tuple, cast, out):
    """Wrap the forward result in Tensors whose ``grad_fn`` is a new node for ``op``."""
    Tensor = _Tensor
    node: Node = op._node()
    edges = []
    for a in args:
        if isinstance(a, Tensor) and a._requires_grad:
            fn = a._grad_fn
            edges.append((fn, a._output_nr) if fn is not None else (accumulator_of(a), 0))
        elif isinstance(a, Tensor) and a._storage.array.dtype.kind in "biu":
            edges.append(UNLISTED)
        else:
            edges.append(_NO_EDGE)
    node.op = op
    node.static = static
    node.cast = cast
    node.inputs = args
    node.edges = tuple(edges)
    if type(out) is tuple:
        outs = tuple(Tensor._wrap(o, node, i, True) for i, o in enumerate(out))
        node.out_meta = tuple((o.shape, o.dtype) for o in out)
        node.float_outs = tuple(i for i, t in enumerate(outs) if t._requires_grad)
    else:
        outs = Tensor._wrap(out, node, 0, True)
        node.out_meta = ((out.shape, out.dtype),)
        node.float_outs = None
    # Versions of what torch would save, so that a later in-place change is caught in backward.
    saves = op.saves
    if saves != "none":
        saved = []
        if saves != "output":
            for t in args:
                if isinstance(t, Tensor):
                    saved.append((t, t._storage, t._storage.version))
        if saves != "inputs":
            for t in outs if type(outs) is tuple else (outs,):
                saved.append((None, t._storage, t._storage.version))
        node._saved = tuple(saved)
    return outs


_NO_EDGE = (None, 0)
