"""``tape.compile``: a whole step (forward, backward, optimizer step, buffer updates) as one
jitted XLA program.

The first call with new argument shapes runs eagerly and notes the state the function reads
(parameters, buffers, optimizer state, ``.grad``; see ``tape._capture``). The second traces the
function under ``jax.jit`` with that state as explicit inputs; everything it wrote (parameters,
momentum buffers, running statistics, new ``.grad`` tensors) becomes an output. Later calls run
the compiled program and write those outputs back. Anything the program cannot replay (reading
a value in Python, drawing random numbers, returning a tensor whose backward has not run) falls
back to eager execution with one warning that names the cause.

>>> @tape.compile
... def step(x, y):
...     opt.zero_grad()
...     loss = loss_fn(model(x), y)
...     loss.backward()
...     opt.step()
...     return loss
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp

from tape import _capture, _device, _dispatch, _donate, _views
from tape._capture import Unsupported, raw_array, set_raw_array
from tape.autograd import grad_mode
from tape.autograd.graph import node_class
from tape.tensor import Storage, Tensor

_GRAD = _capture._GRAD
_TRACER_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerIntegerConversionError,
)
_MAX_TRACES = 4  # a trace that finds state the eager run did not see is redone with it
_MAX_ENTRIES = 8  # compiled variants kept per argument signature (train and eval modes, ...)


def compile(
    model: Callable | None = None,
    *,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend: str = "xla",
    mode: str | None = None,
    options: dict | None = None,
    disable: bool = False,
):
    """Compile ``model`` (a function or module); usable as ``@tape.compile`` or
    ``@tape.compile(fullgraph=True)``. ``fullgraph=True`` raises instead of falling back."""

    def wrap(fn: Callable):
        return fn if disable else CompiledFunction(fn, fullgraph)

    return wrap if model is None else wrap(model)


class _Retrace(Exception):
    """The trace read state the eager run did not: trace again with it as inputs."""


class _NeedsGraph(Exception):
    """A result requires grad and backward was not called: compile as one differentiable op."""


def _leaf_key(x):
    if isinstance(x, Tensor):
        meta = x._storage.meta
        return (tuple(meta.shape), meta.dtype, x._requires_grad, x._grad_fn is None)
    try:
        hash(x)
    except TypeError:
        return (type(x), id(x))
    return (type(x), x)


class CompiledFunction:
    """What ``tape.compile(fn)`` returns: call it like ``fn``."""

    def __init__(self, fn: Callable, fullgraph: bool = False) -> None:
        self._fn = fn
        self._fullgraph = fullgraph
        self._entries: dict = {}  # guard key -> [_Entry, ...] (e.g. one per train/eval mode)
        # guard key -> (state storages read, dynamic() getters, ids of the storages written)
        self._sources: dict = {}
        self._fallback: str | None = None
        functools.update_wrapper(self, fn, updated=())

    @property
    def _orig_mod(self) -> Callable:
        """The compiled function or module (torch's ``OptimizedModule._orig_mod``)."""
        return self._fn

    def __getattr__(self, name: str):
        # A compiled module still reads as the module: parameters(), state_dict(), train()...
        if name.startswith("__") or "_fn" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self._fn, name)

    def __call__(self, *args, **kwargs):
        if self._fallback is not None or _capture.active() is not None:
            return self._fn(*args, **kwargs)
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
        key = (treedef, tuple(_leaf_key(x) for x in leaves), grad_mode.state.enabled)
        entries = self._entries.get(key, ())
        for entry in entries:
            if entry.valid(leaves):
                return entry.run(leaves)
        found = self._sources.get(key)
        if found is None:
            return self._discover(key, leaves, args, kwargs)
        if isinstance(found, str):  # the eager first call did what a program cannot replay
            return self._give_up(found, args, kwargs)
        try:
            entry, outs = _trace(self._fn, leaves, treedef, *found)
        except Unsupported as e:
            return self._give_up(str(e), args, kwargs)
        except _TRACER_ERRORS as e:
            cause = f"it reads a tensor's value in Python ({type(e).__name__})"
            return self._give_up(cause, args, kwargs)
        # Entries made stale by a structural change go; other modes' entries stay.
        kept = [e for e in entries if e.epoch == _capture.epoch][-(_MAX_ENTRIES - 1) :]
        self._entries[key] = [*kept, entry]
        return entry.run(leaves, outs)

    def _discover(self, key, leaves, args, kwargs):
        """The eager first call, noting the state that the function reads."""
        mine = {id(x._storage) for x in leaves if isinstance(x, Tensor)}
        hyper = _capture.hyperparameters()
        with _capture.Capture() as cap:
            result = self._fn(*args, **kwargs)
        # Python state that a program would not change again: found now, on the eager call,
        # so that no trace runs (and repeats) the change before the function falls back.
        if _capture.hyperparameters() != hyper:
            self._sources[key] = (
                "it changes an optimizer's options (a scheduler's step(), "
                "param_groups[i][...] = ...)"
            )
        elif any(m.training != t for m, t in {**cap.modes, **cap.modes_before}.values()):
            self._sources[key] = "it switches a module between train and eval mode"
        elif cap.backward_calls and any(
            isinstance(x, Tensor) and x._grad_fn is not None for x in leaves
        ):
            self._sources[key] = (
                "its backward reaches the graph of an argument (a tensor computed outside "
                "that requires grad)"
            )
        else:
            sources = [s for k, s in cap.reads.items() if k not in mine]
            written = {k for k in cap.writes if k not in mine}
            self._sources[key] = (sources, list(cap.getters), written)
        return result

    def _give_up(self, cause: str, args, kwargs):
        if self._fullgraph:
            raise Unsupported(f"tape.compile(fullgraph=True): {cause}")
        self._fallback = cause
        name = getattr(self._fn, "__qualname__", type(self._fn).__name__)
        warnings.warn(
            f"tape.compile: {name} runs eagerly because {cause}. Move that part out of the "
            "compiled function to compile the rest.",
            UserWarning,
            stacklevel=3,
        )
        return self._fn(*args, **kwargs)


