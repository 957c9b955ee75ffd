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

from tape import _dtype, _lazy
from tape._program_store import StoredJit, StoredProgram
from tape._signature_key import op_key
from tape.autograd import grad_mode, graph
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
    are detected: "inputs", "output", "both", "none", "indices" (the last output only, as
    sort's indices), or "partners" (each input only when another input requires grad, as
    products do). ``remat`` says the op is cheap enough
    to recompute inside a compiled backward instead of passing its output in. ``source``, for
    a costly op, is bytes that decide ``fwd`` (``tape._source_key``): its stored programs are
    then found by them, without tracing ``fwd`` (tape._program_store).
    """

    __slots__ = (
        "_avals",
        "name",
        "fwd",
        "grad_fn",
        "promote",
        "saves",
        "remat",
        "source",
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
        source: bytes | None = None,
    ) -> None:
        self.name = name
        self.remat = remat
        self.source = source
        self.fwd = fwd
        self.grad_fn = grad_fn
        self.promote = promote
        self.saves = saves
        self._fwd_cache: dict = {}
        self._avals: dict = {}  # (static, input kinds) -> (its _lazy.Form, output Aval(s))
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
            pure = self.pure(static, cast)
            fn = (
                self._cheap(pure, static, cast)
                if self.remat
                else self._stored(pure, pure, static, cast)
            )
            self._fwd_cache[key] = fn
        return fn

    def compiled_vjp(self, static: tuple, cast, diff: tuple, float_outs: tuple | None) -> Callable:
        """``bwd(inputs, cotangents) -> grads of inputs[diff]``, compiled once per key.

        ``float_outs`` is None for single-output ops, else the indices of the outputs that
        carry gradient (integer outputs such as argmax indices do not).
        """
        key = (static, cast, diff, float_outs)
        fn = self._bwd_cache.get(key)
        if fn is None:
            pure = self.pure(static, cast)
            bwd = _make_vjp(pure, diff, float_outs)
            if self.remat:
                fn = self._cheap(bwd, static, cast, (diff, float_outs))
            else:
                fn = self._stored(bwd, pure, static, cast, (diff, float_outs))
            self._bwd_cache[key] = fn
        return fn

    def _cheap(self, fn: Callable, static: tuple, cast, recipe: tuple | None = None):
        """A cheap op's program: kept on disk too when tape's registry names the op, so that a
        new process's first step loads it instead of tracing and lowering it (lowering the
        first program of a process also sets up MLIR, about 0.1 s)."""
        key = op_key(self, static, cast, recipe)
        return jax.jit(fn) if key is None else StoredProgram(fn, b"op:" + key)

    def _stored(self, fn: Callable, pure: Callable, static: tuple, cast, recipe: tuple = ()):
        """A costly op's program, worth keeping on disk: a new process loads it without
        tracing or lowering (tape._program_store). It is found by the op's ``source`` key when
        it has one, else by the text of its forward's jaxpr."""
        if self.source is not None:
            return StoredProgram(fn, b"op:" + self.source + repr((static, cast, recipe)).encode())
        return StoredJit(fn, pure, (self.name, static, cast), recipe)


def linearize(pure: Callable, inputs, diff: tuple, float_outs: tuple | None):
    """``(outputs, bwd)``: the op's outputs, and ``bwd(cotangents)``, the gradients of
    ``inputs[diff]``, sharing the forward's residuals (inside one traced program, the forward
    is then computed once). ``cotangents`` may hold None for outputs with no gradient."""

    def of_diff(*d):
        full = list(inputs)
        for i, v in zip(diff, d, strict=True):
            full[i] = v
        out = pure(*full)
        return (out if float_outs is None else tuple(out[i] for i in float_outs)), out

    grad_outs, vjp, out = jax.vjp(of_diff, *(inputs[i] for i in diff), has_aux=True)

    def bwd(cotangents):
        if float_outs is not None:
            cotangents = tuple(
                jnp.zeros_like(o) if c is None else c
                for o, c in zip(grad_outs, cotangents, strict=True)
            )
        return vjp(cotangents)

    return out, bwd


def _make_vjp(pure: Callable, diff: tuple, float_outs: tuple | None) -> Callable:
    def bwd(inputs, cotangents):
        return linearize(pure, inputs, diff, float_outs)[1](cotangents)

    return bwd


_Tensor = Storage = None  # set by tape.tensor, which imports this module


