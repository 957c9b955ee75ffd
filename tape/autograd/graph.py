"""The recorded DAG: backward nodes (``grad_fn``) and the leaf accumulators.

Each op creates one ``Node`` whose class is named after torch's backward function
(``AddBackward0``), so ``print(t.grad_fn)`` reads ``<AddBackward0 object at 0x...>``.
"""

from __future__ import annotations

import itertools
import re
import weakref

_sequence = itertools.count()

# The sequence number at the last change of a value that autograd does not see (a write
# through ``.data``): a graph recorded before it is not recomputed as one program, whose
# forward would read the new value where torch's ran on the old one.
last_unseen_write = -1


def note_unseen_write() -> None:
    global last_unseen_write
    last_unseen_write = next(_sequence)


# The sequence number at the last hook registered on a node (or retained grad, or VJP kept): a
# node recorded after it has none, so a replayed graph's check need not look at each node's.
last_hook = -1


def note_hook() -> None:
    global last_hook
    last_hook = next(_sequence)


SAVED_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


_HINT = (
    "enable anomaly detection to find the operation that failed to compute its gradient, with "
    "torch.autograd.set_detect_anomaly(True, check_nan=False)."
)
_HINT_SHOWN = (
    "the backtrace further above shows the operation that failed to compute its gradient. The "
    "variable in question was changed in there or anywhere later. Good luck!"
)


def _inplace_hint() -> str:
    from tape.autograd import anomaly_mode  # it imports this module

    return _HINT_SHOWN if anomaly_mode.state.enabled else _HINT


class Node:
    """A backward function: what produced a tensor, and where its gradient flows next."""

    __slots__ = (
        "form",  # the op applied, with its static arguments (tape._lazy.Form)
        "inputs",
        # the inputs' values when recorded (arrays, pending ``(thunk, index)``, scalars): what
        # the backward differentiates at, even if an input tensor is changed in place later
        "values",
        "edges",
        "out_meta",
        "_saved",
        "_seq",
        "_freed",
        "_hooks",
        "_pre_hooks",
        "_tensor_pre_hooks",
        "_retained",
        "_metadata",  # torch's per-node dict for the user's annotations, made on first use
        "thunk",  # the pending forward (tape._lazy.Thunk) that computes this node's outputs
        "vjp",  # under tape.compile's trace: the VJP sharing the forward's residuals
        "__weakref__",
    )

    custom = False  # a custom autograd.Function's node runs the user's backward

    def __init__(self) -> None:
        self.values = None
        self.thunk = None
        self.vjp = None
        self._seq = next(_sequence)
        self._freed = False
        self._saved = ()
        self._hooks = None
        self._pre_hooks = None
        self._tensor_pre_hooks = None
        self._retained = None

    @property
    def metadata(self) -> dict:
        """A dict that lives with this node, for the user's own annotations (as in torch)."""
        try:
            return self._metadata
        except AttributeError:
            self._metadata = {}
            return self._metadata

    def name(self) -> str:
        n = type(self).__name__
        return f"torch::autograd::{n}" if n in _CPP_NODES else n

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        """torch's view of ``edges``: integer inputs (indices, masks) are not listed."""
        return tuple(e for e in self.edges if e is not UNLISTED)

    def check_saved(self) -> None:
        if self._freed:
            raise RuntimeError(SAVED_FREED)
        n_out = 0
        for tensor, storage, version in self._saved:
            if storage.version != version:
                # torch names the saved output's own node, or a saved input's current grad_fn
                # (none for leaves), by its forward name: "output 0 of Exp".
                if tensor is None:
                    what = f", which is output {n_out} of {_forward_name(self.name())},"
                elif tensor._grad_fn is not None:
                    fn = tensor._grad_fn
                    what = f", which is output {tensor._output_nr} of {_forward_name(fn.name())},"
                else:
                    what = ""
                # The tensor's shape now, as torch prints it (an in-place t_() changes it).
                shape = list((storage if tensor is None else tensor._storage).meta.shape)
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{_type_name(storage.array)} {shape}]{what} "
                    f"is at version {storage.version}; expected version {version} instead. Hint: "
                    + _inplace_hint()
                )
            if tensor is None:
                n_out += 1

    def free(self) -> None:
        self.vjp = None
        # Values held after the backward would keep weights' old buffers alive, and an optimizer
        # step would then copy them instead of updating them in place.
        self.values = None
        if self._saved:
            self._freed = True
            self.inputs = None

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node computes its input grads."""
        note_hook()
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _RemovableHandle(self._hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node; it may return replacement grads."""
        note_hook()
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)

    def __call__(self, *grads):
        """Apply the backward function to output gradients (Tensors), like torch's Node."""
        from tape.autograd.engine import call_node
        from tape.tensor import Tensor

        arrays = [g._storage.array if isinstance(g, Tensor) else g for g in grads]
        result = call_node(self, arrays)
        out = tuple(
            None if g is None else g if isinstance(g, Tensor) else Tensor._wrap(g)
            for g, e in zip(result, self.edges, strict=True)
            if e is not UNLISTED
        )
        return out[0] if len(out) == 1 else out


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    # What every accumulator has, as class attributes that shadow Node's slots: a leaf's
    # accumulator is made again in every training step (it lives only as long as some graph
    # refers to it, as in torch), so it sets only what may change later.
    _seq = float("inf")  # torch runs accumulators as soon as they are ready
    edges = ()
    inputs = ()
    form = None
    thunk = None
    _saved = ()
    _freed = False
    _tensor_pre_hooks = None
    _retained = None

    def __init__(self, variable) -> None:
        self.variable = variable
        self.vjp = None
        self._hooks = None
        self._pre_hooks = None

    @property
    def out_meta(self) -> tuple:
        meta = self.variable._storage.meta
        return ((meta.shape, meta.dtype),)