class _Entry:
    """A compiled program plus how to feed it and where its outputs go.

    Targets are ``("arg", j)`` (the j-th tensor argument of the call) or ``("obj", x)``.
    """

    def __init__(self, program, arg_pos, sources, plan: dict | None, n_kept: int = -1) -> None:
        self.program = program
        self.arg_pos = arg_pos
        self.sources = sources
        # sources[:n_kept] are only read; the rest are overwritten by the program, which may
        # reuse their buffers for its outputs (donation: a step updates its weights in place).
        self.n_kept = len(sources) if n_kept < 0 else n_kept
        self.epoch = _capture.epoch
        if plan is not None:
            self.adopt(plan)

    def adopt(self, plan: dict) -> None:
        """Take what tracing found: what to feed in, and where each output goes."""
        self.getters = plan["getters"]
        self.writes = plan["writes"]  # (target storage, output index, version bump)
        self.grads = plan["grads"]  # (target tensor, ("none", _) | ("new", k) | ("obj", g))
        self.guards = plan["guards"]  # (target tensor, .grad was None)
        self.grad_links = plan["grad_links"]  # (target tensor, its .grad's storage as traced)
        self.baked = plan["baked"]  # (getter, value) the trace took as constant
        self.modes = plan["modes"]  # (module called, its .training then)
        self.out_tree = plan["out_tree"]
        self.out_spec = plan["out_spec"]

    def valid(self, leaves: list) -> bool:
        """Whether this program still does what the function would: nothing it baked in has
        changed, and each ``.grad`` it reads is None, or not, as when it was traced."""
        if self.epoch != _capture.epoch:
            return False
        for module, training in self.modes:
            if module.training != training:
                return False
        for getter, value in self.baked:
            if getter() != value:
                return False
        for (kind, x), was_none in self.guards:
            t = leaves[self.arg_pos[x]] if kind == "arg" else x
            if (_GRAD.__get__(t) is None) != was_none:
                return False
        return self._relink(leaves)

    def _relink(self, leaves: list) -> bool:
        """Point the program at the ``.grad`` tensors there are now: it reads and writes the
        storages it was traced with, which a ``.grad`` replaced since (set to None by
        ``zero_grad()`` and made again by a backward) no longer holds."""
        moved = {}  # id of the storage traced -> the one there is now
        links = self.grad_links
        for n, ((kind, x), traced) in enumerate(links):
            t = leaves[self.arg_pos[x]] if kind == "arg" else x
            now = _GRAD.__get__(t)._storage
            if now is traced:
                continue
            if type(now) is not Storage or now.meta.shape != traced.meta.shape:
                return False
            if now.meta.dtype != traced.meta.dtype:
                return False
            moved[id(traced)] = now
            links[n] = ((kind, x), now)
        if moved:
            # One pass over sources and writes, however many grads moved: a training step's
            # zero_grad() moves every parameter's.
            self.sources = [moved.get(id(s), s) for s in self.sources]
            self.writes = [
                (("obj", moved.get(id(t[1]), t[1])) if t[0] == "obj" else t, k, bump)
                for t, k, bump in self.writes
            ]
        return True

    def outputs(self, args: list) -> list:
        n = self.n_kept
        arrays = [t._storage.array for t in args]
        kept = [s.array for s in self.sources[:n]]
        donated = _donate.donation([s.array for s in self.sources[n:]], arrays, kept)
        return self.program(arrays, kept, donated, [g() for g in self.getters])

    def run(self, leaves: list, outs=None):
        """Run the program (unless ``outs`` are given) and write its outputs back."""
        args = [leaves[i] for i in self.arg_pos]
        if outs is None:
            outs = self.outputs(args)

        def resolve(target, storage: bool = False):
            x = args[target[1]] if target[0] == "arg" else target[1]
            return x._storage if storage and target[0] == "arg" else x

        for target, k, bump in self.writes:
            storage = resolve(target, storage=True)
            value = outs[k]
            if isinstance(value, Tensor):  # a graph entry's output: keep it uncomputed
                ref = value._storage.pending()
                if ref is not None:
                    storage.set_pending(*ref, value._storage.meta)
                else:
                    set_raw_array(storage, value._storage.array)
            else:
                set_raw_array(storage, value)
            storage.version += bump
            views = getattr(storage, "_views", None)
            if views:
                with grad_mode.no_grad():
                    _views.refresh(storage, views)
        for target, (kind, x) in self.grads:
            grad = x if kind == "obj" else _as_tensor(outs[x]) if kind == "new" else None
            resolve(target)._grad = grad
        result = []
        for kind, x in self.out_spec:
            if kind == "out":
                result.append(_as_tensor(outs[x]))
            elif kind == "spent":
                result.append(_spent(outs[x]))
            elif kind == "arg":
                result.append(args[x])
            else:
                result.append(x)
        return jax.tree_util.tree_unflatten(self.out_tree, result)


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(x)