def _bind_tensor(cls, storage) -> None:
    global _Tensor, Storage
    _Tensor, Storage = cls, storage


# Deferred execution (tape._lazy) is on by default; tests can turn it off to compare.
LAZY = True
# Set while tape.compile traces a function: costly ops (``remat=False``) are linearized as they
# run, so their backward reuses the forward's residuals instead of recomputing the forward.
SHARE_RESIDUALS = False

_promotions: dict = {}


def promote(args: tuple, mode: int):
    """The numpy dtype an op computes in, by torch's rules."""
    return _promote(_kinds(args)[1], mode)


def _promote(kinds: tuple, mode: int):
    key = (mode, kinds)
    d = _promotions.get(key)
    if d is None:
        dims, zeros, scalars = [], [], []
        for k in kinds:
            if isinstance(k, _lazy.Aval):
                (dims if k.ndim else zeros).append(_dtype._FROM_NP[k.dtype])
            elif k is not type(None):
                scalars.append(_dtype.scalar_rank(k()))
        d = _dtype.result_type(dims, zeros, scalars)
        if mode == FLOAT and not d.is_floating_point:
            d = _dtype.get_default_dtype()
        d = _promotions[key] = d.np
    return d


def _kinds(args: tuple):
    """(thunk inputs, kinds, whether a tensor requires grad): each Tensor becomes its array or
    pending ``(thunk, index)`` and its interned Aval; scalars stay as they are, with their type
    as kind."""
    Tensor = _Tensor
    inputs, kinds = [], []
    grad = False
    for a in args:
        if isinstance(a, Tensor):
            if a._requires_grad:
                grad = True
            s = a._storage
            thunk = s.thunk
            if thunk is not None and thunk.values is None:  # Storage.pending(), inlined
                inputs.append((thunk, s.index))
                kinds.append(s.meta)
                continue
            array = s.array
            inputs.append(array)
            kinds.append(_lazy.aval(array.shape, array.dtype))
        else:
            inputs.append(a)
            kinds.append(type(a))
    return inputs, tuple(kinds), grad


def dispatch(op: Op, args: tuple, static: tuple = ()):
    """Run ``op`` on ``args`` (Tensors and Python scalars) and record it when grad is on.

    When the op has run before on inputs of the same shapes and dtypes, the output's shape is
    known and the op is deferred (``tape._lazy``) rather than run. Returns a Tensor, or a tuple
    of Tensors for multi-output ops.
    """
    Tensor = _Tensor
    inputs, kinds, grad = _kinds(args)
    key = (static, kinds)
    seen = op._avals.get(key) if LAZY else None
    if seen is not None:
        form, meta = seen
        values = tuple(inputs)
        thunk = _lazy.Thunk(form, values)
        if type(meta) is tuple:
            out = tuple(Storage(m, thunk, i) for i, m in enumerate(meta))
        else:
            out = Storage(meta, thunk, 0)
    else:
        cast = _promote(kinds, op.promote) if op.promote else None
        arrays = inputs
        if any(type(x) is tuple for x in inputs):  # a pending input: compute it first
            arrays = [a._storage.array if isinstance(a, Tensor) else a for a in args]
        fn = op._fwd_cache.get((static, cast))
        if fn is None:
            fn = op.compiled(static, cast)
        values = tuple(arrays)
        try:
            result = fn(*values)
        except (ValueError, TypeError) as error:
            _raise_broadcast_error(arrays, error)
            raise
        if type(result) is tuple:
            meta = tuple(_lazy.aval(r.shape, r.dtype) for r in result)
            # The outputs that carry gradient when recorded: the floating ones (Tensor._of).
            floats = tuple(
                i for i, m in enumerate(meta) if _dtype._FROM_NP[m.dtype].is_floating_point
            )
            form = _lazy.form(op, static, cast, floats, len(meta))
            out = tuple(Storage(r) for r in result)
        else:
            meta = _lazy.aval(result.shape, result.dtype)
            form = _lazy.form(op, static, cast, None, 1)
            out = Storage(result)
        op._avals[key] = (form, meta)
    if grad and op._node is not None and grad_mode.state.enabled:
        return record(form, args, out, values)
    if type(out) is tuple:
        return tuple(Tensor._of(o) for o in out)
    return Tensor._of(out)


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


