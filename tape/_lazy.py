"""Deferred forward: an op whose output shape is known is recorded, not run.

A pending tensor holds a ``Thunk`` (op, static arguments, inputs). Its value is computed when
something reads it: all pending thunks it depends on run together, as one compiled XLA program
once that program's signature has been seen before (node by node the first time, so a graph seen
once costs no compile). ``loss.backward()`` folds the pending forward into the compiled backward
(see ``tape.autograd.compiled``), so a repeated training step is a single XLA call.

Thunk inputs are immutable: concrete arrays, Python scalars, or ``(thunk, output index)``. So an
in-place change to a tensor after it was used never leaks into a pending result.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

MAX_SIGNATURES = 10_000  # remembered sightings; forgotten all at once past this
COMPILE_AFTER = 2  # sightings of a program signature before it is compiled

_ARG = "<array>"


class Aval:
    """Shape and dtype of a value not computed yet; interned, so it can key caches by identity."""

    __slots__ = ("shape", "dtype", "ndim", "size", "__weakref__")

    def __init__(self, shape: tuple, dtype) -> None:
        self.shape = shape
        self.dtype = dtype
        self.ndim = len(shape)
        n = 1
        for s in shape:
            n *= s
        self.size = n


_avals: dict = {}


def aval(shape: tuple, dtype) -> Aval:
    key = (shape, dtype)
    a = _avals.get(key)
    if a is None:
        a = _avals[key] = Aval(shape, dtype)
    return a


class Form:
    """An op with its static arguments and compute dtype bound: what a thunk or a graph node
    applies. ``float_outs``: None for one output, else the outputs that carry gradient.
    Interned (``form``), so that signatures hold it by identity and hash it for free."""

    __slots__ = ("op", "static", "cast", "float_outs", "n_out")

    def __init__(self, op, static: tuple, cast, float_outs: tuple | None, n_out: int) -> None:
        self.op = op
        self.static = static
        self.cast = cast
        self.float_outs = float_outs
        self.n_out = n_out

    def pure(self) -> Callable:
        """The op's pure JAX forward with this form's static arguments and cast applied."""
        return self.op.pure(self.static, self.cast)

    def __repr__(self) -> str:
        return f"Form({self.op.name}, {self.static}, {self.cast}, {self.float_outs})"


_forms: dict = {}


def form(op, static: tuple, cast, float_outs: tuple | None, n_out: int) -> Form:
    """The one Form with these fields."""
    key = (op, static, cast, float_outs, n_out)
    f = _forms.get(key)
    if f is None:
        f = _forms[key] = Form(op, static, cast, float_outs, n_out)
    return f


class Thunk:
    """One recorded op application whose outputs are not computed yet."""

    __slots__ = ("form", "inputs", "values")

    def __init__(self, form: Form, inputs: tuple) -> None:
        self.form = form
        self.inputs = inputs
        self.values = None


def pending_inputs(thunk: Thunk):
    for x in thunk.inputs:
        if type(x) is tuple and x[0].values is None:
            yield x[0]


def collect(roots) -> list:
    """Pending thunks that ``roots`` depend on, inputs before users."""
    order, seen = [], set()
    for root in roots:
        if root.values is not None or id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(tuple(pending_inputs(root))))]
        while stack:
            thunk, children = stack[-1]
            for child in children:
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(tuple(pending_inputs(child)))))
                    break
            else:
                stack.pop()
                order.append(thunk)
    return order


def signature(order: list, index: dict, args: list) -> tuple:
    """The program key of ``order``; array inputs are appended to ``args``."""
    sig = []
    for thunk in order:
        sources = []
        for x in thunk.inputs:
            if type(x) is tuple:
                producer, nr = x
                if producer.values is None:
                    sources.append((index[id(producer)], nr))
                else:
                    sources.append(_ARG)
                    args.append(producer.values[nr])
            elif hasattr(x, "shape"):
                sources.append(_ARG)
                args.append(x)
            else:
                sources.append(x)
        sig.append((thunk.form, tuple(sources)))
    return tuple(sig)


def evaluate(sig: tuple, args, env: dict | None = None) -> list:
    """Run a signature's thunks on ``args`` (tracers inside jit); returns each thunk's outputs."""
    arg_iter = iter(args)
    outputs = []
    for applied, sources in sig:
        inputs = []
        for s in sources:
            if s is _ARG:
                inputs.append(next(arg_iter))
            elif type(s) is tuple:
                out = outputs[s[0]]
                inputs.append(out[s[1]])
            else:
                inputs.append(s)
        out = applied.pure()(*inputs)
        outputs.append(out if type(out) is tuple else (out,))
    return outputs


class ProgramCache:
    """Compiled programs by signature, each built on its ``COMPILE_AFTER``-th sighting.

    ``get(key, build)`` returns the compiled program, or None while the signature is still too
    new to be worth a compile (the caller then runs it op by op). A signature that
    ``tape._signature_key`` can key keeps its programs in tape's store, for later processes.
    """

    def __init__(self) -> None:
        self.seen: dict = {}
        self.programs: dict = {}

    def get(self, key, build):
        program = self.programs.get(key)
        if program is None:
            if len(self.seen) > MAX_SIGNATURES:  # graphs that never repeat must not grow memory
                self.seen.clear()
            count = self.seen[key] = self.seen.get(key, 0) + 1
            if count < COMPILE_AFTER:
                return None
            from tape._program_store import StoredProgram
            from tape._signature_key import signature_key

            identity = signature_key(key)
            fn = build(key)
            program = jax.jit(fn) if identity is None else StoredProgram(fn, b"graph:" + identity)
            self.programs[key] = program
        return program


_cache = ProgramCache()


def materialize(thunk: Thunk) -> None:
    """Compute ``thunk`` and every pending thunk it depends on."""
    order = collect((thunk,))
    index = {id(t): i for i, t in enumerate(order)}
    args: list = []
    sig = signature(order, index, args)
    program = _cache.get(sig, lambda key: lambda a: evaluate(key, a))
    if program is None:
        _interpret(order)
        return
    for t, values in zip(order, program(args), strict=True):
        t.values = values
        t.inputs = None


def value_of(x):
    """A recorded input (``Thunk.inputs``, ``Node.values``) as a value: a pending
    ``(thunk, index)`` is computed, and a tensor (a ``Node.values`` entry torch saves) gives its
    value now."""
    if type(x) is not tuple:
        storage = getattr(x, "_storage", None)
        return x if storage is None else storage.array
    thunk, index = x
    if thunk.values is None:
        materialize(thunk)
    return thunk.values[index]


def _interpret(order: list) -> None:
    """First sighting: run each thunk with the op's own cached jit."""
    for t in order:
        inputs = [(x[0].values[x[1]] if type(x) is tuple else x) for x in t.inputs]
        f = t.form
        out = f.op.compiled(f.static, f.cast)(*inputs)
        t.values = out if type(out) is tuple else (out,)
        t.inputs = None