def _spent(array) -> Tensor:
    """A result whose graph a backward inside the program has used up (a step's returned
    loss): it requires grad, and a second backward raises torch's error, as the loss of a
    ``torch.compile``'d step does."""
    node = node_class("CompiledFunctionBackward")()
    node.form, node.inputs, node.edges, node.out_meta = None, (), (), ((),)
    node._freed = True
    return Tensor._wrap(array, node, 0, True)


class _GraphEntry(_Entry):
    """A function whose results need a graph (a module's forward, backward called outside):
    one tape op, ``CompiledFunctionBackward``, whose forward is the traced function and whose
    backward is its VJP. Leaves that require grad are its inputs, so gradients reach them."""

    def __init__(self, op, arg_pos, sources, tensors: dict, grads: list) -> None:
        super().__init__(None, arg_pos, sources, None)
        self.op = op
        self.tensors = tensors  # id(storage) -> the leaf tensor that requires grad
        self.differentiable = grads  # per result leaf: did the function's result require grad

    def run(self, leaves: list, outs=None):
        """As ``_Entry.run``; a result the function returned without grad (detached, or not
        depending on a parameter) comes back detached from the op, as in torch."""
        if outs is None:
            outs = self.outputs([leaves[i] for i in self.arg_pos])
        outs = list(outs)
        for (kind, k), grad in zip(self.out_spec, self.differentiable, strict=True):
            if kind == "out" and not grad:
                outs[k] = outs[k].detach()
        return super().run(leaves, outs)

    def outputs(self, args: list) -> list:
        inputs = list(args)
        for s in self.sources:
            t = self.tensors.get(id(s))
            if t is None:  # a value, snapshotted: writes below must not change the saved input
                ref = s.pending()
                t = Tensor._of(Storage(s.array) if ref is None else Storage(s.meta, *ref))
            inputs.append(t)
        outs = _dispatch.dispatch(self.op, tuple(inputs))
        return list(outs) if type(outs) is tuple else [outs]