def record(form: _lazy.Form, args: tuple, out, values: tuple):
    """Wrap the forward result in Tensors whose ``grad_fn`` is a new node for ``form``.

    ``values`` are the inputs' values the forward ran on. The backward reads an input that
    torch saves as it is then (an in-place change raises, one through ``.data`` is seen, as in
    torch), and any other input as it was here (``Node.values``): torch saves the output of
    ``exp`` and never looks at its input again.
    """
    Tensor = _Tensor
    op = form.op
    node: Node = op._node()
    edges = []
    for a in args:
        if not isinstance(a, Tensor):
            edges.append(_NO_EDGE)
        elif a._requires_grad:
            fn = a._grad_fn
            edges.append((fn, a._output_nr) if fn is not None else (accumulator_of(a), 0))
        else:
            edges.append(UNLISTED if a._storage.meta.dtype.kind in "biu" else _NO_EDGE)
    node.form = form
    node.inputs = args
    node.values = args if op.saves in _SAVES_INPUTS else values
    node.edges = tuple(edges)
    node.thunk = (out[0] if type(out) is tuple else out).thunk
    if type(out) is tuple:
        outs = tuple(Tensor._of(o, node, i, True) for i, o in enumerate(out))
        node.out_meta = tuple(o.meta for o in out)
    elif out.meta.dtype in _FLOATS:  # Tensor._of, inlined for the usual floating output
        outs = object.__new__(Tensor)
        outs._init(out, True, node, 0)
        node.out_meta = (out.meta,)
    else:
        outs = Tensor._of(out, node, 0, True)
        node.out_meta = (out.meta,)
    # Versions of what torch would save, so that a later in-place change is caught in backward.
    saves = op.saves
    if saves != "none":
        saved = []
        if saves == "partners":
            # Products save each factor for the other factor's gradient only (x * 2 saves none).
            # The inputs that require grad are those with an edge; both kinds of no-edge equal
            # (None, 0).
            n = len(edges) - edges.count(_NO_EDGE)
            read = None
            for j, t in enumerate(args):
                if n - (edges[j][0] is not None):
                    if isinstance(t, Tensor):
                        saved.append((t, t._storage, t._storage.version))
                        if read is None:
                            read = list(values)
                        read[j] = t
                    elif t is not None:
                        saved.append(_SAVED_SCALAR)  # x * 2 saves the 2: backward frees it
            if read is not None:
                node.values = tuple(read)
        elif saves not in ("output", "indices"):
            for t in args:
                if isinstance(t, Tensor):
                    saved.append((t, t._storage, t._storage.version))
        if saves in ("output", "both"):
            for t in outs if type(outs) is tuple else (outs,):
                saved.append((None, t._storage, t._storage.version))
        elif saves == "indices":  # (values, indices) ops such as sort: the indices only
            t = outs[-1]
            saved.append((None, t._storage, t._storage.version))
        node._saved = tuple(saved)
        if grad_mode.state.inference_tensors:
            for t, _, _ in saved:
                if t is not None and t._inference:
                    raise RuntimeError(grad_mode.INFERENCE_SAVED)
    if SHARE_RESIDUALS and not op.remat:
        _linearize_node(node, outs)
    return outs


def _linearize_node(node: Node, outs) -> None:
    """Recompute ``node``'s outputs through ``linearize`` and keep its VJP: the first forward
    is then dead code, and forward and backward share one computation."""
    Tensor = _Tensor
    arrays = tuple(a._storage.array if isinstance(a, Tensor) else a for a in node.inputs)
    diff = tuple(i for i, (n, _) in enumerate(node.edges) if n is not None)
    values, node.vjp = linearize(node.form.pure(), arrays, diff, node.form.float_outs)
    graph.note_hook()  # a node with its own VJP runs node by node
    if type(outs) is tuple:
        for t, v in zip(outs, values, strict=True):
            t._storage.array = v
    else:
        outs._storage.array = values


_NO_EDGE = (None, 0)
# numpy dtypes of floating tensors: a recorded output of one keeps its grad_fn
_FLOATS = frozenset(d.np for d in _dtype._FROM_NP.values() if d.is_floating_point)
_SAVES_INPUTS = ("inputs", "both")


class _Constant:
    """Stands in for the storage of a saved Python scalar: its version never changes."""

    version = 0


# A saved Python scalar: nothing to version-check, but the node then has saved values to free.
_SAVED_SCALAR = (None, _Constant, 0)
