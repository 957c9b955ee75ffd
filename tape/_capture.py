"""What a function reads and writes: the hooks behind ``tape.compile``.

While a ``Capture`` is installed, every read and write of a tensor's array, every change to a
tensor's ``.grad`` and every dynamic hyperparameter (``dynamic``) is seen. Run eagerly once, it
finds the state a function uses (parameters, buffers, optimizer state); run under ``jax.jit``,
it checks that nothing outside that state was read, and records what was written, so the
compiled function can write it back.

The hooks replace class attributes only while installed, so the eager hot path pays nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import jax

from tape import _dispatch, _random
from tape.autograd import engine
from tape.tensor import Storage, Tensor


class Unsupported(RuntimeError):
    """The function does something a captured program cannot replay; ``str`` names the cause."""


# Bumped whenever something a captured program baked in may have changed: a module's attributes
# or train/eval mode, a parameter's requires_grad, an optimizer's groups or state.
epoch = 0


def changed() -> None:
    global epoch
    epoch += 1


_active: Capture | None = None


def active() -> Capture | None:
    return _active


def check_tensor_change(t, change: str) -> None:
    """Called before ``change`` alters tensor ``t`` itself (its shape, its storage, whether it
    requires grad) rather than its values. A compiled program replays values only, so a trace
    that would alter a tensor from outside the function gives up instead (the caller then runs
    it eagerly); the eager first call made the change already, as a plain call would."""
    cap = _active
    if cap is not None and cap.tracing and id(t) not in cap.fresh:
        raise Unsupported(f"it {change} a tensor from outside the function")


def baked(getter: Callable, value) -> None:
    """Note that what is being captured holds on ``getter()`` being ``value`` (an optimizer's
    flags, which choose its update): a compiled program checks it before each call."""
    cap = _active
    if cap is not None:
        cap.baked.append((getter, value))


def mode_change(module) -> None:
    """Called before ``module.train(mode)``: notes the mode it had before the function ran."""
    cap = _active
    if cap is not None:
        cap.modes_before.setdefault(id(module), (module, module.training))


_optimizers: weakref.WeakSet = weakref.WeakSet()


def track_optimizer(optimizer) -> None:
    _optimizers.add(optimizer)


def hyperparameters() -> list:
    """Every live optimizer's group options (not its parameters): a function that changes them
    itself cannot be replayed by a program, which only reads them. The list holds each
    optimizer, so that one the garbage collector frees in between does not read as a change."""
    out = []
    for opt in list(_optimizers):
        for group in opt.param_groups:
            for k, v in group.items():
                if k not in ("params", "param_names"):
                    out.append((opt, id(group), k, v if _plain(v) else id(v)))
    return out


def _plain(v) -> bool:
    return isinstance(v, int | float | str | type(None)) or (
        isinstance(v, tuple) and all(map(_plain, v))
    )


def dynamic(getter: Callable):
    """``getter()``, a pytree of Python numbers that may change between calls (an optimizer's
    lr, say). Under capture it becomes an input of the compiled program rather than a constant."""
    cap = _active
    if cap is None:
        return getter()
    return cap.scalar(getter)


_ARRAY = Storage.__dict__["array"]
_PENDING = Storage.pending
_SET_PENDING = Storage.set_pending
_STORAGE_INIT = Storage.__init__
_GRAD = Tensor.__dict__["_grad"]
_TENSOR_INIT = Tensor._init
_RUN = engine._run
_KINDS = _dispatch._kinds


def _base(storage: Storage) -> Storage:
    return storage if type(storage) is Storage else storage.base  # an _AliasStorage


def raw_array(storage: Storage):
    """The array a storage holds (computed if pending), without the hooks."""
    return _ARRAY.__get__(_base(storage))


def set_raw_array(storage: Storage, value) -> None:
    _ARRAY.__set__(_base(storage), value)


def state_of(storage: Storage) -> tuple:
    """What a storage holds, pending or not, without computing it (for ``restore``)."""
    s = _base(storage)
    return s._array, s.meta, s.thunk, s.index, s.version


def restore(storage: Storage, state: tuple) -> None:
    s = _base(storage)
    s._array, s.meta, s.thunk, s.index, s.version = state


class Capture:
    """One run of a function with the hooks on.

    ``tracing`` is False for the discovery run (eager) and True under ``jax.jit``, where
    ``scalars`` holds the traced values handed out by ``dynamic`` in call order.
    """

    def __init__(self, tracing: bool = False, scalars: list | None = None) -> None:
        self.tracing = tracing
        self._scalars = scalars
        self.fresh: set = set()  # ids of storages and tensors made during the run
        self.reads: dict = {}  # id -> external storage read (outside the known inputs)
        self.writes: dict = {}  # id -> (storage, array and version before the first write)
        self.grads: dict = {}  # id -> [tensor, .grad before]
        self.grad_reads: dict = {}  # id -> (tensor, its .grad when first read, or None)
        self.getters: list = []  # dynamic() getters, in call order
        self.backward_calls = 0
        self.known: set = set()  # ids of storages that are inputs of the traced program
        self.leaves: dict = {}  # id(storage) -> leaf tensor requiring grad that an op used
        self.modes: dict = {}  # id(module) -> (module, its .training when first called)
        self.baked: list = []  # (getter, value) that the captured code took as constant
        self.modes_before: dict = {}  # id(module) -> (module, .training before it set it)

    # --- what the hooks record ------------------------------------------------------------
    def read(self, storage, value):
        key = id(storage)
        if key in self.fresh or key in self.known:
            return value
        if not self.tracing or not isinstance(value, jax.core.Tracer):
            self.reads.setdefault(key, storage)
        return value

    def write(self, storage, value) -> None:
        key = id(storage)
        if key not in self.fresh and key not in self.writes:
            before = state_of(storage) if self.tracing else None  # to restore after tracing
            self.writes[key] = (storage, before, storage.version)

    def grad_read(self, tensor, value):
        key = id(tensor)
        if key not in self.fresh and key not in self.grads:
            self.grad_reads.setdefault(key, (tensor, value))
        return value

    def grad_write(self, tensor) -> None:
        key = id(tensor)
        if key not in self.fresh and key not in self.grads:
            self.grad_reads.setdefault(key, (tensor, _GRAD.__get__(tensor)))
            self.grads[key] = [tensor, _GRAD.__get__(tensor)]

    def scalar(self, getter: Callable):
        self.getters.append(getter)
        if not self.tracing:
            return getter()
        k = len(self.getters) - 1
        if k >= len(self._scalars):
            raise Unsupported("a dynamic hyperparameter appeared that the first run did not use")
        return self._scalars[k]

    # --- install / remove -----------------------------------------------------------------
    def __enter__(self) -> Capture:
        global _active
        from tape.nn.module import Module

        # A capture can run inside another (a compiled module's forward traced while a step
        # is captured): the inner one's hooks replace the outer's until it exits.
        self._outer = (
            _active,
            engine._run,
            _dispatch._kinds,
            *(Storage.__dict__[k] for k in ("__init__", "array", "pending", "set_pending")),
            Tensor.__dict__["_init"],
            Tensor.__dict__["_grad"],
            Module.__dict__["__call__"],
            _random.Generator._u32,
            _random.Generator._u64,
            _dispatch.LAZY,
            _dispatch.SHARE_RESIDUALS,
        )
        _active = self
        cap = self

        def storage_init(s, *args) -> None:
            cap.fresh.add(id(s))
            _STORAGE_INIT(s, *args)

        def set_pending(s, *args) -> None:
            cap.write(s, None)
            _SET_PENDING(s, *args)

        def tensor_init(t, *args) -> None:
            cap.fresh.add(id(t))
            _TENSOR_INIT(t, *args)

        def draw(*args):
            raise Unsupported(
                "it draws random numbers (tape.rand, randn, dropout, ...), which a compiled "
                "program would repeat on every call"
            )

        def run(*args, **kwargs):
            cap.backward_calls += 1
            return _RUN(*args, **kwargs)

        module_call = Module.__call__

        def call(m, *args, **kwargs):
            cap.modes.setdefault(id(m), (m, m.training))
            return module_call(m, *args, **kwargs)

        def kinds(args):
            for a in args:
                if isinstance(a, Tensor):
                    if a._requires_grad and a._grad_fn is None:
                        cap.leaves.setdefault(id(a._storage), a)
                    # what _KINDS reads, through the hooks (it reads the fields directly)
                    s = a._storage
                    if s.pending() is None:
                        s.array  # noqa: B018
            return _KINDS(args)

        engine._run = run
        _dispatch._kinds = kinds
        Module.__call__ = call
        Storage.__init__ = storage_init
        Tensor._init = tensor_init
        Storage.array = property(
            lambda s: cap.read(s, _ARRAY.__get__(s)),
            lambda s, v: (cap.write(s, v), _ARRAY.__set__(s, v)) and None,
        )
        Storage.pending = lambda s: cap.read(s, _PENDING(s))
        Storage.set_pending = set_pending
        Tensor._grad = property(
            lambda t: cap.grad_read(t, _GRAD.__get__(t)),
            lambda t, v: (cap.grad_write(t), _GRAD.__set__(t, v)) and None,
        )
        if self.tracing:
            _random.Generator._u32 = _random.Generator._u64 = draw
            _dispatch.LAZY = False  # trace op by op: nothing to defer inside one program
            _dispatch.SHARE_RESIDUALS = True
        return self

    def __exit__(self, *exc) -> None:
        global _active
        from tape.nn.module import Module

        (
            _active,
            engine._run,
            _dispatch._kinds,
            Storage.__init__,
            Storage.array,
            Storage.pending,
            Storage.set_pending,
            Tensor._init,
            Tensor._grad,
            Module.__call__,
            _random.Generator._u32,
            _random.Generator._u64,
            _dispatch.LAZY,
            _dispatch.SHARE_RESIDUALS,
        ) = self._outer