def _graph_entry(
    fn: Callable, leaves: list, treedef, arg_pos, sources: list, tensors: dict, grads: list
):
    plan: dict = {}
    n_args = len(arg_pos)

    def forward(*arrays):
        with grad_mode.no_grad():
            outs = _program(
                fn, leaves, treedef, arg_pos, sources, plan, len(sources), arrays[:n_args],
                arrays[n_args:], [], [],
            )  # fmt: skip
        return tuple(outs) if len(outs) != 1 else outs[0]

    name = getattr(fn, "__qualname__", type(fn).__name__)
    op = _dispatch.Op(f"compiled {name}", forward, "CompiledFunctionBackward", saves="none")
    entry = _GraphEntry(op, arg_pos, sources, tensors, grads)
    args = [leaves[i] for i in arg_pos]
    with _traced_on([t._storage.array for t in args] + [s.array for s in sources]):
        outs = entry.outputs(args)  # traces forward, which fills the plan
    entry.adopt(plan)
    return entry, outs


def _trace(fn: Callable, leaves: list, treedef, sources: list, getters: list, written: set):
    """Trace ``fn`` under ``jax.jit`` with ``sources`` as inputs, retracing if it read more.
    Returns the entry and the outputs of this first call."""
    arg_pos = [i for i, x in enumerate(leaves) if isinstance(x, Tensor)]
    kept = [s for s in sources if id(s) not in written]
    donated = [s for s in sources if id(s) in written]
    for _ in range(_MAX_TRACES):
        plan: dict = {}
        sources = kept + donated
        body = functools.partial(_program, fn, leaves, treedef, arg_pos, sources, plan, len(kept))
        program = jax.jit(body, donate_argnums=2 if _donate.ENABLED else ())
        arrays = [leaves[i]._storage.array for i in arg_pos]
        kept_arrays = [s.array for s in kept]
        donated_arrays = _donate.donation([s.array for s in donated], arrays, kept_arrays)
        try:
            with _traced_on([*arrays, *kept_arrays, *donated_arrays]):
                outs = program(arrays, kept_arrays, donated_arrays, [g() for g in getters])
        except _Retrace as r:
            more, getters, unwritten, wrote = r.args
            # State first seen by this trace (an optimizer's momentum buffers, created by the
            # eager first call) is donated when the trace writes it, as the rest is.
            more = [s for s in more if all(s is not t for t in sources)]
            kept += [s for s in more if id(s) not in wrote]
            donated += [s for s in more if id(s) in wrote]
            kept += [s for s in donated if id(s) in unwritten]
            donated = [s for s in donated if id(s) not in unwritten]
            continue
        except _NeedsGraph as g:
            if getters:
                raise Unsupported(
                    "it returns a tensor that requires grad and changes dynamic state"
                ) from None
            return _graph_entry(fn, leaves, treedef, arg_pos, sources, *g.args)
        return _Entry(program, arg_pos, sources, plan, len(kept)), outs
    raise Unsupported("the state it reads keeps changing from one trace to the next")


@contextlib.contextmanager
def _traced_on(arrays: list):
    """Tensors in the trace report the device of the call's inputs (they are tracers)."""
    before = _device.trace_device
    concrete = [a for a in arrays if not isinstance(a, jax.core.Tracer)]
    _device.trace_device = _device.device_of(concrete[0]) if concrete else before
    try:
        yield
    finally:
        _device.trace_device = before