class _RemovableHandle:
    __slots__ = ("_list", "_fn")

    def __init__(self, hooks: list, fn) -> None:
        self._list = hooks
        self._fn = fn

    def remove(self) -> None:
        if self._fn in self._list:
            self._list.remove(self._fn)


_classes: dict[str, type] = {}


def node_class(name: str) -> type:
    """The Node subclass named ``name``, created once."""
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(name, (Node,), {"__slots__": ()})
    return cls


def accumulator_of(tensor) -> AccumulateGrad | None:
    """The leaf's AccumulateGrad; it lives as long as some graph refers to it, like torch's.

    None for a view made under no_grad of a base that requires grad: it requires grad through
    its base, but torch gives it no accumulator, so the gradient that reaches it is dropped."""
    ref = tensor._accumulator
    node = ref() if ref is not None else None
    if node is None:
        info = tensor._view
        if info is not None and info.creation == "no_grad" and info.base._requires_grad:
            return None  # ("no_grad": tape._views.NO_GRAD)
        node = AccumulateGrad(tensor)
        tensor._accumulator = weakref.ref(node)
    return node


# The edge of an integer tensor input (an index, a mask): torch leaves it out of next_functions.
# A distinct object, so the check is an identity test and recording pays nothing for floats.
UNLISTED = (None, 0)


_CPP_NODES = frozenset({"AccumulateGrad", "CopySlices", "CopyBackwards", "NotImplemented"})


def _forward_name(node_name: str) -> str:
    """torch's name for a node in the in-place error: ``ExpBackward0`` -> ``Exp``,
    ``ClampBackward1`` -> ``Clamp1``; C++ nodes keep their full name."""
    m = re.fullmatch(r"(.*)Backward(\d*)", node_name)  # a custom Function's has no number
    if m is None:
        return node_name
    return m[1] if m[2] == "0" else m[1] + m[2]


def _type_name(array) -> str:
    from tape import _dtype

    return "torch." + _dtype.LEGACY_TYPES[_dtype.from_numpy_dtype(array.dtype).name]