def _program(
    fn, leaves, treedef, arg_pos, sources, plan, n_kept, arg_arrays, kept, donated, scalars
):
    """The traced body: ``fn`` with its arguments and state replaced by tracers."""
    src_arrays = [*kept, *donated]
    args = [leaves[i] for i in arg_pos]
    arg_storage = {id(t._storage): j for j, t in enumerate(args)}
    arg_tensor = {id(t): j for j, t in enumerate(args)}

    def target(x, storage: bool = False):
        j = (arg_storage if storage else arg_tensor).get(id(x))
        return ("obj", x) if j is None else ("arg", j)

    swapped = [(t._storage, t._storage.version) for t in args] + [(s, s.version) for s in sources]
    originals = [_capture.state_of(s) for s, _ in swapped]
    cap = _capture.Capture(tracing=True, scalars=scalars)
    with cap:
        cap.known = {id(s) for s, _ in swapped}
        for (s, _), a in zip(swapped, [*arg_arrays, *src_arrays], strict=True):
            set_raw_array(s, a)
        try:
            call_args, call_kwargs = jax.tree_util.tree_unflatten(treedef, leaves)
            result = fn(*call_args, **call_kwargs)
            outs: list = []

            def output(array) -> int:
                outs.append(jnp.asarray(array))
                return len(outs) - 1

            # The donated state's new values come first, in the order of the donated inputs:
            # JAX gives each donated buffer to the first output of its shape and dtype still
            # free, so any other order swaps buffers between same-shaped weights, and XLA
            # copies them back (ResNet18: 24 copies, 13 MB a step).
            donated_out = {
                id(s): output(raw_array(s)) for s in sources[n_kept:] if id(s) in cap.writes
            }
            out_leaves, plan["out_tree"] = jax.tree_util.tree_flatten(result)
            spec = []
            for x in out_leaves:
                if not isinstance(x, Tensor):
                    spec.append(("py", x))
                elif id(x) in cap.fresh:
                    if x._requires_grad and not cap.backward_calls:
                        # Which results are differentiable: the op's outputs all are.
                        grads = [isinstance(y, Tensor) and y._requires_grad for y in out_leaves]
                        raise _NeedsGraph(cap.leaves, grads)
                    kind = "spent" if x._requires_grad else "out"
                    spec.append((kind, output(x._storage.array)))
                else:
                    spec.append(target(x))
            plan["out_spec"] = spec
            plan["writes"] = [
                (
                    target(s, storage=True),
                    donated_out[id(s)] if id(s) in donated_out else output(raw_array(s)),
                    s.version - version,
                )
                for s, _before, version in cap.writes.values()
            ]
            grads = []
            for t, before in cap.grads.values():
                now = _GRAD.__get__(t)
                if now is before:
                    continue
                if now is None:
                    grads.append((target(t), ("none", None)))
                elif id(now) in cap.fresh:
                    if now._grad_fn is not None:
                        raise Unsupported("it builds a differentiable .grad (create_graph=True)")
                    grads.append((target(t), ("new", output(now._storage.array))))
                else:
                    grads.append((target(t), ("obj", now)))
            plan["grads"] = grads
            plan["guards"] = [(target(t), g is None) for t, g in cap.grad_reads.values()]
            # Each .grad read by way of its tensor whose values the program reads or writes: a
            # later call finds it there again, since zero_grad() or an assignment may have put
            # another tensor in its place. (zero_grad() itself only looks at .grad, which the
            # guards cover.)
            in_program = {id(s) for s in sources} | set(cap.writes)
            plan["grad_links"] = [
                (target(t), g._storage)
                for t, g in cap.grad_reads.values()
                if g is not None and id(g._storage) in in_program
            ]
            plan["modes"] = list(cap.modes.values())
            plan["getters"] = list(cap.getters)
            plan["baked"] = list(cap.baked)
            # A storage handed over for donation that this trace did not write would be lost.
            unwritten = {id(s) for s in sources[n_kept:]} - set(cap.writes)
            if cap.reads or len(cap.getters) != len(scalars) or unwritten:
                raise _Retrace(
                    list(cap.reads.values()), list(cap.getters), unwritten, set(cap.writes)
                )
        finally:
            # Leave every tensor as it was: the compiled program's outputs are written back
            # by the caller.
            for s, before, _version in cap.writes.values():
                _capture.restore(s, before)
            for t, before in cap.grads.values():
                _GRAD.__set__(t, before)
            for (s, _version), state in zip(swapped, originals, strict=True):
                _capture.restore(s, state)
    return outs
